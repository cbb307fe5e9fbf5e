"""The token plan of one phrase: which Kokoro symbols are sung, and when each one starts.

A *unit* is one sung syllable: a note carrying phonemes plus the melisma notes after it (they
continue its vowel). Timing rules (FINDINGS, "Short notes"):

* the held vowel starts exactly on the note onset;
* onset consonants are pre-rolled into the previous note, at most 28% of it (a rest before the
  syllable can be used as well);
* consonants are sung 1.5x their spoken length with floors (75 ms sonorants, 50 ms others), then
  squeezed into their budget;
* coda consonants take at most 20% of the syllable, a diphthong's glide at most min(15%, 80 ms);
* the phrase-final vowel is held a little past the note (the model devoices the last 150-250 ms
  of an utterance) and its coda follows the note; the release fades (see the engine).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from host_bridge.core.errors import InputError
from host_bridge.core.model import Note, Phonemes, Score

from .contour import TOUCH_S, TimedNote
from .phones import SONORANTS, Sym, syllable_symbols

PREROLL_FRAC = 0.28
CODA_FRAC = 0.20
"""Wider than FINDINGS' 20%/15% (tuned there for pitch, before the WORLD pass made pitch exact):
at 132-140 BPM eighths, Whisper WER 100 -> 87% and 81 -> 56% (gongitsune), voiced note time
-2..-4 points, notes within 50 cents unchanged (100%)."""
GLIDE_FRAC = 0.15
GLIDE_MAX_S = 0.08
CONS_STRETCH = 1.5
FLOOR_SONORANT_S = 0.075
FLOOR_OTHER_S = 0.05
PHRASE_PREROLL_MAX_S = 0.30
STRESS_MAX_S = 0.10
STRESS_FRAC = 0.20
"""A stress mark is sung as the first part of its vowel, from the note onset: its spoken length,
at most this share of the syllable (and ``STRESS_MAX_S``). Kokoro gives stress marks and word
spaces 50-100 ms of their own in speech; rendering them with no frames at all (as the decoder
never sees in training) cost the words most: on the unguessable benchmark songs Whisper WER
62 -> 38 % with their spoken lengths restored (natural F0/energy, same vowel lengths)."""
SPACE_MAX_S = 0.10
SPACE_FRAC = 0.15
"""A word space takes its spoken length from the end of the previous syllable, at most this
share of that syllable (and ``SPACE_MAX_S``)."""
FINAL_HOLD_S = 0.12
"""How long the phrase-final vowel is held past its note before the coda."""
FINAL_CODA_MAX_S = 0.20
"""Longest a phrase-final coda consonant lasts (each). Kokoro lengthens an utterance's last
phoneme (0.38-0.48 s spoken, 0.56-0.71 s after ``CONS_STRETCH``): a sung line ending in a
0.6 s "n" or "g" tail. Capped, the coda is crisp and the vocoder renders 7 % fewer frames
(six benchmark songs: 3297 frames instead of 3552, the lead-in pads included).
Six benchmark songs (2026-11-23, gongitsune, quality.py): Whisper WER on the unguessable songs
43.8 % uncapped, 40.7 % at 0.15 s, 36.6 % at 0.20 s, 38.3 % at 0.30 s (the meter's noise is
+-4); render RTF 0.231 -> 0.210 in the same runs. tebukuro: 54.5 -> 49.3 % (all six songs
28.5 -> 27.9 %)."""
LEAD_S = 0.05
RELEASE_S = 0.12


@dataclass
class Unit:
    notes: list[TimedNote]
    phonemes: Phonemes | None
    """None: a wordless note, sung on "ah"."""
    word: int
    stress: int
    syms: list[Sym] = field(default_factory=list)

    @property
    def start(self) -> float:
        return self.notes[0].start

    @property
    def end(self) -> float:
        return self.notes[-1].end


@dataclass
class Token:
    ch: str
    id: int
    role: str
    """'pad', 'space', 'stress', 'onset', 'vowel', 'glide', 'coda'."""
    unit: int = -1

    @property
    def sounding(self) -> bool:
        return self.role in ("onset", "vowel", "glide", "coda")


@dataclass
class Plan:
    units: list[Unit]
    tokens: list[Token]
    bounds: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Token start times (seconds, same origin as the notes), len(tokens) + 1 (last = end)."""


