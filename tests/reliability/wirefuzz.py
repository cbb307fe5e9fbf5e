"""Hostile frames for the sidecar's socket: random bytes, bit flips of real messages, and
structure-aware breakage of every header field (wrong types, deep nesting, huge numbers,
non-UTF-8, mismatched buffers). Shared by the wire fuzz test and benchmarks/soak_faults.py.

Every case is invalid by construction in a way that never starts a render (a job request keeps
``length_samples`` out of range), so a fuzz run costs no engine time; what it exercises is the
decoder, the handlers and the loop.
"""
from __future__ import annotations

import json
import random
from typing import Any, Callable

HOSTILE: list[Any] = [
    None, True, False, 0, -1, 10 ** 30, 2 ** 63, -(2 ** 63) - 1, 1.5, -0.0, "", "x" * 5000, "\u202e\ud7ff",
    [], {}, [1, 2], ["generate"], {"a": 1}, [[[[[[]]]]]], {"dtype": ["float32"]}, "float32", "generate",
]
_KINDS = ("ping", "status", "artists", "hello", "cancel", "release", "generate", "audition", "shutdown_like")


def _template(rng: random.Random, kind: str) -> tuple[dict[str, Any], list[bytes]]:
    mid = f"f{rng.getrandbits(48):x}"
    h: dict[str, Any] = {"v": 1, "id": mid, "type": kind, "body": {}}
    frames: list[bytes] = []
    if kind == "hello":
        h["body"] = {"versions": [1], "shm": rng.choice(["topline-1-1", f"topline-{rng.randint(2, 99999)}-0",
                                                         "../../etc/passwd", "topline-x", "/dev/zero"])}
    elif kind == "cancel":
        h["body"] = {"job": rng.choice([mid, "", "x" * 200]), "key": rng.choice(["0" * 32, 5])}
    elif kind == "release":
        h["body"] = {"slots": [f"topline-{rng.randint(1, 9)}-{rng.randint(0, 9)}"]}
    elif kind == "shutdown_like":
        h["type"] = rng.choice(["pong", "done", "chunk", "error", "accepted", "hello_reply", "shutdown "])
    elif kind in ("generate", "audition"):
        n = rng.choice([0, 1, 4, 16])
        h["body"] = {"lyrics_text": "la la", "sample_rate": 48000, "length_samples": -1, "start_sample": 0,
                     "seed": 0, "channels": 1, "artist": "alpha", "lyrics_source": "l", "melody_source": "m",
                     "tempo_map": {"tempos": [[0, 120]], "meters": [[1, 4, 4]]}, "bars": None}
        h["buffers"] = [{"name": "instrumental", "dtype": "float32", "shape": [1, n], "sample_rate": 48000},
                        {"name": "melody_midi", "nbytes": 4}]
        frames = [bytes(4 * n), b"MThd"]
    return h, frames


def _dumps(h: Any) -> bytes:
    return json.dumps(h, separators=(",", ":")).encode()


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, prefix + (i,))
    return out


def _set(obj: Any, path: tuple[Any, ...], value: Any) -> None:
    for k in path[:-1]:
        obj = obj[k]
    obj[path[-1]] = value


def _field(rng: random.Random, h: dict[str, Any], frames: list[bytes]) -> list[bytes]:
    path = rng.choice(_paths(h))
    if path[-1] == "length_samples":
        path = ("type",)  # keep every job request invalid: never start a render
    _set(h, path, rng.choice(HOSTILE))
    return [_dumps(h), *frames]


def _deep(rng: random.Random, h: dict[str, Any], frames: list[bytes]) -> list[bytes]:
    depth = rng.choice([33, 200, 990, 5000, 100_000])
    opener, closer = rng.choice([("[", "]"), ('{"a":', "}")])
    nested = opener * depth + "1" + closer * depth
    where = rng.choice(["body", "type", "buffers", "v", "top"])
    if where == "top":
        return [nested.encode(), *frames]
    text = _dumps({**h, where: "@@"}).decode().replace('"@@"', nested)
    return [text.encode(), *frames]


def _flip(rng: random.Random, h: dict[str, Any], frames: list[bytes]) -> list[bytes]:
    raw = bytearray(_dumps(h))
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(raw))
        raw[i] ^= 1 << rng.randrange(8)
    return [bytes(raw), *frames]


def _bytes(rng: random.Random, h: dict[str, Any], frames: list[bytes]) -> list[bytes]:
    n = rng.choice([0, 1, 7, 64, 300])
    out = [rng.randbytes(n)]
    return out + [rng.randbytes(rng.randint(0, 64)) for _ in range(rng.randint(0, 3))]


