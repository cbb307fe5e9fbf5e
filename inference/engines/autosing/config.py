"""Frozen config dataclasses for the AutoSing-class engine, saved as ``config.json`` beside the
``model.safetensors`` they describe (gpt-fast ``ModelArgs`` habit). ``to_dict``/``from_dict`` are
the only (de)serialisation; unknown keys are refused so a wrong file is noticed at load time."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

Layout = Literal["compressed", "unrolled"]

SNAC_32KHZ: dict[str, Any] = {
    # The published 32 kHz SNAC config (hop 384, 4 codebooks x 4096 at ~10/21/42/83 Hz).
    "sampling_rate": 32000, "encoder_dim": 64, "encoder_rates": [2, 3, 8, 8], "decoder_dim": 1536,
    "decoder_rates": [8, 8, 3, 2], "attn_window_size": 32, "codebook_size": 4096, "codebook_dim": 8,
    "vq_strides": [8, 4, 2, 1], "noise": True, "depthwise": True,
}
SNAC_DEBUG: dict[str, Any] = {
    # Same rates, strides and window as the real codec (so every alignment rule is exercised),
    # a few channels and a 64-entry codebook: builds and runs in milliseconds.
    "sampling_rate": 32000, "encoder_dim": 4, "encoder_rates": [2, 3, 8, 8], "decoder_dim": 64,
    "decoder_rates": [8, 8, 3, 2], "attn_window_size": 32, "codebook_size": 64, "codebook_dim": 4,
    "vq_strides": [8, 4, 2, 1], "noise": True, "depthwise": True,
}


@dataclass(frozen=True)
class PatternSpec:
    """How codec codes become token streams. ``strides``: codec frames per code of each codebook
    (SNAC ``vq_strides``); ``group``: finest frames per compressed step; ``delays``: steps each
    codebook level is delayed by (MusicGen-style; all >= 1 so step 0 is an all-PAD start step)."""

    strides: tuple[int, ...] = (8, 4, 2, 1)
    group: int = 4
    delays: tuple[int, ...] = (1, 2, 3, 4)

    def __post_init__(self) -> None:
        if len(self.delays) != len(self.strides) or min(self.delays) < 1:
            raise ValueError("one delay >= 1 per codebook level")
        for s in self.strides:
            if not (s % self.group == 0 or self.group % s == 0):
                raise ValueError(f"stride {s} and group {self.group} do not nest")


def _config_fields(cls: type, d: dict[str, Any], kind: str, not_kind: str) -> dict[str, Any]:
    """A ``to_dict`` dict -> the keyword arguments of ``cls``: its ``kind`` must be ``kind`` (else
    ValueError ``not_kind``), unknown keys are refused, ``pattern`` becomes a PatternSpec."""
    d = dict(d)
    if d.pop("kind", None) != kind:
        raise ValueError(not_kind)
    unknown = set(d) - {f.name for f in fields(cls)}
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}")
    if "pattern" in d:
        p = d["pattern"]
        d["pattern"] = PatternSpec(tuple(p["strides"]), int(p["group"]), tuple(p["delays"]))
    return d


@dataclass(frozen=True)
class LMConfig:
    """One AutoSing stage. Stage 1: lyrics bytes + masked instrumental codes -> semantic tokens.
    Stage 2: semantic tokens (+ artist embedding) + full instrumental codes -> vocal codes."""

    stage: int
    dim: int = 512
    n_layers: int = 12
    n_heads: int = 8
    mem_layers: int = 2
    """Bidirectional encoder layers over each memory (text/semantic and music)."""
    ffn_mult: int = 4
    codebook_size: int = 4096
    """Codec codes per codebook (music memory; stage 2 targets)."""
    semantic_vocab: int = 2048
    semantic_rate_hz: float = 25.0
    frame_rate_hz: float = 32000 / 384
    """Finest codec frames per second: the unit of every position."""
    pattern: PatternSpec = PatternSpec()
    artist_dim: int = 256
    text_fuse: float = 0.8
    """Initial weight of the text/semantic cross-attention against the music one (learned gate)."""
    rope_base: float = 10000.0
    fine_levels_masked: int = 2
    """Stage 1 masks the instrumental's codebooks from this level on."""
    infer_layout: str = "unrolled"
    max_seconds: float = 30.0
    """Longest window one generation covers (sizes the preallocated caches)."""

    def __post_init__(self) -> None:
        if self.stage not in (1, 2):
            raise ValueError(f"stage must be 1 or 2, not {self.stage}")
        if self.dim % self.n_heads or (self.dim // self.n_heads) % 2:
            raise ValueError("dim must split into heads of even size")
        if self.infer_layout not in ("compressed", "unrolled"):
            raise ValueError(f"infer_layout {self.infer_layout!r}")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "kind": "autosing_lm"}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LMConfig":
        return cls(**_config_fields(cls, d, "autosing_lm",
                                    "config.json is not an AutoSing LM config (kind != 'autosing_lm')"))


@dataclass(frozen=True)
class EmbedderConfig:
    """Artist embedding model: decoder-only transformer over vocal codes (compressed layout),
    classification head over training artists + autoregressive head; L = 0.3 L_class + L_AR."""

    dim: int = 256
    n_layers: int = 4
    n_heads: int = 4
    n_artists: int = 16
    codebook_size: int = 4096
    emb_dim: int = 256
    pattern: PatternSpec = PatternSpec()
    label_smoothing: float = 0.1
    class_weight: float = 0.3

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "kind": "autosing_embedder"}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "EmbedderConfig":
        return cls(**_config_fields(cls, d, "autosing_embedder",
                                    "config.json is not an AutoSing artist-embedder config"))


def debug_lm(stage: int, codebook_size: int = SNAC_DEBUG["codebook_size"], semantic_vocab: int = 32,
             layout: str = "unrolled") -> LMConfig:
    """A few-thousand-parameter stage for tests: runs the whole path on CPU in milliseconds."""
    return LMConfig(stage=stage, dim=32, n_layers=2, n_heads=2, mem_layers=1, ffn_mult=2,
                    codebook_size=codebook_size, semantic_vocab=semantic_vocab, infer_layout=layout,
                    max_seconds=4.0)


def small_lm(stage: int) -> LMConfig:
    """The 'small' shape used by the benchmark (real vocabularies, a modest width)."""
    return LMConfig(stage=stage, dim=512, n_layers=8, n_heads=8, mem_layers=2)
