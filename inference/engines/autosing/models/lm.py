"""AutoSing stage transformer.

Stage 1 (text-to-semantic): memory A = lyrics as UTF-8 bytes (bidirectional encoder; bytes rather
than phonemes so any language and any spelling the user types reaches the model without a G2P
that could disagree with training), memory B = the instrumental's codes with the fine codebooks
masked; target = one stream of 25 Hz semantic tokens.
Stage 2 (semantic-to-audio): memory A = semantic tokens + projected, L2-normalised 256-d artist
embedding; memory B = the full instrumental codes; target = the vocal's codes in a layout
(``patterns``), one embedding table and one output head per stream.

Every decoder layer: causal self-attention, then the two cross-attentions fused by a gate.
Shapes: tokens [B, S, L] (S streams, L delayed steps), positions [B, L] in finest frames.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from inference.engines.autosing.config import LMConfig
from inference.engines.autosing.modules.attention import KVCache
from inference.engines.autosing.modules.streams import StreamEmbedding, StreamHeads
from inference.engines.autosing.modules.transformer import DecoderLayer, EncoderLayer, MemoryKV
from inference.engines.autosing.patterns import Pattern

N_BYTES = 256


@dataclass
class Memories:
    """Encoded conditioning: ``text`` [B, M, dim] (lyrics bytes or semantic tokens), ``music``
    [B, N, dim]; positions in finest frames (text: byte index in stage 1); masks True = real."""

    text: torch.Tensor
    text_pos: torch.Tensor
    text_mask: torch.Tensor
    music: torch.Tensor
    music_pos: torch.Tensor
    music_mask: torch.Tensor


class AutoSingLM(nn.Module):
    def __init__(self, cfg: LMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.dim
        self.pattern = Pattern(cfg.pattern, cfg.codebook_size)
        if cfg.stage == 1:
            self.n_out, self.out_vocab = 1, cfg.semantic_vocab
            self.text_vocab = N_BYTES
        else:
            self.n_out, self.out_vocab = self.pattern.n_streams, cfg.codebook_size
            self.text_vocab = cfg.semantic_vocab
            self.artist_proj = nn.Linear(cfg.artist_dim, d)
        # Target specials: BLANK = V, PAD = V + 1, MASK = V + 2.
        self.blank, self.pad = self.out_vocab, self.out_vocab + 1
        self.text_null, self.text_pad = self.text_vocab, self.text_vocab + 1
        self.tok_emb = StreamEmbedding(self.n_out, self.out_vocab + 3, d)
        self.text_emb = nn.Embedding(self.text_vocab + 2, d)
        self.music_emb = StreamEmbedding(self.pattern.n_streams, cfg.codebook_size + 3, d)
        self.text_enc = nn.ModuleList(EncoderLayer(d, cfg.n_heads, cfg.ffn_mult, cfg.rope_base)
                                      for _ in range(cfg.mem_layers))
        self.music_enc = nn.ModuleList(EncoderLayer(d, cfg.n_heads, cfg.ffn_mult, cfg.rope_base)
                                       for _ in range(cfg.mem_layers))
        self.text_norm, self.music_norm = nn.LayerNorm(d), nn.LayerNorm(d)
        self.layers = nn.ModuleList(DecoderLayer(d, cfg.n_heads, cfg.ffn_mult, cfg.rope_base, cfg.text_fuse,
                                                 text_rope=cfg.stage == 2) for _ in range(cfg.n_layers))
        self.norm = nn.LayerNorm(d)
        self.heads = StreamHeads(d, self.n_out, self.out_vocab)
        self._mem_kv: list[tuple[MemoryKV, MemoryKV]] | None = None

    # ------------------------------------------------------------------ conditioning
    @property
    def semantic_step(self) -> float:
        """Finest frames per semantic token (83.3 / 25 at 32 kHz)."""
        return self.cfg.frame_rate_hz / self.cfg.semantic_rate_hz

    def null_text(self, batch: int, length: int = 1, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """The unconditional text/semantic memory (what condition dropout trains and CFG uses):
        one NULL token, PAD after it."""
        tok = torch.full((batch, length), self.text_pad, dtype=torch.long, device=device)
        tok[:, 0] = self.text_null
        mask = torch.zeros((batch, length), dtype=torch.bool, device=device)
        mask[:, 0] = True
        return tok, mask

    def encode(self, text: torch.Tensor, text_mask: torch.Tensor, music: torch.Tensor,
               artist: torch.Tensor | None = None, music_mask: torch.Tensor | None = None) -> Memories:
        """text: [B, M] byte ids (stage 1) or semantic ids (stage 2), NULL/PAD allowed; music:
        [B, S, N] instrumental codes in the undelayed compressed layout; artist: [B, artist_dim]
        (stage 2; zeros = no artist)."""
        b, m = text.shape
        dev = text.device
        x = self.text_emb(text)
        if self.cfg.stage == 1:
            tpos = torch.arange(m, device=dev, dtype=torch.float32)[None].expand(b, m)
        else:
            tpos = (torch.arange(m, device=dev, dtype=torch.float32) * self.semantic_step)[None].expand(b, m)
            if artist is None:
                artist = torch.zeros((b, self.cfg.artist_dim), device=dev)
            x = x + self.artist_proj(F.normalize(artist.float(), dim=-1).to(x.dtype))[:, None]
        for layer in self.text_enc:
            x = layer(x, tpos, text_mask)
        music = music.clone()
        if self.cfg.stage == 1:
            fine = torch.tensor([lv >= self.cfg.fine_levels_masked for lv in self.pattern.levels], device=dev)
            music[:, fine] = self.pattern.mask
        n = music.shape[-1]
        y = self.music_emb(music)
        mpos = (torch.arange(n, device=dev, dtype=torch.float32) * self.pattern.group)[None].expand(b, n)
        mmask = music_mask if music_mask is not None else torch.ones((b, n), dtype=torch.bool, device=dev)
        for layer in self.music_enc:
            y = layer(y, mpos, mmask)
        return Memories(self.text_norm(x), tpos, text_mask, self.music_norm(y), mpos, mmask)

    @property
    def decoder_layers(self) -> Sequence[DecoderLayer]:
        """``layers`` typed as what it holds (an nn.ModuleList yields plain Modules to a type checker)."""
        return cast("Sequence[DecoderLayer]", self.layers)

    def _memory_kv(self, mem: Memories) -> list[tuple[MemoryKV, MemoryKV]]:
        return [(layer.text_attn.memory_kv(mem.text, mem.text_pos, mem.text_mask),
                 layer.music_attn.memory_kv(mem.music, mem.music_pos, mem.music_mask))
                for layer in self.decoder_layers]

    # ------------------------------------------------------------------ decoder
    def _embed(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.tok_emb(tokens)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.heads(self.norm(x))

    def forward(self, tokens: torch.Tensor, pos: torch.Tensor, mem: Memories) -> torch.Tensor:
        """Full-sequence (training) forward: tokens [B, S, L], pos [B, L] -> logits [B, S, L, V];
        logits at step t predict the tokens of step t + 1."""
        x = self._embed(tokens)
        for layer, (tkv, mkv) in zip(self.layers, self._memory_kv(mem)):
            x = layer(x, pos, tkv, mkv)
        return self._logits(x)

    def loss(self, tokens: torch.Tensor, pos: torch.Tensor, mem: Memories) -> torch.Tensor:
        """Next-step cross-entropy over code targets only (BLANK/PAD are fixed by the layout)."""
        logits = self(tokens[..., :-1], pos[:, :-1], mem)
        tgt = tokens[..., 1:].clone()
        tgt[tgt >= self.out_vocab] = -100
        return F.cross_entropy(logits.reshape(-1, self.out_vocab).float(), tgt.reshape(-1), ignore_index=-100)

    # ------------------------------------------------------------------ cached inference
    def setup_caches(self, batch: int, length: int, dtype: torch.dtype | None = None,
                     device: torch.device | str | None = None) -> None:
        p = next(self.parameters())
        for layer in self.decoder_layers:
            layer.self_attn.cache = KVCache(batch, self.cfg.n_heads, length, self.cfg.dim // self.cfg.n_heads,
                                            dtype or p.dtype, device or p.device)

    def clear_caches(self) -> None:
        for layer in self.decoder_layers:
            layer.self_attn.cache = None
        self._mem_kv = None

    def cache_length(self) -> int:
        c = self.decoder_layers[0].self_attn.cache
        return 0 if c is None else int(c.k.shape[2])

    def prefill_memory(self, mem: Memories) -> None:
        """Compute every layer's cross-attention keys/values once for this generation."""
        self._mem_kv = self._memory_kv(mem)

    def step(self, tokens: torch.Tensor, pos: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
        """Cached forward of steps ``[start, start + T)``: tokens [B, S, T], pos [B, T] ->
        logits [B, S, T, V]. Prefill passes several steps, decode one."""
        assert self._mem_kv is not None, "call prefill_memory() first"
        x = self._embed(tokens)
        for layer, (tkv, mkv) in zip(self.layers, self._mem_kv):
            x = layer(x, pos, tkv, mkv, start=start)
        return self._logits(x)
