"""KokoroEngine: Kokoro-82M made to sing a Score, phrase by phrase.

The engine holds the loaded parts (models, sessions, voices) and hands phrases out in time
order: how one phrase is sung is :mod:`.phrase`, the sessions and the vocoder run are
:mod:`.sessions`, phrases rendered side by side are :mod:`.lanes`. The vocoder's convolution
stack runs in torch where torch is installed (:mod:`.generator`), else in onnxruntime.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator

from host_bridge.core.model import Note, Phonemes, Score, TempoMap
from inference.engines.base import RenderedPhrase
from inference.memory import bound_heap, release_heap
from inference.performance import apply_performance
from inference.phrase_cache import PhraseCache
from host_bridge.core.artists import Artist

from . import model as km
from .cache_key import artist_digest, engine_digest, phrase_key
from .lanes import Task, side_by_side
from .phrase import VOWEL_EDGE_S, VOWEL_RENDER_FRAMES, Voice, render_phrase, voiced_tokens, warp_breakpoints
from .register import choose_octave
from .sessions import Sessions, check_cancel, cpu_bf16_native, open_sessions
from .voice_tables import voice_bank
from .voices import VoiceBank

log = logging.getLogger(__name__)

__all__ = ["KokoroEngine", "MAX_TOKENS", "VOWEL_EDGE_S", "VOWEL_RENDER_FRAMES", "voiced_tokens", "warp_breakpoints"]

MAX_TOKENS = 480
"""Longest token sequence sent to the model at once (its limit is 510 with pads)."""


class KokoroEngine:
    """The embedded default singer. Sessions live on the object; build one per sidecar."""

    name = "kokoro"
    sample_rate = km.SAMPLE_RATE

    def __init__(self, threads: int = 2, *, cache_dir: Path | None = None, correct_pitch: bool = True,
                 aperiodicity: str = "rule", providers: list[str] | None = None, lanes: bool = True,
                 vocoder: str = "auto", phrase_cache: PhraseCache | None = None) -> None:
        """``threads``: onnxruntime intra-op threads. ``correct_pitch``: run the WORLD pass (exact
        timing and pitch; off = Kokoro's raw render, 25 ms timing grid, clamped register).
        ``aperiodicity``: "rule" or "d4c" (see :func:`.world.world_resynth`). ``lanes``: after
        the first piece of a render, ``threads`` phrases side by side on one thread each (on the
        CPU with 2+ threads; off: one phrase at a time on every thread; same samples). ``vocoder``:
        "torch" runs the generator's convolutions in torch (:mod:`.generator`; bf16 where the CPU
        has it), "onnx" the shipped int8 graph throughout, "auto" torch on the CPU when torch is
        installed (the standalone build has none). ``phrase_cache``: phrases rendered before are
        taken from it (keyed by everything their samples depend on, :mod:`.cache_key`) and new
        ones stored there; None: every phrase is rendered."""
        if vocoder not in ("auto", "torch", "onnx"):
            raise ValueError(f"unknown vocoder {vocoder!r}: use 'auto', 'torch' or 'onnx'")
        self.threads = threads
        self.lanes = lanes
        self.aperiodicity = aperiodicity
        self.cache_dir = cache_dir
        self.correct_pitch = correct_pitch
        self.providers = providers or ["CPUExecutionProvider"]
        self.vocoder = self._pick_vocoder(vocoder)
        self._gen: Any = None
        """The torch generator (weights shared by every session set), with the torch vocoder."""
        self._s: Sessions | None = None
        """Sessions on ``threads`` intra-op threads: the first phrase of a render (first audio soonest)."""
        self._lane: Sessions | None = None
        """Sessions on one intra-op thread, run from ``threads`` render lanes side by side (the rest
        of a render); built on first use (:meth:`_lane_sessions`), after a render's first audio."""
        self._files: km.ModelFiles | None = None
        self._vocab: dict[str, int] = {}
        self._voices: VoiceBank | None = None
        self._load_lock = threading.Lock()
        self.phrase_cache = phrase_cache
        self._digest = ""
        """The engine's part of the phrase keys (known once loaded)."""

    # ------------------------------------------------------------------ lifecycle
    def load(self) -> None:
        with self._load_lock:
            if self._s is not None:
                return
            t0 = time.perf_counter()
            bound_heap()  # before the render threads' first allocations (inference.memory)
            self._files = km.ensure_models(self.cache_dir)
            if self.vocoder == "torch":
                from .generator import load_generator
                self._gen = load_generator(self._files.generator)
            self._s = self._sessions(self.threads)
            self._vocab = km.load_vocab()
            self._voices = voice_bank()
            self._digest = engine_digest(self)
            log.info("Kokoro sessions loaded in %.2f s", time.perf_counter() - t0)

    def _pick_vocoder(self, want: str) -> str:
        """"auto": the torch generator where the CPU has native bf16 (AVX512-BF16 or AMX: about
        twice the int8 graph there), else the int8 onnxruntime graph (on an AVX2-only CPU, float32
        torch convolutions are slower than the int8 graph, and their sums depend on the thread
        count, so phrases rendered side by side would not be bit-identical)."""
        if want == "onnx" or (want == "auto" and self.providers[0] != "CPUExecutionProvider"):
            return "onnx"
        from importlib.util import find_spec

        if find_spec("torch") is None:  # found, not imported: torch's import waits for load()
            if want == "torch":
                raise ImportError("the torch vocoder needs torch: pip install 'topline[sidecar]'")
            return "onnx"
        if want == "auto" and cpu_bf16_native() is False:
            return "onnx"
        return "torch"

    @property
    def vocoder_precision(self) -> str:
        """What renders the vocoder's convolutions: "onnx int8", "torch bfloat16" or "torch float32"
        (torch's precision is known once loaded)."""
        return "onnx int8" if self.vocoder == "onnx" else f"torch {self._gen.dtype if self._gen is not None else '?'}"

    @property
    def _side_by_side(self) -> bool:
        """Phrases side by side after the first piece: on the CPU with 2+ threads, and not with
        float32 torch convolutions (their sums change with the thread count: not the same bits)."""
        fp32_torch = self._gen is not None and str(self._gen.dtype).endswith("float32")
        return self.lanes and self.threads >= 2 and self.providers[0] == "CPUExecutionProvider" and not fp32_torch

    def _sessions(self, threads: int) -> Sessions:
        assert self._files is not None
        return open_sessions(self._files, threads, self.providers, self.vocoder == "torch")

    def _lane_sessions(self) -> Sessions:
        """The one-thread sessions, built once on first use (~0.45 s on 2 cores: kept off the
        load, so a cold render's first audio does not wait for them)."""
        with self._load_lock:
            if self._lane is None:
                self._lane = self._sessions(1)
            return self._lane

    def warm_up(self) -> None:
        self.load()
        notes = (Note(0.0, 1.0, 60.0, "la", Phonemes(("l",), ("ɑ",), (), 2), 0, 0),
                 Note(1.0, 1.0, 62.0, "la", Phonemes(("l",), ("ɑ",), (), 2), 1, 0))
        score = Score(notes, TempoMap.constant(120))
        artist = Artist("warmup", "warmup", "kokoro", "", {"jf_alpha": 1.0}, 48, 67)
        for _ in self._render(score, artist, 0, None, None):  # never from the phrase cache: the sessions run
            pass
        if self._side_by_side:  # the lanes' sessions too (built, and a session's first runs allocate)
            self._lane_sessions()
            for _ in self._render_phrase(list(score.notes), score, artist, 0, 0, lane=True):
                pass

    @property
    def voices(self) -> tuple[str, ...]:
        self.load()
        assert self._voices is not None
        return self._voices.names

    @property
    def _voice(self) -> Voice:
        assert self._voices is not None
        return Voice(self._voices, self._vocab, self._gen, self.correct_pitch, self.aperiodicity, self.name,
                     self.sample_rate)

    # ------------------------------------------------------------------ rendering
    def render(self, score: Score, artist: Artist, *, seed: int = 0,
               cancel: threading.Event | None = None) -> Iterator[RenderedPhrase]:
        """Sing ``score`` with ``artist``; yields one :class:`RenderedPhrase` per phrase (float32
        [1, T] at 24 kHz, dry), in time order; a long first phrase comes in two joined pieces
        (see :data:`.phrase.LEAD_S`), so that streaming starts sooner. Phrases found in the
        phrase cache come from it (``info["cached"]``), the same samples as rendered."""
        try:
            yield from self._render(score, artist, seed, cancel, self.phrase_cache)
        finally:
            release_heap()  # the free pages of the render's threads back to the system

    def _render(self, score: Score, artist: Artist, seed: int, cancel: threading.Event | None,
                cache: PhraseCache | None) -> Iterator[RenderedPhrase]:
        self.load()
        assert self._voices is not None
        table = self._voices.table(artist)  # validate the voice before any work
        if not score.notes:
            return
        score = apply_performance(score, artist)
        octave = choose_octave([n.pitch for n in score.notes], artist.low, artist.high,
                               [n.duration for n in score.notes])
        if octave:
            log.info("singing the take %+d semitones (artist range %d-%d, melody %.0f-%.0f)", octave,
                     artist.low, artist.high, *score.pitch_range())
        jobs = [(part, seed + k) for k, phrase in enumerate(score.phrases()) for part in self._split_long(phrase)]
        keys: list[str | None] = [None] * len(jobs)
        hits: list[list[RenderedPhrase] | None] = [None] * len(jobs)
        if cache is not None:
            who = artist_digest(artist, table)
            keys = [phrase_key(self._digest, who, part, score, octave, sd, i == 0) for i, (part, sd) in enumerate(jobs)]
            hits = [_from_cache(cache, k, part, octave) for k, (part, _) in zip(keys, jobs)]
        check_cancel(cancel)
        i0 = 0
        while i0 < len(jobs) and hits[i0] is not None:  # cached phrases before the first to render
            yield from hits[i0] or []
            i0 += 1
        if not self._side_by_side or sum(h is None for h in hits) < 2:
            for i in range(i0, len(jobs)):
                check_cancel(cancel)
                part, sd = jobs[i]
                yield from hits[i] or self._keep(cache, keys[i], self._render_phrase(
                    part, score, artist, octave, sd, cancel, lead=i == 0))
            return

        def first(stop: threading.Event) -> Iterator[RenderedPhrase]:
            part, sd = jobs[i0]
            return self._keep(cache, keys[i0], self._render_phrase(part, score, artist, octave, sd, stop,
                                                                   lead=i0 == 0, handoff=i0 == 0))

        def rest(stop: threading.Event) -> list[Task]:
            self._lane_sessions()
            tasks: list[Task] = []
            for (part, sd), key, hit in list(zip(jobs, keys, hits))[i0 + 1:]:
                if hit is not None:  # the same callable twice: nothing to render (lanes.side_by_side)
                    same = _const(hit)
                    tasks.append((same, same))
                    continue
                tasks.append((partial(self._phrase_list, part, score, artist, octave, sd, stop, True, cache, key),
                              partial(self._phrase_list, part, score, artist, octave, sd, stop, False, cache, key)))
            return tasks

        yield from side_by_side(first, rest, self.threads, cancel)

    def _phrase_list(self, part: list[Note], score: Score, artist: Artist, octave: int, seed: int,
                     stop: threading.Event, lane: bool, cache: PhraseCache | None = None,
                     key: str | None = None) -> list[RenderedPhrase]:
        return list(self._keep(cache, key, self._render_phrase(part, score, artist, octave, seed, stop, lane=lane)))

    @staticmethod
    def _keep(cache: PhraseCache | None, key: str | None,
              pieces: Iterator[RenderedPhrase]) -> Iterator[RenderedPhrase]:
        """``pieces``, stored in ``cache`` under ``key`` once all are out (a render stopped
        part way stores nothing)."""
        done: list[RenderedPhrase] = []
        for p in pieces:
            done.append(p)
            yield p
        if cache is not None and key is not None and done:
            cache.put(key, done)

    def _split_long(self, notes: list[Note]) -> list[list[Note]]:
        """Split a phrase whose token count would pass the model's limit (rare: a very long line)."""
        est = sum(2 + (len(n.phonemes.onset) + len(n.phonemes.nucleus) * 2 + len(n.phonemes.coda)) * 2
                  if n.phonemes else 0 for n in notes)
        if est <= MAX_TOKENS or len(notes) < 2:
            return [notes]
        mid = len(notes) // 2
        return self._split_long(notes[:mid]) + self._split_long(notes[mid:])

    def _render_phrase(self, notes: list[Note], score: Score, artist: Artist, octave: int,
                       seed: int, cancel: threading.Event | None = None,
                       lead: bool = False, lane: bool = False, handoff: bool = False) -> Iterator[RenderedPhrase]:
        """Render one phrase (``lead``: cut for streaming; ``lane``: on the one-thread sessions,
        beside other phrases; ``handoff``: the first of two pieces on every thread, the second on
        the one-thread sessions)."""
        assert self._s is not None
        ses = self._lane if lane and self._lane is not None else self._s
        return render_phrase(self._voice, ses, notes, score, artist, octave, seed, cancel, lead=lead,
                             handoff=(lambda: self._lane) if handoff else None)


def _const(pieces: list[RenderedPhrase]) -> Callable[[], list[RenderedPhrase]]:
    return lambda: pieces


def _from_cache(cache: PhraseCache, key: str | None, notes: list[Note], octave: int) -> list[RenderedPhrase] | None:
    """The phrase's pieces from ``cache``, with the notes of this take (at the pitches sung, as
    :func:`.phrase.render_phrase` gives them), or None."""
    stored = cache.get(key) if key is not None else None
    if stored is None:
        return None
    sung = [replace(n, pitch=n.pitch + octave) for n in notes]
    if sum(p.n_notes for p in stored) != len(sung):
        return None
    out, at = [], 0
    for p in stored:
        out.append(RenderedPhrase(p.audio, p.sample_rate, p.start_s, tuple(sung[at:at + p.n_notes]),
                                  dict(p.info, cached=True), p.joins_next, p.joins_previous, p.phrase_pitches))
        at += p.n_notes
    return out
