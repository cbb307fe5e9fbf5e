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

Requests (bridge -> sidecar): hello, generate, audition, cancel, status, artists, shutdown, ping,
release (shared-memory slots read; no reply).
Replies name their request in ``re``: hello_reply, status_reply, artists_reply, shutdown_reply,
cancel_reply, pong, and the job events accepted, progress, chunk (a rendered phrase at its session position),
done (the take) and error (code + message + hint, the fields of :mod:`host_bridge.errors`).
A job's id is the id of the generate/audition request that made it; every event of the job
carries it in ``re``, so a resubmitted job (same id) is recognised on both sides.

Between peers on one machine that agreed to it in hello, a big audio buffer may travel through
shared memory instead of a frame: its spec then names a slot (``"shm": "topline-<pid>-<n>"``)
and no frame follows for it. The functions here stay pure: the slot store is passed in
(:mod:`host_bridge.shm` implements it).
"""
from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence, Union

import numpy as np

from host_bridge import errors as _errors
from host_bridge.errors import ToplineError
from host_bridge.model import Score, Take, TempoMap
from host_bridge.wire_limits import (MAX_BUFFERS, MAX_DIM, MAX_JSON_DEPTH, MAX_SAMPLE_RATE, MAX_TAKE_SECONDS,
                                     TAIL_SECONDS, check_values, dims_ok, no_constant, short, walk)

PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS = (1,)
MAX_HEADER_BYTES = 1 << 20
DEFAULT_MAX_MESSAGE_BYTES = 512 << 20
"""Largest message (header + buffers) a peer accepts unless configured otherwise: a 20-minute
96 kHz stereo float32 instrumental is 461 MB."""

REQUESTS = frozenset({"hello", "generate", "audition", "cancel", "status", "artists", "shutdown", "ping", "release"})
REPLIES = frozenset({"hello_reply", "status_reply", "artists_reply", "shutdown_reply", "cancel_reply", "pong",
                     "accepted", "progress", "chunk", "done", "error"})
JOB_REQUESTS = frozenset({"generate", "audition"})
JOB_EVENTS = frozenset({"accepted", "progress", "chunk", "done", "error"})
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


# ---------------------------------------------------------------------------------------- encode
def _dumps(obj: Any) -> bytes:
    try:
        return json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False,
                          allow_nan=False).encode("utf-8")
    except ValueError as e:
        raise ProtocolError(f"message body cannot be encoded: {e}", "send finite numbers only (no NaN/inf)") from e


def encode(msg: Message, shm: ShmWriter | None = None) -> list[Frame]:
    """Message -> multipart frames. Audio frames are views of the arrays (no copy when the array
    is already C-contiguous little-endian); send them with ``copy=False``. With ``shm``, audio
    buffers it accepts are copied into shared memory and named in the header instead."""
    specs: list[dict[str, Any]] = []
    frames: list[Frame] = []
    for name, buf in msg.buffers.items():
        if isinstance(buf, Audio):
            a = buf.array
            dt = np.dtype(a.dtype)
            if dt.name not in AUDIO_DTYPES:
                raise ProtocolError(f"audio buffer {name!r} has dtype {dt.name}",
                                    f"send one of {', '.join(sorted(AUDIO_DTYPES))} (float32 preferred)")
            a = np.ascontiguousarray(a, dtype=dt.newbyteorder("<"))
            spec = {"name": name, "dtype": dt.name, "shape": list(a.shape), "sample_rate": int(buf.sample_rate)}
            slot = shm.put(a) if shm is not None else None
            if slot is not None:
                spec["shm"] = slot
            else:
                frames.append(memoryview(a.data).cast("B") if a.size else b"")
            specs.append(spec)
        elif isinstance(buf, (bytes, bytearray, memoryview)):
            specs.append({"name": name, "nbytes": len(buf)})
            frames.append(buf)
        else:
            raise TypeError(f"buffer {name!r} is {type(buf).__name__}; give Audio or bytes")
    header: dict[str, Any] = {"v": msg.v, "id": msg.id, "type": msg.type, "body": msg.body}
    if msg.re is not None:
        header["re"] = msg.re
    if specs:
        header["buffers"] = specs
    return [_dumps(header), *frames]


# ---------------------------------------------------------------------------------------- decode
def _nbytes(f: Any) -> int:
    return f.nbytes if isinstance(f, memoryview) else len(f)


def decode(frames: Sequence[Any], max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES, shm: ShmReader | None = None) -> Message:
    """Multipart frames -> Message. Raises :class:`ProtocolError` naming what is wrong; its ``re``
    is the request id whenever the header could be read. Audio arrays are read-only views of the
    frames, or of shared memory through ``shm`` (no copy); without ``shm`` a buffer in shared
    memory is refused."""
    if not frames:
        raise ProtocolError("empty message", "send a JSON header frame first")
    total = sum(_nbytes(f) for f in frames)
    raw = bytes(frames[0]) if _nbytes(frames[0]) <= MAX_HEADER_BYTES else None
    if raw is None:
        raise ProtocolError(f"header of {_nbytes(frames[0])} bytes is over the {MAX_HEADER_BYTES}-byte limit",
                            "send audio and MIDI as binary frames, not inside the JSON header", code="too_large")
    header = _load_header(raw)
    mid = header.get("id")
    re_id = mid if isinstance(mid, str) and 0 < len(mid) <= 128 else None
    v = header.get("v")
    if not isinstance(v, int) or isinstance(v, bool) or v not in SUPPORTED_VERSIONS:
        raise ProtocolError(f"protocol version {short(v)} is not spoken here",
                            f"update the bridge and the sidecar together (this side speaks "
                            f"{', '.join(map(str, SUPPORTED_VERSIONS))})", code="unsupported_version", re=re_id)
    if re_id is None:
        raise ProtocolError(f"message id {short(mid)} is missing or invalid", "give every message a string id (1-128 chars)")
    mtype = header.get("type")
    if not isinstance(mtype, str) or (mtype not in REQUESTS and mtype not in REPLIES):
        raise ProtocolError(f"unknown message type {short(mtype)}", f"send one of {', '.join(sorted(REQUESTS))}",
                            code="unknown_type", re=re_id)
    total += sum(_shm_nbytes(b) for b in header.get("buffers", []) if isinstance(b, dict)) \
        if isinstance(header.get("buffers"), list) else 0
    if total > max_bytes:
        raise ProtocolError(f"message of {total} bytes is over the {max_bytes}-byte limit",
                            "send a shorter instrumental (or render the song in sections with bars)",
                            code="too_large", re=re_id)
    body = header.get("body", {})
    re = header.get("re")
    if not isinstance(body, dict) or (re is not None and not isinstance(re, str)):
        raise ProtocolError("header fields have wrong types", "body must be an object and re a string", re=re_id)
    buffers = _decode_buffers(header.get("buffers", []), frames[1:], re_id, shm)
    return Message(type=mtype, id=re_id, body=body, re=re, buffers=buffers, v=v)


def _load_header(raw: bytes) -> dict[str, Any]:
    """Frame 0 -> the header object, with every size, depth and number rule checked before use."""
    try:
        header = json.loads(raw.decode("utf-8"), parse_constant=no_constant)
    except RecursionError:
        raise _too_deep() from None
    except (UnicodeDecodeError, ValueError) as e:
        raise ProtocolError(f"header is not UTF-8 JSON: {short(str(e))}", "frame 0 must be the JSON header") from None
    if not isinstance(header, dict):
        raise ProtocolError("header is not a JSON object", 'send {"v": 1, "id": ..., "type": ..., "body": {...}}')
    depth_ok, finite = walk(header, MAX_JSON_DEPTH)
    if not depth_ok:
        raise _too_deep()
    if not finite:
        raise ProtocolError("header holds a number too large for a float (like 1e999)", "send finite numbers")
    return header


def _too_deep() -> ProtocolError:
    return ProtocolError(f"header is nested deeper than {MAX_JSON_DEPTH} levels",
                         "send a flat header: audio and MIDI go in binary frames", code="too_large")


def _shm_nbytes(spec: dict[str, Any]) -> int:
    dt, shape = spec.get("dtype"), spec.get("shape")
    if "shm" not in spec or not isinstance(dt, str) or dt not in AUDIO_DTYPES or not dims_ok(shape):
        return 0  # framed, or malformed: _decode_buffers names the problem
    return math.prod(shape) * np.dtype(dt).itemsize


def _decode_buffers(specs: Any, frames: Sequence[Any], re_id: str, shm: ShmReader | None) -> dict[str, Buffer]:
    def bad(what: str) -> ProtocolError:
        return ProtocolError(f"buffers: {what}", "list one buffer spec per binary frame, in order", re=re_id)

    n_framed = sum(1 for s in specs if not (isinstance(s, dict) and "shm" in s)) if isinstance(specs, list) else -1
    if n_framed != len(frames):
        raise bad(f"header lists {n_framed if n_framed >= 0 else '?'} framed buffers, "
                  f"{len(frames)} binary frames came")
    out: dict[str, Buffer] = {}
    it = iter(frames)
    if len(specs) > MAX_BUFFERS:
        raise bad(f"{len(specs)} buffers listed; at most {MAX_BUFFERS}")
    for spec in specs:
        name = spec.get("name") if isinstance(spec, dict) else None
        if not isinstance(name, str) or not 0 < len(name) <= 64 or name in out:
            raise bad(f"spec {short(spec)} needs a unique name (1-64 characters)")
        if "shm" in spec:
            out[spec["name"]] = _shm_audio(spec, shm, bad)
            continue
        f = next(it)
        n = _nbytes(f)
        if "dtype" not in spec:
            if spec.get("nbytes") != n or isinstance(spec.get("nbytes"), bool):
                raise bad(f"{name} says {short(spec.get('nbytes'))} bytes, frame has {n}")
            out[spec["name"]] = bytes(f)
            continue
        dt, shape, sr = _audio_spec(spec, bad)
        want = math.prod(shape) * np.dtype(dt).itemsize
        if want != n:
            raise bad(f"{spec['name']} of shape {shape} {dt} needs {want} bytes, frame has {n}")
        arr = np.frombuffer(f, dtype=np.dtype(dt).newbyteorder("<"), count=math.prod(shape)).reshape(shape)
        out[spec["name"]] = Audio(arr, sr)
    return out


def _audio_spec(spec: dict[str, Any], bad: Any) -> tuple[str, list[int], int]:
    dt, shape, sr = spec.get("dtype"), spec.get("shape"), spec.get("sample_rate")
    if not isinstance(dt, str) or dt not in AUDIO_DTYPES:
        raise bad(f"{spec['name']} has dtype {short(dt)}; use float32")
    if not dims_ok(shape):
        raise bad(f"{spec['name']} has shape {short(shape)}; use [channels, samples] (each below {MAX_DIM})")
    if not isinstance(sr, int) or isinstance(sr, bool) or not 0 < sr <= MAX_SAMPLE_RATE:
        raise bad(f"{spec['name']} has sample rate {short(sr)}")
    return dt, shape, sr


def _shm_audio(spec: dict[str, Any], shm: ShmReader | None, bad: Any) -> Audio:
    dt, shape, sr = _audio_spec(spec, bad)
    if shm is None or not isinstance(spec["shm"], str):
        raise ProtocolError(f"buffer {spec['name']} is in shared memory, which this connection did not agree to",
                            "send audio as binary frames (shared memory is negotiated in hello)",
                            re=bad("").re)
    try:
        return Audio(shm.view(spec["shm"], dt, shape), sr, spec["shm"])
    except ValueError as e:
        raise bad(f"{spec['name']}: {e}") from None


# ---------------------------------------------------------------------------------------- jobs
@dataclass(frozen=True)
class JobSpec:
    """What a generate/audition request asks for: the fields of the sidecar's GenerateRequest,
    kept here (torch-free) so both sides share one definition."""

    lyrics_text: str
    sample_rate: int
    length_samples: int
    tempo_map: TempoMap | None = None
    melody_midi: bytes | None = None
    instrumental: np.ndarray | None = None
    start_sample: int = 0
    artist: str = "alpha"
    seed: int = 0
    bars: tuple[int, int] | None = None
    channels: int = 1
    lyrics_source: str = "lyrics"
    melody_source: str = "melody"
    engine: str = ""
    """Engine override ('' = the artist's engine), e.g. "autosing"."""
    checkpoint: str = ""
    """Checkpoint folder on the sidecar's machine, for engines that load user weights."""
    language: str = ""
    """Language the lyrics are sung in ('' = the lyrics sheet's ``[Language: xx]`` line, else the
    artist's own; see host_bridge.model.language)."""
    artists: tuple[str, ...] = ()
    """Audition only: the artists to sing the section one after another (each clip streams as a
    ``chunk`` event naming its ``clip``; ``done`` carries the A/B reel). Empty: ``artist`` alone."""

    def request_fields(self) -> dict[str, Any]:
        """Keyword arguments for ``inference.pipeline.GenerateRequest``."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "artists"}


_INT_FIELDS = ("sample_rate", "length_samples", "start_sample", "seed", "channels")
_STR_FIELDS = ("lyrics_text", "artist", "lyrics_source", "melody_source")
_OPTIONAL_STR_FIELDS = ("engine", "checkpoint", "language")


def job_request(spec: JobSpec, kind: str = "generate", job_id: str | None = None, priority: int | None = None,
                key: str | None = None) -> Message:
    """A generate (full take) or audition (preview, served first) request. ``key`` is the job's
    secret: only a request or cancel carrying it may take the job over (a reconnected bridge)."""
    if kind not in JOB_REQUESTS:
        raise ValueError(f"kind must be one of {sorted(JOB_REQUESTS)}")
    body: dict[str, Any] = {k: getattr(spec, k) for k in _INT_FIELDS + _STR_FIELDS}
    if key is not None:
        body["key"] = key
    body["tempo_map"] = spec.tempo_map.to_dict() if spec.tempo_map is not None else None
    body["bars"] = list(spec.bars) if spec.bars is not None else None
    if priority is not None:
        body["priority"] = int(priority)
    for k in _OPTIONAL_STR_FIELDS:  # sent only when set, so older peers' messages stay as they were
        if getattr(spec, k):
            body[k] = getattr(spec, k)
    if spec.artists:
        if kind != "audition":
            raise ValueError("only an audition names several artists")
        body["artists"] = list(spec.artists)
    bufs: dict[str, Buffer] = {}
    if spec.melody_midi is not None:
        bufs["melody_midi"] = bytes(spec.melody_midi)
    if spec.instrumental is not None:
        bufs["instrumental"] = Audio(spec.instrumental, spec.sample_rate)
    return Message(kind, id=job_id or new_id(), body=body, buffers=bufs)


def _tempo_map(d: Any, bad: Any) -> TempoMap | None:
    if d is None:
        return None
    if not isinstance(d, dict) or not isinstance(d.get("tempos"), list) or len(d["tempos"]) > 10_000:
        raise bad("tempo_map is malformed", "send {'tempos': [[qn, bpm], ...], 'meters': [[bar, num, den], ...]}")
    return TempoMap.from_dict(d)


def job_spec(msg: Message) -> JobSpec:
    """generate/audition Message -> JobSpec, checking every field's type (values are checked by
    the pipeline, which knows the limits)."""
    b = msg.body

    def bad(what: str, hint: str) -> ProtocolError:
        return ProtocolError(f"{msg.type}: {what}", hint, re=msg.id)

    for k in _INT_FIELDS:
        if k in b and (not isinstance(b[k], int) or isinstance(b[k], bool)):
            raise bad(f"{k} is {short(b[k])}", f"send {k} as an integer")
    for k in _STR_FIELDS + _OPTIONAL_STR_FIELDS:
        if k in b and not isinstance(b[k], str):
            raise bad(f"{k} is {type(b[k]).__name__}", f"send {k} as a string")
    for k in ("lyrics_text", "sample_rate", "length_samples"):
        if k not in b:
            raise bad(f"{k} is missing", f"a {msg.type} request needs lyrics_text, sample_rate and length_samples")
    check_values(b, bad)
    tm = _tempo_map(b.get("tempo_map"), bad)
    bars = b.get("bars")
    if bars is not None:
        if (not isinstance(bars, list) or len(bars) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) and 1 <= x <= 100_000 for x in bars)
                or bars[0] > bars[1]):
            raise bad(f"bars is {short(bars)}", "send bars as [first, last], 1 <= first <= last")
        bars = (bars[0], bars[1])
    midi = msg.buffers.get("melody_midi")
    if midi is not None and not isinstance(midi, bytes):
        raise bad("melody_midi is audio", "send the guide MIDI as a bytes buffer")
    inst = msg.buffers.get("instrumental")
    if inst is not None:
        if not isinstance(inst, Audio):
            raise bad("instrumental is not audio", "send the instrumental as an audio buffer")
        if inst.sample_rate != b["sample_rate"]:
            raise bad(f"instrumental is at {inst.sample_rate} Hz, the session at {b['sample_rate']} Hz",
                      "send the instrumental at the session rate")
        longest = inst.array.shape[-1] + TAIL_SECONDS * b["sample_rate"]
        if b["length_samples"] > longest:
            raise bad(f"length_samples {b['length_samples']} is longer than the instrumental "
                      f"({inst.array.shape[-1]} samples) by more than {TAIL_SECONDS} s",
                      "send the instrumental's length (the stem covers the instrumental)")
    key = b.get("key")
    if key is not None and (not isinstance(key, str) or not 16 <= len(key) <= 128):
        raise bad("key is not a string of 16-128 characters", "send the job's secret key as hex text, or leave it out")
    artists = b.get("artists") or []
    if (not isinstance(artists, list) or len(artists) > 32
            or not all(isinstance(a, str) and 0 < len(a) <= 64 for a in artists)):
        raise bad(f"artists is {short(artists)}", "send artists as a list of up to 32 artist names")
    if artists and msg.type != "audition":
        raise bad("artists is only for an audition", "send one artist in 'artist', or make it an audition")
    kw = {k: b[k] for k in _INT_FIELDS + _STR_FIELDS + _OPTIONAL_STR_FIELDS if k in b}
    return JobSpec(tempo_map=tm, melody_midi=midi, instrumental=inst.array if inst is not None else None,
                   bars=bars, artists=tuple(artists), **kw)


# ---------------------------------------------------------------------------------------- events
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
    """An ``error`` event -> the matching exception of :mod:`host_bridge.errors` (same code,
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
