"""Semantic tokenizer for stage-1 targets: 25 Hz tokens from k-means over log-mel frames.

AutoSing's semantic tokens come from a self-supervised speech model; no such weights can be
fetched here, so the default tokenizer is fitted on the user's own vocal stems during training
(k-means over normalised log-mel frames, 2048 centroids) and saved in the checkpoint's
``semantic/`` folder. Any tokenizer with the same ``tokenize(audio, sr) -> [N]`` contract at
25 Hz can replace it; stage 1 only sees token ids.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class SemanticConfig:
    sample_rate: int = 32000
    rate_hz: float = 25.0
    n_mels: int = 64
    vocab: int = 2048

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "kind": "autosing_semantic"}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SemanticConfig":
        d = dict(d)
        if d.pop("kind", None) != "autosing_semantic":
            raise ValueError("not a semantic-tokenizer config")
        return cls(**d)


def mel_filterbank(sr: int, n_fft: int, n_mels: int) -> torch.Tensor:
    """Triangular HTK-mel filters [n_mels, n_fft // 2 + 1]."""
    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + f / 700.0)

    mels = np.linspace(hz_to_mel(np.array(30.0)), hz_to_mel(np.array(sr / 2)), n_mels + 2)
    hz = 700.0 * (10 ** (mels / 2595.0) - 1.0)
    bins = np.linspace(0, sr / 2, n_fft // 2 + 1)
    fb = np.zeros((n_mels, bins.size), np.float32)
    for i in range(n_mels):
        lo, c, hi = hz[i], hz[i + 1], hz[i + 2]
        fb[i] = np.clip(np.minimum((bins - lo) / (c - lo), (hi - bins) / (hi - c)), 0, None)
    return torch.from_numpy(fb)


class SemanticTokenizer(nn.Module):
    # Buffers (registered in __init__), declared so a type checker sees tensors, not Modules.
    fb: torch.Tensor  # mel filterbank [n_mels, n_fft // 2 + 1]
    centroids: torch.Tensor  # k-means centroids [vocab, n_mels], in normalised feature space
    mean: torch.Tensor  # per-mel feature mean [n_mels]
    std: torch.Tensor  # per-mel feature std [n_mels]

    def __init__(self, cfg: SemanticConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.hop = int(round(cfg.sample_rate / cfg.rate_hz))
        self.n_fft = 1 << math.ceil(math.log2(2 * self.hop))
        self.register_buffer("fb", mel_filterbank(cfg.sample_rate, self.n_fft, cfg.n_mels), persistent=False)
        self.register_buffer("centroids", torch.zeros(cfg.vocab, cfg.n_mels))
        self.register_buffer("mean", torch.zeros(cfg.n_mels))
        self.register_buffer("std", torch.ones(cfg.n_mels))

    def n_tokens(self, n_samples: int) -> int:
        return max(1, math.ceil(n_samples / self.hop))

    def features(self, audio: torch.Tensor) -> torch.Tensor:
        """mono [T] at ``cfg.sample_rate`` -> log-mel [n_tokens(T), n_mels] (raw, unnormalised)."""
        n = self.n_tokens(audio.shape[-1])
        x = torch.nn.functional.pad(audio.float(), (0, n * self.hop - audio.shape[-1]))
        spec = torch.stft(x, self.n_fft, self.hop, window=torch.hann_window(self.n_fft), center=True,
                          return_complex=True).abs() ** 2
        mel = (self.fb @ spec).clamp_min(1e-8).log()
        return mel.T[:n]

    def fit(self, feats: list[torch.Tensor], iters: int = 20, seed: int = 0) -> None:
        """k-means over the frames of ``feats`` (each [N, n_mels] from :meth:`features`)."""
        x = torch.cat(feats)
        self.mean.copy_(x.mean(0))
        self.std.copy_(x.std(0).clamp_min(1e-3) if len(x) > 1 else torch.ones_like(self.std))
        x = (x - self.mean) / self.std
        g = torch.Generator().manual_seed(seed)
        c = x[torch.randint(len(x), (self.cfg.vocab,), generator=g)].clone()
        c += 1e-3 * torch.randn(c.shape, generator=g)
        for _ in range(iters):
            a = torch.cdist(x, c).argmin(1)
            for k in a.unique():
                c[k] = x[a == k].mean(0)
        self.centroids.copy_(c)

    @torch.inference_mode()
    def tokenize(self, audio: torch.Tensor) -> torch.Tensor:
        """mono [T] at ``cfg.sample_rate`` -> LongTensor [n_tokens(T)]."""
        x = (self.features(audio) - self.mean) / self.std
        return torch.cdist(x, self.centroids).argmin(1)
