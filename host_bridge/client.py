"""One connection from a bridge to a sidecar: a ZeroMQ DEALER socket speaking host_bridge.core.protocol.

Single-threaded and timeout-bound everywhere: ``recv`` never blocks longer than asked, and a
frame that cannot be read is logged, counted and skipped (a garbled sidecar must not take the
bridge down). Requests wait for the reply that names them; job events that arrive meanwhile
are kept in ``backlog`` for the session loop (:mod:`host_bridge.supervisor`).
"""
from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
import zmq

from host_bridge.core import protocol as P
from host_bridge.core.connection import ConnectionInfo
from host_bridge.core.errors import ToplineError
from host_bridge.core.shm import ShmArena, ShmMaps, shm_available

log = logging.getLogger(__name__)


class SidecarError(ToplineError):
    """The sidecar cannot be reached, died too often, or did not answer in time."""

    code = "sidecar"


class ProtocolMismatch(SidecarError):
    """The sidecar speaks no protocol version this bridge speaks (a bridge and a sidecar from
    different releases). Never retried: another try gets the same answer."""

    code = "protocol_mismatch"


def protocol_mismatch(theirs: object, where: str) -> ProtocolMismatch:
    ours = ", ".join(map(str, P.SUPPORTED_VERSIONS))
    return ProtocolMismatch(f"the sidecar {where} speaks protocol version {theirs}; this topline speaks {ours}",
                            "use a topline and a topline-sidecar from the same release: stop that sidecar "
                            "and start this release's (`topline sidecar`)")


