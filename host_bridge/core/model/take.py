"""Take: one sung result, ready to place in the session."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from host_bridge.core.model.score import Score


@dataclass
class Take:
    audio: np.ndarray
    """Stem, float32, shape [channels, samples], at ``sample_rate``."""
    sample_rate: int
    start_sample: int
    """Where sample 0 of ``audio`` sits in the session (at ``sample_rate``)."""
    score: Score
    """The score actually sung (after register placement)."""
    artist: str
    engine: str
    seed: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    """Stage name -> seconds spent."""
    register: dict[str, Any] = field(default_factory=dict)
    """What was done to keep the melody in the artist's range (per-phrase octave shifts, pitch shift)."""
    wet: np.ndarray | None = field(default=None, compare=False, repr=False)
    """The artist's reverb/delay sends, float32 [channels, samples] like ``audio``, for a separate
    track; None when the artist's chain has no sends."""

    def __post_init__(self) -> None:
        assert self.audio.dtype == np.float32 and self.audio.ndim == 2, "take audio must be float32 [C, T]"
        assert self.wet is None or self.wet.shape == self.audio.shape, "wet stem must match the take's shape"

    @property
    def duration_s(self) -> float:
        return self.audio.shape[1] / self.sample_rate

    def metadata(self) -> dict[str, Any]:
        """Everything but the audio, JSON-ready."""
        return {
            "sample_rate": self.sample_rate,
            "channels": int(self.audio.shape[0]),
            "samples": int(self.audio.shape[1]),
            "start_sample": self.start_sample,
            "artist": self.artist,
            "engine": self.engine,
            "seed": self.seed,
            "timings": dict(self.timings),
            "register": self.register,
            "tempo_map": self.score.tempo_map.to_dict(),
            "score": self.score.to_dict(),
        }
