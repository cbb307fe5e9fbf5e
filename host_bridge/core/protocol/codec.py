"""Frames <-> :class:`~host_bridge.core.protocol.messages.Message`: the pure encoder and the total
decoder (every size, depth, number and buffer rule checked before use)."""
from __future__ import annotations

import json
import math
from typing import Any, Sequence

import numpy as np

from host_bridge.core.protocol.messages import (AUDIO_DTYPES, DEFAULT_MAX_MESSAGE_BYTES, MAX_HEADER_BYTES, REPLIES,
                                                REQUESTS, SUPPORTED_VERSIONS, Audio, Buffer, Frame, Message,
                                                ProtocolError, ShmReader, ShmWriter)
from host_bridge.core.wire_limits import MAX_BUFFERS, MAX_DIM, MAX_JSON_DEPTH, MAX_SAMPLE_RATE, dims_ok, no_constant, short, walk


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

