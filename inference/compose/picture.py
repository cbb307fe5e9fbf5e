"""A picture (PNG) of an instrumental's sections and chords with the composed melody and lyrics
as a piano roll. matplotlib (sidecar extra), drawn off-screen."""
from __future__ import annotations

from pathlib import Path

from host_bridge.model import Score
from inference.analysis import Analysis

_COLOURS = ["#dbe9f6", "#fde2c8", "#d9f0d3", "#f3d9ec", "#fff3b0", "#e0e0e0"]


def draw(analysis: Analysis, score: Score | None, path: str | Path, max_bars: int = 64) -> Path:
    """Write the picture to ``path`` (PNG); at most ``max_bars`` bars wide."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tm = analysis.tempo_map
    bars = max(1, min(analysis.bars, max_bars))
    end_qn = tm.qn_at_bar(bars + 1)
    notes = [n for n in (score.notes if score else ()) if n.onset < end_qn]
    lo = int(min((n.pitch for n in notes), default=60)) - 3
    hi = int(max((n.pitch for n in notes), default=72)) + 3
    fig, ax = plt.subplots(figsize=(max(8.0, bars * 1.1), 4.5), dpi=100)
    letters: dict[str, str] = {}
    for s in analysis.sections:
        if s.first_bar > bars:
            continue
        a, b = tm.qn_at_bar(s.first_bar), tm.qn_at_bar(min(s.last_bar, bars) + 1)
        col = letters.setdefault(s.label, _COLOURS[len(letters) % len(_COLOURS)])
        ax.axvspan(a, b, color=col, zorder=0)
        ax.text(a + 0.1, hi + 1.6, f"{s.label} {s.role}", fontsize=8, va="bottom")
    for bar, labels in analysis.chords_per_bar():
        if bar > bars:
            break
        q = tm.qn_at_bar(bar)
        ax.axvline(q, color="#888888", lw=0.6, zorder=1)
        ax.text(q + 0.1, hi + 0.4, " ".join(labels), fontsize=8, va="bottom", color="#333366")
    for n in notes:
        ax.add_patch(plt.Rectangle((n.onset, n.pitch - 0.4), n.duration, 0.8, color="#c0392b", zorder=3))
        if n.syllable:
            ax.text(n.onset, n.pitch - 1.3, n.syllable, fontsize=6, zorder=4)
    ax.set_xlim(0, end_qn)
    ax.set_ylim(lo - 1, hi + 3)
    ax.set_xticks([tm.qn_at_bar(b) for b in range(1, bars + 1)])
    ax.set_xticklabels([str(b) for b in range(1, bars + 1)], fontsize=7)
    ax.set_xlabel("bar")
    ax.set_ylabel("MIDI pitch")
    g = analysis.grid
    ax.set_title(f"{analysis.key.name}, {g.bpm:.1f} BPM {g.numerator}/{g.denominator}", fontsize=10)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, format="png")
    plt.close(fig)
    return out
