"""The sidecar's pipeline: lyrics + guide melody (+ instrumental) + tempo map -> Take.

Stages (ARCHITECTURE.md): analyze -> compose -> render -> produce. Engines are loaded once and
kept warm on the :class:`Pipeline` object; every request is a :class:`GenerateRequest`.
Progress goes through an injected callback; rendered phrases are handed out as soon as they are
ready through ``on_chunk`` (already at the session rate and position), so a client can play
them while the rest renders.
"""
from __future__ import annotations

import dataclasses
import importlib
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from host_bridge.core.engines import DEFAULT_ENGINE, engine_info
from host_bridge.core.errors import CancelledError, InputError, UnknownArtistError
from host_bridge.core.frozen import is_frozen
from host_bridge.core.model import LyricsSheet, Note, Score, Take, TempoMap
from host_bridge.core.model.language import DEFAULT_LANGUAGE, check_script, resolve_language
from host_bridge.core.protocol import JobSpec
from inference.engines.base import Engine
from inference.produce import Producer
from host_bridge.core.artists import DEFAULT_ARTIST, Artist, get_artist

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, float], None]
"""progress(stage, fraction 0..1)."""
ChunkCallback = Callable[[np.ndarray, int], None]
"""on_chunk(audio float32 [C, T] at the session rate, start sample in the session)."""


@dataclass(frozen=True)
class GenerateRequest(JobSpec):
    """One job for the pipeline: the wire's JobSpec (one definition of the fields, in
    host_bridge.core.protocol), with the project's default artist when none is named."""

    artist: str = DEFAULT_ARTIST


@dataclass
class _Timer:
    timings: dict[str, float] = field(default_factory=dict)

    def stage(self, name: str) -> "_Stage":
        return _Stage(self, name)


class _Stage:
    def __init__(self, timer: _Timer, name: str) -> None:
        self.timer, self.name = timer, name

    def __enter__(self) -> None:
        self.t0 = time.perf_counter()

    def __exit__(self, *exc: Any) -> None:
        self.timer.timings[self.name] = self.timer.timings.get(self.name, 0.0) + time.perf_counter() - self.t0


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise CancelledError("the job was cancelled", "start it again when you are ready")


