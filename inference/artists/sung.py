"""A Score of timed words on a reference's pitch track: what ``artist create``'s candidates sing.

The words come with rough times (Whisper's, or given lyrics spread over the voiced frames by
:func:`place_lyrics`). :func:`sung_score` turns them into notes: syllables and phonemes from the
project's text front end (:func:`inference.frontend.syllables.line_syllables`, the words of a
line phonemized in context), each word's syllables laid evenly over its span, every boundary
then moved onto a nearby cut of the pitch track (a step of pitch, or a rest: :func:`pitch_cuts`,
:func:`snap`), each note's pitch the median of the track over it rounded to a semitone (an
unvoiced note takes its neighbour's), moved by octaves into the range the search sings in; a
constant 120 BPM tempo map (onsets are the reference's seconds).
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np

from host_bridge.core.errors import InputError
from host_bridge.core.model import LyricsSheet, Note, Score, TempoMap
from host_bridge.core.model.lyrics import Word
from inference.frontend.syllables import line_syllables

from .reference import HOP_S, runs

BPM = 120.0
MIN_SYLLABLE_S = 0.06
"""Shortest note a syllable gets."""
SNAP_S = 0.4
"""How far a syllable boundary from the word times may move to a cut in the pitch track
(Whisper's word times on singing are often 0.1-0.3 s early)."""
SNAP_KEEP_COST_S = 0.15
"""A boundary left where the words put it costs as much as one moved this far."""
SNAP_BACK = 4
"""How many points and cuts back the snapping looks for the previous snapped pair."""
STEP_ST = 0.7
"""A pitch step: the track this far (semitones) from the note's level for :data:`STEP_HOLD_S`."""
STEP_HOLD_S = 0.04
MIN_NOTE_S = 0.1
"""Cuts of the pitch track closer than this are one (the first kept)."""
MIN_SYLLABLE_SPREAD_S = 0.08
"""Least voiced time per syllable when given lyrics are spread over the reference."""


@dataclass(frozen=True)
class TimedWord:
    word: Word
    start_s: float
    end_s: float
    """Seconds from the start of the reference."""
    line: int = 0
    """Index of the lyric line (a new breath), from 0."""
    probability: float = 1.0
    """Whisper's confidence in the word (1 for given lyrics)."""


def _fit_range(pitches: np.ndarray, low: int, high: int) -> np.ndarray:
    """``pitches`` moved by whole octaves (all together, then stragglers one by one) into
    [low, high] (clipped where the range is under an octave)."""
    best = min(range(-3, 4), key=lambda k: (int(np.sum((pitches + 12 * k < low) | (pitches + 12 * k > high))), abs(k)))
    p = pitches + 12 * best
    while np.any(p < low) and np.all(p[p < low] + 12 <= high):
        p = np.where(p < low, p + 12, p)
    while np.any(p > high) and np.all(p[p > high] - 12 >= low):
        p = np.where(p > high, p - 12, p)
    return np.clip(p, low, high)


def pitch_cuts(midi: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where notes of the track ``midi`` (MIDI per frame, NaN where not sung, at ``times``
    seconds) start, and where it is sung: (starts: steps of :data:`STEP_ST` held
    :data:`STEP_HOLD_S`, and each sung run's onset less its consonant, at most 0.1 s into the
    rest before it, none closer than :data:`MIN_NOTE_S`; the sung runs as (start, end) pairs)."""
    hold = max(2, int(round(STEP_HOLD_S / HOP_S)))
    starts: list[float] = []
    spans: list[tuple[float, float]] = []
    prev_end = None
    for a, b in runs(~np.isnan(midi)):
        t_a = float(times[a])
        starts.append(max(t_a - 0.1, (prev_end + t_a) / 2) if prev_end is not None else max(0.0, t_a - 0.05))
        spans.append((t_a, float(times[b - 1]) + HOP_S))
        prev_end = spans[-1][1]
        seg = midi[a:b]
        level = float(np.median(seg[:hold]))
        k = hold
        while k + hold <= len(seg):
            if np.all(np.abs(seg[k:k + hold] - level) > STEP_ST):
                starts.append(float(times[a + k]))
                level = float(np.median(seg[k:k + hold]))
                k += hold
            else:
                k += 1
    merged: list[float] = []
    for c in sorted(starts):  # a glide crosses two steps: its first one starts the note
        if not merged or c - merged[-1] >= MIN_NOTE_S:
            merged.append(c)
    return np.array(merged), np.array(spans).reshape(-1, 2)


def snap(points: Sequence[float], cuts: np.ndarray, radius: float = SNAP_S,
         keep_cost: float = SNAP_KEEP_COST_S) -> list[float]:
    """``points`` (ascending seconds) moved onto ``cuts`` (ascending), each cut used once and in
    order, a point moving at most ``radius``. The words' times run early or late by an amount
    that drifts slowly, so the cost of a move is how much it differs from the previous point's
    move (plus a tenth of its size); a point left alone costs ``keep_cost`` and moves as its
    snapped neighbours do (interpolated). Dynamic programming over (point, cut) pairs, looking
    back at most :data:`SNAP_BACK` points and cuts."""
    n, m = len(points), len(cuts)
    if not n or not m:
        return list(points)
    p = np.asarray(points, float)
    d = cuts[None, :] - p[:, None]  # the move of point i onto cut j
    ok = np.abs(d) <= radius
    f = np.full((n, m), np.inf)
    back: dict[tuple[int, int], tuple[int, int]] = {}
    for i in range(n):
        for j in (int(v) for v in np.nonzero(ok[i])[0]):
            best = keep_cost * i + 0.5 * abs(d[i, j])  # the first point to snap
            arg = (-1, -1)
            for i0 in range(max(0, i - SNAP_BACK), i):
                for j0 in range(max(0, j - SNAP_BACK), j):
                    if f[i0, j0] < np.inf:
                        c = f[i0, j0] + keep_cost * (i - i0 - 1) + abs(d[i, j] - d[i0, j0])
                        if c < best:
                            best, arg = c, (i0, j0)
            f[i, j] = best + 0.1 * abs(d[i, j])
            back[(i, j)] = arg
    total = f + keep_cost * (n - 1 - np.arange(n))[:, None]
    if not np.isfinite(total).any():
        return list(points)
    i, j = (int(v) for v in np.unravel_index(np.argmin(total), total.shape))
    snapped: dict[int, float] = {}
    while i >= 0:
        snapped[i] = float(d[i, j])
        i, j = back[(i, j)]
    known = sorted(snapped)
    moves = np.interp(np.arange(n), known, [snapped[k] for k in known])
    out = list(p + moves)
    for k in range(1, n):  # in order, a syllable's least length apart
        out[k] = max(out[k], out[k - 1] + MIN_SYLLABLE_S)
    return [float(v) for v in out]


def _note_spans(spans: list[tuple[float, float]], joined: list[bool], midi: np.ndarray, times: np.ndarray
                ) -> list[tuple[float, float]]:
    """Syllable spans with their starts moved onto the pitch track's cuts; ``joined[i]``:
    syllable i runs on into syllable i + 1 (no rest between), else it lasts to the end of the
    last sung run it overlaps (Whisper ends a held final word early)."""
    starts_at, sung_runs = pitch_cuts(midi, times)
    starts = snap([a for a, _ in spans], starts_at)
    out = []
    for i, a in enumerate(starts):
        nxt = starts[i + 1] if i + 1 < len(starts) else float("inf")
        if joined[i]:
            b = nxt
        else:
            b = spans[i][1] + (a - spans[i][0])
            over = [e for s, e in sung_runs if s < b and e > a]
            b = min(max(over) if over else b, nxt)
        if b - a < MIN_SYLLABLE_S:  # a boundary snapped too close: keep the words' own span
            a, b = spans[i][0], min(max(spans[i][1], spans[i][0] + MIN_SYLLABLE_S), nxt)
        out.append((a, max(b, a + 1e-3)))
    for i in range(len(out) - 1):  # in order, never overlapping
        a, b = out[i]
        if b > out[i + 1][0]:
            out[i] = (a, max(a + 1e-3, out[i + 1][0]))
    return out


def sung_score(words: Sequence[TimedWord], midi: np.ndarray, times: np.ndarray, g2p: Any, low: int, high: int,
               bpm: float = BPM) -> Score:
    """The Score of ``words`` (timed, in order, with line indices) on the reference's pitch
    track ``midi`` (MIDI per frame, NaN where not sung, at ``times`` seconds): one note per
    syllable, each word's syllables evenly over its span and every boundary then moved onto a
    nearby cut of the pitch track (:func:`pitch_cuts`, :func:`snap`); pitch = the rounded median
    of the track over the note (unvoiced: the previous note's), all inside [``low``, ``high``].
    Onsets are the reference's seconds at ``bpm`` (quarter notes = seconds * bpm / 60)."""
    if not words:
        raise InputError("no words to sing", "give the words the reference sings")
    lines: dict[int, list[TimedWord]] = {}
    for w in words:
        lines.setdefault(w.line, []).append(w)
    spans: list[tuple[float, float]] = []
    joined: list[bool] = []
    sylls = []
    first = 0
    order = [w for k in sorted(lines) for w in lines[k]]
    for li, key in enumerate(sorted(lines)):
        ws = lines[key]
        got = line_syllables([w.word for w in ws], g2p, line=li, first_word=first)
        for k, w in enumerate(ws):
            mine = [s for s in got if s.word == first + k]
            step = (w.end_s - w.start_s) / len(mine)
            nxt = order[first + k + 1] if first + k + 1 < len(order) else None
            for j, s in enumerate(mine):
                spans.append((w.start_s + j * step, w.start_s + (j + 1) * step))
                joined.append(j + 1 < len(mine) or (nxt is not None and nxt.start_s - w.end_s < 0.1))
                sylls.append(s)
        first += len(ws)
    spans = _note_spans(spans, joined, midi, times)
    med = np.full(len(spans), np.nan)
    for i, (a, b) in enumerate(spans):
        v = midi[(times >= a) & (times < b)]
        v = v[~np.isnan(v)]
        if len(v):
            med[i] = float(np.median(v))
    voiced = midi[~np.isnan(midi)]
    fallback = float(np.median(voiced)) if len(voiced) else float((low + high) / 2)
    for i in range(len(med)):  # unvoiced notes: the previous note's pitch, else the next's
        if np.isnan(med[i]):
            prev = med[:i][~np.isnan(med[:i])]
            nxt_v = med[i + 1:][~np.isnan(med[i + 1:])]
            med[i] = prev[-1] if len(prev) else nxt_v[0] if len(nxt_v) else fallback
    pitches = _fit_range(np.round(med), low, high)
    qn = bpm / 60.0
    notes = tuple(Note(a * qn, (b - a) * qn, float(p), s.text, s.phonemes, s.word, s.line)
                  for (a, b), p, s in zip(spans, pitches, sylls))
    texts = tuple(" ".join(w.word.text for w in lines[k]) for k in sorted(lines))
    return Score(notes, TempoMap.constant(bpm), texts)


def tidy(words: Sequence[TimedWord]) -> list[TimedWord]:
    """Spans in the given order, none shorter than one syllable's least length, none overlapping."""
    out: list[TimedWord] = []
    for w in words:
        start = max(w.start_s, out[-1].end_s if out else 0.0)
        out.append(replace(w, start_s=start, end_s=max(w.end_s, start + MIN_SYLLABLE_S)))
    return out


# ------------------------------------------------------------------------------ given lyrics
def _norm(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


def place_lyrics(sheet: LyricsSheet, heard: Sequence[TimedWord], midi: np.ndarray, times: np.ndarray,
                 g2p: Any) -> tuple[list[TimedWord], int]:
    """The sheet's words timed on the reference: a word that matches a recognised one (in
    order, :class:`difflib.SequenceMatcher`) takes its times; the others share the voiced
    frames between those anchors by syllable count. Returns (words, how many were anchored).
    Raises :class:`InputError` when the lyrics are far too many for the singing."""
    mine: list[tuple[Word, int]] = [(w, li) for li, ln in enumerate(sheet.lines) for w in ln.words]
    counts = []
    for li, ln in enumerate(sheet.lines):
        got = line_syllables(ln.words, g2p)
        counts += [sum(1 for s in got if s.word == k) for k in range(len(ln.words))]
    voiced = ~np.isnan(midi)
    sung_s = float(voiced.sum() * HOP_S)
    if sum(counts) * MIN_SYLLABLE_SPREAD_S > sung_s:
        raise InputError(f"the lyrics have {sum(counts)} syllables but the reference holds only {sung_s:.1f} s of "
                         "singing", "give only the words this recording sings")
    sm = difflib.SequenceMatcher(None, [_norm(w.text) for w, _ in mine], [_norm(h.word.text) for h in heard],
                                 autojunk=False)
    anchor: dict[int, TimedWord] = {}
    for a, b, n in sm.get_matching_blocks():
        for k in range(n):
            anchor[a + k] = heard[b + k]
    vt = times[voiced] if voiced.any() else times
    out: list[TimedWord | None] = [None] * len(mine)
    for i, h in anchor.items():
        out[i] = TimedWord(mine[i][0], h.start_s, h.end_s, mine[i][1], h.probability)
    i = 0
    while i < len(mine):
        if out[i] is not None:
            i += 1
            continue
        j = i
        while True:  # the run of unplaced words [i, j), widened while its stretch is too short
            while j < len(mine) and out[j] is None:
                j += 1
            before, after = out[i - 1] if i else None, out[j] if j < len(mine) else None
            t0 = before.end_s if before is not None else float(vt[0]) if len(vt) else 0.0
            t1 = after.start_s if after is not None else float(vt[-1]) + HOP_S if len(vt) else t0 + 1.0
            frames = vt[(vt >= t0) & (vt < t1)]
            if len(frames) * HOP_S >= MIN_SYLLABLE_SPREAD_S * sum(counts[i:j]) or (i == 0 and j == len(mine)):
                break
            if j < len(mine):
                out[j] = None
            else:
                i -= 1
                out[i] = None
        if len(frames) < 2:
            frames = np.linspace(t0, max(t1, t0 + MIN_SYLLABLE_S * (j - i)), 2 * (j - i) + 1)
        share = np.concatenate([[0.0], np.cumsum(counts[i:j])]) / sum(counts[i:j])
        edges = np.round(share * (len(frames) - 1)).astype(int)
        for k in range(i, j):
            a, b = frames[edges[k - i]], frames[edges[k - i + 1]]
            out[k] = TimedWord(mine[k][0], float(a), float(max(b, a + MIN_SYLLABLE_S)), mine[k][1])
        i = j
    placed = sum(1 for k, h in anchor.items() if (w := out[k]) is not None and w.start_s == h.start_s)
    return [w for w in out if w is not None], placed
