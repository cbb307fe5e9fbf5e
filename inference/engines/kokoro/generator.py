"""Kokoro's waveform generator (iSTFTNet) in torch: the vocoder's convolution stack.

Most of a sung phrase's time is the generator's convolutions at 800 and 4800 frames a second
(256 and 128 channels). The shipped ONNX model runs them as int8 ``ConvInteger`` (u8 x u8), which
onnxruntime computes without the CPU's matrix units; the same weights, dequantised once, run here
as torch convolutions (bfloat16 where the CPU has native bf16, float32 elsewhere). Only the stack
moves: the decoder before it and the harmonic source stay in onnxruntime (``dfront``) and
so does the inverse STFT after it (``istft``) (:mod:`.model`):

    dfront (onnxruntime):        asr, f0, energy, style, phase0 -> x [1, 512, 2T], har [1, 22, 600T]
    KokoroGenerator (torch):     x, har, style[:, :128]          -> spec [1, 22, 3000T + 1]
    istft (onnxruntime):         spec                             -> audio [15000T]  (24 kHz)

The layers follow Kokoro-82M's ``istftnet.Generator`` (Apache-2.0): AdaIN residual blocks with
Snake activations; the weights are read from the ONNX graph by the tensor names of its export
(:func:`weights_from_onnx`) and stored as safetensors beside the other edited models.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

GEN = "/decoder/decoder/generator"
"""Node-name prefix of the generator in the Kokoro-82M v1.0 export."""
X_TENSOR = "/decoder/decoder/decode.3/Div_4_output_0"
"""The decoder's output, the generator's input [1, 512, 2T]."""
HAR_TENSOR = f"{GEN}/Concat_3_output_0"
"""STFT (magnitude, phase) of the harmonic source [1, 22, 600T + 1]."""
POST_TENSOR = f"{GEN}/conv_post/Conv_output_0"
"""The generator's output before the inverse STFT [1, 22, 3000T + 1]."""


@dataclass(frozen=True)
class GeneratorConfig:
    """Shape of Kokoro-82M's generator (its ``config.json``: istftnet section)."""
    upsample_rates: tuple[int, ...] = (10, 6)
    upsample_kernels: tuple[int, ...] = (20, 12)
    resblock_kernels: tuple[int, ...] = (3, 7, 11)
    resblock_dilations: tuple[int, ...] = (1, 3, 5)
    style_dim: int = 128
    """The decoder's half of a Kokoro style vector (its first 128 values)."""


def _names(cfg: GeneratorConfig) -> list[str]:
    """Every weight the generator needs, by the name it is stored under."""
    out: list[str] = []

    def resblock(p: str) -> None:
        for j in range(len(cfg.resblock_dilations)):
            for c in ("convs1", "convs2"):
                out.extend([f"{p}.{c}.{j}.weight", f"{p}.{c}.{j}.bias"])
            for a in ("adain1", "adain2"):
                out.extend([f"{p}.{a}.{j}.fc.weight", f"{p}.{a}.{j}.fc.bias"])
            out.extend([f"{p}.alpha1.{j}", f"{p}.alpha2.{j}"])

    for i in range(len(cfg.upsample_rates)):
        out.extend([f"ups.{i}.weight", f"ups.{i}.bias", f"noise_convs.{i}.weight", f"noise_convs.{i}.bias"])
        resblock(f"noise_res.{i}")
        for j in range(len(cfg.resblock_kernels)):
            resblock(f"resblocks.{i * len(cfg.resblock_kernels) + j}")
    out.extend(["conv_post.weight", "conv_post.bias"])
    return out


QUANT_SUFFIXES = ("::q", "::zero_point", "::scale")
"""A weight stored as shipped: ``name::q`` (uint8 or int8), ``name::zero_point``, ``name::scale``
(float32, per tensor or per output channel); float = (q - zero_point) * scale."""


