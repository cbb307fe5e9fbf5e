"""Instrumentals rendered at benchmark time from known chord progressions (nothing stored).

Each :class:`Piece` is written as a Standard MIDI File (mido) and rendered with the fluidsynth
CLI and the Debian General MIDI soundfont (``apt install fluidsynth fluid-soundfont-gm``). The
piece keeps its ground truth: key, tempo map, chord per beat, sections.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np
import soundfile as sf

from host_bridge.core.model import MeterChange, TempoChange, TempoMap
from inference.analysis.result import CHORD_INTERVALS, PITCH_NAMES, beat_qn, beats_per_bar

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
TPQ = 480

# progressions as (semitones above the tonic, quality) per bar
MAJOR_PROGS = [
    [(0, "maj"), (7, "maj"), (9, "min"), (5, "maj")],
    [(0, "maj"), (9, "min"), (5, "maj"), (7, "7")],
    [(2, "min7"), (7, "7"), (0, "maj"), (0, "maj")],
    [(0, "maj"), (5, "maj"), (0, "maj"), (7, "sus4"), (7, "maj"), (0, "maj")],
    [(9, "min"), (5, "maj"), (0, "maj"), (7, "maj")],
    [(0, "maj"), (4, "min"), (5, "maj"), (11, "dim"), (4, "min"), (9, "min"), (2, "min"), (7, "7")],
]
MINOR_PROGS = [
    [(0, "min"), (8, "maj"), (3, "maj"), (10, "maj")],
    [(0, "min"), (5, "min"), (7, "7"), (0, "min")],
    [(0, "min"), (10, "maj"), (8, "maj"), (7, "7")],
    [(0, "min"), (5, "min"), (8, "maj"), (7, "maj")],
    [(0, "min"), (2, "dim"), (7, "7"), (0, "min"), (3, "maj"), (8, "maj"), (5, "min"), (7, "maj")],
]
STYLES = ("arp", "strum", "pad_pluck", "ballad", "organ")
PROGRAMS = {"arp": 0, "strum": 25, "pad_pluck": 48, "ballad": 0, "organ": 16}


@dataclass(frozen=True)
class Piece:
    name: str
    tonic: int
    mode: str
    numerator: int
    denominator: int
    tactus_bpm: float
    style: str
    drums: bool
    verse: tuple[tuple[int, str], ...]
    chorus: tuple[tuple[int, str], ...]
    lead_in_s: float = 0.0

    @property
    def key_name(self) -> str:
        return f"{PITCH_NAMES[self.tonic]} {self.mode}"

    @property
    def tempo_map(self) -> TempoMap:
        bpm = self.tactus_bpm * beat_qn(self.numerator, self.denominator)
        return TempoMap((TempoChange(0.0, bpm),), (MeterChange(1, self.numerator, self.denominator),),
                        self.lead_in_s)

    @property
    def bars(self) -> list[tuple[str, tuple[int, str]]]:
        """(section, chord) per bar: verse, chorus (louder), verse, chorus; at most 6 bars each."""
        out = []
        for sec, prog in (("verse", self.verse), ("chorus", self.chorus), ("verse", self.verse),
                          ("chorus", self.chorus)):
            out.extend((sec, ((self.tonic + r) % 12, q)) for r, q in prog[:6])
        return out

    def truth(self) -> tuple[list[float], list[tuple[int, str]], list[float]]:
        """(felt-beat times s, chord (root, quality) per beat, downbeat times s)."""
        tm = self.tempo_map
        bq = beat_qn(self.numerator, self.denominator)
        k = beats_per_bar(self.numerator, self.denominator)
        times, chords, downs = [], [], []
        for b, (_, ch) in enumerate(self.bars):
            q0 = tm.qn_at_bar(b + 1)
            downs.append(tm.seconds_at(q0))
            for i in range(k):
                times.append(tm.seconds_at(q0 + i * bq))
                chords.append(ch)
        return times, chords, downs


def make_set(n: int = 18, seed: int = 7) -> list[Piece]:
    """A varied set: meters 4/4, 3/4, 6/8; tactus 70-160 BPM (6/8: 70-120); drums on every other piece."""
    rng = np.random.default_rng(seed)
    meters = [(4, 4), (3, 4), (6, 8)]
    out = []
    for i in range(n):
        num, den = meters[i % 3]
        hi = 120.0 if (num, den) == (6, 8) else 160.0
        bpm = float(np.round(70.0 + (hi - 70.0) * ((i * 0.618034) % 1.0)))
        mode = "major" if (i // 3) % 2 == 0 else "minor"
        progs = MAJOR_PROGS if mode == "major" else MINOR_PROGS
        v = progs[int(rng.integers(len(progs)))]
        c = progs[int(rng.integers(len(progs)))]
        style = STYLES[i % len(STYLES)]
        if num == 3 and style in ("organ",):
            style = "ballad"
        out.append(Piece(f"p{i:02d}_{style}_{num}-{den}_{int(bpm)}{'_drums' if i % 2 == 0 else ''}",
                         int(rng.integers(12)), mode, num, den, bpm, style, i % 2 == 0, tuple(v), tuple(c),
                         float(np.round(rng.uniform(0.0, 0.6), 2))))
    return out


# ---------------------------------------------------------------------- MIDI writing
def _voicing(root: int, quality: str, prev: list[int] | None) -> list[int]:
    pcs = [(root + i) % 12 for i in CHORD_INTERVALS[quality]]
    best: list[int] | None = None
    best_cost = 1e9
    for inv in range(len(pcs)):
        order = pcs[inv:] + pcs[:inv]
        for base in (52, 55, 58, 61):
            notes, cur = [], base - 1
            for pc in order:
                n = cur + 1 + ((pc - (cur + 1)) % 12)
                notes.append(n)
                cur = n
            if notes[-1] > 79:
                continue
            cost = abs(np.mean(notes) - 64) * 0.3 + (sum(min(abs(a - b) for b in prev) for a in notes) if prev else 0)
            if cost < best_cost:
                best, best_cost = notes, cost
    assert best is not None
    return best


def write_midi(p: Piece, path: Path) -> None:
    mid = mido.MidiFile(ticks_per_beat=TPQ)
    ev: list[tuple[int, mido.Message]] = []
    meta = mido.MidiTrack()
    meta.append(mido.MetaMessage("set_tempo", tempo=int(round(60e6 / p.tempo_map.tempos[0].bpm)), time=0))
    meta.append(mido.MetaMessage("time_signature", numerator=p.numerator, denominator=p.denominator, time=0))
    mid.tracks.append(meta)
    lead = int(round(p.lead_in_s * p.tempo_map.tempos[0].bpm / 60.0 * TPQ))
    bar_t = int(round(p.numerator * 4 / p.denominator * TPQ))
    bq = int(round(beat_qn(p.numerator, p.denominator) * TPQ))
    k = beats_per_bar(p.numerator, p.denominator)
    ternary = (p.numerator, p.denominator) == (6, 8)
    sub = bq // (3 if ternary else 2)          # eighth notes
    n_sub = bar_t // sub

    def note(ch: int, t: int, dur: int, pitch: int, vel: int) -> None:
        ev.append((lead + t, mido.Message("note_on", channel=ch, note=pitch, velocity=int(np.clip(vel, 1, 127)))))
        ev.append((lead + t + max(dur, 10), mido.Message("note_off", channel=ch, note=pitch, velocity=0)))

    ev.append((0, mido.Message("program_change", channel=0, program=PROGRAMS[p.style])))
    ev.append((0, mido.Message("program_change", channel=1, program=33)))
    if p.style == "pad_pluck":
        ev.append((0, mido.Message("program_change", channel=2, program=45)))
    prev = None
    for b, (sec, (root, q)) in enumerate(p.bars):
        t0 = b * bar_t
        loud = 12 if sec == "chorus" else 0
        v = _voicing(root, q, prev)
        prev = v
        bass = 36 + ((root - 36) % 12)
        # bass: root on each felt beat of the bar's strong positions
        for i in range(k):
            if i == 0 or (k == 4 and i == 2) or (ternary and i == 1) or p.style == "organ":
                note(1, t0 + i * bq, bq - 20, bass if i == 0 or p.style == "organ" else bass + 7 if bass + 7 < 55 else bass,
                     85 + loud if i == 0 else 75 + loud)
        if p.style in ("arp", "ballad"):      # sustain pedal, changed with the chord
            ev.append((lead + t0 + 5, mido.Message("control_change", channel=0, control=64, value=0)))
            ev.append((lead + t0 + 25, mido.Message("control_change", channel=0, control=64, value=100)))
        if p.style == "arp":
            pat = v + [v[1] + 12 if len(v) > 1 else v[0] + 12] + v[::-1]
            for j in range(n_sub):
                acc = 20 if j % (3 if ternary else 2) == 0 else 0
                note(0, t0 + j * sub, sub, pat[j % len(pat)], 60 + acc + loud)
        elif p.style == "strum":
            for i in range(k):
                for j, n in enumerate(v):
                    note(0, t0 + i * bq + j * 15, bq - 40, n, (95 if i == 0 else 75) + loud)
                if not ternary:
                    for j, n in enumerate(v):
                        note(0, t0 + i * bq + sub + j * 12, sub - 30, n, 55 + loud)
        elif p.style == "pad_pluck":
            for n in v:
                note(0, t0, bar_t - 10, n, 55 + loud)
            for i in range(k):
                for j in range(3 if ternary else 2):
                    note(2, t0 + i * bq + j * sub, sub, v[(i + j) % len(v)] + 12, (90 if j == 0 else 60) + loud)
        elif p.style == "ballad":
            for i in range(k):
                note(0, t0 + i * bq, bq, 48 + ((root - 48) % 12), 85 + loud)
                for j in range(1, 3 if ternary else 2):
                    for n in v:
                        note(0, t0 + i * bq + j * sub, sub - 20, n, 55 + loud)
                if ternary or k == 3:
                    continue
        elif p.style == "organ":
            for n in v:
                note(0, t0, bar_t - 30, n, 70 + loud)
            for i in range(k):
                for n in v[1:]:
                    note(0, t0 + i * bq + sub, sub - 30, n + 12, 60 + loud)
        if p.drums:
            for j in range(n_sub):
                note(9, t0 + j * sub, sub // 2, 42, 70 if j % 2 == 0 else 50)
            for i in range(k):
                t = t0 + i * bq
                if i == 0 or (k == 4 and i == 2):
                    note(9, t, sub, 36, 110)
                elif k == 3:
                    note(9, t, sub, 38, 70)
                else:
                    note(9, t, sub, 38, 100)
    track = mido.MidiTrack()
    ev.sort(key=lambda e: (e[0], e[1].type == "note_on"))
    last = 0
    for t, msg in ev:
        track.append(msg.copy(time=t - last))
        last = t
    mid.tracks.append(track)
    mid.save(str(path))


def render(p: Piece, sample_rate: int = 22050) -> np.ndarray:
    """The piece as float32 [2, T] at ``sample_rate`` (fluidsynth, FluidR3_GM)."""
    if shutil.which("fluidsynth") is None or not SOUNDFONT.exists():
        raise RuntimeError("fluidsynth and the GM soundfont are needed: apt install fluidsynth fluid-soundfont-gm")
    with tempfile.TemporaryDirectory() as d:
        mp, wp = Path(d) / "in.mid", Path(d) / "out.wav"
        write_midi(p, mp)
        subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.5", "-r", str(sample_rate), "-F", str(wp),
                        str(SOUNDFONT), str(mp)], check=True, capture_output=True)
        audio, sr = sf.read(str(wp), dtype="float32", always_2d=True)
    assert sr == sample_rate
    return np.ascontiguousarray(audio.T)
