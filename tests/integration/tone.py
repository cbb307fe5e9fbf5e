"""A fast, real singing engine for integration tests: each note is a sine at its pitch.

It runs through the real :class:`inference.pipeline.Pipeline` (validation, produce stage,
chunk streaming, cancel checks) inside the real sidecar. Only the compose stage is replaced by a
plain reading of the guide MIDI (one lyric word per note, four notes per line), so the many
protocol and supervision tests do not depend on the text front end; the full round trip with
the real front end and the Kokoro engine is tests/integration/test_kokoro_round_trip.py.

``TOPLINE_TONE_RTF`` (default 0.1) makes each phrase take that fraction of its length to render.
"""
from __future__ import annotations

import io
import os
import threading
import time
from typing import Any, Iterator

import mido
import numpy as np

from host_bridge.core.errors import CancelledError, InputError
from host_bridge.core.model import LyricsSheet, Note, Score, TempoMap
from inference.engines.base import RenderedPhrase
from inference.pipeline import GenerateRequest, Pipeline
from host_bridge.core.artists import Artist

NOTES_PER_LINE = 4


class ToneEngine:
    name = "tone"
    sample_rate = 24000

    def __init__(self, rtf: float) -> None:
        self.rtf = rtf

    def warm_up(self) -> None:
        pass

    def render(self, score: Score, artist: Artist, *, seed: int = 0,
               cancel: threading.Event | None = None) -> Iterator[RenderedPhrase]:
        rng = np.random.default_rng(seed)
        for phrase in score.phrases():
            if cancel is not None and cancel.is_set():
                raise CancelledError("the job was cancelled", "start it again when you are ready")
            t0 = score.tempo_map.seconds_at(phrase[0].onset)
            t1 = score.tempo_map.seconds_at(phrase[-1].end)
            n = int((t1 - t0) * self.sample_rate)
            y = np.zeros(n, np.float32)
            for note in phrase:
                a, b = (int((score.tempo_map.seconds_at(x) - t0) * self.sample_rate) for x in (note.onset, note.end))
                t = np.arange(b - a) / self.sample_rate
                f = 440.0 * 2 ** ((note.pitch - 69) / 12)
                y[a:b] += (0.05 * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))).astype(np.float32)
            _sleep(self.rtf * (t1 - t0), cancel)
            yield RenderedPhrase(y[None, :], self.sample_rate, t0, tuple(phrase), {"octave_shift": 0})


def _sleep(seconds: float, cancel: threading.Event | None) -> None:
    if cancel is not None:
        cancel.wait(seconds)
    else:
        time.sleep(seconds)


class TonePipeline(Pipeline):
    device = "cpu"

    def __init__(self, threads: int = 2) -> None:
        super().__init__(threads)
        self.tone = ToneEngine(float(os.environ.get("TOPLINE_TONE_RTF", "0.1")))

    def engine(self, name: str, checkpoint: str = "") -> Any:
        return self.tone

    def warm_up(self, engines: tuple[str, ...] = ("tone",)) -> None:
        pass

    def score_and_warnings(self, req: GenerateRequest, artist: Artist | None = None) -> tuple[Score, list[str]]:
        # the compose stage generate() calls (score_for too); the tone compose stage never warns
        if req.melody_midi is None:
            raise InputError("no guide melody was given", "send melody_midi")
        words = [w.text for w in LyricsSheet.parse(req.lyrics_text).words]
        mf = mido.MidiFile(file=io.BytesIO(req.melody_midi))
        tpb = mf.ticks_per_beat
        notes: list[Note] = []
        on: dict[int, int] = {}
        for track in mf.tracks:
            t = 0
            for m in track:
                t += m.time
                if m.type == "note_on" and m.velocity > 0:
                    on[m.note] = t
                elif m.type in ("note_off", "note_on") and m.note in on:
                    start = on.pop(m.note)
                    i = len(notes)
                    notes.append(Note(start / tpb, (t - start) / tpb, float(m.note), words[i % len(words)], None,
                                      i, i // NOTES_PER_LINE))
        return Score(tuple(notes), req.tempo_map or TempoMap.constant(120.0)), []


def melody_midi(n_notes: int = 16, note_qn: float = 1.0, bpm: float = 120.0, first_pitch: int = 57) -> bytes:
    """A guide melody: ``n_notes`` notes of ``note_qn`` quarter notes, one rest after each line."""
    mf = mido.MidiFile(ticks_per_beat=480)
    tr = mido.MidiTrack()
    mf.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)))
    dur = int(note_qn * 480)
    for i in range(n_notes):
        gap = 480 if i and i % NOTES_PER_LINE == 0 else 0
        tr.append(mido.Message("note_on", note=first_pitch + (i % 8), velocity=90, time=gap))
        tr.append(mido.Message("note_off", note=first_pitch + (i % 8), velocity=0, time=dur))
    buf = io.BytesIO()
    mf.save(file=buf)
    return buf.getvalue()
