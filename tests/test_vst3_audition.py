"""One-click audition in the VST3 (hosted in pedalboard, a real sidecar on the tone engine): the
Audition parameter asks what the editor's Audition button asks (ToplineProcessor::requestAudition).
Three artists sing the captured section; each clip streams in as it is ready, is kept as a file
with its BWF time reference, and plays through the plugin on the session samples it was sung for.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import soundfile as sf

from test_vst3 import (LYRICS, _bext_time_reference, _melody, load, noise, rt_clean, set_state,  # noqa: F401 (fixtures)
                       state, tone_sidecar, vst3_path, wait_for)

CAST = ["alpha", "kumo", "dusk"]


def expected_vocal(wav: Path, start: int, length: int) -> np.ndarray:
    clip, _ = sf.read(str(wav), dtype="float32", always_2d=True)
    out = np.zeros(length, dtype=np.float32)
    n = min(length - start, clip.shape[0])
    out[start:start + n] = clip[:n, 0]
    return out


def test_audition_clips_stream_in_and_play_on_the_captured_samples(load: Callable[[], Any], tmp_path: Path,
                                                                    tone_sidecar: Callable[[], Any]) -> None:
    sr, seconds = 48000, 12.0
    tone_sidecar()
    p = load()
    set_state(p, lyrics=LYRICS, melody_path=str(_melody(tmp_path / "guide.mid")), takes_dir=str(tmp_path / "takes"),
              connection_file=str(tmp_path / "sidecar.json"), fallback_bpm=120.0, seed=3, clock="free",
              audition_artists=CAST)
    p.capture = True
    x = noise(sr, seconds) * np.float32(0.1)
    p.process(x, sr, buffer_size=512)

    p.audition = True
    d = wait_for(p, lambda d: d["status"].startswith("Audition ready") or d["error"] != "", 120.0, "the audition")
    assert d["error"] == "" and not d["job_running"] and not d["audition_running"], d
    clips = d["clips"]
    assert sorted(c["artist"] for c in clips) == sorted(CAST), clips
    for c in clips:  # each clip a file with its session position, the capture's section
        wav = Path(c["wav"])
        assert wav.parent == tmp_path / "takes" / "auditions" and wav.with_suffix(".json").exists()
        assert _bext_time_reference(wav) == c["start_sample"] and c["sample_rate"] == sr
        assert 0 <= c["start_sample"] < x.shape[1] and sf.info(str(wav)).frames > sr
    assert not (tmp_path / "takes" / "take-0001.wav").exists(), "an audition is not a take"
    assert state(p)["take"] in (None, {}, "") and d["clip_playing"] == 0

    # the first clip that came plays at once, on the samples it was sung for
    p.monitor = "Vocal"
    v = p.process(np.zeros_like(x), sr, buffer_size=512)
    want = expected_vocal(Path(clips[0]["wav"]), clips[0]["start_sample"], x.shape[1])
    assert np.sqrt(np.mean(want ** 2)) > 1e-3
    assert np.array_equal(v[0], want) and np.array_equal(v[1], want)
    assert rt_clean(p)
