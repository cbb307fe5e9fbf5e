"""Syllables: each lyric word's IPA phones split into sung syllables.

A syllable is what one note carries: onset consonants, a nucleus (the vowel sung on the note,
possibly a diphthong) and coda consonants, with the word's lexical stress on that syllable
(:class:`host_bridge.core.model.Phonemes`; stress 2 primary, 1 secondary, 0 none; the stress marks
are removed from the phones). Consonants between two vowels go to the second syllable as far as
English allows a syllable to start with them (maximal onset: "sis-ter" is ``s ɪ | s t ɚ``).

The number of syllables of a word is the number of its vowels, unless the lyrics sheet spelled
the word out with hyphens (``stop-ping``, ``ev-ry``): then the sheet's count and text win. Extra
vowels are folded into the neighbouring syllable (the weakest vowel goes), missing ones are made
by splitting diphthongs (``faɪɚ`` -> ``faɪ | ɚ``) or by holding the last vowel again.

Public API (the composer and the aligner call it; keep it stable):

* :class:`Syllable` and :func:`lyrics_syllables` (sheet -> syllables per line);
* :func:`line_syllables` (one line of words, with explicit hints);
* :func:`syllabify` (phones -> Phonemes per syllable) and :func:`split_text` (spelling).
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Sequence

from host_bridge.core.model.language import is_english
from host_bridge.core.model.lyrics import LyricsSheet, Word
from host_bridge.core.model.score import Phonemes
from inference.frontend.g2p import G2P
from inference.frontend.onsets import ENGLISH, legal_onsets

_VOWEL_CHARS = set("aeiouyæɑɒɔəɛɜɪʊʌɐɚɝøœᵻᵊɨʉɯɤʏɵɘɞɶ")
_SYLLABIC = "\u0329"  # combining mark of a syllabic consonant (n̩ in "button")
_STRESS = {"ˈ": 2, "ˌ": 1}
LEGAL_ONSETS = ENGLISH
"""Consonant clusters an English syllable may start with (other languages: :mod:`.onsets`)."""
_SPLITS = (("aɪɚ", ("aɪ", "ɚ")), ("aʊɚ", ("aʊ", "ɚ")), ("aɪə", ("aɪ", "ə")), ("aʊə", ("aʊ", "ə")),
           ("eɪə", ("eɪ", "ə")), ("ɪɚ", ("i", "ɚ")), ("ʊɚ", ("u", "ɚ")), ("iə", ("i", "ə")), ("uə", ("u", "ə")),
           ("ɔɪ", ("ɔ", "ɪ")), ("aɪ", ("a", "ɪ")), ("aʊ", ("a", "ʊ")), ("eɪ", ("e", "ɪ")), ("oʊ", ("o", "ʊ")))


@dataclass(frozen=True)
class Syllable:
    """One sung syllable of the lyrics, ready to be put on a note."""

    text: str
    """Spelling shown and written to MIDI (never empty)."""
    phonemes: Phonemes
    word: int
    """Index of the word in the whole lyric (all lines), from 0."""
    line: int
    """Index of the lyric line, from 0."""
    word_start: bool
    word_end: bool


def is_vowel(phone: str) -> bool:
    """A phone that can carry a note: a vowel, a diphthong, or a syllabic consonant."""
    return _SYLLABIC in phone or any(c in _VOWEL_CHARS for c in phone)


# ---------------------------------------------------------------------------------- phones
def syllabify(phones: Sequence[str], n_syllables: int | None = None, language: str = "en-us") -> list[Phonemes]:
    """Split one word's phones (espeak IPA, stress marks allowed) into syllables, by the onset
    rules of ``language`` (:func:`.onsets.legal_onsets`).

    ``n_syllables`` forces the count (a sheet's hyphen hints, or the notes of a MIDI lyric);
    ``None`` gives one syllable per vowel. Always returns ``max(1, n_syllables)`` items when it is
    given; each has a non-empty nucleus."""
    bare, stress = _strip_marks(phones)
    if not bare:
        bare, stress = ["ə"], [0]
    english = is_english(language)
    if n_syllables is None and english:
        _split_hiatus(bare, stress)
    if not english:
        _split_geminates(bare, stress)
    if n_syllables is None and language.startswith("fr"):
        _glide_before_vowels(bare)
    vowels = [i for i, p in enumerate(bare) if is_vowel(p)]
    if not vowels:  # a hum ("m") or a bare consonant: sing the whole thing
        vowels = [len(bare) - 1]
    n = max(1, n_syllables if n_syllables is not None else len(vowels))
    while len(vowels) < n and _split_one(bare, stress, vowels):
        vowels = [i for i, p in enumerate(bare) if is_vowel(p)]
    while len(vowels) > n:
        k = _weakest(vowels, stress)
        vowels.remove(k)
        if english:
            continue
        if bare[k] in _GLIDE_OF and k + 1 < len(bare) and is_vowel(bare[k + 1]):
            bare[k] = _GLIDE_OF[bare[k]]  # Italian "se-dia": sɛ|dja, the i a glide of the next syllable
    onsets = legal_onsets(language)
    bounds = [0]
    for a, b in zip(vowels[:-1], vowels[1:]):
        bounds.append(b - _onset_len(bare[a + 1:b], onsets))
    bounds.append(len(bare))
    out = []
    for k, v in enumerate(vowels):
        s, e = bounds[k], bounds[k + 1]
        st = max(stress[s:e])
        out.append(Phonemes(tuple(bare[s:v]), (bare[v],), tuple(bare[v + 1:e]), st))
    while len(out) < n:
        out[-1:] = _extra_syllable(out[-1], language, onsets)
    return out


def _extra_syllable(last: Phonemes, language: str, onsets: frozenset[str]) -> list[Phonemes]:
    """One more sung syllable than the word has vowels. French sings its mute e: the coda's legal
    onset starts a schwa syllable (``chai-se`` ʃɛz -> ʃɛ | zə, ``bleu-e`` -> blø | ə). Elsewhere the
    last vowel is held again and the coda moves to the end (``fi-re``)."""
    if language.startswith("fr"):
        k = len(last.coda) - _onset_len(last.coda, onsets)
        return [Phonemes(last.onset, last.nucleus, last.coda[:k], last.stress),
                Phonemes(last.coda[k:], ("ə",), (), 0)]
    return [Phonemes(last.onset, last.nucleus, (), last.stress), Phonemes((), last.nucleus, last.coda, 0)]


def _strip_marks(phones: Sequence[str]) -> tuple[list[str], list[int]]:
    """Phones without stress marks, and each phone's stress (a mark on a consonant goes to the
    next vowel)."""
    bare: list[str] = []
    stress: list[int] = []
    pending = 0
    for p in phones:
        st = max((v for m, v in _STRESS.items() if m in p), default=0)
        q = "".join(c for c in p if c not in _STRESS)
        if not q:
            pending = max(pending, st)
            continue
        pending = max(pending, st)
        if is_vowel(q):
            stress.append(pending)
            pending = 0
        else:
            stress.append(0)
        bare.append(q)
    return bare, stress


_HIATUS = {"aɪə": ("aɪ", "ə"), "aʊə": ("aʊ", "ə"), "eɪə": ("eɪ", "ə"), "oʊə": ("oʊ", "ə")}
_HIATUS_UNLESS_R = {"iə": ("i", "ə"), "uə": ("u", "ə")}


def _split_hiatus(bare: list[str], stress: list[int]) -> None:
    """espeak writes two syllables as one phone in "quiet" (aɪə), "idea", "museum" (iə); split
    them, in place. Before ɹ, iə/uə is one vowel ("period")."""
    i = 0
    while i < len(bare):
        p = bare[i]
        nxt = bare[i + 1] if i + 1 < len(bare) else ""
        pair = _HIATUS.get(p) or (_HIATUS_UNLESS_R.get(p) if nxt != "ɹ" else None)
        if pair:
            bare[i:i + 1] = list(pair)
            stress[i:i + 1] = [stress[i], 0]
            i += 1
        i += 1


_GLIDE_OF = {"i": "j", "ɪ": "j", "u": "w", "ʊ": "w"}
"""A high vowel folded into the next vowel's syllable is sung as its glide."""


