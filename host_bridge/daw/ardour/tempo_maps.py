"""Tempo maps where two meet: a guide MIDI's map written as Ardour 7.3 can hold it, and the
session's bar lines checked against the guide's before anything is sung.

Ardour 7.3 puts tempo points on whole quarter notes only (``set_tempo`` rounds a beat-time
position to the beat), so a map whose tempo steps every half beat, copied point by point, drifts
(tens of ms by the end of a ritardando). :func:`fit_for_ardour` gives each quarter note that holds
a tempo step one constant tempo that lasts exactly as long as the MIDI's quarter note: every whole
quarter note, and so every bar line on one, stays where the MIDI puts it.

:func:`compare_bar_lines` puts the two maps' bar lines side by side over the bars being sung;
:func:`check_guide_tempo` refuses (:class:`TempoMismatchError`) when they disagree by more than
:data:`MISMATCH_MS` at any bar line, and returns what the take record keeps about the map used.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from host_bridge.daw.ardour.errors import TempoMismatchError
from host_bridge.core.model import MeterChange, TempoChange, TempoMap

log = logging.getLogger(__name__)

MISMATCH_MS = 10.0
"""Bar lines of the session and the guide further apart than this refuse a take."""
HOLD_MS = 1.0
"""A map written into Ardour must keep every bar line within this of the source's."""
ON_GRID = 1e-9
"""A tempo point this close to a whole quarter note is on it (quarter notes)."""
SESSION_TEMPO_FLAG = "--use-session-tempo"


# ---------------------------------------------------------------------- fitting a map for Ardour
def fit_for_ardour(tm: TempoMap) -> TempoMap:
    """``tm`` with every tempo point on a whole quarter note: each quarter note that holds a
    tempo step off the grid gets the constant tempo that makes it last as long as in ``tm``, so
    every whole quarter note keeps its time. Maps already on the grid come back unchanged."""
    if all(abs(t.qn - round(t.qn)) <= ON_GRID for t in tm.tempos):
        return TempoMap(tuple(TempoChange(float(round(t.qn)), t.bpm) for t in tm.tempos), tm.meters, tm.offset_s)
    last = int(math.ceil(max(t.qn for t in tm.tempos)))
    points: list[TempoChange] = []
    for k in range(last + 1):
        bpm = 60.0 / (tm.seconds_at(k + 1.0) - tm.seconds_at(float(k)))
        if not points or not math.isclose(points[-1].bpm, bpm, rel_tol=1e-12):
            points.append(TempoChange(float(k), bpm))
    return TempoMap(tuple(points), tm.meters, tm.offset_s)


def bar_seconds(tm: TempoMap, first: int, last: int) -> list[float]:
    """Times (s) of the bar lines from the start of ``first`` to the end of ``last``."""
    return [tm.seconds_at(tm.qn_at_bar(b)) for b in range(first, last + 2)]


@dataclass(frozen=True)
class BarComparison:
    """Two maps' bar lines over bars ``first``..``last`` (and the line that ends ``last``)."""

    first: int
    last: int
    ours: tuple[float, ...]
    """Seconds of each bar line in the first map (the session's)."""
    theirs: tuple[float, ...]
    """Seconds of each bar line in the second map (the guide's)."""

    @property
    def diffs_ms(self) -> list[float]:
        return [(a - b) * 1000.0 for a, b in zip(self.ours, self.theirs)]

    @property
    def worst(self) -> tuple[int, float]:
        """(bar, signed difference in ms) of the bar line furthest apart."""
        d = self.diffs_ms
        i = max(range(len(d)), key=lambda j: abs(d[j]))
        return self.first + i, d[i]

    @property
    def max_ms(self) -> float:
        return abs(self.worst[1])

    def over(self, limit_ms: float) -> list[int]:
        return [self.first + i for i, d in enumerate(self.diffs_ms) if abs(d) > limit_ms]


def compare_bar_lines(ours: TempoMap, theirs: TempoMap, first: int, last: int) -> BarComparison:
    return BarComparison(first, last, tuple(bar_seconds(ours, first, last)), tuple(bar_seconds(theirs, first, last)))


def tempo_words(tm: TempoMap, first: int, last: int) -> str:
    """The tempo over bars first..last in words: ``72 BPM`` or ``72-100 BPM``."""
    a, b = tm.qn_at_bar(first), tm.qn_at_bar(last + 1)
    bpms = [tm.bpm_at(a)] + [t.bpm for t in tm.tempos if a < t.qn < b]
    lo, hi = min(bpms), max(bpms)
    return f"{lo:.4g} BPM" if math.isclose(lo, hi, rel_tol=1e-3) else f"{lo:.4g}-{hi:.4g} BPM"


