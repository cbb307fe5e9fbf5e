"""Score: the notes to sing, each with its syllable and phonemes. The single input every engine renders.

Positions and lengths are in quarter notes (``qn``) from bar 1 of the tempo map the score carries
(see :mod:`host_bridge.core.model.tempo`). A note whose ``syllable`` is empty continues the vowel of
the previous note (a melisma). Phonemes are IPA, split into onset consonants, nucleus (vowel,
possibly a diphthong) and coda consonants, as the text front end produced them.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Sequence

from host_bridge.core.errors import InputError
from host_bridge.core.model.tempo import TempoMap


@dataclass(frozen=True)
class Phonemes:
    onset: tuple[str, ...] = ()
    nucleus: tuple[str, ...] = ()
    coda: tuple[str, ...] = ()
    stress: int = 0
    """0 unstressed, 1 secondary, 2 primary (lexical stress from the front end)."""

    def to_list(self) -> list[Any]:
        return [list(self.onset), list(self.nucleus), list(self.coda), self.stress]

    @classmethod
    def from_list(cls, v: Sequence[Any]) -> "Phonemes":
        return cls(tuple(v[0]), tuple(v[1]), tuple(v[2]), int(v[3]) if len(v) > 3 else 0)


@dataclass(frozen=True)
class Note:
    onset: float
    """Start in quarter notes from bar 1."""
    duration: float
    """Length in quarter notes."""
    pitch: float
    """MIDI pitch (60 = C4); fractional values are allowed (microtones)."""
    syllable: str = ""
    """Lyric text sung on this note; '' continues the previous note's vowel (melisma)."""
    phonemes: Phonemes | None = None
    word: int = -1
    """Index of the word in the whole lyric (notes of one word share it)."""
    line: int = -1
    """Index of the lyric line (phrase) this note belongs to."""
    velocity: int = 90

    @property
    def end(self) -> float:
        return self.onset + self.duration

    @property
    def is_melisma(self) -> bool:
        return self.syllable == "" and self.word >= 0

    def to_list(self) -> list[Any]:
        return [self.onset, self.duration, self.pitch, self.syllable,
                self.phonemes.to_list() if self.phonemes else None, self.word, self.line, self.velocity]

    @classmethod
    def from_list(cls, v: Sequence[Any]) -> "Note":
        return cls(float(v[0]), float(v[1]), float(v[2]), str(v[3]),
                   Phonemes.from_list(v[4]) if v[4] is not None else None, int(v[5]), int(v[6]), int(v[7]))


@dataclass(frozen=True)
class Score:
    notes: tuple[Note, ...]
    tempo_map: TempoMap = field(default_factory=TempoMap)
    lines: tuple[str, ...] = ()
    """The lyric lines, by index (``Note.line``)."""
    sections: tuple[tuple[str, int], ...] = ()
    """(section name, first line index) pairs, e.g. ("Chorus", 4)."""
    language: str = ""
    """The language the phonemes are in (canonical code, see host_bridge.core.model.language);
    ``""`` = American English."""

    def __post_init__(self) -> None:
        notes = tuple(sorted(self.notes, key=lambda n: (n.onset, -n.pitch)))
        for n in notes:
            if not (n.duration > 0):
                raise InputError(f"note at {n.onset:.3f} qn has length {n.duration}", "give every note a positive length")
        object.__setattr__(self, "notes", notes)

    # ------------------------------------------------------------------ queries
    @property
    def start_qn(self) -> float:
        return self.notes[0].onset if self.notes else 0.0

    @property
    def end_qn(self) -> float:
        return max(n.end for n in self.notes) if self.notes else 0.0

    def pitch_range(self) -> tuple[float, float]:
        ps = [n.pitch for n in self.notes]
        return (min(ps), max(ps)) if ps else (0.0, 0.0)

    def note_seconds(self, n: Note) -> tuple[float, float]:
        """(start, end) of a note in session seconds."""
        return self.tempo_map.seconds_at(n.onset), self.tempo_map.seconds_at(n.end)

    def phrases(self, max_gap_s: float = 0.35) -> list[list[Note]]:
        """Groups of notes sung in one breath: a new phrase starts at a new lyric line, or after a
        rest longer than ``max_gap_s``."""
        out: list[list[Note]] = []
        prev: Note | None = None
        for n in self.notes:
            if prev is None:
                out.append([n])
            else:
                gap = self.tempo_map.seconds_at(n.onset) - self.tempo_map.seconds_at(prev.end)
                new_line = n.line != prev.line and n.line >= 0 and not n.is_melisma
                if gap > max_gap_s or new_line:
                    out.append([n])
                else:
                    out[-1].append(n)
            prev = n
        return out

    def transposed(self, semitones: float) -> "Score":
        return replace(self, notes=tuple(replace(n, pitch=n.pitch + semitones) for n in self.notes))

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        return {
            "notes": [n.to_list() for n in self.notes],
            "tempo_map": self.tempo_map.to_dict(),
            "lines": list(self.lines),
            "sections": [list(s) for s in self.sections],
            **({"language": self.language} if self.language else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Score":
        try:
            return cls(tuple(Note.from_list(v) for v in d["notes"]), TempoMap.from_dict(d["tempo_map"]),
                       tuple(d.get("lines", ())), tuple((str(a), int(b)) for a, b in d.get("sections", ())),
                       str(d.get("language", "")))
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise InputError(f"score is malformed: {e}", "send a score made by Score.to_dict()") from e
