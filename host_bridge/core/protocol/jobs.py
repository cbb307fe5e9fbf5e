"""generate and audition requests: :class:`JobSpec` (the sidecar's GenerateRequest fields,
torch-free) and its message form, each field's type checked on the way in."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from host_bridge.core.model import Take, TempoMap
from host_bridge.core.protocol.messages import JOB_REQUESTS, Audio, Buffer, Message, ProtocolError, new_id
from host_bridge.core.wire_limits import TAIL_SECONDS, check_values, short


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
    artist's own; see host_bridge.core.model.language)."""
    artists: tuple[str, ...] = ()
    """Audition only: the artists to sing the section one after another (each clip streams as a
    ``chunk`` event naming its ``clip``; ``done`` carries the A/B reel). Empty: ``artist`` alone."""
    workers: int = 0
    """Audition only: artists rendered in parallel (0: what the sidecar's cores allow)."""
    stream_clips: bool = False
    """Audition only: also send each clip's phrases as ``part`` events the moment they are
    rendered (a preview to start playing; the finished clip follows as its ``chunk``)."""

    def request_fields(self) -> dict[str, Any]:
        """Keyword arguments for ``inference.pipeline.GenerateRequest``."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in _AUDITION_ONLY}


_INT_FIELDS = ("sample_rate", "length_samples", "start_sample", "seed", "channels")
_STR_FIELDS = ("lyrics_text", "artist", "lyrics_source", "melody_source")
_OPTIONAL_STR_FIELDS = ("engine", "checkpoint", "language")
_AUDITION_ONLY = ("artists", "workers", "stream_clips")


ProgressCallback = Callable[[str, float], None]
"""``(stage, fraction)``: how far a job has come."""
TakeSource = Callable[[JobSpec, "ProgressCallback | None"], Take]
"""Where a DAW adapter gets its take (host_bridge.daw.take_source): the job in, the take out."""


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
    if spec.workers:
        if kind != "audition":
            raise ValueError("only an audition renders artists in parallel")
        body["workers"] = int(spec.workers)
    if spec.stream_clips:
        if kind != "audition":
            raise ValueError("only an audition streams its clips in parts")
        body["stream_clips"] = True
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
    artists, workers, stream = _audition_fields(msg, bad)
    kw = {k: b[k] for k in _INT_FIELDS + _STR_FIELDS + _OPTIONAL_STR_FIELDS if k in b}
    return JobSpec(tempo_map=tm, melody_midi=midi, instrumental=inst.array if inst is not None else None,
                   bars=bars, artists=tuple(artists), workers=workers, stream_clips=stream, **kw)


def _audition_fields(msg: Message, bad: Any) -> tuple[list[str], int, bool]:
    """An audition's ``artists`` (the cast), ``workers`` and ``stream_clips``, refused on any other
    request."""
    b = msg.body
    artists = b.get("artists") or []
    if (not isinstance(artists, list) or len(artists) > 32
            or not all(isinstance(a, str) and 0 < len(a) <= 64 for a in artists)):
        raise bad(f"artists is {short(artists)}", "send artists as a list of up to 32 artist names")
    if artists and msg.type != "audition":
        raise bad("artists is only for an audition", "send one artist in 'artist', or make it an audition")
    workers = b.get("workers", 0)
    if not isinstance(workers, int) or isinstance(workers, bool) or not 0 <= workers <= 64 \
            or (workers and msg.type != "audition"):
        raise bad(f"workers is {short(workers)}", "send workers (0-64) with an audition only")
    stream = b.get("stream_clips", False)
    if not isinstance(stream, bool) or (stream and msg.type != "audition"):
        raise bad(f"stream_clips is {short(stream)}", "send stream_clips (true or false) with an audition only")
    return artists, workers, stream
