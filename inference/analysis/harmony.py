"""Key (major/minor) and chords per beat from beat-synchronous chroma.

Chords: every beat's treble and bass chroma is matched against templates of
:data:`~inference.analysis.result.CHORD_INTERVALS` on all 12 roots (the bass votes for the root),
then a Viterbi pass with a change penalty keeps chords from flickering. Key: Krumhansl-Kessler
profiles correlated with the song's chroma, plus a vote from the chords found (the tonic chord
and its dominant are common, the first and last chords are often the tonic).
"""
from __future__ import annotations

import numpy as np

from inference.analysis.result import CHORD_INTERVALS, Chord, Key

_KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
QUALITIES = ("maj", "min", "7", "min7", "dim", "sus4", "sus2")
"""Qualities recognised (maj7 is left out: on real instruments the overtones of a major triad's
third fake its seventh far more often than a maj7 is played)."""
# quality priors: plain triads are the common case; a 7th must earn its place
_Q_PRIOR = {"maj": 0.0, "min": 0.0, "7": -0.035, "min7": -0.04, "maj7": -0.05, "dim": -0.05,
            "sus4": -0.045, "sus2": -0.05}


def _templates() -> tuple[np.ndarray, list[tuple[int, str]]]:
    rows, names = [], []
    for q in QUALITIES:
        for r in range(12):
            t = np.zeros(12)
            for j, i in enumerate(CHORD_INTERVALS[q]):
                t[(r + i) % 12] = 1.0 if j < 3 else 0.8
            t[r] += 0.3
            rows.append(t / np.linalg.norm(t))
            names.append((r, q))
    return np.array(rows), names


_T, _NAMES = _templates()


def chords_per_beat(chroma: np.ndarray, bass: np.ndarray, beats_qn: list[float], beat_len_qn: float,
                    energy: np.ndarray, beat_in_bar: list[int] | None = None,
                    change_penalty: tuple[float, float, float] = (0.03, 0.12, 0.3)) -> list[Chord]:
    """chroma, bass: [12, N] per beat; beats_qn: N onsets; beat_in_bar: 0-based felt beat in its bar
    (0 = downbeat, -1 = unknown) for each beat. A chord change costs change_penalty[0] on a
    downbeat, [1] on the half-bar beat of a 4-beat bar (or anywhere when the bar is unknown),
    [2] elsewhere. Returns N chords; a near-silent beat is N."""
    n = chroma.shape[1]
    if n == 0:
        return []
    c = chroma / (np.linalg.norm(chroma, axis=0, keepdims=True) + 1e-9)
    b = bass / (bass.sum(axis=0, keepdims=True) + 1e-9)
    sim = _T @ c                                                     # [K, N]
    roots = np.array([r for r, _ in _NAMES])
    sim = sim + 0.12 * b[roots, :]                                   # bass on the root
    prior = np.array([_Q_PRIOR[q] for _, q in _NAMES])[:, None]
    score = sim + prior
    # Viterbi: stay cheap, change costs change_penalty
    K = score.shape[0]
    acc = score[:, 0].copy()
    back = np.zeros((K, n), dtype=np.int32)
    pos = list(beat_in_bar) if beat_in_bar is not None else [-1] * n
    half = 2 if max(pos, default=0) >= 3 else -99
    for t in range(1, n):
        best = int(np.argmax(acc))
        stay = acc
        pen = change_penalty[0] if pos[t] == 0 else change_penalty[1] if pos[t] in (half, -1) else change_penalty[2]
        move = acc[best] - pen
        back[:, t] = np.where(stay >= move, np.arange(K), best)
        acc = np.maximum(stay, move) + score[:, t]
    path = np.zeros(n, dtype=np.int32)
    path[-1] = int(np.argmax(acc))
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[path[t], t]
    silent = energy < (np.max(energy) - 45.0) if len(energy) else np.zeros(n, bool)
    out: list[Chord] = []
    for t in range(n):
        col = np.sort(score[:, t])
        margin = float(col[-1] - col[-2])
        conf = float(np.clip(0.5 * (score[path[t], t] - np.median(score[:, t])) / 0.3 + margin * 2.0, 0.0, 1.0))
        r, q = _NAMES[path[t]]
        q0 = beats_qn[t]
        q1 = beats_qn[t + 1] if t + 1 < n else q0 + beat_len_qn
        if silent[t] or chroma[:, t].sum() < 1e-6:
            out.append(Chord(q0, q1, -1, "N", 0.0))
        else:
            out.append(Chord(q0, q1, r, q, conf))
    return out


# how much a chord (semitones of its root above the tonic, major/minor reduction) says "this key"
_FUNC_MAJOR = {(0, "maj"): 1.0, (7, "maj"): 0.7, (5, "maj"): 0.6, (9, "min"): 0.35, (2, "min"): 0.4,
               (4, "min"): 0.3, (11, "dim"): 0.3, (2, "maj"): 0.1, (4, "maj"): 0.1}
_FUNC_MINOR = {(0, "min"): 1.0, (7, "maj"): 0.7, (7, "min"): 0.4, (5, "min"): 0.6, (8, "maj"): 0.55,
               (3, "maj"): 0.5, (10, "maj"): 0.55, (2, "dim"): 0.3, (5, "maj"): 0.1}
"""Minor-key pop lives on VI, III and VII (Aeolian), hence their weights next to the major table's."""


def _family(c: Chord) -> str:
    if c.quality in ("maj", "7", "maj7", "sus4", "sus2"):
        return "maj"
    return "dim" if c.quality == "dim" else "min"


def estimate_key(chroma: np.ndarray, bass: np.ndarray, chords: list[Chord]) -> Key:
    """chroma, bass: [12, N] per beat (or per frame). The chords vote by their function in each
    candidate key (tonic strongest, then dominant, subdominant...; a chord outside the key votes
    against it; the first and last chords count extra), and the pitch profile votes by correlation."""
    prof = chroma.sum(axis=1) + 0.5 * bass.sum(axis=1)
    if prof.sum() <= 1e-9:
        return Key(0, "major", 0.0)
    scores = np.zeros(24)
    for tonic in range(12):
        scores[tonic] = np.corrcoef(np.roll(_KK_MAJOR, tonic), prof)[0, 1]
        scores[12 + tonic] = np.corrcoef(np.roll(_KK_MINOR, tonic), prof)[0, 1]
    scores = 0.5 * np.nan_to_num(scores)
    named = [c for c in chords if c.root >= 0]
    if named:
        total = sum(c.end_qn - c.start_qn for c in named)
        edge = 0.12 * total              # songs mostly open on the tonic chord
        first = named[0]
        for tonic in range(12):
            for mi, table in enumerate((_FUNC_MAJOR, _FUNC_MINOR)):
                v = 0.0
                for c in named:
                    f = table.get(((c.root - tonic) % 12, _family(c)), -0.5)
                    v += f * (c.end_qn - c.start_qn)
                if table.get(((first.root - tonic) % 12, _family(first)), 0.0) == 1.0:
                    v += edge
                scores[12 * mi + tonic] += v / (total + edge)
    order = np.argsort(scores)[::-1]
    best = int(order[0])
    margin = float(scores[order[0]] - scores[order[1]])
    conf = float(np.clip(0.3 + 2.0 * margin, 0.0, 1.0) * np.clip(scores[best] / 0.8, 0.0, 1.0))
    return Key(best % 12, "major" if best < 12 else "minor", conf)
