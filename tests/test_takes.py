"""Take delivery: BWF time reference, numbering, atomicity, concurrency."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from host_bridge.core.model import Note, Score, Take, TempoMap
from host_bridge.takes import TAKES_DIRNAME, TakeFolder, bwf_bytes, read_time_reference, takes_folder_for


def _take(start: int = 96000, sr: int = 48000, channels: int = 1, n: int = 4800, seed: int = 0) -> Take:
    rng = np.random.default_rng(seed)
    audio = (0.1 * rng.standard_normal((channels, n))).astype(np.float32)
    score = Score((Note(4.0, 1.0, 60.0, "la", None, 0, 0),), TempoMap.constant(120), ("la",))
    return Take(audio, sr, start, score, "alpha", "kokoro", seed, {"render": 1.0})


@pytest.mark.parametrize("sr", [44100, 48000, 96000])
@pytest.mark.parametrize("channels", [1, 2])
def test_wav_time_reference_is_the_take_position(tmp_path: Path, sr: int, channels: int) -> None:
    take = _take(start=3 * sr + 17, sr=sr, channels=channels)
    d = TakeFolder(tmp_path, subtype="FLOAT").deliver(take, "la", "job1")
    assert read_time_reference(d.wav) == 3 * sr + 17
    data, got_sr = sf.read(d.wav, dtype="float32", always_2d=True)
    assert got_sr == sr and data.shape == (take.audio.shape[1], channels)
    np.testing.assert_array_equal(data.T, take.audio)


def test_libsndfile_reads_a_wav_with_our_bext_chunk() -> None:
    import io

    wav = bwf_bytes(np.zeros((2, 10), np.float32), 48000, 5, subtype="PCM_24")
    info = sf.info(io.BytesIO(wav))
    assert info.frames == 10 and info.channels == 2 and info.subtype == "PCM_24"


def test_time_reference_beyond_32_bits_round_trips(tmp_path: Path) -> None:
    p = tmp_path / "x.wav"
    p.write_bytes(bwf_bytes(np.zeros((1, 10), np.float32), 48000, (1 << 33) + 5))
    assert read_time_reference(p) == (1 << 33) + 5


def test_takes_are_numbered_and_never_overwritten(tmp_path: Path) -> None:
    folder = TakeFolder(tmp_path / TAKES_DIRNAME)
    (tmp_path / TAKES_DIRNAME).mkdir()
    (tmp_path / TAKES_DIRNAME / "take-0002.wav").write_bytes(b"the musician's own file")
    got = [folder.deliver(_take(seed=i), "la la", f"j{i}") for i in range(3)]
    assert [d.number for d in got] == [3, 4, 5]
    assert (tmp_path / TAKES_DIRNAME / "take-0002.wav").read_bytes() == b"the musician's own file"
    md = json.loads(got[0].json.read_text())
    assert md["take"] == 3 and md["job_id"] == "j0" and md["seed"] == 0 and md["artist"] == "alpha"
    assert md["engine"] == "kokoro" and md["bwf_time_reference"] == 96000 and md["start_seconds"] == 2.0
    assert md["tempo_map"]["tempos"] == [[0.0, 120.0]] and len(md["lyrics_sha256"]) == 64
    assert md["timings"] == {"render": 1.0} and md["wav"] == "take-0003.wav" and md["midi"] == "take-0003.mid"
    assert got[0].midi is not None and got[0].midi.read_bytes()[:4] == b"MThd"
    assert not [p for p in (tmp_path / TAKES_DIRNAME).iterdir() if p.name.startswith(".")], "temp files left"


def test_two_writers_into_one_folder_never_share_a_number(tmp_path: Path) -> None:
    numbers: list[int] = []

    def writer(seed: int) -> None:
        f = TakeFolder(tmp_path)
        for i in range(8):
            numbers.append(f.deliver(_take(seed=seed * 100 + i), "la").number)

    threads = [threading.Thread(target=writer, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(numbers) == list(range(1, 25))
    assert len(list(tmp_path.glob("take-*.wav"))) == 24 and len(list(tmp_path.glob("take-*.json"))) == 24


def test_takes_folder_sits_next_to_the_session(tmp_path: Path) -> None:
    session = tmp_path / "song.ardour"
    session.write_text("<Session/>")
    assert takes_folder_for(session) == tmp_path / TAKES_DIRNAME
    assert takes_folder_for(tmp_path) == tmp_path / TAKES_DIRNAME
