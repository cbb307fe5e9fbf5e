"""Artist presets, the ground floor's schema and loader: a JSON file per artist (display name,
engine, embedding, range, style, chain).

Shipped presets live in the ``presets`` data package (:data:`PRESET_DIR`); users keep their own
in :func:`user_preset_dir` (``topline artist create`` writes there) or any folder passed in. The
loader validates every field against :mod:`host_bridge.core.artists.schema` and names the file
and the field when one is wrong. An embedding lives in a file beside the preset, as ``.npy`` (read with ``allow_pickle=False``) or
``.safetensors``; pickles are refused.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from host_bridge.core.artists.schema import (EMBED_DIM, EMBEDDING_SUFFIXES, PICKLE_SUFFIXES, STYLE_FIELDS, Checker,
                                             Num, PresetError)
from host_bridge.core.engines import ENGINES
from host_bridge.core.errors import UnknownArtistError
from presets import PRESET_DIR


__all__ = ["Artist", "Style", "VocalChain", "PresetError", "load_artists", "get_artist", "load_preset",
           "save_preset", "user_preset_dir", "DEFAULT_ARTIST", "PRESET_DIR"]


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
    swing: float = 0.0
    """0 straight; 1 off-beat eighths land on the last triplet eighth."""
    breath: float = 0.0
    """Level of an audible in-breath before phrases that follow a rest (0 none .. 1 strong)."""
    dynamics_db: float = 0.0
    """How much louder the highest phrases are sung than the lowest (dB)."""


@dataclass(frozen=True)
class VocalChain:
    """The artist's mix chain (rendered by inference.produce_chain). Empty = dry."""

    eq: tuple[dict[str, Any], ...] = ()
    """Bands {type: highpass|lowshelf|peak|highshelf, hz, gain_db, q}."""
    compressor: dict[str, float] | None = None
    deesser: dict[str, float] | None = None
    saturation: dict[str, float] | None = None
    reverb: dict[str, float] | None = None
    """Send to the wet stem (never mixed into the dry stem)."""
    delay: dict[str, float] | None = None
    """Send to the wet stem."""

    @property
    def has_sends(self) -> bool:
        return self.reverb is not None or self.delay is not None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"eq": [dict(b) for b in self.eq]}
        for k in ("compressor", "deesser", "saturation", "reverb", "delay"):
            if getattr(self, k) is not None:
                d[k] = dict(getattr(self, k))
        return d


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
    transpose: int = 0
    """Semitones added to every note of the melody before register placement."""
    formant_shift: float = 0.0
    """Semitones the spectral envelope is moved (+ smaller/brighter, - bigger/darker)."""
    chain: VocalChain = field(default_factory=VocalChain)
    embedding: np.ndarray | None = field(default=None, compare=False, repr=False)
    """Explicit Kokoro style table float32 [N, 256] (overrides ``voice``), from the preset's file."""
    embedding_file: str = ""
    autosing_embedding: np.ndarray | None = field(default=None, compare=False, repr=False)
    """AutoSing artist embedding float32 [256], when the preset gives one."""
    language: str = "en-us"
    """The artist's own language: sung when neither the request nor the lyrics sheet names one."""
    render_range: tuple[int, int] | None = None
    """MIDI notes the model is asked for (the voice's measured wall); None = ``(low, high)``.
    Notes of the range above it are rendered at its top and moved up with the envelope kept."""

    @property
    def render_low(self) -> int:
        return self.render_range[0] if self.render_range is not None else self.low

    @property
    def render_high(self) -> int:
        return self.render_range[1] if self.render_range is not None else self.high

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "display_name": self.display_name, "engine": self.engine,
                             "description": self.description, "voice": dict(self.voice),
                             "range": [self.low, self.high], "language": self.language,
                             "transpose": self.transpose,
                             "formant_shift": self.formant_shift, "style": asdict(self.style),
                             "chain": self.chain.to_dict()}
        if self.render_range is not None:
            d["render_range"] = list(self.render_range)
        if self.embedding_file:
            d["embedding"] = self.embedding_file
        return d


# ------------------------------------------------------------------------------------ embeddings
def load_embedding(path: Path, preset: Path, fld: str) -> np.ndarray:
    """float32 [N, 256] (a [256] vector becomes [1, 256]) from .npy or .safetensors; refuses
    pickles (by name and by content) with a :class:`PresetError` naming the preset and field."""
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        raise PresetError(preset, fld, f"points at {path.name}, a pickle-style file; pickles are never loaded",
                          "save the embedding with numpy.save (.npy) or safetensors")
    if suffix not in EMBEDDING_SUFFIXES:
        raise PresetError(preset, fld, f"points at {path.name}; expected a .npy or .safetensors file")
    if not path.is_file():
        raise PresetError(preset, fld, f"points at {path}, which does not exist", "put the file beside the preset")
    try:
        if suffix == ".npy":
            arr = np.load(path, allow_pickle=False)
        else:
            from safetensors.numpy import load_file

            tensors = load_file(str(path))
            if len(tensors) != 1:
                raise ValueError(f"holds {len(tensors)} tensors; expected exactly one")
            arr = next(iter(tensors.values()))
    except ValueError as e:
        pickled = "pickle" in str(e).lower()
        raise PresetError(preset, fld, f"file {path.name} is {'a pickle' if pickled else 'unreadable'}: {e}",
                          "save the embedding with numpy.save (.npy, no objects) or safetensors") from e
    except Exception as e:  # noqa: BLE001 - safetensors raises its own error types on damaged files
        raise PresetError(preset, fld, f"file {path.name} cannot be read: {type(e).__name__}: {e}",
                          "save the embedding again with numpy.save or safetensors") from e
    if arr.dtype.kind not in "fiu":
        raise PresetError(preset, fld, f"file {path.name} holds {arr.dtype} values; expected floats")
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != EMBED_DIM or arr.shape[0] < 1:
        raise PresetError(preset, fld, f"file {path.name} has shape {list(arr.shape)}; expected [{EMBED_DIM}] "
                          f"or [N, {EMBED_DIM}]", f"an embedding is {EMBED_DIM} floats per row")
    if not np.all(np.isfinite(arr)):
        raise PresetError(preset, fld, f"file {path.name} holds NaN or infinite values")
    return np.ascontiguousarray(arr, np.float32)


