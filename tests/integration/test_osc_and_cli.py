"""The OSC surface and the CLI commands, against real sidecar processes."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
import soundfile as sf
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import build_msg

from conftest import LYRICS, TONE, tone_command
from host_bridge.bridge import Bridge
from host_bridge.core.connection import ConnectionInfo, pid_alive
from host_bridge.osc import OscSurface
from host_bridge.supervisor import Heartbeat, SidecarManager
from host_bridge.takes import TakeFolder, read_time_reference
from tone import melody_midi

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    inst = tmp_path / "inst.wav"
    sf.write(inst, np.zeros((12 * 48000, 2), np.float32), 48000, subtype="FLOAT")
    lyr = tmp_path / "lyrics.txt"
    lyr.write_text(LYRICS)
    mel = tmp_path / "melody.mid"
    mel.write_bytes(melody_midi())
    return {"instrumental": inst, "lyrics": lyr, "melody": mel}


class OscPeer:
    """A DAW-side OSC client that collects every reply."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.target = target
        self.replies: list[tuple[str, list[Any]]] = []

    def send(self, address: str, *args: Any) -> None:
        self.sock.sendto(build_msg(address, list(args)).dgram, self.target)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendto(data, self.target)

    def wait_for(self, address: str, timeout: float, n: int = 1) -> list[list[Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = [a for addr, a in self.replies if addr == address]
            if len(got) >= n:
                return got
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            m = OscMessage(data)
            self.replies.append((m.address, list(m.params)))
        raise AssertionError(f"no {address} within {timeout} s; got {self.replies}")


@pytest.fixture
def surface(managers: Any, tmp_path: Path) -> Iterator[OscSurface]:
    m = managers(tone_command())
    bridge = Bridge(m, Heartbeat(interval=0.2, time_to_dead=1.5), accept_timeout=1.0)
    bridge.connect()
    s = OscSurface(bridge, TakeFolder(tmp_path / "Topline Takes", subtype="FLOAT"), port=0)
    s.start()
    t = threading.Thread(target=s.run, daemon=True)
    t.start()
    yield s
    s.stop()
    t.join(10)
    bridge.close()


def test_osc_generate_delivers_a_take_and_reports_progress(surface: OscSurface, files: dict[str, Path]) -> None:
    peer = OscPeer(surface.address)
    peer.send("/topline/generate", str(files["instrumental"]), str(files["lyrics"]), str(files["melody"]),
              "kumo", 3, 4800)
    job_id = peer.wait_for("/topline/accepted", 10)[0][0]
    done = peer.wait_for("/topline/done", 20)[0]
    assert done[0] == job_id and done[4] == 4800
    wav, midi, meta = Path(done[1]), Path(done[2]), Path(done[3])
    assert wav.name == "take-0001.wav" and midi.exists() and meta.exists()
    assert read_time_reference(wav) == 4800
    stages = [a[1] for a in peer.wait_for("/topline/progress", 1, n=3)]
    assert "render" in stages and all(a[0] == job_id for a in peer.wait_for("/topline/progress", 1))
    peer.send("/topline/status")
    st = peer.wait_for("/topline/status", 5)[0]
    assert st[0] == "ready" and st[3] == 0


def test_osc_cancel_and_audition(surface: OscSurface, files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    peer = OscPeer(surface.address)
    args = [str(files["instrumental"]), str(files["lyrics"]), str(files["melody"])]
    peer.send("/topline/audition", *args)
    aud = peer.wait_for("/topline/done", 20)[0]
    assert Path(aud[1]).name == "audition-0001.wav" and Path(aud[1]).parent.name == "auditions"
    peer.send("/topline/generate", *args)
    jid = peer.wait_for("/topline/accepted", 10, n=2)[1][0]
    peer.send("/topline/cancel", jid)
    err = [e for e in peer.wait_for("/topline/error", 10) if e[0] == jid][0]
    assert err[1] == "cancelled"


@pytest.mark.parametrize("send, expect", [
    (lambda p: p.send_raw(b"\x00\x01 not osc"), "not an OSC message"),
    (lambda p: p.send("/topline/explode", 1), "unknown address"),
    (lambda p: p.send("/topline/generate", "only-one"), "got 1 arguments"),
    (lambda p: p.send("/topline/generate", "a", "b", "c", 5), "artist is 5"),
    (lambda p: p.send("/topline/cancel"), "/topline/cancel"),
])
def test_malformed_osc_is_answered(surface: OscSurface, send: Any, expect: str) -> None:
    peer = OscPeer(surface.address)
    send(peer)
    err = peer.wait_for("/topline/error", 5)[0]
    assert err[0] == "" and err[1] == "bad_osc" and expect in err[2] and err[3]


def test_osc_bad_files_are_answered_with_the_input_error(surface: OscSurface, files: dict[str, Path]) -> None:
    peer = OscPeer(surface.address)
    peer.send("/topline/generate", "/nonexistent.wav", str(files["lyrics"]), str(files["melody"]))
    err = peer.wait_for("/topline/error", 5)[0]
    assert err[1] == "bad_audio" and err[3]


# ------------------------------------------------------------------------------------------ CLI
def _topline(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TOPLINE_TONE_RTF": "0.05"}
    return subprocess.run([sys.executable, "-m", "host_bridge.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


def test_generate_is_identical_with_a_cold_or_a_running_sidecar(tmp_path: Path, files: dict[str, Path]) -> None:
    cf = tmp_path / "run" / "sidecar.json"
    common = ["generate", "--instrumental", str(files["instrumental"]), "--lyrics", str(files["lyrics"]),
              "--melody", str(files["melody"]), "--seed", "5", "--float", "--connection-file", str(cf),
              "--sidecar-pipeline", TONE]
    try:
        cold = _topline(*common, "--out", str(tmp_path / "cold.wav"))
        assert cold.returncode == 0, cold.stderr
        info = ConnectionInfo.read(cf)  # the sidecar started for the call stays warm
        assert pid_alive(info.pid)
        # into a folder that does not exist yet (regression: the sung MIDI failed after the render)
        warm = _topline(*common, "--out", str(tmp_path / "new" / "folder" / "warm.wav"))
        assert warm.returncode == 0, warm.stderr
        assert ConnectionInfo.read(cf).pid == info.pid, "the second call did not reuse the running sidecar"
        a, sr_a = sf.read(tmp_path / "cold.wav", dtype="float32")  # (the files' PEAK chunks hold a timestamp)
        b, sr_b = sf.read(tmp_path / "new" / "folder" / "warm.wav", dtype="float32")
        assert sr_a == sr_b and a.shape == b.shape and np.abs(a).max() > 0.01
        np.testing.assert_array_equal(a, b)
        assert (tmp_path / "cold.mid").read_bytes() == (tmp_path / "new" / "folder" / "warm.mid").read_bytes()
        status = _topline("sidecar", "--status", "--connection-file", str(cf))
        assert status.returncode == 0 and '"state": "ready"' in status.stdout
        stop = _topline("sidecar", "--stop", "--connection-file", str(cf))
        assert stop.returncode == 0, stop.stderr
        deadline = time.monotonic() + 5
        while pid_alive(info.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pid_alive(info.pid) and not cf.exists()
    finally:
        if cf.exists():
            m = SidecarManager(connection_file=cf)
            m.info = ConnectionInfo.read(cf)
            m.kill(term_timeout=0.5)


def test_sidecar_command_runs_in_the_foreground_until_stopped(tmp_path: Path) -> None:
    cf = tmp_path / "fg.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "host_bridge.cli", "sidecar", "--connection-file", str(cf),
                             "--pipeline", TONE], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not cf.exists():
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate(timeout=5)
            time.sleep(0.05)
        assert _topline("sidecar", "--stop", "--connection-file", str(cf)).returncode == 0
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_bridge_command_serves_osc(tmp_path: Path, files: dict[str, Path]) -> None:
    session = tmp_path / "song.ardour"
    session.write_text("<Session/>")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TOPLINE_TONE_RTF": "0.05"}
    proc = subprocess.Popen([sys.executable, "-m", "host_bridge.cli", "bridge", "--session", str(session),
                             "--osc-port", str(port), "--connection-file", str(tmp_path / "b.json"),
                             "--sidecar-pipeline", TONE], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"OSC on 127.0.0.1:{port}" in line, proc.stderr.read() if proc.stderr else ""
        peer = OscPeer(("127.0.0.1", port))
        peer.send("/topline/generate", str(files["instrumental"]), str(files["lyrics"]), str(files["melody"]))
        done = peer.wait_for("/topline/done", 30)[0]
        assert Path(done[1]).parent == tmp_path / "Topline Takes"
        proc.terminate()
        assert proc.wait(15) == 0
        assert not (tmp_path / "b.json").exists(), "the bridge left its sidecar running"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
