"""Beats and downbeats: checked against the session's tempo map, or estimated from the audio.

Estimation resolves the usual half/double/triple-tempo ambiguity with the meter: beats are
tracked at each candidate tactus, then every tactus x feel (4/4, swung 4/4, 3/4, 6/8) is scored
(see :mod:`inference.analysis.meter`): harmony and bass on the downbeats, onsets on the beat's
subdivisions, beats accented against their subdivisions, and a log-normal prior on the tactus.
"""
from __future__ import annotations

import logging
import math
from dataclasses import replace

import numpy as np

from host_bridge.core.model import MeterChange, TempoChange, TempoMap
from inference.analysis.features import CHROMA_HOP, HOP, SR, Features, sync
from inference.analysis.meter import Hypothesis, hypotheses
from inference.analysis.result import BeatGrid, beat_qn, beats_per_bar

log = logging.getLogger(__name__)

AGREEMENT_WINDOW_S = 0.06
"""An onset within this of a grid point (beat or subdivision) agrees with the grid."""
PULSE_MIN_CLARITY = 0.12
"""Below this share of onset strength on the best grid beyond chance, the audio has no beat to
follow (measured: noise 0.0-0.06, a drone or a pad below 0; the benchmark songs 0.2 and up)."""
ONSET_LATENCY_S = 0.018
"""How late the onset envelope peaks after an attack (measured on clicks); taken off estimated beats."""


# ---------------------------------------------------------------------- checking a given map
def grid_from_tempo_map(feat: Features, tempo_map: TempoMap, start_s: float = 0.0) -> BeatGrid:
    """Felt beats of ``tempo_map`` over the audio (whose sample 0 sits at session time ``start_s``),
    with ``agreement``: the share of strong onsets that land on the map's half-beat grid."""
    dur = feat.duration_s
    q0 = max(0.0, tempo_map.qn_at(start_s))
    q1 = tempo_map.qn_at(start_s + dur)
    beats_qn: list[float] = []
    bar = tempo_map.bar_beat_at(q0)[0]
    while True:
        m = tempo_map.meter_at_bar(bar)
        bq = beat_qn(m.numerator, m.denominator)
        b0 = tempo_map.qn_at_bar(bar)
        if b0 > q1:
            break
        for k in range(beats_per_bar(m.numerator, m.denominator)):
            q = b0 + k * bq
            if q0 - 1e-6 <= q <= q1:
                beats_qn.append(q)
        bar += 1
    beats_s = [tempo_map.seconds_at(q) - start_s for q in beats_qn]
    downs = [tempo_map.seconds_at(tempo_map.qn_at_bar(b)) - start_s
             for b in range(tempo_map.bar_beat_at(q0)[0], bar) if tempo_map.qn_at_bar(b) >= q0 - 1e-6]
    m0 = tempo_map.meter_at(q0)
    agreement, best_shift = _agreement(feat, np.asarray(beats_s), beat_qn(m0.numerator, m0.denominator) == 1.5)
    conf = float(np.clip(agreement, 0.0, 1.0))
    if best_shift is not None:
        log.warning("the instrumental seems to sit %.0f ms off the tempo map's grid", best_shift * 1000)
    return BeatGrid(tuple(beats_qn), tuple(beats_s), tuple(downs), tempo_map.bpm_at(q0), m0.numerator,
                    m0.denominator, conf, "tempo_map", agreement)


def _onset_peaks(feat: Features) -> tuple[np.ndarray, np.ndarray]:
    import librosa

    env = feat.onset
    if env.max() <= 1e-6:
        return np.zeros(0), np.zeros(0)
    pk = librosa.util.peak_pick(env, pre_max=3, post_max=3, pre_avg=10, post_avg=10,
                                delta=0.5 * float(np.std(env)), wait=4)
    return pk * HOP / SR, env[pk]


def _agreement(feat: Features, beats_s: np.ndarray, ternary: bool = False) -> tuple[float, float | None]:
    """Share of onset strength within 60 ms of the grid of beats and their halves (thirds when
    ``ternary``), and a shift (s) that would fit clearly better when there is one."""
    times, w = _onset_peaks(feat)
    if len(times) < 4 or len(beats_s) < 2:
        return 0.0, None
    times = times - ONSET_LATENCY_S
    step = np.diff(beats_s)
    subs = (1 / 3, 2 / 3) if ternary else (1 / 2,)
    grid = np.sort(np.concatenate([beats_s] + [beats_s[:-1] + step * f for f in subs]))

    def fit(shift: float) -> float:
        d = np.abs(times[:, None] - (grid[None, :] + shift)).min(axis=1)
        return float(np.sum(w * (d < AGREEMENT_WINDOW_S)) / np.sum(w))

    base = fit(0.0)
    period = float(np.median(np.diff(beats_s))) / 2
    shifts = np.linspace(-period / 2, period / 2, 21)
    scores = [fit(s) for s in shifts]
    i = int(np.argmax(scores))
    if scores[i] > base + 0.25 and abs(shifts[i]) > 0.03:
        return base, float(shifts[i])
    return base, None


