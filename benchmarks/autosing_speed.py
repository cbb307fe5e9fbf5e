"""AutoSing speed: decode steps/s, tokens/s and real-time factor (RTF = wall time / audio time).

Random weights (no checkpoint needed): what is measured is the arithmetic, not the singing.
For each configuration: stage-2 decoding with the KV cache vs recomputing the full sequence
every step (ratio printed), stage 1, the SNAC decode, and the whole ``AutoSing.sing`` path.
On a GPU: float32/bf16, eager vs ``torch.compile`` of the decode step.

    nice -n 10 .venv/bin/python benchmarks/autosing_speed.py --configs debug small --seconds 4
    python benchmarks/autosing_speed.py --device cuda --dtype bfloat16 --compile --configs small base
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference.engines.autosing.builders import build_lm  # noqa: E402
from inference.engines.autosing.codec import Codec, build_snac  # noqa: E402
from inference.engines.autosing.config import SNAC_32KHZ, SNAC_DEBUG, LMConfig, debug_lm, small_lm  # noqa: E402
from inference.engines.autosing.engine import AutoSing, SingParams  # noqa: E402
from inference.engines.autosing.generate import Generator, stage1_plan, stage2_plan  # noqa: E402
from inference.engines.autosing.sampling import SamplingParams  # noqa: E402
from inference.engines.autosing.train import n_semantic  # noqa: E402


def configs(name: str) -> tuple[LMConfig, LMConfig, dict[str, Any]]:
    if name == "debug":
        return debug_lm(1), debug_lm(2), SNAC_DEBUG
    if name == "small":
        return small_lm(1), small_lm(2), SNAC_32KHZ
    return LMConfig(stage=1), LMConfig(stage=2), SNAC_32KHZ


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn: Callable[[], Any], runs: int, device: str) -> list[float]:
    fn()  # warm-up (compiles, allocates caches)
    out = []
    for _ in range(runs):
        sync(device)
        t = time.perf_counter()
        fn()
        sync(device)
        out.append(time.perf_counter() - t)
    return out


def bench(name: str, seconds: float, runs: int, device: str, dtype: torch.dtype, compile: bool,
          nocache_steps: int, skip_codec: bool) -> dict[str, Any]:
    c1, c2, snac_cfg = configs(name)
    s1 = build_lm(c1, 1).to(device, dtype).eval()
    s2 = build_lm(c2, 2).to(device, dtype).eval()
    layout = c2.infer_layout
    frame_rate = c2.frame_rate_hz
    g = s2.pattern.frame_multiple * 4
    n_fine = max(g, int(seconds * frame_rate) // g * g)
    audio_s = n_fine / frame_rate
    gen = torch.Generator().manual_seed(0)
    music = s2.pattern.compressed([torch.randint(0, c2.codebook_size, (1, n_fine // s), generator=gen)
                                   for s in c2.pattern.strides])
    sem = torch.randint(0, c2.semantic_vocab, (1, n_semantic(s2, n_fine)), generator=gen)
    text = torch.randint(0, 256, (1, 120), generator=gen)
    artist = torch.randn(1, c2.artist_dim, generator=gen)
    params = SamplingParams(temperature=0.7, cfg_scale=1.0)
    res: dict[str, Any] = {"config": name, "device": device, "dtype": str(dtype).replace("torch.", ""),
                           "compiled": compile, "audio_s": round(audio_s, 3), "layout": layout,
                           "params_stage2_M": round(sum(p.numel() for p in s2.parameters()) / 1e6, 2)}
    ones = lambda t: torch.ones_like(t, dtype=torch.bool)  # noqa: E731

    fixed2, pos2 = stage2_plan(s2, layout, n_fine)
    steps2 = fixed2.shape[1] - 1
    codes2 = int((fixed2 < 0).sum())
    g2 = Generator(s2, compile=compile)
    for cfg_scale in (1.0, 2.0):
        p = SamplingParams(temperature=0.7, cfg_scale=cfg_scale)
        t = statistics.median(timed(lambda: g2.generate(sem, ones(sem), music, fixed2, pos2, artist=artist.to(dtype),
                                                        params=p, seed=0), runs, device))
        tag = "cached" if cfg_scale == 1.0 else "cached_cfg"
        res[f"stage2_{tag}_steps_per_s"] = round(steps2 / t, 1)
        res[f"stage2_{tag}_tokens_per_s"] = round(codes2 / t, 1)
        res[f"stage2_{tag}_rtf"] = round(t / audio_s, 4)

    # Without the KV cache: the full sequence recomputed at every step (first nocache_steps steps).
    n_nc = min(nocache_steps, steps2)
    with torch.inference_mode():
        mem = s2.encode(sem.to(device), ones(sem).to(device), music.to(device), artist.to(device, dtype))
        seq = fixed2.clamp_min(0).to(device)[None]
        posd = pos2.to(device)[None]

        def nocache() -> None:
            for t in range(1, n_nc + 1):
                s2(seq[..., :t], posd[:, :t], mem)[:, :, -1]

        def cached() -> None:
            s2.setup_caches(1, steps2 + 8)
            s2.prefill_memory(mem)
            for t in range(0, n_nc):
                s2.step(seq[..., t:t + 1], posd[:, t:t + 1], torch.tensor(t, device=device))
        t_nc = statistics.median(timed(nocache, max(1, runs // 2), device))
        t_c = statistics.median(timed(cached, max(1, runs // 2), device))
        s2.clear_caches()
    res["nocache_steps_compared"] = n_nc
    res["stage2_nocache_steps_per_s"] = round(n_nc / t_nc, 1)
    res["stage2_kv_speedup"] = round(t_nc / t_c, 2)

    fixed1, pos1 = stage1_plan(s1, sem.shape[1])
    g1 = Generator(s1, compile=compile)
    t1 = statistics.median(timed(lambda: g1.generate(text, ones(text), music, fixed1, pos1, params=params, seed=0),
                                 runs, device))
    res["stage1_steps_per_s"] = round(sem.shape[1] / t1, 1)
    res["stage1_rtf"] = round(t1 / audio_s, 4)

    if not skip_codec:
        codec = Codec(build_snac(snac_cfg, 0).to(device))
        codes = [torch.randint(0, codec.codebook_size, (1, n_fine // s), generator=gen) for s in codec.strides]
        tc = statistics.median(timed(lambda: codec.decode(codes, 0), max(1, runs // 2), device))
        res["codec_decode_rtf"] = round(tc / audio_s, 4)
        if dtype == torch.float32:
            model = AutoSing(s1, s2, codec, compile=compile)
            inst = np.zeros((1, int(audio_s * codec.sample_rate)), np.float32)
            sp = SingParams(SamplingParams(), SamplingParams(), layout)
            te = statistics.median(timed(lambda: model.sing("la la la", inst, codec.sample_rate, None, seed=0, params=sp),
                                         max(1, runs // 2), device))
            res["sing_end_to_end_rtf"] = round(te / audio_s, 4)
    if device.startswith("cuda"):
        res["peak_gpu_mem_MB"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    res["peak_rss_MB"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", nargs="+", default=["debug", "small"], choices=["debug", "small", "base"])
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    ap.add_argument("--compile", action="store_true", help="torch.compile the decode step")
    ap.add_argument("--nocache-steps", type=int, default=64)
    ap.add_argument("--skip-codec", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    dev_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or "cpu"
    print(f"# torch {torch.__version__} on {args.device} ({dev_name}), {args.threads} thread(s)")
    results = []
    for name in args.configs:
        r = bench(name, args.seconds, args.runs, args.device, dtype, args.compile, args.nocache_steps, args.skip_codec)
        results.append(r)
        print(json.dumps(r))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    from benchmarks.results import recorded

    with recorded("autosing_speed.py"):
        rc = main()
    sys.exit(rc)
