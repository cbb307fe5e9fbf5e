"""Pitches for a phrase's rhythm: a second-order dynamic programme over the key's scale tones
in the artist's range.

Costs: chord tones required on strong beats (downbeat, mid-bar beat) and favoured on other
beats, scale tones everywhere (passing tones between chord tones); stepwise motion cheap,
leaps dearer and resolved by a step the other way; an arch contour per phrase (rise to a peak,
fall to the cadence); the line's last note on a stable degree (the tonic at a section's end);
a seeded jitter so a new seed gives another take.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from inference.analysis.result import Key

INF = 1e6


@dataclass(frozen=True)
class NoteSlot:
    onset: float
    duration: float
    strength: int
    """From :func:`inference.compose.plan.slot_strength`."""
    chord: tuple[int, ...]
    """Pitch classes of the chord sounding (empty: unknown)."""
    stress: int


@dataclass(frozen=True)
class Contour:
    centre: float
    """MIDI pitch the phrase starts and ends around."""
    height: float
    """Semitones from the centre to the peak."""
    peak: float
    """Where the peak falls, 0..1 through the phrase."""


def candidates(key: Key, low: int, high: int) -> np.ndarray:
    return np.array([p for p in range(low, high + 1) if p % 12 in key.scale], dtype=int)


def _interval_cost(iv: np.ndarray) -> np.ndarray:
    a = np.abs(iv)
    c = np.select([a == 0, a <= 2, a <= 4, a == 5, a <= 7, a <= 12],
                  [0.45, 0.0, 0.45, 1.0, 1.5, 2.6], default=INF)
    return c


def phrase_pitches(slots: Sequence[NoteSlot], key: Key, low: int, high: int, contour: Contour,
                   cadence: str, prev_pitch: int | None, rng: np.random.Generator,
                   guide: Sequence[int] | None = None) -> list[int]:
    """One pitch per slot. ``cadence``: "final" (section end: tonic), "open" (line end: a stable
    degree or the 2nd). ``guide``: pitches to stay close to (a repeated section's melody)."""
    P = candidates(key, low, high)
    if len(P) == 0:
        raise ValueError(f"no scale tone of {key.name} in the range {low}-{high}")
    n = len(slots)
    iv = P[None, :] - P[:, None]                                   # iv[j, k] = P[k] - P[j]
    C1 = _interval_cost(iv)
    big = np.abs(iv) >= 5
    step_back = (np.abs(iv) >= 1) & (np.abs(iv) <= 2)
    # L[i, j, k]: the leap i->j not resolved by a step back j->k
    sign = np.sign(iv)
    L = np.where(big[:, :, None] & ~(step_back[None, :, :] & (sign[None, :, :] == -sign[:, :, None])), 1.4, 0.0)
    # two leaps the same way in a row are worse
    L += np.where(big[:, :, None] & big[None, :, :] & (sign[None, :, :] == sign[:, :, None]), 1.5, 0.0)
    unary = _slot_costs(slots, key, P, contour, rng, guide)
    deg = np.array([key.degree(int(p)) or 0 for p in P])
    if cadence == "final":
        unary[-1] += np.select([deg == 1, np.isin(deg, (3, 5))], [0.0, 1.2], default=3.0)
    else:
        unary[-1] += np.select([np.isin(deg, (1, 3, 5)), deg == 2], [0.0, 0.3], default=2.0)
    if prev_pitch is not None:
        unary[0] += 0.5 * _interval_cost(P - prev_pitch) + np.where(np.abs(P - prev_pitch) > 12, INF, 0.0)
    if n == 1:
        return [int(P[int(np.argmin(unary[0]))])]
    # cost[j, k]: best cost with the previous note j and the current k
    cost = unary[0][:, None] + C1 + unary[1][None, :]
    backs = []
    for t in range(2, n):
        tot = cost[:, :, None] + C1[None, :, :] + L               # [i, j, k]
        arg = np.argmin(tot, axis=0)                              # [j, k]
        cost = np.take_along_axis(tot, arg[None], axis=0)[0] + unary[t][None, :]
        backs.append(arg)
    jj, kk = np.unravel_index(int(np.argmin(cost)), cost.shape)
    j, k = int(jj), int(kk)
    path = [k, j]
    for arg in reversed(backs):
        i = int(arg[j, k])
        path.append(i)
        j, k = i, j
    path.reverse()
    return [int(P[i]) for i in path]


def _slot_costs(slots: Sequence[NoteSlot], key: Key, P: np.ndarray, contour: Contour, rng: np.random.Generator,
                guide: Sequence[int] | None) -> np.ndarray:
    """unary[t, k]: the cost of singing candidate pitch ``P[k]`` on slot ``t`` (chord tones on strong
    beats, the contour, accents a little higher, a little randomness, the guide's pitches)."""
    m, n = len(P), len(slots)
    tonic_triad = tuple((key.tonic + i) % 12 for i in ((0, 4, 7) if key.mode == "major" else (0, 3, 7)))
    unary = np.zeros((n, m))
    for t, s in enumerate(slots):
        chord = tuple(pc for pc in (s.chord or tonic_triad) if pc in key.scale) or tonic_triad
        ct = np.isin(P % 12, chord)
        if s.strength >= 3:
            unary[t] += np.where(ct, 0.0, INF)
        elif s.strength >= 1:
            unary[t] += np.where(ct, 0.0, 0.7)
        else:
            unary[t] += np.where(ct, 0.0, 0.1)
        x = (t + 0.5) / n
        shape = np.sin(np.pi * min(1.0, x / (2 * contour.peak))) if x <= contour.peak else \
            np.cos(0.5 * np.pi * (x - contour.peak) / max(1e-3, 1 - contour.peak))
        target = contour.centre + contour.height * shape
        unary[t] += 0.16 * np.abs(P - target)
        if s.stress >= 2:       # an accent sits a little higher
            unary[t] += 0.05 * np.clip(target - P, 0, None)
        unary[t] += rng.uniform(0.0, 0.35, size=m)
        if guide is not None and t < len(guide):
            unary[t] += 0.5 * np.abs(P - guide[t])
    return unary


def melisma(onset: float, duration: float, pitch: int, key: Key, chord: Sequence[int], beat: float, low: int,
            high: int, rng: np.random.Generator) -> list[tuple[float, float, int]]:
    """A held note turned into two on one vowel: the pitch, then on the next beat past its middle a
    step to a neighbouring tone (a chord tone when one is near; falling more often than rising).
    Returns [(onset, duration, pitch)], one note when the note is too short to split."""
    if duration < 2 * beat - 1e-9:
        return [(onset, duration, pitch)]
    split = max(beat, float(np.floor(duration / 2 / beat + 1e-9)) * beat)
    near = [p for p in range(max(low, pitch - 4), min(high, pitch + 4) + 1) if p != pitch and p % 12 in key.scale]
    if not near:
        return [(onset, duration, pitch)]
    tones = [p for p in near if p % 12 in chord] or near
    fall = rng.random() < 0.65
    pick = min(tones, key=lambda p: (abs(p - pitch) + (0.5 if (p < pitch) != fall else 0.0), p))
    return [(onset, split, pitch), (onset + split, duration - split, int(pick))]
