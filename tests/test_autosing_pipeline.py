"""`topline generate --engine autosing --checkpoint DIR`: the request carries the engine and the
checkpoint over the wire, and the pipeline sings the lyrics over the instrumental with a
checkpoint made by the train entry point (tiny debug model, CPU, seconds)."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from host_bridge.cli import main
from host_bridge.core.errors import ModelError
from host_bridge.core.protocol import JobSpec, decode, encode, job_request, job_spec
from inference.pipeline import GenerateRequest, Pipeline

LYRICS = "[Verse]\nla la la\n"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from inference.engines.autosing.train import main as train

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("autosing")
    d = root / "data" / "song1"
    d.mkdir(parents=True)
    t = np.arange(16000) / 16000
    sf.write(d / "vocal.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)
    sf.write(d / "instrumental.wav", (0.3 * np.sin(2 * np.pi * 110 * t)).astype(np.float32), 16000)
    (d / "lyrics.txt").write_text(LYRICS)
    assert train([str(root / "data"), str(root / "ckpt"), "--debug-codec", "--size", "debug", "--steps", "2",
                  "--finetune-steps", "1", "--batch-size", "1", "--device", "cpu"]) == 0
    return root / "ckpt"


def test_engine_and_checkpoint_cross_the_wire():
    spec = JobSpec(lyrics_text=LYRICS, sample_rate=48000, length_samples=4800, engine="autosing",
                   checkpoint="/models/mine")
    back = job_spec(decode(encode(job_request(spec, job_id="j1"))))
    assert back.engine == "autosing" and back.checkpoint == "/models/mine"
    plain = job_request(JobSpec(lyrics_text=LYRICS, sample_rate=48000, length_samples=4800), job_id="j2")
    assert "engine" not in plain.body and "checkpoint" not in plain.body  # unchanged for older peers


def test_pipeline_sings_with_a_trained_checkpoint_on_the_session_grid(checkpoint):
    sr, n, start = 48000, 48000, 96000
    inst = (0.1 * np.sin(2 * np.pi * 110 * np.arange(n) / sr)).astype(np.float32)[None]
    req = GenerateRequest(lyrics_text=LYRICS, sample_rate=sr, length_samples=n, instrumental=inst,
                          start_sample=start, engine="autosing", checkpoint=str(checkpoint), seed=3)
    take = Pipeline(threads=1).generate(req)
    assert take.engine == "autosing" and take.sample_rate == sr and take.start_sample == start
    assert take.audio.shape == (1, n) and np.all(np.isfinite(take.audio))


def test_autosing_without_a_checkpoint_says_how_to_fix(tmp_path, capsys):
    req = GenerateRequest(lyrics_text=LYRICS, sample_rate=48000, length_samples=4800,
                          instrumental=np.zeros((1, 4800), np.float32), engine="autosing")
    with pytest.raises(ModelError, match="checkpoint"):
        Pipeline(threads=1).generate(req)
    inst = tmp_path / "i.wav"
    sf.write(inst, np.zeros(4800, np.float32), 48000)
    lyr = tmp_path / "l.txt"
    lyr.write_text(LYRICS)
    code = main(["generate", "--instrumental", str(inst), "--lyrics", str(lyr), "--engine", "autosing",
                 "--out", str(tmp_path / "o.wav")])
    assert code == 2 and "--checkpoint" in capsys.readouterr().err
    code = main(["generate", "--instrumental", str(inst), "--lyrics", str(lyr), "--engine", "autosing",
                 "--checkpoint", str(tmp_path / "nope"), "--out", str(tmp_path / "o.wav")])
    assert code == 2 and "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "o.wav").exists()
