"""The CLI's model work other than singing, as jobs on the sidecar: ``compose`` (a melody for the
lyrics over an instrumental), ``analyze`` (tempo, key, chords and sections of an instrumental)
and ``artist_create`` (an artist that sounds like a reference vocal).

A task request carries ``{"options": {...}}`` (JSON values, read by the sidecar's task) and its
inputs as buffers: ``audio`` (the instrumental, or the reference vocal), ``melody_midi`` (bytes).
It is queued, cancelled and resubmitted like a generate job (``key``, ``priority``), and answers
with the same events: accepted, progress, then ``done`` whose body holds ``result`` (JSON) and
whose buffers are files the task made (a picture, a preset), or ``error``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from host_bridge.core.protocol.messages import TASK_REQUESTS, Audio, Buffer, Message, ProtocolError, new_id
from host_bridge.core.wire_limits import short


@dataclass(frozen=True)
class TaskSpec:
    """What a compose/analyze/artist_create request asks for."""

    kind: str
    options: dict[str, Any] = field(default_factory=dict)
    audio: np.ndarray | None = None
    """float32 [C, T] at ``sample_rate``: the instrumental (compose, analyze) or the reference vocal."""
    sample_rate: int = 0
    melody_midi: bytes | None = None

    @property
    def nbytes(self) -> int:
        return (self.audio.nbytes if self.audio is not None else 0) + len(self.melody_midi or b"")


@dataclass(frozen=True)
class TaskResult:
    """What a finished task sends back: ``result`` (JSON values) and ``files`` (name -> bytes)."""

    result: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)


def task_request(spec: TaskSpec, job_id: str | None = None, priority: int | None = None,
                 key: str | None = None) -> Message:
    """A task request (see the module's docstring); ``key`` as for :func:`~host_bridge.core.protocol.job_request`."""
    if spec.kind not in TASK_REQUESTS:
        raise ValueError(f"kind must be one of {sorted(TASK_REQUESTS)}")
    body: dict[str, Any] = {"options": dict(spec.options)}
    if key is not None:
        body["key"] = key
    if priority is not None:
        body["priority"] = int(priority)
    bufs: dict[str, Buffer] = {}
    if spec.audio is not None:
        bufs["audio"] = Audio(spec.audio, spec.sample_rate)
    if spec.melody_midi is not None:
        bufs["melody_midi"] = bytes(spec.melody_midi)
    return Message(spec.kind, id=job_id or new_id(), body=body, buffers=bufs)


def task_spec(msg: Message) -> TaskSpec:
    """compose/analyze/artist_create Message -> TaskSpec, checking the structure (the task checks
    its options' values)."""
    def bad(what: str, hint: str) -> ProtocolError:
        return ProtocolError(f"{msg.type}: {what}", hint, re=msg.id)

    if msg.type not in TASK_REQUESTS:
        raise bad("is not a task", f"send one of {', '.join(sorted(TASK_REQUESTS))}")
    options = msg.body.get("options", {})
    if not isinstance(options, dict):
        raise bad(f"options is {short(options)}", "send the task's options as an object")
    key = msg.body.get("key")
    if key is not None and (not isinstance(key, str) or not 16 <= len(key) <= 128):
        raise bad("key is not a string of 16-128 characters", "send the job's secret key as hex text, or leave it out")
    audio = msg.buffers.get("audio")
    if audio is not None and not isinstance(audio, Audio):
        raise bad("audio is not an audio buffer", "send the recording as float32 audio")
    midi = msg.buffers.get("melody_midi")
    if midi is not None and not isinstance(midi, bytes):
        raise bad("melody_midi is audio", "send the MIDI file as a bytes buffer")
    return TaskSpec(msg.type, options, audio.array if audio is not None else None,
                    audio.sample_rate if audio is not None else 0, midi)


def result_event(job_id: str, result: dict[str, Any], files: dict[str, bytes] | None = None) -> Message:
    """The ``done`` event of a task: its result and the files it made."""
    return Message("done", body={"result": result}, re=job_id, buffers=dict(files or {}))


def result_from_done(msg: Message) -> TaskResult:
    result = msg.body.get("result")
    if msg.type != "done" or not isinstance(result, dict):
        raise ProtocolError("done event without a task result", "send the task's result object", re=msg.re)
    files = {k: bytes(v) for k, v in msg.buffers.items() if isinstance(v, bytes)}
    return TaskResult(result, files)
