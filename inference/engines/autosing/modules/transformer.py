"""Transformer layers: a bidirectional encoder layer for memories and the AutoSing decoder layer
(causal self-attention + two cross-attentions, text/semantic and music, fused by a learned gate)."""
from __future__ import annotations

import math

import torch
from torch import nn

from inference.engines.autosing.modules.attention import Attention

MemoryKV = tuple[torch.Tensor, torch.Tensor, "torch.Tensor | None"]


class FeedForward(nn.Module):
    def __init__(self, dim: int, mult: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, dim * mult), nn.GELU(), nn.Linear(dim * mult, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class EncoderLayer(nn.Module):
    """Pre-norm bidirectional self-attention + FFN (memories are known in full before decoding)."""

    def __init__(self, dim: int, n_heads: int, ffn_mult: int, rope_base: float, use_rope: bool = True) -> None:
        super().__init__()
        self.n1, self.n2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = Attention(dim, n_heads, rope_base, use_rope)
        self.ffn = FeedForward(dim, ffn_mult)

    def forward(self, x: torch.Tensor, pos: torch.Tensor | None, mask: torch.Tensor | None) -> torch.Tensor:
        m = None if mask is None else mask[:, None, None, :]
        x = x + self.attn(self.n1(x), pos, mask=m)
        return x + self.ffn(self.n2(x))


class DecoderLayer(nn.Module):
    """x += SelfAttn(x); x += g * XAttn_text(x) + (1 - g) * XAttn_music(x); x += FFN(x).
    ``g = sigmoid(gate)`` starts at ``text_fuse`` (0.8 in the paper, learned here). With
    ``cross=False`` (the artist embedder) it is a plain decoder-only layer."""

    def __init__(self, dim: int, n_heads: int, ffn_mult: int, rope_base: float, text_fuse: float = 0.8,
                 text_rope: bool = False, cross: bool = True) -> None:
        super().__init__()
        self.n_self, self.n_ffn = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.self_attn = Attention(dim, n_heads, rope_base)
        self.ffn = FeedForward(dim, ffn_mult)
        self.cross = cross
        if cross:
            self.n_text, self.n_music = nn.LayerNorm(dim), nn.LayerNorm(dim)
            self.text_attn = Attention(dim, n_heads, rope_base, use_rope=text_rope)
            self.music_attn = Attention(dim, n_heads, rope_base)
            self.gate = nn.Parameter(torch.tensor(math.log(text_fuse / (1 - text_fuse))))

    def forward(self, x: torch.Tensor, pos: torch.Tensor, text: MemoryKV | None = None,
                music: MemoryKV | None = None, start: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.self_attn(self.n_self(x), pos, causal=True, start=start)
        if self.cross:
            assert text is not None and music is not None
            g = torch.sigmoid(self.gate)
            x = x + g * self.text_attn(self.n_text(x), pos, memory=text) \
                + (1 - g) * self.music_attn(self.n_music(x), pos, memory=music)
        return x + self.ffn(self.n_ffn(x))