def _buffers(rng: random.Random, h: dict[str, Any], frames: list[bytes]) -> list[bytes]:
    spec = {"name": rng.choice(["audio", "", "x" * 100, 7]), "sample_rate": rng.choice([48000, 0, -1, 10 ** 12, "48k"])}
    choice = rng.randrange(6)
    if choice == 0:
        spec |= {"dtype": rng.choice([["float32"], {"x": 1}, "float16", "object", "<f4", 1]), "shape": [1, 1]}
    elif choice == 1:
        spec |= {"dtype": "float32", "shape": rng.choice([[2 ** 40, 2 ** 40], [-1], [1, 2, 3], "12", [True], [1.5]])}
    elif choice == 2:
        spec |= {"dtype": "float32", "shape": [1, 4], "shm": rng.choice(["topline-1-1", 5, "/etc/passwd", []])}
    elif choice == 3:
        spec |= {"nbytes": rng.choice([10 ** 20, -1, "4", True, None])}
    elif choice == 4:
        return [_dumps({**h, "buffers": rng.choice([{}, "x", 5, [1, 2], [[]]])}), *frames]
    else:
        return [_dumps({**h, "buffers": [spec] * rng.randint(0, 40)}), *([b"\0" * 4] * rng.randint(0, 3))]
    return [_dumps({**h, "buffers": [spec]}), *([bytes(16)] if "shm" not in spec else [])]


def _text(rng: random.Random, h: dict[str, Any], frames: list[bytes]) -> list[bytes]:
    raw = _dumps(h)
    choice = rng.randrange(5)
    if choice == 0:
        return [raw[: rng.randrange(len(raw))], *frames]  # cut short
    if choice == 1:
        return [raw.replace(b'"type"', b'"typ\xff"', 1), *frames]  # not UTF-8
    if choice == 2:
        return [raw.replace(b'"v":1', rng.choice([b'"v":NaN', b'"v":1e999', b'"v":Infinity', b'"v":1.0']), 1), *frames]
    if choice == 3:
        return [raw.replace(b'"id":', b'"id":' + b"9" * rng.choice([10, 5000]) + b',"x":', 1), *frames]
    return [raw, *frames, *([b"extra"] * rng.randint(1, 3))]


MUTATORS: list[Callable[[random.Random, dict[str, Any], list[bytes]], list[bytes]]] = [
    _field, _field, _field, _deep, _flip, _flip, _bytes, _buffers, _buffers, _text, _text]


def cases(seed: int, n: int) -> list[list[bytes]]:
    """``n`` hostile multipart messages (lists of frames), reproducible from ``seed``."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        h, frames = _template(rng, rng.choice(_KINDS))
        out.append(rng.choice(MUTATORS)(rng, h, frames))
    return out


NAMED: dict[str, list[bytes]] = {
    "header nested 100,000 deep": [b"[" * 100_000 + b"]" * 100_000],
    "object nested 100,000 deep in body": [b'{"v":1,"id":"d","type":"ping","body":' + b'{"a":' * 100_000 + b"1"
                                           + b"}" * 100_001],
    "type is a list": [b'{"v":1,"id":"t","type":["generate"],"body":{}}'],
    "type is an object": [b'{"v":1,"id":"t2","type":{"a":1},"body":{}}'],
    "dtype is a list": [b'{"v":1,"id":"d1","type":"ping","body":{},"buffers":[{"name":"a","dtype":["float32"],'
                        b'"shape":[1,1],"sample_rate":48000}]}', bytes(4)],
    "shm buffer dtype is a list": [b'{"v":1,"id":"d2","type":"ping","body":{},"buffers":[{"name":"a","dtype":'
                                   b'["float32"],"shape":[1,1],"sample_rate":48000,"shm":"topline-1-1"}]}'],
    "shape of 2**40 x 2**40": [b'{"v":1,"id":"s","type":"ping","body":{},"buffers":[{"name":"a","dtype":"float32",'
                               b'"shape":[1099511627776,1099511627776],"sample_rate":48000}]}', bytes(4)],
    "version NaN": [b'{"v":NaN,"id":"n","type":"ping","body":{}}'],
    "length_samples 10**12": [_dumps({"v": 1, "id": "L", "type": "generate", "body": {
        "lyrics_text": "la", "sample_rate": 48000, "length_samples": 10 ** 12}})],
    "tempo 3.6 BPM": [_dumps({"v": 1, "id": "T", "type": "generate", "body": {
        "lyrics_text": "la", "sample_rate": 48000, "length_samples": -5, "tempo_map": {"tempos": [[0, 3.6]]}}})],
    "tempo map is a list": [_dumps({"v": 1, "id": "T2", "type": "generate", "body": {
        "lyrics_text": "la", "sample_rate": 48000, "length_samples": 48000, "tempo_map": [[0, 120]]}})],
}
"""The frames that killed or misled the sidecar before (issue 22), by name."""
