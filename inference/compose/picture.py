"""A picture (PNG) of the composer's plan: the instrumental's sections (coloured by the material
they share, with their roles), the lyric sections placed on them, the chords per bar, and the
composed melody with its syllables as a piano roll. matplotlib (sidecar extra), drawn off-screen.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from host_bridge.core.model import Score
from inference.analysis import Analysis
from inference.compose.form import Placement

_COLOURS = ["#dbe9f6", "#fde2c8", "#d9f0d3", "#f3d9ec", "#fff3b0", "#e0e0e0"]
_FREE = "#f2f2f2"


def draw(analysis: Analysis, score: Score | None, path: str | Path, max_bars: int = 160,
         placements: Sequence[Placement] = (), names: Sequence[str] = ()) -> Path:
    """Write the picture to ``path`` (PNG); at most ``max_bars`` bars wide. ``placements`` and
    ``names`` (from the composer's report) label where each lyric section is sung."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tm = analysis.tempo_map
    bars = max(1, min(analysis.bars, max_bars))
    end_qn = tm.qn_at_bar(bars + 1)
    notes = [n for n in (score.notes if score else ()) if n.onset < end_qn]
    lo = int(min((n.pitch for n in notes), default=60)) - 3
    hi = int(max((n.pitch for n in notes), default=72)) + 3
    fig, ax = plt.subplots(figsize=(min(200.0, max(8.0, bars * 0.9)), 5.0), dpi=80)
    letters: dict[str, str] = {}
    for s in analysis.sections:
        if s.first_bar > bars:
            continue
        a, b = tm.qn_at_bar(s.first_bar), tm.qn_at_bar(min(s.last_bar, bars) + 1)
        free = s.role in ("intro", "outro")
        col = _FREE if free else letters.setdefault(s.label, _COLOURS[len(letters) % len(_COLOURS)])
        ax.axvspan(a, b, color=col, zorder=0)
        ax.axvline(a, color="#333333", lw=1.4, zorder=2)
        ax.text(a + 0.1, hi + 2.4, f"{s.label} {s.role}", fontsize=9, va="bottom", weight="bold")
    for p in placements:
        if p.first_bar > bars:
            continue
        a, b = tm.qn_at_bar(p.first_bar), tm.qn_at_bar(min(p.last_bar, bars) + 1)
        ax.plot([a, b], [lo - 0.3, lo - 0.3], color="#c0392b", lw=4, solid_capstyle="butt", zorder=3)
        name = names[p.section] if p.section < len(names) else f"section {p.section + 1}"
        ax.text(a + 0.1, lo - 1.2, f"{name} ({'/'.join(str(x) for x in sorted(set(p.line_bars)))} bars a line)",
                fontsize=8, va="top", color="#c0392b")
    for bar, labels in analysis.chords_per_bar():
        if bar > bars:
            break
        q = tm.qn_at_bar(bar)
        ax.axvline(q, color="#999999", lw=0.5, zorder=1)
        ax.text(q + 0.1, hi + 0.6, " ".join(labels), fontsize=7, va="bottom", color="#333366")
    for n in notes:
        ax.add_patch(plt.Rectangle((n.onset, n.pitch - 0.4), n.duration, 0.8, color="#c0392b", zorder=3))
        if n.syllable:
            ax.text(n.onset, n.pitch + 0.55, n.syllable, fontsize=6, zorder=4)
    ax.set_xlim(0, end_qn)
    ax.set_ylim(lo - 2.5, hi + 4)
    step = 1 if bars <= 48 else 4
    ax.set_xticks([tm.qn_at_bar(b) for b in range(1, bars + 1, step)])
    ax.set_xticklabels([str(b) for b in range(1, bars + 1, step)], fontsize=7)
    ax.set_xlabel("bar")
    ax.set_ylabel("MIDI pitch")
    g = analysis.grid
    src = "tempo map" if g.source == "tempo_map" else f"estimated, confidence {g.confidence:.2f}"
    ax.set_title(f"{analysis.key.name}, {g.bpm:.1f} BPM {g.numerator}/{g.denominator} ({src})\n"
                 "grey: left free (intro, outro); red: where each lyric section is sung", fontsize=9, loc="left")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, format="png")
    plt.close(fig)
    return out
