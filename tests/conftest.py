from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture
def sine():
    def make(freq: float = 220.0, seconds: float = 1.0, sr: int = 48000, channels: int = 1) -> np.ndarray:
        t = np.arange(int(seconds * sr)) / sr
        x = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
        return np.repeat(x[None], channels, axis=0)
    return make
