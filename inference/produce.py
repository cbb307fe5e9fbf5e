"""produce stage: dry phrases from an engine -> the stem at the session rate, length and position.

Each phrase is resampled to the session rate (soxr, very high quality), given short fades at its
edges, placed by its session time and summed into a buffer of exactly the requested length, so
stem sample 0 is session sample ``start_sample``. A final gain sets a steady vocal level and
keeps the peak at or below -1 dBFS. Placement is sample-exact: nothing in the chain adds latency.

The artist's vocal chain (:mod:`inference.produce_chain`) runs in :meth:`Producer.finish`: inserts
on the stem, reverb/delay sends into :attr:`Producer.wet`, a separate wet stem at the same level
scale. Phrase-level habits (dynamics, breaths before phrases after a rest) apply in :meth:`add`.
"""
from __future__ import annotations

import logging

import numpy as np
import soxr
from pedalboard import HighpassFilter

from host_bridge.core.reel import PEAK_CEILING
from inference.engines.base import RenderedPhrase
from inference.produce_chain import BREATH_MIN_GAP_S, breath_noise, phrase_gain, process_inserts, render_sends
from host_bridge.core.artists import Artist

log = logging.getLogger(__name__)

TARGET_RMS_DB = -20.0
"""Level of the voiced parts of the stem (RMS over active 50 ms blocks)."""
EDGE_FADE_S = 0.012


class Producer:
    def __init__(self, sample_rate: int, length_samples: int, start_sample: int, channels: int, artist: Artist) -> None:
        self.sample_rate = sample_rate
        self.length = length_samples
        self.start_sample = start_sample
        self.channels = channels
        self.artist = artist
        self.buffer = np.zeros((channels, length_samples), np.float32)
        self.preview_gain = 10 ** ((TARGET_RMS_DB + 6.0) / 20)  # engines' dry level is about -26 dB RMS
        self._hpf = HighpassFilter(cutoff_frequency_hz=70.0)
        self.dropped_s = 0.0
        self.wet: np.ndarray | None = None
        """The wet stem (reverb/delay returns) float32 [C, length], set by finish() when the chain has sends."""
        self._last_end: int | None = None
        self._n_phrases = 0

    def _prepare(self, ph: RenderedPhrase) -> np.ndarray:
        """Phrase -> float32 [T] at the session rate, faded at its edges."""
        x = np.array(ph.audio, np.float32).reshape(-1)  # a copy: the fades must not touch the engine's phrase
        if not np.all(np.isfinite(x)):
            log.warning("engine produced non-finite samples; zeroing them")
            x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
        if ph.sample_rate != self.sample_rate:
            x = soxr.resample(x, ph.sample_rate, self.sample_rate, quality="VHQ").astype(np.float32)
        n = min(len(x) // 2, int(EDGE_FADE_S * self.sample_rate))
        if n > 0:
            ramp = (0.5 - 0.5 * np.cos(np.linspace(0, np.pi, n, dtype=np.float32))).astype(np.float32)
            if not ph.joins_previous:  # a joined edge is the engine's cross-fade already
                x[:n] *= ramp
            if not ph.joins_next:
                x[-n:] *= ramp[::-1]
        return x

    def add(self, ph: RenderedPhrase) -> tuple[np.ndarray, int]:
        """Place one phrase. Returns (chunk [C, T] at the session rate with the preview gain, its
        session start sample) for streaming; the chunk covers only this phrase."""
        pitches = list(ph.phrase_pitches) or [n.pitch for n in ph.notes]
        x = self._prepare(ph) * np.float32(phrase_gain(self.artist, pitches))
        at = int(round((ph.start_s + self.artist.style.timing_offset_ms / 1000.0) * self.sample_rate)) - self.start_sample
        if not ph.joins_previous:
            self._breathe(at)
            self._n_phrases += 1
        self._last_end = at + len(x)
        a, b = max(at, 0), min(at + len(x), self.length)
        if b <= a:
            self.dropped_s += len(x) / self.sample_rate
            log.warning("a phrase at %.2f s falls outside the stem; it was not placed", ph.start_s)
            return np.zeros((self.channels, 0), np.float32), self.start_sample + max(at, 0)
        if a > at or b < at + len(x):
            self.dropped_s += (len(x) - (b - a)) / self.sample_rate
        seg = x[a - at:b - at]
        self.buffer[:, a:b] += seg[None, :]
        chunk = np.repeat((seg * self.preview_gain)[None, :], self.channels, axis=0)
        np.clip(chunk, -PEAK_CEILING, PEAK_CEILING, out=chunk)
        return chunk.astype(np.float32), self.start_sample + a

    def _breathe(self, at: int) -> None:
        """An in-breath ending where a phrase starts, when the artist breathes and a rest precedes it."""
        level = self.artist.style.breath
        gap = at - (self._last_end if self._last_end is not None else -(1 << 40))
        if level <= 0 or gap < BREATH_MIN_GAP_S * self.sample_rate:
            return
        b = breath_noise(self.sample_rate, level, self._n_phrases)
        s = at - len(b) + int(0.04 * self.sample_rate)  # the breath ends just inside the phrase's onset
        a0, a1 = max(s, 0), min(s + len(b), self.length)
        if a1 > a0:
            self.buffer[:, a0:a1] += b[a0 - s:a1 - s][None, :]

    def finish(self) -> np.ndarray:
        """The stem: float32 [C, length], high-passed, through the artist's insert chain, levelled,
        peak <= -1 dBFS. Sets :attr:`wet` (same gain, its own peak ceiling) when the chain has sends."""
        y = self._hpf(self.buffer, self.sample_rate, reset=True).astype(np.float32)
        chain = self.artist.chain
        y = process_inserts(y, self.sample_rate, chain)
        gain = level_gain(y[0], self.sample_rate)
        y *= gain
        peak = float(np.max(np.abs(y))) if y.size else 0.0
        if peak > PEAK_CEILING:
            y *= PEAK_CEILING / peak
        wet = render_sends(y, self.sample_rate, chain)
        if wet is not None:
            wpeak = float(np.max(np.abs(wet))) if wet.size else 0.0
            if wpeak > PEAK_CEILING:
                wet *= PEAK_CEILING / wpeak
            self.wet = np.ascontiguousarray(wet, dtype=np.float32)
        assert y.shape == (self.channels, self.length)
        return np.ascontiguousarray(y, dtype=np.float32)


def level_gain(x: np.ndarray, sample_rate: int) -> float:
    """Gain that brings the active (sung) 50 ms blocks of ``x`` to TARGET_RMS_DB."""
    block = max(1, int(0.05 * sample_rate))
    n = len(x) // block
    if n == 0:
        return 1.0
    rms = np.sqrt(np.mean(x[: n * block].reshape(n, block).astype(np.float64) ** 2, axis=1))
    if rms.max() <= 1e-6:
        return 1.0
    active = rms[rms > rms.max() * 0.1]
    level = float(np.sqrt(np.mean(active ** 2)))
    return float(10 ** (TARGET_RMS_DB / 20) / level)
