"""Issue 22, the sidecar socket as any local process reaches it: hostile frames never kill the
real sidecar, a peer-supplied shared-memory name never blocks it, and jobs belong to the bridge
that submitted them (status, resubmission, cancel, reconnection)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from host_bridge.core import protocol as P
from host_bridge.core.shm import SHM_DIR, shm_available
from realsidecar import Sidecar, sidecar  # noqa: F401 (fixture)
from tone import melody_midi
from wirefuzz import NAMED, cases

LYRICS = "[Verse]\nla la la la\nlo lo lo lo\n[Chorus]\nli li li li\nlu lu lu lu"


def _spec(seconds: float = 4.0, notes: int = 16) -> P.JobSpec:
    return P.JobSpec(LYRICS, 48000, int(seconds * 48000), melody_midi=melody_midi(notes))


def _expects_reply(frames: list[bytes]) -> bool:
    """Every message is answered except a readable ``release`` (which has no reply)."""
    try:
        return P.decode(frames).type != "release"
    except P.ProtocolError:
        return True


def test_fuzzed_frames_never_kill_the_sidecar_and_each_is_answered(sidecar: Sidecar) -> None:
    """3,000 hostile messages (random, bit-flipped, structure-aware) and the named killers of
    issue 22, in batches: after each batch the sidecar is alive, has answered every message it
    could (one reply each), and answers another client's ping."""
    fuzz, probe = sidecar.peer(), sidecar.peer()
    batches = [list(NAMED.values())] + [cases(seed=100 + i, n=250) for i in range(12)]
    t0 = time.monotonic()
    for batch in batches:
        expected = sum(_expects_reply(f) for f in batch)
        for frames in batch:
            fuzz.send_frames(frames)
        got = 0
        deadline = time.monotonic() + 30
        while got < expected and time.monotonic() < deadline:
            got += len(fuzz.drain(0.2))
        assert sidecar.alive(), "the sidecar died"
        assert got == expected, f"{expected - got} messages of the batch were not answered"
        assert probe.ping().body["state"] == "ready"
    assert time.monotonic() - t0 < 120


@pytest.mark.skipif(not shm_available(), reason="no /dev/shm")
def test_hello_naming_a_fifo_as_its_shared_memory_slot_does_not_block_the_server(sidecar: Sidecar) -> None:
    name = f"topline-1-{os.getpid()}"  # pid 1 is alive: no sweep of dead processes' slots removes it
    fifo = SHM_DIR / name
    os.mkfifo(fifo, 0o600)
    try:
        peer, other = sidecar.peer(), sidecar.peer()
        hello = P.Message("hello", body={"versions": [1], "shm": name})
        peer.send(hello)
        reply = peer.wait(hello.id, ("hello_reply",), timeout=5)
        assert reply.body.get("shm") is not True
        assert other.ping(timeout=2).type == "pong"
    finally:
        fifo.unlink()


@pytest.mark.skipif(not shm_available(), reason="no /dev/shm")
def test_a_peer_cannot_name_the_sidecars_own_slots_as_its_buffer(sidecar: Sidecar) -> None:
    peer = sidecar.peer()
    hello = P.Message("hello", body={"versions": [1], "shm": f"topline-{sidecar.pid}-0"})
    peer.send(hello)
    assert peer.wait(hello.id, ("hello_reply",)).body.get("shm") is not True


def test_status_shows_a_client_only_its_own_jobs(sidecar: Sidecar) -> None:
    owner, stranger = sidecar.peer(), sidecar.peer()
    job = P.job_request(_spec(seconds=20.0), job_id="secret-job-id-1", key="k" * 32)
    owner.send(job)
    owner.wait(job.id, ("accepted",))
    for peer in (stranger, owner):
        st = P.Message("status")
        peer.send(st)
        body = peer.wait(st.id, ("status_reply",)).body
        mine = peer is owner
        assert ("secret-job-id-1" in (body["queued"] + [body["running"]])) == mine
        assert body["busy"] or body["queued_total"] == 1
        ping = peer.ping().body
        assert ("secret-job-id-1" in (ping["queued"] + [ping["running"]])) == mine


def test_resubmitted_id_from_another_client_is_refused_and_the_owner_gets_the_take(sidecar: Sidecar) -> None:
    owner, thief = sidecar.peer(), sidecar.peer()
    job = P.job_request(_spec(), job_id="job-to-steal", key="a" * 32)
    owner.send(job)
    owner.wait(job.id, ("accepted",))
    for key in (None, "b" * 32):
        stolen = P.job_request(_spec(), job_id="job-to-steal", key=key)
        thief.send(stolen)
        err = thief.wait("job-to-steal", ("error", "accepted"))
        assert err.type == "error" and err.body["code"] == "job_id_taken"
    done = owner.wait("job-to-steal", ("done", "error"), timeout=30)
    assert done.type == "done" and P.take_from_done(done).audio.shape[1] == 4 * 48000
    assert not [m for m in thief.drain(0.3) if m.type in ("done", "chunk", "progress")]


def test_cancel_from_another_client_is_refused(sidecar: Sidecar) -> None:
    owner, stranger = sidecar.peer(), sidecar.peer()
    job = P.job_request(_spec(), job_id="job-not-yours", key="c" * 32)
    owner.send(job)
    owner.wait(job.id, ("accepted",))
    cancel = P.Message("cancel", body={"job": "job-not-yours"})
    stranger.send(cancel)
    assert stranger.wait(cancel.id, ("cancel_reply",)).body["state"] == "unknown"
    assert owner.wait("job-not-yours", ("done", "error"), timeout=30).type == "done"


def test_reconnecting_bridge_proves_ownership_with_the_job_key(sidecar: Sidecar) -> None:
    """A bridge that reconnects (a new socket identity) resumes its job by sending it again with
    the job's key: the sidecar hands the events over to it, and to no one without the key."""
    first = sidecar.peer()
    job = P.job_request(_spec(seconds=6.0), job_id="job-resumed", key="d" * 32)
    first.send(job)
    first.wait(job.id, ("accepted",))
    first.close()
    again = sidecar.peer()
    again.send(P.job_request(_spec(seconds=6.0), job_id="job-resumed", key="d" * 32))
    acc = again.wait("job-resumed", ("accepted",))
    assert acc.body["duplicate"] is True
    assert again.wait("job-resumed", ("done",), timeout=30).type == "done"


def test_release_of_a_slot_lent_to_another_bridge_is_ignored(sidecar: Sidecar, tmp_path: Path) -> None:
    from host_bridge.bridge import Bridge
    from host_bridge.supervisor import SidecarManager

    b = Bridge(SidecarManager(connection_file=sidecar.manager.connection_file))
    b.connect(start=False)
    try:
        assert b.client is not None and b.client.use_shm
        slots: list[str] = []
        job = b.submit(P.JobSpec(LYRICS, 48000, 8 * 48000, melody_midi=melody_midi(16)))
        while not job.finished:  # take the chunk events without releasing their slots
            m = b.client.recv(5.0)
            assert m is not None
            slots += P.shm_slots(m)
            b._dispatch(m)
        assert slots
        stranger = sidecar.peer()
        stranger.send(P.Message("release", body={"slots": slots}))
        st = P.Message("status")
        stranger.send(st)
        stranger.wait(st.id, ("status_reply",))
        assert b.client.status()["shm_lent"] == len(slots)  # still lent to their reader
        b.client.send(P.Message("release", body={"slots": slots}))
        assert b.client.status()["shm_lent"] == 0
    finally:
        b.close(stop_sidecar=False)
