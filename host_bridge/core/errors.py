"""The bridge's exception family.

Every error a musician can cause carries a ``hint``: what to do to fix it. The sidecar sends
``code``, ``message`` and ``hint`` over the wire unchanged, so the DAW side shows the same text.
"""
from __future__ import annotations


class ToplineError(Exception):
    """Base of every error Topline raises on purpose."""

    code = "topline_error"

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InputError(ToplineError):
    """Something the caller handed over (a file, a value) cannot be used as it is."""

    code = "bad_input"


class AudioInputError(InputError):
    code = "bad_audio"


class LyricsError(InputError):
    code = "bad_lyrics"


class MidiError(InputError):
    code = "bad_midi"


class TempoError(InputError):
    code = "bad_tempo"


class AlignmentError(InputError):
    """A lyric line has more syllables than its notes can carry."""

    code = "alignment"


class UnknownArtistError(InputError):
    code = "unknown_artist"


class ModelError(ToplineError):
    """A model file is missing or damaged."""

    code = "model"


class CancelledError(ToplineError):
    code = "cancelled"
