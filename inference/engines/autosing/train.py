"""Training: ``python -m inference.engines.autosing.train DATA OUT --codec SNAC_DIR``.

DATA holds one folder per example: ``vocal.wav``, ``instrumental.wav`` (any rate, any channel
count), ``lyrics.txt`` and optionally ``artist.txt`` (a name: the embedder's class label).
OUT receives a complete engine checkpoint: stage1/, stage2/, embedder/, semantic/, codec/.

Recipe (AutoSing): AdamW, linear warm-up then cosine decay; stage 2 trains on a mix of
compressed sequences over the whole window (p = 0.75) and cropped unrolled sequences, then
fine-tunes on full unrolled sequences; condition dropout replaces the lyrics (stage 1) or the
semantic tokens and artist (stage 2) by exactly what CFG feeds as "unconditional" at inference
(``AutoSingLM.null_text`` and a zero artist vector).
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import random
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from inference.engines.autosing.codec import Codec
from inference.engines.autosing.models.embedder import ArtistEmbedder
from inference.engines.autosing.models.lm import AutoSingLM
from inference.engines.autosing.semantic import SemanticTokenizer

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int, float], None]
"""progress(phase, step, total, loss)."""


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 100_000
    finetune_steps: int = 5_000
    """Stage 2 only: full unrolled sequences after the multiscale phase."""
    batch_size: int = 8
    lr: float = 3e-4
    min_lr_ratio: float = 0.1
    warmup: int = 1_000
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    p_compressed: float = 0.75
    crop_frames: int = 256
    """Unrolled crop length, finest frames (rounded to the pattern's frame multiple)."""
    cond_drop: float = 0.1
    seed: int = 0


@dataclass
class Example:
    text: torch.Tensor
    """[M] lyrics as UTF-8 byte ids."""
    music: list[torch.Tensor]
    """Instrumental codes, [1, T_k] per codebook."""
    vocal: list[torch.Tensor]
    semantic: torch.Tensor
    """[N_sem] 25 Hz semantic tokens of the vocal."""
    artist: torch.Tensor | None = None
    """[artist_dim] embedding of the singer (stage 2 conditioning)."""
    label: int = 0
    """Artist class (embedder)."""
    vocal_audio: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32), repr=False)
    """The vocal, mono float32 [T] at the codec rate (what the semantic tokenizer is fitted on)."""


def lyrics_bytes(text: str) -> torch.Tensor:
    """Lyrics -> byte ids: NFC, lines stripped, blank lines and [Section] headers dropped."""
    lines = [ln.strip() for ln in unicodedata.normalize("NFC", text).splitlines()]
    lines = [ln for ln in lines if ln and not (ln.startswith("[") and ln.endswith("]"))]
    data = "\n".join(lines).encode("utf-8") or b" "
    return torch.tensor(list(data), dtype=torch.long)


def n_semantic(model: AutoSingLM, n_fine: int) -> int:
    return max(1, math.ceil(n_fine / model.semantic_step - 1e-6))


def cosine_lr(step: int, total: int, warmup: int, base: float, min_ratio: float) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    frac = (step - warmup) / max(1, total - warmup)
    return base * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "emb" not in n]
    other = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "emb" not in n)]
    return torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                              {"params": other, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.95))


