"""Files -> config + weights. A checkpoint is a folder: ``config.json`` (the frozen config) and
``model.safetensors``. Pickled weights (``.bin``/``.pt``/``.ckpt``...) are never loaded; SNAC's
published ``pytorch_model.bin`` is converted once, explicitly, by :func:`convert_pickled_snac`.

An AutoSing engine checkpoint (``--checkpoint DIR``) holds ``stage1/``, ``stage2/`` and
``codec/`` (SNAC 32 kHz: its ``config.json`` + ``model.safetensors``); training adds
``semantic/`` (the tokenizer its stage-1 targets came from) and ``embedder/``.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from host_bridge.core.errors import ModelError
from host_bridge.core.fileio import read_json_object
from inference.engines.autosing.builders import build_embedder, build_lm
from inference.engines.autosing.config import EmbedderConfig, LMConfig
from inference.engines.autosing.models.embedder import ArtistEmbedder
from inference.engines.autosing.models.lm import AutoSingLM

log = logging.getLogger(__name__)

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")


def save_checkpoint(model: nn.Module, config: dict[str, Any], folder: Path | str) -> Path:
    """Write ``config.json`` + ``model.safetensors`` into ``folder`` (created)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG).write_text(json.dumps(config, indent=2), encoding="utf-8")
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(folder / WEIGHTS))
    return folder


def read_config(folder: Path | str) -> dict[str, Any]:
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelError(f"checkpoint folder {folder} does not exist",
                         "pass --checkpoint DIR with stage1/, stage2/ and codec/ (see `python -m "
                         "inference.engines.autosing.train --help` to make one)")
    path = folder / CONFIG
    if not path.is_file():
        raise ModelError(f"{path} is missing", f"a checkpoint folder needs {CONFIG} next to {WEIGHTS}")
    return read_json_object(path, ModelError, "restore the file from the training output")


def _state_dict(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = folder / WEIGHTS
    if not path.is_file():
        pickles = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
        if pickles:
            raise ModelError(f"{folder / pickles[0]} is a pickle file; Topline never unpickles model files",
                             f"convert it to {WEIGHTS} on a machine you trust (for SNAC: python -m "
                             "inference.engines.autosing.loaders convert-snac SRC DST)")
        raise ModelError(f"{path} is missing", f"a checkpoint folder needs {WEIGHTS} next to {CONFIG}")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise ModelError(f"{path} is not a readable safetensors file: {e}",
                         "re-export the weights with safetensors.torch.save_file") from e


def _load_weights(model: nn.Module, folder: Path) -> None:
    state = _state_dict(folder)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        raise ModelError(f"{folder / WEIGHTS} does not match {folder / CONFIG}: {' '.join(first[:3])[:400]}",
                         "keep the config.json that was saved with these weights") from e


def load_lm(folder: Path | str, stage: int | None = None, device: str | torch.device = "cpu") -> AutoSingLM:
    """Load a stage (``stage`` checks which one the folder holds)."""
    folder = Path(folder)
    d = read_config(folder)
    if d.get("kind") != "autosing_lm":
        raise ModelError(f"{folder / CONFIG} is not an AutoSing stage (kind={d.get('kind')!r})",
                         "point at the stage1/ or stage2/ folder of an AutoSing checkpoint")
    if stage is not None and d.get("stage") != stage:
        raise ModelError(f"{folder / CONFIG} holds stage {d.get('stage')}, but stage {stage} is needed here",
                         f"put the stage-{stage} checkpoint in {folder.parent / f'stage{stage}'}")
    try:
        cfg = LMConfig.from_dict(d)
    except (TypeError, ValueError, KeyError) as e:
        raise ModelError(f"{folder / CONFIG} is invalid: {e}", "keep the config.json saved by training") from e
    model = build_lm(cfg, seed=None)
    _load_weights(model, folder)
    return model.to(device).eval()


def load_embedder(folder: Path | str, device: str | torch.device = "cpu") -> ArtistEmbedder:
    folder = Path(folder)
    d = read_config(folder)
    try:
        cfg = EmbedderConfig.from_dict(d)
    except (TypeError, ValueError, KeyError) as e:
        raise ModelError(f"{folder / CONFIG} is not an artist-embedder config: {e}",
                         "point at the embedder/ folder of an AutoSing checkpoint") from e
    model = build_embedder(cfg, seed=None)
    _load_weights(model, folder)
    return model.to(device).eval()


def load_snac(folder: Path | str, device: str | torch.device = "cpu") -> nn.Module:
    """SNAC from a local folder (its own config.json + model.safetensors); never a hub."""
    from snac import SNAC

    folder = Path(folder)
    d = read_config(folder)
    try:
        model = SNAC(**d)
    except TypeError as e:
        raise ModelError(f"{folder / CONFIG} is not a SNAC config: {e}",
                         "use the config.json published with SNAC 32 kHz") from e
    _load_weights(model, folder)
    return model.to(device).eval()


def convert_pickled_snac(src: Path | str, dst: Path | str) -> Path:
    """Convert SNAC's published folder (config.json + pytorch_model.bin) to safetensors. Run it
    yourself, once, on files you trust: it reads the pickle with ``weights_only=True``."""
    from snac import SNAC

    src, dst = Path(src), Path(dst)
    d = read_config(src)
    model = SNAC(**d)
    state = torch.load(src / "pytorch_model.bin", map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return save_checkpoint(model, d, dst)


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m inference.engines.autosing.loaders")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("convert-snac", help="pytorch_model.bin -> model.safetensors (weights_only)")
    c.add_argument("src")
    c.add_argument("dst")
    args = ap.parse_args(argv)
    out = convert_pickled_snac(args.src, args.dst)
    log.info("wrote %s", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
