"""Multi-head attention with rotary positions on real-valued times, a preallocated self-attention
KV cache, and cross-attention whose keys/values are computed once per generation.

Positions are in finest codec frames (floats), per sample: the compressed and unrolled layouts,
the music memory and the 25 Hz semantic tokens all live on that one time axis, so a
cross-attention with rotary positions on both sides sees relative time.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn


def rope_angles(pos: torch.Tensor, inv_freq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin [B, 1, T, D/2] for positions ``pos`` [B, T] (float)."""
    ang = pos.float()[:, None, :, None] * inv_freq
    return ang.cos(), ang.sin()


def rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate ``x`` [B, H, T, D] (half-split pairs) by precomputed angles."""
    d = x.shape[-1] // 2
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    x1, x2 = x[..., :d], x[..., d:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], -1)


class KVCache(nn.Module):
    """Preallocated keys/values [B, H, L, D]; ``update`` writes steps ``[start, start + T)``."""

    k: torch.Tensor  # buffers (registered in __init__), declared so a type checker sees tensors
    v: torch.Tensor

    def __init__(self, batch: int, heads: int, length: int, head_dim: int, dtype: torch.dtype,
                 device: torch.device | str = "cpu") -> None:
        super().__init__()
        shape = (batch, heads, length, head_dim)
        self.register_buffer("k", torch.zeros(shape, dtype=dtype, device=device), persistent=False)
        self.register_buffer("v", torch.zeros(shape, dtype=dtype, device=device), persistent=False)

    def update(self, start: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        idx = start + torch.arange(k.shape[2], device=k.device)
        self.k.index_copy_(2, idx, k)
        self.v.index_copy_(2, idx, v)
        return self.k, self.v


class Attention(nn.Module):
    inv_freq: torch.Tensor  # buffer: rotary frequencies [head_dim / 2], kept float32 (see _apply)

    def __init__(self, dim: int, n_heads: int, rope_base: float = 10000.0, use_rope: bool = True) -> None:
        super().__init__()
        self.n_heads, self.head_dim = n_heads, dim // n_heads
        self.wq = nn.Linear(dim, dim, bias=False)
        self.wkv = nn.Linear(dim, 2 * dim, bias=False)
        self.wo = nn.Linear(dim, dim, bias=False)
        self.use_rope = use_rope
        inv = 1.0 / (rope_base ** (torch.arange(0, self.head_dim, 2, dtype=torch.float32) / self.head_dim))
        self.register_buffer("inv_freq", inv, persistent=False)
        self.cache: KVCache | None = None
        self.mem_kv: tuple[torch.Tensor, torch.Tensor, torch.Tensor | None] | None = None

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True) -> "Attention":
        """Keep the rotary frequencies in float32 when the module is cast to bf16/fp16."""
        inv = self.inv_freq
        out = super()._apply(fn, recurse)
        self.inv_freq = inv.to(self.inv_freq.device)
        return out

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.n_heads, self.head_dim).transpose(1, 2)

    def _rot(self, x: torch.Tensor, pos: torch.Tensor | None,
             angles: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        if not self.use_rope or pos is None:
            return x
        cos, sin = angles if angles is not None else rope_angles(pos, self.inv_freq)
        return rope(x, cos, sin)

    def memory_kv(self, mem: torch.Tensor, mem_pos: torch.Tensor | None,
                  mem_mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Keys/values of a memory [B, M, dim] (rotated by ``mem_pos``), plus its mask [B, 1, 1, M]."""
        k, v = self.wkv(mem).chunk(2, -1)
        k, v = self._rot(self._split(k), mem_pos), self._split(v)
        return k, v, None if mem_mask is None else mem_mask[:, None, None, :]

    def forward(self, x: torch.Tensor, pos: torch.Tensor | None, *, causal: bool = False,
                mask: torch.Tensor | None = None, start: torch.Tensor | None = None,
                memory: tuple[torch.Tensor, torch.Tensor, torch.Tensor | None] | None = None) -> torch.Tensor:
        """Self-attention over ``x`` [B, T, dim] (with the KV cache when one is set up and ``start``
        is given), or cross-attention when ``memory`` (from :meth:`memory_kv`) is given."""
        b, t, _ = x.shape
        angles = rope_angles(pos, self.inv_freq) if self.use_rope and pos is not None else None
        q = self._rot(self._split(self.wq(x)), pos, angles)
        if memory is not None:
            k, v, attn_mask = memory
        else:
            k, v = self.wkv(x).chunk(2, -1)
            k, v = self._rot(self._split(k), pos, angles), self._split(v)
            attn_mask = mask
            if self.cache is not None and start is not None:
                k, v = self.cache.update(start, k, v)
                qi = start + torch.arange(t, device=x.device)
                attn_mask = torch.arange(k.shape[2], device=x.device)[None, :] <= qi[:, None]
                causal = False
            elif causal:
                attn_mask, causal = torch.ones(t, t, dtype=torch.bool, device=x.device).tril(), False
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=causal)
        return self.wo(y.transpose(1, 2).reshape(b, t, -1))
