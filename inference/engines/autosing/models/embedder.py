"""Artist embedding model: a small decoder-only transformer over a vocal's codes (delayed
compressed layout) with an autoregressive head and a classification head over the training
artists. L = class_weight * CE(label smoothing) + L_AR. The embedding is the ``emb_dim`` (256)
activation the classifier reads: mean-pooled final hidden states through a projection."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from inference.engines.autosing.config import EmbedderConfig
from inference.engines.autosing.modules.streams import StreamEmbedding, StreamHeads
from inference.engines.autosing.modules.transformer import DecoderLayer
from inference.engines.autosing.patterns import Pattern


class ArtistEmbedder(nn.Module):
    def __init__(self, cfg: EmbedderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.pattern = Pattern(cfg.pattern, cfg.codebook_size)
        d, v = cfg.dim, cfg.codebook_size
        self.tok_emb = StreamEmbedding(self.pattern.n_streams, v + 3, d)
        self.layers = nn.ModuleList(DecoderLayer(d, cfg.n_heads, 4, 10000.0, cross=False) for _ in range(cfg.n_layers))
        self.norm = nn.LayerNorm(d)
        self.ar_heads = StreamHeads(d, self.pattern.n_streams, v)
        self.to_emb = nn.Linear(d, cfg.emb_dim)
        self.classifier = nn.Linear(cfg.emb_dim, cfg.n_artists)

    def _hidden(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.tok_emb(tokens)
        pos = (torch.arange(tokens.shape[-1], device=tokens.device, dtype=torch.float32)
               * self.pattern.group)[None].expand(tokens.shape[0], -1)
        for layer in self.layers:
            x = layer(x, pos)
        return self.norm(x)

    def tokens(self, codes: list[torch.Tensor]) -> torch.Tensor:
        return self.pattern.delay(self.pattern.compressed(codes))

    def embed(self, codes: list[torch.Tensor]) -> torch.Tensor:
        """codes (list of [B, T_k]) -> [B, emb_dim] artist embedding."""
        return self.to_emb(self._hidden(self.tokens(codes)).mean(1))

    def loss(self, codes: list[torch.Tensor], labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        tok = self.tokens(codes)
        h = self._hidden(tok[..., :-1])
        logits = self.ar_heads(h)
        tgt = tok[..., 1:].clone()
        tgt[tgt >= self.cfg.codebook_size] = -100
        l_ar = F.cross_entropy(logits.reshape(-1, self.cfg.codebook_size), tgt.reshape(-1), ignore_index=-100)
        cls = self.classifier(self.to_emb(h.mean(1)))
        l_cls = F.cross_entropy(cls, labels, label_smoothing=self.cfg.label_smoothing)
        loss = self.cfg.class_weight * l_cls + l_ar
        return loss, {"ar": float(l_ar.detach()), "class": float(l_cls.detach())}
