"""LyricsSheet: sections, lines and words parsed from a plain-text lyrics sheet.

Format (what songwriters already type)::

    [Verse 1]
    Purple lemons dance at night
    [00:12.50] quiet rivers hold the light      <- optional LRC-style line time

    [Chorus]
    Sing it, don't you stop-ping now            <- hyphens mark syllable splits

Section headers are ``[Name]`` alone on a line. Blank lines separate stanzas (and start a new
section when no header follows). Words keep apostrophes and inner hyphens; punctuation around
them is dropped from the word but kept in the line text. Text is normalised to Unicode NFC.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from host_bridge.core.errors import LyricsError
from host_bridge.core.model.language import LanguageError, get_language

MAX_LYRICS_CHARS = 200_000
MAX_LINES = 2_000

_SECTION = re.compile(r"^\s*\[\s*([^\]\d:][^\]]*)\]\s*$")
_LANGUAGE = re.compile(r"^\s*\[\s*(?:language|lang)\s*:\s*([^\]]*)\]\s*$", re.IGNORECASE)
_LRC = re.compile(r"^\s*\[(\d{1,3}):(\d{1,2}(?:[.,]\d{1,3})?)\]\s*")
# a word: letters/digits/marks with inner apostrophes or hyphens
_LETTERS = r"(?:[^\W_]|[\u0300-\u036f])+"  # letters/digits (+ combining marks), not "_"
_WORD = re.compile(_LETTERS + r"(?:['’\-]" + _LETTERS + r")*['’]?", re.UNICODE)


@dataclass(frozen=True)
class Word:
    text: str
    """The word as sung, apostrophes kept, syllable hyphens removed (``stop-ping`` -> ``stopping``)."""
    syllable_hints: tuple[str, ...] = ()
    """Syllables the sheet spelled out with hyphens (``("stop", "ping")``), else empty."""


@dataclass(frozen=True)
class LyricLine:
    text: str
    words: tuple[Word, ...]
    section: str
    time_s: float | None = None
    """LRC line time, when the sheet gave one."""


@dataclass(frozen=True)
class LyricsSheet:
    lines: tuple[LyricLine, ...]
    language: str = ""
    """The language a ``[Language: de]`` line names (canonical code), else ``""``."""

    @property
    def sections(self) -> list[tuple[str, int]]:
        """(section name, first line index) in order of appearance."""
        out: list[tuple[str, int]] = []
        for i, ln in enumerate(self.lines):
            if not out or out[-1][0] != ln.section:
                out.append((ln.section, i))
        return out

    @property
    def words(self) -> list[Word]:
        return [w for ln in self.lines for w in ln.words]

    def text(self) -> str:
        return "\n".join(ln.text for ln in self.lines)

    def text_with_sections(self) -> str:
        """The sheet written back as a lyrics file (headers, LRC times); parses to the same sheet."""
        out: list[str] = [f"[Language: {self.language}]"] if self.language else []
        section = None
        for ln in self.lines:
            if ln.section != section:
                if out and section is not None:
                    out.append("")
                out.append(f"[{ln.section}]")
                section = ln.section
            if ln.time_s is not None:
                m, s = divmod(ln.time_s, 60.0)
                out.append(f"[{int(m):02d}:{s:05.2f}] {ln.text}")
            else:
                out.append(ln.text)
        return "\n".join(out) + "\n"

    def sha256(self) -> str:
        return hashlib.sha256(self.text().encode("utf-8")).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {"lines": [{"text": ln.text, "section": ln.section, "time_s": ln.time_s} for ln in self.lines]}

    # ------------------------------------------------------------------ parsing
    @classmethod
    def parse(cls, text: str, source: str = "lyrics") -> "LyricsSheet":
        if len(text) > MAX_LYRICS_CHARS:
            raise LyricsError(f"{source}: {len(text)} characters is too long for a lyrics sheet",
                              f"keep lyrics under {MAX_LYRICS_CHARS} characters (one song)")
        if "\x00" in text or _control_ratio(text) > 0.01:
            raise LyricsError(f"{source} looks like a binary file, not lyrics",
                              "give a plain-text (UTF-8) file with one lyric line per line")
        text = unicodedata.normalize("NFC", text.replace("\ufeff", ""))
        lines: list[LyricLine] = []
        section = "Verse"
        counts: dict[str, int] = {}
        pending_blank = False
        named = False
        language = ""
        for n_line, raw in enumerate(text.splitlines(), 1):
            lang = _LANGUAGE.match(raw)
            if lang:
                language = _language_code(lang.group(1), source, n_line)
                continue
            m = _SECTION.match(raw)
            if m:
                section = m.group(1).strip() or "Verse"
                pending_blank, named = False, True
                continue
            if not raw.strip():
                pending_blank = bool(lines)
                continue
            if pending_blank and not named:
                # a stanza break without a header: a new unnamed section
                base = "Verse"
                counts[base] = counts.get(base, 1) + 1
                section = f"{base} {counts[base]}"
            pending_blank = False
            named = False
            t: float | None = None
            lm = _LRC.match(raw)
            if lm:
                t = int(lm.group(1)) * 60 + float(lm.group(2).replace(",", "."))
                raw = raw[lm.end():]
            words = tuple(_word(w) for w in _WORD.findall(raw))
            if not words:
                continue
            lines.append(LyricLine(raw.strip(), words, section, t))
            if len(lines) > MAX_LINES:
                raise LyricsError(f"{source} has more than {MAX_LINES} lines", "split the song into shorter sheets")
        if not lines:
            raise LyricsError(f"{source} has no words to sing",
                              "write the lyrics as plain text, one line per sung phrase")
        return cls(tuple(lines), language)

    @classmethod
    def load(cls, path: str | Path) -> "LyricsSheet":
        """A lyrics file: a regular file of at most 1 MB (never a FIFO or a device), in UTF-8,
        UTF-16 or Windows-1252 (see :func:`host_bridge.core.inputs.read_lyrics`)."""
        from host_bridge.core.inputs import read_lyrics

        return read_lyrics(path)


def _language_code(code: str, source: str, line: int) -> str:
    try:
        return get_language(code).code
    except LanguageError as e:
        raise LanguageError(f"{source}, line {line}: {e.message}", e.hint) from None


def _control_ratio(text: str) -> float:
    if not text:
        return 0.0
    bad = sum(1 for c in text[:20000] if unicodedata.category(c) == "Cc" and c not in "\n\r\t")
    return bad / min(len(text), 20000)


def _word(token: str) -> Word:
    token = token.replace("’", "'")
    if "-" in token:
        parts = tuple(p for p in token.split("-") if p)
        return Word("".join(parts), parts)
    return Word(token)
