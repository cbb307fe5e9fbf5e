"""Audio files in and out, with the checks a musician's files need.

Convention everywhere: float32 numpy arrays shaped [channels, samples], the sample rate passed
beside them. Reading validates everything a model would choke on (and says how to fix it);
writing is atomic (a temporary file in the target folder, then a rename), so a failed or
cancelled job never leaves a half-written stem behind.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from host_bridge.core.errors import AudioInputError
from host_bridge.core.fileio import atomic_write

MIN_RATE = 22_050
MAX_RATE = 96_000
MAX_SECONDS = 20 * 60
MAX_CHANNELS = 2


def check_sample_rate(sample_rate: int, source: str) -> None:
    if not isinstance(sample_rate, (int, np.integer)) or not (MIN_RATE <= int(sample_rate) <= MAX_RATE):
        raise AudioInputError(
            f"{source}: sample rate {sample_rate} Hz is not supported",
            f"use a rate between {MIN_RATE} and {MAX_RATE} Hz (44100 or 48000 are best): "
            f"resample the file or set the session to 48 kHz")


def check_audio(audio: np.ndarray, sample_rate: int, source: str) -> np.ndarray:
    """Validate an in-memory buffer; returns it as contiguous float32 [C, T]."""
    check_sample_rate(sample_rate, source)
    a = np.asarray(audio)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise AudioInputError(f"{source}: audio has shape {a.shape}", "send audio shaped [channels, samples]")
    if a.shape[0] > MAX_CHANNELS:
        raise AudioInputError(f"{source}: {a.shape[0]} channels", "bounce the instrumental to mono or stereo")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise AudioInputError(f"{source}: the audio is 0 samples long", "export the instrumental again, with sound in it")
    if a.shape[1] > MAX_SECONDS * sample_rate:
        raise AudioInputError(f"{source}: {a.shape[1] / sample_rate / 60:.1f} minutes is too long",
                              f"export at most {MAX_SECONDS // 60} minutes (one song)")
    if not np.issubdtype(a.dtype, np.floating):
        raise AudioInputError(f"{source}: audio dtype {a.dtype}", "send float32 audio in [-1, 1]")
    a = np.ascontiguousarray(a, dtype=np.float32)
    if not np.all(np.isfinite(a)):
        bad = int(np.count_nonzero(~np.isfinite(a)))
        raise AudioInputError(f"{source}: {bad} samples are NaN or infinite",
                              "re-export the instrumental; a plugin in the chain is producing invalid samples")
    return a


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Read an audio file. Returns (float32 [C, T], sample_rate)."""
    p = Path(path)
    if not p.is_file():
        raise AudioInputError(f"audio file {p} does not exist", "check the path to the instrumental")
    if p.stat().st_size == 0:
        raise AudioInputError(f"audio file {p} is empty (0 bytes)", "export the instrumental again")
    try:
        info = sf.info(str(p))
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
        raise AudioInputError(f"cannot read {p} as audio: {e}",
                              "give a WAV, FLAC, AIFF or OGG file (export the bus from your DAW)") from e
    name = str(p)
    check_sample_rate(info.samplerate, name)
    if info.channels > MAX_CHANNELS:
        raise AudioInputError(f"{name}: {info.channels} channels", "bounce the instrumental to mono or stereo")
    if info.frames == 0:
        raise AudioInputError(f"{name} holds 0 samples of audio", "export the instrumental again, with sound in it")
    if info.frames > MAX_SECONDS * info.samplerate:
        raise AudioInputError(f"{name}: {info.frames / info.samplerate / 60:.1f} minutes is too long",
                              f"export at most {MAX_SECONDS // 60} minutes (one song)")
    try:
        data, sr = sf.read(str(p), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AudioInputError(f"{name} is damaged: {e}", "export the instrumental again") from e
    return check_audio(data.T, sr, name), int(sr)


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int, subtype: str = "PCM_24") -> Path:
    """Write float32 [C, T] atomically as WAV (``PCM_24`` or ``FLOAT``). Returns the path."""
    a = np.asarray(audio, np.float32)
    assert a.ndim == 2, "write_wav takes [channels, samples]"
    return atomic_write(path, lambda tmp: sf.write(tmp, a.T, sample_rate, subtype=subtype, format="WAV"), mode=0o644)
