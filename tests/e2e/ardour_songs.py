"""Songs for the `topline ardour new` tests: a guide MIDI with a ritardando in half-beat tempo
steps and a 6/8 section, a constant-tempo guide, and an instrumental to go with them.

Bar-line times are computed here from the tempo list directly (not through Topline's TempoMap),
so the tests compare Ardour's bar lines with an independent reading of the MIDI.
"""
from __future__ import annotations

import io
from pathlib import Path

import mido
import numpy as np
import soundfile as sf

TPB = 960
START_BPM = 100.0
RIT_STEP = 0.75
"""The ritardando slows by this many BPM every half beat, over bars 5-8 (100 -> 76 BPM)."""
SIX_EIGHT_BPM = 84.0
SIX_EIGHT_BAR = 9
"""Bars 1-8 in 4/4 (32 quarter notes), bars 9- in 6/8 (3 quarter notes a bar)."""
RIT_BARS = (5, 8)


def rit_tempos() -> list[tuple[float, float]]:
    """(quarter note, BPM) of every tempo event: 100 BPM, a step every half beat over bars 5-8
    (32 events, half of them off the beat), 84 BPM from the 6/8 bar 9."""
    out = [(0.0, START_BPM)]
    for i in range(32):
        out.append((16.0 + 0.5 * i, START_BPM - RIT_STEP * (i + 1)))
    out.append((32.0, SIX_EIGHT_BPM))
    return out


def seconds_at(tempos: list[tuple[float, float]], qn: float) -> float:
    t = 0.0
    for i, (q0, bpm) in enumerate(tempos):
        q1 = tempos[i + 1][0] if i + 1 < len(tempos) else float("inf")
        if qn <= q1:
            return t + (qn - q0) * 60.0 / bpm
        t += (q1 - q0) * 60.0 / bpm
    raise AssertionError("unreachable")


def bar_qn(bar: int) -> float:
    """Start of ``bar`` in quarter notes: 4/4 up to bar 8, 6/8 from bar 9."""
    if bar <= SIX_EIGHT_BAR:
        return 4.0 * (bar - 1)
    return 32.0 + 3.0 * (bar - SIX_EIGHT_BAR)


def rit_notes() -> list[tuple[float, float, int]]:
    """(onset qn, length qn, pitch): one note every half beat over the ritardando (bars 5-8)."""
    pitches = [60, 62, 64, 65, 67, 65, 64, 62]
    return [(16.0 + 0.5 * i, 0.4, pitches[i % 8]) for i in range(32)]


def write_midi(path: Path, tempos: list[tuple[float, float]], meters: list[tuple[float, int, int]],
               notes: list[tuple[float, float, int]]) -> Path:
    """A type-1 MIDI file: conductor track (tempos, time signatures), melody track."""
    mf = mido.MidiFile(type=1, ticks_per_beat=TPB)
    events: list[tuple[int, mido.MetaMessage]] = []
    for q, bpm in tempos:
        events.append((int(round(q * TPB)), mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))))
    for q, n, d in meters:
        events.append((int(round(q * TPB)), mido.MetaMessage("time_signature", numerator=n, denominator=d)))
    mf.tracks.append(_track(sorted(events, key=lambda e: e[0])))
    msgs: list[tuple[int, mido.Message]] = []
    for on, length, pitch in notes:
        msgs.append((int(round(on * TPB)), mido.Message("note_on", note=pitch, velocity=90)))
        msgs.append((int(round((on + length) * TPB)), mido.Message("note_off", note=pitch, velocity=0)))
    mf.tracks.append(_track(sorted(msgs, key=lambda e: (e[0], e[1].type == "note_on"))))
    buf = io.BytesIO()
    mf.save(file=buf)
    path.write_bytes(buf.getvalue())
    return path


def _track(events: list) -> mido.MidiTrack:  # type: ignore[type-arg]
    tr = mido.MidiTrack()
    last = 0
    for tick, msg in events:
        tr.append(msg.copy(time=tick - last))
        last = tick
    return tr


def rit_guide(path: Path) -> Path:
    return write_midi(path, rit_tempos(), [(0.0, 4, 4), (32.0, 6, 8)], rit_notes())


def constant_guide(path: Path, bpm: float, notes: list[tuple[float, float, int]]) -> Path:
    return write_midi(path, [(0.0, bpm)], [(0.0, 4, 4)], notes)


def instrumental(path: Path, rate: int, seconds: float, seed: int = 3) -> np.ndarray:
    """Stereo seeded noise over a low sine (a sharp cross-correlation peak); returns [2, T]."""
    n = int(round(seconds * rate))
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    x = (0.05 * rng.standard_normal((2, n)) + 0.1 * np.sin(2 * np.pi * 110 * t)[None]).astype(np.float32)
    sf.write(str(path), x.T, rate, subtype="FLOAT")
    return x