class SidecarClient:
    def __init__(self, info: ConnectionInfo, identity: bytes | None = None, curve_keys: Path | None = None,
                 max_message_bytes: int = P.DEFAULT_MAX_MESSAGE_BYTES, ctx: zmq.Context | None = None) -> None:
        self.info = info
        self.max_message_bytes = max_message_bytes
        self.ctx = ctx or zmq.Context.instance()
        self.identity = identity or b"bridge-" + uuid.uuid4().hex[:12].encode()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.IDENTITY, self.identity)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SNDTIMEO, 5000)
        if info.server_public_key:
            self._setup_curve(info.server_public_key, curve_keys)
        self.sock.connect(info.url)
        self.backlog: deque[P.Message] = deque()
        self.garbage = 0
        """Frames received that could not be decoded (logged and skipped)."""
        self.last_seen = time.monotonic()
        """When the sidecar last sent a readable message."""
        self.arena: ShmArena | None = None
        self.maps: ShmMaps | None = None
        self.use_shm = False
        """Big buffers go through shared memory (agreed in hello with a sidecar on this machine)."""
        self.hello_body: dict[str, Any] = {}
        """The sidecar's last hello reply."""
        self.foreign_version: object = None
        """The protocol version of the last message skipped for speaking another version."""

    def _setup_curve(self, server_key: str, keys: Path | None) -> None:
        if keys is not None:
            from zmq.auth import load_certificate

            public, secret = load_certificate(str(keys))
            if secret is None:
                raise SidecarError(f"{keys} holds no secret key", "pass the bridge's .key_secret file")
        else:
            public, secret = zmq.curve_keypair()
        self.sock.curve_serverkey = server_key.encode("ascii")
        self.sock.curve_publickey = public
        self.sock.curve_secretkey = secret

    # ------------------------------------------------------------------ raw
    def send(self, msg: P.Message, slots: list[str] | None = None) -> None:
        """Send ``msg``; the shared-memory slots its buffers were put in are appended to ``slots``
        (they stay lent until released)."""
        writer = _Recorder(self.arena, slots) if self.use_shm and self.arena is not None else None
        try:
            self.sock.send_multipart(P.encode(msg, writer), copy=False)
        except zmq.Again as e:
            raise SidecarError("the sidecar does not take messages (its queue is full or it is gone)",
                               "check that the sidecar is running (`topline sidecar --status`)") from e

    def recv(self, timeout: float) -> P.Message | None:
        """The next readable message within ``timeout`` seconds (backlog first), else None."""
        if self.backlog:
            return self.backlog.popleft()
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            left = deadline - time.monotonic()
            if not self.sock.poll(max(0, int(left * 1000))):
                return None
            frames = self.sock.recv_multipart(copy=False)
            try:
                msg = P.decode([f.buffer for f in frames], self.max_message_bytes,
                               self.maps if self.use_shm else None)
            except P.ProtocolError as e:
                if e.code == "unsupported_version":  # kept: hello tells a sidecar of another release
                    self.foreign_version = _header_version(frames[0].buffer)
                self.garbage += 1
                log.warning("skipped an unreadable message from the sidecar: %s", e)
                continue
            self.last_seen = time.monotonic()
            return msg

    # ------------------------------------------------------------------ requests
    def request(self, msg: P.Message, reply_type: str, timeout: float) -> P.Message:
        """Send ``msg`` and wait for the ``reply_type`` (or error) naming it; other messages go to
        ``backlog``. Raises SidecarError on timeout and the remote error on an error reply."""
        self.send(msg)
        deadline = time.monotonic() + timeout
        held: list[P.Message] = []
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SidecarError(f"the sidecar did not answer {msg.type} within {timeout:.1f} s",
                                       "it may be hung or overloaded; restart it (`topline sidecar --stop`)")
                got = self._recv_socket(left)
                if got is None:
                    continue
                if got.re == msg.id and got.type in (reply_type, "error"):
                    if got.type == "error":
                        raise P.remote_error(got)
                    return got
                held.append(got)
        finally:
            self.backlog.extend(held)

    def _recv_socket(self, timeout: float) -> P.Message | None:
        saved, self.backlog = self.backlog, deque()
        try:
            return self.recv(timeout)
        finally:
            self.backlog = saved

    def hello(self, timeout: float = 5.0, shm: bool = True) -> dict[str, Any]:
        """Say hello; with ``shm``, offer shared memory when the sidecar is on this machine."""
        body: dict[str, Any] = {"versions": list(P.SUPPORTED_VERSIONS)}
        probe = None
        if shm and not self.use_shm and self.info.ip in ("127.0.0.1", "localhost", "::1") and shm_available():
            self.arena = self.arena or ShmArena()
            probe = self.arena.put(np.zeros(self.arena.threshold, np.uint8))
            if probe:
                body["shm"] = probe
        try:
            reply = self.request(P.Message("hello", body=body), "hello_reply", timeout).body
        except SidecarError as e:
            if self.foreign_version is not None:  # it answered, in a version this side cannot read
                raise protocol_mismatch(self.foreign_version, f"at {self.info.url}") from e
            raise
        finally:
            if probe and self.arena is not None:
                self.arena.release([probe])
        theirs = reply.get("versions")
        if isinstance(theirs, list) and not set(theirs) & set(P.SUPPORTED_VERSIONS):
            raise protocol_mismatch(", ".join(map(str, theirs)), f"at {self.info.url}")
        if probe and reply.get("shm") is True:
            self.use_shm = True
            self.maps = self.maps or ShmMaps()
        reply["shm"] = self.use_shm
        self.hello_body = reply
        return reply

    def release(self, msg: P.Message) -> None:
        """Tell the sidecar that the shared-memory slots of a received message were read."""
        names = P.shm_slots(msg)
        if names:
            self.send(P.Message("release", body={"slots": names}))

    def status(self, timeout: float = 5.0) -> dict[str, Any]:
        return self.request(P.Message("status"), "status_reply", timeout).body

    def artists(self, timeout: float = 5.0) -> list[dict[str, Any]]:
        artists: list[dict[str, Any]] = self.request(P.Message("artists"), "artists_reply", timeout).body["artists"]
        return artists

    def shutdown(self, timeout: float = 5.0) -> None:
        self.request(P.Message("shutdown"), "shutdown_reply", timeout)

    def close(self) -> None:
        self.sock.close(linger=0)
        if self.arena is not None:
            self.arena.close()


class _Recorder:
    """A ShmWriter that notes the slots it filled."""

    def __init__(self, arena: ShmArena, slots: list[str] | None) -> None:
        self.arena, self.slots = arena, slots

    def put(self, array: np.ndarray) -> str | None:
        name = self.arena.put(array)
        if name is not None and self.slots is not None:
            self.slots.append(name)
        return name


def _header_version(frame: Any) -> object:
    """The ``v`` of a header frame, for the error message ("?" when unreadable)."""
    import json

    try:
        header = json.loads(bytes(frame))
        return header.get("v", "?") if isinstance(header, dict) else "?"
    except ValueError:
        return "?"
