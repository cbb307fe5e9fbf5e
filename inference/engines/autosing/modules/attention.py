"""Multi-head attention with rotary positions on real-valued times, a preallocated self-attention
KV cache, and cross-attention whose keys/values are computed once per generation.

Positions are in finest codec frames (floats), per sample: the compressed and unrolled layouts,
the music memory and the 25 Hz semantic tokens all live on that one time axis, so a
cross-attention with rotary positions on both sides sees relative time.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def rope(x: torch.Tensor, pos: torch.Tensor, base: float) -> torch.Tensor:
    """Rotate ``x`` [B, H, T, D] by positions ``pos`` [B, T] (float)."""
    d = x.shape[-1]
    inv = 1.0 / (base ** (torch.arange(0, d, 2, device=x.device, dtype=torch.float32) / d))
    ang = pos.float()[:, None, :, None] * inv  # [B, 1, T, D/2]
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], -1)


class KVCache(nn.Module):
    """Preallocated keys/values [B, H, L, D]; ``update`` writes steps ``[start, start + T)``."""

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
    def __init__(self, dim: int, n_heads: int, rope_base: float = 10000.0, use_rope: bool = True) -> None:
        super().__init__()
        self.n_heads, self.head_dim = n_heads, dim // n_heads
        self.wq = nn.Linear(dim, dim, bias=False)
        self.wkv = nn.Linear(dim, 2 * dim, bias=False)
        self.wo = nn.Linear(dim, dim, bias=False)
        self.rope_base, self.use_rope = rope_base, use_rope
        self.cache: KVCache | None = None
        self.mem_kv: tuple[torch.Tensor, torch.Tensor, torch.Tensor | None] | None = None

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.n_heads, self.head_dim).transpose(1, 2)

    def _rot(self, x: torch.Tensor, pos: torch.Tensor | None) -> torch.Tensor:
        return rope(x, pos, self.rope_base) if self.use_rope and pos is not None else x

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
        q = self._rot(self._split(self.wq(x)), pos)
        if memory is not None:
            k, v, attn_mask = memory
        else:
            k, v = self.wkv(x).chunk(2, -1)
            k, v = self._rot(self._split(k), pos), self._split(v)
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
