"""Scoring tempo x meter hypotheses for a tracked beat sequence.

A hypothesis is a tactus (the felt beat) with a feel: beats per bar (2, 3 or 4) and how each
beat divides (in 2 or in 3). The feels read as meters: 4 beats -> 4/4 (straight, or swung / 12/8
when they divide in 3), 3 beats in 2 -> 3/4, 2 beats in 3 -> 6/8. Evidence, each a number near
0 when it says nothing:

- ``fill``: onsets sit on the beat's subdivision points (halves, or thirds) rather than between
  them. A swung beat (onsets on 0 and 2/3) says little either way; a compound one (1/3 too) says 3.
- ``accent``: the beats are stronger than their subdivisions (the grouping of eighths into
  beats: 3+3 in 6/8 against 2+2+2 in 3/4).
- ``harmony``: chords change, and the bass and kick land, on one beat in every bar (the downbeat).
- ``salience``: the beats land on onsets at all (against the envelope's mean).
- ``on_beat``: chords change on the beats rather than half-way between them.
- ``prior``: a log-normal prior on the tactus (songs are felt around 110 BPM, most within 60-160)
  and a small one on the feel.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from inference.analysis.features import CHROMA_HOP, HOP, SR, Features, sync
from inference.analysis.result import beat_qn, beats_per_bar

FEELS: tuple[tuple[int, int, tuple[int, int]], ...] = (
    (4, 2, (4, 4)), (4, 3, (4, 4)), (3, 2, (3, 4)), (2, 3, (6, 8)))
"""(beats per bar, subdivision, meter reported)."""
_FEEL_PRIOR = {(4, 2): 0.0, (4, 3): -0.3, (3, 2): -0.15, (2, 3): -0.15}
TACTUS_CENTRE = 110.0
TACTUS_SIGMA = 0.9
"""Standard deviation of the tactus prior, octaves."""
WEIGHTS = {"harmony": 0.6, "fill": 0.15, "accent": 0.15, "salience": 1.0, "prior": 1.0, "on_beat": 1.0}
"""Tuned on the tuning set of benchmarks/form_songs.py and 9 pieces of benchmarks/instrumentals.py
(grid search: 15/15 tempo, 15/15 meter; 47 of 8748 weightings reach 29/30)."""
_EPS = 1e-3
CHANGE_WINDOW = 2
"""Beats on each side of a beat compared to see the chord change there (the same for every feel,
so that their harmony scores compare; one beat was worse on picked accompaniment)."""


@dataclass
class Hypothesis:
    tactus_bpm: float
    beats_per_bar: int
    subdivision: int
    meter: tuple[int, int]
    beats_s: np.ndarray
    phase: int
    """Index (0..beats_per_bar-1) of the first downbeat among the beats."""
    parts: dict[str, float]
    score: float = 0.0


def env_at(env: np.ndarray, times_s: np.ndarray) -> np.ndarray:
    """The envelope's strongest value within +-2 frames of each time (onsets smear slightly)."""
    fr = np.clip(np.round(np.asarray(times_s) * SR / HOP).astype(int), 0, len(env) - 1)
    return np.max(np.stack([env[np.clip(fr + o, 0, len(env) - 1)] for o in range(-2, 3)]), axis=0)


def _points(beats_s: np.ndarray, fracs: tuple[float, ...]) -> np.ndarray:
    step = np.diff(beats_s)
    return np.concatenate([beats_s[:-1] + step * f for f in fracs]) if len(step) else np.zeros(0)


def on_beat_changes(feat: Features, beats_s: np.ndarray) -> float:
    """How much more the chords change on the beats than half-way between them (log ratio): a
    grid at half the tempo puts every other chord change between its beats."""
    from inference.analysis.beats import _chord_change

    step = float(np.median(np.diff(beats_s)))
    half = np.sort(np.concatenate([beats_s, beats_s + step / 2]))
    d = _chord_change(beat_chroma(feat, half), window=2)
    return math.log((float(d[2::2].mean()) + 0.02) / (float(d[1::2].mean()) + 0.02))