# ---------------------------------------------------------------------- estimation
def estimate_grid(feat: Features, meter: tuple[int, int] | None = None) -> tuple[BeatGrid, TempoMap]:
    """Beats, downbeats, tempo and meter from the audio alone (``meter`` when the caller knows it).
    The returned tempo map puts bar 1 on the first downbeat."""
    import librosa

    env = feat.onset + 0.5 * feat.onset_low
    if env.max() <= 1e-6 or feat.duration_s < 2.0:
        return _fallback(feat)
    t0 = float(librosa.feature.tempo(onset_envelope=env, sr=SR, hop_length=HOP, start_bpm=110.0)[0])
    cands: list[float] = []
    for r in (1 / 3, 1 / 2, 2 / 3, 3 / 4, 1.0, 4 / 3, 3 / 2, 2.0, 3.0):
        t = t0 * r
        if 40.0 <= t <= 200.0 and all(abs(math.log(t / c)) > 0.04 for c in cands):
            cands.append(t)
    hyps = hypotheses(feat, env, _track(feat, env, cands), meter)
    if not hyps:
        return _fallback(feat)
    best = hyps[0]
    rivals = [h.score for h in hyps[1:] if h.meter != best.meter
              or abs(math.log(h.tactus_bpm / best.tactus_bpm)) > 0.04]
    margin = best.score - max(rivals) if rivals else 1.0
    log.debug("beat hypotheses: %s", [(round(h.tactus_bpm, 1), h.meter, h.subdivision, round(h.score, 3),
                                       {k: round(v, 3) for k, v in h.parts.items()}) for h in hyps[:8]])
    grid, tm = _grid_from_hypothesis(feat, best, float(np.clip(0.3 + 2.0 * margin, 0.0, 1.0)))
    # onsets at random land within the agreement window of some grid point this often by chance
    spacing = float(np.median(np.diff(grid.beats_s))) / (3 if beat_qn(*best.meter) == 1.5 else 2)
    chance = min(0.95, 2 * AGREEMENT_WINDOW_S / spacing)
    clarity = (grid.agreement - chance) / (1.0 - chance)
    if clarity < PULSE_MIN_CLARITY:      # noise, a drone, a pad, free time: no steady beat to follow
        log.info("best beat hypothesis %.1f BPM %s puts %.0f%% of the onsets on its grid (%.0f%% by chance): "
                 "no pulse", best.tactus_bpm, best.meter, 100 * grid.agreement, 100 * chance)
        return _fallback(feat)
    # honest confidence: how clearly the best reading beats its rivals, times how well its grid fits
    conf = grid.confidence * float(np.clip((clarity - 0.05) / 0.3, 0.0, 1.0))
    return replace(grid, confidence=conf), tm


def _track(feat: Features, env: np.ndarray, cands: list[float]) -> dict[float, np.ndarray]:
    """Beats tracked at each candidate tactus (regularised, trimmed to the music)."""
    import librosa

    out: dict[float, np.ndarray] = {}
    for t in cands:
        _, frames = librosa.beat.beat_track(onset_envelope=env, sr=SR, hop_length=HOP, bpm=t,
                                            tightness=400, trim=False, units="frames")
        if len(frames) < 6:
            continue
        beats_s = _trim(feat, _regularise(env, frames * HOP / SR))
        if len(beats_s) >= 6:
            out[t] = beats_s
    return out


def _regularise(env: np.ndarray, beats_s: np.ndarray) -> np.ndarray:
    """Replace tracked beats by the constant-tempo grid that best fits the onset envelope when the
    tracked beats are close to one (most productions run to a click); keep them otherwise."""
    idx = np.arange(len(beats_s))
    slope, intercept = np.polyfit(idx, beats_s, 1)
    resid = np.abs(beats_s - (intercept + slope * idx))
    if np.median(resid) > 0.04:
        return beats_s
    # fine search of period and phase against the envelope (smoothed over +-2 frames)
    sm = np.convolve(env, np.ones(3) / 3.0, mode="same")
    n = len(beats_s)
    best, best_v = (slope, intercept), -1.0
    for ds in np.linspace(-0.012, 0.012, 49):
        per = slope * (1.0 + ds)
        mid = n // 2
        centre = intercept + slope * mid
        for dp in np.linspace(-0.035, 0.035, 15):
            t = centre + dp + per * (idx - mid)
            fr = np.round(t * SR / HOP).astype(int)
            ok = (fr >= 0) & (fr < len(sm))
            v = float(sm[fr[ok]].sum())
            if v > best_v:
                best_v, best = v, (per, centre + dp - per * mid)
    per, start = best
    first = start - per * np.floor((start + 0.05) / per)    # extend the grid back to the start
    last = beats_s[-1] + per / 2
    return np.arange(first, last, per)


