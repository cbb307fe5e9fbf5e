"""The cluster gateway's job queue (issue 21): priorities, round-robin across bridges, per-user
limits, several jobs running at once. Pure Python: no Ray needed."""
from __future__ import annotations

import numpy as np
import pytest

from host_bridge.core.protocol import JobSpec
from inference.serve.fair import FairQueue
from inference.server.jobs import Job, QueueFull


def _spec(nbytes: int = 0) -> JobSpec:
    inst = np.zeros((1, nbytes // 4), np.float32) if nbytes else None
    return JobSpec("la", 48000, 48000, instrumental=inst)


def _submit(q: FairQueue, user: bytes, n: int, prio: int = 5, tag: str = "") -> list[str]:
    ids = [f"{user.decode()}{tag}{i}" for i in range(n)]
    for jid in ids:
        q.submit(jid, "generate", _spec(), user, prio)
    return ids


def _drain(q: FairQueue) -> list[str]:
    out = []
    while (job := q.take(0.0)) is not None:
        out.append(job.id)
        q.finish(job, "done")
    return out


def test_one_users_many_jobs_alternate_with_others_single_jobs() -> None:
    q = FairQueue()
    _submit(q, b"a", 5)
    _submit(q, b"b", 1)
    _submit(q, b"c", 2)
    predicted = q.snapshot()["queued"]
    assert _drain(q) == ["a0", "b0", "c0", "a1", "c1", "a2", "a3", "a4"] == predicted


def test_a_user_arriving_late_goes_before_the_busy_users_next_job() -> None:
    q = FairQueue()
    _submit(q, b"a", 10)
    running = [q.take(0.0), q.take(0.0)]  # two replicas busy with a's first two
    assert [j.id for j in running if j] == ["a0", "a1"]
    _submit(q, b"b", 1)
    nxt = q.take(0.0)
    assert nxt is not None and nxt.id == "b0"


def test_auditions_go_before_full_takes_whoever_sent_them() -> None:
    q = FairQueue()
    _submit(q, b"a", 2)
    _submit(q, b"b", 1)
    q.take(0.0)  # a0 runs: b is now the least recently served
    _submit(q, b"a", 1, prio=0, tag="aud")
    assert _drain(q) == ["aaud0", "b0", "a1"]


def test_per_user_limit_counts_waiting_and_running_jobs() -> None:
    q = FairQueue(max_per_user=3)
    _submit(q, b"a", 2)
    job = q.take(0.0)
    assert job is not None
    _submit(q, b"a", 1, tag="x")
    with pytest.raises(QueueFull, match="limit per user is 3"):
        q.submit("a-over", "generate", _spec(), b"a", 5)
    q.submit("b0", "generate", _spec(), b"b", 5)  # another user is not limited by a
    q.finish(job, "done")
    q.submit("a-after", "generate", _spec(), b"a", 5)  # a finished job frees a place


def test_the_global_job_and_byte_limits_still_hold_and_are_freed_by_take() -> None:
    q = FairQueue(max_jobs=2, max_bytes=1000)
    q.submit("a0", "generate", _spec(400), b"a", 5)
    q.submit("b0", "generate", _spec(400), b"b", 5)
    with pytest.raises(QueueFull, match="2 jobs are waiting"):
        q.submit("c0", "generate", _spec(), b"c", 5)
    assert q.take(0.0) is not None and q.queued_bytes == 400
    q.submit("c0", "generate", _spec(400), b"c", 5)
    with pytest.raises(QueueFull, match="jobs are waiting"):
        q.submit("d0", "generate", _spec(400), b"d", 5)


def test_several_jobs_run_at_once_and_status_shows_each_bridge_only_its_own() -> None:
    q = FairQueue()
    _submit(q, b"a", 2)
    _submit(q, b"b", 2)
    a0, b0 = q.take(0.0), q.take(0.0)
    assert a0 is not None and b0 is not None and (a0.id, b0.id) == ("a0", "b0")
    mine = q.snapshot(b"a")
    assert mine["running"] == "a0" and mine["running_jobs"] == ["a0"] and mine["queued"] == ["a1"]
    assert mine["running_total"] == 2 and mine["queued_total"] == 2 and mine["users"] == 2
    assert q.position(q.get("b1")) == 1 and q.position(q.get("a1")) == 0  # type: ignore[arg-type]


def test_cancel_drops_a_queued_job_and_tells_the_dispatcher_of_a_running_one() -> None:
    q = FairQueue()
    told: list[str] = []
    q.on_cancel = lambda job: told.append(job.id)
    q.submit("a0", "generate", _spec(400), b"a", 5)
    q.submit("a1", "generate", _spec(400), b"a", 5)
    running = q.take(0.0)
    assert running is not None
    queued = q.cancel("a1", b"a")
    assert queued is not None and queued.state == "cancelled" and told == []
    assert q.snapshot()["queued_total"] == 0 and q.queued_bytes == 0
    q.cancel("a0", b"a")
    assert told == ["a0"] and running.cancel.is_set()
    assert not q.finish(running, "done")  # the cancelled job's late result is dropped
    assert q.take(0.0) is None


def test_a_resubmission_keeps_its_job_and_its_user() -> None:
    q = FairQueue(max_per_user=1)
    job, new = q.submit("a0", "generate", _spec(), b"a", 5, key="k" * 32)
    again, new2 = q.submit("a0", "generate", _spec(), b"a-reconnected", 5, key="k" * 32)
    assert new and not new2 and again is job and job.owner == b"a-reconnected"
    assert isinstance(q.take(0.0), Job)
