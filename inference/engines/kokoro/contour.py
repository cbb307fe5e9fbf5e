"""The sung pitch contour: notes -> F0 (Hz) at any time, with the artist's performance style.

Portamento between notes that touch (a raised-cosine glide that arrives a little early),
vibrato that fades in after a delay on notes long enough to carry it, and a scoop from below
at the start of a phrase or after a rest. Outside the notes (pre-rolled consonants, release)
the contour holds the nearest note, so a voiced consonant before the first note is in tune.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from host_bridge.core.artists import Style

TOUCH_S = 0.03
"""Notes closer than this are sung legato (portamento, no scoop)."""


@dataclass(frozen=True)
class TimedNote:
    start: float
    """Seconds (any common origin)."""
    end: float
    midi: float


def midi_to_hz(m: np.ndarray | float) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(m, np.float64) - 69.0) / 12.0)


def hz_to_midi(hz: np.ndarray | float) -> np.ndarray:
    hz = np.asarray(hz, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(hz > 0, 69.0 + 12.0 * np.log2(np.maximum(hz, 1e-9) / 440.0), np.nan)


def base_midi(notes: list[TimedNote], times: np.ndarray) -> np.ndarray:
    """Step contour: the note sounding at each time, else the nearest one (previous after its end)."""
    starts = np.array([n.start for n in notes])
    ends = np.array([n.end for n in notes])
    pitch = np.array([n.midi for n in notes])
    i = np.clip(np.searchsorted(starts, times, side="right") - 1, 0, len(notes) - 1)
    before_first = times < starts[0]
    # in a rest: hold the previous note for a short release, then the next one
    nxt = np.minimum(i + 1, len(notes) - 1)
    in_gap = (times >= ends[i]) & (nxt != i) & (times >= 0.5 * (ends[i] + starts[nxt]))
    idx = np.where(in_gap, nxt, i)
    idx = np.where(before_first, 0, idx)
    return pitch[idx]


def contour_midi(notes: list[TimedNote], times: np.ndarray, style: Style, seed: int = 0) -> np.ndarray:
    """Fractional MIDI pitch of the sung line at ``times`` (seconds, same origin as the notes)."""
    times = np.asarray(times, np.float64)
    cents = base_midi(notes, times) * 100.0
    rng = np.random.default_rng(seed)
    for k, n in enumerate(notes):
        m = (times >= n.start) & (times < n.end)
        if not m.any():
            continue
        tt = times[m] - n.start
        dur = n.end - n.start
        if style.vibrato_depth_cents > 0 and dur >= style.vibrato_delay_s + 0.2:
            rate = style.vibrato_rate_hz * (1.0 + 0.04 * rng.uniform(-1, 1))
            ramp = np.clip((tt - style.vibrato_delay_s) / 0.2, 0.0, 1.0)
            fade_out = np.clip((dur - tt) / 0.08, 0.0, 1.0)
            cents[m] += style.vibrato_depth_cents * ramp * fade_out * np.sin(
                2 * np.pi * rate * (tt - style.vibrato_delay_s))
        prev = notes[k - 1] if k > 0 else None
        if (prev is None or n.start - prev.end > TOUCH_S) and style.scoop_cents != 0:
            cents[m] += style.scoop_cents * np.exp(-tt / 0.035)
    for a, b in zip(notes[:-1], notes[1:]):
        if b.start - a.end > TOUCH_S or a.midi == b.midi or style.portamento_s <= 0:
            continue
        g = min(style.portamento_s, 0.3 * (a.end - a.start), 0.3 * (b.end - b.start))
        if g <= 0:
            continue
        centre = b.start - 0.25 * g
        m = (times >= centre - g / 2) & (times < centre + g / 2)
        w = 0.5 - 0.5 * np.cos(np.pi * (times[m] - (centre - g / 2)) / g)
        cents[m] = (1 - w) * a.midi * 100.0 + w * b.midi * 100.0
    return cents / 100.0
