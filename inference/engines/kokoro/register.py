"""Register placement: which octave a take is sung in, and which pitches Kokoro is asked for.

Every Kokoro voice has a hard wall about an octave above its speaking pitch (FINDINGS): above
it, it drops an octave and unvoices. So a melody is (1) placed per take in the octave that fits
the artist's sung range best (a whole-octave move keeps the tune: a male voice sings a treble
line an octave down, a female voice sings it as written), and (2) a phrase that still goes
above the voice's wall is *rendered* transposed down by as much as it goes over (its contour
kept) and moved back to its written pitch by the WORLD pass (spectral envelope kept), see
:mod:`.world`. That loses fewer words than clamping only the notes above the wall to it, or
rendering the whole phrase an octave down (Whisper on a benchmark line up to MIDI 76), and
rendering such a phrase 3 semitones further below the wall (more of it lifted) read no better;
nor did moving a lifted phrase's formants with the lift (a quarter or half of it up, as a
soprano's vowels open on high notes, or a quarter of it down).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

OCTAVE_MOVE_COST = 6.0
"""Semitones (worst + mean overshoot) of WORLD shift accepted before an octave move is preferred."""


def choose_octave(pitches: Sequence[float], low: float, high: float, durations: Sequence[float] | None = None) -> int:
    """Octave shift (a multiple of 12 semitones) that puts the melody best inside ``[low, high]``.

    Cost: how far notes stick out (worst plus time-weighted mean overshoot, in semitones), plus
    ``OCTAVE_MOVE_COST`` for moving at all. Returns 0 for an empty melody."""
    p = np.asarray(pitches, np.float64)
    if p.size == 0:
        return 0
    w = np.asarray(durations if durations is not None else np.ones_like(p), np.float64)
    best, best_cost = 0, np.inf
    for shift in (0, -12, 12, -24, 24):
        q = p + shift
        out = np.maximum(q - high, 0.0) + np.maximum(low - q, 0.0)
        worst = float(out.max())
        mean = float((out * w).sum() / max(w.sum(), 1e-9))
        cost = worst + mean + (0.0 if shift == 0 else OCTAVE_MOVE_COST + abs(shift) / 12.0 - 1.0)
        if cost < best_cost - 1e-9:
            best, best_cost = shift, cost
    return best


def render_pitches(pitches: Sequence[float], low: float, high: float) -> np.ndarray:
    """The pitches asked of Kokoro for one phrase: the sung pitches transposed down by as much
    as the phrase goes above ``high`` (its contour kept), then clamped into ``[low, high]``."""
    p = np.asarray(pitches, np.float64)
    if p.size == 0:
        return p
    return np.clip(p - max(0.0, float(p.max()) - high), low, high)
