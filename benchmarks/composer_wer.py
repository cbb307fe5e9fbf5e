"""Whisper-base WER of composed takes against the reference melody sung by the same artist (issue 17).

    nice -n 10 .venv/bin/python -m benchmarks.composer --wer [--set held-out] [--lines 8] [--cond "tempo map"]

Per song of benchmarks/form_songs.py: (a) the score composed from the lyrics alone (the song's
tempo map given, and/or with no tempo) and (b) the song's reference melody on the same lyrics
(form_songs.reference_melody) are both sung by the default artist through the real pipeline
(Kokoro engine, render and produce stages as ``Pipeline.generate`` runs them, the score given
instead of composed there). Each take is transcribed over its own phrases (chunks cut at its own
line boundaries, each chunk after several silence lead-ins, as benchmarks/quality.py does) and
scored against the words of the lines it sings. Both takes sing the same lines: the first
``--lines`` lines of the sheet that the composed take sings (a composed take may leave lines
out; those are counted and said). Target: composed WER no worse than 1.3x the reference's,
pooled over the set's words. Renders and transcriptions are cached under
~/.cache/topline/composer_wer (``--songs`` runs can share the work, a whole-set run then gathers them; clear it when the
engine changes).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from benchmarks import meters as M
from benchmarks.form_songs import FormSong, Reference
from host_bridge.core.errors import LyricsError
from host_bridge.core.model import LyricsSheet, Note, Score
from inference.compose import SylIn
from inference.pipeline import GenerateRequest, Pipeline

TAKE_SR = 24000
TARGET = 1.3
FLOOR_WER = 2.0
"""Per-song ratios divide by at least this WER (%), so a perfect reference take gives a finite ratio."""
CACHE = Path.home() / ".cache" / "topline" / "composer_wer"


class ScorePipeline(Pipeline):
    """``generate`` with the score given in advance (``self.score``): the engine's render and the
    producer run as for any take; only the compose stage is skipped."""

    score: Score | None = None

    def score_and_warnings(self, req: GenerateRequest, artist: Any = None) -> tuple[Score, list[str]]:
        assert self.score is not None, "set ScorePipeline.score before generate()"
        return self.score, []


def reference_score(ref: Reference, syls: Sequence[Sequence[SylIn]], song: FormSong) -> Score:
    """The reference melody as a Score: its notes are one per syllable, line by line."""
    by_line: dict[int, list[Any]] = {}
    for n in ref.notes:
        by_line.setdefault(n.line, []).append(n)
    notes = [Note(n.onset, n.duration, float(n.pitch), s.text, s.phonemes, s.word, li, 100 if s.stress >= 2 else 84)
             for li, ns in sorted(by_line.items()) for n, s in zip(ns, syls[li])]
    sheet = song.sheet()
    return Score(tuple(notes), song.tempo_map, tuple(ln.text for ln in sheet.lines), tuple(sheet.sections))


def only_lines(score: Score, lines: set[int], language: str) -> Score:
    return dataclasses.replace(score, notes=tuple(n for n in score.notes if n.line in lines), language=language)


def take_key(score: Score, artist: str, seed: int = 0) -> str:
    """What a take's render (and its transcription) is cached under (the engine's code is not in
    the key: clear the folder when the engine changes)."""
    return hashlib.sha256(repr((score.notes, score.tempo_map, artist, seed, TAKE_SR)).encode()).hexdigest()[:16]


def sing(pipe: ScorePipeline, score: Score, artist: str, seed: int = 0) -> np.ndarray:
    """The dry take of ``score`` (float32 [1, T] at TAKE_SR, sample 0 = bar 1's time 0), cached."""
    tm = score.tempo_map
    end_s = max(tm.seconds_at(n.end) for n in score.notes) + 1.0
    path = CACHE / f"{take_key(score, artist, seed)}.npy"
    if path.exists():
        return np.load(path)
    pipe.score = score
    req = GenerateRequest(lyrics_text="\n".join(score.lines), sample_rate=TAKE_SR,
                          length_samples=int(end_s * TAKE_SR), tempo_map=tm, melody_midi=b"", artist=artist,
                          seed=seed, channels=1)
    audio = pipe.generate(req).audio.astype(np.float32)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, audio)
    return audio


