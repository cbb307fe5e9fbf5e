"""The protocol's golden vectors, written by the Python encoder (host_bridge.core.protocol).

    .venv/bin/python tests/golden/protocol_vectors.py     # rewrites protocol_vectors.json beside it

Both implementations of the wire read the same file: tests/test_protocol_vectors.py (Python) and
the VST3's wire test (C++, daw_plugin/vst3). Each vector is one multipart message: its frames as
hex, and what they mean (header fields, body, and each buffer's spec and values). A peer passes
when it decodes every vector's frames to that meaning and encodes that meaning back to the same
frames, byte for byte. ``invalid`` holds messages every peer must refuse (with the error code the
Python side answers). ``heartbeat`` states the one liveness policy every client follows.

Regenerate after a deliberate change of the format (and bump the protocol version if an older
peer could no longer read it); tests/test_protocol_vectors.py fails while the file is stale.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from host_bridge.core import protocol as P  # noqa: E402
from host_bridge.core.errors import CancelledError  # noqa: E402
from host_bridge.core.model import MeterChange, Note, Score, Take, TempoChange, TempoMap  # noqa: E402
from host_bridge.core.reel import ClipPart  # noqa: E402

PATH = HERE / "protocol_vectors.json"
JOB = "6a1f0c2e9b7d4e5f8a3c1b2d4e6f7a8b"
KEY = "f00dfeedc0ffee11deadbeef22334455"
MIDI = bytes.fromhex("4d546864000000060000000101e04d54726b0000000400ff2f00")  # an empty one-track SMF

HEADER_RULES = [
    "frame 0 is the header: JSON, UTF-8, no whitespace, keys sorted by code point at every level",
    "header keys: v, id, type, body (always, {} when empty), re (only when answering), buffers (only when any)",
    "strings: only the characters JSON requires are escaped (\" \\\\ and U+0000-U+001F, as \\n \\t \\r \\b \\f or "
    "\\u00XX in lowercase hex); everything else, U+007F and non-ASCII included, is written as UTF-8",
    "numbers: integers as integers; floats in the shortest form that reads back to the same double, with a '.0' "
    "when integral, an exponent as e-07 / e+21 (Python repr), never NaN or infinity",
    "frames 1..n: the buffers' raw bytes in header order, little-endian, C order; an audio spec is "
    "{dtype, name, sample_rate, shape}, a bytes spec {name, nbytes}; a zero-length buffer is an empty frame",
]


def _tempo_map() -> TempoMap:
    return TempoMap((TempoChange(0.0, 96.0), TempoChange(16.0, 92.5)), (MeterChange(1, 4, 4), MeterChange(5, 3, 4)),
                    offset_s=0.25)


def _take(audio: np.ndarray, wet: np.ndarray | None = None) -> Take:
    score = Score((Note(4.0, 1.0, 64.0, "Morn"), Note(5.0, 0.5, 62.0, "ing")), _tempo_map(),
                  lines=("Morning",), sections=(("Verse", 0),), language="en-us")
    return Take(audio=audio, sample_rate=48000, start_sample=96000, score=score, artist="heart", engine="kokoro",
                seed=7, timings={"render_s": 1.25, "total_s": 1.5}, register={"shift": 0}, wet=wet)


def _ids(msg: P.Message, mid: str) -> P.Message:
    msg.id = mid
    return msg


def messages() -> list[tuple[str, str, P.Message]]:
    """(name, note, message) for every vector, in file order."""
    f32 = np.array([[0.0, 0.5, -1.0, 0.1], [1.0, -0.25, 3.0e-5, -0.0]], np.float32)
    spec = P.JobSpec("[Verse]\nMorning light on the kitchen floor", 48000, 4, tempo_map=_tempo_map(),
                     melody_midi=MIDI, instrumental=f32, artist="heart", seed=7, bars=(2, 3), channels=2,
                     language="en-us")
    audition = P.JobSpec("[Chorus]\nSing it high", 44100, 4, instrumental=np.array([[0, 1, -1, 2 ** 31 - 1]], np.int32),
                         artists=("heart", "alpha"))
    i16 = P.JobSpec("la la", 44100, 4, instrumental=np.array([[0, 1, -1, -32768], [32767, 2, -2, 0]], np.int16))
    f64 = P.JobSpec("la", 22050, 3, instrumental=np.array([0.5, -0.125, 1.0 / 3.0], np.float64))
    fmt = {"versions": [1], "format": {
        "floats": [0.1, 1.5, -0.0, 1.0, 1e-07, 1e+21, 123456789.125, 2.5e-05, 0.30000000000000004],
        "ints": [0, -1, 2 ** 53 + 1, -(2 ** 40)], "bools": [True, False], "none": None,
        "text": "Caf\u00e9 \u2615 na\u00efve \u2014 \u65e5\u672c \U0001f3a4 \"q\" back\\slash\nnl\ttab\r\b\f\x01\x1f\x7f\u2028",
        "keys": {"b": 1, "a": 2, "Z": 3, "_": 4, "\u00e9": 5, "aa": 6, "a b": 7}, "empty": {}, "list": []}}
    pong = {"state": "ready", "queued": [], "queued_total": 0, "running": JOB, "busy": True, "stalled_s": 0.412,
            "queued_bytes": 0}
    return [
        ("ping", "the heartbeat request, body {}", _ids(P.Message("ping"), "00000000000000000000000000000001")),
        ("pong", "ping's answer: the queue as this bridge may see it",
         _ids(P.reply("00000000000000000000000000000001", "pong", pong), "00000000000000000000000000000002")),
        ("hello", "first request; versions this peer speaks",
         _ids(P.Message("hello", body={"versions": [1]}), "00000000000000000000000000000003")),
        ("hello_reply", "the sidecar introduces itself",
         _ids(P.reply("00000000000000000000000000000003", "hello_reply", {
             "versions": [1], "server": "0.1.0", "pid": 4242, "state": "ready", "engines": ["kokoro"],
             "artists": ["alpha", "heart"], "device": "cpu", "warm_s": 1.73, "uptime_s": 12.5,
             "build": {"commit": "8b4b3ee", "frozen": False}}), "00000000000000000000000000000004")),
        ("generate", "a take: float32 [2, 4] instrumental, a guide MIDI, a tempo map, bars, a job key",
         P.job_request(spec, "generate", job_id=JOB, key=KEY)),
        ("generate_int16", "int16 [2, 4] instrumental, no MIDI (a melody is composed)",
         P.job_request(i16, "generate", job_id="00000000000000000000000000000005")),
        ("generate_float64_mono", "float64 [3] (one-dimensional) instrumental",
         P.job_request(f64, "generate", job_id="00000000000000000000000000000006")),
        ("audition", "two artists, int32 [1, 4] instrumental, priority 0",
         P.job_request(audition, "audition", job_id="00000000000000000000000000000007", priority=0)),
        ("accepted", "the job is queued", _ids(P.reply(JOB, "accepted", {"state": "queued", "duplicate": False,
                                                                          "position": 0, "seq": 3}),
                                               "00000000000000000000000000000008")),
        ("progress", "a stage and its fraction", _ids(P.progress_event(JOB, "render", 0.4567),
                                                      "00000000000000000000000000000009")),
        ("chunk", "a rendered phrase, float32 [2, 4], at its session position",
         _ids(P.chunk_event(JOB, f32, 48000, 96000, 0), "0000000000000000000000000000000a")),
        ("chunk_empty", "a zero-length float32 [2, 0] phrase: an empty frame",
         _ids(P.chunk_event(JOB, np.zeros((2, 0), np.float32), 48000, 0, 1), "0000000000000000000000000000000b")),
        ("chunk_clip", "an audition clip with its wet stem",
         _ids(P.clip_event(JOB, _take(f32[:1], wet=f32[1:]), 0, 2.3456), "0000000000000000000000000000000c")),
        ("part", "a piece of audition clip 1 (one phrase), for an audition that asked for stream_clips",
         _ids(P.part_event(JOB, ClipPart("heart", 1, 0, f32, 48000, 96000, 0.8125)), "0000000000000000000000000000001d")),
        ("done", "the take: metadata (score, tempo map, timings) and float32 [1, 4] audio",
         _ids(P.done_event(JOB, _take(f32[:1])), "0000000000000000000000000000000d")),
        ("error", "a job's end by error: code, message, hint",
         _ids(P.error_reply(JOB, CancelledError("the job was cancelled", "start it again when ready")),
              "0000000000000000000000000000000e")),
        ("cancel", "cancel a job by id, with its key", _ids(P.Message("cancel", body={"job": JOB, "key": KEY}),
                                                           "0000000000000000000000000000000f")),
        ("cancel_reply", "", _ids(P.reply("0000000000000000000000000000000f", "cancel_reply",
                                          {"job": JOB, "state": "cancelled"}), "00000000000000000000000000000010")),
        ("status", "", _ids(P.Message("status"), "00000000000000000000000000000011")),
        ("status_reply", "", _ids(P.reply("00000000000000000000000000000011", "status_reply",
                                          {"state": "ready", "shm_lent": 0, **pong}), "00000000000000000000000000000012")),
        ("artists", "", _ids(P.Message("artists"), "00000000000000000000000000000013")),
        ("artists_reply", "one artist, in the preset's dict form",
         _ids(P.reply("00000000000000000000000000000013", "artists_reply", {"artists": [{
             "name": "heart", "engine": "kokoro", "language": "en-us", "range": [55, 67],
             "description": "Warm female pop voice.", "voice": {"af_heart": 1.0}}]}),
             "00000000000000000000000000000014")),
        ("release", "shared-memory slots read (no reply)",
         _ids(P.Message("release", body={"slots": ["topline-4242-1"]}), "00000000000000000000000000000015")),
        ("shutdown", "", _ids(P.Message("shutdown"), "00000000000000000000000000000016")),
        ("shutdown_reply", "", _ids(P.reply("00000000000000000000000000000016", "shutdown_reply", {"pid": 4242}),
                                    "00000000000000000000000000000017")),
        ("json_forms", "format coverage (peers ignore body fields they do not know): number forms, escapes, "
                       "non-ASCII text, key order", _ids(P.Message("hello", body=fmt), "00000000000000000000000000000018")),
        ("compose", "a task (the CLI's model work other than singing): options, float32 [2, 4] audio, a job key",
         P.task_request(P.TaskSpec("compose", {
             "lyrics_text": "[Verse]\nMorning light", "lyrics_source": "lyrics.txt", "low": 55, "high": 67, "seed": 1,
             "tempo_map": _tempo_map().to_dict(), "meter": None, "language": "en-us", "json": True, "picture": False},
             f32, 48000), job_id="00000000000000000000000000000019", key=KEY)),
        ("analyze", "a task with mono float32 [1, 4] audio and a priority",
         P.task_request(P.TaskSpec("analyze", {"tempo_map": None, "meter": [3, 4], "picture": True}, f32[:1], 44100),
                        job_id="0000000000000000000000000000001a", priority=5)),
        ("artist_create", "a task with the reference vocal and the MIDI of what it sings",
         P.task_request(P.TaskSpec("artist_create", {"name": "my_voice", "source": "take3.wav", "exclude": ["alpha"],
                                                     "max_renders": 20, "tempo": None, "language": "en-us",
                                                     "lyrics_text": "hold the light", "melody_source": "take3.mid"},
                                   f32[:1], 24000, MIDI), job_id="0000000000000000000000000000001b")),
        ("done_result", "a task's end: its result (JSON) and the files it made (bytes buffers)",
         _ids(P.result_event("0000000000000000000000000000001a", {"key": {"name": "A minor", "confidence": 0.91},
                                                                   "bars": 8, "warnings": []},
                             {"picture": b"\x89PNG\r\n\x1a\n"}), "0000000000000000000000000000001c")),
    ]


def _hex(frame: Any) -> str:
    return bytes(frame).hex()


def meaning(msg: P.Message) -> dict[str, Any]:
    """What a message says, in plain JSON: header fields, body, each buffer's spec and content
    (audio: ``values`` flattened in C order; bytes: ``hex``)."""
    bufs: list[dict[str, Any]] = []
    for name, b in msg.buffers.items():
        if isinstance(b, P.Audio):
            a = np.asarray(b.array)
            bufs.append({"name": name, "dtype": a.dtype.name, "shape": list(a.shape), "sample_rate": b.sample_rate,
                         "values": a.reshape(-1).tolist()})
        else:
            bufs.append({"name": name, "nbytes": len(b), "hex": bytes(b).hex()})
    return {"v": msg.v, "id": msg.id, "type": msg.type, "re": msg.re, "body": msg.body, "buffers": bufs}


def message_from(m: dict[str, Any]) -> P.Message:
    """The inverse of :func:`meaning`."""
    bufs: dict[str, P.Buffer] = {}
    for b in m["buffers"]:
        if "dtype" in b:
            arr = np.array(b["values"], dtype=b["dtype"]).reshape(b["shape"])
            bufs[b["name"]] = P.Audio(arr, b["sample_rate"])
        else:
            bufs[b["name"]] = bytes.fromhex(b["hex"])
    return P.Message(m["type"], id=m["id"], body=m["body"], re=m["re"], buffers=bufs, v=m["v"])


def _invalid() -> list[dict[str, Any]]:
    """Messages every peer must refuse: (name, frames, the code the Python side answers)."""
    base = _ids(P.chunk_event(JOB, np.zeros((1, 2), np.float32), 48000, 0, 0), "00000000000000000000000000000019")
    good = [bytes(f) for f in P.encode(base)]
    hdr = json.loads(good[0])

    def with_header(**change: Any) -> bytes:
        return P._dumps({**hdr, **change})

    spec = hdr["buffers"][0]
    cases = [
        ("not_json", [b"{not json"], "bad_message"),
        ("header_not_an_object", [b"[1,2]"], "bad_message"),
        ("version_2", [with_header(v=2), good[1]], "unsupported_version"),
        ("no_id", [P._dumps({k: v for k, v in hdr.items() if k != "id"}), good[1]], "bad_message"),
        ("unknown_type", [with_header(type="sing"), good[1]], "unknown_type"),
        ("a_frame_missing", [good[0]], "bad_message"),
        ("a_frame_too_many", [good[0], good[1], b"\x00"], "bad_message"),
        ("frame_size_not_the_shape", [good[0], good[1][:4]], "bad_message"),
        ("unknown_dtype", [with_header(buffers=[{**spec, "dtype": "float16"}]), good[1]], "bad_message"),
        ("bytes_nbytes_wrong", [with_header(buffers=[{"name": "midi", "nbytes": 9}]), good[1]], "bad_message"),
    ]
    return [{"name": n, "frames": [f.hex() for f in frames], "code": code} for n, frames, code in cases]


def build() -> dict[str, Any]:
    vectors = []
    for name, note, msg in messages():
        frames = P.encode(msg)
        decoded = P.decode(frames)
        vectors.append({"name": name, "note": note, "frames": [_hex(f) for f in frames],
                        "message": meaning(decoded)})
    return {
        "about": "Golden vectors of the bridge <-> sidecar protocol, written by tests/golden/protocol_vectors.py "
                 "from the host_bridge.core.protocol package. A peer decodes each vector's frames (hex) to its message and "
                 "encodes the message back to the same frames, byte for byte; it refuses every invalid one.",
        "protocol_version": P.PROTOCOL_VERSION,
        "requests": sorted(P.REQUESTS),
        "replies": sorted(P.REPLIES),
        "audio_dtypes": sorted(P.AUDIO_DTYPES),
        "heartbeat": {
            "ping_interval_s": P.PING_INTERVAL_S, "dead_after_s": P.DEAD_AFTER_S, "stall_after_s": P.STALL_AFTER_S,
            "rule": "A client waiting on the sidecar sends ping when nothing came from it for ping_interval_s; "
                    "any readable message counts as a beat; nothing for dead_after_s: the sidecar is dead "
                    "(reconnect or restart it, resubmit the job under the same id and key); a pong whose "
                    "stalled_s exceeds stall_after_s: the running job is hung.",
        },
        "header_rules": HEADER_RULES,
        "vectors": vectors,
        "invalid": _invalid(),
    }


def render() -> str:
    return json.dumps(build(), indent=1, ensure_ascii=False) + "\n"


def main() -> None:
    PATH.write_text(render(), encoding="utf-8")
    print(f"wrote {PATH}")


if __name__ == "__main__":
    main()
