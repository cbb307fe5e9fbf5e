"""Voice packs and blends: an Artist's ``voice`` dict -> the 256-d style vector Kokoro takes.

A pack is a table [510, 256]: row ``n-1`` is the style for an utterance of ``n`` tokens (its
first 128 dims condition the decoder, the last 128 the prosody predictors). A blend is the
weighted average of packs. The row follows the phrase's token count, as in training: fixing one
row for every phrase (for a steadier timbre) cost intelligibility in tests (Whisper WER 104% vs
86% on three songs with jf_alpha).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

import numpy as np

from host_bridge.core.errors import ModelError, UnknownArtistError

if TYPE_CHECKING:
    from host_bridge.core.artists import Artist

class VoiceBank:
    """The installed packs and a cache of blends (keyed by the voice dict).

    ``missing``: why more voices are not installed (the v1.0 tables of
    :mod:`.voice_tables`), raised when a voice outside ``packs`` is asked for, so the message
    names the command that restores them."""

    def __init__(self, packs: Mapping[str, np.ndarray], missing: ModelError | None = None) -> None:
        self._packs = dict(packs)
        self._missing = missing
        self._blends: dict[tuple[tuple[str, float], ...], np.ndarray] = {}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._packs))

    def pack(self, voice: Mapping[str, float]) -> np.ndarray:
        """The (blended) pack [510, 256] for a voice dict like ``{"jf_alpha": 0.7, "jm_kumo": 0.3}``."""
        key = tuple(sorted((str(k), float(v)) for k, v in voice.items()))
        hit = self._blends.get(key)
        if hit is not None:
            return hit
        unknown = [k for k, _ in key if k not in self._packs]
        if unknown and self._missing is not None:
            from host_bridge.core.artists.schema import KOKORO_VOICES

            if all(k in KOKORO_VOICES for k in unknown):
                raise ModelError(f"Kokoro voice(s) {unknown} cannot be loaded: {self._missing.message}",
                                 self._missing.hint)
        if unknown:
            raise UnknownArtistError(f"unknown Kokoro voice(s) {unknown}",
                                     f"use voices among: {', '.join(self.names)}")
        total = sum(w for _, w in key)
        if not key or total <= 0 or any(w < 0 for _, w in key):
            raise UnknownArtistError(f"voice blend {dict(key)} has no positive weight",
                                     'give weights > 0, e.g. {"jf_alpha": 1.0}')
        out = sum(self._packs[k].astype(np.float64) * (w / total) for k, w in key)
        arr = np.asarray(out, np.float32)
        self._blends[key] = arr
        return arr

    def style(self, voice: Mapping[str, float], n_tokens: int) -> np.ndarray:
        """Style vector float32 [1, 256] for an utterance of ``n_tokens`` (pads excluded)."""
        p = self.pack(voice)
        row = int(np.clip(n_tokens, 1, len(p))) - 1
        return p[row].reshape(1, 256).copy()

    def table(self, artist: "Artist") -> np.ndarray:
        """The style table [N, 256] an artist sings with: its own embedding file, else its blend."""
        if artist.embedding is not None:
            return np.asarray(artist.embedding, np.float32)
        return self.pack(artist.voice)

    def style_for(self, artist: "Artist", n_tokens: int) -> np.ndarray:
        """Style vector float32 [1, 256] of ``artist`` for an utterance of ``n_tokens``."""
        p = self.table(artist)
        row = int(np.clip(n_tokens, 1, len(p))) - 1
        return p[row].reshape(1, 256).copy()
