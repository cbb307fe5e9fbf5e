"""The Python side of the shared golden vectors (tests/golden/protocol_vectors.json): every vector
decodes to its meaning and encodes back to its frames byte for byte; every invalid one is refused
with its code; the file states the heartbeat policy the bridge runs. The C++ side (the VST3's wire
code) reads the same file."""
from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from golden import protocol_vectors as G

from host_bridge.core import protocol as P
from host_bridge.supervisor import Heartbeat

DOC: dict[str, Any] = json.loads(G.PATH.read_text(encoding="utf-8"))
VECTORS = {v["name"]: v for v in DOC["vectors"]}
INVALID = {v["name"]: v for v in DOC["invalid"]}


def _frames(v: dict[str, Any]) -> list[bytes]:
    return [bytes.fromhex(f) for f in v["frames"]]


def test_the_vectors_file_is_what_the_encoder_writes_today() -> None:
    assert G.PATH.read_text(encoding="utf-8") == G.render(), \
        "protocol_vectors.json is stale: run .venv/bin/python tests/golden/protocol_vectors.py (and tell the C++ side)"


def test_every_message_type_has_a_vector() -> None:
    assert (set(DOC["requests"]), set(DOC["replies"]), set(DOC["audio_dtypes"])) == \
        (P.REQUESTS, P.REPLIES, P.AUDIO_DTYPES)
    types = {v["message"]["type"] for v in DOC["vectors"]}
    assert types == P.REQUESTS | P.REPLIES, sorted((P.REQUESTS | P.REPLIES) ^ types)
    dtypes = {b["dtype"] for v in DOC["vectors"] for b in v["message"]["buffers"] if "dtype" in b}
    assert dtypes == P.AUDIO_DTYPES


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_vector_decodes_to_its_meaning(name: str) -> None:
    v = VECTORS[name]
    msg = P.decode(_frames(v))
    assert G.meaning(msg) == v["message"]
    for spec, buf in zip(v["message"]["buffers"], msg.buffers.values()):
        if "dtype" in spec:  # bit-exact values, -0.0 included (== would let -0.0 pass as 0.0)
            assert isinstance(buf, P.Audio)
            want = np.array(spec["values"], dtype=spec["dtype"]).reshape(spec["shape"])
            assert buf.array.tobytes() == want.tobytes()


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_vector_meaning_encodes_to_its_frames_byte_for_byte(name: str) -> None:
    v = VECTORS[name]
    frames = [bytes(f) for f in P.encode(G.message_from(v["message"]))]
    assert frames == _frames(v)
    again = [bytes(f) for f in P.encode(P.decode(frames))]  # decode -> encode is the identity too
    assert again == frames


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_vector_is_refused_with_its_code(name: str) -> None:
    v = INVALID[name]
    with pytest.raises(P.ProtocolError) as e:
        P.decode(_frames(v))
    assert e.value.code == v["code"], e.value.message


def test_the_heartbeat_policy_is_stated_once_and_the_bridge_runs_it() -> None:
    hb = DOC["heartbeat"]
    assert (hb["ping_interval_s"], hb["dead_after_s"], hb["stall_after_s"]) == \
        (P.PING_INTERVAL_S, P.DEAD_AFTER_S, P.STALL_AFTER_S)
    beat = Heartbeat()
    assert (beat.interval, beat.time_to_dead, beat.stall_timeout) == \
        (P.PING_INTERVAL_S, P.DEAD_AFTER_S, P.STALL_AFTER_S)
    assert P.DEAD_AFTER_S >= 4 * P.PING_INTERVAL_S, "a sidecar must miss several pings before it is called dead"
