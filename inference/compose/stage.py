"""The compose stage for the pipeline and the CLI: instrumental + lyrics -> analysis -> Score."""
from __future__ import annotations

import logging
from typing import Any, Callable

import numpy as np

from host_bridge.core.errors import InputError
from host_bridge.core.model import LyricsSheet, Score, TempoMap
from inference.analysis import Analysis, analyze
from inference.compose.composer import ComposeReport, compose

log = logging.getLogger(__name__)


def compose_over(sheet: LyricsSheet, instrumental: np.ndarray | None, sample_rate: int, low: int, high: int,
                 tempo_map: TempoMap | None = None, start_s: float = 0.0, seed: int = 0, g2p: Any | None = None,
                 meter: tuple[int, int] | None = None,
                 progress: Callable[[str, float], None] | None = None) -> tuple[Score, Analysis, ComposeReport]:
    """Analyse ``instrumental`` (float32 [C, T] at ``sample_rate``, sample 0 at session time
    ``start_s``) and compose a melody for ``sheet`` in MIDI range ``low``..``high``."""
    if instrumental is None or np.asarray(instrumental).size == 0:
        raise InputError("no guide melody and no instrumental were given",
                         "give the instrumental (the composer writes a melody that fits it) or a guide MIDI")
    an = analyze(instrumental, sample_rate, tempo_map=tempo_map, start_s=start_s, meter=meter, progress=progress)
    rep = ComposeReport(warnings=list(an.warnings))
    score = compose(sheet, an, low, high, seed=seed, g2p=g2p, report=rep)
    log.info("composed %d notes in %s, %s, %.1f BPM %d/%d", len(score.notes), an.key.name,
             "map" if tempo_map is not None else "estimated grid", an.grid.bpm, an.grid.numerator,
             an.grid.denominator)
    return score, an, rep
