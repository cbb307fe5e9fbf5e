"""The analyze stage: instrumental -> :class:`~inference.analysis.result.Analysis`."""
from __future__ import annotations

import logging
import math
from typing import Callable

import numpy as np

from host_bridge.core.model import TempoMap
from inference.analysis.beats import estimate_grid, grid_from_tempo_map
from inference.analysis.features import CHROMA_HOP, HOP, Features, extract, sync
from inference.analysis.harmony import chords_per_beat, estimate_key
from inference.analysis.result import Analysis, BeatGrid, Chord, Key, beat_qn, beats_per_bar
from inference.analysis.sections import find_sections

log = logging.getLogger(__name__)

SILENCE_DB = -60.0
DEFAULT_KEY = Key(0, "major", 0.0)


def analyze(audio: np.ndarray, sample_rate: int, tempo_map: TempoMap | None = None, start_s: float = 0.0,
            meter: tuple[int, int] | None = None,
            progress: Callable[[str, float], None] | None = None) -> Analysis:
    """Analyse an instrumental, float32 [C, T] at ``sample_rate`` whose sample 0 sits at session
    time ``start_s``. With ``tempo_map`` the session's grid is used (and checked against the
    audio); without it tempo, meter (or the given ``meter``) and downbeats are estimated."""
    prog = progress or (lambda stage, frac: None)
    feat = extract(audio, sample_rate)
    prog("analyze", 0.3)
    return analyze_features(feat, tempo_map, start_s, meter, prog)


def analyze_features(feat: Features, tempo_map: TempoMap | None = None, start_s: float = 0.0,
                     meter: tuple[int, int] | None = None,
                     progress: Callable[[str, float], None] | None = None) -> Analysis:
    """:func:`analyze` on features already extracted (:func:`inference.analysis.features.extract`)."""
    prog = progress or (lambda stage, frac: None)
    warnings: list[str] = []
    peak_db = float(np.max(feat.rms_db)) if feat.rms_db.size else -200.0
    silent = peak_db < SILENCE_DB
    if silent:
        warnings.append(f"the instrumental is silent (peak level {peak_db:.0f} dBFS): using the tempo map "
                        "or 120 BPM 4/4, and the default key C major")
    grid, tm = _grid(feat, tempo_map, start_s, meter, silent, warnings)
    prog("analyze", 0.6)
    beats_s = np.asarray(grid.beats_s)
    m = tm.meter_at(grid.beats_qn[0] if grid.beats_qn else 0.0)
    bq = beat_qn(m.numerator, m.denominator)
    chords: list[Chord] = []
    key = DEFAULT_KEY
    if len(beats_s):
        step = float(np.median(np.diff(beats_s))) if len(beats_s) > 1 else 0.5
        bounds = np.concatenate([beats_s, [beats_s[-1] + step]])
        bchroma = sync(feat.chroma, CHROMA_HOP, bounds)
        bbass = sync(feat.bass_chroma, CHROMA_HOP, bounds)
        benergy = sync(feat.rms_db[None, :], CHROMA_HOP, bounds)[0]
        k = beats_per_bar(m.numerator, m.denominator)
        in_bar = [int(round((q - tm.qn_at_bar(tm.bar_beat_at(q + 1e-6)[0])) / bq)) % k for q in grid.beats_qn]
        chords = chords_per_beat(bchroma, bbass, list(grid.beats_qn), bq, benergy, in_bar)
        if not silent:
            tonal = _tonality(bchroma)
            if tonal < 0.12:
                warnings.append(f"the instrumental has no clear pitch content (tonality {tonal:.2f}): "
                                "using the default key C major and no chords")
                chords = [Chord(c.start_qn, c.end_qn, -1, "N", 0.0) for c in chords]
            else:
                key = estimate_key(bchroma, bbass, chords)
                if key.confidence < 0.15:
                    warnings.append(f"the key is uncertain (best guess {key.name}, confidence {key.confidence:.2f})")
        else:
            chords = [Chord(c.start_qn, c.end_qn, -1, "N", 0.0) for c in chords]
    prog("analyze", 0.8)
    end_qn = tm.qn_at(start_s + feat.duration_s)
    bars = max(0, tm.bar_beat_at(end_qn + 1e-6)[0] - 1)
    sections = []
    if bars > 0:
        bar_s = np.array([tm.seconds_at(tm.qn_at_bar(b)) - start_s for b in range(1, bars + 2)])
        bar_chroma = sync(feat.chroma + 0.5 * feat.bass_chroma, CHROMA_HOP, np.clip(bar_s, 0, None))
        bar_energy = sync(feat.rms_db[None, :], CHROMA_HOP, np.clip(bar_s, 0, None))[0]
        bar_timbre = sync(feat.mfcc, HOP, np.clip(bar_s, 0, None))
        sections = find_sections(bar_chroma, bar_energy, bar_timbre, block=4 if m.numerator != 3 or bars >= 8 else 2)
    loud = feat.rms_db[feat.rms_db > SILENCE_DB]
    loudness = float(10 * np.log10(np.mean(10 ** (loud / 10)))) if loud.size else -math.inf
    for w in warnings:
        log.warning(w)
    prog("analyze", 1.0)
    return Analysis(tm, grid, key, chords, sections, loudness, feat.duration_s, bars, warnings)


