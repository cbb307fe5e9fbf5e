"""``--language``: one option for every command that sings or phonemizes lyrics."""
from __future__ import annotations

import argparse

from host_bridge.core.model.language import Language, check_script, get_language, resolve_language, supported_list


def add_language_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--language", default="", metavar="CODE",
                   help=f"language of the lyrics (default: the sheet's [Language: xx] line, else the artist's); "
                   f"one of: {supported_list()}")


def check_language_option(code: str) -> str:
    """The canonical code of ``--language`` ('' stays ''); refuses an unknown one before any work."""
    return get_language(code).code if code else ""


def take_language(requested: str, sheet_language: str, artist_language: str, text: str, source: str) -> Language:
    """The language a command sings ``text`` in (``--language``, the sheet's, the artist's), its
    script checked."""
    lang = resolve_language(requested, sheet_language, artist_language)
    check_script(text, lang, source)
    return lang
