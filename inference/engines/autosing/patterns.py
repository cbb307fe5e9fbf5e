"""Codebook patterns: SNAC's multi-rate codes <-> token streams the transformer reads and writes.

Codes are a list of ``[B, T_k]`` LongTensors, codebook ``k`` holding ``n_fine / strides[k]`` codes
(``n_fine``: finest frames). Each codebook is split into ``max(1, group // stride)`` *streams*
(SNAC 32 kHz, group 4: c0, c1, c2a, c2b, c3a..c3d = 8 streams). Stream ``s`` carries a code at
every finest frame ``t`` with ``t % period == phase``. Two layouts share one time axis:

- ``unrolled``: one step per finest frame; a code sits at its own frame, ``BLANK`` elsewhere.
  Step ``i`` of a crop starting at frame ``offset`` has position ``offset + i``.
- ``compressed``: one step per ``group`` finest frames (48 ms at 32 kHz); step ``i`` holds each
  stream's code of frames ``[i*group, (i+1)*group)`` (c0 every other step, ``BLANK`` between).
  Step ``i`` has position ``group * i``.

On top of either layout, stream ``s`` is delayed by ``delays[level(s)]`` steps (>= 1, so step 0 is
an all-``PAD`` start step and no BOS token is needed); ``PAD`` also fills the tail. Token ids:
codes ``0..K-1``, ``BLANK = K``, ``PAD = K+1``, ``MASK = K+2`` (input vocabulary ``K+3``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from inference.engines.autosing.config import PatternSpec


def special_tokens(codebook_size: int) -> tuple[int, int, int]:
    """(BLANK, PAD, MASK) for a vocabulary of ``codebook_size`` codes."""
    return codebook_size, codebook_size + 1, codebook_size + 2


@dataclass(frozen=True)
class Stream:
    level: int
    period: int
    phase: int
    sub: int
    per_period: int


class Pattern:
    def __init__(self, spec: PatternSpec, codebook_size: int) -> None:
        self.spec = spec
        self.group = spec.group
        self.codebook_size = codebook_size
        self.blank, self.pad, self.mask = special_tokens(codebook_size)
        streams = []
        for level, s in enumerate(spec.strides):
            r = max(1, spec.group // s)
            period = max(s, spec.group)
            streams += [Stream(level, period, j * s if s <= spec.group else 0, j, r) for j in range(r)]
        self.streams: tuple[Stream, ...] = tuple(streams)
        self.n_streams = len(streams)
        self.levels = tuple(st.level for st in streams)
        self.delays = tuple(spec.delays[st.level] for st in streams)
        self.max_delay = max(self.delays)
        self.frame_multiple = math.lcm(max(spec.strides), spec.group)
        """``n_fine`` must be a multiple of this."""

    # ------------------------------------------------------------------ layouts
    def n_fine(self, codes: list[torch.Tensor]) -> int:
        n = codes[0].shape[-1] * self.spec.strides[0]
        for k, c in enumerate(codes):
            assert c.shape[-1] * self.spec.strides[k] == n, "codebooks disagree on the length"
        assert n % self.frame_multiple == 0, f"{n} finest frames is not a multiple of {self.frame_multiple}"
        return n

    def unrolled(self, codes: list[torch.Tensor]) -> torch.Tensor:
        """codes -> [B, S, n_fine]."""
        n = self.n_fine(codes)
        b = codes[0].shape[0]
        out = torch.full((b, self.n_streams, n), self.blank, dtype=torch.long, device=codes[0].device)
        for i, st in enumerate(self.streams):
            out[:, i, st.phase::st.period] = codes[st.level][:, st.sub::st.per_period]
        return out

    def from_unrolled(self, x: torch.Tensor) -> list[torch.Tensor]:
        """[B, S, n_fine] -> codes (inverse of :meth:`unrolled`)."""
        n = x.shape[-1]
        codes = [torch.empty((x.shape[0], n // s), dtype=torch.long, device=x.device) for s in self.spec.strides]
        for i, st in enumerate(self.streams):
            codes[st.level][:, st.sub::st.per_period] = x[:, i, st.phase::st.period]
        return codes

    def compressed(self, codes: list[torch.Tensor]) -> torch.Tensor:
        """codes -> [B, S, n_fine // group]."""
        u = self.unrolled(codes)
        return torch.stack([u[:, i, st.phase::self.group] for i, st in enumerate(self.streams)], 1)

    def from_compressed(self, x: torch.Tensor) -> list[torch.Tensor]:
        n = x.shape[-1] * self.group
        codes = [torch.empty((x.shape[0], n // s), dtype=torch.long, device=x.device) for s in self.spec.strides]
        for i, st in enumerate(self.streams):
            codes[st.level][:, st.sub::st.per_period] = x[:, i, ::st.period // self.group]
        return codes

    def layout(self, codes: list[torch.Tensor], layout: str) -> torch.Tensor:
        return self.compressed(codes) if layout == "compressed" else self.unrolled(codes)

    def from_layout(self, x: torch.Tensor, layout: str) -> list[torch.Tensor]:
        return self.from_compressed(x) if layout == "compressed" else self.from_unrolled(x)

    # ------------------------------------------------------------------ delays
    def delay(self, x: torch.Tensor) -> torch.Tensor:
        """[B, S, T] -> [B, S, T + max_delay], stream s shifted right by its delay, PAD around."""
        b, s, t = x.shape
        out = torch.full((b, s, t + self.max_delay), self.pad, dtype=x.dtype, device=x.device)
        for i, d in enumerate(self.delays):
            out[:, i, d:d + t] = x[:, i]
        return out

    def undelay(self, d: torch.Tensor) -> torch.Tensor:
        """[B, S, T + max_delay] -> [B, S, T]."""
        t = d.shape[-1] - self.max_delay
        return torch.stack([d[:, i, k:k + t] for i, k in enumerate(self.delays)], 1)

    # ------------------------------------------------------------------ what generation writes
    def code_mask(self, layout: str, n_steps: int, offset: int = 0) -> torch.Tensor:
        """bool [S, n_steps]: where the (undelayed) layout holds a code rather than BLANK."""
        idx = torch.arange(n_steps)
        frames = idx * self.group if layout == "compressed" else idx + offset
        rows = []
        for st in self.streams:
            f = frames + (st.phase if layout == "compressed" else 0)
            rows.append(f % st.period == st.phase)
        return torch.stack(rows)

    def fixed_tokens(self, layout: str, n_steps: int, offset: int = 0) -> torch.Tensor:
        """Long [S, n_steps + max_delay]: the delayed sequence's BLANK/PAD tokens, -1 where a code
        is to be predicted. Training ignores the non-code targets; generation writes them as is."""
        cm = self.code_mask(layout, n_steps, offset)
        out = self.delay(torch.full((1, self.n_streams, n_steps), self.blank, dtype=torch.long))[0]
        for i, d in enumerate(self.delays):
            out[i, d:d + n_steps][cm[i]] = -1
        return out

    def positions(self, layout: str, n_steps: int, offset: int = 0) -> torch.Tensor:
        """float [n_steps + max_delay]: time (finest frames) of each delayed step."""
        t = torch.arange(n_steps + self.max_delay, dtype=torch.float32)
        return t * self.group if layout == "compressed" else t + offset

    def finished_frames(self, layout: str, steps_done: int, offset: int = 0) -> int:
        """How many finest frames (from ``offset``) are complete once delayed steps ``[0, steps_done)``
        are known."""
        undelayed = max(0, steps_done - self.max_delay)
        return undelayed * self.group if layout == "compressed" else undelayed
