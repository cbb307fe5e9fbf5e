"""The ``kokoro`` engine: Kokoro-82M (int8 ONNX from PyPI, Apache-2.0) edited to sing.

    engine = KokoroEngine(threads=2)
    engine.warm_up()
    for phrase in engine.render(score, artist, seed=0):
        ...  # phrase.audio float32 [1, T] at 24 kHz, phrase.start_s in session seconds
"""
from typing import Any

from inference.engines.kokoro.engine import KokoroEngine

__all__ = ["KokoroEngine", "build"]


def build(threads: int = 2, vocoder: str = "auto", **_: Any) -> KokoroEngine:
    """The registry's factory (host_bridge.core.engines), with the phrase cache the environment asks
    for (on by default: :mod:`inference.phrase_cache`)."""
    from inference.phrase_cache import PhraseCache

    return KokoroEngine(threads=threads, vocoder=vocoder, phrase_cache=PhraseCache.from_env())
