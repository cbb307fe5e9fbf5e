"""Lyric events of a guide MIDI -> one canonical token per note (the conventions are in
:mod:`host_bridge.core.midi`)."""
from __future__ import annotations

import bisect
import logging
import re
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MELISMA = "+"
_MELISMA_TOKEN = re.compile(r"^[+~\-]+$")


def _fix_text(s: str) -> str:
    """mido decodes meta text as latin-1; most files today write UTF-8: repair when it decodes."""
    try:
        return s.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return s


def _lyric_events(texts: list[tuple[int, str, str, int]]) -> list[tuple[int, str, int]]:
    lyr = [(t, s, ti) for t, kind, s, ti in texts if kind == "lyrics"]
    if lyr:
        return sorted(lyr, key=lambda e: e[0])
    # text events carry lyrics in .kar files, but also titles and comments: keep short ones only
    txt = [(t, s, ti) for t, kind, s, ti in texts
           if kind == "text" and s.strip() and not s.startswith("@") and len(s.split()) <= 2 and len(s) <= 24]
    return sorted(txt, key=lambda e: e[0])



def _attach_lyrics(events: list[tuple[int, str, int]], onsets: list[int], tpb: int, p: Path,
                   lyrics_type: bool) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Attach each lyric event to the note it precedes or coincides with; canonicalise tokens."""
    tol = max(1, tpb // 16)
    raw: list[str | None] = [None] * len(onsets)
    unplaced = 0
    for tick, text, _ in events:
        i = bisect.bisect_left(onsets, tick - tol)
        if i >= len(onsets) or onsets[i] - tick > 2 * tpb:
            unplaced += 1
            continue
        prev = raw[i]
        raw[i] = text if prev is None else prev + text
    placed = len(events) - unplaced
    if unplaced:
        log.warning("%s: %d lyric events are not on a melody note and were ignored", p.name, unplaced)
    if placed == 0 or placed < 0.5 * len(events) or (not lyrics_type and placed < max(2, 0.25 * len(onsets))):
        log.warning("%s: its lyric/text events do not follow the melody; ignoring them", p.name)
        return (), ()
    return canonical_tokens(raw)


def canonical_tokens(raw: list[str | None]) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Raw per-note lyric texts (None: no event) -> (canonical tokens, line-start note indices).

    See the module doc for the conventions read."""
    parsed: list[dict[str, Any] | None] = []
    breaks_before: set[int] = set()
    for i, r in enumerate(raw):
        if r is None:
            parsed.append(None)
            continue
        s = r
        while s[:1] in ("/", "\\"):
            breaks_before.add(i)
            s = s[1:]
        if "\r" in s or "\n" in s:
            breaks_before.add(i + 1)
            s = s.replace("\r", "").replace("\n", "")
        core = s.strip()
        if not core:
            parsed.append(None)
        elif _MELISMA_TOKEN.match(core):
            parsed.append({"melisma": True})
        else:
            dash = core.endswith("-")
            parsed.append({"melisma": False, "text": core.rstrip("-").strip() or core, "dash": dash,
                           "lead": s[:1].isspace(), "trail": s[-1:].isspace()})
    syl = [i for i, e in enumerate(parsed) if e is not None and not e["melisma"]]
    spaced = any(parsed[i]["lead"] or parsed[i]["trail"] for i in syl)  # type: ignore[index]
    tokens = ["" if e is None else MELISMA for e in parsed]
    for k, i in enumerate(syl):
        a = parsed[i]
        assert a is not None
        cont = False
        if k + 1 < len(syl):
            j = syl[k + 1]
            b = parsed[j]
            assert b is not None
            line_break = any(i < x <= j for x in breaks_before)
            if line_break:
                cont = False
            elif a["dash"]:
                cont = True
            elif spaced:
                cont = not (a["trail"] or b["lead"])
        tokens[i] = a["text"] + ("-" if cont else "")
    starts: set[int] = set()
    for x in breaks_before:
        nxt = next((i for i in syl if i >= x), None)
        if nxt is not None:
            starts.add(nxt)
    if starts and syl:
        starts.add(syl[0])
    return tuple(tokens), tuple(sorted(starts))
