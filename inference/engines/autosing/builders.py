"""Config -> objects. Every model is built from its frozen config; weights come from
``loaders`` (files) or a seed (tests, benchmarks)."""
from __future__ import annotations

import torch

from inference.engines.autosing.config import EmbedderConfig, LMConfig
from inference.engines.autosing.models.embedder import ArtistEmbedder
from inference.engines.autosing.models.lm import AutoSingLM


def build_lm(cfg: LMConfig, seed: int | None = 0) -> AutoSingLM:
    with torch.random.fork_rng():
        if seed is not None:
            torch.manual_seed(seed)
        return AutoSingLM(cfg)


def build_embedder(cfg: EmbedderConfig, seed: int | None = 0) -> ArtistEmbedder:
    with torch.random.fork_rng():
        if seed is not None:
            torch.manual_seed(seed)
        return ArtistEmbedder(cfg)