def build_units(notes: list[Note], score: Score, pitches: list[float], time_offset: float = 0.0) -> list[Unit]:
    """Group a phrase's notes into sung syllables. ``pitches`` are the MIDI pitches to sing
    (after register placement), one per note."""
    units: list[Unit] = []
    for n, p in zip(notes, pitches):
        t0, t1 = score.note_seconds(n)
        tn = TimedNote(t0 + time_offset, t1 + time_offset, float(p))
        ph = n.phonemes
        carries = ph is not None and bool(ph.nucleus or ph.onset or ph.coda)
        if not carries and n.syllable.strip() and ph is None:
            raise InputError(f"note at {n.onset:.2f} qn ('{n.syllable}') has no phonemes",
                             "run the text front end (inference.frontend) on the score before rendering")
        if carries and ph is not None:
            units.append(Unit([tn], ph, n.word, ph.stress))
        elif units:
            units[-1].notes.append(tn)  # melisma: continue the previous vowel
        else:  # a wordless first note: sing "ah"
            units.append(Unit([tn], None, -1, 0))
    return units


def attach_symbols(units: list[Unit], vocab: dict[str, int], language: str = "") -> None:
    """Kokoro symbols of every unit, its phonemes read as ``language`` (see :mod:`.phones`)."""
    for u in units:
        ph = u.phonemes
        u.syms = [Sym("ɑ", "vowel")] if ph is None else syllable_symbols(ph.onset, ph.nucleus, ph.coda, vocab,
                                                                         language)


def build_tokens(units: list[Unit], vocab: dict[str, int]) -> list[Token]:
    toks = [Token("", 0, "pad")]
    for i, u in enumerate(units):
        if i > 0 and (u.word != units[i - 1].word or u.word < 0):
            toks.append(Token(" ", vocab[" "], "space", i))
        for s in u.syms:
            if s.role == "vowel" and u.stress > 0:
                mark = "ˈ" if u.stress >= 2 else "ˌ"
                toks.append(Token(mark, vocab[mark], "stress", i))
            toks.append(Token(s.ch, vocab[s.ch], s.role, i))
    toks.append(Token("", 0, "pad"))
    return toks


def _stretched(tok: Token, nat_s: float) -> float:
    floor = FLOOR_SONORANT_S if tok.ch in SONORANTS else FLOOR_OTHER_S
    return max(nat_s * CONS_STRETCH, floor)


def place(plan: Plan, nat_s: np.ndarray) -> np.ndarray:
    """Start time of every token (seconds), from the natural (spoken) durations ``nat_s``.

    Returns ``len(tokens) + 1`` non-decreasing times; a zero-length token shares the start of
    the next one."""
    units, toks = plan.units, plan.tokens
    idx: list[dict[str, list[int]]] = [{"onset": [], "stress": [], "vowel": [], "glide": [], "coda": [],
                                        "space": []} for _ in units]
    for k, tok in enumerate(toks):
        if tok.unit >= 0 and tok.role in idx[tok.unit]:
            idx[tok.unit][tok.role].append(k)
    want = {k: _stretched(toks[k], float(nat_s[k])) for u in idx for r in ("onset", "coda") for k in u[r]}
    start: dict[int, float] = {}
    pre_len = _preroll(units, idx, want, start)
    plan_end = units[-1].end
    for i in range(len(units)):
        t = _place_unit(i, units, idx, want, nat_s, pre_len, start)
        if t is not None:
            plan_end = t
    return _token_times(len(toks), start, plan_end)