_GLIDE_OF_FR = {"i": "j", "y": "ɥ", "u": "w"}


def _glide_before_vowels(bare: list[str]) -> None:
    """French i/y/u before a vowel of the same word is its glide (espeak writes "pluie" plyi,
    one syllable: plɥi), in place."""
    for i in range(len(bare) - 1):
        if bare[i] in _GLIDE_OF_FR and is_vowel(bare[i + 1]):
            bare[i] = _GLIDE_OF_FR[bare[i]]


def _split_geminates(bare: list[str], stress: list[int]) -> None:
    """A long consonant (espeak's Italian ``tː`` of "gatto") is sung as two: the closure ends
    one syllable and the release starts the next (gat|to), in place. Held as one phone it fell
    to the coda and the next syllable began on a bare vowel ("gatto" heard as "garato")."""
    i = 0
    while i < len(bare):
        p = bare[i]
        if p.endswith("ː") and len(p) > 1 and not is_vowel(p):
            c = p[:-1]
            bare[i:i + 1] = [c, c]
            stress[i:i + 1] = [0, 0]
            i += 1
        i += 1


def _split_one(bare: list[str], stress: list[int], vowels: list[int]) -> bool:
    """Split the first diphthong/triphthong it can into two vowels, in place."""
    for whole, (a, b) in _SPLITS:
        for i in vowels:
            if bare[i] == whole or (bare[i].startswith(whole) and len(whole) >= 3):
                rest = bare[i][len(whole):]
                bare[i:i + 1] = [a, b + rest]
                stress[i:i + 1] = [stress[i], 0]
                return True
    return False


