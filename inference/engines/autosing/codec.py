"""SNAC codec wrapper: local-folder loading only, encode at any input rate, seeded decode, and a
streaming decoder whose output equals the one-shot decode.

SNAC facts (../shared/FINDINGS.md): 32 kHz config, hop 384, 4 codebooks at strides 8/4/2/1 of the
finest frame rate (83.3 Hz); ``encode`` pads audio to a multiple of hop * lcm(8, window) = 12288
samples; the decoder's local attention needs the finest length to be a multiple of its window
(32); its NoiseBlocks add fresh noise on every call. Here each NoiseBlock is swapped for one that
draws noise as a function of (seed, layer, absolute sample index): decoding is reproducible and
a chunk decoded with enough context equals the same span of a one-shot decode.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any, Protocol, cast

import numpy as np
import torch
from torch import nn

_NOISE_BLOCK = 8192


def _noise(seed: int, layer: int, start: int, length: int) -> torch.Tensor:
    """Standard normal noise for absolute samples [start, start + length) of one layer."""
    out = []
    b0, b1 = start // _NOISE_BLOCK, (start + length - 1) // _NOISE_BLOCK
    for b in range(b0, b1 + 1):
        g = torch.Generator().manual_seed((seed * 1_000_003 + layer * 7_919 + b * 104_729) % (2**62))
        out.append(torch.randn(_NOISE_BLOCK, generator=g))
    cat = torch.cat(out)
    off = start - b0 * _NOISE_BLOCK
    return cat[off:off + length]


class PositionalNoise(nn.Module):
    """Drop-in for ``snac.layers.NoiseBlock`` (same ``linear`` submodule, same state-dict keys)."""

    def __init__(self, linear: nn.Module, layer: int, upsample: int) -> None:
        super().__init__()
        self.linear = linear
        self.layer, self.upsample = layer, upsample
        self.seed = 0
        self.frame_offset = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = _noise(self.seed, self.layer, self.frame_offset * self.upsample, x.shape[-1])
        return x + n.to(x.device, x.dtype)[None, None] * self.linear(x)


def build_snac(config: dict[str, Any], seed: int = 0) -> nn.Module:
    """A SNAC model from a config dict with seeded random weights (offline; for tests and benchmarks)."""
    from snac import SNAC

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return SNAC(**config).eval()


class _SnacDecoder(Protocol):
    model: nn.Sequential


class SnacModel(Protocol):
    """What :class:`Codec` reads from a ``snac.SNAC`` (the snac package ships no type hints, and
    ``nn.Module`` attribute access types as ``Tensor | Module``)."""

    sampling_rate: int
    hop_length: int
    vq_strides: Sequence[int]
    codebook_size: int
    attn_window_size: int | None
    decoder_rates: Sequence[int]
    decoder: _SnacDecoder

    def encode(self, audio_data: torch.Tensor) -> list[torch.Tensor]: ...

    def decode(self, codes: list[torch.Tensor]) -> torch.Tensor: ...

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]: ...


class Codec:
    """SNAC in eval mode with positional noise. Audio in and out: float32 numpy, [C, T]."""

    def __init__(self, snac: nn.Module) -> None:
        from snac.layers import NoiseBlock

        self.snac = snac.eval()
        spec = self._spec
        self.sample_rate = int(spec.sampling_rate)
        self.hop = int(spec.hop_length)
        self.strides = tuple(int(s) for s in spec.vq_strides)
        self.codebook_size = int(spec.codebook_size)
        self.window = spec.attn_window_size or 1
        self.align = math.lcm(self.window, max(self.strides))
        """Chunk boundaries (finest frames) must sit on multiples of this."""
        self.frame_rate = self.sample_rate / self.hop
        self._noise: list[PositionalNoise] = []
        up = 1
        for blk in spec.decoder.model:
            seq = getattr(blk, "block", None)
            if not isinstance(seq, nn.Sequential) or not any(isinstance(m, NoiseBlock) for m in seq):
                continue
            conv_t = seq[1]
            assert isinstance(conv_t, nn.ConvTranspose1d), "SNAC DecoderBlock: [Snake1d, ConvTranspose1d, ...]"
            up *= int(conv_t.stride[0])
            for i, mod in enumerate(seq):
                if isinstance(mod, NoiseBlock):
                    pn = PositionalNoise(mod.linear, len(self._noise), up)
                    seq[i] = pn
                    self._noise.append(pn)
        self.context = self._context_frames()

    @property
    def _spec(self) -> SnacModel:
        return cast(SnacModel, self.snac)

    def _context_frames(self) -> int:
        """Frames of context either side that make a chunk decode exact (receptive field of the
        decoder after the local attention, plus the convolution before it, rounded up to ``align``)."""
        rates = [int(r) for r in self._spec.decoder_rates]
        post, up = 0.0, 1
        for r in rates:
            post += 2 / up  # transposed conv, kernel 2r: about 2 input samples
            up *= r
            post += 3 * (1 + 3 + 9) / up  # three residual units, kernel 7, dilations 1/3/9
        post += 3 / up + 1
        a = self.align
        return a * math.ceil(post / a) + a * math.ceil(3 / a)

    @property
    def device(self) -> torch.device:
        return next(self.snac.parameters()).device

    # ------------------------------------------------------------------ encode
    def to_codec_audio(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """float32 [C, T] at ``sample_rate`` -> mono float32 [T] at the codec rate."""
        import soxr

        mono = np.asarray(audio, np.float32).mean(0) if audio.ndim == 2 else np.asarray(audio, np.float32)
        if sample_rate != self.sample_rate and mono.size:
            mono = soxr.resample(mono, sample_rate, self.sample_rate, quality="HQ").astype(np.float32)
        return mono

    def n_frames(self, n_samples: int) -> int:
        """Finest frames SNAC gives for ``n_samples`` at the codec rate (after its padding)."""
        pad_to = self.hop * self.align
        return max(1, math.ceil(n_samples / pad_to)) * self.align

    @torch.inference_mode()
    def encode(self, audio: np.ndarray, sample_rate: int) -> list[torch.Tensor]:
        """float32 [C, T] -> codes, a list of [1, T_k] LongTensors (finest length a multiple of ``align``)."""
        mono = self.to_codec_audio(audio, sample_rate)
        n = self.n_frames(mono.size)
        x = torch.zeros(1, 1, n * self.hop, device=self.device)
        x[0, 0, :mono.size] = torch.from_numpy(mono).to(self.device)
        return [c.long() for c in self._spec.encode(x)]

    # ------------------------------------------------------------------ decode
    @torch.inference_mode()
    def _decode(self, codes: list[torch.Tensor], seed: int, frame_offset: int) -> torch.Tensor:
        for pn in self._noise:
            pn.seed, pn.frame_offset = seed, frame_offset
        return self._spec.decode([c.to(self.device) for c in codes])[:, 0]

    def decode(self, codes: list[torch.Tensor], seed: int = 0) -> np.ndarray:
        """codes -> float32 [1, n_fine * hop] at ``sample_rate``."""
        n = codes[-1].shape[-1] * self.strides[-1]
        if n % self.align:
            raise ValueError(f"{n} finest frames: SNAC decodes multiples of {self.align}")
        return self._decode(codes, seed, 0).float().cpu().numpy()[:1].astype(np.float32)

    def streaming(self, seed: int = 0) -> "StreamingDecoder":
        return StreamingDecoder(self, seed)


class StreamingDecoder:
    """Feed codes as they are generated (chunks of any multiple of the coarsest stride); get back
    the audio of every frame whose decoder context is complete. The concatenated output equals
    :meth:`Codec.decode` of all the codes (same seed)."""

    def __init__(self, codec: Codec, seed: int = 0) -> None:
        self.codec, self.seed = codec, seed
        self.codes: list[torch.Tensor] = [torch.zeros((1, 0), dtype=torch.long) for _ in codec.strides]
        self.frames = 0
        self.emitted = 0

    def push(self, codes: list[torch.Tensor]) -> np.ndarray:
        """Add codes (list of [1, t_k], t_k = frames / stride_k); returns float32 [1, n] (n may be 0)."""
        n = codes[-1].shape[-1] * self.codec.strides[-1]
        for k, c in enumerate(codes):
            assert c.shape[-1] * self.codec.strides[k] == n, "chunk must be a multiple of the coarsest stride"
            self.codes[k] = torch.cat([self.codes[k], c.cpu().long()], -1)
        self.frames += n
        a = self.codec.align
        upto = (self.frames - self.codec.context) // a * a
        return self._emit(upto) if upto > self.emitted else np.zeros((1, 0), np.float32)

    def flush(self) -> np.ndarray:
        """Audio of the remaining frames (the total must be a multiple of ``align``)."""
        if self.frames % self.codec.align:
            raise ValueError(f"{self.frames} frames: SNAC decodes multiples of {self.codec.align}")
        return self._emit(self.frames) if self.frames > self.emitted else np.zeros((1, 0), np.float32)

    def _emit(self, upto: int) -> np.ndarray:
        c = self.codec
        a0 = max(0, self.emitted - c.context)
        a1 = min(self.frames, upto + c.context)
        chunk = [cb[:, a0 // s:a1 // s] for cb, s in zip(self.codes, c.strides)]
        audio = c._decode(chunk, self.seed, a0).float().cpu().numpy()[:1]
        out = audio[:, (self.emitted - a0) * c.hop:(upto - a0) * c.hop].astype(np.float32)
        self.emitted = upto
        return out
