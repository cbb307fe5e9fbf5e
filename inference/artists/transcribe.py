"""What a reference recording sings, as a :class:`~host_bridge.core.model.Score` the search can sing.

``artist create`` compares voices by speaker embedding, which also hears the words: candidates
that sing the reference's own words on its own notes are compared on voice, not content. The
words and their times come from Whisper base (:mod:`inference.whisper`; English, beam 5,
temperature 0 only, word timestamps, int8 on the CPU) -- or from the user (``lyrics``), placed
on the Whisper words they match and spread over the voiced frames between those; the notes from
the reference's pitch track (:func:`inference.artists.reference.pitch_track`) through
:func:`inference.artists.sung.sung_score`.

The recognised words must be usable (at least :data:`MIN_WORDS`, spanning
:data:`MIN_WINDOW_SUNG_S` of singing and covering :data:`MIN_COVERAGE` of the singing between
the first and the last); otherwise :func:`reference_content` says why and the search sings its
fixed phrase. Words lasting over :data:`MAX_CONTENT_S` are cut to their busiest stretch (the
search renders it once per candidate); when the words leave out part of the singing (that cut,
or Whisper stopping early: it writes a phrase sung twice over once), the reference is compared
on the stretch they span (``SungContent.window_s``).
"""
from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, replace
from typing import Any, Literal, Sequence

import numpy as np

from host_bridge.core.errors import LyricsError, ModelError
from host_bridge.core.model import LyricsSheet, Score
from host_bridge.core.model.lyrics import Word

from .reference import HOP_S, mono_at, pitch_track
from .sung import TimedWord, place_lyrics, sung_score, tidy

log = logging.getLogger(__name__)

WHISPER_SR = 16000
MIN_WORDS = 2
MIN_COVERAGE = 0.5
"""Share of the sung (voiced) frames around the recognised words that their spans must cover
(from the first word to the last, :data:`WINDOW_PAD_S` either side)."""
MIN_WINDOW_SUNG_S = 1.0
"""Least sung time the recognised words must span to be used."""
WINDOW_PAD_S = 0.3
MAX_CONTENT_S = 8.0
"""Longest stretch of the reference the search sings (it renders it once per candidate)."""
LINE_GAP_S = 0.5
"""A pause this long between words starts a new lyric line (a new breath)."""
MAX_COMPRESSION = 2.4
"""A segment whose text compresses better than this (gzip ratio) is a repetition loop: dropped."""
TOKENS_PER_S = 6.0
"""Most text tokens Whisper may write per second of audio (a hum otherwise decodes "ooo..." for
the whole token budget: 16 s on 2 cores for a 3 s tone)."""
_NOT_WORDS = set("[]()♪*#")
_HELD = re.compile(r"(\w)\1{3}")
"""A letter four times over ("ooooh"): a held sound written out, not a word."""


@dataclass(frozen=True)
class SungContent:
    """What the search's candidates sing: ``score`` (None: the fixed search phrase)."""

    score: Score | None
    how: Literal["transcribed", "lyrics", "fixed"]
    words: tuple[str, ...] = ()
    reason: str = ""
    """Why the fixed phrase (or, for lyrics, how they were placed)."""
    coverage: float = 0.0
    """Share of the sung frames around the words that lie inside their spans."""
    window_s: tuple[float, float] | None = None
    """The stretch of the reference the score covers, when the reference was cut to it."""

    def describe(self) -> str:
        text = " ".join(self.words)
        if len(text) > 80:
            text = text[:77] + "..."
        where = f", its {self.window_s[0]:.1f}-{self.window_s[1]:.1f} s" if self.window_s else ""
        if self.how == "transcribed":
            return f"compared on the reference's own words (recognised{where}): '{text}'"
        if self.how == "lyrics":
            return f"compared on the given lyrics ({self.reason}{where}): '{text}'"
        return f"compared on a fixed phrase ({self.reason})"


class WordTranscriber:
    """Whisper base (faster-whisper, int8, CPU), loaded on first use; one call at a time."""

    def __init__(self, threads: int = 2, language: str = "en-us") -> None:
        """``language``: a Topline language code (Whisper is told its first part, e.g. "de")."""
        self.threads = threads
        self.language = language.split("-")[0]
        self._model: Any = None
        self._lock = threading.Lock()

    def words(self, audio: np.ndarray, sample_rate: int) -> list[TimedWord]:
        """Recognised words of ``audio`` (float [T] or [C, T] at ``sample_rate``) with their
        times, in order; bracketed tags ("[Music]") and note signs dropped. Lines: a new one
        after a pause of :data:`LINE_GAP_S`. Raises :class:`ModelError` without Whisper."""
        x = mono_at(audio, sample_rate, WHISPER_SR)
        peak = float(np.max(np.abs(x))) if x.size else 0.0
        if peak <= 0:
            return []
        x = x * (0.9 / peak)
        with self._lock:
            if self._model is None:
                from inference.whisper import load_whisper

                self._model = load_whisper(self.threads)
            segs, _ = self._model.transcribe(
                x, language=self.language, task="transcribe", beam_size=5, temperature=0.0, word_timestamps=True,
                condition_on_previous_text=False, vad_filter=False, no_speech_threshold=0.6,
                log_prob_threshold=-1.0, compression_ratio_threshold=MAX_COMPRESSION,
                max_new_tokens=int(min(30.0, len(x) / WHISPER_SR) * TOKENS_PER_S) + 16)
            raw = [w for s in segs if s.compression_ratio <= MAX_COMPRESSION for w in (s.words or ())]
        out: list[TimedWord] = []
        for w in raw:
            if _NOT_WORDS & set(w.word) or _HELD.search(w.word):
                continue
            found = _words_of(w.word)
            span = (float(w.end) - float(w.start)) / max(1, len(found))
            for k, word in enumerate(found):
                out.append(TimedWord(word, float(w.start) + k * span, float(w.start) + (k + 1) * span,
                                     probability=float(w.probability)))
        return _lines_by_gaps(out)


