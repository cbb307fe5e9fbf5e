"""Issue 22, the sidecar socket: every decoder path is total. Any bytes give a ProtocolError
(answered with an error reply), never another exception out of the loop; limits hold before use."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

from host_bridge.core import protocol as P
from host_bridge.core.errors import ToplineError
from wirefuzz import NAMED, cases


def _header(**kw: object) -> bytes:
    h = {"v": 1, "id": "r1", "type": "ping", "body": {}}
    h.update(kw)
    return json.dumps(h).encode()


def _job(body: dict[str, object], buffers: dict[str, P.Buffer] | None = None, kind: str = "generate") -> P.Message:
    base: dict[str, object] = {"lyrics_text": "la la", "sample_rate": 48000, "length_samples": 48000}
    return P.decode(P.encode(P.Message(kind, id="job1", body={**base, **body}, buffers=buffers or {})))


@pytest.mark.parametrize("name", sorted(NAMED))
def test_frames_that_killed_the_sidecar_are_refused_with_a_protocol_error(name: str) -> None:
    frames = NAMED[name]
    try:
        msg = P.decode(frames)
    except P.ProtocolError as e:
        assert e.message and e.hint
        assert len(e.message) < 400, "the error must not echo a whole field back"
        return
    with pytest.raises(ToplineError):  # decodes, but the job request is refused
        P.job_spec(msg)


def test_header_nested_100000_deep_is_too_large_not_a_recursion_error() -> None:
    with pytest.raises(P.ProtocolError) as e:
        P.decode([b"[" * 100_000 + b"]" * 100_000])
    assert e.value.code == "too_large" and "nested" in e.value.message


def test_header_nested_40_deep_inside_body_is_refused_with_the_request_id() -> None:
    deep = "[" * 40 + "]" * 40
    raw = _header(body={"x": "@"}).decode().replace('"@"', deep).encode()
    with pytest.raises(P.ProtocolError) as e:
        P.decode([raw])
    assert "nested" in e.value.message


@pytest.mark.parametrize("value", [["generate"], {"a": 1}, 5, None, True])
def test_type_that_is_not_a_string_is_an_unknown_type(value: object) -> None:
    with pytest.raises(P.ProtocolError) as e:
        P.decode([_header(type=value)])
    assert e.value.code == "unknown_type" and e.value.re == "r1"


@pytest.mark.parametrize("dtype", [["float32"], {"f": 1}, 1, None, "object", "float16"])
@pytest.mark.parametrize("shm", [False, True])
def test_buffer_dtype_of_the_wrong_type_is_refused(dtype: object, shm: bool) -> None:
    spec: dict[str, object] = {"name": "a", "dtype": dtype, "shape": [1, 1], "sample_rate": 48000}
    frames = [_header(buffers=[{**spec, "shm": "topline-1-1"}] if shm else [spec])] + ([] if shm else [bytes(4)])
    with pytest.raises(P.ProtocolError) as e:
        P.decode(frames, shm=None)
    assert e.value.re == "r1"


@pytest.mark.parametrize("shape", [[2 ** 40, 2 ** 40], [10 ** 30], [-1], [True, 1], [1.0], "12", [1, 1, 1], []])
def test_buffer_shape_that_is_huge_or_malformed_is_refused_before_use(shape: object) -> None:
    with pytest.raises(P.ProtocolError):
        P.decode([_header(buffers=[{"name": "a", "dtype": "float32", "shape": shape, "sample_rate": 1}]), bytes(4)])


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_non_finite_numbers_in_the_header_are_refused(literal: bytes) -> None:
    with pytest.raises(P.ProtocolError):
        P.decode([b'{"v":1,"id":"r","type":"ping","body":{"t":' + literal + b"}}"])


def test_version_true_is_not_version_1() -> None:
    with pytest.raises(P.ProtocolError) as e:
        P.decode([_header(v=True)])
    assert e.value.code == "unsupported_version"


def test_length_samples_of_10_to_the_12_is_refused_before_anything_is_allocated() -> None:
    with pytest.raises(P.ProtocolError) as e:
        P.job_spec(_job({"length_samples": 10 ** 12}))
    assert "length_samples" in e.value.message and "20 minutes" in e.value.hint


def test_length_samples_far_beyond_the_instrumental_is_refused() -> None:
    inst = np.zeros((2, 48000), np.float32)
    ok = P.job_spec(_job({"length_samples": 48000}, {"instrumental": P.Audio(inst, 48000)}))
    assert ok.length_samples == 48000
    with pytest.raises(P.ProtocolError) as e:
        P.job_spec(_job({"length_samples": 48000 * 60}, {"instrumental": P.Audio(inst, 48000)}))
    assert "longer than the instrumental" in e.value.message


@pytest.mark.parametrize("field, value", [("seed", -1), ("seed", 2 ** 64), ("channels", 3), ("start_sample", -5),
                                          ("sample_rate", 0), ("sample_rate", 10 ** 9), ("length_samples", 0)])
def test_numbers_outside_their_meaning_are_refused(field: str, value: int) -> None:
    with pytest.raises(P.ProtocolError) as e:
        P.job_spec(_job({field: value}))
    assert field in e.value.message


@pytest.mark.parametrize("tempo_map", [[[0, 120]], {"tempos": "fast"}, {"tempos": [[0, 3.6]]}, {"tempos": [[0, 401]]},
                                       {"tempos": [[0, 120]] * 20_000}])
def test_tempo_map_malformed_or_outside_20_400_bpm_is_refused(tempo_map: object) -> None:
    with pytest.raises(ToplineError) as e:
        P.job_spec(_job({"tempo_map": tempo_map}))
    assert e.value.hint


def test_melody_source_with_a_nul_is_refused() -> None:
    with pytest.raises(P.ProtocolError):
        P.job_spec(_job({"melody_source": "a\x00b"}))


def test_job_key_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(P.ProtocolError):
        P.job_spec(_job({"key": 12345}))
    assert P.job_spec(_job({"key": "k" * 32})).lyrics_text == "la la"


def test_fuzzed_frames_give_only_protocol_errors_from_the_decoder() -> None:
    """5,000 random and structure-aware hostile messages through decode and job_spec: each one
    decodes or raises a ToplineError (what the server answers); nothing else escapes."""
    t0 = time.monotonic()
    seen: dict[str, int] = {}
    for frames in cases(seed=22, n=5000):
        try:
            msg = P.decode(frames)
            if msg.type in P.JOB_REQUESTS:
                P.job_spec(msg)
            seen["decoded"] = seen.get("decoded", 0) + 1
        except ToplineError as e:
            assert len(e.message) < 500
            seen[e.code] = seen.get(e.code, 0) + 1
    assert time.monotonic() - t0 < 60
    assert seen.get("bad_message", 0) > 1000 and seen.get("unknown_type", 0) > 100 and seen.get("too_large", 0) > 50