@dataclass
class Heard:
    """One take's transcription: mean errors over the lead-ins, the words, what Whisper heard."""

    errors: float
    words: int
    hyp: str
    chunks: list[dict[str, Any]]

    @property
    def wer(self) -> float:
        return 100.0 * self.errors / self.words if self.words else float("nan")


def transcribe(tr: M.Transcriber, audio: np.ndarray, score: Score, sheet: LyricsSheet, key: str) -> Heard:
    """WER of the take over its own phrases: chunks from its own notes' line spans (cached under
    the take's ``key``, the chunks and the lead-ins)."""
    notes = M.notes_from_score(score)
    words = {i: M.lyrics_words(sheet.lines[i].text) for i in {n.line for n in score.notes}}
    chunks = M.chunk_lines(notes, words, audio_end_s=audio.shape[-1] / TAKE_SR)
    h = hashlib.sha256(repr((key, chunks, tr.leads_s, tr.seed)).encode()).hexdigest()[:16]
    path = CACHE / f"{h}.heard.json"
    if path.exists():
        return Heard(**json.loads(path.read_text()))
    w = tr.score(audio, TAKE_SR, chunks, language="en")
    heard = Heard(float(w["errors"]), int(w["ref_words"]), str(w["hyp"]), list(w["chunks"]))
    path.write_text(json.dumps(dataclasses.asdict(heard)))
    return heard


@dataclass
class WerRow:
    song: str
    cond: str
    lines: int
    left_out: int
    """Lines of the sheet's first ``--lines`` the composed take does not sing."""
    composed: Heard | None
    reference: Heard | None
    error: str = ""

    @property
    def ratio(self) -> float:
        if self.composed is None or self.reference is None:
            return float("nan")
        return self.composed.wer / max(self.reference.wer, FLOOR_WER)


def wer_song(song: FormSong, cond: str, n_lines: int, pipe: ScorePipeline, tr: M.Transcriber, g2p: object,
             artist: str, language: str) -> WerRow:
    from benchmarks.composer import composed, song_inputs

    sheet, syls, ref = song_inputs(song, g2p)
    try:
        _, score = composed(song, cond, sheet, syls)
    except LyricsError as e:
        return WerRow(song.name, cond, 0, n_lines, None, None, e.message)
    sung = {n.line for n in score.notes}
    first = set(range(min(n_lines, len(sheet.lines))))
    lines = sung & first
    takes = []
    for s in (only_lines(score, lines, language), only_lines(reference_score(ref, syls, song), lines, language)):
        takes.append(transcribe(tr, sing(pipe, s, artist), s, sheet, take_key(s, artist)))
    return WerRow(song.name, cond, len(lines), len(first - sung), takes[0], takes[1])


def pooled(rows: Sequence[WerRow], side: str) -> float:
    hs = [getattr(r, side) for r in rows if getattr(r, side) is not None]
    words = sum(h.words for h in hs)
    return 100.0 * sum(h.errors for h in hs) / words if words else float("nan")


def fmt_row(r: WerRow) -> str:
    if r.composed is None or r.reference is None:
        return f"| {r.song} | {r.cond} | - | - | - | - | - | refused: {r.error} |"
    verdict = "PASS" if r.ratio <= TARGET else "FAIL"
    return (f"| {r.song} | {r.cond} | {r.lines}{f' ({r.left_out} not sung)' if r.left_out else ''} | "
            f"{r.composed.words} | {r.composed.wer:.1f} | {r.reference.wer:.1f} | x{r.ratio:.2f} | {verdict} |")


HEAD = ("| song | condition | lines | words | composed WER % | reference WER % | ratio | <= 1.3x |\n"
        "|---|---|---|---|---|---|---|---|")