def _weakest(vowels: list[int], stress: list[int]) -> int:
    """The vowel to fold into a neighbour: the least stressed after the first, earliest on a tie."""
    cands = vowels[1:]
    return min(cands, key=lambda i: (stress[i], i))


def _onset_len(cons: Sequence[str], onsets: frozenset[str] = ENGLISH) -> int:
    """How many of the consonants between two nuclei start the second syllable (maximal onset)."""
    k = 0
    for j in range(1, len(cons) + 1):
        tail = cons[len(cons) - j:]
        if any(is_vowel(c) for c in tail):
            break
        joined = "".join(tail)
        if (j == 1 and joined != "ŋ") or joined in onsets:
            k = j
    return k


# ---------------------------------------------------------------------------------- spelling
_VOWEL_LETTERS = set("aeiouy")


def _base(c: str) -> str:
    return unicodedata.normalize("NFD", c)[0].lower()


def split_text(word: str, n: int) -> list[str]:
    """Spell ``word`` as ``n`` non-empty pieces, cut between its vowel letter groups
    ("twinkle", 2 -> ["twin", "kle"]). For display and MIDI lyric events only."""
    n = max(1, n)
    if n == 1 or not word:
        return [word]
    if len(word) < n:  # "7" sung on two notes: "7", "'" (joined back, "7'" still reads "seven")
        return list(word) + ["'"] * (n - len(word))
    groups = _vowel_groups(word)
    while len(groups) > n:  # fold the last group into the one before
        groups[-2] = (groups[-2][0], groups[-1][1])
        groups.pop()
    while len(groups) < n:
        longest = max(range(len(groups)), key=lambda g: groups[g][1] - groups[g][0]) if groups else -1
        if longest < 0 or groups[longest][1] - groups[longest][0] < 2:
            return _even(word, n)
        s, e = groups[longest]
        groups[longest:longest + 1] = [(s, s + 1), (s + 1, e)]
    cuts = [0]
    for (_, e1), (s2, _) in zip(groups[:-1], groups[1:]):
        cons = s2 - e1
        cuts.append(e1 if cons == 0 else (s2 - 1 if cons == 1 else e1 + 1))
    cuts.append(len(word))
    pieces = [word[a:b] for a, b in zip(cuts[:-1], cuts[1:])]
    return pieces if all(pieces) else _even(word, n)


def _vowel_groups(word: str) -> list[tuple[int, int]]:
    low = [_base(c) for c in word]
    isv = []
    for i, c in enumerate(low):
        v = c in _VOWEL_LETTERS
        if c == "y" and i == 0:
            v = False
        if c == "u" and i > 0 and low[i - 1] == "q":
            v = False
        isv.append(v)
    groups: list[tuple[int, int]] = []
    i = 0
    while i < len(low):
        if isv[i]:
            j = i
            while j < len(low) and isv[j]:
                j += 1
            groups.append((i, j))
            i = j
        else:
            i += 1
    # a silent final e ("late", "dance"), but not "-le" ("little") or a word's only vowel
    if len(groups) > 1 and groups[-1] == (len(low) - 1, len(low)) and low[-1] == "e" \
            and not (len(low) >= 3 and low[-2] == "l" and low[-3] not in _VOWEL_LETTERS):
        groups.pop()
    return groups


def _even(word: str, n: int) -> list[str]:
    size = len(word) / n
    return [word[int(round(k * size)):int(round((k + 1) * size))] for k in range(n)]


# ---------------------------------------------------------------------------------- lyrics
def line_syllables(words: Sequence[Word], g2p: G2P, line: int = 0, first_word: int = 0,
                   counts: Sequence[int | None] | None = None) -> list[Syllable]:
    """Syllables of one lyric line, the words phonemized together (in context).

    A word's syllable count is ``counts[i]`` when given (not None), else the number of its
    ``syllable_hints`` when it has any, else the number of its vowels. The hints, when their
    number matches, are the syllables' text."""
    phones = g2p.words([w.text for w in words])
    out: list[Syllable] = []
    for k, (w, ph) in enumerate(zip(words, phones)):
        n = counts[k] if counts is not None and counts[k] is not None else (len(w.syllable_hints) or None)
        sylls = syllabify(ph, n, g2p.language)
        texts = list(w.syllable_hints) if len(w.syllable_hints) == len(sylls) else split_text(w.text, len(sylls))
        for j, (t, p) in enumerate(zip(texts, sylls)):
            out.append(Syllable(t, p, first_word + k, line, j == 0, j == len(sylls) - 1))
    return out


def lyrics_syllables(sheet: LyricsSheet, g2p: G2P) -> list[list[Syllable]]:
    """Every line of the sheet as its list of syllables (word indices count across lines)."""
    out: list[list[Syllable]] = []
    first = 0
    for li, ln in enumerate(sheet.lines):
        out.append(line_syllables(ln.words, g2p, li, first))
        first += len(ln.words)
    return out
