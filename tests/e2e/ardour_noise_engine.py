"""A fast stand-in singer for the Ardour end-to-end tests, behind the real Pipeline.

Every note is a burst of seeded noise from its onset to 80% of its length, rendered at 24 kHz
(so the real produce stage resamples it to the session rate). Compose (G2P, lyrics alignment)
and produce are the real ones. ``NoiseBurstPipeline`` is also a sidecar pipeline factory
(``--pipeline tests/e2e/ardour_noise_engine.py:NoiseBurstPipeline``), so the same engine runs
behind the real bridge and sidecar.
"""
from __future__ import annotations

import threading
from typing import Any, Iterator

import numpy as np

from host_bridge.core.model import Score
from inference.engines.base import RenderedPhrase
from inference.pipeline import Pipeline

ENGINE_RATE = 24000


class NoiseBurstEngine:
    name = "noise-burst"
    sample_rate = ENGINE_RATE

    def warm_up(self) -> None:
        pass

    def render(self, score: Score, artist: Any, *, seed: int = 0,
               cancel: threading.Event | None = None) -> Iterator[RenderedPhrase]:
        rng = np.random.default_rng(seed + 1)
        tm = score.tempo_map
        for phrase in score.phrases():
            t0 = tm.seconds_at(phrase[0].onset)
            t1 = tm.seconds_at(phrase[-1].end)
            x = np.zeros(int(np.ceil((t1 - t0) * ENGINE_RATE)) + 1, np.float32)
            for n in phrase:
                a = int(round((tm.seconds_at(n.onset) - t0) * ENGINE_RATE))
                b = int(round((tm.seconds_at(n.onset + 0.8 * n.duration) - t0) * ENGINE_RATE))
                x[a:b] = 0.05 * rng.standard_normal(b - a).astype(np.float32)
            yield RenderedPhrase(x[None, :], ENGINE_RATE, t0, tuple(phrase), {})


class NoiseBurstPipeline(Pipeline):
    device = "cpu"

    def engine(self, name: str, checkpoint: str = "") -> Any:
        return NoiseBurstEngine()

    def warm_up(self, engines: tuple[str, ...] = ()) -> None:
        self.g2p()
