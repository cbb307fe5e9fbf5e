"""What the analyze stage finds in an instrumental: beat grid, key, chords, sections, loudness.

Positions are in quarter notes (``qn``) from bar 1 of the analysis' tempo map (the session's map
when one was given, else the estimated one), like every other timed thing in Topline.
Every estimate carries a confidence in 0..1.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

from host_bridge.core.model import TempoMap

PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

CHORD_INTERVALS: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "7": (0, 4, 7, 10),
    "min7": (0, 3, 7, 10),
    "maj7": (0, 4, 7, 11),
    "dim": (0, 3, 6),
    "sus4": (0, 5, 7),
    "sus2": (0, 2, 7),
}
"""Chord qualities the analysis names, as semitones above the root."""

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)
"""Natural minor; the composer also allows the raised 7th over a dominant chord."""


def beat_qn(numerator: int, denominator: int) -> float:
    """Length of the felt beat (tactus) in quarter notes: a dotted quarter in 6/8, 9/8, 12/8;
    the meter's own unit otherwise."""
    if denominator == 8 and numerator % 3 == 0 and numerator > 3:
        return 1.5
    return 4.0 / denominator


def beats_per_bar(numerator: int, denominator: int) -> int:
    return max(1, int(round(numerator * 4.0 / denominator / beat_qn(numerator, denominator))))


@dataclass(frozen=True)
class Key:
    tonic: int
    """Pitch class of the tonic, 0 = C."""
    mode: str
    """"major" or "minor"."""
    confidence: float = 0.0

    @property
    def name(self) -> str:
        return f"{PITCH_NAMES[self.tonic]} {self.mode}"

    @property
    def scale(self) -> tuple[int, ...]:
        """Pitch classes of the key's scale, tonic first."""
        steps = MAJOR_SCALE if self.mode == "major" else MINOR_SCALE
        return tuple((self.tonic + s) % 12 for s in steps)

    def degree(self, pitch_class: int) -> int | None:
        """Scale degree 1..7 of a pitch class, None when it is outside the scale."""
        pc = pitch_class % 12
        return self.scale.index(pc) + 1 if pc in self.scale else None


@dataclass(frozen=True)
class Chord:
    start_qn: float
    end_qn: float
    root: int
    """Pitch class; -1 for no chord (N)."""
    quality: str
    """One of CHORD_INTERVALS, or "N"."""
    confidence: float = 0.0

    @property
    def label(self) -> str:
        if self.root < 0:
            return "N"
        q = {"maj": "", "min": "m", "min7": "m7"}.get(self.quality, self.quality)
        return PITCH_NAMES[self.root] + q

    @property
    def pitch_classes(self) -> tuple[int, ...]:
        if self.root < 0:
            return ()
        return tuple((self.root + i) % 12 for i in CHORD_INTERVALS[self.quality])

    @property
    def majmin(self) -> str:
        """The chord reduced to root:maj / root:min (``N`` for no chord, ``X`` for dim/sus)."""
        if self.root < 0:
            return "N"
        if self.quality in ("maj", "7", "maj7"):
            return f"{self.root}:maj"
        if self.quality in ("min", "min7"):
            return f"{self.root}:min"
        return "X"


@dataclass(frozen=True)
class Section:
    first_bar: int
    last_bar: int
    """Inclusive, 1-based."""
    label: str
    """A letter per kind of material: sections with the same letter repeat each other."""
    role: str
    """A guess: "intro", "verse", "chorus", "bridge", "outro"."""
    energy_db: float
    confidence: float = 0.0

    @property
    def bars(self) -> int:
        return self.last_bar - self.first_bar + 1


@dataclass(frozen=True)
class BeatGrid:
    beats_qn: tuple[float, ...]
    """Felt beats (see :func:`beat_qn`) in qn of the tempo map."""
    beats_s: tuple[float, ...]
    """The same beats in seconds from the start of the analysed audio."""
    downbeats_s: tuple[float, ...]
    bpm: float
    """Quarter notes per minute (the tempo map's unit) at the start."""
    numerator: int
    denominator: int
    confidence: float
    source: str
    """"tempo_map" (the session's map was used and checked) or "estimated"."""
    agreement: float = 1.0
    """Share of the audio's strong onsets that fall on the grid (how well the map fits the audio)."""

    @property
    def tactus_bpm(self) -> float:
        return self.bpm / beat_qn(self.numerator, self.denominator)


@dataclass
class Analysis:
    tempo_map: TempoMap
    grid: BeatGrid
    key: Key
    chords: list[Chord]
    """One per felt beat, in order."""
    sections: list[Section]
    loudness_db: float
    """Integrated loudness (RMS over non-silent frames, K-weighting not applied), dBFS."""
    duration_s: float
    bars: int
    """Whole bars the instrumental lasts."""
    warnings: list[str] = field(default_factory=list)
    _starts: list[float] = field(default_factory=list, repr=False)

    def chord_at(self, qn: float) -> Chord:
        """The chord sounding at a position (the nearest one outside the analysed span)."""
        if not self.chords:
            return Chord(qn, qn + 1.0, self.key.tonic, "maj" if self.key.mode == "major" else "min", 0.0)
        if len(self._starts) != len(self.chords):
            self._starts = [c.start_qn for c in self.chords]
        i = bisect.bisect_right(self._starts, qn + 1e-6) - 1
        return self.chords[min(max(i, 0), len(self.chords) - 1)]

    def chords_per_bar(self) -> list[tuple[int, list[str]]]:
        """(bar, chord labels in that bar with repeats merged) for each bar."""
        out: dict[int, list[str]] = {}
        for c in self.chords:
            bar, _ = self.tempo_map.bar_beat_at(c.start_qn + 1e-6)
            labels = out.setdefault(bar, [])
            if not labels or labels[-1] != c.label:
                labels.append(c.label)
        return sorted(out.items())

    def summary(self) -> dict[str, Any]:
        return {
            "tempo_bpm": round(self.grid.bpm, 2),
            "meter": f"{self.grid.numerator}/{self.grid.denominator}",
            "beat_confidence": round(self.grid.confidence, 3),
            "beat_source": self.grid.source,
            "key": self.key.name,
            "key_confidence": round(self.key.confidence, 3),
            "bars": self.bars,
            "loudness_db": round(self.loudness_db, 1),
            "sections": [(s.label, s.role, s.first_bar, s.last_bar) for s in self.sections],
            "warnings": list(self.warnings),
        }
