"""The data that flows through Topline: tempo map, lyrics sheet, score, take."""
from host_bridge.core.model.language import Language, LanguageError, get_language, resolve_language
from host_bridge.core.model.lyrics import LyricLine, LyricsSheet, Word
from host_bridge.core.model.score import Note, Phonemes, Score
from host_bridge.core.model.take import Take
from host_bridge.core.model.tempo import MeterChange, TempoChange, TempoMap

__all__ = ["Language", "LanguageError", "get_language", "resolve_language", "LyricLine", "LyricsSheet", "Word", "Note", "Phonemes", "Score", "Take", "MeterChange",
           "TempoChange", "TempoMap"]
