"""Topline's files beside an Ardour session: settings and take records.

``<session>/topline/session.json``: what to sing (lyrics sheet path, guide melody path, bus,
bars, artist), so a later run (or the editor action) needs no arguments.

``<session>/topline/takes/<take_id>.json``: one record per take placed in the session: its track
and region, the capture (bus, bars, start), who sang it, and the tempo map it was sung to (with
the sample position of every captured bar line), which is how a later tempo or meter change is
noticed. The take itself is delivered by :class:`host_bridge.takes.TakeFolder` into the session's
``Topline Takes`` folder (``<take_id>-0001.wav`` with its BWF time reference, ``.mid``, ``.json``;
each re-sing adds the next number); the record names the latest in ``stem``.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from host_bridge.daw.ardour.errors import TakeRecordError
from host_bridge.core.fileio import atomic_write_bytes, read_json_object

SETTINGS_NAME = "session.json"
TAKES_DIR = "takes"


def _write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode("utf-8"))


def _read_json(path: Path) -> dict[str, Any]:
    return read_json_object(path, TakeRecordError, "fix or delete the file")


@dataclass
class Settings:
    lyrics: str | None = None
    """Path of the lyrics sheet (relative paths are relative to the session folder)."""
    melody: str | None = None
    """Path of the guide melody MIDI file."""
    bus: str | None = None
    bars: tuple[int, int] | None = None
    artist: str | None = None

    @classmethod
    def load(cls, topline_dir: Path) -> "Settings":
        p = topline_dir / SETTINGS_NAME
        if not p.is_file():
            return cls()
        d = _read_json(p)
        bars = d.get("bars")
        return cls(d.get("lyrics"), d.get("melody"), d.get("bus"),
                   (int(bars[0]), int(bars[1])) if bars else None, d.get("artist"))

    def save(self, topline_dir: Path) -> None:
        d = asdict(self)
        d["bars"] = list(self.bars) if self.bars else None
        _write_json(topline_dir / SETTINGS_NAME, d)


@dataclass
class TakeRecord:
    take_id: str
    number: int
    track: str
    region_id: str
    bus: str
    bars: tuple[int, int]
    sample_rate: int
    artist: str
    seed: int
    channels: int
    lyrics: str | None
    melody: str | None
    tempo_map: dict[str, Any]
    """The session's tempo map the take was sung to (TempoMap.to_dict())."""
    bar_samples: list[int]
    """Session sample of every bar line from the first captured bar to the one after the last."""
    sources: list[str]
    """Names of the take's audio files in the session's audiofiles folder."""
    created: str
    versions: int = 1
    """How many times this take was sung (re-sings after tempo changes count)."""
    stem: str = ""
    """The latest delivered WAV of this take, relative to the session folder (``Topline Takes/...``)."""
    timings: dict[str, float] = field(default_factory=dict)
    tempo_check: dict[str, Any] = field(default_factory=dict)
    language: str = ""
    """The language asked for ('' = the lyrics' or the artist's own)."""
    """Which tempo map the take was sung on and how far the guide MIDI's was from it
    (:func:`host_bridge.daw.ardour.tempo_maps.check_guide_tempo`)."""

    @property
    def start_sample(self) -> int:
        return self.bar_samples[0]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["bars"] = list(self.bars)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str) -> "TakeRecord":
        try:
            d = dict(d)
            d["bars"] = (int(d["bars"][0]), int(d["bars"][1]))
            known = set(cls.__dataclass_fields__)
            return cls(**{k: v for k, v in d.items() if k in known})
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise TakeRecordError(f"take record {where} is malformed: {e}", "delete the record (the take stays)") from e


class TakeStore:
    """The take records of one session."""

    def __init__(self, topline_dir: Path) -> None:
        self.dir = topline_dir / TAKES_DIR

    def path(self, take_id: str) -> Path:
        return self.dir / f"{take_id}.json"

    def save(self, rec: TakeRecord) -> Path:
        p = self.path(rec.take_id)
        _write_json(p, rec.to_dict())
        return p

    def load(self, take_id: str) -> TakeRecord:
        p = self.path(take_id)
        if not p.is_file():
            known = ", ".join(r.take_id for r in self.all()) or "none"
            raise TakeRecordError(f"no take {take_id!r} in this session", f"known takes: {known}")
        return TakeRecord.from_dict(_read_json(p), str(p))

    def all(self) -> list[TakeRecord]:
        if not self.dir.is_dir():
            return []
        out = [TakeRecord.from_dict(_read_json(p), str(p)) for p in sorted(self.dir.glob("*.json"))]
        return sorted(out, key=lambda r: (r.created, r.take_id))