def weights_from_onnx(model: Any, cfg: GeneratorConfig = GeneratorConfig()) -> dict[str, np.ndarray]:
    """The generator's weights from the Kokoro decoder graph (an ``onnx.ModelProto``), as stored
    in the edit cache: the int8 convolutions and AdaIN projections kept quantised (see
    ``QUANT_SUFFIXES``: uint8 or int8 as exported; 4x smaller than float), the weight-normed float weights as folded in the
    export, biases and Snake alphas. :func:`dequantize` gives the float32 weights. Raises KeyError
    naming a tensor it cannot find."""
    from onnx import numpy_helper

    g = model.graph
    init = {t.name: t for t in g.initializer}

    def arr(name: str) -> np.ndarray:
        if name not in init:
            raise KeyError(name)
        return np.asarray(numpy_helper.to_array(init[name]))

    by_name = {n.name: n for n in g.node}
    out: dict[str, np.ndarray] = {}

    def quantised(key: str, node_name: str) -> None:
        if node_name not in by_name:
            raise KeyError(node_name)
        node = by_name[node_name]
        q_name = node.input[1]
        out[key + "::q"] = arr(q_name)  # uint8 convolutions, int8 projections
        out[key + "::zero_point"] = arr(node.input[3]).astype(np.float32)
        out[key + "::scale"] = arr(q_name[: -len("_quantized")] + "_scale").astype(np.float32)

    for key in _names(cfg):
        mod, _, leaf = key.rpartition(".")
        node_path = f"{GEN}/{_node_path(mod)}"
        if key.endswith(".fc.weight"):  # MatMulInteger B: [in, out], per-output-channel scale
            quantised(key, f"{node_path}/Gemm_MatMul_quant")
        elif leaf == "weight" and mod.startswith(("noise_convs", "noise_res", "resblocks")):
            quantised(key, f"{node_path}/Conv_quant")
        elif leaf == "weight":  # ups.i, conv_post: float, weight norm folded
            op = "ConvTranspose" if mod.startswith("ups") else "Conv"
            if f"{node_path}/{op}" not in by_name:
                raise KeyError(f"{node_path}/{op}")
            out[key] = arr(by_name[f"{node_path}/{op}"].input[1]).astype(np.float32)
        else:  # biases, Snake alphas
            out[key] = arr(f"decoder.decoder.generator.{key}").astype(np.float32)
    return out


