"""Shared-memory lanes: slots are reused, lent until released, bounded, and refused when not agreed."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from host_bridge.core import protocol as P
from host_bridge.core.shm import ShmArena, ShmMaps, shm_available, sweep, sweep_dead

pytestmark = pytest.mark.skipif(not shm_available(), reason="no /dev/shm")


def test_audio_through_shared_memory_round_trips_without_frames() -> None:
    arena, maps = ShmArena(threshold=1024), ShmMaps()
    try:
        a = np.random.default_rng(0).standard_normal((2, 48000)).astype(np.float32)
        frames = P.encode(P.Message("chunk", re="j", buffers={"audio": P.Audio(a, 48000)}), arena)
        assert len(frames) == 1, "the audio should not travel as a frame"
        got = P.decode(frames, shm=maps).buffers["audio"]
        assert isinstance(got, P.Audio) and got.shm is not None and not got.array.flags.writeable
        np.testing.assert_array_equal(got.array, a)
        assert P.shm_slots(P.decode(frames, shm=maps)) == [got.shm]
        mode = os.stat(Path("/dev/shm") / got.shm).st_mode
        assert stat.S_IMODE(mode) == 0o600
    finally:
        arena.close()


def test_a_slot_is_lent_until_released_then_reused() -> None:
    arena = ShmArena(threshold=16)
    try:
        a = np.ones(1000, np.float32)
        s1 = arena.put(a)
        s2 = arena.put(a)
        assert s1 and s2 and s1 != s2 and set(arena.lent()) == {s1, s2}
        arena.release([s1])  # type: ignore[list-item]
        assert arena.put(a) == s1
    finally:
        arena.close()


def test_released_slots_beyond_the_free_budget_are_unmapped() -> None:
    """Regression (issue 19): an arena kept every slot it ever made mapped, up to 1 GB, so after a
    3-minute 96 kHz take the sidecar's resident memory kept that take's stems (soak: 486 ->
    662 MB over 40 takes). Free slots beyond ``keep_free_bytes`` now go, the smallest stay."""
    arena = ShmArena(threshold=16, keep_free_bytes=20_000)
    try:
        small = [arena.put(np.ones(1000, np.float32)) for _ in range(3)]  # 4 kB each
        big = arena.put(np.ones(50_000, np.float32))  # 200 kB: a long take's stem
        assert all(small) and big and arena.total == 3 * 4000 + 200_000
        arena.release([big])  # type: ignore[list-item]
        assert big not in {n for n in arena.lent()} and arena.total == 12_000
        assert not (arena.directory / big).exists()
        arena.release(small)  # type: ignore[arg-type]
        assert arena.total == 12_000 and arena.put(np.ones(1000, np.float32)) in small  # kept for reuse
    finally:
        arena.close()


def test_small_buffers_and_a_full_arena_fall_back_to_frames() -> None:
    arena = ShmArena(threshold=4096, max_bytes=10_000)
    try:
        assert arena.put(np.ones(10, np.float32)) is None
        assert arena.put(np.ones(2000, np.float32)) is not None
        assert arena.put(np.ones(2000, np.float32)) is None  # 16 kB would pass the 10 kB budget
        frames = P.encode(P.Message("chunk", re="j", buffers={"audio": P.Audio(np.ones((1, 2000), np.float32), 8000)}),
                          arena)
        assert len(frames) == 2
    finally:
        arena.close()


def test_a_slot_never_released_is_taken_back_after_its_lease() -> None:
    arena = ShmArena(threshold=16, lease_s=0.0)
    try:
        s1 = arena.put(np.ones(100, np.float32))
        assert arena.put(np.ones(100, np.float32)) == s1
    finally:
        arena.close()


def test_shared_memory_is_refused_unless_agreed_and_names_are_checked() -> None:
    arena, maps = ShmArena(threshold=16), ShmMaps()
    try:
        frames = P.encode(P.Message("chunk", re="j", buffers={"audio": P.Audio(np.ones((1, 100), np.float32), 8000)}),
                          arena)
        with pytest.raises(P.ProtocolError, match="did not agree"):
            P.decode(frames)
        for bad in ("../etc/passwd", "topline-1-x", "other-1-1"):
            with pytest.raises(ValueError):
                maps.view(bad, "float32", [1])
        with pytest.raises(ValueError, match="holds"):
            maps.view(arena.lent()[0], "float32", [1, 1000])
    finally:
        arena.close()


def test_slots_of_a_process_that_exits_without_closing_are_removed() -> None:
    import subprocess
    import sys

    code = ("import numpy as np; from host_bridge.core.shm import ShmArena; a = ShmArena(threshold=16); "
            "print(a.put(np.ones(100, np.float32)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[1])
    name = out.stdout.strip()
    assert name.startswith("topline-") and not (Path("/dev/shm") / name).exists()


def test_sweep_removes_a_dead_process_slots(tmp_path: Path) -> None:
    (tmp_path / "topline-999999-0").write_bytes(b"x")
    (tmp_path / "topline-999999-1").write_bytes(b"x")
    (tmp_path / "topline-1-0").write_bytes(b"x")
    assert sweep(999999, tmp_path) == 2 and [p.name for p in tmp_path.iterdir()] == ["topline-1-0"]
    (tmp_path / "topline-999998-0").write_bytes(b"x")
    (tmp_path / f"topline-{os.getpid()}-77").write_bytes(b"x")
    assert sweep_dead(tmp_path) == 1  # pid 1 and this process live on
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["topline-1-0", f"topline-{os.getpid()}-77"])
