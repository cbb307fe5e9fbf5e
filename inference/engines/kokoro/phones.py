"""espeak IPA phones -> Kokoro vocabulary symbols, and the phone classes the planner needs.

Kokoro-82M v1.0 was trained on misaki's phoneme set; espeak's American IPA is mapped the way
misaki's espeak fallback does (``ɚ -> əɹ``, ``ɜː -> ɜɹ``, ``dʒ -> ʤ``, flap ``ɾ -> T``, length
marks dropped), except that diphthongs stay split into their two vowels (``aɪ`` -> ``a`` +
``ɪ``): a singer holds the first vowel and glides to the second at the end of the note, which
a single diphthong token stretched over a long note cannot do. That holds for the English
voices too, though misaki writes American diphthongs as single symbols (``A I O W Y``, British
``Q``) which Kokoro's vocabulary has: given those, heart was read worse, with the note's middle
or its first 40 % stretched (``higher`` heard ``ire``, ``echo`` ``I go``).
"""
from __future__ import annotations

from dataclasses import dataclass

VOWELS = frozenset("aeiouæɑɒɔəɛɜɪʊʌᵻᵊɐɚɨyøœɯɤ")
SONORANTS = frozenset("mnŋlɹwjɾT")
VOICED_OBSTRUENTS = frozenset("bdɡvzðʒʤ")
UNVOICED = frozenset("ptkfθsʃʧhç")
STOPS = frozenset("ptkbdɡʧʤ")

_REPLACE = (
    ("dʒ", "ʤ"), ("tʃ", "ʧ"), ("ɚ", "əɹ"), ("ɝ", "ɜɹ"), ("ɜːɹ", "ɜɹ"), ("ɜː", "ɜɹ"),
    ("n\u0329", "ən"), ("l\u0329", "əl"), ("m\u0329", "əm"),
    ("ː", ""), ("ˈ", ""), ("ˌ", ""), ("r", "ɹ"), ("g", "ɡ"), ("ɐ", "ə"), ("ɾ", "T"), ("ʔ", "t"),
    ("x", "k"), ("ç", "k"), ("ɬ", "l"), ("ʲ", ""), ("\u0303", ""), ("ɨ", "ᵻ"),
)
_REPLACE_GB = tuple((a, b) for a, b in _REPLACE if a not in ("ɜːɹ", "ɜː"))
"""British English: non-rhotic (``ɜː`` is not ``ɜɹ``), as misaki's British phonemes."""
_REPLACE_OTHER = (
    ("tʃ", "ʧ"), ("dʒ", "ʤ"), ("ts", "ʦ"), ("dz", "ʣ"), ("g", "ɡ"), ("ː", ""), ("ˈ", ""), ("ˌ", ""),
    ("ʏ", "y"), ("ɵ", "ø"), ("ɘ", "ə"), ("ɞ", "œ"), ("ɶ", "œ"), ("ɱ", "m"),
    ("ɫ", "l"), ("ʍ", "w"), ("ɹ̩", "ɹ"), ("ʀ", "ʁ"), ("ɦ", "h"), ("\u200d", ""),
)
"""Other languages: espeak's IPA as Kokoro v1.0 was trained on it (misaki's espeak G2P: ties to
affricate symbols ``ʦ ʣ ʧ ʤ``, nasal vowels and ``x ç ʁ ɾ r ʎ ɲ β ɣ`` kept), length marks dropped
(a note gives the length), and the few phones outside Kokoro's vocabulary mapped to their nearest."""


def replacements(language: str) -> tuple[tuple[str, str], ...]:
    """The phone rewrites for ``language`` (a canonical code; '' = American English)."""
    if not language or language == "en-us":
        return _REPLACE
    return _REPLACE_GB if language == "en-gb" else _REPLACE_OTHER


_SUNG_STOPS = {"es": {"β": "b", "ð": "d", "ɣ": "ɡ"}}
"""Spanish b/d/g between vowels are soft spirants in speech (``la βoˈtixa``); a singer starting
a note on them articulates the stop, which carries over the held vowels before it."""


@dataclass(frozen=True)
class Sym:
    """One Kokoro vocabulary symbol with its role in the syllable."""

    ch: str
    role: str
    """'onset', 'vowel' (the held nucleus vowel), 'glide' (rest of the nucleus), 'coda'."""

    @property
    def voiced(self) -> bool:
        return self.ch not in UNVOICED

    @property
    def sonorant(self) -> bool:
        return self.ch in SONORANTS or self.ch in VOWELS


def to_kokoro(phone: str, language: str = "") -> str:
    """One espeak IPA phone (stress marks allowed) as a string of Kokoro symbols."""
    for a, b in replacements(language):
        phone = phone.replace(a, b)
    return phone


def syllable_symbols(onset: tuple[str, ...], nucleus: tuple[str, ...], coda: tuple[str, ...],
                     vocab: dict[str, int], language: str = "") -> list[Sym]:
    """Kokoro symbols of one sung syllable. The nucleus's first vowel is the held ``vowel``; any
    further nucleus symbols (a diphthong's second vowel, a nasal mark) are its ``glide``. A
    nucleus without a vowel gets ``ə``."""
    out: list[Sym] = []
    stops = _SUNG_STOPS.get(language, {})
    for p in onset:
        out += [Sym(stops.get(c, c), "onset") for c in to_kokoro(p, language) if c in vocab]
    nuc = [c for p in nucleus for c in to_kokoro(p, language) if c in vocab]
    if not any(c in VOWELS for c in nuc):
        nuc = ["ə"] + nuc
    seen_vowel = False
    for c in nuc:
        if not seen_vowel and c in VOWELS:
            out.append(Sym(c, "vowel"))
            seen_vowel = True
        elif not seen_vowel:
            out.append(Sym(c, "onset"))  # a consonant written before the vowel inside the nucleus
        else:
            out.append(Sym(c, "glide"))
    for p in coda:
        out += [Sym(c, "coda") for c in to_kokoro(p, language) if c in vocab]
    return out