def dequantize(stored: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Float32 weights (torch layouts: conv [out, in, k], linear as stored [in, out]) from
    :func:`weights_from_onnx`'s dict."""
    out: dict[str, np.ndarray] = {}
    for k, v in stored.items():
        if k.endswith("::q"):
            name = k[: -len("::q")]
            zp = stored[name + "::zero_point"]
            scale = stored[name + "::scale"]
            out[name] = ((v.astype(np.float32) - zp) * scale).astype(np.float32)
        elif not k.endswith(QUANT_SUFFIXES):
            out[k] = np.asarray(v, np.float32)
    return out


def _node_path(mod: str) -> str:
    """'resblocks.0.adain1.2.fc' -> 'resblocks.0/adain1.2/fc' (the export's node scopes)."""
    parts = mod.split(".")
    scopes, k = [], 0
    while k < len(parts):
        if k + 1 < len(parts) and parts[k + 1].isdigit():
            scopes.append(f"{parts[k]}.{parts[k + 1]}")
            k += 2
        else:
            scopes.append(parts[k])
            k += 1
    return "/".join(scopes)


def bf16_native() -> bool:
    """Whether this CPU computes bfloat16 convolutions natively (AVX512-BF16 or AMX): there they
    run ~1.8x faster than float32; elsewhere bf16 is emulated and slower, so float32 is used."""
    try:
        import torch
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


class KokoroGenerator:
    """The generator's convolution stack, built from :func:`dequantize`'s float32 weights.

    ``dtype``: "bfloat16" or "float32" for the convolutions (the last one, ``conv_post``, is always
    float32); norms, Snake and the residual sums stay float32. Activations are kept time-major (``[1, C, 1, T]`` in torch's channels-last
    layout), the layout oneDNN convolves fastest (3x the time-minor layout for bf16 here), with
    the instance norms' statistics taken over the time-major view. Call with torch tensors; see
    :meth:`__call__`."""

    def __init__(self, weights: dict[str, np.ndarray], cfg: GeneratorConfig = GeneratorConfig(),
                 dtype: str = "float32") -> None:
        import torch

        self.cfg = cfg
        self.dtype = dtype
        self._cd = torch.bfloat16 if dtype == "bfloat16" else torch.float32
        missing = [k for k in _names(cfg) if k not in weights]
        if missing:
            raise KeyError(f"generator weights lack {missing[:3]}")
        cl = torch.channels_last
        self.w: dict[str, Any] = {}
        for k, v in weights.items():
            t = torch.from_numpy(np.ascontiguousarray(v, np.float32))
            if k.endswith("fc.weight"):
                self.w[k] = t.contiguous()  # [in, out]: style @ w
            elif k.endswith(".weight"):  # conv [O, I, k] -> [O, I, 1, k] channels-last
                # conv_post stays float32: with its input rounded to bf16, every take got a noise
                # floor under its quiet bins (1-4 kHz most) and Whisper read ~6 points worse
                dt = torch.float32 if k.startswith("conv_post") else self._cd
                self.w[k] = t[:, :, None, :].to(dt).contiguous(memory_format=cl)
            elif ".alpha" in k:  # [1, C, 1] -> [1, C, 1, 1]
                self.w[k] = t.reshape(1, -1, 1, 1)
            elif k.startswith("ups."):  # added after the transposed conv, in float32
                self.w[k] = t.reshape(1, -1, 1, 1)
            else:  # conv and projection biases
                self.w[k] = t
        self._inv = {k: 1.0 / v for k, v in self.w.items() if ".alpha" in k}
        self._bias = {k[: -len(".weight")]: self.w[k[: -len(".weight")] + ".bias"].to(v.dtype)
                      for k, v in self.w.items() if k.endswith(".weight") and v.dim() == 4 and not k.startswith("ups.")}
        """Each convolution's bias in the convolution's dtype."""
        self._stride_f0 = [int(np.prod(cfg.upsample_rates[i + 1:])) for i in range(len(cfg.upsample_rates))]

    # -------------------------------------------------------------------- layers
    def _conv(self, x: Any, name: str, dilation: int = 1, stride: int = 1, padding: int | None = None) -> Any:
        """Conv over time of a [1, C, 1, T] channels-last tensor; output in the conv dtype."""
        import torch.nn.functional as F

        w = self.w[f"{name}.weight"]
        pad = dilation * (w.shape[-1] - 1) // 2 if padding is None else padding
        return F.conv2d(x.to(w.dtype), w, self._bias[name], (1, stride), (0, pad), (1, dilation))

    def _adain(self, x: Any, s: Any, name: str) -> Any:
        """Instance norm over time, scaled by (1 + gamma) and shifted by beta from the style; float32 out."""
        import torch

        c, t = x.shape[1], x.shape[3]
        h = s @ self.w[f"{name}.fc.weight"] + self.w[f"{name}.fc.bias"]  # [1, 2C]
        x2 = x.permute(0, 2, 3, 1).reshape(t, c).float()  # a view when x is float32
        mean = x2.sum(0, keepdim=True) * (1.0 / t)  # (sums, not a matrix product: the same bits on any thread count)
        var = ((x2 * x2).sum(0, keepdim=True) * (1.0 / t) - mean * mean).clamp_(min=0.0)
        scale = (1.0 + h[:, :c]) * torch.rsqrt(var + 1e-5)
        shift = h[:, c:] - mean * scale
        return torch.addcmul(shift.reshape(1, c, 1, 1), x, scale.reshape(1, c, 1, 1))

    def _snake(self, x: Any, name: str) -> Any:
        """x + sin(alpha x)^2 / alpha."""
        import torch

        s = torch.sin(x * self.w[name])
        return torch.addcmul(x, s, s * self._inv[name])

    def _resblock(self, x: Any, s: Any, p: str, check: Callable[[], None]) -> Any:
        for j, d in enumerate(self.cfg.resblock_dilations):
            check()
            xt = self._conv(self._snake(self._adain(x, s, f"{p}.adain1.{j}"), f"{p}.alpha1.{j}"), f"{p}.convs1.{j}", d)
            xt = self._conv(self._snake(self._adain(xt, s, f"{p}.adain2.{j}"), f"{p}.alpha2.{j}"), f"{p}.convs2.{j}")
            x = xt + x
        return x

    def __call__(self, x: Any, har: Any, style: Any, check: Callable[[], None] = lambda: None) -> Any:
        """x: float32 [1, 512, F] (decoder output, 80 frames/s); har: float32 [1, 22, 300F + 1]
        (the harmonic source's STFT); style: float32 [1, 128] (the decoder half of a Kokoro style
        vector). Returns float32 [1, 22, 3000F + 1], the inverse STFT's input. ``check`` is called
        between blocks (raise there to stop a render)."""
        import torch
        import torch.nn.functional as F

        cfg = self.cfg
        nk = len(cfg.resblock_kernels)
        cl = torch.channels_last
        with torch.inference_mode():
            x = x[:, :, None, :].contiguous(memory_format=cl)
            har = har[:, :, None, :].contiguous(memory_format=cl)
            for i, u in enumerate(cfg.upsample_rates):
                check()
                x = F.leaky_relu(x, 0.1)
                sf = self._stride_f0[i]
                last = i == len(cfg.upsample_rates) - 1
                xs = self._conv(har, f"noise_convs.{i}", stride=1 if last else sf,
                                padding=0 if last else (sf + 1) // 2)
                xs = self._resblock(xs, style, f"noise_res.{i}", check)
                k = cfg.upsample_kernels[i]
                x = F.conv_transpose2d(x.to(self.w[f"ups.{i}.weight"].dtype), self.w[f"ups.{i}.weight"], None, (1, u), (0, (k - u) // 2))
                x = x.float() + self.w[f"ups.{i}.bias"]
                if last:
                    x = torch.cat([x[:, :, :, 1:2], x], dim=3)  # reflection pad (1, 0)
                x = x + xs
                acc = None
                for j in range(nk):
                    y = self._resblock(x, style, f"resblocks.{i * nk + j}", check)
                    acc = y if acc is None else acc + y
                assert acc is not None
                x = acc * (1.0 / nk)
            x = F.leaky_relu(x, 0.01)
            y = self._conv(x, "conv_post").float()
            return y[:, :, 0, :].contiguous()


ONEDNN_PRIMITIVE_CACHE = 128
"""Kernels oneDNN keeps built (LRU; its default is 1024): a few phrase lengths' worth."""


def load_generator(path: Any, dtype: str | None = None) -> KokoroGenerator:
    """The generator from its safetensors file (weights + config in the metadata). ``dtype``:
    None picks bfloat16 where the CPU has it natively (:func:`bf16_native`), else float32."""
    import json
    import os
    from dataclasses import fields

    from safetensors import safe_open

    # oneDNN keeps the kernels it built for every input shape (every phrase length: ~0.9 GB over a
    # session's takes at its default of 1024); a bounded LRU of them instead (read at its first use).
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(ONEDNN_PRIMITIVE_CACHE))

    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata() or {}
        stored = {k: f.get_tensor(k) for k in f.keys()}
    raw = json.loads(meta.get("config", "{}"))
    known = {f.name for f in fields(GeneratorConfig)}
    args: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items() if k in known}
    cfg = GeneratorConfig(**args)
    return KokoroGenerator(dequantize(stored), cfg,
                           dtype or ("bfloat16" if bf16_native() else "float32"))
