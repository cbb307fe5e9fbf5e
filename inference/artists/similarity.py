"""Speaker similarity that runs offline: Resemblyzer's GE2E voice encoder (its weights ship in the
wheel). Speech-trained, so on singing it is a proxy: good at "which of these voices", not a
perceptual score.

Install: ``pip install 'topline[artists]'`` then ``pip install --no-deps resemblyzer==0.1.4``
(scripts/setup.sh does both; Resemblyzer's own requirement on ``webrtcvad`` would build from
source, ``webrtcvad-wheels`` provides the same module prebuilt).
"""
from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np

from host_bridge.core.errors import ModelError

from .reference import mono_at

log = logging.getLogger(__name__)

EMBED_SR = 16000


class VoiceSimilarity:
    """Embeds audio into Resemblyzer's 256-d unit speaker space (loaded on first use)."""

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self._enc: Any = None
        self._lock = threading.Lock()

    def _encoder(self) -> Any:
        with self._lock:
            if self._enc is None:
                try:
                    from resemblyzer import VoiceEncoder
                except ImportError as e:
                    raise ModelError("the speaker-similarity model (Resemblyzer) is not installed",
                                     "pip install 'topline[artists]' && pip install --no-deps resemblyzer==0.1.4 "
                                     "(or run scripts/setup.sh --dev)") from e
                self._enc = VoiceEncoder(self.device, verbose=False)
            return self._enc

    def embed(self, audio: np.ndarray, sample_rate: int, trim: bool = False) -> np.ndarray:
        """float32 [256], unit length, of ``audio`` (float [T] or [C, T]). ``trim`` drops
        silences with Resemblyzer's VAD first (for recordings with long gaps)."""
        x = mono_at(audio, sample_rate, EMBED_SR)
        peak = float(np.max(np.abs(x))) if x.size else 0.0
        if peak > 0:
            x = x / peak * 0.5
        if trim:
            from resemblyzer import preprocess_wav

            x = preprocess_wav(x, EMBED_SR)
        return np.asarray(self._encoder().embed_utterance(x), np.float32)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """1 - cosine similarity (0 = same voice)."""
    return 1.0 - cosine(a, b)
