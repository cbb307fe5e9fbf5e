"""Limits of the wire format, checked before a peer's values are used (see host_bridge.core.protocol).

Pure functions over parsed JSON: how deep a header may nest, which numbers are finite, which
shapes are sane, and the ranges a job's fields may take from their meaning. Kept apart from the
protocol module so each stays readable; the protocol re-exports the constants.
"""
from __future__ import annotations

import math
from typing import Any, Callable, TypeGuard

MAX_JSON_DEPTH = 32
"""Deepest nesting of objects/arrays a header may have (ours nest 5 deep)."""
MAX_BUFFERS = 16
MAX_DIM = 1 << 36
"""Largest audio dimension a spec may name (the byte limits refuse far smaller buffers first)."""
MAX_SAMPLE_RATE = 768_000
MAX_TAKE_SECONDS = 20 * 60
"""Hard cap on a stem's length (one song; the instrumental's own cap in host_bridge.core.audio)."""
TAIL_SECONDS = 30
"""A stem may run this far past the end of the instrumental it was given (a last note's release)."""
LIMITS = {"sample_rate": (1, MAX_SAMPLE_RATE), "start_sample": (0, 24 * 3600 * MAX_SAMPLE_RATE),
          "seed": (0, (1 << 63) - 1), "channels": (1, 2)}
STR_LIMITS = {"lyrics_text": 200_000, "artist": 64, "engine": 64, "lyrics_source": 4096, "melody_source": 4096,
              "checkpoint": 4096, "language": 32}


def no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def walk(obj: Any, limit: int) -> tuple[bool, bool]:
    """(nests at most ``limit`` containers deep, every float is finite) for parsed JSON ``obj``;
    iterative, so no depth can overflow a stack. (NaN and Infinity literals are refused by the
    parser; an overflowing exponent such as 1e999 parses to inf and is found here.)"""
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        o, d = stack.pop()
        values = o.values() if isinstance(o, dict) else o
        if d > limit:
            return False, True
        for x in values:
            if isinstance(x, (dict, list)):
                stack.append((x, d + 1))
            elif isinstance(x, float) and not math.isfinite(x):
                return True, False
    return True, True


def short(value: Any, limit: int = 60) -> str:
    """``repr`` of a peer-supplied value cut to ``limit`` characters (never echoes a whole field)."""
    if isinstance(value, (dict, list)):
        return f"a JSON {'object' if isinstance(value, dict) else 'array'}"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def dims_ok(shape: Any) -> TypeGuard[list[int]]:
    return (isinstance(shape, list) and 1 <= len(shape) <= 2
            and all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= MAX_DIM for d in shape))


def check_values(b: dict[str, Any], bad: Callable[[str, str], Exception]) -> None:
    """Ranges of a job's numbers and lengths of its strings, from their meaning (see
    host_bridge.core.protocol.job_spec); ``bad(what, hint)`` makes the error raised."""
    for k, (lo, hi) in LIMITS.items():
        if k in b and not lo <= b[k] <= hi:
            raise bad(f"{k} {short(b[k])} is outside {lo}-{hi}", f"send {k} between {lo} and {hi}")
    cap = MAX_TAKE_SECONDS * b["sample_rate"]
    if not 0 < b["length_samples"] <= cap:
        raise bad(f"length_samples {short(b['length_samples'])} is outside 1-{cap} "
                  f"({MAX_TAKE_SECONDS // 60} minutes at {b['sample_rate']} Hz)",
                  "send the instrumental's length in samples (one song, at most 20 minutes)")
    for k, n in STR_LIMITS.items():
        v = b.get(k)
        if isinstance(v, str) and (len(v) > n or "\x00" in v):
            raise bad(f"{k} is longer than {n} characters or holds a NUL", f"send a shorter {k}")
