"""Sections from repetition and energy.

Bars are grouped into phrase blocks (4 bars, 2 in 3-bar-odd cases); blocks whose bar-by-bar chroma
sequences match get the same letter; a change of letter or a clear jump in energy starts a
new section. Roles are guesses: the loudest repeated material is the chorus, what comes before
it the verse, a short quiet opening the intro.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from inference.analysis.result import Section


def find_sections(bar_chroma: np.ndarray, bar_energy_db: np.ndarray, block: int = 4) -> list[Section]:
    """bar_chroma: [12, B] per bar; bar_energy_db: [B]. Returns sections covering bars 1..B."""
    nb = bar_chroma.shape[1]
    if nb == 0:
        return []
    c = bar_chroma / (np.linalg.norm(bar_chroma, axis=0, keepdims=True) + 1e-9)
    blocks = [(i, min(i + block, nb)) for i in range(0, nb, block)]
    labels: list[int] = []
    protos: list[tuple[int, int]] = []
    sims: list[float] = []
    for a, b in blocks:
        best, best_s = -1, 0.0
        for li, (pa, pb) in enumerate(protos):
            n = min(b - a, pb - pa)
            s = float(np.mean(np.sum(c[:, a:a + n] * c[:, pa:pa + n], axis=0)))
            e = abs(float(np.mean(bar_energy_db[a:b]) - np.mean(bar_energy_db[pa:pb])))
            s -= 0.02 * max(0.0, e - 3.0)
            if s > best_s:
                best, best_s = li, s
        if best >= 0 and best_s > 0.9:
            labels.append(best)
            sims.append(best_s)
        else:
            protos.append((a, b))
            labels.append(len(protos) - 1)
            sims.append(1.0 if best < 0 else 1.0 - best_s)
    # merge consecutive blocks with the same label, unless the energy jumps
    raw: list[list[Any]] = []
    for bi, (a, b) in enumerate(blocks):
        e = float(np.mean(bar_energy_db[a:b]))
        if raw and raw[-1][2] == labels[bi] and abs(raw[-1][3] - e) < 4.0:
            raw[-1][1] = b
        else:
            raw.append([a, b, labels[bi], e, bi])
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    counts: dict[int, int] = {}
    for r in raw:
        counts[r[2]] = counts.get(r[2], 0) + 1
    repeated = [lab for lab, n in counts.items() if n > 1]
    loudest = max(repeated, key=lambda lab: np.mean([r[3] for r in raw if r[2] == lab])) if repeated else None
    out: list[Section] = []
    for i, (a, b, lab, e, bi) in enumerate(raw):
        if lab == loudest and len(repeated) > 1:
            role = "chorus"
        elif i == 0 and b - a <= 4 and len(raw) > 2 and e < np.median(bar_energy_db) - 3.0:
            role = "intro"
        elif i == len(raw) - 1 and counts[lab] == 1 and len(raw) > 2:
            role = "outro"
        elif counts[lab] == 1 and i > 0:
            role = "bridge"
        else:
            role = "verse"
        conf = float(np.clip(sims[bi], 0.0, 1.0))
        out.append(Section(a + 1, b, letters[lab % 26], role, e, conf))
    return out