def _preroll(units: list[Unit], idx: list[dict[str, list[int]]], want: dict[int, float],
             start: dict[int, float]) -> list[float]:
    """Onset consonants pre-rolled before each vowel (into ``start``); each unit's pre-roll length."""
    pre_len = []
    for i, u in enumerate(units):
        total = sum(want[k] for k in idx[i]["onset"])
        if i == 0:
            cap = PHRASE_PREROLL_MAX_S
        else:
            prev = units[i - 1]
            gap = max(0.0, u.start - prev.end)
            last = prev.notes[-1]
            cap = PREROLL_FRAC * (last.end - last.start) + (min(gap, PHRASE_PREROLL_MAX_S) if gap > TOUCH_S else 0.0)
        pre = min(total, cap)
        pre_len.append(pre)
        t = u.start - pre
        scale = pre / total if total > 0 else 1.0
        for k in idx[i]["onset"]:
            start[k] = t
            t += want[k] * scale
    return pre_len


def _place_unit(i: int, units: list[Unit], idx: list[dict[str, list[int]]], want: dict[int, float],
                nat_s: np.ndarray, pre_len: list[float], start: dict[int, float]) -> float | None:
    """Stress, vowel, glide and coda starts of unit ``i`` (and the next word's space), into
    ``start``; returns where the phrase ends when ``i`` is the last unit."""
    u = units[i]
    final = i == len(units) - 1
    dur = u.end - u.start
    if final:
        end = u.end + FINAL_HOLD_S
    else:
        end = min(u.end, units[i + 1].start - pre_len[i + 1])
        space = sum(max(float(nat_s[k]), 0.0) for k in idx[i + 1]["space"])
        space = min(space, SPACE_FRAC * dur, SPACE_MAX_S)
        for k in idx[i + 1]["space"]:
            start[k] = end - space
        end -= space
    stress = min(sum(max(float(nat_s[k]), 0.0) for k in idx[i]["stress"]), STRESS_FRAC * dur, STRESS_MAX_S)
    for k in idx[i]["stress"]:
        start[k] = u.start
    if final:  # Kokoro's utterance-final lengthening, not a sung ending
        for k in idx[i]["coda"]:
            want[k] = min(want[k], FINAL_CODA_MAX_S)
    coda_want = sum(want[k] for k in idx[i]["coda"])
    coda = coda_want if final else min(coda_want, CODA_FRAC * dur)
    glide_nat = sum(max(float(nat_s[k]), 0.04) for k in idx[i]["glide"])
    glide = min(glide_nat, GLIDE_FRAC * dur, GLIDE_MAX_S) if idx[i]["glide"] else 0.0
    vowel_end = end - (0.0 if final else coda) - glide
    vowel_end = max(vowel_end, u.start + 0.3 * (end - u.start))
    stress = min(stress, 0.5 * (vowel_end - u.start))
    for k in idx[i]["vowel"]:
        start[k] = u.start + stress
    t = vowel_end
    for k in idx[i]["glide"]:
        start[k] = t
        t += glide / len(idx[i]["glide"])
    cs = coda / coda_want if coda_want > 0 else 1.0
    for k in idx[i]["coda"]:
        start[k] = t
        t += want[k] * cs
    return t if final else None


def _token_times(n_tokens: int, start: dict[int, float], plan_end: float) -> np.ndarray:
    """``n_tokens + 1`` non-decreasing times: a token with no start of its own shares the next one's."""
    first = min(start.values())
    times = np.zeros(n_tokens + 1)
    times[0] = first - LEAD_S
    times[-1] = plan_end + RELEASE_S
    times[-2] = plan_end
    nxt_t = plan_end
    for k in range(n_tokens - 2, 0, -1):
        if k in start:
            nxt_t = start[k]
        times[k] = nxt_t
    return np.maximum.accumulate(times)


def to_frames(bounds: np.ndarray, tokens: list[Token], frame_s: float) -> np.ndarray:
    """Integer durations (frames) per token, from the exact start times; every sounding token
    gets at least one frame. Returns int [len(tokens)]."""
    rel = (bounds - bounds[0]) / frame_s
    fb = np.rint(rel).astype(np.int64)
    for k, tok in enumerate(tokens):
        if tok.sounding or tok.role == "pad":
            fb[k + 1] = max(fb[k + 1], fb[k] + 1)
        else:
            fb[k + 1] = max(fb[k + 1], fb[k])
    return np.diff(fb)
