"""The arrangement of a :class:`benchmarks.form_songs.FormSong` as a Standard MIDI File, and its
render with fluidsynth (FluidR3_GM).

Sections are arranged as a band would: the intro thin (accompaniment alone), verses with bass
(and drums when the song has them), choruses louder with strings, the bridge on another
instrument, instrumental breaks with a lead line, the outro thinning out to a held last chord.
Swung songs delay every off-beat eighth to the third triplet.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import mido
import numpy as np

from inference.analysis.result import CHORD_INTERVALS, beat_qn, beats_per_bar

if TYPE_CHECKING:
    from benchmarks.form_songs import FormSong

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
TPQ = 480
PROGRAM = {"strum": 25, "arp": 0, "pick": 24, "ballad": 0, "pad": 4}


def _voicing(root: int, quality: str, prev: list[int] | None) -> list[int]:
    pcs = [(root + i) % 12 for i in CHORD_INTERVALS[quality]][:3]
    best, best_cost = [60, 64, 67], 1e9
    for inv in range(len(pcs)):
        order = pcs[inv:] + pcs[:inv]
        for base in (52, 55, 58, 61):
            notes, cur = [], base - 1
            for pc in order:
                cur = cur + 1 + ((pc - (cur + 1)) % 12)
                notes.append(cur)
            cost = float(abs(np.mean(notes) - 63)) * 0.3 + (sum(min(abs(a - b) for b in prev) for a in notes) if prev else 0)
            if notes[-1] <= 76 and cost < best_cost:
                best, best_cost = notes, cost
    return best


class _Writer:
    def __init__(self, song: "FormSong") -> None:
        self.song = song
        self.ev: list[tuple[int, mido.Message]] = []
        self.lead = int(round(song.lead_in_s * song.qn_bpm / 60.0 * TPQ))
        self.bq = int(round(beat_qn(*song.meter) * TPQ))
        self.k = beats_per_bar(*song.meter)
        self.ternary = song.meter == (6, 8)
        self.sub = self.bq // (3 if self.ternary else 2)
        self.bar_t = self.bq * self.k
        self.rng = np.random.default_rng(song.seed + 7)

    def swing(self, t: int) -> int:
        """Delay off-beat eighths to the last triplet when the song swings."""
        if not self.song.swing or self.ternary:
            return t
        return t + self.sub // 3 if (t % self.bq) == self.sub else t

    def note(self, ch: int, t: int, dur: int, pitch: int, vel: int) -> None:
        t = self.swing(t)
        v = int(np.clip(vel + self.rng.integers(-6, 7), 1, 127))
        self.ev.append((self.lead + t, mido.Message("note_on", channel=ch, note=int(pitch), velocity=v)))
        self.ev.append((self.lead + t + max(dur, 10), mido.Message("note_off", channel=ch, note=int(pitch), velocity=0)))

    def comp(self, t0: int, v: list[int], loud: int) -> None:
        """The accompaniment instrument's bar."""
        s, k, bq, sub = self.song.style, self.k, self.bq, self.sub
        n_sub = self.bar_t // sub
        if s == "strum":
            for i in range(k):
                for j, n in enumerate(v + [v[0] + 12]):
                    self.note(0, t0 + i * bq + j * 18, bq - 40, n, (88 if i == 0 else 74) + loud)
                for f in (range(1, 3) if self.ternary else range(1, 2)):
                    for j, n in enumerate(reversed(v)):
                        self.note(0, t0 + i * bq + f * sub + j * 14, sub - 30, n, 54 + loud)
        elif s == "arp":
            pat = v + [v[1] + 12, v[2] + 12, v[0] + 12] + [v[2], v[1]]
            for j in range(n_sub):
                self.note(0, t0 + j * sub, sub + 60, pat[j % len(pat)], (74 if j % (3 if self.ternary else 2) == 0
                                                                          else 58) + loud)
        elif s == "pick":
            for j in range(n_sub):
                beat = j * sub % bq == 0
                pitch = (v[0] - 12 if (j * sub) % self.bar_t == 0 else v[1] - 12) if beat else v[1 + j % 2]
                self.note(0, t0 + j * sub, 2 * sub, pitch, (80 if beat else 60) + loud)
        elif s == "ballad":
            for i in range(k):
                self.note(0, t0 + i * bq, bq, v[0] - 12, 78 + loud)
                for f in range(1, 3 if self.ternary else 2):
                    for n in v:
                        self.note(0, t0 + i * bq + f * sub, sub - 20, n, 56 + loud)
        else:   # pad: a held chord and a soft pulse on the beats
            for n in v:
                self.note(0, t0, self.bar_t - 20, n, 62 + loud)
            for i in range(k):
                self.note(0, t0 + i * bq, sub, v[i % 3] + 12, 58 + loud)

    def drums(self, t0: int, kind: str) -> None:
        k, bq, sub = self.k, self.bq, self.sub
        loud = 10 if kind == "chorus" else 0
        for j in range(self.bar_t // sub):
            self.note(9, t0 + j * sub, sub // 2, 46 if kind == "chorus" and j == 0 else 42,
                      (70 if j % (3 if self.ternary else 2) == 0 else 48) + loud)
        for i in range(k):
            t = t0 + i * bq
            if i == 0 or (k == 4 and i == 2):
                self.note(9, t, sub, 36, 108)
            elif k == 3:
                self.note(9, t, sub, 38 if i == 1 else 42, 60)
            else:
                self.note(9, t, sub, 38, 96 + loud)

    def bar(self, b: int, kind: str, root: int, q: str, prev: list[int] | None, last: bool) -> list[int]:
        t0 = b * self.bar_t
        v = _voicing(root, q, prev)
        loud = {"intro": -8, "verse": 0, "pre": 4, "chorus": 12, "bridge": 4, "break": 8, "outro": -4}[kind]
        if last:
            for n in v + [v[0] - 12]:
                self.note(0, t0, self.bar_t * 2, n, 70)
            self.note(1, t0, self.bar_t * 2, 28 + ((root - 28) % 12), 80)
            return v
        self.comp(t0, v, loud)
        bass = 28 + ((root - 28) % 12)
        if kind != "intro":
            for i in range(self.k):
                if i == 0 or (self.k == 4 and i == 2) or (self.ternary and i == 1):
                    self.note(1, t0 + i * self.bq, self.bq - 30, bass if i == 0 else bass + 7, 92 if i == 0 else 76)
        if kind == "chorus":
            for n in v:
                self.note(2, t0, self.bar_t - 10, n + 12, 58)
        if kind == "bridge":
            for n in v:
                self.note(3, t0, self.bar_t - 10, n, 66)
        if kind == "break":
            scale = sorted({(root + i) % 12 for i in CHORD_INTERVALS[q]})
            for i in range(self.k):
                self.note(4, t0 + i * self.bq, self.bq - 20,
                          72 + scale[int(self.rng.integers(len(scale)))], 84)
        if self.song.drums and kind in ("verse", "pre", "chorus", "bridge", "break"):
            self.drums(t0, kind)
        return v

    def write(self, path: Path) -> None:
        song = self.song
        mid = mido.MidiFile(ticks_per_beat=TPQ)
        meta = mido.MidiTrack()
        meta.append(mido.MetaMessage("set_tempo", tempo=int(round(60e6 / song.qn_bpm)), time=0))
        meta.append(mido.MetaMessage("time_signature", numerator=song.meter[0], denominator=song.meter[1], time=0))
        mid.tracks.append(meta)
        for ch, prog in ((0, PROGRAM[song.style]), (1, 33), (2, 48), (3, 19), (4, 73)):
            self.ev.append((0, mido.Message("program_change", channel=ch, program=prog)))
        prev = None
        chords = song.chords()
        for b, (kind, (root, q)) in enumerate(chords):
            prev = self.bar(b, kind, root, q, prev, b == len(chords) - 1)
        track = mido.MidiTrack()
        self.ev.sort(key=lambda e: (e[0], e[1].type == "note_on"))
        last = 0
        for t, msg in self.ev:
            track.append(msg.copy(time=t - last))
            last = t
        mid.tracks.append(track)
        mid.save(str(path))


def write_song_midi(song: "FormSong", path: Path) -> None:
    _Writer(song).write(path)


def render_midi(mid: Path, wav: Path, sample_rate: int) -> None:
    if shutil.which("fluidsynth") is None or not SOUNDFONT.exists():
        raise RuntimeError("fluidsynth and the GM soundfont are needed: apt install fluidsynth fluid-soundfont-gm")
    subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.45", "-r", str(sample_rate), "-F", str(wav),
                    str(SOUNDFONT), str(mid)], check=True, capture_output=True)
