"""Parallel token streams in one table and one projection (one gather and one matmul per step
instead of one per stream: fewer kernel launches in the per-step decode)."""
from __future__ import annotations

import torch
from torch import nn


class StreamEmbedding(nn.Module):
    """tokens [B, S, T] (ids < vocab per stream) -> sum over streams of their embeddings [B, T, dim]."""

    offsets: torch.Tensor  # buffer [1, S, 1]: stream k's ids start at k * vocab in the shared table

    def __init__(self, n_streams: int, vocab: int, dim: int) -> None:
        super().__init__()
        self.table = nn.Embedding(n_streams * vocab, dim)
        self.register_buffer("offsets", torch.arange(n_streams)[None, :, None] * vocab, persistent=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.table(tokens + self.offsets).sum(1)


class StreamHeads(nn.Module):
    """hidden [B, T, dim] -> logits [B, S, T, vocab], one output head per stream."""

    def __init__(self, dim: int, n_streams: int, vocab: int) -> None:
        super().__init__()
        self.n_streams, self.vocab = n_streams, vocab
        self.proj = nn.Linear(dim, n_streams * vocab)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return self.proj(x).view(b, t, self.n_streams, self.vocab).permute(0, 2, 1, 3)
