"""The topline composer: lyrics + analysis + artist (+ seed) -> a singable Score.

Plan: the sheet's sections are placed in order on the instrumental's sections (intro and outro
left free, a chorus on the music that repeats, see :mod:`inference.compose.form`); lyric lines
become phrases over whole bars (a section's lines share a phrase length; a line too long for it
gets more bars); a lyric section sung again with the same words gets the same rhythm and melody
(re-composed close to it only where the chords under it differ).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np

from host_bridge.core.errors import LyricsError
from host_bridge.core.model import LyricsSheet, Note, Score
from inference.analysis.result import Analysis, beat_qn
from inference.compose.melody import Contour, NoteSlot, melisma, phrase_pitches
from inference.compose.form import Placement, crowding_warnings, line_starts, lyric_kinds, place_sections
from inference.compose.plan import MOTIFS, Phrase, SylIn, make_phrase, rhythm, slot_strength

log = logging.getLogger(__name__)

_CHORUS = re.compile(r"chorus|hook|refrain", re.I)


@dataclass
class ComposeReport:
    """What the composer did, for logs and the picture."""

    phrases: list[Phrase] = field(default_factory=list)
    reused: list[int] = field(default_factory=list)
    """Line indices whose melody was taken from an earlier identical section."""
    warnings: list[str] = field(default_factory=list)
    placements: list[Placement] = field(default_factory=list)
    """Where each lyric section is sung."""


def syllables_for(sheet: LyricsSheet, g2p: Any | None = None) -> list[list[SylIn]]:
    """Syllables per line from the text front end (lexical stress from the G2P)."""
    from inference.frontend.g2p import G2P
    from inference.frontend.syllables import lyrics_syllables

    lines = lyrics_syllables(sheet, g2p if g2p is not None else G2P())
    return [[SylIn(s.text, s.phonemes.stress, s.word, s.line, s.phonemes) for s in line] for line in lines]


def compose(sheet: LyricsSheet, analysis: Analysis, low: int, high: int, seed: int = 0,
            syllables: Sequence[Sequence[SylIn]] | None = None, g2p: Any | None = None,
            report: ComposeReport | None = None) -> Score:
    """Write a melody for ``sheet`` over the analysed instrumental, inside MIDI range
    ``low``..``high`` (the artist's). Raises LyricsError when the lyrics need more bars than the
    instrumental has."""
    rep = report if report is not None else ComposeReport()
    syls = [list(s) for s in (syllables if syllables is not None else syllables_for(sheet, g2p))]
    if len(syls) != len(sheet.lines):
        raise ValueError("one syllable list per lyric line is needed")
    if high - low < 7:
        raise LyricsError(f"the singer's range {low}-{high} is under a fifth", "choose an artist with a wider range")
    tm = analysis.tempo_map
    rng = np.random.default_rng(seed)
    sections = lyric_sections(sheet)
    phrases = _plan(sheet, syls, analysis, sections, rep)
    rep.phrases = phrases
    span = high - low
    notes: list[Note] = []
    memory: dict[tuple[str, ...], list[list[tuple[float, float, int]]]] = {}
    prev_pitch: int | None = None
    for sec_name, first, last in sections:
        texts = tuple(sheet.lines[i].text.lower() for i in range(first, last + 1))
        chorus = bool(_CHORUS.search(sec_name))
        centre = low + span * (0.5 if chorus else 0.38)
        sec_rng = np.random.default_rng([seed, _stable_hash(texts)])
        remembered = memory.get(texts)
        motif = MOTIFS[int(sec_rng.integers(len(MOTIFS)))]
        made: list[list[tuple[float, float, int]]] = []
        for li in range(first, last + 1):
            if li > first and len(syls[li]) >= 4 and sec_rng.random() < PICKUP_SHARE:
                phrases[li] = replace(phrases[li], pickup_qn=phrases[li].unit_qn)   # an upbeat into the bar
            ph = phrases[li]
            line_syls = syls[li]
            cadence = "final" if li == last else "open"
            if remembered is not None:
                cand = [(ph.start_qn + rel, du, p) for rel, du, p in remembered[li - first]]
                if cand[-1][0] + cand[-1][1] <= ph.end_qn + 1e-6 and _fits(cand, analysis, tm) \
                        and _range_ok(cand, low, high):
                    made.append(cand)
                    rep.reused.append(li)
                    prev_pitch = cand[-1][2]
                    continue
            guide = [p for _, _, p in remembered[li - first]] if remembered is not None else None
            made.append(_line_melody(analysis, ph, line_syls, sec_rng, motif, centre, low, high, cadence, prev_pitch,
                                     guide))
            prev_pitch = made[-1][-1][2]
        if remembered is None:
            memory[texts] = [[(on - phrases[li].start_qn, du, p) for on, du, p in line_notes]
                             for li, line_notes in zip(range(first, last + 1), made)]
        for li, line_notes in zip(range(first, last + 1), made):
            notes.extend(_line_notes(line_notes, syls[li], li, analysis, low, high,
                                     np.random.default_rng([seed, _stable_hash((sheet.lines[li].text.lower(),))])))
    for w in rep.warnings:
        log.warning(w)
    return Score(tuple(notes), tm, tuple(ln.text for ln in sheet.lines), tuple(sheet.sections))


def _line_melody(analysis: Analysis, ph: Any, line_syls: Sequence[SylIn], rng: np.random.Generator, motif: Any,
                 centre: float, low: int, high: int, cadence: str, prev_pitch: int | None,
                 guide: list[int] | None) -> list[tuple[float, float, int]]:
    """A new melody for one lyric line: its rhythm in phrase ``ph``, then a pitch per syllable
    under a contour around ``centre`` (``guide``: the pitches of the line this one repeats)."""
    tm = analysis.tempo_map
    timing = rhythm(tm, ph, line_syls, rng, motif)
    slots = [NoteSlot(on, du, slot_strength(tm, on), analysis.chord_at(on).pitch_classes, s.stress)
             for (on, du), s in zip(timing, line_syls)]
    contour = Contour(centre=centre + rng.uniform(-1.5, 1.5), height=min((high - low) * 0.35, 3.0 + rng.uniform(0, 4.0)),
                      peak=float(rng.uniform(0.35, 0.7)))
    pitches = phrase_pitches(slots, analysis.key, low, high, contour, cadence, prev_pitch, rng, guide)
    return [(on, du, p) for (on, du), p in zip(timing, pitches)]


def _line_notes(line: list[tuple[float, float, int]], syls: Sequence[SylIn], li: int, analysis: Analysis,
                low: int, high: int, rng: np.random.Generator) -> list[Note]:
    """The Notes of one line: a syllable per (onset, duration, pitch); a line of few syllables may
    end on a melisma (``rng`` is seeded by the line's words, so a repeated line does the same)."""
    out: list[Note] = []
    for k, ((on, du, p), s) in enumerate(zip(line, syls)):
        parts = [(on, du, p)]
        if k == len(line) - 1 and len(line) <= MELISMA_MAX_SYLLABLES and rng.random() < MELISMA_SHARE:
            beat = beat_qn(*_meter_at(analysis.tempo_map, on))
            parts = melisma(on, du, p, analysis.key, analysis.chord_at(on + du / 2).pitch_classes, beat, low, high,
                            rng)
        for j, (o2, d2, p2) in enumerate(parts):
            out.append(Note(float(o2), float(d2), float(p2), s.text if j == 0 else "", s.phonemes if j == 0 else None,
                            s.word, li, 100 if s.stress >= 2 else 84))
    return out


def _meter_at(tm: Any, qn: float) -> tuple[int, int]:
    m = tm.meter_at(qn)
    return m.numerator, m.denominator


def _stable_hash(texts: tuple[str, ...]) -> int:
    import hashlib

    return int.from_bytes(hashlib.sha256("\n".join(texts).encode()).digest()[:4], "little")


MELISMA_MAX_SYLLABLES = 6
MELISMA_SHARE = 0.6
"""A line of at most MELISMA_MAX_SYLLABLES syllables ends on a two-note melisma this often (when
its last note is held two beats or more)."""
PICKUP_SHARE = 0.5
"""Share of lines (past a section's first) that may start with an upbeat, when they open unstressed."""
REUSE_CHORD_TONES = 0.8
"""A remembered line is sung again unchanged when at least this share of its strong-beat notes
are tones of the chords now under them."""


def _fits(cand: list[tuple[float, float, int]], analysis: Analysis, tm: Any) -> bool:
    """A remembered line still suits the chords where it is sung again."""
    hits = total = 0
    for on, _, p in cand:
        if slot_strength(tm, on) >= 3:
            pcs = analysis.chord_at(on).pitch_classes
            total += 1
            hits += int(not pcs or p % 12 in pcs)
    return total == 0 or hits >= REUSE_CHORD_TONES * total


def _range_ok(cand: list[tuple[float, float, int]], low: int, high: int) -> bool:
    return all(low <= p <= high for _, _, p in cand)


def lyric_sections(sheet: LyricsSheet) -> list[tuple[str, int, int]]:
    """(name, first line, last line) of each lyric section; a section whose lines are one block
    sung two or more times (``[Chorus]`` written twice in a row) counts as that many sections."""
    heads = sheet.sections
    out = []
    for i, (name, first) in enumerate(heads):
        last = heads[i + 1][1] - 1 if i + 1 < len(heads) else len(sheet.lines) - 1
        texts = [sheet.lines[j].text.lower() for j in range(first, last + 1)]
        n = len(texts)
        period = next((p for p in range(1, n // 2 + 1) if n % p == 0 and p >= 2
                       and all(texts[j] == texts[j % p] for j in range(n))), n)
        for a in range(first, last + 1, period):
            out.append((name, a, a + period - 1))
    return out


def _plan(sheet: LyricsSheet, syls: list[list[SylIn]], analysis: Analysis,
          sections: list[tuple[str, int, int]], rep: ComposeReport) -> list[Phrase]:
    """A phrase per line, each lyric section placed on the instrumental's form (see
    :mod:`inference.compose.form`)."""
    tm = analysis.tempo_map
    texts = [tuple(sheet.lines[i].text.lower() for i in range(a, b + 1)) for _, a, b in sections]
    kinds = lyric_kinds([n for n, _, _ in sections], texts)
    placements = place_sections(sections, syls, analysis, kinds)
    rep.placements = placements
    rep.warnings.extend(crowding_warnings(placements, [n for n, _, _ in sections], analysis))
    phrases: list[Phrase] = []
    for pl in placements:
        _, first, _ = sections[pl.section]
        for li, bar, nb in zip(range(first, first + len(pl.line_bars)), line_starts(pl), pl.line_bars):
            phrases.append(make_phrase(tm, li, bar, nb, len(syls[li])))
    return phrases
