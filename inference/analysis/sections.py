"""Sections from repetition, harmony and sound, at bar level.

Boundaries: a novelty curve per bar sums (1) how the song's repetition structure changes there
(structure features: each bar's row of a lag matrix built from a recurrence plot of two-bar
chroma sequences, smoothed over time) and (2) how the sound changes there (timbre and loudness
of the bars before against the bars after, a Foote checkerboard). A dynamic programme then picks
the boundaries, preferring sections of 4, 8 or 16 bars (any length of 1-8 for the intro and the
outro). Labels: sections whose bar-by-bar chroma match get the same letter. Roles are guesses: a
short first section unlike what follows (quieter, or not repeated) is the intro, the same at the
end is the outro, the loudest repeated material is the chorus, a one-off section in the middle
is the bridge, the rest are verses.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from inference.analysis.result import Section

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LEN_COST = {16: 0.0, 8: 0.0, 4: 0.35, 12: 0.45, 6: 0.8, 2: 0.9, 10: 0.9, 14: 1.0}
SAME = 0.88
"""Mean bar-by-bar chroma similarity above which two sections are the same material."""


def _norm(x: np.ndarray) -> np.ndarray:
    return x / (np.linalg.norm(x, axis=0, keepdims=True) + 1e-9)


def structure_novelty(bar_chroma: np.ndarray, embed: int = 2) -> np.ndarray:
    """[B] novelty from the change of each bar's structure feature (Serrà et al. 2012)."""
    from scipy.ndimage import gaussian_filter1d

    nb = bar_chroma.shape[1]
    if nb < 4:
        return np.zeros(nb)
    c = _norm(bar_chroma)
    X = np.concatenate([np.roll(c, -i, axis=1) for i in range(embed)], axis=0)
    X[:, nb - embed + 1:] = np.repeat(X[:, nb - embed:nb - embed + 1], embed - 1, axis=1)
    X = _norm(X)
    S = X.T @ X
    k = max(2, int(round(0.12 * nb)))
    thr = -np.sort(-S, axis=1)[:, min(k, nb - 1)][:, None]
    R = ((S >= thr) & (S >= thr.T)).astype(float) * S
    lag = np.stack([np.roll(R[i], -i) for i in range(nb)])          # [bar, lag]
    sm = gaussian_filter1d(lag, 1.2, axis=0, mode="nearest")       # smoothed over time (bars)
    nov = np.zeros(nb)
    # row i holds bars i..i+embed-1: a change of material at bar b is measured between the last
    # row wholly before it (b-embed) and the first row wholly after it (b)
    nov[embed:] = np.linalg.norm(sm[embed:] - sm[:-embed], axis=1)
    return _scaled(nov, 1.2)


def sound_novelty(bar_energy_db: np.ndarray, bar_timbre: np.ndarray | None, width: int = 2) -> np.ndarray:
    """[B] novelty of the sound: how much louder or softer the ``width`` bars after each bar are
    than those before (3 dB counts 1), plus, at half weight, how much their timbre ([D, B], e.g.
    MFCC means, scaled by each coefficient's spread) differs."""
    nb = len(bar_energy_db)
    if nb < 2:
        return np.zeros(nb)
    z = None
    if bar_timbre is not None and bar_timbre.size:
        med = np.median(bar_timbre, axis=1, keepdims=True)
        spread = np.percentile(bar_timbre, 90, axis=1, keepdims=True) - np.percentile(bar_timbre, 10, axis=1,
                                                                                       keepdims=True)
        z = (bar_timbre - med) / (spread + 1e-6)
    nov = np.zeros(nb)
    for b in range(1, nb):
        lo, hi = max(0, b - width), min(nb, b + width)
        loud = abs(float(bar_energy_db[b:hi].mean() - bar_energy_db[lo:b].mean())) / 3.0
        tim = 0.0
        if z is not None:
            tim = float(np.linalg.norm(z[:, b:hi].mean(axis=1) - z[:, lo:b].mean(axis=1))) / np.sqrt(z.shape[0])
        nov[b] = min(loud, 1.5) + 0.5 * tim
    return _scaled(nov, 0.6)


def _scaled(nov: np.ndarray, floor: float) -> np.ndarray:
    """Novelty over its 95th percentile (at least ``floor``, what a song with sections reaches),
    capped: one extreme bar (the silence after the last chord) must not flatten the rest, and a
    loop without sections must not have its small wobbles blown up."""
    return np.clip(nov / max(float(np.percentile(nov, 95)), floor), 0.0, 1.5)


