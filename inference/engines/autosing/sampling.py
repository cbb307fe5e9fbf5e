"""Token sampling: temperature (0.7 by default), top-k, top-p, classifier-free guidance."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.7
    """0 = greedy (argmax)."""
    top_k: int = 0
    """Keep the k most likely tokens (0 = all)."""
    top_p: float = 0.0
    """Keep the smallest set whose probability reaches p (0 = off)."""
    cfg_scale: float = 1.0
    """Classifier-free guidance: uncond + scale * (cond - uncond); 1 = no guidance (no extra batch row)."""


GREEDY = SamplingParams(temperature=0.0)


def cfg_combine(cond: torch.Tensor, uncond: torch.Tensor, scale: float) -> torch.Tensor:
    return uncond + scale * (cond - uncond)


def sample(logits: torch.Tensor, params: SamplingParams, generator: torch.Generator | None = None) -> torch.Tensor:
    """logits [N, V] -> token ids [N]."""
    logits = logits.float()
    if params.temperature <= 0:
        return logits.argmax(-1)
    logits = logits / params.temperature
    if params.top_k > 0:
        kth = torch.topk(logits, min(params.top_k, logits.shape[-1]), -1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if 0 < params.top_p < 1:
        srt, idx = logits.sort(-1, descending=True)
        cum = srt.softmax(-1).cumsum(-1)
        drop = cum - srt.softmax(-1) >= params.top_p  # keep the token that crosses p
        srt = srt.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, idx, srt)
    probs = logits.softmax(-1)
    if probs.device.type != "cpu" and generator is not None and generator.device.type == "cpu":
        return torch.multinomial(probs.cpu(), 1, generator=generator)[:, 0].to(probs.device)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]
