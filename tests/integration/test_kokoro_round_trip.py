"""One full round trip with the real sidecar: real Pipeline, real text front end, the Kokoro engine."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from host_bridge.bridge import Bridge
from host_bridge.jobfiles import spec_from_files
from host_bridge.supervisor import Heartbeat, sidecar_command
from host_bridge.takes import TakeFolder, read_time_reference
from host_bridge.core.artists import DEFAULT_ARTIST

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "demo"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("inference.engines.kokoro") is None or not DEMO.is_dir(),
                       reason="the Kokoro engine or the demo song is not in this checkout"),
]


def test_generate_round_trip_with_kokoro_through_the_sidecar(managers: Any, tmp_path: Path) -> None:
    from inference.engines.kokoro.model import FRAME_S
    from inference.engines.kokoro.plan import PHRASE_PREROLL_MAX_S

    # bars 2-3 of the demo song: the first line, enough to sing a phrase on the grid
    spec = spec_from_files(DEMO / "instrumental.ogg", DEMO / "lyrics.txt", DEMO / "melody.mid", bars=(2, 3),
                           start_sample=44100)
    m = managers(sidecar_command(["--threads", "2"]))
    m.start_timeout = 120
    # generous heartbeat: model loading on 2 shared cores must not look like a hang
    b = Bridge(m, Heartbeat(interval=0.25, time_to_dead=5.0))
    hello = b.connect()
    assert "kokoro" in hello["engines"]
    chunks: list[tuple[np.ndarray, int]] = []
    stages: list[str] = []
    take = b.run(spec, timeout=300, on_progress=lambda s, f: stages.append(s),
                 on_chunk=lambda a, at: chunks.append((a, at)))
    assert take.engine == "kokoro" and take.artist == DEFAULT_ARTIST and take.start_sample == 44100
    assert take.audio.shape == (1, spec.length_samples) and take.sample_rate == 44100
    assert chunks and "render" in stages and b.restarts == 0
    sung = take.audio[0]
    assert float(np.sqrt(np.mean(sung ** 2))) > 1e-3, "the take is silent"
    # the voice sits in bars 2-3 (2.5 s - 7.5 s at 96 BPM, stem sample 0 = session 1 s): the first
    # consonant pre-rolled at most PHRASE_PREROLL_MAX_S before the first note, give or take one
    # decoder frame of the vocoder's window (CI read 2.198 s: 300 ms + 2 ms)
    active = np.flatnonzero(np.abs(sung) > 0.01)
    first, last = active[0] / 44100 + 1.0, active[-1] / 44100 + 1.0
    assert first > 2.5 - PHRASE_PREROLL_MAX_S - FRAME_S and last < 8.5, (first, last)
    d = TakeFolder(tmp_path / "takes").deliver(take, spec.lyrics_text, "job")
    assert read_time_reference(d.wav) == 44100 and d.midi is not None
    # the take's JSON says what was done to the register, per phrase, and the language sung
    import json

    meta = json.loads(d.json.read_text())
    reg = meta["register"]
    assert reg["language"] == "en-us" and reg["phrases"]
    for ph in reg["phrases"]:
        assert {"octave_shift", "pitch_shift_semitones", "notes_shifted", "render_range"} <= set(ph)
    b.close()