def _words_of(text: str) -> list[Word]:
    """The lyric words in ``text``, as the lyrics sheet reads them (none: [])."""
    try:
        return LyricsSheet.parse(text).words
    except LyricsError:
        return []


def _lines_by_gaps(words: Sequence[TimedWord]) -> list[TimedWord]:
    out: list[TimedWord] = []
    line = 0
    for i, w in enumerate(words):
        if i and w.start_s - words[i - 1].end_s >= LINE_GAP_S:
            line += 1
        out.append(replace(w, line=line))
    return out


# ------------------------------------------------------------------------------ score
def _coverage(words: Sequence[TimedWord], voiced: np.ndarray, times: np.ndarray) -> float:
    if not voiced.any():
        return 0.0
    inside = np.zeros(len(times), bool)
    for w in words:
        inside |= (times >= w.start_s - HOP_S) & (times < w.end_s + HOP_S)
    return float((inside & voiced).sum() / voiced.sum())


def busiest_stretch(words: Sequence[TimedWord], max_s: float = MAX_CONTENT_S) -> list[TimedWord]:
    """The run of words lasting at most ``max_s`` with the most words (the earliest of equals;
    at least one word)."""
    best, j = (0, 1), 0
    for i in range(len(words)):
        j = max(j, i + 1)
        while j < len(words) and words[j].end_s - words[i].start_s <= max_s:
            j += 1
        if j - i > best[1] - best[0]:
            best = (i, j)
    return list(words[best[0]:best[1]])


# ------------------------------------------------------------------------------ entry point
def reference_content(g2p: Any, audio: np.ndarray, sample_rate: int, low: int, high: int, *,
                      lyrics: str | None = None, transcriber: WordTranscriber | None = None,
                      source: str = "lyrics", track: tuple[np.ndarray, np.ndarray] | None = None) -> SungContent:
    """What the search should sing for the reference ``audio`` (float [T] or [C, T] at
    ``sample_rate``): its recognised words (or the given ``lyrics``, placed on it) on its own
    notes inside [``low``, ``high``]; or, when the words are not usable, ``score=None`` with the
    reason. Without Whisper installed, given lyrics are spread over the voiced frames and a
    missing transcription falls back to the fixed phrase. Raises :class:`InputError` for
    lyrics that cannot be used. ``track``: the reference's :func:`pitch_track`, when the
    caller has it already."""
    sheet = LyricsSheet.parse(lyrics, source=source) if lyrics is not None else None
    tr = transcriber or WordTranscriber()
    try:
        heard = tr.words(audio, sample_rate)
        missing = ""
    except ModelError as e:
        log.warning("%s (%s)", e.message, e.hint)
        heard, missing = [], f"speech recogniser not installed: {e.hint}"
    midi, times = track if track is not None else pitch_track(audio, sample_rate)
    voiced = ~np.isnan(midi)
    if sheet is not None:
        words, anchored = place_lyrics(sheet, heard, midi, times, g2p)
        how = f"{anchored} of {len(words)} words placed where they were recognised" if not missing else \
            "spread over the singing; " + missing
    else:
        words = heard
        if len(words) < MIN_WORDS:
            reason = missing or ("no words recognised" if not words else
                                 f"only '{words[0].word.text[:20]}' recognised")
            return SungContent(None, "fixed", tuple(w.word.text for w in words), reason)
    words = tidy(words)
    if words[-1].end_s - words[0].start_s > MAX_CONTENT_S:
        words = busiest_stretch(words)
    a, b = words[0].start_s, words[-1].end_s
    here = voiced & (times >= a - WINDOW_PAD_S) & (times < b + WINDOW_PAD_S)
    cov = _coverage(words, here, times)  # of the singing in the stretch the words span
    sung_here = float(here.sum() * HOP_S)
    if sheet is None and (cov < MIN_COVERAGE or sung_here < MIN_WINDOW_SUNG_S):
        reason = (f"the recognised words cover {cov:.0%} of the singing around them" if cov < MIN_COVERAGE
                  else f"the recognised words span only {sung_here:.1f} s of singing")
        return SungContent(None, "fixed", tuple(w.word.text for w in words), reason, cov)
    score = sung_score(words, midi, times, g2p, low, high)
    # the notes leave out part of the singing (a long take, or Whisper stopped early): the
    # reference is compared on the stretch they span
    a, b = score.note_seconds(score.notes[0])[0], score.note_seconds(score.notes[-1])[1]
    sung = voiced & (times >= a - WINDOW_PAD_S) & (times < b + WINDOW_PAD_S)
    window = (a, b) if (voiced & ~sung).sum() > 0.1 * voiced.sum() else None
    log.info("search content: %s", " ".join(w.word.text for w in words))
    return SungContent(score, "lyrics" if sheet is not None else "transcribed", tuple(w.word.text for w in words),
                       how if sheet is not None else "", cov, window)
