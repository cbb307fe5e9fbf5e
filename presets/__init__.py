"""Artist presets: a JSON file per artist (display name, engine, embedding, range, style).

Shipped presets live next to this module; users can add their own folder. The loader validates
every field and names the file and the field when one is wrong.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from host_bridge.errors import InputError, UnknownArtistError

PRESET_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Style:
    """Performance style. Cents and seconds; rates in Hz."""

    vibrato_rate_hz: float = 5.5
    vibrato_depth_cents: float = 25.0
    vibrato_delay_s: float = 0.25
    portamento_s: float = 0.08
    scoop_cents: float = -60.0
    timing_offset_ms: float = 0.0
    """Positive sings behind the beat, negative ahead (applied to the whole take)."""


@dataclass(frozen=True)
class Artist:
    name: str
    """Identifier used on the command line and the wire (lowercase, no spaces)."""
    display_name: str
    engine: str
    description: str
    voice: dict[str, float]
    """Engine voices and blend weights, e.g. {"jf_alpha": 1.0} or {"jf_alpha": 0.5, "jm_kumo": 0.5}."""
    low: int
    """Lowest comfortable MIDI note."""
    high: int
    """Highest comfortable MIDI note."""
    style: Style = field(default_factory=Style)
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "display_name": self.display_name, "engine": self.engine,
                "description": self.description, "voice": dict(self.voice), "range": [self.low, self.high],
                "style": self.style.__dict__.copy()}


def _load(path: Path) -> Artist:
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"artist preset {path} cannot be read: {e}", "fix the JSON or remove the file") from e
    try:
        style = Style(**d.get("style", {}))
        low, high = (int(v) for v in d["range"])
        voice = {str(k): float(v) for k, v in d["voice"].items()}
        if not voice or any(w <= 0 for w in voice.values()):
            raise ValueError("voice needs at least one voice with a positive weight")
        if not (0 <= low < high <= 127):
            raise ValueError(f"range {low}-{high} is not a MIDI range low < high")
        return Artist(str(d["name"]), str(d.get("display_name", d["name"])), str(d["engine"]),
                      str(d.get("description", "")), voice, low, high, style, str(path))
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(f"artist preset {path} is invalid: {e}",
                         "see presets/*.json for the fields an artist needs") from e


def load_artists(extra_dirs: list[Path] | None = None) -> dict[str, Artist]:
    """All artists: shipped presets, then user folders (a user preset may replace a shipped one)."""
    out: dict[str, Artist] = {}
    for d in [PRESET_DIR, *(extra_dirs or [])]:
        for p in sorted(Path(d).glob("*.json")):
            a = _load(p)
            out[a.name] = a
    return out


def get_artist(name: str, extra_dirs: list[Path] | None = None) -> Artist:
    artists = load_artists(extra_dirs)
    if name not in artists:
        raise UnknownArtistError(f"unknown artist {name!r}",
                                 f"choose one of: {', '.join(sorted(artists))} (see `topline artists`)")
    return artists[name]


DEFAULT_ARTIST = "alpha"