def summary(rows: Sequence[WerRow], cond: str) -> list[str]:
    rs = [r for r in rows if r.cond == cond and r.composed is not None]
    if not rs:
        return []
    c, ref = pooled(rs, "composed"), pooled(rs, "reference")
    ratio = c / max(ref, FLOOR_WER)
    left = sum(r.left_out for r in rows if r.cond == cond)
    return [f"| overall ({len(rs)} songs, pooled words) | {cond} | {sum(r.lines for r in rs)}"
            f"{f' ({left} not sung)' if left else ''} | {sum(r.composed.words for r in rs if r.composed)} | "
            f"{c:.1f} | {ref:.1f} | x{ratio:.2f} | {'PASS' if ratio <= TARGET else 'FAIL'} |"]


def worst(rows: Sequence[WerRow]) -> list[str]:
    """What Whisper heard on the song whose composed take fares worst against its reference."""
    rs = [r for r in rows if r.composed is not None and r.reference is not None]
    if not rs:
        return []
    w = max(rs, key=lambda r: (r.ratio, r.composed.wer if r.composed else 0.0))
    assert w.composed is not None and w.reference is not None
    out = [f"worst: {w.song} ({w.cond}), composed {w.composed.wer:.1f} % vs reference {w.reference.wer:.1f} %"]
    for name, h in (("composed", w.composed), ("reference", w.reference)):
        for c in h.chunks:
            out.append(f"  {name:9s} {c['start_s']:6.1f}-{c['end_s']:6.1f} s  WER {c['wer']:5.1f}  heard: {c['text']}")
    return out


def run(songs: Sequence[FormSong], conds: Sequence[str], n_lines: int, set_name: str, threads: int = 2) -> int:
    """Sing, transcribe and print every song; the table goes to benchmarks/RESULTS.md after each
    song (a run stopped part way leaves the songs it finished, said so)."""
    from benchmarks.results import machine_line
    from inference.frontend.g2p import G2P
    from host_bridge.core.artists import DEFAULT_ARTIST, get_artist

    artist = DEFAULT_ARTIST
    language = get_artist(artist).language
    print(f"# composer WER: {set_name} set, {len(songs)} songs, artist {artist}, first {n_lines} lines sung by both "
          f"takes, Whisper base, leads {M.SILENCE_LEADS_S}; {machine_line()}", flush=True)
    t0 = time.perf_counter()
    pipe = ScorePipeline(threads=threads)
    tr = M.Transcriber(threads=threads)
    g2p = G2P()
    rows: list[WerRow] = []
    print(HEAD)
    for k, song in enumerate(songs):
        for cond in conds:
            r = wer_song(song, cond, n_lines, pipe, tr, g2p, artist, language)
            rows.append(r)
            print(fmt_row(r), flush=True)
            if r.composed is not None and r.reference is not None:
                print(f"    composed heard:  {r.composed.hyp}\n    reference heard: {r.reference.hyp}", flush=True)
        _record(rows, conds, n_lines, set_name, artist, time.perf_counter() - t0, f"{k + 1} of {len(songs)}")
    summ = [ln for c in conds for ln in summary(rows, c)]
    print("\n".join(summ + worst(rows)))
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 0 if summ and all(ln.endswith("PASS |") for ln in summ) else 1


def _record(rows: Sequence[WerRow], conds: Sequence[str], n_lines: int, set_name: str, artist: str, took: float,
            done: str) -> None:
    from benchmarks.results import record

    table = [HEAD] + [fmt_row(r) for r in rows] + [ln for c in conds for ln in summary(rows, c)]
    record(f"composer.py --wer --set {set_name}",
           f"`nice -n 10 .venv/bin/python -m benchmarks.composer --wer --set {set_name} --lines {n_lines}` "
           f"({done} songs; this run {took:.0f} s, takes and transcriptions found in the cache reused): artist "
           f"{artist}, of each sheet's first {n_lines} lines those the composed take sings (a line it leaves out "
           f"shows as 'not sung'), the same lines for both takes; Whisper base over each take's own phrases, mean "
           f"over the silence lead-ins {M.SILENCE_LEADS_S} s; per-song ratio over max(reference, {FLOOR_WER:g} %)."
           "\n\n" + "\n".join(table) + "\n\n```\n" + "\n".join(worst(rows)) + "\n```")