# ---------------------------------------------------------------------- batches
def _pad_stack(seqs: list[torch.Tensor], value: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[..., L_i] -> [B, ..., max L], mask [B, max L]."""
    n = max(s.shape[-1] for s in seqs)
    out = torch.full((len(seqs), *seqs[0].shape[:-1], n), value, dtype=seqs[0].dtype)
    mask = torch.zeros((len(seqs), n), dtype=torch.bool)
    for i, s in enumerate(seqs):
        out[i, ..., :s.shape[-1]] = s
        mask[i, :s.shape[-1]] = True
    return out, mask


def _pad_pos(pos: list[torch.Tensor]) -> torch.Tensor:
    n = max(len(p) for p in pos)
    out = []
    for p in pos:
        step = float(p[1] - p[0]) if len(p) > 1 else 1.0
        out.append(torch.cat([p, p[-1] + step * torch.arange(1, n - len(p) + 1)]))
    return torch.stack(out)


@dataclass
class Batch:
    tokens: torch.Tensor
    pos: torch.Tensor
    text: torch.Tensor
    text_mask: torch.Tensor
    music: torch.Tensor
    music_mask: torch.Tensor
    artist: torch.Tensor | None

    def to(self, device: torch.device) -> "Batch":
        return Batch(self.tokens.to(device), self.pos.to(device), self.text.to(device),
                     self.text_mask.to(device), self.music.to(device), self.music_mask.to(device),
                     None if self.artist is None else self.artist.to(device))


def make_batch(model: AutoSingLM, examples: list[Example], rng: random.Random, cfg: TrainConfig,
               mode: str = "multiscale") -> Batch:
    """``mode``: 'multiscale' (stage 2: compressed with p_compressed, else an unrolled crop),
    'unrolled' or 'compressed' (whole window). Stage 1 ignores it."""
    p = model.pattern
    toks, poss, texts, musics, artists = [], [], [], [], []
    for ex in examples:
        drop = rng.random() < cfg.cond_drop
        musics.append(p.compressed(ex.music)[0])
        if model.cfg.stage == 1:
            tok = torch.cat([torch.tensor([model.pad]), ex.semantic])[None]
            pos = torch.arange(tok.shape[-1], dtype=torch.float32) * model.semantic_step
            text = ex.text
        else:
            n_fine = p.n_fine(ex.vocal)
            layout = mode
            if mode == "multiscale":
                layout = "compressed" if rng.random() < cfg.p_compressed else "crop"
            if layout == "compressed":
                tok, pos = p.delay(p.compressed(ex.vocal))[0], p.positions("compressed", n_fine // p.group)
            else:
                fm = p.frame_multiple
                length = n_fine if layout == "unrolled" else min(n_fine, max(fm, cfg.crop_frames // fm * fm))
                off = rng.randrange(0, (n_fine - length) // fm + 1) * fm
                tok = p.delay(p.unrolled(ex.vocal)[..., off:off + length])[0]
                pos = p.positions("unrolled", length, off)
            text = ex.semantic
            art = ex.artist if ex.artist is not None else torch.zeros(model.cfg.artist_dim)
            artists.append(torch.zeros_like(art) if drop else art)
        if drop:
            null, _ = model.null_text(1, 1)
            text = null[0]
        toks.append(tok)
        poss.append(pos)
        texts.append(text)
    tokens, _ = _pad_stack(toks, model.pad)
    text, text_mask = _pad_stack(texts, model.text_pad)
    music, music_mask = _pad_stack(musics, p.pad)
    artist = torch.stack(artists) if artists else None
    return Batch(tokens, _pad_pos(poss), text, text_mask, music, music_mask, artist)


# ---------------------------------------------------------------------- loops
def _loop(model: torch.nn.Module, phases: list[tuple[str, int]], cfg: TrainConfig,
          loss_fn: Callable[[str, random.Random], torch.Tensor], progress: Progress | None) -> list[float]:
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    opt = make_optimizer(model, cfg)
    total = sum(n for _, n in phases)
    losses: list[float] = []
    model.train()
    step = 0
    for phase, n in phases:
        for _ in range(n):
            for g in opt.param_groups:
                g["lr"] = cosine_lr(step, total, cfg.warmup, cfg.lr, cfg.min_lr_ratio)
            loss = loss_fn(phase, rng)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            losses.append(float(loss.detach()))
            if progress is not None:
                progress(phase, step, total, losses[-1])
            step += 1
    model.eval()
    return losses


def train_lm(model: AutoSingLM, examples: list[Example], cfg: TrainConfig,
             progress: Progress | None = None) -> list[float]:
    """Stage 1: ``cfg.steps``; stage 2: ``cfg.steps`` multiscale then ``cfg.finetune_steps`` unrolled."""
    dev = next(model.parameters()).device
    phases = [("multiscale", cfg.steps)]
    if model.cfg.stage == 2 and cfg.finetune_steps:
        phases.append(("unrolled", cfg.finetune_steps))

    def loss_fn(phase: str, rng: random.Random) -> torch.Tensor:
        batch_ex = [examples[rng.randrange(len(examples))] for _ in range(cfg.batch_size)]
        b = make_batch(model, batch_ex, rng, cfg, phase).to(dev)
        mem = model.encode(b.text, b.text_mask, b.music, b.artist, b.music_mask)
        return model.loss(b.tokens, b.pos, mem)

    return _loop(model, phases, cfg, loss_fn, progress)


def train_embedder(model: ArtistEmbedder, examples: list[Example], cfg: TrainConfig,
                   progress: Progress | None = None) -> list[float]:
    dev = next(model.parameters()).device

    def loss_fn(phase: str, rng: random.Random) -> torch.Tensor:
        ex = examples[rng.randrange(len(examples))]
        loss, _ = model.loss([c.to(dev) for c in ex.vocal], torch.tensor([ex.label], device=dev))
        return loss

    return _loop(model, [("embedder", cfg.steps)], cfg, loss_fn, progress)


# ---------------------------------------------------------------------- data
def prepare_example(vocal: np.ndarray, instrumental: np.ndarray, sample_rate: int, lyrics: str,
                    codec: Codec, semantic: SemanticTokenizer | None, label: int = 0) -> Example:
    """Audio float32 [C, T] at ``sample_rate`` -> codes and tokens (semantic filled by
    :func:`fit_semantic` when ``semantic`` is None)."""
    vc, ic = codec.encode(vocal, sample_rate), codec.encode(instrumental, sample_rate)
    n = min(vc[-1].shape[-1], ic[-1].shape[-1])
    vc = [c[:, :n // s] for c, s in zip(vc, codec.strides)]
    ic = [c[:, :n // s] for c, s in zip(ic, codec.strides)]
    ex = Example(lyrics_bytes(lyrics), ic, vc, torch.zeros(0, dtype=torch.long), None, label)
    ex.vocal_audio = codec.to_codec_audio(vocal, sample_rate)[:n * codec.hop]
    if semantic is not None:
        ex.semantic = _semantic_tokens(semantic, ex, n, codec.hop)
    return ex


def _semantic_tokens(semantic: SemanticTokenizer, ex: Example, n_fine: int, hop: int) -> torch.Tensor:
    audio = np.zeros(n_fine * hop, np.float32)
    a = ex.vocal_audio
    audio[:a.size] = a
    return semantic.tokenize(torch.from_numpy(audio))


def fit_semantic(semantic: SemanticTokenizer, examples: list[Example], hop: int, seed: int = 0) -> None:
    feats = [semantic.features(torch.from_numpy(ex.vocal_audio)) for ex in examples]
    semantic.fit(feats, seed=seed)
    for ex in examples:
        ex.semantic = _semantic_tokens(semantic, ex, ex.vocal[-1].shape[-1], hop)


def read_dataset(folder: Path) -> list[tuple[np.ndarray, np.ndarray, int, str, str]]:
    """(vocal, instrumental, sample_rate, lyrics, artist name) per example folder."""
    import soundfile as sf

    from host_bridge.core.errors import InputError

    out = []
    for d in sorted(p for p in Path(folder).iterdir() if p.is_dir()):
        def find(stem: str) -> Path:
            for ext in (".wav", ".flac", ".ogg"):
                if (d / (stem + ext)).is_file():
                    return d / (stem + ext)
            raise InputError(f"{d} has no {stem}.wav/.flac/.ogg", "each example folder needs vocal, instrumental, lyrics.txt")
        v, sr = sf.read(find("vocal"), dtype="float32", always_2d=True)
        i, sr2 = sf.read(find("instrumental"), dtype="float32", always_2d=True)
        if sr != sr2:
            raise InputError(f"{d}: vocal at {sr} Hz, instrumental at {sr2} Hz", "export both stems at one rate")
        if not (d / "lyrics.txt").is_file():
            raise InputError(f"{d}/lyrics.txt is missing", "put the sung lyrics next to the stems")
        artist = (d / "artist.txt").read_text().strip() if (d / "artist.txt").is_file() else "artist"
        out.append((v.T.copy(), i.T.copy(), sr, (d / "lyrics.txt").read_text(encoding="utf-8"), artist))
    if not out:
        raise InputError(f"{folder} holds no example folders", "one folder per song: vocal, instrumental, lyrics.txt")
    return out


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m inference.engines.autosing.train", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--codec", type=Path, help="SNAC folder (config.json + model.safetensors)")
    ap.add_argument("--debug-codec", action="store_true", help="a random tiny SNAC (smoke tests only)")
    ap.add_argument("--size", choices=["debug", "small", "base"], default="small")
    ap.add_argument("--steps", type=int, default=TrainConfig.steps)
    ap.add_argument("--finetune-steps", type=int, default=TrainConfig.finetune_steps)
    ap.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    ap.add_argument("--lr", type=float, default=TrainConfig.lr)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=1)
    return ap


def main(argv: list[str] | None = None) -> int:
    from inference.engines.autosing import config as C
    from inference.engines.autosing.builders import build_embedder, build_lm
    from inference.engines.autosing.codec import build_snac
    from inference.engines.autosing.loaders import load_snac, save_checkpoint
    from inference.engines.autosing.semantic import SemanticConfig

    ap = _parser()
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    if args.debug_codec:
        snac = build_snac(C.SNAC_DEBUG)
        codec_cfg = C.SNAC_DEBUG
    else:
        if args.codec is None:
            ap.error("--codec DIR is required (or --debug-codec)")
        snac = load_snac(args.codec)
        codec_cfg = {k: v for k, v in json.loads((args.codec / "config.json").read_text()).items()}
    codec = Codec(snac)
    cfg = TrainConfig(steps=args.steps, finetune_steps=args.finetune_steps, batch_size=args.batch_size,
                      lr=args.lr, warmup=min(TrainConfig.warmup, max(1, args.steps // 10)))
    raw = read_dataset(args.data)
    names = sorted({r[4] for r in raw})
    sem_vocab = 32 if args.size == "debug" else 2048
    semantic = SemanticTokenizer(SemanticConfig(sample_rate=codec.sample_rate, vocab=sem_vocab))
    examples = [prepare_example(v, i, sr, ly, codec, None, names.index(a)) for v, i, sr, ly, a in raw]
    fit_semantic(semantic, examples, codec.hop, cfg.seed)
    emb_cfg = C.EmbedderConfig(n_artists=max(2, len(names)), codebook_size=codec.codebook_size)
    if args.size == "debug":
        emb_cfg = C.EmbedderConfig(dim=32, n_layers=1, n_heads=2, n_artists=emb_cfg.n_artists,
                                   codebook_size=codec.codebook_size)
    embedder = build_embedder(emb_cfg).to(args.device)
    def report(phase: str, step: int, total: int, loss: float) -> None:
        if step % 100 == 0 or step == total - 1:
            log.info("%s %d/%d loss %.4f", phase, step, total, loss)

    train_embedder(embedder, examples, cfg, report)
    with torch.no_grad():
        for ex in examples:
            ex.artist = embedder.embed([c.to(args.device) for c in ex.vocal])[0].cpu()
    for stage in (1, 2):
        mk = {"debug": C.debug_lm, "small": C.small_lm, "base": lambda s: C.LMConfig(stage=s)}[args.size]
        lcfg = mk(stage)
        lcfg = C.LMConfig(**{**lcfg.__dict__, "codebook_size": codec.codebook_size, "semantic_vocab": sem_vocab,
                             "frame_rate_hz": codec.frame_rate})
        model = build_lm(lcfg).to(args.device)
        train_lm(model, examples, cfg, report)
        save_checkpoint(model, lcfg.to_dict(), args.out / f"stage{stage}")
    save_checkpoint(embedder, emb_cfg.to_dict(), args.out / "embedder")
    save_checkpoint(semantic, semantic.cfg.to_dict(), args.out / "semantic")
    save_checkpoint(snac, dict(codec_cfg), args.out / "codec")
    artists = {n: torch.stack([ex.artist for ex, r in zip(examples, raw) if r[4] == n and ex.artist is not None])
               .mean(0).tolist() for n in names}
    (args.out / "artists.json").write_text(json.dumps(artists), encoding="utf-8")
    log.info("checkpoint written to %s", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
