"""The sidecar and the bridge, as real processes on real sockets (tone engine through the real pipeline)."""
from __future__ import annotations

import os
import stat
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import zmq

from conftest import job_spec, tone_command
from host_bridge.core import protocol as P
from host_bridge.bridge import Bridge
from host_bridge.client import SidecarClient, SidecarError
from host_bridge.core.connection import ConnectionInfo
from host_bridge.core.errors import CancelledError, UnknownArtistError
from host_bridge.supervisor import Heartbeat, SidecarManager

Managers = Callable[..., SidecarManager]


def _bridge(m: SidecarManager, **kw: Any) -> Bridge:
    return Bridge(m, Heartbeat(interval=0.2, time_to_dead=1.5), accept_timeout=kw.pop("accept_timeout", 1.0), **kw)


def test_generate_round_trip_streams_progress_chunks_and_one_take(managers: Managers) -> None:
    m = managers(tone_command())
    b = _bridge(m)
    hello = b.connect()
    assert hello["versions"] == [1] and hello["state"] == "ready" and "alpha" in hello["artists"]
    st = os.stat(m.connection_file)
    assert stat.S_IMODE(st.st_mode) == 0o600
    info = ConnectionInfo.read(m.connection_file)
    assert info.ip == "127.0.0.1" and info.pid == m.proc.pid  # type: ignore[union-attr]
    stages: list[tuple[str, float]] = []
    chunks: list[tuple[np.ndarray, int]] = []
    spec = job_spec(start_sample=4800)
    take = b.run(spec, timeout=30, on_progress=lambda s, f: stages.append((s, f)),
                 on_chunk=lambda a, at: chunks.append((a, at)))
    assert take.audio.shape == (1, spec.length_samples) and take.sample_rate == 48000 and take.start_sample == 4800
    assert take.engine == "tone" and take.artist == "alpha" and len(take.score.notes) == 16
    assert [s for s, _ in stages][:2] == ["compose", "compose"] and stages[-1] == ("produce", 1.0)
    assert len(chunks) == 4  # one per lyric line
    # on one machine the audio went through shared memory, and every slot came back
    assert hello.get("shm") is True and b.client is not None and b.client.use_shm
    assert b.client.status()["shm_lent"] == 0 and b.client.arena is not None and b.client.arena.lent() == []
    for audio, at in chunks:  # each phrase sits where the take has it
        seg = take.audio[0, at - 4800: at - 4800 + audio.shape[1]]
        assert np.corrcoef(seg, audio[0])[0, 1] > 0.9  # (the take is high-passed and levelled)
    b.close()
    assert m.proc is not None and m.proc.wait(5) == 0
    assert not m.connection_file.exists()


def test_twenty_clients_at_once_are_all_served_in_order_with_bounded_memory(managers: Managers) -> None:
    m = managers(tone_command("--max-queue-mb", "40"))
    owner = _bridge(m)
    owner.connect()
    pid = m.proc.pid  # type: ignore[union-attr]
    results: dict[int, tuple[int, float]] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(20)

    def client(i: int) -> None:
        try:
            b = _bridge(SidecarManager(connection_file=m.connection_file))
            b.connect(start=False)
            barrier.wait(10)
            job = b.submit(job_spec(n_notes=4, seconds=20.0, seed=i))
            seq: list[int] = []
            orig = b._dispatch

            def spy(msg: P.Message) -> None:
                if msg.type == "accepted":
                    seq.append(int(msg.body["seq"]))
                orig(msg)

            b._dispatch = spy  # type: ignore[method-assign]
            b.wait(job.id, 60)
            assert job.take is not None and job.take.seed == i
            results[i] = (seq[-1], time.monotonic())
            b.close()
        except BaseException as e:  # noqa: BLE001 - re-raised in the test thread
            errors.append(e)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert not errors, errors[0]
    assert len(results) == 20
    by_seq = sorted(results.values())
    done_times = [t for _, t in by_seq]
    assert done_times == sorted(done_times), "jobs finished out of submission order"
    hwm_kb = int(next(ln for ln in Path(f"/proc/{pid}/status").read_text().splitlines()
                      if ln.startswith("VmHWM")).split()[1])
    # 20 x 7.7 MB instrumentals = 154 MB if all were held; the 40 MiB queue limit keeps it far lower
    assert hwm_kb < 400_000, f"sidecar peak RSS {hwm_kb} kB"
    owner.close()


