"""Lyrics + guide melody -> Score: one syllable on each note.

Without lyric events in the MIDI, lines are laid on the melody like this:

1. the melody is cut into phrases at rests of at least ``phrase_rest_qn`` (a beat); when there
   are as many phrases as lyric lines and every line fits its phrase, each line gets its phrase;
2. else, when cutting at the ``lines - 1`` longest rests gives phrases every line fits, those;
3. else the lines fill the notes one syllable per note, line after line (a line may then cross
   a rest). A line with more syllables than the notes left raises :class:`AlignmentError`.

Inside a phrase with more notes than syllables the extra notes become melisma notes (syllable
``""``, same word and line: the vowel carries on). Where they go is chosen by a small dynamic
programme that prefers the last syllable of the line, tied notes (same pitch, no gap), runs of
short notes, and stressed syllables on strong beats. Notes after the last lyric are dropped from
the score (nothing is sung there), except that the phrase of the last syllable is held out.

With lyric events in the MIDI (see :mod:`host_bridge.core.midi`), their syllables and melismas win;
the words they spell are phonemized in context, and the sheet's lines (and sections) are used
when it has the same number of words, else the file's line marks, else its phrases.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Sequence

from host_bridge.core.errors import AlignmentError
from host_bridge.core.midi import MELISMA, GuideMelody
from host_bridge.core.model.lyrics import LyricsSheet, Word
from host_bridge.core.model.score import Note, Score
from host_bridge.core.model.tempo import TempoMap
from inference.frontend.g2p import G2P
from inference.frontend.syllables import Syllable, line_syllables, lyrics_syllables

log = logging.getLogger(__name__)

PHRASE_REST_QN = 1.0
_EPS = 1e-6


@dataclass(frozen=True)
class _Slot:
    """Note ``note`` sings syllable ``syl`` (melisma when ``first`` is False)."""

    note: int
    syl: Syllable
    first: bool


def align(sheet: LyricsSheet | None, melody: GuideMelody, g2p: G2P, *,
          phrase_rest_qn: float = PHRASE_REST_QN) -> Score:
    """Put the lyrics on the guide melody's notes; returns the Score every engine renders.

    ``sheet`` may be None only when the MIDI carries its own lyric events."""
    notes = melody.notes
    if melody.has_lyrics:
        slots, lines, sections = _from_lyric_events(sheet, melody, g2p, phrase_rest_qn)
    else:
        if sheet is None:
            raise AlignmentError(f"{melody.source or 'the guide melody'} has no lyrics and no lyrics sheet was given",
                                 "give a lyrics sheet, or a MIDI file with lyric events on its notes")
        syllables = lyrics_syllables(sheet, g2p)
        slots = _place(syllables, notes, melody.tempo_map, sheet, phrase_rest_qn)
        lines = tuple(ln.text for ln in sheet.lines)
        sections = tuple(sheet.sections)
    out = []
    for s in slots:
        n = notes[s.note]
        out.append(Note(n.onset, n.duration, n.pitch, s.syl.text if s.first else "",
                        s.syl.phonemes if s.first else None, s.syl.word, s.syl.line, n.velocity))
    dropped = len(notes) - len(out)
    if dropped:
        log.info("%d notes of %s carry no lyric and are left out of the score", dropped,
                 melody.source or "the guide melody")
    return Score(tuple(out), melody.tempo_map, lines, sections)


# ---------------------------------------------------------------------------------- sheet lyrics
def _gaps(notes: Sequence[Note]) -> list[float]:
    """Rest (qn) before each note; 0 for the first."""
    return [0.0] + [max(0.0, b.onset - a.end) for a, b in zip(notes[:-1], notes[1:])]


def _place(lines: list[list[Syllable]], notes: Sequence[Note], tm: TempoMap, sheet: LyricsSheet,
           rest_qn: float) -> list[_Slot]:
    gaps = _gaps(notes)
    L = len(lines)
    cuts = [j for j in range(1, len(notes)) if gaps[j] >= rest_qn - _EPS]
    for attempt in (cuts, _largest(gaps, L - 1, rest_qn)):
        if attempt is None or len(attempt) != L - 1:
            continue
        bounds = [0] + sorted(attempt) + [len(notes)]
        spans = list(zip(bounds[:-1], bounds[1:]))
        if all(len(lines[i]) <= b - a for i, (a, b) in enumerate(spans)):
            log.debug("one lyric line per phrase (%d phrases)", L)
            slots: list[_Slot] = []
            for sylls, (a, b) in zip(lines, spans):
                slots += _fit(sylls, notes, a, b, tm)
            return slots
    return _sequential(lines, notes, gaps, sheet, rest_qn)


def _largest(gaps: list[float], k: int, rest_qn: float) -> list[int] | None:
    """Indices of the k longest rests, or None unless each is at least half a beat, longer than
    every rest left inside the phrases, and no rest left inside is a phrase break itself."""
    if k < 0:
        return None
    order = sorted(range(1, len(gaps)), key=lambda j: (-gaps[j], j))
    cut, kept = order[:k], order[k:]
    if len(cut) < k or any(gaps[j] < 0.5 - _EPS for j in cut):
        return None
    inner = max((gaps[j] for j in kept), default=0.0)
    if inner >= rest_qn - _EPS or (cut and inner >= min(gaps[j] for j in cut) - _EPS):
        return None
    return cut


def _sequential(lines: list[list[Syllable]], notes: Sequence[Note], gaps: list[float], sheet: LyricsSheet,
                rest_qn: float) -> list[_Slot]:
    total = sum(len(s) for s in lines)
    log.info("lyric lines (%d) do not match the melody's phrases; filling the %d notes line after line",
             len(lines), len(notes))
    slots: list[_Slot] = []
    pos = 0
    for li, sylls in enumerate(lines):
        left = len(notes) - pos
        if len(sylls) > left:
            raise AlignmentError(
                f'line {li + 1} "{sheet.lines[li].text}" has {len(sylls)} syllables but only {left} notes are left '
                f"for it (the melody has {len(notes)} notes, the lyrics {total} syllables)",
                "add notes to the guide melody, or sing fewer syllables: drop words, or spell a word's sung "
                "syllables with hyphens (e.g. ev-ry for every)")
        for k, s in enumerate(sylls):
            slots.append(_Slot(pos + k, s, True))
        pos += len(sylls)
    # hold the last syllable over the rest of its phrase
    while pos < len(notes) and gaps[pos] < rest_qn - _EPS and slots:
        slots.append(_Slot(pos, slots[-1].syl, False))
        pos += 1
    return slots


def _fit(sylls: list[Syllable], notes: Sequence[Note], a: int, b: int, tm: TempoMap) -> list[_Slot]:
    """Syllables onto notes[a:b] (len(sylls) <= b - a), the extra notes as melismas, by DP."""
    k, n = len(sylls), b - a
    if k == 0:
        return []
    if k == n:
        return [_Slot(a + j, s, True) for j, s in enumerate(sylls)]
    inf = math.inf
    f = [[inf] * n for _ in range(k)]
    back = [[False] * n for _ in range(k)]  # True: note j starts syllable i
    f[0][0] = _start_cost(sylls[0], notes[a], tm)
    for j in range(1, n):
        lo, hi = max(0, k - (n - j)), min(k - 1, j)
        for i in range(lo, hi + 1):
            stay = f[i][j - 1] + _melisma_cost(i, k, notes, a + j) if f[i][j - 1] < inf else inf
            start = f[i - 1][j - 1] + _start_cost(sylls[i], notes[a + j], tm) if i > 0 else inf
            if start <= stay:
                f[i][j], back[i][j] = start, True
            else:
                f[i][j] = stay
    out: list[_Slot] = []
    i = k - 1
    for j in range(n - 1, -1, -1):
        first = back[i][j] or j == 0
        out.append(_Slot(a + j, sylls[i], first))
        if back[i][j]:
            i -= 1
    out.reverse()
    return out


def _melisma_cost(i: int, k: int, notes: Sequence[Note], j: int) -> float:
    prev, cur = notes[j - 1], notes[j]
    gap = cur.onset - prev.end
    if gap > 0.05:
        return 3.0  # a vowel carried over a rest
    cost = 1.0
    if cur.pitch != prev.pitch and (cur.duration <= 0.25 + _EPS or cur.duration <= 0.5 * prev.duration + _EPS):
        cost = 0.3  # a run of short notes moving away from the syllable's note: an ornament
    elif cur.pitch == prev.pitch:
        cost = 0.6  # a held note split in two (a tie); repeated pitches usually carry syllables
    if i == k - 1:
        cost *= 0.4  # the end of the line: the classic place to hold a vowel over notes
    return cost


def _start_cost(s: Syllable, n: Note, tm: TempoMap) -> float:
    """A stressed syllable off the beat costs a little."""
    if s.phonemes.stress == 0:
        return 0.0
    _, beat = tm.bar_beat_at(n.onset)
    frac = beat - 1.0
    strength = 1.0 if abs(frac) < 1e-6 else (0.6 if abs(frac - round(frac)) < 1e-6 else 0.2)
    return 0.15 * s.phonemes.stress / 2 * (1.0 - strength)


# ---------------------------------------------------------------------------------- MIDI lyrics
def _lyric_words(melody: GuideMelody, gaps: Sequence[float],
                 rest_qn: float) -> tuple[list[list[tuple[int, str]]], list[tuple[int, int]]]:
    """The guide's lyric tokens as words, lists of (note index, syllable text), and its melisma
    notes, (note index, the note whose syllable it carries on); notes without a lyric are not sung."""
    tokens = melody.lyrics
    words: list[list[tuple[int, str]]] = []
    melisma: list[tuple[int, int]] = []
    open_word = False
    last_syl = -1
    skipped = 0
    for j, tok in enumerate(tokens):
        if tok == MELISMA or (tok == "" and last_syl >= 0 and gaps[j] < rest_qn - _EPS):
            if last_syl >= 0:
                melisma.append((j, last_syl))
            else:
                skipped += 1
            continue
        if tok == "":
            skipped += 1
            continue
        text = tok[:-1] if tok.endswith("-") and len(tok) > 1 else tok
        if open_word and words:
            words[-1].append((j, text))
        else:
            words.append([(j, text)])
        open_word = tok.endswith("-") and len(tok) > 1
        last_syl = j
    if skipped:
        log.info("%s: %d notes without a lyric event are not sung", melody.source, skipped)
    return words, melisma


def _from_lyric_events(sheet: LyricsSheet | None, melody: GuideMelody, g2p: G2P,
                       rest_qn: float) -> tuple[list[_Slot], tuple[str, ...], tuple[tuple[str, int], ...]]:
    notes = melody.notes
    gaps = _gaps(notes)
    words, melisma = _lyric_words(melody, gaps, rest_qn)
    first_note = [w[0][0] for w in words]
    word_text = ["".join(t for _, t in w) for w in words]
    # lines: the sheet's (same number of words), else the file's line marks, else phrases
    sections: tuple[tuple[str, int], ...] = ()
    if sheet is not None and len(sheet.words) == len(words):
        sizes = [len(ln.words) for ln in sheet.lines]
        line_texts = tuple(ln.text for ln in sheet.lines)
        sections = tuple(sheet.sections)
        sheet_words = [_norm(w.text) for w in sheet.words]
        if sheet_words != [_norm(w) for w in word_text]:
            log.warning("%s: the MIDI lyric events spell other words than the lyrics sheet; singing the MIDI's",
                        melody.source)
    else:
        if sheet is not None:
            log.warning("%s: its lyric events have %d words, the lyrics sheet %d; singing the MIDI's lyrics",
                        melody.source, len(words), len(sheet.words))
        marks = set(melody.line_starts) or {j for j in range(1, len(notes)) if gaps[j] >= rest_qn - _EPS}
        sizes = []
        for wi, j in enumerate(first_note):
            if wi == 0 or j in marks or any(first_note[wi - 1] < m <= j for m in marks):
                sizes.append(0)
            sizes[-1] += 1
        line_texts = ()
        k = 0
        texts = []
        for sz in sizes:
            texts.append(" ".join(word_text[k:k + sz]))
            k += sz
        line_texts = tuple(texts)
    # syllables per line: the MIDI's split wins, phonemes from the reconstructed words in context
    by_note: dict[int, Syllable] = {}
    k = 0
    for li, sz in enumerate(sizes):
        ws = words[k:k + sz]
        line_words = [Word(word_text[k + q], tuple(t for _, t in w)) for q, w in enumerate(ws)]
        sylls = line_syllables(line_words, g2p, li, k, counts=[len(w) for w in ws])
        flat = [j for w in ws for j, _ in w]
        for j, s in zip(flat, sylls):
            by_note[j] = s
        k += sz
    slots = [_Slot(j, s, True) for j, s in by_note.items()]
    slots += [_Slot(j, by_note[owner], False) for j, owner in melisma]
    slots.sort(key=lambda s: s.note)
    return slots, line_texts, sections


def _norm(w: str) -> str:
    return "".join(c for c in w.lower() if c.isalnum())
