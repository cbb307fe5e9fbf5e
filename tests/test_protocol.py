"""The wire format: golden bytes, round trips, and every way a message can be wrong."""
from __future__ import annotations

import json

import numpy as np
import pytest

from host_bridge.core import protocol as P
from host_bridge.core.errors import AlignmentError, CancelledError
from host_bridge.core.model import Note, Score, Take, TempoMap


def test_golden_bytes_ping() -> None:
    frames = P.encode(P.Message("ping", id="m1", body={"t": 1.5}))
    assert frames == [b'{"body":{"t":1.5},"id":"m1","type":"ping","v":1}']


def test_golden_bytes_chunk_with_audio_frame() -> None:
    a = np.array([[0.0, 1.0], [-1.0, 0.5]], np.float32)
    msg = P.chunk_event("job7", a, 48000, start_sample=96000, index=0)
    msg.id = "e1"
    frames = P.encode(msg)
    assert frames[0] == (b'{"body":{"index":0,"start_sample":96000},"buffers":[{"dtype":"float32","name":"audio",'
                         b'"sample_rate":48000,"shape":[2,2]}],"id":"e1","re":"job7","type":"chunk","v":1}')
    assert bytes(frames[1]) == (b"\x00\x00\x00\x00\x00\x00\x80\x3f"  # 0.0, 1.0
                                b"\x00\x00\x80\xbf\x00\x00\x00\x3f")  # -1.0, 0.5


def test_golden_bytes_error_reply() -> None:
    msg = P.error_reply("r9", CancelledError("the job was cancelled", "start it again"))
    msg.id = "e2"
    assert P.encode(msg) == [b'{"body":{"code":"cancelled","hint":"start it again","message":"the job was cancelled"},'
                             b'"id":"e2","re":"r9","type":"error","v":1}']


def test_audio_round_trip_is_exact_and_zero_copy() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2, 48000)).astype(np.float32)
    frames = P.encode(P.Message("chunk", body={}, re="j", buffers={"audio": P.Audio(a, 48000)}))
    assert isinstance(frames[1], memoryview) and np.shares_memory(np.frombuffer(frames[1], np.float32), a)
    back = P.decode(frames)
    got = back.buffers["audio"]
    assert isinstance(got, P.Audio) and got.sample_rate == 48000
    assert got.array.shape == (2, 48000) and got.array.dtype == np.float32
    np.testing.assert_array_equal(got.array, a)
    assert np.shares_memory(got.array, np.frombuffer(frames[1], np.float32))


@pytest.mark.parametrize("shape", [(1, 0), (2, 0), (0, 0), (3, 7), (1, 1)])
def test_edge_shapes_round_trip(shape: tuple[int, int]) -> None:
    a = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    got = P.decode(P.encode(P.Message("chunk", re="j", buffers={"audio": P.Audio(a, 44100)}))).buffers["audio"]
    assert isinstance(got, P.Audio)
    np.testing.assert_array_equal(got.array, a)


def test_non_contiguous_and_big_endian_arrays_are_sent_as_little_endian_c_order() -> None:
    a = np.arange(12, dtype=">f4").reshape(3, 4).T  # transposed view, big-endian
    got = P.decode(P.encode(P.Message("chunk", re="j", buffers={"a": P.Audio(a, 96000)}))).buffers["a"]
    assert isinstance(got, P.Audio)
    np.testing.assert_array_equal(got.array, a.astype(np.float32))


def _spec(**kw: object) -> P.JobSpec:
    base: dict[str, object] = dict(lyrics_text="[Verse]\nla la", sample_rate=48000, length_samples=96000,
                                   tempo_map=TempoMap.constant(96, 3, 4, offset_s=0.5), melody_midi=b"MThd\x00",
                                   instrumental=np.ones((2, 96000), np.float32), start_sample=4800, artist="kumo",
                                   seed=7, bars=(2, 5), channels=2)
    base.update(kw)
    return P.JobSpec(**base)  # type: ignore[arg-type]


