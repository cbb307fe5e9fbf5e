"""Audio features shared by the analysis steps (librosa): onset envelopes, harmonic chroma.

Input audio follows the project convention, float32 ``[C, T]`` at an explicit ``sample_rate``;
everything here works on a mono mix resampled to :data:`SR`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from host_bridge.core.errors import AudioInputError

SR = 22050
"""Analysis sample rate."""
HOP = 256
"""Hop of the onset envelopes (11.6 ms at SR): fine enough for beat placement."""
CHROMA_HOP = 512


@dataclass
class Features:
    y: np.ndarray
    """Mono audio at SR, float32 [T]."""
    onset: np.ndarray
    """Onset strength, hop HOP, full band."""
    onset_low: np.ndarray
    """Onset strength below ~200 Hz (kick, bass): where the downbeats and beats sit."""
    chroma: np.ndarray
    """[12, F] chroma of the harmonic part (drums removed), hop CHROMA_HOP, treble and mid register."""
    bass_chroma: np.ndarray
    """[12, F] chroma of the bass register (below C3), hop CHROMA_HOP."""
    rms_db: np.ndarray
    """Frame loudness in dBFS, hop CHROMA_HOP."""
    mfcc: np.ndarray
    """[12, F] MFCC 1..12 (timbre, loudness left out), hop HOP."""

    @property
    def duration_s(self) -> float:
        return len(self.y) / SR


def to_mono(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """float32 [C, T] (or [T]) at ``sample_rate`` -> float32 [T] at :data:`SR`."""
    import librosa

    a = np.asarray(audio, dtype=np.float32)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[0] < 1:
        raise AudioInputError(f"instrumental has shape {a.shape}", "pass audio as float32 [channels, samples]")
    if not np.all(np.isfinite(a)):
        raise AudioInputError("instrumental contains NaN or infinite samples", "export the instrumental again")
    y = a.mean(axis=0)
    if sample_rate != SR:
        y = librosa.resample(y, orig_sr=sample_rate, target_sr=SR, res_type="soxr_hq")
    return np.ascontiguousarray(y, dtype=np.float32)


def extract(audio: np.ndarray, sample_rate: int) -> Features:
    import librosa

    y = to_mono(audio, sample_rate)
    if len(y) < SR // 2:
        y = np.pad(y, (0, SR // 2 - len(y)))
    S = np.abs(librosa.stft(y, n_fft=2048, hop_length=HOP))
    mel = librosa.feature.melspectrogram(S=S**2, sr=SR, n_mels=96, fmax=8000)
    logmel = librosa.power_to_db(mel, ref=np.max(mel) + 1e-12)
    onset = librosa.onset.onset_strength(S=logmel, sr=SR, hop_length=HOP, aggregate=np.median)
    low_bands = librosa.mel_frequencies(96, fmax=8000) < 200
    onset_low = librosa.onset.onset_strength(S=logmel[low_bands], sr=SR, hop_length=HOP)
    y_h = librosa.effects.harmonic(y, margin=2.0)
    C = np.abs(librosa.cqt(y_h, sr=SR, hop_length=CHROMA_HOP, fmin=librosa.note_to_hz("C1"),
                           n_bins=84, bins_per_octave=12))
    C = _suppress_overtones(C / (C.max() + 1e-9))
    bass = C[:36].copy()     # C1..B3
    bass[24:] *= 0.5         # fade out the upper bass octave
    treble = C[24:]          # C3..B7
    chroma = _fold(treble)
    bass_chroma = _fold(bass)
    rms = librosa.feature.rms(y=y, frame_length=2048, hop_length=CHROMA_HOP)[0]
    rms_db = 20.0 * np.log10(rms + 1e-9)
    mfcc = librosa.feature.mfcc(S=logmel, n_mfcc=13)[1:].astype(np.float32)
    return Features(y, onset.astype(np.float32), onset_low.astype(np.float32), chroma, bass_chroma, rms_db, mfcc)


SHARES = ((19, 0.5), (28, 0.25))


def _suppress_overtones(C: np.ndarray) -> np.ndarray:
    """Take away what the 3rd and 5th harmonics of lower notes put into a bin (a triad's fifth and
    third would otherwise fake a seventh, or turn a major chord into its relative minor)."""
    out = C.copy()
    for interval, share in SHARES:
        out[interval:] -= share * C[:-interval]
    return np.clip(out, 0.0, None)


def _fold(C: np.ndarray) -> np.ndarray:
    out = np.zeros((12, C.shape[1]), dtype=np.float32)
    for i in range(C.shape[0]):
        out[i % 12] += C[i]
    return out


def sync(frames_feat: np.ndarray, hop: int, bounds_s: np.ndarray) -> np.ndarray:
    """Mean of a [D, F] feature over each span between consecutive times in ``bounds_s`` -> [D, N-1]."""
    n = frames_feat.shape[1]
    idx = np.clip(np.round(np.asarray(bounds_s) * SR / hop).astype(int), 0, n)
    out = np.zeros((frames_feat.shape[0], max(0, len(idx) - 1)), dtype=np.float32)
    for j in range(len(idx) - 1):
        a, b = idx[j], max(idx[j + 1], idx[j] + 1)
        seg = frames_feat[:, a:min(b, n)]
        if seg.shape[1]:
            out[:, j] = seg.mean(axis=1)
    return out
