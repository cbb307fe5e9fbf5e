"""Languages Topline sings: codes, the espeak-ng voice that phonemizes each, and the script its
lyrics are written in.

A request names its language (``--language``), or the lyrics sheet does (a ``[Language: de]``
line), or the artist's preset does; :func:`resolve_language` picks in that order. Codes are
BCP-47-like (``en-us``, ``de``); common spellings (``en``, ``EN_us``, ``german``) are accepted.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from host_bridge.core.errors import InputError


class LanguageError(InputError):
    """A language Topline cannot sing, or lyrics its language cannot read."""

    code = "bad_language"


@dataclass(frozen=True)
class Language:
    code: str
    """Canonical code, e.g. ``en-us``."""
    name: str
    espeak: str
    """The espeak-ng voice that phonemizes it."""
    script: str = "LATIN"
    """Unicode script its letters come from (the first word of their Unicode names)."""


LANGUAGES: dict[str, Language] = {lang.code: lang for lang in (
    Language("en-us", "English (US)", "en-us"),
    Language("en-gb", "English (UK)", "en-gb"),
    Language("de", "German", "de"),
    Language("es", "Spanish", "es"),
    Language("fr", "French", "fr-fr"),
    Language("it", "Italian", "it"),
    Language("pt-br", "Portuguese (Brazil)", "pt-br"),
    Language("pt", "Portuguese (Portugal)", "pt"),
)}
DEFAULT_LANGUAGE = "en-us"
_ALIASES = {
    "en": "en-us", "english": "en-us", "american": "en-us", "us": "en-us", "en-uk": "en-gb", "british": "en-gb",
    "uk": "en-gb", "de-de": "de", "german": "de", "deutsch": "de", "es-es": "es", "spanish": "es",
    "español": "es", "espanol": "es", "fr-fr": "fr", "french": "fr", "français": "fr", "francais": "fr",
    "it-it": "it", "italian": "it", "italiano": "it", "portuguese": "pt-br", "brazilian": "pt-br",
    "pt-pt": "pt", "português": "pt-br", "portugues": "pt-br",
}


def is_english(code: str) -> bool:
    """Whether a canonical language code is English (US or UK); an empty code is the front end's
    English."""
    return not code or code.startswith("en")


def supported_list() -> str:
    return ", ".join(f"{lang.code} ({lang.name})" for lang in LANGUAGES.values())


def get_language(code: str) -> Language:
    """The language for ``code`` (any common spelling); :class:`LanguageError` naming the
    supported ones when Topline cannot sing it."""
    key = str(code).strip().lower().replace("_", "-")
    key = _ALIASES.get(key, key)
    lang = LANGUAGES.get(key)
    if lang is None:
        raise LanguageError(f"language {str(code)[:40]!r} is not one Topline sings",
                            f"use one of: {supported_list()}")
    return lang


def resolve_language(requested: str = "", sheet: str = "", artist: str = "") -> Language:
    """The language a take is sung in: the request's, else the lyrics sheet's, else the artist's,
    else :data:`DEFAULT_LANGUAGE`."""
    for code in (requested, sheet, artist):
        if code:
            return get_language(code)
    return LANGUAGES[DEFAULT_LANGUAGE]


def script_of(ch: str) -> str:
    """The script of a letter, as the first word of its Unicode name (``LATIN``, ``HEBREW``,
    ``CJK``, ``HIRAGANA``...); ``""`` for what is not a letter."""
    if not ch.isalpha():
        return ""
    name = unicodedata.name(ch, "")
    return name.split(" ", 1)[0] if name else "UNKNOWN"


def foreign_script(text: str, lang: Language) -> str:
    """The first script in ``text`` that ``lang`` does not read (``""`` when every letter is in
    its script)."""
    for ch in text:
        s = script_of(ch)
        if s and s != lang.script:
            return s
    return ""


def check_script(text: str, lang: Language, where: str = "the lyrics") -> None:
    """Raise :class:`LanguageError` when ``text`` holds letters ``lang`` cannot read, naming the
    first such line (cut to its first words) and the supported languages."""
    for i, line in enumerate(text.splitlines(), 1):
        script = foreign_script(line, lang)
        if script:
            words = " ".join(line.split()[:6])
            more = " ..." if len(line.split()) > 6 else ""
            raise LanguageError(
                f"{where}, line {i} ('{words[:60]}{more}'): {script.title()} script, which {lang.name} "
                f"({lang.code}) lyrics cannot be written in",
                f"write the lyrics in {lang.script.title()} letters, or sing them in a supported language: "
                f"{supported_list()}")
