"""Final events kept for resubmission, spooled to disk (inference/server/finals.py)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from host_bridge.core import protocol as P
from host_bridge.core.connection import rss_bytes
from inference.server.finals import PREFIX, FinalSpool, sweep_dead


def _final(i: int, samples: int, value: float = 0.25) -> P.Message:
    audio = np.full((2, samples), value, np.float32)
    return P.Message("done", body={"i": i, "take": {"artist": "heart"}}, re=f"job{i}",
                     buffers={"audio": P.Audio(audio, 48000), "midi": b"MThd\x00"})


def test_a_kept_final_reads_back_as_it_was_sent(tmp_path: Path) -> None:
    spool = FinalSpool(directory=tmp_path)
    msg = _final(1, 1000, 0.5)
    spool.put("job1", msg)
    back = spool.get("job1")
    assert back is not None and back.type == "done" and back.body == msg.body and back.re == "job1"
    audio = back.buffers["audio"]
    assert isinstance(audio, P.Audio) and audio.sample_rate == 48000
    np.testing.assert_array_equal(audio.array, np.full((2, 1000), 0.5, np.float32))
    assert bytes(back.buffers["midi"]) == b"MThd\x00"  # type: ignore[arg-type]
    assert spool.get("nobody") is None
    spool.close()
    assert not spool.folder.exists()


def test_the_spool_keeps_the_latest_within_its_count_and_bytes(tmp_path: Path) -> None:
    spool = FinalSpool(keep=4, max_bytes=4 << 20, directory=tmp_path)
    for i in range(6):
        spool.put(f"small{i}", _final(i, 1000))
    assert [k for k in ("small0", "small1", "small2", "small3", "small4", "small5") if spool.get(k)] == \
        ["small2", "small3", "small4", "small5"]
    for i in range(3):  # 1.6 MB each: two fit in 4 MB, a third does not
        spool.put(f"big{i}", _final(i, 200_000))
    assert [k for k in ("small5", "big0", "big1", "big2") if spool.get(k)] == ["big1", "big2"]
    spool.put("huge", _final(9, 1_000_000))  # over the bound alone: the latest is always kept
    assert len(spool) == 1 and spool.get("huge") is not None
    assert len(list(spool.folder.iterdir())) == 1  # dropped finals leave no file behind
    spool.put("huge", _final(10, 10))  # a job's final replaced
    back = spool.get("huge")
    assert back is not None and back.body["i"] == 10 and len(list(spool.folder.iterdir())) == 1
    spool.close()


def test_a_damaged_final_is_dropped_not_served(tmp_path: Path) -> None:
    spool = FinalSpool(directory=tmp_path)
    spool.put("job1", _final(1, 5000))
    (f,) = spool.folder.iterdir()
    f.write_bytes(f.read_bytes()[:-100])  # truncated
    assert spool.get("job1") is None and len(spool) == 0 and not f.exists()
    spool.close()


def test_spool_folders_of_dead_sidecars_are_swept(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = tmp_path / f"{PREFIX}{int(dead.stdout)}-abc"
    gone.mkdir()
    (gone / "00000001.frames").write_bytes(b"x")
    mine = FinalSpool(directory=tmp_path)  # a sidecar's spool sweeps as it starts
    assert not gone.exists() and mine.folder.exists()
    gone.mkdir()
    assert sweep_dead(tmp_path) == 1 and not gone.exists() and mine.folder.exists()  # its own stays
    mine.close()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")
def test_kept_finals_do_not_stay_resident(tmp_path: Path) -> None:
    """Regression (issue 19): a warm sidecar kept its last finished takes in memory to answer a
    resubmission: RSS grew with the length of the takes sung (a 3-minute 96 kHz take ~130 MB),
    479 -> 712 MB over a 40-take soak. Four 64 MB finals now cost disk, not memory."""
    spool = FinalSpool(directory=tmp_path)
    before = rss_bytes()
    for i in range(4):
        msg = _final(i, 8 << 20)  # 2 x 8 Mi samples float32 = 64 MB, every page written
        spool.put(f"job{i}", msg)
        del msg
    after = rss_bytes()
    assert before is not None and after is not None
    assert after - before < 40 << 20, f"RSS grew {(after - before) >> 20} MB"
    assert sum(p.stat().st_size for p in spool.folder.iterdir()) >= 4 * (64 << 20)
    assert os.stat(spool.folder).st_mode & 0o077 == 0  # private to the sidecar's user
    spool.close()