def _autosing_embedding(v: Any, path: Path, chk: Checker) -> np.ndarray:
    if isinstance(v, list):
        vals = [chk.num(x, Num(-1e6, 1e6), f"autosing_embedding[{i}]") for i, x in enumerate(v)]
        if len(vals) != EMBED_DIM:
            raise chk.fail("autosing_embedding", f"has {len(vals)} values; expected {EMBED_DIM}")
        return np.asarray(vals, np.float32)
    f = chk.string(v, "autosing_embedding")
    arr = load_embedding(path.parent / f, path, "autosing_embedding")
    if arr.shape[0] != 1:
        raise chk.fail("autosing_embedding", f"file {f} has {arr.shape[0]} rows; expected one vector of {EMBED_DIM}")
    return arr[0]


# ------------------------------------------------------------------------------------ loading
def parse_preset(d: Any, path: Path) -> Artist:
    """A parsed JSON object -> Artist, validated (raises :class:`PresetError`)."""
    chk = Checker(path)
    d = chk.top(d)
    engine = d["engine"]
    name = d["name"]
    voice = chk.voice(d["voice"], engine) if "voice" in d else {}
    embedding, emb_file = None, ""
    if "embedding" in d:
        emb_file = chk.string(d["embedding"], "embedding")
        embedding = load_embedding(path.parent / emb_file, path, "embedding")
    if ENGINES[engine].kokoro_voices and not voice and embedding is None:
        raise chk.fail("voice", "is missing", 'a kokoro artist needs "voice" (a blend) or "embedding" (a file)')
    low, high = chk.range(d["range"]) if "range" in d else (48, 67)
    render = chk.range(d["render_range"], "render_range") if "render_range" in d else None
    language = chk.language(d["language"]) if "language" in d else "en-us"
    style = Style(**chk.numbers(d.get("style", {}), STYLE_FIELDS, "style"))
    ch = chk.chain(d.get("chain", {}))
    chain = VocalChain(eq=tuple(ch["eq"]), **{k: v for k, v in ch.items() if k != "eq"})
    auto = _autosing_embedding(d["autosing_embedding"], path, chk) if "autosing_embedding" in d else None
    return Artist(name, chk.string(d.get("display_name", name), "display_name"), engine,
                  chk.string(d.get("description", ""), "description"), voice, low, high, style, str(path),
                  transpose=int(chk.num(d.get("transpose", 0), Num(-24, 24, True), "transpose")),
                  formant_shift=chk.num(d.get("formant_shift", 0.0), Num(-6.0, 6.0), "formant_shift"),
                  chain=chain, embedding=embedding, embedding_file=emb_file, autosing_embedding=auto,
                  language=language, render_range=render)


def load_preset(path: Path) -> Artist:
    path = Path(path)
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise PresetError(path, "", f"cannot be read: {e}", "check the path and its permissions") from e
    except ValueError as e:
        raise PresetError(path, "", f"is not valid JSON: {e}", "fix the JSON syntax at that line") from e
    return parse_preset(d, path)


def user_preset_dir() -> Path:
    """Where the user's own artists live (``topline artist create`` writes there)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("topline")) / "artists"


def load_artists(extra_dirs: list[Path] | None = None, include_user: bool = True) -> dict[str, Artist]:
    """All artists: shipped presets, the user's folder, then ``extra_dirs`` (later ones may
    replace an artist of the same name)."""
    dirs = [PRESET_DIR, *([user_preset_dir()] if include_user else []), *(extra_dirs or [])]
    out: dict[str, Artist] = {}
    for d in dirs:
        if not Path(d).is_dir():
            continue
        for p in sorted(Path(d).glob("*.json")):
            a = load_preset(p)
            out[a.name] = a
    return out


def get_artist(name: str, extra_dirs: list[Path] | None = None) -> Artist:
    artists = load_artists(extra_dirs)
    if name not in artists:
        raise UnknownArtistError(f"unknown artist {name!r}",
                                 f"choose one of: {', '.join(sorted(artists))} (see `topline artists`)")
    return artists[name]


def save_preset(artist: Artist, folder: Path, extra: dict[str, Any] | None = None) -> Path:
    """Write ``artist`` as ``folder/<name>.json`` (plus its embedding as .npy when it has one)
    and return the path; the result loads back through :func:`load_preset`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    d = artist.to_dict()
    if artist.embedding is not None:
        emb = f"{artist.name}.npy"
        np.save(folder / emb, np.asarray(artist.embedding, np.float32), allow_pickle=False)
        d["embedding"] = emb
    if extra:
        d["comment"] = extra
    path = folder / f"{artist.name}.json"
    path.write_text(json.dumps(d, indent=2) + "\n", encoding="utf-8")
    load_preset(path)  # what we write must load
    return path


DEFAULT_ARTIST = "heart"
"""The clearest English diction of the shipped voices (speech WER 3-9% vs 29-38% for jf_alpha)."""