def score_parts(feat: Features, env: np.ndarray, tactus_bpm: float, k: int, sd: int,
                beats_s: np.ndarray, chroma: np.ndarray, on_beat: float = 0.0) -> tuple[int, dict[str, float]]:
    """(downbeat phase, evidence parts) of one hypothesis; ``chroma``: [12, N] per beat;
    ``on_beat``: :func:`on_beat_changes` of the beats."""
    from inference.analysis.beats import _chord_change

    e_beat = float(env_at(env, beats_s).mean())
    sub = (0.5,) if sd == 2 else (1 / 3, 2 / 3)
    e_sub = float(env_at(env, _points(beats_s, sub)).mean())
    # fill: the decisive subdivision point (1/2, or 1/3: a swung 2/3 alone does not make a compound beat)
    key = float(env_at(env, _points(beats_s, (0.5,) if sd == 2 else (1 / 3,))).mean())
    other = float(env_at(env, _points(beats_s, (1 / 3,) if sd == 2 else (0.5,))).mean())
    fill = math.log((key + _EPS) / (other + _EPS))
    accent = math.log((e_beat + _EPS) / (e_sub + _EPS))
    salience = math.log((e_beat + _EPS) / (float(env.mean()) + _EPS))
    # how much the chord changes into each beat (a picked or arpeggiated accompaniment plays part
    # of the chord on each beat, hence windows of two beats)
    d = _chord_change(chroma, window=CHANGE_WINDOW)
    low = env_at(feat.onset_low, beats_s)
    best_phase, best_c = 0, -1e9
    for p in range(k):
        on = d[p::k][1:] if p == 0 else d[p::k]
        off = np.concatenate([d[q::k] for q in range(k) if q != p])
        c = float(on.mean() - off.mean()) / (float(d.mean()) + _EPS) if len(on) and len(off) else 0.0
        lo_on = low[p::k].mean() if len(low[p::k]) else 0.0
        c += 0.3 * float(np.log((lo_on + _EPS) / (low.mean() + _EPS)))
        if c > best_c:
            best_phase, best_c = p, c
    prior = -0.5 * (math.log2(tactus_bpm / TACTUS_CENTRE) / TACTUS_SIGMA) ** 2 + _FEEL_PRIOR.get((k, sd), 0.0)
    return best_phase, {"harmony": best_c, "fill": fill, "accent": accent, "salience": salience, "prior": prior,
                        "on_beat": on_beat}


def combine(parts: dict[str, float], weights: dict[str, float] | None = None) -> float:
    w = weights or WEIGHTS
    return float(sum(w[k] * v for k, v in parts.items()))


def beat_chroma(feat: Features, beats_s: np.ndarray) -> np.ndarray:
    """[12, N] chroma per beat."""
    bounds = np.concatenate([beats_s, [beats_s[-1] + np.median(np.diff(beats_s))]])
    return sync(feat.chroma, CHROMA_HOP, bounds)


def hypotheses(feat: Features, env: np.ndarray, tracked: dict[float, np.ndarray],
               meter: tuple[int, int] | None = None) -> list[Hypothesis]:
    """Every tactus (with its tracked beats) x feel, scored, best first."""
    feels = [f for f in FEELS if meter is None or f[2] == meter]
    if meter is not None and not feels:     # a meter the feels do not cover (5/4, 2/4, 9/8...)
        feels = [(beats_per_bar(*meter), 3 if beat_qn(*meter) == 1.5 else 2, meter)]
    out = []
    for t, tracked_s in tracked.items():
        step = float(np.median(np.diff(tracked_s)))
        # the tracker may sit on any subdivision of the beat: try the beat on each of them
        shifts = {j / 6 for sd in {f[1] for f in feels} for j in range(0, 6, 6 // sd)}
        grids = {f: tracked_s + f * step for f in sorted(shifts)}
        changes = {f: beat_chroma(feat, g) for f, g in grids.items()}
        on_beat = {f: on_beat_changes(feat, g) for f, g in grids.items()}
        for k, sd, m in feels:
            best: Hypothesis | None = None
            for f in sorted(shifts):
                if round(f * sd, 6) != round(f * sd):
                    continue
                phase, parts = score_parts(feat, env, t, k, sd, grids[f], changes[f], on_beat[f])
                h = Hypothesis(t, k, sd, m, grids[f], phase, parts, combine(parts))
                if best is None or h.score > best.score:
                    best = h
            if best is not None:
                out.append(best)
    out.sort(key=lambda h: -h.score)
    return out
