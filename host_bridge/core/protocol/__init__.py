"""The wire format between the bridge and the sidecar: pure ``frames <-> Message`` functions.

No sockets here and no inference imports (the DAW side never loads torch); transports live in
:mod:`host_bridge.client` and :mod:`inference.server`. Like python-osc's ``osc_types`` layer,
everything is a pure function over bytes, so golden-bytes tests pin the format.

A message is a ZeroMQ multipart message::

    frame 0      JSON header, UTF-8, compact, sorted keys:
                 {"v": 1, "id": "<this message>", "type": "generate", "re": "<request it answers>",
                  "body": {...}, "buffers": [{"name": "instrumental", "dtype": "float32",
                  "shape": [2, 8640000], "sample_rate": 48000}, {"name": "melody_midi", "nbytes": 312}]}
    frames 1..n  the buffers' raw bytes, in header order (little-endian, C order), never base64

Requests (bridge -> sidecar): hello, generate, audition, compose, analyze, artist_create, cancel,
status, artists, shutdown, ping, release (shared-memory slots read; no reply).
Replies name their request in ``re``: hello_reply, status_reply, artists_reply, shutdown_reply,
cancel_reply, pong, and the job events accepted, progress, chunk (a rendered phrase at its session position),
done (the take, or a task's result) and error (code + message + hint, the fields of :mod:`host_bridge.core.errors`).
A job's id is the id of the generate/audition request that made it; every event of the job
carries it in ``re``, so a resubmitted job (same id) is recognised on both sides.

Between peers on one machine that agreed to it in hello, a big audio buffer may travel through
shared memory instead of a frame: its spec then names a slot (``"shm": "topline-<pid>-<n>"``)
and no frame follows for it. The functions here stay pure: the slot store is passed in
(:mod:`host_bridge.core.shm` implements it).

The package, one module per layer: :mod:`.messages` (the message model, limits, heartbeat
policy, errors), :mod:`.codec` (frames <-> Message), :mod:`.jobs` (generate/audition requests),
:mod:`.tasks` (compose/analyze/artist_create requests and their results), :mod:`.events` (replies
and job events); everything is re-exported here.
"""
from __future__ import annotations

from host_bridge.core.protocol.codec import _dumps, decode, encode
from host_bridge.core.protocol.events import (chunk_event, clip_event, clip_from_chunk, done_event, error_reply,
                                              part_event, part_from_event, progress_event, remote_error, reply,
                                              shm_slots, take_from_done)
from host_bridge.core.protocol.jobs import JobSpec, ProgressCallback, TakeSource, job_request, job_spec
from host_bridge.core.protocol.tasks import TaskResult, TaskSpec, result_event, result_from_done, task_request, task_spec
from host_bridge.core.protocol.messages import (AUDIO_DTYPES, DEAD_AFTER_S, DEFAULT_MAX_MESSAGE_BYTES, JOB_EVENTS,
                                                JOB_REQUESTS, MAX_HEADER_BYTES, PING_INTERVAL_S, PROTOCOL_VERSION, REPLIES,
                                                REQUESTS, STALL_AFTER_S, SUPPORTED_VERSIONS, TASK_REQUESTS, Audio, Buffer, Frame,
                                                Message, ProtocolError, RemoteError, ShmReader, ShmWriter, new_id)

__all__ = [
    "AUDIO_DTYPES", "DEAD_AFTER_S", "DEFAULT_MAX_MESSAGE_BYTES", "JOB_EVENTS", "JOB_REQUESTS", "MAX_HEADER_BYTES",
    "PING_INTERVAL_S", "PROTOCOL_VERSION", "REPLIES", "REQUESTS", "STALL_AFTER_S", "SUPPORTED_VERSIONS", "TASK_REQUESTS",
    "Audio", "Buffer", "Frame", "JobSpec", "Message", "ProgressCallback", "ProtocolError", "RemoteError", "ShmReader", "ShmWriter",
    "TakeSource", "TaskResult", "TaskSpec", "_dumps", "chunk_event", "clip_event", "clip_from_chunk", "decode", "done_event", "encode", "error_reply",
    "job_request", "job_spec", "new_id", "part_event", "part_from_event", "progress_event", "remote_error", "reply", "result_event",
    "result_from_done", "shm_slots", "take_from_done", "task_request", "task_spec",
]
