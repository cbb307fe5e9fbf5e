"""Auditions: the same section sung by one artist after another, each clip handed out as soon
as it is ready, plus an A/B reel (the clips in sequence over the instrumental).

The section's Score is composed once (from the guide melody, or by the composer) and every artist
sings that same Score, each in its own register (octave placement per artist) and style. Clips are
rendered one at a time on a CPU (the engines already use every core); with more cores than one
render needs (a GPU box), several artists render in parallel threads on the warm engine.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Callable, Sequence

import numpy as np

from host_bridge.core.errors import CancelledError, InputError
from host_bridge.core.model import Note, Score, Take
from host_bridge.core.reel import Clip, ClipPart, ab_reel
from inference.pipeline import GenerateRequest, Pipeline, _validate_request
from inference.produce import Producer
from host_bridge.core.artists import Artist, get_artist

log = logging.getLogger(__name__)

__all__ = ["Clip", "ClipCallback", "ClipPart", "PartCallback", "TAIL_S", "ab_reel", "audition", "default_workers",
           "section_samples"]

TAIL_S = 1.0
"""Audio kept after the section's last bar (release, reverb tail)."""


ClipCallback = Callable[[Clip], None]
PartCallback = Callable[[ClipPart], None]


def section_samples(score: Score, bars: tuple[int, int] | None, sample_rate: int, start_sample: int,
                    length_samples: int) -> tuple[int, int]:
    """(first, end) stem samples of the auditioned section: its bars (or the notes' span) plus
    :data:`TAIL_S`, clipped to the stem."""
    tm = score.tempo_map
    if bars is not None:
        a_s, b_s = tm.seconds_at(tm.qn_at_bar(bars[0])), tm.seconds_at(tm.qn_at_bar(bars[1] + 1))
    else:
        a_s, b_s = tm.seconds_at(score.notes[0].onset), tm.seconds_at(score.notes[-1].end)
    a = max(0, int(round(a_s * sample_rate)) - start_sample)
    b = min(length_samples, int(round((b_s + TAIL_S) * sample_rate)) - start_sample)
    if b <= a:
        raise InputError(f"the auditioned section ({a_s:.2f}-{b_s:.2f} s) lies outside the instrumental",
                         "choose bars inside the instrumental")
    return a, b


def default_workers(n_artists: int, threads: int) -> int:
    """Parallel renders the machine allows: one per ``threads`` cores (1 on a 2-core CPU)."""
    return max(1, min(n_artists, (os.cpu_count() or 1) // max(1, threads)))


def audition(pipeline: Pipeline, req: GenerateRequest, artists: Sequence[str], *, on_clip: ClipCallback | None = None,
             cancel: threading.Event | None = None, workers: int | None = None,
             on_part: PartCallback | None = None) -> list[Clip]:
    """Sing ``req``'s section (a :class:`inference.pipeline.GenerateRequest`, usually with
    ``bars``) with every artist in ``artists``; ``on_clip`` gets each clip as soon as it is
    ready (from a worker thread when ``workers`` > 1), ``on_part`` each clip's phrases before
    that, as they are rendered (the first audio of the first clip comes with the first phrase).
    Returns the clips in request order. Every artist is checked before anything renders; the
    section's score (front end, alignment, melody) is made once for all of them."""
    if not artists:
        raise InputError("no artists to audition", "name them, e.g. --artists alpha,dusk,kumo")
    if len(set(artists)) != len(artists):
        raise InputError(f"an artist is named twice in {', '.join(artists)}", "name each artist once")
    cast: list[Artist] = [get_artist(a) for a in artists]
    _validate_request(req)
    t0 = time.perf_counter()
    score = pipeline.score_for(replace(req, artist=cast[0].name))
    a, b = section_samples(score, req.bars, req.sample_rate, req.start_sample, req.length_samples)
    lock = threading.Lock()
    out: list[Clip | None] = [None] * len(cast)

    def one(i: int) -> None:
        if cancel is not None and cancel.is_set():
            raise CancelledError("the audition was cancelled", "start it again when ready")
        artist = cast[i]
        engine = pipeline.engine(artist.engine)
        t1 = time.perf_counter()
        prod = Producer(req.sample_rate, b - a, req.start_sample + a, req.channels, artist)
        sung: list[Note] = []
        for k, ph in enumerate(engine.render(score, artist, seed=req.seed, cancel=cancel)):
            chunk, at = prod.add(ph)
            sung.extend(ph.notes)
            if on_part is not None and chunk.shape[1] > 0:
                part = ClipPart(artist.name, i, k, chunk, req.sample_rate, at, time.perf_counter() - t0)
                with lock:
                    on_part(part)
        audio = prod.finish()
        take = Take(audio=audio, sample_rate=req.sample_rate, start_sample=req.start_sample + a,
                    score=Score(tuple(sung) or score.notes, score.tempo_map, score.lines, score.sections),
                    artist=artist.name, engine=engine.name, seed=req.seed,
                    timings={"render": time.perf_counter() - t1}, wet=prod.wet)
        clip = Clip(artist.name, take, i, time.perf_counter() - t0)
        log.info("audition clip %d/%d (%s) ready at %.1f s", i + 1, len(cast), artist.name, clip.ready_s)
        with lock:
            out[i] = clip
            if on_clip is not None:
                on_clip(clip)

    n = workers or default_workers(len(cast), pipeline.threads)
    if n <= 1:
        for i in range(len(cast)):
            one(i)
    else:
        with ThreadPoolExecutor(max_workers=n, thread_name_prefix="audition") as ex:
            for f in [ex.submit(one, i) for i in range(len(cast))]:
                f.result()
    return [c for c in out if c is not None]