def test_cancel_mid_render_stops_within_a_second(managers: Managers, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOPLINE_TONE_RTF", "0.5")
    m = managers(tone_command())
    b = _bridge(m)
    first = threading.Event()
    job = b.submit(job_spec(), on_chunk=lambda a, at: first.set())
    deadline = time.monotonic() + 20
    while not first.is_set() and time.monotonic() < deadline:
        b.poll(0.05)
    assert first.is_set()
    t0 = time.monotonic()
    b.cancel(job.id)
    b.wait(job.id, 5)
    assert time.monotonic() - t0 < 1.0
    assert job.state == "cancelled" and isinstance(job.error, CancelledError) and job.take is None
    # the worker is free again within a second, and the next job runs
    assert b.client is not None
    while b.client.status()["running"] is not None:
        assert time.monotonic() - t0 < 1.0
        time.sleep(0.05)
    monkeypatch.setenv("TOPLINE_TONE_RTF", "0.05")
    take = b.run(job_spec(n_notes=4), timeout=20)
    assert take.audio.shape[1] == 12 * 48000
    b.close()


def test_cancel_of_a_queued_job_never_renders_it(managers: Managers) -> None:
    m = managers(tone_command())
    b = _bridge(m)
    j1 = b.submit(job_spec())
    j2 = b.submit(job_spec(seed=1))
    b.cancel(j2.id)
    b.wait(j1.id, 20)
    b.wait(j2.id, 5)
    assert j1.state == "done" and j2.state == "cancelled"
    b.close()


def test_audition_is_served_before_waiting_full_takes(managers: Managers) -> None:
    m = managers(tone_command())
    b = _bridge(m)
    full = [b.submit(job_spec(seed=i)) for i in range(3)]
    aud = b.submit(job_spec(n_notes=4), kind="audition")
    finished: list[str] = []
    while len(finished) < 4:
        b.poll(0.05)
        finished += [j.id for j in [*full, aud] if j.finished and j.id not in finished]
    assert finished.index(aud.id) <= 1, "audition waited behind full takes"
    b.close()


@pytest.mark.parametrize("mode", ["crash", "hang"])
def test_dead_or_hung_sidecar_is_restarted_and_the_job_finishes_exactly_once(
        managers: Managers, tmp_path: Path, mode: str) -> None:
    once = tmp_path / f"{mode}.once"
    m = managers(tone_command(misbehave=mode, once_file=once))
    b = _bridge(m)
    chunks: list[int] = []
    detected: list[float] = []
    orig = b._recover

    def spy() -> None:
        detected.append(time.time())
        orig()

    b._recover = spy  # type: ignore[method-assign]
    first_pid = b.connect()["pid"]
    take = b.run(job_spec(), timeout=40, on_chunk=lambda a, at: chunks.append(at))
    assert once.exists(), "the sidecar did not misbehave"
    assert b.restarts == 1 and b.hello["pid"] != first_pid
    assert len(chunks) == 4 and len(set(chunks)) == 4, "a phrase was delivered twice or lost"
    assert take.audio.shape == (1, 12 * 48000)
    assert [j.state for j in b.jobs.values()] == ["done"]
    if mode == "hang":
        hung_at = float(Path(str(once) + ".hung").read_text())
        assert detected[0] - hung_at < 2.0, f"hang detected after {detected[0] - hung_at:.2f} s"
    b.close()


def test_late_replies_do_not_duplicate_the_job(managers: Managers, tmp_path: Path) -> None:
    once = tmp_path / "late.once"
    m = managers(tone_command(misbehave="late", once_file=once))
    b = _bridge(m, accept_timeout=1.0)
    takes: list[Any] = []
    job = b.submit(job_spec())
    b.wait(job.id, 30)
    takes.append(job.take)
    # the late original request arrives after the resubmission; nothing more may come of it
    end = time.monotonic() + 3.0
    while time.monotonic() < end:
        b.poll(0.1)
    assert once.exists() and job.submissions >= 2 and b.restarts == 0
    assert job.state == "done" and takes[0] is job.take
    assert b.client is not None and b.client.status()["queued"] == []
    b.close()


def test_garbage_frames_are_skipped_and_the_job_finishes_once(managers: Managers, tmp_path: Path) -> None:
    m = managers(tone_command(misbehave="garbage", once_file=tmp_path / "g.once"))
    b = _bridge(m)
    chunks: list[int] = []
    take = b.run(job_spec(), timeout=30, on_chunk=lambda a, at: chunks.append(at))
    assert take.audio.shape == (1, 12 * 48000) and len(chunks) == 4
    assert b.client is not None and b.client.garbage >= 8 and b.restarts == 0
    b.close()


def test_restart_limit_gives_up_with_an_error(managers: Managers, tmp_path: Path) -> None:
    # with no restarts allowed, the first crash ends the job with an error naming the log
    m = managers(tone_command(misbehave="crash", once_file=tmp_path / "c.once"))
    b = _bridge(m, restart_limit=0)
    with pytest.raises(SidecarError, match="restarted 0 times"):
        b.run(job_spec(), timeout=30)
    b.close(stop_sidecar=True)


# ----------------------------------------------------------------------------- raw socket checks
def _raw(info: ConnectionInfo) -> zmq.Socket:
    s = zmq.Context.instance().socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(info.url)
    return s


def _answer(s: zmq.Socket, timeout: float = 5.0) -> P.Message:
    assert s.poll(int(timeout * 1000)), "no answer"
    return P.decode(s.recv_multipart())


def test_malformed_oversized_and_wrong_version_messages_get_errors(managers: Managers) -> None:
    m = managers(tone_command("--max-message-mb", "1"))
    b = _bridge(m)
    b.connect()
    s = _raw(ConnectionInfo.read(m.connection_file))
    cases: list[tuple[list[bytes], str, str | None]] = [
        ([b"\x00\x01garbage"], "bad_message", None),
        ([b'{"v": 7, "id": "w1", "type": "status", "body": {}}'], "unsupported_version", "w1"),
        ([b'{"v": 1, "id": "u1", "type": "sing_louder", "body": {}}'], "unknown_type", "u1"),
        ([b'{"v": 1, "id": "p1", "type": "pong", "body": {}}'], "unknown_type", "p1"),
        ([b'{"v": 1, "id": "g1", "type": "generate", "body": {"lyrics_text": 3}}'], "bad_message", "g1"),
        ([b'{"v": 1, "id": "c1", "type": "cancel", "body": {}}'], "bad_message", "c1"),
        ([b'{"v": 1, "id": "q1", "type": "generate", "body": {"lyrics_text": "la", "sample_rate": 48000, '
          b'"length_samples": 10, "priority": 99}}'], "bad_message", "q1"),
        ([*[bytes(f) for f in P.encode(P.Message("generate", id="big", buffers={"x": b"\x00" * (2 << 20)}))]],
         "too_large", "big"),
    ]
    for frames, code, re in cases:
        s.send_multipart(frames)
        got = _answer(s)
        assert got.type == "error" and got.body["code"] == code and got.re == re, (frames[0][:60], got.body)
        assert got.body["hint"]
    # a job that the pipeline rejects is answered with the pipeline's error; the sidecar stays up
    bad_artist = P.job_request(job_spec(n_notes=4, instrumental=False), job_id="a1")
    bad_artist.body["artist"] = "nobody"
    with pytest.raises(UnknownArtistError):
        b.run(P.job_spec(P.decode(P.encode(bad_artist))), timeout=10)
    assert b.client is not None and b.client.status()["running"] is None
    s.send_multipart(P.encode(P.Message("ping", id="alive")))
    assert _answer(s).type == "pong"
    s.close()
    b.close()


def test_resubmitting_a_finished_job_returns_the_same_take_not_a_new_render(managers: Managers) -> None:
    m = managers(tone_command())
    b = _bridge(m)
    b.connect()
    s = _raw(ConnectionInfo.read(m.connection_file))
    req = P.job_request(job_spec(n_notes=4), job_id="same")
    seen: list[P.Message] = []
    for n in (1, 2):  # the second time after the take came
        s.send_multipart([bytes(f) for f in P.encode(req)])
        while sum(1 for x in seen if x.type == "done") < n:
            seen.append(_answer(s, 20))
    accepted = [x for x in seen if x.type == "accepted"]
    assert [a.body["duplicate"] for a in accepted] == [False, True]
    dones = [P.take_from_done(x) for x in seen if x.type == "done"]
    np.testing.assert_array_equal(dones[0].audio, dones[1].audio)
    st = b.client.status() if b.client else {}
    assert st["queued"] == [] and st["running"] is None
    s.close()
    b.close()


def test_a_second_bridge_attaches_to_the_same_sidecar(managers: Managers) -> None:
    m = managers(tone_command())
    first = _bridge(m)
    h1 = first.connect()
    second = _bridge(SidecarManager(connection_file=m.connection_file))
    h2 = second.connect(start=False)
    assert h1["pid"] == h2["pid"] and not second.manager.owned
    j1 = first.submit(job_spec(seed=1))
    j2 = second.submit(job_spec(seed=2))
    while not (j1.finished and j2.finished):
        first.poll(0.05)
        second.poll(0.05)
    assert j1.take is not None and j2.take is not None and j1.take.seed == 1 and j2.take.seed == 2
    assert not np.array_equal(j1.take.audio, j2.take.audio)
    second.close()  # an attached bridge leaves the sidecar running
    assert first.client is not None and first.client.status()["state"] == "ready"
    first.close()


def test_binding_beyond_loopback_requires_curve_keys(tmp_path: Path) -> None:
    cmd = tone_command("--ip", "0.0.0.0", "--connection-file", str(tmp_path / "c.json"))
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert out.returncode == 2 and "--curve-keys" in out.stderr
    assert not (tmp_path / "c.json").exists()


def test_curve_encrypted_sidecar_serves_an_allowed_bridge_only(managers: Managers, tmp_path: Path) -> None:
    import zmq.auth

    keys = tmp_path / "keys"
    (keys / "clients").mkdir(parents=True)
    zmq.auth.create_certificates(str(keys), "server")
    _, bridge_secret = zmq.auth.create_certificates(str(keys / "clients"), "bridge")
    m = managers(tone_command("--ip", "0.0.0.0", "--curve-keys", str(keys)), curve_keys=Path(bridge_secret))
    b = _bridge(m)
    assert b.connect()["state"] == "ready"
    info = ConnectionInfo.read(m.connection_file)
    assert info.server_public_key
    take = b.run(job_spec(n_notes=4), timeout=20)
    assert take.audio.shape[1] == 12 * 48000
    stranger = SidecarClient(info)  # a fresh key pair the sidecar does not know
    with pytest.raises(SidecarError, match="did not answer"):
        stranger.hello(timeout=1.0)
    stranger.close()
    b.close()


def test_sidecar_exits_on_sigterm_and_removes_its_connection_file(managers: Managers) -> None:
    m = managers(tone_command())
    b = _bridge(m)
    b.connect()
    assert m.proc is not None
    m.proc.terminate()
    assert m.proc.wait(5) == 0
    assert not m.connection_file.exists()
    b.close(stop_sidecar=False)


def test_idle_sidecar_exits_by_itself(managers: Managers) -> None:
    m = managers(tone_command("--idle-exit", "0.5"))
    b = _bridge(m)
    b.connect()
    b.close(stop_sidecar=False)
    assert m.proc is not None and m.proc.wait(10) == 0
