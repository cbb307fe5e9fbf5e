"""Short test instrumentals synthesised with numpy (no soundfont, no files): chord tones as
decaying harmonic tones, a bass root on the downbeats, optional clicks on the beats."""
from __future__ import annotations

import numpy as np

from inference.analysis.result import CHORD_INTERVALS, beat_qn, beats_per_bar


def tone(freq: float, n: int, sr: int, decay_s: float = 0.6) -> np.ndarray:
    t = np.arange(n) / sr
    env = np.exp(-t / decay_s) * np.minimum(1.0, t / 0.005)
    x = sum((0.6 ** h) * np.sin(2 * np.pi * freq * (h + 1) * t) for h in range(3))
    return (x * env).astype(np.float32)


def render(chords: list[tuple[int, str]], bpm: float = 120.0, meter: tuple[int, int] = (4, 4), sr: int = 22050,
           lead_in_s: float = 0.0, clicks: bool = True, eighths: bool = True) -> np.ndarray:
    """One chord per bar; ``bpm`` in quarter notes. Returns float32 [1, T]."""
    num, den = meter
    bq = beat_qn(num, den)
    k = beats_per_bar(num, den)
    beat_s = bq * 60.0 / bpm
    bar_s = beat_s * k
    total = int((lead_in_s + bar_s * len(chords) + 1.0) * sr)
    y = np.zeros(total, dtype=np.float32)
    sub = 3 if (num, den) == (6, 8) else 2
    for b, (root, q) in enumerate(chords):
        t0 = lead_in_s + b * bar_s
        pcs = [(root + i) % 12 for i in CHORD_INTERVALS[q]]
        notes = [60 + ((pc - 60) % 12) for pc in pcs]
        for i in range(k):
            for j in range(sub if eighths else 1):
                t = t0 + i * beat_s + j * beat_s / sub
                a = int(t * sr)
                n = min(int(beat_s / sub * sr), total - a)
                gain = 0.25 if j == 0 else 0.12
                for m in notes:
                    y[a:a + n] += gain * tone(440.0 * 2 ** ((m - 69) / 12), n, sr, 0.4)
            if clicks:
                a = int((t0 + i * beat_s) * sr)
                n = min(int(0.03 * sr), total - a)
                rng = np.random.default_rng(b * 16 + i)
                y[a:a + n] += (0.5 if i == 0 else 0.3) * rng.standard_normal(n).astype(np.float32) * \
                    np.exp(-np.arange(n) / (0.005 * sr)).astype(np.float32)
        a = int(t0 * sr)
        n = min(int(bar_s * sr), total - a)
        y[a:a + n] += 0.35 * tone(440.0 * 2 ** ((36 + root - 69) / 12), n, sr, 1.0)
    y /= max(1e-6, float(np.abs(y).max())) / 0.8
    return y[None, :]


POP = [(0, "maj"), (7, "maj"), (9, "min"), (5, "maj")]
"""I-V-vi-IV in C."""
