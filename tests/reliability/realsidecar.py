"""A real sidecar process (the tone engine through the real pipeline and server loop) for the
reliability tests, and raw DEALER sockets that speak to it as any local process could.

Reuses tests/integration's tone engine and command line; the fixtures are imported by the test
modules (``from realsidecar import sidecar``)."""
from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import zmq

INTEGRATION = Path(__file__).resolve().parents[1] / "integration"
if str(INTEGRATION) not in sys.path:
    sys.path.insert(0, str(INTEGRATION))

from host_bridge.core import protocol as P  # noqa: E402
from host_bridge.core.connection import ConnectionInfo  # noqa: E402
from host_bridge.supervisor import SidecarManager, sidecar_command  # noqa: E402

TONE = f"{INTEGRATION / 'tone.py'}:TonePipeline"


class Peer:
    """A raw DEALER socket on the sidecar: sends any frames, reads replies (decoded or not)."""

    def __init__(self, info: ConnectionInfo, ctx: zmq.Context, identity: bytes | None = None) -> None:
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.IDENTITY, identity or b"peer-" + uuid.uuid4().hex[:10].encode())
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(info.url)

    def send_frames(self, frames: list[Any]) -> None:
        self.sock.send_multipart(frames, copy=True)

    def send(self, msg: P.Message) -> None:
        self.send_frames([bytes(f) for f in P.encode(msg)])

    def recv(self, timeout: float) -> P.Message | None:
        if not self.sock.poll(int(timeout * 1000)):
            return None
        return P.decode(self.sock.recv_multipart())

    def wait(self, re: str, types: tuple[str, ...], timeout: float = 5.0) -> P.Message:
        """The first message answering ``re`` with one of ``types`` (others are skipped)."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.recv(deadline - time.monotonic())
            if m is not None and m.re == re and m.type in types:
                return m
        raise AssertionError(f"no {types} for {re} within {timeout} s")

    def drain(self, timeout: float = 0.05) -> list[P.Message]:
        out = []
        while (m := self.recv(timeout)) is not None:
            out.append(m)
        return out

    def ping(self, timeout: float = 5.0) -> P.Message:
        msg = P.Message("ping")
        self.send(msg)
        return self.wait(msg.id, ("pong",), timeout)

    def close(self) -> None:
        self.sock.close(linger=0)


class Sidecar:
    def __init__(self, manager: SidecarManager) -> None:
        self.manager = manager
        self.ctx = zmq.Context()
        self.peers: list[Peer] = []

    @property
    def info(self) -> ConnectionInfo:
        assert self.manager.info is not None
        return self.manager.info

    @property
    def pid(self) -> int:
        assert self.manager.proc is not None
        return self.manager.proc.pid

    def alive(self) -> bool:
        return self.manager.proc is not None and self.manager.proc.poll() is None

    def peer(self, identity: bytes | None = None) -> Peer:
        p = Peer(self.info, self.ctx, identity)
        self.peers.append(p)
        return p

    def rss_mb(self) -> float:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0


@pytest.fixture
def sidecar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sidecar]:
    """A running tone sidecar on a private connection file; killed after the test."""
    monkeypatch.setenv("TOPLINE_TONE_RTF", os.environ.get("TOPLINE_TONE_RTF", "0.05"))
    m = SidecarManager(sidecar_command(["--pipeline", TONE, "-v"]), tmp_path / "sidecar.json", start_timeout=30.0)
    client = m.start()
    client.close()
    s = Sidecar(m)
    try:
        yield s
    finally:
        for p in s.peers:
            p.close()
        s.ctx.term()
        m.kill(term_timeout=0.5)


@pytest.fixture
def slow_sidecar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sidecar]:
    """A tone sidecar that renders in real time (a 12 s take takes ~12 s): long enough to
    interrupt, and to tell a cancelled job from one left running."""
    monkeypatch.setenv("TOPLINE_TONE_RTF", "1.0")
    m = SidecarManager(sidecar_command(["--pipeline", TONE, "-v"]), tmp_path / "slow.json", start_timeout=30.0)
    m.start().close()
    s = Sidecar(m)
    try:
        yield s
    finally:
        for p in s.peers:
            p.close()
        s.ctx.term()
        m.kill(term_timeout=0.5)