def segment(nov: np.ndarray, max_len: int = 16, penalty: float = 0.85) -> list[tuple[int, int]]:
    """Half-open bar spans chosen by a dynamic programme: each boundary gains its novelty, each
    section pays ``penalty`` and a cost for an unusual length."""
    nb = len(nov)
    best = np.full(nb + 1, np.inf)
    back = np.zeros(nb + 1, dtype=int)
    best[0] = 0.0
    for b in range(1, nb + 1):
        for a in range(max(0, b - max_len), b):
            n = b - a
            edge = a == 0 or b == nb
            lc = (0.15 if n >= 4 else 0.5) if edge and n <= 8 else _LEN_COST.get(n, 1.4)
            c = best[a] + penalty + lc - (1.6 * nov[a] if a > 0 else 0.0)
            if c < best[b]:
                best[b], back[b] = c, a
    spans, b = [], nb
    while b > 0:
        spans.append((int(back[b]), b))
        b = int(back[b])
    return spans[::-1]


def _similarity(c: np.ndarray, a: tuple[int, int], b: tuple[int, int]) -> float:
    n = min(a[1] - a[0], b[1] - b[0])
    return float(np.mean(np.sum(c[:, a[0]:a[0] + n] * c[:, b[0]:b[0] + n], axis=0)))


def find_sections(bar_chroma: np.ndarray, bar_energy_db: np.ndarray, bar_timbre: np.ndarray | None = None,
                  block: int = 4) -> list[Section]:
    """bar_chroma: [12, B] per bar; bar_energy_db: [B]; bar_timbre: [D, B] (e.g. MFCC means).
    Returns sections covering bars 1..B. ``block`` is the shortest section length expected in
    the middle of the song (2 for short songs in 3/4)."""
    nb = bar_chroma.shape[1]
    if nb == 0:
        return []
    c = _norm(bar_chroma)
    nov = (structure_novelty(bar_chroma) + 0.8 * sound_novelty(bar_energy_db, bar_timbre)) / 1.8
    spans = segment(nov) if nb >= 8 else [(0, nb)]
    labels: list[int] = []
    sims: list[float] = []
    for i, sp in enumerate(spans):
        best, best_s = -1, 0.0
        for j in range(i):
            s = _similarity(c, sp, spans[j])
            if s > best_s:
                best, best_s = labels[j], s
        if best >= 0 and best_s > SAME:
            labels.append(best)
        else:
            labels.append(max(labels, default=-1) + 1)
        sims.append(best_s if best >= 0 and best_s > SAME else 1.0 - best_s)
    # merge neighbours with the same label and similar loudness
    raw: list[list[Any]] = []
    for (a, b), lab, s in zip(spans, labels, sims):
        e = float(np.mean(bar_energy_db[a:b]))
        if raw and raw[-1][2] == lab and abs(raw[-1][3] - e) < 3.0 and b - raw[-1][0] <= 16:
            raw[-1][1] = b
        else:
            raw.append([a, b, lab, e, s])
    return _roles(raw, bar_energy_db)


def _roles(raw: list[list[Any]], bar_energy_db: np.ndarray) -> list[Section]:
    n = len(raw)
    med = float(np.median(bar_energy_db))
    counts: dict[int, int] = {}
    for r in raw:
        counts[r[2]] = counts.get(r[2], 0) + 1
    roles = [""] * n
    a, b, lab, e, _ = raw[0]
    if n > 2 and b - a <= 8 and (b - a < 4 or counts[lab] == 1 or e < raw[1][3] - 2.0):
        roles[0] = "intro"
    for i in (n - 1, n - 2):
        a, b, lab, e, _ = raw[i]
        if i > 1 and not roles[i] and b - a <= 8 and (b - a < 4 or counts[lab] == 1 or e < raw[i - 1][3] - 2.0
                                                       or e < med - 3.0):
            roles[i] = "outro"
        else:
            break
    if n > 2 and roles[n - 2] == "outro" and roles[n - 1] != "outro":
        roles[n - 2] = ""
    middle = [r for r, role in zip(raw, roles) if not role]
    mc: dict[int, int] = {}
    for r in middle:
        mc[r[2]] = mc.get(r[2], 0) + 1
    cand = [lab for lab, k in mc.items() if k > 1]
    chorus = max(cand, key=lambda lab: np.mean([r[3] for r in middle if r[2] == lab])) if len(cand) > 1 else None
    out: list[Section] = []
    seen_chorus = False
    for i, (a, b, lab, e, s) in enumerate(raw):
        role = roles[i]
        if not role:
            role = "chorus" if lab == chorus else "bridge" if mc.get(lab, 0) == 1 and seen_chorus else "verse"
        seen_chorus = seen_chorus or role == "chorus"
        out.append(Section(a + 1, b, LETTERS[lab % 26], role, e, float(np.clip(s, 0.0, 1.0))))
    return out
