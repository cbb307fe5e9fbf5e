"""Which consonant clusters may start a syllable, per language (IPA as espeak-ng writes them).

Syllables are cut by maximal onset (:mod:`.syllables`): consonants between two vowels go to the
second syllable as far as the language lets a syllable start with them. English lets ``st``
start a syllable ("sis-ter"); Spanish, French and Portuguese do not ("es-pa-ña", "pas-ta"),
Italian does (sung "pa-sta"); German has ``ʃt``, ``pf``, ``ts`` ("Pflan-ze").
"""
from __future__ import annotations

from itertools import product

ENGLISH = frozenset({
    "pl", "bl", "kl", "ɡl", "fl", "sl", "pɹ", "bɹ", "tɹ", "dɹ", "kɹ", "ɡɹ", "fɹ", "θɹ", "ʃɹ", "tw", "dw", "kw",
    "sw", "ɡw", "θw", "sp", "st", "sk", "sm", "sn", "spl", "spɹ", "stɹ", "skɹ", "skw", "pj", "bj", "kj", "fj",
    "mj", "hj", "vj", "nj", "lj", "sj", "tj", "dj", "ɡj", "skj", "spj",
})
"""Consonant clusters an English syllable may start with."""

_RHOTICS = ("ɾ", "r", "ʁ", "ɹ")
_OBSTRUENT_LIQUID = frozenset(a + b for a, b in product(("p", "b", "t", "d", "k", "ɡ", "f", "v", "β", "ð", "ɣ"),
                                                        ("l", *_RHOTICS)) if a + b not in ("tl", "dl"))
_GLIDES = ("j", "w", "ɥ")
_CONSONANTS = ("p", "b", "t", "d", "k", "ɡ", "f", "v", "s", "z", "ʃ", "ʒ", "m", "n", "ɲ", "l", "ʎ", "ɾ", "r", "ʁ",
               "β", "ð", "ɣ", "x", "tʃ", "dʒ", "ts", "dz")
_CONS_GLIDE = frozenset(c + g for c, g in product(_CONSONANTS, _GLIDES))
_ROMANCE = _OBSTRUENT_LIQUID | _CONS_GLIDE | frozenset(a + g for a in _OBSTRUENT_LIQUID for g in _GLIDES)

GERMAN = _OBSTRUENT_LIQUID | frozenset({
    "ʃp", "ʃt", "ʃtɾ", "ʃpɾ", "ʃpl", "ʃl", "ʃm", "ʃn", "ʃv", "ʃɾ", "ʃtʁ", "ʃpʁ", "ʃʁ", "kv", "tsv", "pf", "pfl",
    "pfɾ", "pfʁ", "kn", "ɡn", "sp", "st", "sk", "ts", "tʃ", "dʒ",
})
SPANISH = _ROMANCE
FRENCH = _ROMANCE | frozenset({"ps", "pn", "tʃ", "dʒ"})
PORTUGUESE = _ROMANCE
_S_CLUSTERS = frozenset(s + c for s, c in product(("s", "z"), ("p", "t", "k", "b", "d", "ɡ", "m", "n", "l", "v", "f")))
ITALIAN = _ROMANCE | _S_CLUSTERS | frozenset(s + c for s in _S_CLUSTERS for c in ("ɾ", "r", "l", "j", "w"))

BY_LANGUAGE: dict[str, frozenset[str]] = {
    "en-us": ENGLISH, "en-gb": ENGLISH, "de": GERMAN, "es": SPANISH, "fr": FRENCH, "it": ITALIAN,
    "pt-br": PORTUGUESE, "pt": PORTUGUESE,
}


def legal_onsets(language: str) -> frozenset[str]:
    """The clusters a syllable of ``language`` may start with (English for an unknown code)."""
    return BY_LANGUAGE.get(language or "en-us", ENGLISH)
