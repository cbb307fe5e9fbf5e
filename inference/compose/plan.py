"""Phrase plan and rhythm: lyric lines -> phrases on bar boundaries -> a slot per syllable.

A phrase is one lyric line sung over whole bars, ending with a breath (the last felt beat of
its last bar stays free). Inside a phrase, syllables sit on a grid of eighth notes (sixteenths
when a long line needs them and the tempo leaves them singable); a dynamic programme puts
stressed syllables on strong positions (downbeat, mid-bar beat) and unstressed ones on weak
positions, keeps the gaps between syllables even, and ends the line on a strong position.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from host_bridge.core.model import Phonemes, TempoMap
from inference.analysis.result import beat_qn, beats_per_bar

MIN_NOTE_S = 0.11
"""Shortest singable syllable; sets how fine the rhythm grid may get at a tempo."""
FILL = 0.75
"""A phrase takes at most this share of its grid slots (room for long notes and the breath)."""


@dataclass(frozen=True)
class SylIn:
    """What the composer needs of a syllable."""

    text: str
    stress: int
    """0 none, 1 secondary, 2 primary."""
    word: int
    line: int
    phonemes: Phonemes | None = None


@dataclass(frozen=True)
class Phrase:
    line: int
    first_bar: int
    bars: int
    unit_qn: float
    """Grid step (qn)."""
    start_qn: float
    slots: int
    """Grid slots usable for onsets (the breath left out)."""
    end_qn: float
    """Where the last note must end (the breath starts)."""
    pickup_qn: float = 0.0
    """How far before ``start_qn`` the first syllable may come (an upbeat into the bar)."""


def slot_strength(tm: TempoMap, qn: float) -> int:
    """4 downbeat, 3 mid-bar felt beat (beat 3 of 4/4, beat 2 of 6/8), 1 other felt beats,
    0 off-beat eighths, -1 finer."""
    bar, _ = tm.bar_beat_at(qn + 1e-6)
    m = tm.meter_at_bar(bar)
    rel = qn - tm.qn_at_bar(bar)
    bq = beat_qn(m.numerator, m.denominator)
    k = beats_per_bar(m.numerator, m.denominator)
    if abs(rel) < 1e-6:
        return 4
    b = rel / bq
    if abs(b - round(b)) < 1e-6:
        return 3 if (k % 2 == 0 and int(round(b)) == k // 2) else 1
    e = rel / 0.5
    return 0 if abs(e - round(e)) < 1e-6 else -1


def is_strong(tm: TempoMap, qn: float) -> bool:
    return slot_strength(tm, qn) >= 3


def unit_for(tm: TempoMap, bar: int, n_syl: int, bars: int) -> float:
    """Eighths, or sixteenths when the line needs them and they stay singable."""
    m = tm.meter_at_bar(bar)
    q = tm.qn_at_bar(bar)
    eighth_s = tm.seconds_at(q + 0.5) - tm.seconds_at(q)
    cap8 = (bars * m.bar_qn - beat_qn(m.numerator, m.denominator)) / 0.5
    if n_syl > FILL * cap8 and eighth_s / 2 >= MIN_NOTE_S:
        return 0.25
    if eighth_s < MIN_NOTE_S:
        return 1.0 if m.denominator == 4 else 0.5
    return 0.5


def bars_needed(tm: TempoMap, bar: int, n_syl: int) -> int:
    """Whole bars a line of ``n_syl`` syllables needs: at least 2 bars when bars are short
    (under 2.6 s), then as many as the grid requires."""
    m = tm.meter_at_bar(bar)
    q = tm.qn_at_bar(bar)
    bar_s = tm.seconds_at(q + m.bar_qn) - tm.seconds_at(q)
    base = 2 if bar_s < 2.6 else 1
    for bars in range(base, 64):
        unit = unit_for(tm, bar, n_syl, bars)
        cap = (bars * m.bar_qn - beat_qn(m.numerator, m.denominator)) / unit
        if n_syl <= max(1.0, FILL * cap if unit >= 0.5 else cap * 0.9):
            return bars
    return 64


def make_phrase(tm: TempoMap, line: int, first_bar: int, bars: int, n_syl: int) -> Phrase:
    m = tm.meter_at_bar(first_bar + bars - 1)
    start = tm.qn_at_bar(first_bar)
    end_bar = tm.qn_at_bar(first_bar + bars)
    breath = beat_qn(m.numerator, m.denominator)
    unit = unit_for(tm, first_bar, n_syl, bars)
    end = end_bar - breath
    slots = max(1, int(math.floor((end - start) / unit + 1e-6)))
    return Phrase(line, first_bar, bars, unit, start, slots, end)


MOTIFS: tuple[tuple[int, ...], ...] = ((1, 1), (2, 1, 1), (1, 1, 2), (3, 1), (1, 2, 1), (2, 2, 1, 1), (1, 3))
"""Relative gaps between syllables a section's rhythm leans towards (even, dactyl, anapaest,
dotted...): one per lyric section, chosen by the seed."""


def _target_end(strength: np.ndarray, n: int, S: int, first: int, shift: int, hold: int) -> int:
    """Where the last syllable should land: ``shift`` slots after a strong position (one beat
    after it when the line ends on an unstressed syllable, so its stress falls on the strong beat),
    about two thirds into the phrase, leaving the syllables at least ~1.3 grid steps apart and the
    last note ``hold`` slots to ring; the latest such position when the line needs the room."""
    cands = [i + shift for i in range(first, S) if strength[i] >= 3 and i + shift + hold <= S]
    ok = [c for c in cands if c - first >= 1.3 * (n - 1) and c - first >= 0.45 * (S - first)]
    if ok:
        return min(ok, key=lambda c: abs((c - first) - 0.68 * (S - first)))
    late = [c for c in cands if c - first >= n - 1]
    if late:
        return late[-1]
    return max(first + n - 1, S - hold) if S - hold >= first + n - 1 else S - 1


def rhythm(tm: TempoMap, ph: Phrase, syls: Sequence[SylIn], rng: np.random.Generator,
           motif: Sequence[int] = (1, 1)) -> list[tuple[float, float]]:
    """(onset, duration) in qn for each syllable of the phrase. ``motif``: relative gaps the
    rhythm leans towards (see :data:`MOTIFS`); a phrase with ``pickup_qn`` may start that early."""
    n = len(syls)
    pick = int(round(ph.pickup_qn / ph.unit_qn)) if syls and syls[0].stress == 0 else 0
    S = ph.slots + pick
    origin = ph.start_qn - pick * ph.unit_qn
    if n > S:
        raise ValueError(f"{n} syllables cannot fit {S} slots")
    strength = np.array([slot_strength(tm, origin + i * ph.unit_qn) for i in range(S)], dtype=float)
    noise = rng.uniform(0.0, 0.35, size=S)
    beat_slots = max(1.0, beat_qn(*_meter(tm, ph.first_bar)) / ph.unit_qn)
    feminine = n >= 2 and syls[-1].stress == 0 and syls[-2].stress >= 1
    target_end = _target_end(strength, n, S, pick, int(round(beat_slots)) if feminine else 0, int(round(beat_slots)))

    def place_cost(i: int, s: int) -> float:
        st = syls[i].stress
        g = strength[s]
        if st >= 2:
            c = {4: -1.6, 3: -1.3, 1: -0.6, 0: 0.9, -1: 1.6}[int(g)]
        elif st == 1:
            c = {4: -0.6, 3: -0.5, 1: -0.3, 0: 0.4, -1: 0.9}[int(g)]
        else:
            c = {4: 0.5, 3: 0.4, 1: 0.0, 0: -0.1, -1: 0.2}[int(g)]
        return c + noise[s]

    pos = _positions(n, S, pick, target_end, beat_slots, place_cost, motif)
    onsets = [origin + p * ph.unit_qn for p in pos]
    out = []
    for i, on in enumerate(onsets):
        nxt = onsets[i + 1] if i + 1 < n else ph.end_qn
        dur = nxt - on
        if i + 1 < n and dur > 1.5 * beat_slots * ph.unit_qn:        # a long gap: hold, then breathe
            dur = max(ph.unit_qn, dur - 0.5 * beat_slots * ph.unit_qn)
        out.append((on, max(dur, ph.unit_qn * 0.5)))
    return out


def _positions(n: int, S: int, pick: int, target_end: int, beat_slots: float,
               place_cost: Callable[[int, int], float], motif: Sequence[int]) -> np.ndarray:
    """Grid slot of each syllable: a dynamic programme over placement costs, gaps near the
    motif's and the last syllable near ``target_end``."""
    INF = 1e9
    max_gap = int(max(2, round(2 * beat_slots)))
    mean_gap = max(1.0, min(beat_slots, (target_end - pick + 1) / max(n, 1)))
    m = np.asarray(motif, dtype=float)
    ideal = [max(1.0, mean_gap * m[i % len(m)] / m.mean()) for i in range(n)]
    cost = np.full((n, S), INF)
    back = np.zeros((n, S), dtype=int)
    for s in range(S - n + 1):
        cost[0, s] = place_cost(0, s) + 0.9 * abs(s - pick) / beat_slots + (0.3 if s < pick else 0.0)
    for i in range(1, n):
        for s in range(i, S - (n - 1 - i)):
            best, arg = INF, -1
            for g in range(1, min(max_gap, s) + 1):
                prev = cost[i - 1, s - g]
                if prev >= INF:
                    continue
                v = prev + 0.25 * (g - ideal[i - 1]) ** 2
                if v < best:
                    best, arg = v, s - g
            if arg >= 0:
                cost[i, s] = best + place_cost(i, s)
                back[i, s] = arg
    last = cost[n - 1] + 1.2 * np.abs(np.arange(S) - target_end) / beat_slots
    s = int(np.argmin(last))
    if last[s] >= INF:   # the gap limit was too tight: spread evenly
        pos = np.linspace(0, S - 1, n).round().astype(int)
    else:
        pos = np.zeros(n, dtype=int)
        for i in range(n - 1, -1, -1):
            pos[i] = s
            s = back[i, s]
    return pos


def _meter(tm: TempoMap, bar: int) -> tuple[int, int]:
    m = tm.meter_at_bar(bar)
    return m.numerator, m.denominator
