"""The AutoSing-class engine: lyrics + instrumental -> vocal, two transformer stages over SNAC
32 kHz codes (see ``engine.py`` for the flow and ``loaders.py`` for the checkpoint layout).

Layout (audiocraft habit): ``modules/`` reusable blocks, ``models/`` assembled models,
``builders.py`` config -> objects, ``loaders.py`` files -> config + weights, ``patterns.py``
codebook layouts, ``codec.py`` SNAC, ``generate.py`` prefill/decode, ``train.py`` training.
Import the engine from ``inference.engines.autosing.engine`` (kept lazy: torch loads there).
"""
from __future__ import annotations

from typing import Any


def build(checkpoint: str = "", **_: Any) -> Any:
    """The registry's factory (host_bridge.core.engines): an AutoSingEngine on ``checkpoint``."""
    from host_bridge.core.errors import ModelError

    if not checkpoint:
        raise ModelError("the autosing engine needs a checkpoint folder",
                         "pass --checkpoint DIR (a folder made by inference.engines.autosing.train)")
    from inference.engines.autosing.engine import AutoSingEngine

    return AutoSingEngine(checkpoint=checkpoint)
