"""Issue 21: the sidecar as a Ray Serve deployment. One real local Ray cluster (2 CPU replicas of
the tone pipeline) behind the real gateway process, reached by real bridges through a connection
file, beside a real local sidecar as the reference for every take and every refusal."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
import zmq

pytest.importorskip("ray.serve", reason="the cluster extra is not installed (bash scripts/setup.sh --dev)")

from conftest import TONE, job_spec  # noqa: E402
from host_bridge.core import protocol as P  # noqa: E402
from host_bridge.bridge import Bridge  # noqa: E402
from host_bridge.client import SidecarClient  # noqa: E402
from host_bridge.core.connection import ConnectionInfo  # noqa: E402
from host_bridge.core.errors import CancelledError  # noqa: E402
from host_bridge.supervisor import Heartbeat, SidecarManager, sidecar_command  # noqa: E402

RELIABILITY = Path(__file__).resolve().parents[1] / "reliability"
sys.path.insert(0, str(RELIABILITY))
from wirefuzz import NAMED, cases  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
RTF = "0.2"
"""The tone engine renders at a fifth of real time: a 12 s take (8 s sung) takes ~1.6 s."""


class Cluster:
    def __init__(self, proc: subprocess.Popen[bytes], connection_file: Path, local: SidecarManager) -> None:
        self.proc, self.connection_file, self.local = proc, connection_file, local

    def bridge(self) -> Bridge:
        b = Bridge(SidecarManager(connection_file=self.connection_file), Heartbeat(time_to_dead=5.0), accept_timeout=5.0)
        b.connect(start=False)
        return b

    def status(self) -> dict[str, Any]:
        c = SidecarClient(ConnectionInfo.read(self.connection_file))
        try:
            return c.status(timeout=10)
        finally:
            c.close()

    def wait_replicas(self, n: int = 2, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while self.status()["cluster"]["replica_states"].get("RUNNING", 0) < n:
            assert time.monotonic() < deadline, f"fewer than {n} replicas RUNNING: {self.status()['cluster']}"
            time.sleep(0.5)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("cluster")
    cf = tmp / "gateway.json"
    env = {**os.environ, "TOPLINE_TONE_RTF": RTF, "PYTHONPATH": str(ROOT)}
    log = open(tmp / "gateway.log", "wb")  # (the gateway's and the replicas' log, for a failing test)
    # `topline cluster up` becomes the gateway program (exec: same pid, its own process group)
    proc = subprocess.Popen([sys.executable, "-m", "host_bridge.cli", "-v", "cluster", "up", "--replicas", "2",
                             "--cpus-per-replica", "0.5", "--pipeline", TONE, "--connection-file", str(cf),
                             "--max-message-mb", "8", "--max-per-user", "12"], env=env, start_new_session=True,
                            stdout=log, stderr=subprocess.STDOUT)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TOPLINE_TONE_RTF", "0.05")
        local = SidecarManager(sidecar_command(["--pipeline", TONE, "--max-message-mb", "8"]), tmp / "local.json",
                               start_timeout=30.0)
        local.start().close()
    try:
        deadline = time.monotonic() + 150
        while not cf.exists():
            assert proc.poll() is None, "the gateway exited before it was listening"
            assert time.monotonic() < deadline, "the gateway did not start within 150 s"
            time.sleep(0.2)
        yield Cluster(proc, cf, local)
    finally:
        local.kill(term_timeout=0.5)
        _stop(proc)
        log.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the gateway shuts Serve and Ray down), then SIGKILL the whole process group, so
    no Ray process outlives the test module."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(10)


def _local_take(cluster: Cluster, spec: P.JobSpec) -> Any:
    b = Bridge(SidecarManager(connection_file=cluster.local.connection_file), accept_timeout=5.0)
    b.connect(start=False)
    try:
        return b.run(spec, timeout=30)
    finally:
        b.close()


def _first_chunk(b: Bridge, spec: P.JobSpec, chunks: list[int]) -> Any:
    got = threading.Event()

    def on_chunk(a: Any, at: int) -> None:
        chunks.append(at)
        got.set()

    job = b.submit(spec, on_chunk=on_chunk)
    deadline = time.monotonic() + 30
    while not got.is_set():
        assert time.monotonic() < deadline, "no chunk within 30 s"
        assert not job.finished, job.error
        b.poll(0.05)
    return job


def _replica_of(cluster: Cluster, job_id: str) -> dict[str, Any]:
    reps = [r for r in cluster.status()["cluster"]["replicas"] if r["job"] == job_id]
    assert len(reps) == 1, cluster.status()["cluster"]
    return reps[0]


# ----------------------------------------------------------------------------- takes
def test_ten_concurrent_clients_get_takes_bit_identical_to_the_local_sidecar(cluster: Cluster) -> None:
    hello = cluster.bridge()
    assert hello.hello["device"].startswith("ray serve: 2 replicas") and hello.hello["state"] == "ready"
    hello.close()
    takes: dict[int, Any] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(10)

    def client(i: int) -> None:
        try:
            b = cluster.bridge()
            barrier.wait(30)
            takes[i] = b.run(job_spec(seed=i, start_sample=480 * i), timeout=120)
            b.close()
        except BaseException as e:  # noqa: BLE001 - re-raised in the test thread
            errors.append(e)

    t0 = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(150)
    assert not errors, errors[0]
    took = time.monotonic() - t0
    assert sorted(takes) == list(range(10))
    for i, take in takes.items():
        ref = _local_take(cluster, job_spec(seed=i, start_sample=480 * i))
        assert take.audio.shape == (1, 12 * 48000) and take.sample_rate == 48000 and take.start_sample == 480 * i
        assert take.seed == i and len(take.score.notes) == 16
        np.testing.assert_array_equal(take.audio, ref.audio)  # bit-identical to the local sidecar's
    # both replicas rendered: 10 takes of ~1.6 s each did not run one after another
    served = {r["replica"]: r["jobs_done"] for r in cluster.status()["cluster"]["replicas"]}
    assert len(served) == 2 and all(n >= 2 for n in served.values()), (served, f"{took:.1f} s")


def test_one_clients_ten_jobs_do_not_delay_anothers_single_job(cluster: Cluster) -> None:
    busy, other = cluster.bridge(), cluster.bridge()
    ten = [busy.submit(job_spec(seed=100 + i)) for i in range(10)]
    while not all(j.state != "sent" for j in ten):  # all ten accepted (queued at the gateway) first
        busy.poll(0.05)
    single = other.submit(job_spec(seed=200))
    order: list[str] = []
    deadline = time.monotonic() + 90
    while len(order) < 11:
        assert time.monotonic() < deadline, f"only {len(order)} of 11 jobs finished"
        busy.poll(0.02)
        other.poll(0.02)
        order += [j.id for j in [*ten, single] if j.finished and j.id not in order]
    assert all(j.state == "done" for j in [*ten, single])
    # two were rendering when it came; round-robin starts it next: it ends 3rd or 4th, not 11th
    assert order.index(single.id) <= 3, f"the single job finished {order.index(single.id) + 1}th of 11"
    busy.close()
    other.close()


def test_an_audition_is_served_before_waiting_full_takes(cluster: Cluster) -> None:
    b = cluster.bridge()
    full = [b.submit(job_spec(seed=400 + i)) for i in range(6)]
    while any(j.state == "sent" for j in full):
        b.poll(0.05)
    aud = b.submit(job_spec(n_notes=4, seed=9), kind="audition")
    finished: list[str] = []
    deadline = time.monotonic() + 60
    while len(finished) < 7:
        assert time.monotonic() < deadline, f"only {len(finished)} of 7 jobs finished"
        b.poll(0.05)
        finished += [j.id for j in [*full, aud] if j.finished and j.id not in finished]
    # two full takes were rendering when it came; it goes before the four still waiting
    assert finished.index(aud.id) <= 2, f"the audition finished {finished.index(aud.id) + 1}th of 7"
    assert aud.state == "done" and aud.take is not None
    b.close()


def test_the_per_user_limit_refuses_the_thirteenth_job_as_busy(cluster: Cluster) -> None:
    ctx = zmq.Context()
    greedy = _dealer(ctx, ConnectionInfo.read(cluster.connection_file))
    ids = [f"greedy-{i}" for i in range(13)]
    first: dict[str, P.Message] = {}
    for i, jid in enumerate(ids):  # small requests, all in before the first take can finish
        req = P.job_request(job_spec(n_notes=4, seed=300 + i, instrumental=False), job_id=jid)
        greedy.send_multipart([bytes(f) for f in P.encode(req)])
    deadline = time.monotonic() + 30
    while len(first) < 13:
        assert time.monotonic() < deadline and greedy.poll(5000), f"{13 - len(first)} requests unanswered"
        m = P.decode(greedy.recv_multipart())
        if m.re in ids:
            first.setdefault(m.re, m)
    answers = [first[j] for j in ids]
    assert [a.type for a in answers] == ["accepted"] * 12 + ["error"]
    assert answers[-1].body["code"] == "busy" and "limit per user is 12" in answers[-1].body["message"]
    # another bridge is not held by that one's limit (round-robin starts its job next)
    polite = cluster.bridge()
    assert polite.run(job_spec(n_notes=4, seed=1), timeout=60).audio.shape == (1, 12 * 48000)
    polite.close()
    for jid in ids[:12]:
        greedy.send_multipart([bytes(f) for f in P.encode(P.Message("cancel", body={"job": jid}))])
    deadline = time.monotonic() + 30
    while (st := cluster.status())["running_total"] or st["queued_total"]:
        assert time.monotonic() < deadline, "cancelled jobs still held the cluster"
        time.sleep(0.2)
    greedy.close()
    ctx.term()


def test_cancel_reaches_the_replica_and_stops_its_render(cluster: Cluster) -> None:
    b = cluster.bridge()
    chunks: list[int] = []
    job = _first_chunk(b, job_spec(n_notes=64, seconds=48.0, seed=7, instrumental=False), chunks)
    first = _replica_of(cluster, job.id)
    rid, before = first["replica"], first["cancelled"]
    t0 = time.monotonic()
    b.cancel(job.id)
    b.wait(job.id, 5)
    assert job.state == "cancelled" and isinstance(job.error, CancelledError) and job.take is None
    assert time.monotonic() - t0 < 1.0
    # the replica reports its cancels with its next events: run pairs of jobs until it has served one
    report: dict[str, Any] = {}
    for _ in range(4):
        pair = [b.submit(job_spec(n_notes=4, seed=s)) for s in (1, 2)]
        for j in pair:
            b.wait(j.id, 60)
        report = next((r for r in cluster.status()["cluster"]["replicas"] if r["replica"] == rid), {})
        if report.get("cancelled", 0) > before:
            break
    assert report.get("cancelled") == before + 1, report
    assert report["cancel_stop_s"][-1] < 1.0, f"the render went on {report['cancel_stop_s'][-1]} s after the cancel"
    assert len(chunks) < 16, "the cancelled job went on streaming"
    b.close()


def test_bad_requests_are_refused_as_the_local_sidecar_refuses_them(cluster: Cluster) -> None:
    """The first 40 hostile messages the local sidecar answers with an error get the same error
    (code, request id, message) from the gateway; both replicas stay up and serve a take."""
    ctx = zmq.Context()
    local, gateway = (_dealer(ctx, ConnectionInfo.read(f)) for f in (cluster.local.connection_file,
                                                                        cluster.connection_file))
    handmade: list[list[bytes]] = [
        [b"\x00\x01garbage"],
        [b'{"v": 7, "id": "w1", "type": "status", "body": {}}'],
        [b'{"v": 1, "id": "u1", "type": "sing_louder", "body": {}}'],
        [b'{"v": 1, "id": "g1", "type": "generate", "body": {"lyrics_text": 3}}'],
        [b'{"v": 1, "id": "c1", "type": "cancel", "body": {}}'],
        [b'{"v": 1, "id": "q1", "type": "generate", "body": {"lyrics_text": "la", "sample_rate": 48000, '
         b'"length_samples": 10, "priority": 99}}'],
        [bytes(f) for f in P.encode(P.Message("generate", id="big", buffers={"x": b"\x00" * (9 << 20)}))],
    ]
    refused: list[tuple[list[bytes], P.Message]] = []
    for frames in [*handmade, *NAMED.values(), *cases(seed=21, n=400)]:
        got = _ask(local, frames)
        if got is not None and got.type == "error":
            refused.append((frames, got))
        if len(refused) == 40:
            break
    assert len(refused) == 40
    for frames, want in refused:
        got = _ask(gateway, frames)
        assert got is not None and got.type == "error", (frames[0][:80], got)
        assert (got.re, got.body["code"], got.body["message"]) == (want.re, want.body["code"], want.body["message"])
    local.close()
    gateway.close()
    ctx.term()
    st = cluster.status()
    assert st["cluster"]["replica_states"] == {"RUNNING": 2} and st["cluster"]["retried"] == 0
    b = cluster.bridge()
    assert b.run(job_spec(n_notes=4), timeout=60).audio.shape == (1, 12 * 48000)
    b.close()


def _dealer(ctx: zmq.Context, info: ConnectionInfo) -> zmq.Socket:
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(info.url)
    return s


def _ask(s: zmq.Socket, frames: list[bytes]) -> P.Message | None:
    """Send one message; its first reply (None when none comes in 3 s, as for a release)."""
    s.send_multipart(frames)
    if not s.poll(3000):
        return None
    reply = P.decode(s.recv_multipart())
    while s.poll(50):  # anything after the first reply (a job's later events) is not compared
        s.recv_multipart()
    return reply


def test_topline_generate_through_the_gateway_writes_what_the_local_sidecar_writes(
        cluster: Cluster, tmp_path: Path) -> None:
    import soundfile as sf

    from tone import melody_midi

    sf.write(tmp_path / "inst.wav", np.zeros((12 * 48000, 2), np.float32), 48000, subtype="FLOAT")
    (tmp_path / "lyrics.txt").write_text("[Verse]\nla la la la\nlo lo lo lo\n[Chorus]\nli li li li\nlu lu lu lu")
    (tmp_path / "melody.mid").write_bytes(melody_midi())
    common = [sys.executable, "-m", "host_bridge.cli", "generate", "--instrumental", str(tmp_path / "inst.wav"),
              "--lyrics", str(tmp_path / "lyrics.txt"), "--melody", str(tmp_path / "melody.mid"), "--seed", "5",
              "--float"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name, cf in (("cluster", cluster.connection_file), ("local", cluster.local.connection_file)):
        out = subprocess.run([*common, "--connection-file", str(cf), "--out", str(tmp_path / f"{name}.wav")],
                             capture_output=True, text=True, timeout=120, env=env)
        assert out.returncode == 0, out.stderr
    a, sr_a = sf.read(tmp_path / "cluster.wav", dtype="float32")
    b, sr_b = sf.read(tmp_path / "local.wav", dtype="float32")
    assert sr_a == sr_b == 48000 and a.shape == b.shape and np.abs(a).max() > 0.01
    np.testing.assert_array_equal(a, b)
    assert (tmp_path / "cluster.mid").read_bytes() == (tmp_path / "local.mid").read_bytes()
    st = subprocess.run([sys.executable, "-m", "host_bridge.cli", "cluster", "status", "--connection-file",
                         str(cluster.connection_file)], capture_output=True, text=True, timeout=60, env=env)
    assert st.returncode == 0 and '"RUNNING": 2' in st.stdout and '"rss_mb"' in st.stdout, st.stderr


# ----------------------------------------------------------------------------- faults (last: it restarts a replica)
def test_replica_killed_mid_job_is_retried_and_the_take_arrives_exactly_once(cluster: Cluster) -> None:
    b = cluster.bridge()
    spec = job_spec(n_notes=32, seconds=24.0, seed=11, instrumental=False)
    chunks: list[int] = []
    job = _first_chunk(b, spec, chunks)
    victim = _replica_of(cluster, job.id)
    os.kill(int(victim["pid"]), signal.SIGKILL)
    b.wait(job.id, 90)
    assert job.state == "done" and job.take is not None, job.error
    assert len(chunks) == 8 and len(set(chunks)) == 8, f"phrases delivered: {chunks}"
    np.testing.assert_array_equal(job.take.audio, _local_take(cluster, spec).audio)
    end = time.monotonic() + 2.0  # nothing more comes of the first attempt
    while time.monotonic() < end:
        b.poll(0.1)
    assert [j.state for j in b.jobs.values()] == ["done"] and len(chunks) == 8
    st = cluster.status()["cluster"]
    assert st["retried"] >= 1 and victim["replica"] not in {r["replica"] for r in st["replicas"]}
    b.close()
    cluster.wait_replicas(2)  # Serve replaced the killed replica


def test_cluster_down_stops_the_gateway_and_its_ray_processes(cluster: Cluster) -> None:
    # (last: it ends the module's cluster)
    out = subprocess.run([sys.executable, "-m", "host_bridge.cli", "cluster", "down", "--connection-file",
                          str(cluster.connection_file)], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert cluster.proc.wait(60) == 0
    assert not cluster.connection_file.exists()
    deadline = time.monotonic() + 30
    while _group_alive(cluster.proc.pid):  # the local Ray cluster went down with the gateway
        assert time.monotonic() < deadline, "Ray processes outlived the gateway"
        time.sleep(0.5)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
