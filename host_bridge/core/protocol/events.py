"""Replies and job events (accepted, progress, chunk, part, done, error), and the take, clips and
errors read back from them."""
from __future__ import annotations

from typing import Any

import numpy as np

from host_bridge.core import errors as _errors
from host_bridge.core.errors import ToplineError
from host_bridge.core.model import Score, Take
from host_bridge.core.reel import Clip, ClipPart
from host_bridge.core.protocol.messages import Audio, Buffer, Message, ProtocolError, RemoteError


def reply(req: Message | str, mtype: str, body: dict[str, Any] | None = None,
          buffers: dict[str, Buffer] | None = None) -> Message:
    """A reply or job event answering ``req`` (a Message or a request id)."""
    return Message(mtype, body=body or {}, re=req if isinstance(req, str) else req.id, buffers=buffers or {})


def shm_slots(msg: Message) -> list[str]:
    """The shared-memory slots a received message's buffers view."""
    return [b.shm for b in msg.buffers.values() if isinstance(b, Audio) and b.shm]


def error_reply(re: str | None, err: ToplineError) -> Message:
    return Message("error", body={"code": err.code, "message": err.message, "hint": err.hint}, re=re)


def progress_event(job_id: str, stage: str, frac: float) -> Message:
    return reply(job_id, "progress", {"stage": stage, "frac": round(float(frac), 4)})


def chunk_event(job_id: str, audio: np.ndarray, sample_rate: int, start_sample: int, index: int) -> Message:
    """A rendered phrase: float32 [C, T] at the session rate; ``start_sample`` is its session position."""
    return reply(job_id, "chunk", {"start_sample": int(start_sample), "index": int(index)},
                 {"audio": Audio(audio, sample_rate)})


def clip_event(job_id: str, take: Take, index: int, ready_s: float) -> Message:
    """An audition clip, as soon as it is ready: a ``chunk`` event naming the artist in ``clip``
    (its session position in ``start_sample``; the artist's wet stem in buffer ``wet`` if any)."""
    bufs: dict[str, Buffer] = {"audio": Audio(take.audio, take.sample_rate)}
    if take.wet is not None:
        bufs["wet"] = Audio(take.wet, take.sample_rate)
    return reply(job_id, "chunk", {"start_sample": int(take.start_sample), "index": int(index), "clip": take.artist,
                                   "ready_s": round(float(ready_s), 3)}, bufs)


def clip_from_chunk(msg: Message) -> Clip:
    """An audition clip from its ``chunk`` event (:func:`clip_event`); the audio is copied out."""
    audio, wet = msg.buffers.get("audio"), msg.buffers.get("wet")
    b = msg.body
    if msg.type != "chunk" or not isinstance(audio, Audio) or not isinstance(b.get("clip"), str):
        raise ProtocolError("chunk event without an audition clip", "send clip_event()", re=msg.re)
    try:
        take = Take(audio=np.array(audio.array, dtype=np.float32, ndmin=2), sample_rate=audio.sample_rate,
                    start_sample=int(b["start_sample"]), score=Score(()), artist=b["clip"], engine="",
                    wet=np.array(wet.array, dtype=np.float32, ndmin=2) if isinstance(wet, Audio) else None)
        return Clip(b["clip"], take, int(b["index"]), float(b.get("ready_s", 0.0)))
    except (KeyError, TypeError, ValueError, AssertionError) as e:
        raise ProtocolError(f"audition clip is malformed: {e}", "send clip_event()", re=msg.re) from e


def part_event(job_id: str, part: ClipPart) -> Message:
    """A piece of an audition clip (one rendered phrase, the preview level of a take's chunks) as
    soon as it is rendered, for an audition that asked for ``stream_clips``."""
    return reply(job_id, "part", {"start_sample": int(part.start_sample), "clip": part.artist,
                                  "clip_index": int(part.clip_index), "part": int(part.part),
                                  "ready_s": round(float(part.ready_s), 3)},
                 {"audio": Audio(part.audio, part.sample_rate)})


def part_from_event(msg: Message) -> ClipPart:
    """A clip's piece from its ``part`` event (:func:`part_event`); the audio is copied out."""
    audio, b = msg.buffers.get("audio"), msg.body
    ints = [b.get(k) for k in ("start_sample", "clip_index", "part")]
    if (msg.type != "part" or not isinstance(audio, Audio) or not isinstance(b.get("clip"), str)
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in ints)):
        raise ProtocolError("part event without a clip, its index, part and start", "send part_event()", re=msg.re)
    ready = b.get("ready_s", 0.0)
    return ClipPart(b["clip"], int(b["clip_index"]), int(b["part"]), np.array(audio.array, np.float32, ndmin=2),
                    audio.sample_rate, int(b["start_sample"]),
                    float(ready) if isinstance(ready, (int, float)) and not isinstance(ready, bool) else 0.0)


def done_event(job_id: str, take: Take) -> Message:
    bufs: dict[str, Buffer] = {"audio": Audio(take.audio, take.sample_rate)}
    if take.wet is not None:
        bufs["wet"] = Audio(take.wet, take.sample_rate)
    return reply(job_id, "done", {"take": take.metadata()}, bufs)


def take_from_done(msg: Message) -> Take:
    md = msg.body.get("take")
    audio = msg.buffers.get("audio")
    if msg.type != "done" or not isinstance(md, dict) or not isinstance(audio, Audio):
        raise ProtocolError("done event without a take", "send the take's metadata and its audio buffer", re=msg.re)
    try:
        a = np.array(audio.array, dtype=np.float32, ndmin=2)
        wet = msg.buffers.get("wet")
        return Take(audio=a, sample_rate=audio.sample_rate, start_sample=int(md["start_sample"]),
                    score=Score.from_dict(md["score"]), artist=str(md["artist"]), engine=str(md["engine"]),
                    seed=int(md.get("seed", 0)), timings={str(k): float(v) for k, v in md.get("timings", {}).items()},
                    register=dict(md.get("register", {})),
                    wet=np.array(wet.array, dtype=np.float32, ndmin=2) if isinstance(wet, Audio) else None)
    except (KeyError, TypeError, ValueError) as e:
        raise ProtocolError(f"take metadata is malformed: {e}", "send Take.metadata()", re=msg.re) from e


def remote_error(msg: Message) -> ToplineError:
    """An ``error`` event -> the matching exception of :mod:`host_bridge.core.errors` (same code,
    message and hint), or :class:`RemoteError` for codes this side does not know."""
    code = str(msg.body.get("code", "topline_error"))
    text = str(msg.body.get("message", "the sidecar reported an error"))
    hint = str(msg.body.get("hint", ""))
    for cls in _error_classes():
        if cls.code == code:
            return cls(text, hint)
    return RemoteError(code, text, hint)


def _error_classes() -> list[type[ToplineError]]:
    out: list[type[ToplineError]] = []
    for obj in vars(_errors).values():
        if isinstance(obj, type) and issubclass(obj, ToplineError) and obj is not ToplineError:
            out.append(obj)
    return out
