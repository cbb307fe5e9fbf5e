"""A singer's habits read from a recording's pitch track: range, vibrato, glides, scoops, timing.

Pitch: WORLD's DIO + StoneMask at 16 kHz, 5 ms frames, kept only where the signal is loud enough
and periodic (normalised autocorrelation at the pitch period), so noise, breath and drums do not
count as singing. A recording with less than :data:`MIN_SUNG_S` of steady sung pitch is refused.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from host_bridge.core.errors import InputError

log = logging.getLogger(__name__)

SR = 16000
HOP_S = 0.005
MIN_SUNG_S = 0.8
"""Least time of steady sung pitch (in runs of >= MIN_RUN_S) a reference must hold."""
MIN_RUN_S = 0.12
PERIODICITY = 0.55
"""Normalised autocorrelation at the pitch period a frame needs to count as sung."""
LEVEL_FLOOR_DB = -40.0
"""Frames this far below the loudest 50 ms are not sung."""


@dataclass(frozen=True)
class ReferenceTraits:
    low: int
    high: int
    median_midi: float
    vibrato_rate_hz: float
    vibrato_depth_cents: float
    vibrato_delay_s: float
    portamento_s: float
    scoop_cents: float
    timing_offset_ms: float | None
    """Median onset offset from the grid (+ behind), when a tempo was given."""
    sung_s: float
    duration_s: float


def _periodicity(x: np.ndarray, f0: np.ndarray, win: int) -> np.ndarray:
    """Normalised autocorrelation at the pitch period, per frame (0 where f0 == 0)."""
    hop = int(HOP_S * SR)
    out = np.zeros(len(f0))
    for i in np.nonzero(f0 > 0)[0]:
        lag = int(round(SR / f0[i]))
        c = i * hop
        a = x[max(0, c - win // 2): c + win // 2]
        if len(a) <= lag + 16:
            continue
        u, v = a[:-lag], a[lag:]
        den = np.sqrt(np.dot(u, u) * np.dot(v, v))
        out[i] = float(np.dot(u, v) / den) if den > 0 else 0.0
    return out


def mono_at(audio: np.ndarray, sample_rate: int, rate: int, dtype: Any = np.float32) -> np.ndarray:
    """``audio`` (float [T] or [C, T] at ``sample_rate``) as one channel (the channels' mean) at
    ``rate``, contiguous ``dtype`` (the artist tools' analysers each want their own rate)."""
    import soxr

    x = np.asarray(audio, dtype)
    x = x.mean(axis=0) if x.ndim == 2 else x
    if sample_rate != rate:
        x = soxr.resample(x, sample_rate, rate)
    return np.ascontiguousarray(x, dtype)


def pitch_track(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(MIDI per 5 ms frame with NaN where not sung, frame times in seconds)."""
    import pyworld as pw

    x = mono_at(audio, sample_rate, SR, np.float64)
    f0, t = pw.dio(x, SR, f0_floor=65.0, f0_ceil=1100.0, frame_period=HOP_S * 1000)
    f0 = pw.stonemask(x, f0, t, SR)
    hop = int(HOP_S * SR)
    n = len(f0)
    rms = np.array([np.sqrt(np.mean(x[max(0, i * hop - 400): i * hop + 400] ** 2) + 1e-20) for i in range(n)])
    db = 20 * np.log10(rms + 1e-12)
    loud = db > (np.max(db) + LEVEL_FLOOR_DB if n else 0)
    per = _periodicity(x, f0, int(0.04 * SR))
    sung = (f0 > 0) & loud & (per >= PERIODICITY)
    midi = np.where(sung, 69 + 12 * np.log2(np.maximum(f0, 1e-9) / 440.0), np.nan)
    return midi, t


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index runs where ``mask`` is true."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]))


def _vibrato(cents: np.ndarray) -> tuple[float, float, float] | None:
    """(rate Hz, depth cents, onset delay s) of one steady run, or None without a clear vibrato."""
    n = len(cents)
    k = int(0.25 / HOP_S) | 1
    if n < 2 * k:
        return None
    trend = np.convolve(np.pad(cents, k // 2, mode="edge"), np.ones(k) / k, mode="valid")
    r = cents - trend
    spec = np.abs(np.fft.rfft(r * np.hanning(n), 4096))
    f = np.fft.rfftfreq(4096, HOP_S)
    band = (f >= 3.5) & (f <= 8.5)
    if not band.any() or spec[band].max() < 3 * np.median(spec[(f > 0.5) & (f < 20)] + 1e-9):
        return None
    rate = float(f[band][np.argmax(spec[band])])
    depth = float(np.sqrt(2) * np.std(r[k // 2:n - k // 2]))
    if depth < 6:
        return None
    env = np.sqrt(np.convolve(r ** 2, np.ones(k) / k, mode="same") * 2)
    above = np.nonzero(env > 0.5 * depth)[0]
    return rate, depth, float(above[0] * HOP_S) if len(above) else 0.0


def analyze_reference(audio: np.ndarray, sample_rate: int, tempo_bpm: float | None = None,
                      offset_s: float = 0.0, source: str = "reference",
                      track: tuple[np.ndarray, np.ndarray] | None = None) -> ReferenceTraits:
    """Traits of the singer in ``audio`` (float [T] or [C, T]). Raises :class:`InputError` when
    the recording holds no singing (silence, noise, unpitched sounds). ``track``: its
    :func:`pitch_track`, when the caller has it already."""
    x = np.asarray(audio, np.float32)
    dur = x.shape[-1] / sample_rate
    if dur < 1.0:
        raise InputError(f"{source} is {dur:.2f} s long; too short to hear a singer",
                         "give at least a few seconds of solo singing (10-30 s is best)")
    midi, t = track if track is not None else pitch_track(x, sample_rate)
    steady = [(a, b) for a, b in runs(~np.isnan(midi)) if (b - a) * HOP_S >= MIN_RUN_S]
    sung_s = sum(b - a for a, b in steady) * HOP_S
    if sung_s < MIN_SUNG_S:
        raise InputError(f"no singing found in {source}: {sung_s:.2f} s of steady sung pitch in {dur:.1f} s "
                         f"(at least {MIN_SUNG_S} s needed)",
                         "give a solo vocal recording (an a cappella take or an isolated vocal stem), "
                         "not silence, noise or an instrumental")
    vals = np.concatenate([midi[a:b] for a, b in steady])
    lo, hi = np.percentile(vals, [5, 95])
    med = float(np.median(vals))
    low, high = int(np.floor(lo)), int(np.ceil(hi))
    if high - low < 12:  # a short reference shows only part of a range: assume an octave around it
        pad = (12 - (high - low)) / 2
        low, high = int(np.floor(low - pad)), int(np.ceil(high + pad))
    vib = [v for v in (_vibrato(100 * midi[a:b]) for a, b in steady if (b - a) * HOP_S >= 0.5) if v]
    rate = float(np.median([v[0] for v in vib])) if vib else 5.5
    depth = float(np.median([v[1] for v in vib])) if vib else 0.0
    delay = float(np.median([v[2] for v in vib])) if vib else 0.3
    scoops, glides = [], []
    for i, (a, b) in enumerate(steady):
        if (b - a) * HOP_S >= 0.2:
            plateau = np.median(midi[a + int(0.08 / HOP_S): b])
            scoops.append(100 * (np.mean(midi[a:a + int(0.025 / HOP_S)]) - plateau))
        if i and (a - steady[i - 1][1]) * HOP_S < 0.03:  # legato: a glide into this run
            glides.append((a - steady[i - 1][1]) * HOP_S + 0.04)
    # legato steps inside one run: frames moving faster than 1.5 cents/ms
    for a, b in steady:
        fast = np.abs(np.diff(100 * midi[a:b])) / (HOP_S * 1000) > 1.5
        glides += [(e - s) * HOP_S for s, e in runs(fast) if e - s >= 3]
    timing = None
    if tempo_bpm:
        grid = 60.0 / tempo_bpm / 2  # eighth notes
        onsets = np.array([t[a] for i, (a, b) in enumerate(steady)
                           if i == 0 or (a - steady[i - 1][1]) * HOP_S > 0.05]) - offset_s
        dev = onsets - np.round(onsets / grid) * grid
        timing = float(np.clip(np.median(dev) * 1000, -120, 120)) if len(dev) else 0.0
    return ReferenceTraits(
        low=int(np.clip(low, 36, 84)), high=int(np.clip(high, 40, 90)), median_midi=med,
        vibrato_rate_hz=float(np.clip(rate, 3.5, 8.5)), vibrato_depth_cents=float(np.clip(depth, 0, 150)),
        vibrato_delay_s=float(np.clip(delay, 0.0, 1.5)),
        portamento_s=float(np.clip(np.median(glides), 0.02, 0.3)) if glides else 0.08,
        scoop_cents=float(np.clip(np.median(scoops), -200, 50)) if scoops else 0.0,
        timing_offset_ms=timing, sung_s=round(sung_s, 3), duration_s=round(dur, 3))