def _trim(feat: Features, beats_s: np.ndarray) -> np.ndarray:
    """Drop beats in the silence (or reverb tail) before the first and after the last clear onset."""
    times, w = _onset_peaks(feat)
    if len(times) == 0:
        return beats_s
    strong = times[w >= 0.25 * np.percentile(w, 75)]
    loud = np.nonzero(feat.rms_db > feat.rms_db.max() - 30.0)[0]
    start = min(strong[0], loud[0] * CHROMA_HOP / SR if len(loud) else strong[0])
    return beats_s[(beats_s >= start - 0.1) & (beats_s <= strong[-1] + 0.1)]


def _chord_change(chroma: np.ndarray, window: int = 1, temperature: float = 0.06) -> np.ndarray:
    """How much the chord changes into each beat (0..1): the chroma of the ``window`` beats
    before and after each beat [12, N] are turned into distributions over chord templates (so
    the notes of one chord played in any order, as in an arpeggio, look alike) and compared
    (1 - Bhattacharyya coefficient)."""
    from inference.analysis.harmony import _T

    n = chroma.shape[1]
    cs = np.concatenate([np.zeros((12, 1)), np.cumsum(chroma, axis=1)], axis=1)
    idx = np.arange(n)
    before = cs[:, idx] - cs[:, np.clip(idx - window, 0, None)]
    after = cs[:, np.clip(idx + window, None, n)] - cs[:, idx]

    def dist(c: np.ndarray) -> np.ndarray:
        c = c / (np.linalg.norm(c, axis=0, keepdims=True) + 1e-9)
        s = _T @ c
        p = np.exp((s - s.max(axis=0, keepdims=True)) / temperature)
        return p / p.sum(axis=0, keepdims=True)

    d = 1.0 - np.sum(np.sqrt(dist(before) * dist(after)), axis=0)
    d[0] = 0.0
    return d


def _grid_from_hypothesis(feat: Features, h: Hypothesis, confidence: float) -> tuple[BeatGrid, TempoMap]:
    num, den = h.meter
    bq = beat_qn(num, den)
    beats = h.beats_s - ONSET_LATENCY_S
    idx = np.arange(len(beats))
    slope, intercept = np.polyfit(idx, beats, 1)           # seconds per beat; robust constant tempo
    bpm = 60.0 / slope * bq
    k = beats_per_bar(num, den)
    first_down = intercept + h.phase * slope
    while first_down - k * slope > -0.5 * slope:
        first_down -= k * slope
    tm = TempoMap((TempoChange(0.0, float(bpm)),), (MeterChange(1, num, den),), float(first_down))
    grid = _grid_on_map(feat, tm, beats, confidence, "estimated")
    return grid, tm


def _grid_on_map(feat: Features, tm: TempoMap, beats_s: np.ndarray, confidence: float, source: str) -> BeatGrid:
    qn = [tm.qn_at(float(t)) for t in beats_s]
    m = tm.meters[0]
    bq = beat_qn(m.numerator, m.denominator)
    qn_r = [round(q / bq) * bq for q in qn]
    downs = [float(t) for t, q in zip(beats_s, qn_r) if abs(q / m.bar_qn - round(q / m.bar_qn)) < 1e-6]
    agreement, _ = _agreement(feat, np.asarray(beats_s), bq == 1.5)
    return BeatGrid(tuple(qn_r), tuple(float(t) for t in beats_s), tuple(downs), tm.tempos[0].bpm,
                    m.numerator, m.denominator, confidence, source, agreement)


def _fallback(feat: Features) -> tuple[BeatGrid, TempoMap]:
    """No usable pulse (silence, noise, a drone): a 120 BPM 4/4 grid at time 0, confidence 0."""
    tm = TempoMap.constant(120.0)
    n = int(feat.duration_s * 2) + 1
    beats = np.arange(n) * 0.5
    return _grid_on_map(feat, tm, beats, 0.0, "estimated"), tm
