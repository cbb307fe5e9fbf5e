"""TempoMap: the session's tempo and meter changes, and every conversion between musical and
clock time.

Musical time is counted in quarter notes (``qn``) from the start of bar 1, whatever the meter
(as MIDI ticks and Ardour's "quarters" are), so a 6/8 bar is 3 qn long. Tempo is given in
quarter notes per minute. Bars are numbered from 1 and beats inside a bar from 1, counted in
the meter's own beat unit (the denominator), like a DAW's BBT display.

``offset_s`` is where bar 1 sits in the session (seconds); session sample 0 is time 0.
Tempo segments are constant (a ramp is approximated by several changes).
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Any, Iterable

from host_bridge.core.errors import TempoError


@dataclass(frozen=True)
class TempoChange:
    qn: float
    """Position of the change in quarter notes from bar 1."""
    bpm: float
    """Quarter notes per minute from this position on."""


@dataclass(frozen=True)
class MeterChange:
    bar: int
    """First bar (1-based) in the new meter."""
    numerator: int
    denominator: int

    @property
    def bar_qn(self) -> float:
        """Length of one bar in quarter notes."""
        return self.numerator * 4.0 / self.denominator


MIN_BPM = 20.0
MAX_BPM = 400.0
"""The tempos Topline sings at, everywhere (CLI, MIDI files, tempo maps over the wire)."""


def _check_bpm(bpm: float) -> None:
    if not (isinstance(bpm, (int, float)) and math.isfinite(bpm) and bpm > 0):
        raise TempoError(f"tempo must be a positive number of beats per minute, got {bpm!r}",
                         "give a tempo above 0, e.g. --tempo 120")
    if not MIN_BPM <= bpm <= MAX_BPM:
        raise TempoError(f"tempo {bpm:g} BPM is outside {MIN_BPM:g}-{MAX_BPM:g} BPM",
                         f"give the tempo in beats per minute ({MIN_BPM:g}-{MAX_BPM:g}); a tempo map or MIDI file "
                         "written at another speed must be fixed in the DAW")


@dataclass(frozen=True)
class TempoMap:
    tempos: tuple[TempoChange, ...] = (TempoChange(0.0, 120.0),)
    meters: tuple[MeterChange, ...] = (MeterChange(1, 4, 4),)
    offset_s: float = 0.0
    _seg_qn: tuple[float, ...] = field(init=False, repr=False, compare=False)
    _seg_s: tuple[float, ...] = field(init=False, repr=False, compare=False)
    _bar_qn: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (isinstance(self.offset_s, (int, float)) and math.isfinite(self.offset_s)):
            raise TempoError(f"tempo map offset {self.offset_s!r} s is not a time",
                             "give where bar 1 sits in the session as a number of seconds")
        tempos = tuple(sorted(self.tempos, key=lambda t: t.qn))
        if not tempos:
            raise TempoError("a tempo map needs at least one tempo", "give a tempo, e.g. --tempo 120")
        if tempos[0].qn > 0:
            tempos = (TempoChange(0.0, tempos[0].bpm),) + tempos
        for t in tempos:
            _check_bpm(t.bpm)
            if t.qn < 0 or not math.isfinite(t.qn):
                raise TempoError(f"tempo change at {t.qn} qn is before bar 1", "place tempo changes at or after bar 1")
        # drop duplicates at the same position (the last one wins, as in a MIDI file)
        dedup: dict[float, TempoChange] = {}
        for t in tempos:
            dedup[t.qn] = t
        tempos = tuple(dedup[k] for k in sorted(dedup))
        meters = tuple(sorted(self.meters, key=lambda m: m.bar))
        if not meters:
            meters = (MeterChange(1, 4, 4),)
        if meters[0].bar > 1:
            meters = (MeterChange(1, meters[0].numerator, meters[0].denominator),) + meters
        for m in meters:
            if m.numerator < 1 or m.denominator not in (1, 2, 4, 8, 16, 32) or m.bar < 1:
                raise TempoError(f"meter {m.numerator}/{m.denominator} at bar {m.bar} is not valid",
                                 "use a meter like 4/4, 3/4 or 6/8 starting at bar 1 or later")
        mdedup: dict[int, MeterChange] = {m.bar: m for m in meters}
        meters = tuple(mdedup[k] for k in sorted(mdedup))
        object.__setattr__(self, "tempos", tempos)
        object.__setattr__(self, "meters", meters)
        seg_s = [0.0]
        for a, b in zip(tempos[:-1], tempos[1:]):
            seg_s.append(seg_s[-1] + (b.qn - a.qn) * 60.0 / a.bpm)
        object.__setattr__(self, "_seg_qn", tuple(t.qn for t in tempos))
        object.__setattr__(self, "_seg_s", tuple(seg_s))
        bar_qn = [0.0]
        for m0, m1 in zip(meters[:-1], meters[1:]):
            bar_qn.append(bar_qn[-1] + (m1.bar - m0.bar) * m0.bar_qn)
        object.__setattr__(self, "_bar_qn", tuple(bar_qn))

    # ------------------------------------------------------------------ constructors
    @classmethod
    def constant(cls, bpm: float, numerator: int = 4, denominator: int = 4, offset_s: float = 0.0) -> "TempoMap":
        return cls((TempoChange(0.0, float(bpm)),), (MeterChange(1, numerator, denominator),), offset_s)

    # ------------------------------------------------------------------ qn <-> seconds
    def seconds_at(self, qn: float) -> float:
        """Session time (s) of a musical position in quarter notes from bar 1 (negative = before bar 1)."""
        i = max(0, bisect.bisect_right(self._seg_qn, qn) - 1)
        t = self.tempos[i]
        return self.offset_s + self._seg_s[i] + (qn - t.qn) * 60.0 / t.bpm

    def qn_at(self, seconds: float) -> float:
        """Musical position (qn from bar 1) of a session time in seconds."""
        rel = seconds - self.offset_s
        i = max(0, bisect.bisect_right(self._seg_s, rel) - 1)
        t = self.tempos[i]
        return t.qn + (rel - self._seg_s[i]) * t.bpm / 60.0

    def sample_at(self, qn: float, sample_rate: int) -> int:
        """Nearest session sample of a musical position at ``sample_rate``."""
        return int(round(self.seconds_at(qn) * sample_rate))

    def qn_at_sample(self, sample: int, sample_rate: int) -> float:
        return self.qn_at(sample / float(sample_rate))

    def bpm_at(self, qn: float) -> float:
        i = max(0, bisect.bisect_right(self._seg_qn, qn) - 1)
        return self.tempos[i].bpm

    # ------------------------------------------------------------------ bars <-> qn
    def meter_at_bar(self, bar: int) -> MeterChange:
        i = max(0, bisect.bisect_right([m.bar for m in self.meters], bar) - 1)
        return self.meters[i]

    def meter_at(self, qn: float) -> MeterChange:
        i = max(0, bisect.bisect_right(self._bar_qn, qn) - 1)
        return self.meters[i]

    def qn_at_bar(self, bar: float, beat: float = 1.0) -> float:
        """Position of ``bar`` (1-based, fractional allowed) and ``beat`` (1-based, in the meter's beat unit)."""
        whole = math.floor(bar)
        frac = bar - whole
        idx = max(0, bisect.bisect_right([m.bar for m in self.meters], whole) - 1)
        m = self.meters[idx]
        base = self._bar_qn[idx] + (whole - m.bar) * m.bar_qn
        return base + frac * m.bar_qn + (beat - 1.0) * 4.0 / m.denominator

    def bar_beat_at(self, qn: float) -> tuple[int, float]:
        """(bar, beat) of a position: bar 1-based, beat 1-based in the meter's beat unit."""
        idx = max(0, bisect.bisect_right(self._bar_qn, qn) - 1)
        m = self.meters[idx]
        rel = qn - self._bar_qn[idx]
        n = math.floor(rel / m.bar_qn + 1e-9)
        bar = m.bar + n
        beat = 1.0 + (rel - n * m.bar_qn) * m.denominator / 4.0
        return bar, beat

    def bar_length_qn(self, bar: int) -> float:
        return self.meter_at_bar(bar).bar_qn

    def bar_starts(self, first_bar: int, last_bar: int) -> list[float]:
        """Start positions (qn) of bars first_bar..last_bar inclusive."""
        return [self.qn_at_bar(b) for b in range(first_bar, last_bar + 1)]

    # ------------------------------------------------------------------ edits
    def shifted(self, offset_s: float) -> "TempoMap":
        return TempoMap(self.tempos, self.meters, offset_s)

    def with_meter_changes(self, meters: Iterable[MeterChange]) -> "TempoMap":
        return TempoMap(self.tempos, tuple(meters), self.offset_s)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        return {
            "tempos": [[t.qn, t.bpm] for t in self.tempos],
            "meters": [[m.bar, m.numerator, m.denominator] for m in self.meters],
            "offset_s": self.offset_s,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TempoMap":
        try:
            tempos = tuple(TempoChange(float(q), float(b)) for q, b in d["tempos"])
            meters = tuple(MeterChange(int(b), int(n), int(den)) for b, n, den in d.get("meters", [[1, 4, 4]]))
            return cls(tempos, meters, float(d.get("offset_s", 0.0)))
        except (KeyError, TypeError, ValueError) as e:
            raise TempoError(f"tempo map is malformed: {e}",
                             "send {'tempos': [[qn, bpm], ...], 'meters': [[bar, num, den], ...]}") from e
