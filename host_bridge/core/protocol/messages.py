"""The message model of the wire: version, limits, heartbeat policy, :class:`Message`, its
buffers and the protocol's errors (see :mod:`host_bridge.core.protocol` for the format)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol, Union

import numpy as np

from host_bridge.core.errors import ToplineError

PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS = (1,)
MAX_HEADER_BYTES = 1 << 20
DEFAULT_MAX_MESSAGE_BYTES = 512 << 20
"""Largest message (header + buffers) a peer accepts unless configured otherwise: a 20-minute
96 kHz stereo float32 instrumental is 461 MB."""

REQUESTS = frozenset({"hello", "generate", "audition", "compose", "analyze", "artist_create", "cancel", "status",
                      "artists", "shutdown", "ping", "release"})
REPLIES = frozenset({"hello_reply", "status_reply", "artists_reply", "shutdown_reply", "cancel_reply", "pong",
                     "accepted", "progress", "chunk", "part", "done", "error"})
JOB_REQUESTS = frozenset({"generate", "audition"})
"""Requests that make a job from a :class:`~host_bridge.core.protocol.jobs.JobSpec` (a take comes back)."""
TASK_REQUESTS = frozenset({"compose", "analyze", "artist_create"})
"""Requests that make a job from a :class:`~host_bridge.core.protocol.tasks.TaskSpec`: the CLI's model
work other than singing (a result comes back in ``done``)."""
JOB_EVENTS = frozenset({"accepted", "progress", "chunk", "part", "done", "error"})
"""``part``: a piece of an audition clip, sent only to an audition that asked for ``stream_clips``."""
AUDIO_DTYPES = frozenset({"float32", "float64", "int16", "int32"})

# The heartbeat, one policy for every client (the bridge's supervisor, the VST3's worker; also in
# tests/golden/protocol_vectors.json): ping when nothing came from the sidecar for PING_INTERVAL_S;
# any readable message is a beat; nothing for DEAD_AFTER_S: dead (reconnect or restart, resubmit).
# Margin: the slowest pong seen under load (2 cores, load average 9-11) took 0.11 s.
PING_INTERVAL_S = 0.25
DEAD_AFTER_S = 1.5
STALL_AFTER_S = 300.0
"""A pong whose ``stalled_s`` (seconds since the running job last progressed) exceeds this: hung."""

Frame = Union[bytes, bytearray, memoryview]


class ProtocolError(ToplineError):
    """A message that cannot be read. ``code`` says which rule it broke."""

    code = "bad_message"

    def __init__(self, message: str, hint: str = "", code: str = "bad_message", re: str | None = None) -> None:
        super().__init__(message, hint)
        self.code = code
        self.re = re
        """The id of the offending request, when it could be read (so the error reply names it)."""


class RemoteError(ToplineError):
    """An error the other side reported; ``code`` is the one it sent."""

    def __init__(self, code: str, message: str, hint: str = "") -> None:
        super().__init__(message, hint)
        self.code = code


@dataclass(frozen=True)
class Audio:
    """An audio buffer on the wire: ``array`` [C, T] (or [T]) with its sample rate."""

    array: np.ndarray
    sample_rate: int
    shm: str | None = None
    """The shared-memory slot the array views, when it came that way (release it once read)."""


Buffer = Union[Audio, bytes]


@dataclass
class Message:
    type: str
    id: str = field(default_factory=lambda: new_id())
    body: dict[str, Any] = field(default_factory=dict)
    re: str | None = None
    """The request this message answers (replies and job events)."""
    buffers: dict[str, Buffer] = field(default_factory=dict)
    v: int = PROTOCOL_VERSION


def new_id() -> str:
    return uuid.uuid4().hex


class ShmWriter(Protocol):
    def put(self, array: np.ndarray) -> str | None:
        """Store the bytes of ``array``; the slot name, or None to send a frame instead."""


class ShmReader(Protocol):
    def view(self, name: str, dtype: str, shape: list[int]) -> np.ndarray:
        """A read-only view of slot ``name``; ValueError when it cannot be read."""

