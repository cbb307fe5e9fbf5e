"""Generation, split gpt-fast style: conditioning is encoded and every layer's cross-attention
keys/values computed once (prefill), then one cached decode step per delayed step, writing only
the positions the layout marks as codes (BLANK/PAD are known in advance). The decode step can be
compiled once and kept on the :class:`Generator` object.

``fixed`` [S, L]: the delayed sequence's known tokens, -1 where a token is to be sampled (see
``Pattern.fixed_tokens``); ``pos`` [L]: each delayed step's time in finest frames.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Iterator

import torch

from host_bridge.core.errors import CancelledError
from inference.engines.autosing.models.lm import AutoSingLM
from inference.engines.autosing.sampling import SamplingParams, cfg_combine, sample

log = logging.getLogger(__name__)


def stage1_plan(model: AutoSingLM, n_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Stage 1's delayed sequence: [PAD, s0 .. s_{n-1}], positions in finest frames."""
    fixed = torch.full((1, n_tokens + 1), -1, dtype=torch.long)
    fixed[0, 0] = model.pad
    return fixed, torch.arange(n_tokens + 1, dtype=torch.float32) * model.semantic_step


def stage2_plan(model: AutoSingLM, layout: str, n_fine: int, offset: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    p = model.pattern
    n_steps = n_fine // p.group if layout == "compressed" else n_fine
    return p.fixed_tokens(layout, n_steps, offset), p.positions(layout, n_steps, offset)


class Generator:
    """One model's inference state: preallocated caches (grown when a longer or wider request
    comes), an optionally compiled decode step."""

    def __init__(self, model: AutoSingLM, compile: bool = False, compile_mode: str | None = None) -> None:
        """``compile``: torch.compile the one-step decode (static shapes: the caches are
        preallocated); ``compile_mode`` e.g. "reduce-overhead" (CUDA graphs) on a GPU."""
        self.model = model.eval()
        self._decode: Callable[..., torch.Tensor] = model.step
        if compile:
            self._decode = torch.compile(model.step, dynamic=False, mode=compile_mode)
        self._cache_shape: tuple[int, int] | None = None

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _caches(self, batch: int, length: int) -> None:
        if self._cache_shape is None or self._cache_shape[0] != batch or self._cache_shape[1] < length:
            cap = max(length, int(self.model.cfg.max_seconds * self.model.cfg.frame_rate_hz) + 8)
            self.model.setup_caches(batch, cap)
            self._cache_shape = (batch, cap)

    @torch.inference_mode()
    def stream(self, text: torch.Tensor, text_mask: torch.Tensor, music: torch.Tensor,
               fixed: torch.Tensor, pos: torch.Tensor, *, artist: torch.Tensor | None = None,
               params: SamplingParams = SamplingParams(), seed: int = 0, prompt_steps: int = 1,
               cancel: threading.Event | None = None) -> Iterator[tuple[int, torch.Tensor]]:
        """Yield ``(t, tokens [S])`` (on the model's device; nothing here waits for the device)
        for every delayed step t >= ``prompt_steps``. text [1, M],
        music [1, S_music, N] (undelayed compressed layout), artist [1, A] or None. ``fixed``
        columns below ``prompt_steps`` must be fully known (a prompt); they are prefilled at once."""
        m = self.model
        dev = self.device
        fixed = fixed.to(dev)
        s, length = fixed.shape
        assert (fixed[:, :prompt_steps] >= 0).all(), "the prompt must be fully known"
        use_cfg = params.cfg_scale != 1.0
        b = 2 if use_cfg else 1
        text, text_mask, music = text.to(dev), text_mask.to(dev), music.to(dev)
        if use_cfg:
            null, null_mask = m.null_text(1, text.shape[1], dev)
            text, text_mask = torch.cat([text, null]), torch.cat([text_mask, null_mask])
            music = music.expand(2, -1, -1)
            if artist is not None:
                artist = torch.cat([artist.to(dev), torch.zeros_like(artist, device=dev)])
        elif artist is not None:
            artist = artist.to(dev)
        self._caches(b, length)
        gen = torch.Generator(device=dev).manual_seed(seed)
        m.prefill_memory(m.encode(text, text_mask, music, artist))
        seq = fixed.clone()
        posb = pos.to(dev)[None].expand(b, -1)
        logits = m.step(seq[None, :, :prompt_steps].expand(b, -1, -1), posb[:, :prompt_steps],
                        torch.tensor(0, device=dev))[:, :, -1]
        for t in range(prompt_steps, length):
            if cancel is not None and cancel.is_set():
                raise CancelledError("the job was cancelled", "start it again when you are ready")
            lg = cfg_combine(logits[0], logits[1], params.cfg_scale) if use_cfg else logits[0]
            want = seq[:, t] < 0
            tok = sample(lg, params, gen)
            seq[:, t] = torch.where(want, tok, seq[:, t])
            yield t, seq[:, t]
            if t + 1 < length:
                logits = self._decode(seq[None, :, t:t + 1].expand(b, -1, -1), posb[:, t:t + 1],
                                      torch.tensor(t, device=dev))[:, :, -1]

    def generate(self, text: torch.Tensor, text_mask: torch.Tensor, music: torch.Tensor, fixed: torch.Tensor,
                 pos: torch.Tensor, **kw: Any) -> torch.Tensor:
        """Like :meth:`stream` (same keywords), returning the whole delayed sequence [S, L]."""
        seq = fixed.clone().to(self.device)
        for t, tok in self.stream(text, text_mask, music, fixed, pos, **kw):
            seq[:, t] = tok
        return seq