def test_job_request_round_trip() -> None:
    spec = _spec()
    msg = P.job_request(spec, "audition", job_id="job1", priority=0)
    back = P.decode(P.encode(msg))
    assert back.type == "audition" and back.id == "job1" and back.body["priority"] == 0
    got = P.job_spec(back)
    assert got.tempo_map == spec.tempo_map and got.melody_midi == spec.melody_midi and got.bars == (2, 5)
    assert got.instrumental is not None
    np.testing.assert_array_equal(got.instrumental, spec.instrumental)
    fields = got.request_fields()
    assert fields["artist"] == "kumo" and fields["seed"] == 7 and fields["start_sample"] == 4800


def test_job_request_without_optional_parts() -> None:
    spec = _spec(tempo_map=None, melody_midi=None, instrumental=None, bars=None)
    got = P.job_spec(P.decode(P.encode(P.job_request(spec))))
    assert got == spec


def test_done_event_carries_the_whole_take() -> None:
    tm = TempoMap.constant(120)
    score = Score((Note(0.0, 1.0, 60.0, "la", None, 0, 0),), tm, ("la",))
    take = Take(np.full((1, 100), 0.25, np.float32), 48000, 480, score, "alpha", "kokoro", 3, {"render": 0.5})
    back = P.take_from_done(P.decode(P.encode(P.done_event("job", take))))
    assert back.score == score and back.start_sample == 480 and back.seed == 3 and back.timings == {"render": 0.5}
    np.testing.assert_array_equal(back.audio, take.audio)
    back.audio[0, 0] = 1.0  # the take owns writable audio


def test_remote_error_maps_codes_back_to_the_error_family() -> None:
    e = P.remote_error(P.decode(P.encode(P.error_reply("r", AlignmentError("too many syllables", "add notes")))))
    assert isinstance(e, AlignmentError) and e.hint == "add notes"
    e2 = P.remote_error(P.Message("error", body={"code": "busy", "message": "queue full", "hint": "retry"}))
    assert isinstance(e2, P.RemoteError) and e2.code == "busy"


# ------------------------------------------------------------------------------- bad messages
def _hdr(**kw: object) -> bytes:
    h: dict[str, object] = {"v": 1, "id": "x1", "type": "status", "body": {}}
    h.update(kw)
    return json.dumps(h).encode()


@pytest.mark.parametrize("frames, code, re", [
    ([], "bad_message", None),
    ([b"\xff\xfe garbage"], "bad_message", None),
    ([b"[1, 2]"], "bad_message", None),
    ([_hdr(v=2)], "unsupported_version", "x1"),
    ([_hdr(v="1")], "unsupported_version", "x1"),
    ([_hdr(id=5)], "bad_message", None),
    ([_hdr(type="explode")], "unknown_type", "x1"),
    ([_hdr(body=[1])], "bad_message", "x1"),
    ([_hdr(), b"extra"], "bad_message", "x1"),
    ([_hdr(buffers=[{"name": "a", "dtype": "float32", "shape": [2, 3], "sample_rate": 48000}]), b"\x00" * 20],
     "bad_message", "x1"),
    ([_hdr(buffers=[{"name": "a", "dtype": "object", "shape": [1], "sample_rate": 48000}]), b"\x00" * 8],
     "bad_message", "x1"),
    ([_hdr(buffers=[{"name": "a", "dtype": "float32", "shape": [-1], "sample_rate": 48000}]), b""],
     "bad_message", "x1"),
    ([_hdr(buffers=[{"name": "a", "dtype": "float32", "shape": [1], "sample_rate": 0}]), b"\x00" * 4],
     "bad_message", "x1"),
    ([_hdr(buffers=[{"name": "m", "nbytes": 3}]), b"\x00" * 4], "bad_message", "x1"),
    ([b"{" + b" " * (P.MAX_HEADER_BYTES + 1) + b"}"], "too_large", None),
])
def test_bad_messages_raise_protocol_errors_naming_the_request(frames: list[bytes], code: str, re: str | None) -> None:
    with pytest.raises(P.ProtocolError) as ei:
        P.decode(frames)
    assert ei.value.code == code and ei.value.re == re and ei.value.hint


