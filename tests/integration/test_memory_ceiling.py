"""The sidecar reports its resident memory in ``status``, and the bridge restarts it above a
configurable ceiling only between jobs (real tone sidecars on real sockets)."""
from __future__ import annotations

import logging
from typing import Callable

import numpy as np
import pytest
from conftest import job_spec, tone_command

from host_bridge.bridge import Bridge
from host_bridge.core.connection import rss_bytes
from host_bridge.supervisor import DEFAULT_MAX_RSS_MB, Heartbeat, MemoryCeiling, SidecarManager

Managers = Callable[..., SidecarManager]


def _bridge(m: SidecarManager, ceiling_mb: float | None) -> Bridge:
    ceiling = MemoryCeiling(None if ceiling_mb is None else int(ceiling_mb * 2**20))
    return Bridge(m, Heartbeat(interval=0.2, time_to_dead=1.5), accept_timeout=1.0, memory_ceiling=ceiling)


def test_status_reports_the_sidecars_resident_memory(managers: Managers) -> None:
    m = managers(tone_command())
    b = _bridge(m, None)
    b.connect()
    assert b.client is not None and m.proc is not None
    reported = b.client.status()["rss_bytes"]
    seen = rss_bytes(m.proc.pid)  # what the kernel says of that process, read from here
    assert isinstance(reported, int) and seen is not None
    assert 20 * 2**20 < reported < 2 * 2**30
    assert abs(reported - seen) < 0.2 * seen
    b.close()


def test_above_the_ceiling_the_sidecar_is_restarted_between_jobs_never_mid_job(
        managers: Managers, caplog: pytest.LogCaptureFixture) -> None:
    """Two jobs in flight on a sidecar far above a 1 MB ceiling: both finish on it, delivered
    once, unsent again; then it is restarted (logged), and the next job runs on the new one."""
    m = managers(tone_command())
    b = _bridge(m, 1.0)
    b.connect()
    assert m.proc is not None
    first_pid = m.proc.pid
    jobs = [b.submit(job_spec(seed=s)) for s in (1, 2)]
    with caplog.at_level(logging.WARNING, logger="host_bridge.bridge"):
        for j in jobs:
            b.wait(j.id, 30)
    assert all(j.state == "done" and j.take is not None and j.submissions == 1 for j in jobs)
    assert not np.array_equal(jobs[0].take.audio, jobs[1].take.audio)  # type: ignore[union-attr]
    assert b.memory_restarts == 1 and b.restarts == 0
    assert m.proc.pid != first_pid and m.proc.poll() is None
    assert any("above the ceiling of 1 MB" in r.getMessage() for r in caplog.records)
    take = b.run(job_spec(seed=3), timeout=30)
    assert take.audio.shape[1] == job_spec().length_samples
    assert b.memory_restarts == 2  # still far above 1 MB after that job
    b.close()


def test_below_the_ceiling_the_sidecar_is_kept(managers: Managers, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOPLINE_SIDECAR_MAX_RSS_MB", raising=False)
    assert MemoryCeiling.from_env().limit_bytes == int(DEFAULT_MAX_RSS_MB * 2**20)
    monkeypatch.setenv("TOPLINE_SIDECAR_MAX_RSS_MB", "off")
    assert MemoryCeiling.from_env().limit_bytes is None
    m = managers(tone_command())
    b = _bridge(m, DEFAULT_MAX_RSS_MB)
    b.connect()
    assert m.proc is not None
    pid = m.proc.pid
    for s in range(3):
        b.run(job_spec(seed=s), timeout=30)
    assert b.memory_restarts == 0 and m.proc.pid == pid
    b.close()
