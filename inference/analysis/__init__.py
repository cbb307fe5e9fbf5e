"""The analyze stage: beats/downbeats (checked against the session's tempo map or estimated),
key, chords per beat, sections and loudness of an instrumental. See :func:`analyze`."""
from inference.analysis.analyze import DEFAULT_KEY, analyze
from inference.analysis.result import (CHORD_INTERVALS, Analysis, BeatGrid, Chord, Key, Section, beat_qn,
                                       beats_per_bar)

__all__ = ["analyze", "Analysis", "BeatGrid", "Chord", "Key", "Section", "CHORD_INTERVALS", "DEFAULT_KEY",
           "beat_qn", "beats_per_bar"]