def _grid(feat: Features, tempo_map: TempoMap | None, start_s: float, meter: tuple[int, int] | None,
          silent: bool, warnings: list[str]) -> tuple[BeatGrid, TempoMap]:
    """The beat grid: the tempo map's (checked against the audio) or estimated; warnings appended."""
    if tempo_map is not None:
        grid = grid_from_tempo_map(feat, tempo_map, start_s)
        if not silent and grid.agreement < 0.35 and len(grid.beats_s) > 8:
            warnings.append(_disagreement(feat, grid, meter))
        return grid, tempo_map
    grid, tm = estimate_grid(feat, meter)
    if not silent and grid.confidence == 0.0:
        warnings.append("no steady beat found in the instrumental (noise, a drone, a pad or free time): "
                        "using a 120 BPM 4/4 grid from its start; give the tempo (--tempo, --meter) or the "
                        "session's tempo map")
    elif not silent and grid.confidence < 0.3:
        warnings.append(f"the beat is unclear: read as {grid.tactus_bpm:.0f} BPM {grid.numerator}/"
                        f"{grid.denominator} with confidence {grid.confidence:.2f}; give the tempo (--tempo, "
                        "--meter) or the session's tempo map for a sure grid")
    return grid, tm


def _disagreement(feat: Features, grid: BeatGrid, meter: tuple[int, int] | None) -> str:
    """The warning for a tempo map that does not fit the audio, naming both tempos."""
    est, _ = estimate_grid(feat, meter)
    heard = (f"the instrumental sounds like {est.tactus_bpm:.1f} BPM {est.numerator}/{est.denominator}"
             if est.confidence > 0 else "no steady beat is heard in the instrumental")
    return (f"the tempo map ({grid.tactus_bpm:.1f} BPM {grid.numerator}/{grid.denominator}) disagrees with the "
            f"audio: {heard}, and only {grid.agreement:.0%} of its onsets fall on the map's grid; check the "
            "session tempo and where the instrumental starts")


def _tonality(bchroma: np.ndarray) -> float:
    """How peaked the average chroma is (0 = flat like noise, ~0.5+ for triads)."""
    if bchroma.size == 0:
        return 0.0
    c = bchroma / (bchroma.sum(axis=0, keepdims=True) + 1e-9)
    prof = c.mean(axis=1)
    per_beat = np.mean(np.max(c, axis=0) - np.median(c, axis=0))
    return float(0.5 * (prof.max() - np.median(prof)) * 12 / 2 + per_beat * 2)