# ---------------------------------------------------------------------- the guide's own map
@dataclass(frozen=True)
class GuideTempo:
    tempo_map: TempoMap
    """The guide's tempos, with its meters (or the session's where it has no time signature)."""
    source: str
    own_meter: bool


def guide_tempo(path: Path, session_meters: Sequence[MeterChange]) -> GuideTempo | None:
    """The tempo map of a guide MIDI file, or None when it has no tempo event (a MIDI without
    tempo is placed by the session's map alone: nothing to compare)."""
    import mido

    from host_bridge.core.midi import read_melody

    try:
        mf = mido.MidiFile(str(path), charset="latin1", clip=True)
    except (OSError, ValueError, EOFError, KeyError, IndexError, TypeError):
        return None  # read_melody reports what is wrong with it when the take is sung
    msgs = [m for tr in mf.tracks for m in tr]
    if not any(m.type == "set_tempo" for m in msgs):
        return None
    tm = read_melody(path).tempo_map
    own_meter = any(m.type == "time_signature" for m in msgs)
    if not own_meter:
        tm = tm.with_meter_changes(session_meters)
    return GuideTempo(tm, str(path), own_meter)


def _table(c: BarComparison, name: str, bars: list[int]) -> str:
    rows = [f"  bar {b:>4}: session {c.ours[b - c.first]:9.3f} s   {name} {c.theirs[b - c.first]:9.3f} s   "
            f"({c.diffs_ms[b - c.first]:+.1f} ms)" for b in bars]
    return "\n".join(rows)


def check_guide_tempo(session_tm: TempoMap, melody: Path | None, bars: tuple[int, int],
                      use_session_tempo: bool = False) -> dict[str, Any]:
    """Compare the session's bar lines with the guide MIDI's over ``bars``. Raises
    :class:`TempoMismatchError` (naming both tempos, with both maps' figures) when they are more
    than :data:`MISMATCH_MS` apart at any bar line, unless ``use_session_tempo``. Returns what the
    take record keeps: which map the take is sung on and how far the guide's was from it."""
    rec: dict[str, Any] = {"map": "session", "guide": str(melody) if melody else None, "checked": False,
                           "forced": False, "max_bar_diff_ms": None, "worst_bar": None}
    if melody is None:
        rec["note"] = "guide melody from a MIDI track of the session: placed by the session's map"
        return rec
    guide = guide_tempo(melody, session_tm.meters)
    if guide is None:
        rec["note"] = f"{melody.name} has no tempo of its own: placed by the session's map"
        return rec
    first, last = bars
    c = compare_bar_lines(session_tm, guide.tempo_map, first, last)
    worst_bar, worst_ms = c.worst
    rec.update(checked=True, max_bar_diff_ms=round(abs(worst_ms), 3), worst_bar=worst_bar,
               session_tempo=tempo_words(session_tm, first, last),
               guide_tempo=tempo_words(guide.tempo_map, first, last))
    off = c.over(MISMATCH_MS)
    if not off:
        return rec
    name = melody.name
    shown = sorted({off[0], worst_bar, off[-1]})
    what = (f"the session's tempo map ({rec['session_tempo']}) and {name}'s ({rec['guide_tempo']}) put bars "
            f"{first}-{last} at different times: bar {worst_bar} is {abs(worst_ms):.1f} ms apart, "
            f"{len(off)} of {last - first + 2} bar lines more than {MISMATCH_MS:g} ms\n{_table(c, name, shown)}")
    if use_session_tempo:
        rec["forced"] = True
        rec["note"] = (f"sung on the session's tempo map ({rec['session_tempo']}) although {name}'s "
                       f"({rec['guide_tempo']}) differs by up to {abs(worst_ms):.1f} ms (bar {worst_bar})")
        log.warning("%s; singing on the session's map (%s)", what, SESSION_TEMPO_FLAG)
        return rec
    raise TempoMismatchError(what, f"give the session the guide's tempo map (`topline ardour tempo SESSION --melody "
                                   f"{name}`; a new session: `topline ardour new ... --melody {name}`), or pass "
                                   f"{SESSION_TEMPO_FLAG} to sing on the session's map anyway")
