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


@pytest.fixture(scope="session")
def _cli_sidecar_file(tmp_path_factory):
    """The connection file of the test session's CLI sidecar; the sidecar is stopped at the end."""
    from host_bridge.supervisor import SidecarManager

    cf = tmp_path_factory.mktemp("sidecar") / "sidecar.json"
    yield cf
    manager = SidecarManager(connection_file=cf)
    client = manager.attach()
    if client is not None:
        manager.shutdown(client)
        client.close()


@pytest.fixture(scope="module")
def cli_sidecar(_cli_sidecar_file):
    """For the module's tests, CLI commands that run on the sidecar (compose, analyze, audition,
    artist create) use the test session's own sidecar, not the user's: the first command starts
    it, later ones (in any module that asks for this) reuse it warm (librosa's JIT compiled once)."""
    import os

    from host_bridge.core.connection import ENV_CONNECTION_FILE

    old = os.environ.get(ENV_CONNECTION_FILE)
    os.environ[ENV_CONNECTION_FILE] = str(_cli_sidecar_file)
    yield _cli_sidecar_file
    if old is None:
        os.environ.pop(ENV_CONNECTION_FILE, None)
    else:
        os.environ[ENV_CONNECTION_FILE] = old