class Pipeline:
    """Holds warm engines; thread-safe for one render at a time per engine (the server runs one
    render worker per device)."""

    def __init__(self, threads: int = 2, vocoder: str = "auto") -> None:
        """``vocoder``: the Kokoro engine's (see :class:`inference.engines.kokoro.KokoroEngine`)."""
        self.threads = threads
        self.vocoder = vocoder
        self._engines: dict[str, Engine] = {}
        self._lock = threading.Lock()
        self._g2p: dict[str, Any] = {}

    # ------------------------------------------------------------------ models
    def engine(self, name: str, checkpoint: str = "") -> Engine:
        """The warm engine ``name`` (built on first use through the registry, host_bridge.core.engines)."""
        info = engine_info(name)
        key = f"{name}:{checkpoint}" if info.needs_checkpoint else name
        with self._lock:
            if key not in self._engines:
                if is_frozen() and not info.in_standalone:  # torch is left out of the standalone build
                    raise UnknownArtistError(f"the {name} engine is not in the standalone topline-sidecar (it "
                                             "needs torch, which this CPU build leaves out)",
                                             f"run the sidecar from a Python install: pip install "
                                             f"'topline[sidecar,{name}]', then `topline sidecar`; or pick a "
                                             f"'{DEFAULT_ENGINE}' artist (see `topline artists`)")
                module, _, attr = info.factory.partition(":")
                factory = getattr(importlib.import_module(module), attr)
                self._engines[key] = factory(threads=self.threads, vocoder=self.vocoder, checkpoint=checkpoint)
            return self._engines[key]

    def g2p(self, language: str = DEFAULT_LANGUAGE) -> Any:
        """The text front end for ``language`` (built once per language, kept warm)."""
        with self._lock:
            if language not in self._g2p:
                from inference.frontend.g2p import G2P

                self._g2p[language] = G2P(language)
            return self._g2p[language]

    def warm_up(self, engines: tuple[str, ...] = (DEFAULT_ENGINE,)) -> None:
        self.g2p()
        for name in engines:
            self.engine(name).warm_up()

    # ------------------------------------------------------------------ stages
    def score_for(self, req: GenerateRequest) -> Score:
        """compose stage: lyrics + guide melody -> Score (phonemes on every note, in the take's
        language: the request's, else the sheet's ``[Language: xx]``, else the artist's)."""
        return self.score_and_warnings(req)[0]

    def score_and_warnings(self, req: GenerateRequest, artist: Artist | None = None) -> tuple[Score, list[str]]:
        """:meth:`score_for`, and what the composer warns about (a sheet with more sections than
        the song, a tempo that disagrees with the audio...), for the musician to read.
        ``artist``: the request's, when the caller has it already (else read from the presets)."""
        warnings: list[str] = []
        from inference.frontend.align import align

        sheet = LyricsSheet.parse(req.lyrics_text, source=req.lyrics_source)
        artist = artist or get_artist(req.artist)
        lang = resolve_language(req.language, sheet.language, artist.language)
        check_script(sheet.text(), lang, req.lyrics_source)
        g2p = self.g2p(lang.code)
        if req.melody_midi is None:  # no guide melody: compose one over the instrumental
            from inference.compose.stage import compose_over

            score, _, rep = compose_over(sheet, req.instrumental, req.sample_rate, artist.low, artist.high,
                                         tempo_map=req.tempo_map, start_s=req.start_sample / req.sample_rate,
                                         seed=req.seed, g2p=g2p)
            warnings = list(rep.warnings)
        else:
            melody = _read_melody(req.melody_midi, req.melody_source, req.tempo_map)
            score = align(sheet, melody, g2p)
        score = dataclasses.replace(score, language=lang.code)
        if req.bars is not None:
            tm = score.tempo_map
            a, b = tm.qn_at_bar(req.bars[0]), tm.qn_at_bar(req.bars[1] + 1)
            notes = tuple(n for n in score.notes if a - 1e-6 <= n.onset < b - 1e-6)
            if not notes:
                raise InputError(f"bars {req.bars[0]}-{req.bars[1]} hold no notes of the melody",
                                 "choose bars where the melody sings")
            score = dataclasses.replace(score, notes=notes)
        return score, warnings

    def lyrics_score(self, req: GenerateRequest) -> Score:
        """A Score with the lyric lines and no notes (for engines that sing without a melody)."""
        sheet = LyricsSheet.parse(req.lyrics_text, source=req.lyrics_source)
        return Score((), req.tempo_map or TempoMap(), tuple(ln.text for ln in sheet.lines), tuple(sheet.sections))

    def generate(self, req: GenerateRequest, progress: ProgressCallback | None = None,
                 on_chunk: ChunkCallback | None = None, cancel: threading.Event | None = None) -> Take:
        """Run the whole pipeline. Raises ToplineError subclasses for bad input; CancelledError
        when ``cancel`` is set (checked between phrases)."""
        prog = progress or (lambda stage, frac: None)
        timer = _Timer()
        _validate_request(req)
        artist = get_artist(req.artist)
        engine_name = req.engine or artist.engine
        info = engine_info(engine_name)
        prog("compose", 0.0)
        with timer.stage("compose"):
            # an engine that sings from the lyrics (and the instrumental) alone: no melody to compose
            score, warnings = self.score_and_warnings(req, artist) if info.needs_melody else (self.lyrics_score(req), [])
        prog("compose", 1.0)
        _check_cancel(cancel)
        engine = self.engine(engine_name, req.checkpoint)
        extra: dict[str, Any] = {}
        if info.listens_to_instrumental:
            if req.instrumental is None:
                raise InputError(f"the {engine_name} engine sings over the instrumental, and none was sent",
                                 "give --instrumental (the engine listens to it)")
            extra = {"instrumental": req.instrumental, "instrumental_sample_rate": req.sample_rate,
                     "instrumental_start_s": req.start_sample / req.sample_rate}
        producer = Producer(req.sample_rate, req.length_samples, req.start_sample, req.channels, artist)
        phrases = score.phrases()
        n_phr = max(1, len(phrases))
        prog("render", 0.0)
        sung_notes: list[Note] = []
        register: list[dict[str, Any]] = []
        it = engine.render(score, artist, seed=req.seed, cancel=cancel, **extra)
        done = reused = 0  # phrases sung; of them, taken from the engine's phrase cache
        while True:
            with timer.stage("render"):
                try:
                    ph = next(it)
                except StopIteration:
                    break
            _check_cancel(cancel)
            with timer.stage("produce"):
                chunk, at = producer.add(ph)
            sung_notes.extend(ph.notes)
            if not ph.joins_next:  # a phrase streamed in pieces is one phrase
                register.append(ph.info)
                done += 1
                reused += bool(ph.info.get("cached"))
            prog("render", min(1.0, done / n_phr))
            if on_chunk is not None and chunk.shape[1] > 0:
                on_chunk(chunk, at)
        _check_cancel(cancel)
        with timer.stage("produce"):
            audio = producer.finish()
        prog("produce", 1.0)
        sung = dataclasses.replace(score, notes=tuple(sung_notes) or score.notes)
        return Take(audio=audio, sample_rate=req.sample_rate, start_sample=req.start_sample, score=sung,
                    artist=artist.name, engine=engine.name, seed=req.seed, timings=timer.timings,
                    register={"phrases": register, "language": score.language or DEFAULT_LANGUAGE,
                              "phrase_cache": {"rendered": done - reused, "reused": reused},
                              **({"warnings": warnings} if warnings else {})},
                    wet=producer.wet)


def _read_melody(data: bytes, source: str, tempo_map: TempoMap | None) -> Any:
    """Guide MIDI bytes -> GuideMelody; the session's tempo map (when given) places the notes,
    as a DAW plays a MIDI region in musical time."""
    import os
    import tempfile

    from host_bridge.core.midi import read_melody

    name = os.path.basename(source) or "melody.mid"
    with tempfile.TemporaryDirectory(prefix="topline-midi-") as d:
        path = os.path.join(d, name if name.lower().endswith((".mid", ".midi")) else name + ".mid")
        with open(path, "wb") as f:
            f.write(data)
        melody = read_melody(path)
    melody = dataclasses.replace(melody, source=source)
    if tempo_map is not None:
        melody = dataclasses.replace(melody, tempo_map=tempo_map)
    return melody


def _validate_request(req: GenerateRequest) -> None:
    from host_bridge.core.audio import check_sample_rate

    check_sample_rate(req.sample_rate, "session")
    if req.length_samples <= 0:
        raise InputError("the stem would be 0 samples long", "give an instrumental (or a length) longer than 0")
    if req.channels not in (1, 2):
        raise InputError(f"{req.channels} output channels asked for", "ask for a mono (1) or stereo (2) stem")


def artist_or_default(name: str | None) -> Artist:
    return get_artist(name or DEFAULT_ARTIST)
