"""Grapheme-to-phoneme: lyric words -> IPA phones per word, through espeak-ng (phonemizer).

Lines are phonemized whole, because espeak reads words in context (a lone "a" is ``eɪ``, in a
line it is ``ɐ``; "to" is ``tə`` before a verb). The line's output is cut back into the lyric's
words; when espeak splits or joins words ("1990s" is three spoken words, "to be" can come out as
one) the line is re-cut with the help of each word phonemized alone, and only when that does
not add up either are the words phonemized one by one.

Phones keep espeak's stress marks (``ˈ`` primary, ``ˌ`` secondary) attached to the phone they
precede, and length marks (``ː``) attached to their vowel: ``"don't" -> ["d", "ˈoʊ", "n", "t"]``.
"""
from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections import OrderedDict
from typing import Sequence

from host_bridge.core.errors import ModelError
from host_bridge.core.model.language import get_language, is_english

log = logging.getLogger(__name__)

_WORD_SEP = " | "
_CACHE_LINES = 4096


class G2P:
    """One espeak-ng backend (built once, ~15 ms) for one language, shared safely between threads.

    ``language``: a code of :data:`host_bridge.core.model.language.LANGUAGES` (or a common spelling
    of one); ``self.language`` is the canonical code."""

    def __init__(self, language: str = "en-us", cache_lines: int = _CACHE_LINES) -> None:
        lang = get_language(language)
        try:
            from phonemizer.backend import EspeakBackend
            from phonemizer.separator import Separator
        except ImportError as e:  # pragma: no cover - depends on the install
            raise ModelError("the phonemizer package is not installed",
                             "install the sidecar extra: pip install 'topline[sidecar]'") from e
        espeak_log = logging.getLogger(__name__ + ".espeak")
        espeak_log.setLevel(logging.ERROR)  # its word-count warnings are handled here, not news
        try:
            self._backend = EspeakBackend(lang.espeak, with_stress=True, language_switch="remove-flags",
                                          logger=espeak_log)
        except RuntimeError as e:
            raise ModelError(f"espeak-ng is not usable for {lang.name} ({lang.espeak}): {e}",
                             "install espeak-ng (apt-get install espeak-ng) and check the language code") from e
        self._sep = Separator(phone=" ", word=_WORD_SEP, syllable=None)
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, ...], list[tuple[str, ...]]] = OrderedDict()
        self._cache_lines = cache_lines
        self.language = lang.code
        self._english = is_english(lang.code)

    # ------------------------------------------------------------------ public
    def words(self, words: Sequence[str]) -> list[tuple[str, ...]]:
        """IPA phones of each word of one lyric line, phonemized in context.

        Returns one tuple per word (same length as ``words``); a word espeak cannot read at all
        gets ``("ə",)`` so that it still has a vowel to sing (logged)."""
        key = tuple(_clean(w) for w in words)
        if not key:
            return []
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return list(hit)
        out = self._words_uncached(key)
        with self._lock:
            self._cache[key] = out
            while len(self._cache) > self._cache_lines:
                self._cache.popitem(last=False)
        return list(out)

    def line(self, text: str) -> list[tuple[str, ...]]:
        """Phones per word of a line of text (words split on whitespace)."""
        return self.words(text.split())

    # ------------------------------------------------------------------ internals
    def _phonemize(self, items: list[str]) -> list[list[tuple[str, ...]]]:
        """Each item -> espeak's words, each a tuple of phones."""
        with self._lock:
            res = self._backend.phonemize(items, separator=self._sep, strip=True, njobs=1)
        # espeak marks some French clitics with "-" ("lə-"): not a sound
        return [[tuple(p for p in w.replace("-", "").split() if p) for w in r.split("|") if w.strip()]
                for r in res]

    def _words_uncached(self, words: tuple[str, ...]) -> list[tuple[str, ...]]:
        speakable = [w if _has_letters(w) else "" for w in words]
        idx = [i for i, w in enumerate(speakable) if w]
        out: list[tuple[str, ...]] = [()] * len(words)
        if idx:
            line = self._phonemize([" ".join(speakable[i] for i in idx)])[0]
            if len(line) == len(idx):
                for i, ph in zip(idx, line):
                    out[i] = ph
            else:
                alone = self._phonemize([speakable[i] for i in idx])
                counts = [len(a) for a in alone]
                if sum(counts) == len(line) and all(counts):
                    # espeak split some words into several: cut the in-context line by those counts
                    k = 0
                    for i, c in zip(idx, counts):
                        out[i] = tuple(p for w in line[k:k + c] for p in w)
                        k += c
                else:
                    log.debug("espeak word count mismatch for %r; phonemizing word by word", words)
                    for i, a in zip(idx, alone):
                        lone_a = self._english and words[i].lower() == "a"
                        out[i] = _LONE_A if lone_a else tuple(p for w in a for p in w)
        for i, ph in enumerate(out):
            if not ph:
                log.warning("espeak cannot read the word %r; singing it on a neutral vowel", words[i])
                out[i] = ("ə",)
        return out


_LONE_A = ("ɐ",)  # "a" alone is read as the letter name eɪ; in a sung line it is the article


def _clean(word: str) -> str:
    """NFC, curly apostrophes straightened, sheet hyphens removed."""
    w = unicodedata.normalize("NFC", word).replace("’", "'").replace("-", "")
    return w.strip()


_LETTER = re.compile(r"[^\W_]", re.UNICODE)


def _has_letters(word: str) -> bool:
    return bool(_LETTER.search(word))
