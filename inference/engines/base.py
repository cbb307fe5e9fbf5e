"""The interface every singing engine implements.

An engine turns a :class:`~host_bridge.core.model.Score` (notes with syllables and phonemes, in
musical time, with the tempo map that places them in the session) into dry vocal audio,
phrase by phrase, so the pipeline can stream each phrase as soon as it is ready.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Iterator, Protocol

import numpy as np

from host_bridge.core.model import Note, Score
from host_bridge.core.artists import Artist


@dataclass
class RenderedPhrase:
    audio: np.ndarray
    """Dry vocal, float32 [1, T] at ``sample_rate``; may start before the first note (pre-rolled
    consonants, breath) and run past the last (release)."""
    sample_rate: int
    start_s: float
    """Session time (seconds) of ``audio[:, 0]``; may be negative for a pickup at the very start."""
    notes: tuple[Note, ...]
    """The notes sung, at the pitches actually sung (after register placement)."""
    info: dict[str, Any] = field(default_factory=dict)
    """Engine report for this phrase (e.g. {"octave_shift": -12, "pitch_shift_semitones": 12})."""
    joins_next: bool = False
    """This is a piece of a phrase that goes on in the next one (a phrase streamed in pieces):
    its end overlaps the next piece's start and is already faded for the cross-fade."""
    joins_previous: bool = False
    """This piece carries on the previous one: its faded-in start overlaps that piece's end (no
    edge fade, breath or new phrase there)."""
    phrase_pitches: tuple[float, ...] = ()
    """The whole phrase's pitches when this is a piece of one (phrase-level dynamics must not
    change inside a phrase); empty: those of ``notes``."""


class Engine(Protocol):
    name: str
    sample_rate: int

    def warm_up(self) -> None:
        """Load models and run a tiny render so the first real request is fast."""

    def render(self, score: Score, artist: Artist, *, seed: int = 0,
               cancel: threading.Event | None = None) -> Iterator[RenderedPhrase]:
        """Sing ``score`` with ``artist``, yielding phrases in time order. Checks ``cancel``
        between phrases and raises :class:`host_bridge.core.errors.CancelledError` when it is set."""
        ...
