"""espeak IPA phones -> Kokoro vocabulary symbols, and the phone classes the planner needs.

Kokoro-82M v1.0 was trained on misaki's phoneme set; espeak's American IPA is mapped the way
misaki's espeak fallback does (``ɚ -> əɹ``, ``ɜː -> ɜɹ``, ``dʒ -> ʤ``, flap ``ɾ -> T``, length
marks dropped), except that diphthongs stay split into their two vowels (``aɪ`` -> ``a`` +
``ɪ``): a singer holds the first vowel and glides to the second at the end of the note, which
a single diphthong token stretched over a long note cannot do.
"""
from __future__ import annotations

from dataclasses import dataclass

VOWELS = frozenset("aeiouæɑɒɔəɛɜɪʊʌᵻᵊɐɚɨ")
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


def to_kokoro(phone: str) -> str:
    """One espeak IPA phone (stress marks allowed) as a string of Kokoro symbols."""
    for a, b in _REPLACE:
        phone = phone.replace(a, b)
    return phone


def syllable_symbols(onset: tuple[str, ...], nucleus: tuple[str, ...], coda: tuple[str, ...],
                     vocab: dict[str, int]) -> list[Sym]:
    """Kokoro symbols of one sung syllable. The nucleus's first vowel is the held ``vowel``; any
    further nucleus symbols are its ``glide``. A nucleus without a vowel gets ``ə``."""
    out: list[Sym] = []
    for p in onset:
        out += [Sym(c, "onset") for c in to_kokoro(p) if c in vocab]
    nuc = [c for p in nucleus for c in to_kokoro(p) if c in vocab]
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
        out += [Sym(c, "coda") for c in to_kokoro(p) if c in vocab]
    return out
