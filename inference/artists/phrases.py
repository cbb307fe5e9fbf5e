"""Short test phrases and dry renders of them: what artist search, auditions and benchmarks sing.

A phrase is lyrics + a guide melody (built here as a Standard MIDI File in memory) turned into a
Score by the pipeline's own compose stage, so it goes through the same front end as a real take.
"""
from __future__ import annotations

import io
from typing import Sequence

import numpy as np

from host_bridge.core.model import Score, TempoMap
from inference.pipeline import GenerateRequest, Pipeline
from inference.produce import Producer
from host_bridge.core.artists import Artist

SEARCH_LYRICS = "hold the morning light and sing it slow"
SEARCH_SHAPE = (0, 2, 4, 2, 5, 4, 2, 0, 0)
"""Scale-step contour (semitones from the phrase's base note) for the search phrase's syllables."""


def melody_midi(pitches: Sequence[int], beats: Sequence[float] | float = 0.5, bpm: float = 120.0,
                start_bar: int = 1) -> bytes:
    """A one-track SMF: ``pitches`` one after another (``beats`` quarter notes each) from ``start_bar``."""
    import mido

    lens = [beats] * len(pitches) if isinstance(beats, (int, float)) else list(beats)
    mf = mido.MidiFile(ticks_per_beat=480)
    tr = mido.MidiTrack()
    mf.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)))
    t = int((start_bar - 1) * 4 * 480)
    for p, b in zip(pitches, lens):
        tr.append(mido.Message("note_on", note=int(p), velocity=90, time=t))
        tr.append(mido.Message("note_off", note=int(p), velocity=0, time=int(round(b * 480))))
        t = 0
    buf = io.BytesIO()
    mf.save(file=buf)
    return buf.getvalue()


def phrase_score(pipeline: Pipeline, lyrics: str, pitches: Sequence[int], beats: Sequence[float] | float = 0.5,
                 bpm: float = 120.0) -> Score:
    """Lyrics sung on ``pitches`` (one syllable per note) from bar 1 at ``bpm``."""
    req = GenerateRequest(lyrics, 24000, 24000, tempo_map=TempoMap.constant(bpm),
                          melody_midi=melody_midi(pitches, beats, bpm))
    return pipeline.score_for(req)


def search_score(pipeline: Pipeline, base_midi: int, bpm: float = 120.0) -> Score:
    """The artist-search phrase (about 2.5 s) with its lowest note at ``base_midi``."""
    return phrase_score(pipeline, SEARCH_LYRICS, [base_midi + s for s in SEARCH_SHAPE],
                        [0.5] * (len(SEARCH_SHAPE) - 1) + [1.5], bpm)


def render_dry(pipeline: Pipeline, score: Score, artist: Artist, seed: int = 0, sample_rate: int = 24000,
               tail_s: float = 0.5) -> np.ndarray:
    """``score`` sung by ``artist`` through its engine and the produce stage (its chain, no wet
    sends): float32 [T] mono at ``sample_rate``, from the score's first note minus 0.3 s."""
    tm = score.tempo_map
    t0 = max(0.0, tm.seconds_at(score.notes[0].onset) - 0.3)
    t1 = tm.seconds_at(score.notes[-1].end) + tail_s
    start = int(t0 * sample_rate)
    prod = Producer(sample_rate, int((t1 - t0) * sample_rate), start, 1, artist)
    for ph in pipeline.engine(artist.engine).render(score, artist, seed=seed):
        prod.add(ph)
    return prod.finish()[0]