def test_oversized_message_is_refused_with_its_id() -> None:
    frames = P.encode(P.Message("generate", id="big", buffers={"x": b"\x00" * 2000}))
    with pytest.raises(P.ProtocolError) as ei:
        P.decode(frames, max_bytes=1000)
    assert ei.value.code == "too_large" and ei.value.re == "big"


def test_nan_in_body_is_refused_at_encode() -> None:
    with pytest.raises(P.ProtocolError):
        P.encode(P.Message("progress", body={"frac": float("nan")}))


@pytest.mark.parametrize("body, what", [
    ({"sample_rate": 48000, "length_samples": 10}, "lyrics_text is missing"),
    ({"lyrics_text": "la", "sample_rate": "48000", "length_samples": 10}, "sample_rate"),
    ({"lyrics_text": "la", "sample_rate": 48000, "length_samples": True}, "length_samples"),
    ({"lyrics_text": 5, "sample_rate": 48000, "length_samples": 10}, "lyrics_text"),
    ({"lyrics_text": "la", "sample_rate": 48000, "length_samples": 10, "bars": [1]}, "bars"),
])
def test_bad_job_fields_are_named(body: dict[str, object], what: str) -> None:
    with pytest.raises(P.ProtocolError, match=what):
        P.job_spec(P.Message("generate", id="j", body=body))


def test_instrumental_at_another_rate_than_the_session_is_refused() -> None:
    msg = P.job_request(_spec())
    msg.buffers["instrumental"] = P.Audio(np.zeros((2, 10), np.float32), 44100)
    with pytest.raises(P.ProtocolError, match="44100"):
        P.job_spec(P.decode(P.encode(msg)))


def test_protocol_module_is_torch_free() -> None:
    import subprocess
    import sys

    code = "import sys, host_bridge.core.protocol; bad=[m for m in ('torch','onnxruntime','inference') if m in sys.modules]; print(bad)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


def test_stream_clips_round_trips_on_an_audition_and_is_refused_elsewhere() -> None:
    spec = _spec(artists=("alpha", "kumo"), stream_clips=True)
    got = P.job_spec(P.decode(P.encode(P.job_request(spec, "audition"))))
    assert got.stream_clips is True and "stream_clips" not in got.request_fields()
    assert "stream_clips" not in P.job_request(_spec(artists=("alpha", "kumo")), "audition").body  # off: not sent
    with pytest.raises(ValueError):
        P.job_request(_spec(stream_clips=True), "generate")
    for kind, value in (("audition", "yes"), ("audition", 1), ("generate", True)):
        msg = P.job_request(_spec(), "audition" if kind == "audition" else "generate")
        msg.body["stream_clips"] = value
        with pytest.raises(P.ProtocolError, match="stream_clips"):
            P.job_spec(P.decode(P.encode(msg)))


def test_part_event_round_trip_and_malformed_parts() -> None:
    from host_bridge.core.reel import ClipPart

    audio = np.linspace(-0.5, 0.5, 2 * 300, dtype=np.float32).reshape(2, 300)
    part = ClipPart("kumo", 1, 3, audio, 44100, 88200, 1.25)
    back = P.part_from_event(P.decode(P.encode(P.part_event("job9", part))))
    assert (back.artist, back.clip_index, back.part, back.sample_rate, back.start_sample, back.ready_s) == \
        ("kumo", 1, 3, 44100, 88200, 1.25)
    np.testing.assert_array_equal(back.audio, audio)
    for key, bad in (("clip", 5), ("clip_index", -1), ("part", "0"), ("start_sample", True)):
        msg = P.decode(P.encode(P.part_event("job9", part)))
        msg.body[key] = bad
        with pytest.raises(P.ProtocolError, match="part event"):
            P.part_from_event(msg)
    assert "part" in P.JOB_EVENTS and "part" in P.REPLIES
