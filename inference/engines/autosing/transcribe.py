"""Estimated Score of a sung take: pitch track (WORLD dio + stonemask) -> notes.

AutoSing chooses its own melody; the pipeline still returns a Score (and the bridge a MIDI
melody), so the sung audio is transcribed: voiced runs at a steady rounded MIDI pitch become
notes (median pitch, at least ``min_note_s`` long)."""
from __future__ import annotations

import numpy as np

from host_bridge.core.model import Note, TempoMap


def estimate_notes(audio: np.ndarray, sample_rate: int, tempo_map: TempoMap, start_s: float = 0.0,
                   min_note_s: float = 0.08, frame_s: float = 0.01) -> tuple[Note, ...]:
    """audio float32 [1, T] (or [T]) sung from session time ``start_s`` -> notes on ``tempo_map``."""
    import pyworld

    x = np.asarray(audio, np.float64).reshape(-1)
    if x.size < sample_rate * min_note_s or not np.any(x):
        return ()
    f0, t = pyworld.dio(x, sample_rate, f0_floor=60.0, f0_ceil=1100.0, frame_period=frame_s * 1000)
    f0 = pyworld.stonemask(x, f0, t, sample_rate)
    midi = np.where(f0 > 0, 69 + 12 * np.log2(np.maximum(f0, 1e-6) / 440.0), np.nan)
    notes: list[Note] = []
    i, n = 0, len(midi)
    min_frames = max(1, int(round(min_note_s / frame_s)))
    while i < n:
        if np.isnan(midi[i]):
            i += 1
            continue
        j, ref = i, round(float(midi[i]))
        while j < n and not np.isnan(midi[j]) and abs(midi[j] - ref) < 0.75:
            j += 1
        if j - i >= min_frames:
            a, b = start_s + t[i], start_s + t[j - 1] + frame_s
            qa, qb = tempo_map.qn_at(a), tempo_map.qn_at(b)
            if qb > qa:
                notes.append(Note(qa, qb - qa, float(round(float(np.median(midi[i:j]))))))
        i = max(j, i + 1)
    return tuple(notes)
