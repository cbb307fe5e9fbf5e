"""Fixtures for integration tests: real sidecar subprocesses on real sockets, always cleaned up."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from host_bridge.core import protocol as P  # noqa: E402
from host_bridge.supervisor import SidecarManager, sidecar_command  # noqa: E402
from tone import melody_midi  # noqa: E402

TONE = f"{HERE / 'tone.py'}:TonePipeline"
LYRICS = "[Verse]\nla la la la\nlo lo lo lo\n[Chorus]\nli li li li\nlu lu lu lu"


def tone_command(*extra: str, misbehave: str | None = None, once_file: Path | None = None) -> list[str]:
    """The command of a sidecar with the tone engine (optionally one built to misbehave)."""
    args = ["--pipeline", TONE, "-v", *extra]
    if misbehave is None:
        return sidecar_command(args)
    return [sys.executable, str(HERE / "misbehaving_sidecar.py"), "--misbehave", misbehave,
            "--once-file", str(once_file), *args]


def job_spec(n_notes: int = 16, seconds: float = 12.0, sr: int = 48000, instrumental: bool = True,
             seed: int = 0, start_sample: int = 0) -> P.JobSpec:
    inst = np.zeros((2, int(seconds * sr)), np.float32) if instrumental else None
    return P.JobSpec(LYRICS, sr, int(seconds * sr), melody_midi=melody_midi(n_notes), instrumental=inst,
                     seed=seed, start_sample=start_sample)


@pytest.fixture
def managers(tmp_path: Path) -> Iterator[Callable[..., SidecarManager]]:
    """make(command) -> a SidecarManager on a private connection file; every sidecar is killed after."""
    made: list[SidecarManager] = []

    def make(command: list[str], name: str = "sidecar.json", **kw: object) -> SidecarManager:
        m = SidecarManager(command, tmp_path / name, start_timeout=30.0, **kw)  # type: ignore[arg-type]
        made.append(m)
        return m

    yield make
    for m in made:
        m.kill(term_timeout=0.5)


@pytest.fixture(autouse=True)
def fast_tone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOPLINE_TONE_RTF", "0.05")
