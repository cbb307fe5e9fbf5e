"""The benchmark songs: the project's own, defined in code.

Each :class:`Song` carries its tempo map (tempo and meter changes), sample rate, chords and a
guide melody written line by line with its lyrics (one syllable per note, ``~`` marks a note
that continues the previous syllable: a melisma). The instrumental is synthesised when the
benchmark runs (fluidsynth + the Debian GM soundfont, or a plain numpy synth when fluidsynth is
missing); nothing audio is stored. :func:`write_song` puts a song into a folder as the CLI reads
it: ``melody.mid`` (with set_tempo and time_signature), ``lyrics.txt`` and ``instrumental.wav``.

Melody notation: ``"E4:1 G4:.5 ~A4:.5 r:1"`` = pitch:length in quarter notes, ``r`` a rest.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import mido
import numpy as np
import soundfile as sf

from host_bridge.core.model import MeterChange, TempoChange, TempoMap

log = logging.getLogger(__name__)

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
TPQ = 480
_NAMES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def midi_of(name: str) -> int:
    m = re.fullmatch(r"([A-G])([#b]?)(-?\d)", name)
    if not m:
        raise ValueError(f"bad note name {name!r}")
    return 12 * (int(m.group(3)) + 1) + _NAMES[m.group(1)] + {"#": 1, "b": -1, "": 0}[m.group(2)]


@dataclass(frozen=True)
class SongNote:
    onset: float
    """qn from bar 1."""
    duration: float
    pitch: int
    syllable: str
    """'' = melisma (continues the previous syllable)."""
    line: int
    word_continues: bool = False
    """The syllable's word goes on at the next syllable (``pur-`` of ``pur-ple``)."""


@dataclass(frozen=True)
class Line:
    section: str
    lyrics: str
    """Words; hyphens mark syllable splits (``pur-ple``)."""
    melody: str


@dataclass(frozen=True)
class Song:
    name: str
    title: str
    sample_rate: int
    tempos: tuple[tuple[float, float], ...]
    """(qn, bpm) pairs."""
    meters: tuple[tuple[int, int, int], ...]
    """(bar, numerator, denominator)."""
    chords: tuple[str, ...]
    """One entry per bar from bar 1; ``"Am G"`` splits the bar in two."""
    lines: tuple[Line, ...]
    melody_start_bar: int = 2
    unguessable: bool = False
    """Lyrics no language model could complete from memory."""
    description: str = ""
    language: str = "en-us"
    """The lyrics' language (a ``[Language: xx]`` line heads the sheet when it is not en-us)."""
    held_out: bool = False
    """Never used to tune the singer: reported apart from the songs the rules were tuned on."""
    programs: dict[str, int] = field(default_factory=lambda: {"pad": 89, "bass": 33, "keys": 0})

    # ------------------------------------------------------------------ derived
    @property
    def tempo_map(self) -> TempoMap:
        return TempoMap(tuple(TempoChange(q, b) for q, b in self.tempos),
                        tuple(MeterChange(b, n, d) for b, n, d in self.meters))

    @property
    def bars(self) -> int:
        return len(self.chords)

    @property
    def end_qn(self) -> float:
        return self.tempo_map.qn_at_bar(self.bars + 1)

    @property
    def length_samples(self) -> int:
        """The instrumental's length: all bars plus a 0.5 s tail."""
        return int(round((self.tempo_map.seconds_at(self.end_qn) + 0.5) * self.sample_rate))

    @property
    def duration_s(self) -> float:
        return self.length_samples / self.sample_rate

    def notes(self) -> list[SongNote]:
        out: list[SongNote] = []
        pos = self.tempo_map.qn_at_bar(self.melody_start_bar)
        for li, ln in enumerate(self.lines):
            syls = [(s, i < len(w.split("-")) - 1) for w in ln.lyrics.split() for i, s in enumerate(w.split("-"))]
            k = 0
            for tok in ln.melody.split():
                p, d = tok.split(":")
                dur = float(d)
                if p != "r":
                    melisma = p.startswith("~")
                    if melisma:
                        syl, cont = "", False
                    else:
                        if k >= len(syls):
                            raise ValueError(f"{self.name} line {li + 1}: more notes than syllables")
                        (syl, cont), k = syls[k], k + 1
                    out.append(SongNote(pos, dur, midi_of(p.lstrip("~")), syl, li, cont))
                pos += dur
            if k != len(syls):
                raise ValueError(f"{self.name} line {li + 1}: {len(syls)} syllables, {k} notes carry one")
        if pos > self.end_qn + 1e-9:
            raise ValueError(f"{self.name}: the melody runs past the last bar")
        return out

    def lyrics_text(self) -> str:
        out: list[str] = [f"[Language: {self.language}]"] if self.language != "en-us" else []
        section = None
        for ln in self.lines:
            if ln.section != section:
                if section is not None:
                    out.append("")
                out.append(f"[{ln.section}]")
                section = ln.section
            out.append(ln.lyrics)
        return "\n".join(out) + "\n"

    def pitch_range(self) -> tuple[int, int]:
        ps = [n.pitch for n in self.notes()]
        return min(ps), max(ps)


# ---------------------------------------------------------------------------------------- the set
SONGS: dict[str, Song] = {}


def _add(song: Song) -> None:
    song.notes()  # validate syllables vs notes now
    SONGS[song.name] = song


_add(Song(
    "lanterns", "Light the Lanterns", 44_100, ((0.0, 92.0),), ((1, 4, 4),),
    ("C", "C", "G", "Am", "F", "C", "G", "F", "C", "C"),
    (Line("Verse", "Light the lan-terns on the hill", "E4:1 E4:.5 G4:.5 G4:1 E4:1 D4:1 D4:1 ~B3:1 r:1"),
     Line("Verse", "Call the ri-ver by its name", "C4:1 C4:.5 E4:.5 E4:1 D4:1 C4:1 A3:2 r:1"),
     Line("Chorus", "Sing un-til the morn-ing comes", "G4:1.5 E4:.5 E4:1 C4:1 D4:1 B3:1 D4:1.5 r:.5"),
     Line("Chorus", "Home is where the em-bers glow", "A3:1 C4:.5 F4:.5 F4:1 D4:1 E4:1 C4:2 r:1")),
    description="4/4 at 92 BPM, 44.1 kHz, plain lyrics, range 57-67"))

_add(Song(
    "purple_lemons", "Purple Lemons", 48_000, ((0.0, 120.0),), ((1, 3, 4),),
    ("G", "G", "C", "D", "Em", "C", "D", "G", "Em", "Am", "C", "D", "G", "G"),
    (Line("Verse", "Pur-ple lem-ons dance at night", "D4:1 G4:1 G4:1 E4:1 E4:1 C4:1 D4:2 r:1"),
     Line("Verse", "Sev-en ket-tles hum in blue", "B3:1 E4:1 G4:1 G4:1 E4:1 C4:1 F#4:2 r:1"),
     Line("Verse", "Qui-et door-knobs learn to swim", "G4:1 D4:1 B3:1 E4:1 G4:1 E4:1 C4:2 r:1"),
     Line("Verse", "Mar-ble pi-geons bor-row rain", "C4:1 E4:1 G4:1 F#4:1 D4:1 A3:1 B3:2 r:1")),
    unguessable=True, description="3/4 at 120 BPM, 48 kHz, unguessable lyrics"))

_add(Song(
    "copper_tide", "Copper Tide", 96_000, ((0.0, 105.0),), ((1, 6, 8),),
    ("D", "D", "G", "Bm", "A", "G", "D", "A", "D", "D"),
    (Line("Verse", "Cop-per tur-tles bake the moon", "A3:1 D4:.5 F#4:1 E4:.5 D4:1 B3:.5 D4:1 r:.5"),
     Line("Verse", "Vel-vet lad-ders whis-per seeds", "F#4:1 F#4:.5 D4:1 B3:.5 C#4:1 E4:.5 C#4:1 r:.5"),
     Line("Verse", "Or-ange win-dows chew the fog", "G4:1 G4:.5 D4:1 B3:.5 A3:1 D4:.5 F#4:1 r:.5"),
     Line("Verse", "Ti-ny cas-tles fold like soup", "E4:1 C#4:.5 A3:1 C#4:.5 E4:1 E4:.5 D4:1 r:.5")),
    unguessable=True, description="6/8 (dotted quarter 70), 96 kHz, unguessable lyrics"))

_add(Song(
    "quick_step", "Quick Step", 44_100, ((0.0, 138.0),), ((1, 4, 4),),
    ("F", "F", "C", "Dm", "Bb", "F", "C", "Bb C", "F", "F"),
    (Line("Verse", "Hur-ry up and grab your coat and find the door",
          "C4:.5 D4:.5 F4:.5 F4:.5 G4:.5 F4:.5 E4:.5 C4:.5 E4:.5 D4:.5 E4:2 r:1"),
     Line("Verse", "Ev-ery-bo-dy's wait-ing down be-side the car",
          "D4:.5 D4:.5 F4:.5 D4:.5 A3:.5 A3:.5 D4:.5 F4:.5 F4:.5 D4:.5 Bb3:2 r:1"),
     Line("Chorus", "Turn the ra-di-o up high and sing a-long with me",
          "C4:.5 C4:.5 F4:.5 F4:.5 E4:.5 F4:.5 G4:.5 F4:.5 E4:.5 D4:.5 C4:.5 D4:.5 E4:2"),
     Line("Chorus", "We will make it there on time if we just go",
          "Bb3:.5 Bb3:.5 D4:.5 F4:.5 C4:.5 E4:.5 G4:.5 G4:.5 F4:.5 E4:.5 F4:2 r:1")),
    description="4/4 at 138 BPM, eighth notes, 44.1 kHz"))

_add(Song(
    "high_bridge", "High Bridge", 48_000, ((0.0, 84.0), (20.0, 100.0)), ((1, 4, 4),),
    ("C", "C", "F", "Am", "G", "F", "G", "Am G", "C", "C"),
    (Line("Verse", "Paint the sky a pa-ler shade", "E4:1 G4:.5 C5:1.5 B4:1 A4:1 G4:1 A4:1.5 r:.5"),
     Line("Verse", "Keep the ket-tle on for me", "E4:1 A4:.5 C5:1.5 B4:1 B4:1 A4:1 G4:1.5 r:.5"),
     Line("Chorus", "High-er than the roof-tops go", "C5:1 D5:.5 E5:1.5 D5:1 D5:1 B4:1 D5:1.5 r:.5"),
     Line("Chorus", "Car-ry ev-ery ech-o home", "E5:1 C5:1 D5:1 B4:1 C5:1 D5:1 C5:1.5 r:.5")),
    description="4/4, 84 -> 100 BPM at bar 6, 48 kHz, melody up to MIDI 76"))

_add(Song(
    "glass_bananas", "Glass Bananas", 44_100, ((0.0, 110.0),), ((1, 4, 4),),
    ("Am", "Am", "F", "C", "G", "Am", "F", "G", "Am", "Am"),
    (Line("Verse", "Glass ba-na-nas sing to bricks", "A3:1 C4:.5 E4:.5 E4:1 D4:1 C4:1 A3:2 r:1"),
     Line("Verse", "Hun-gry clocks for-get their feet", "C4:1 E4:.5 G4:.5 G4:1 E4:1 D4:1 B3:2 r:1"),
     Line("Verse", "Sil-ver on-ions ride the wind", "E4:1 E4:.5 C4:.5 A3:1 C4:1 F4:1 C4:2 r:1"),
     Line("Verse", "Pa-per whales col-lect the snow", "D4:1 D4:.5 B3:.5 G3:1 B3:1 C4:1 A3:2 r:1")),
    unguessable=True, description="4/4 at 110 BPM, 44.1 kHz, unguessable lyrics"))

# Tuning songs for the Romance languages (the held-out ones below are never tuned on).
_add(Song(
    "gato_dorado", "El Dragón de Sal", 48_000, ((0.0, 100.0),), ((1, 4, 4),),
    ("Am", "Am", "Dm", "G", "C", "Am", "Dm", "E", "Am", "F", "G", "C", "E", "Am"),
    (Line("Verso", "El dra-gón de-ja su ca-ma", "E4:1 A4:.5 B4:.5 C5:1 B4:1 A4:1 G4:1 A4:2 r:4"),
     Line("Verso", "La bo-ti-ja bai-la so-la", "C5:1 B4:.5 A4:.5 G4:1 A4:1 F4:1 E4:1 D4:2 r:4"),
     Line("Coro", "Mi ca-ba-llo pin-ta nu-bes", "E4:1 G4:.5 A4:.5 C5:1 B4:1 A4:1 G4:1 E4:2 r:4"),
     Line("Coro", "Tu ven-ta-na co-me u-vas", "F4:1 A4:.5 G4:.5 F4:1 E4:1 D4:1 E4:1 A3:2 r:4")),
    unguessable=True, language="es", description="Spanish tuning song, 4/4 at 100 BPM, spirant b/d/g contexts"))

_add(Song(
    "pomme_grise", "La Pomme Grise", 44_100, ((0.0, 96.0),), ((1, 4, 4),),
    ("C", "C", "F", "G", "C", "Am", "F", "G", "C", "F", "Dm", "G", "C", "C"),
    (Line("Couplet", "La pom-me gri-se lit un pha-re", "C4:1 E4:.5 G4:.5 G4:1 F4:1 E4:1 D4:1 E4:1 C4:1 r:4"),
     Line("Couplet", "Mon vé-lo chan-te sous la pluie", "E4:1 G4:1 A4:1 G4:1 F4:1 E4:1 D4:1 C4:1 r:4"),
     Line("Refrain", "Le ca-nard ven-dait des é-toi-les", "G4:1 A4:.5 G4:.5 E4:1 C4:1 D4:1 E4:1 F4:1 E4:1 r:4"),
     Line("Refrain", "Ma ta-ble rê-ve de fro-ma-ge", "F4:1 E4:.5 D4:.5 C4:1 D4:1 E4:1 D4:1 B3:1 C4:1 r:4")),
    unguessable=True, language="fr", description="French tuning song, 4/4 at 96 BPM, sung mute e"))

# Held out: written after the singing rules were tuned, never used to tune them.
_add(Song(
    "apfelboot", "Das Apfelboot", 48_000, ((0.0, 96.0),), ((1, 4, 4),),
    ("C", "C", "F", "C", "F", "G", "C", "Am", "F G", "C"),
    (Line("Strophe", "Der Ap-fel schläft im gel-ben Boot", "E4:1 E4:.5 G4:.5 A4:1 G4:1 E4:1 D4:1 C4:1 r:1"),
     Line("Strophe", "Die Wol-ken tra-gen blau-en Sand", "F4:1 F4:.5 A4:.5 C5:1 A4:1 G4:1 F4:1 E4:1 r:1"),
     Line("Refrain", "Ein Fen-ster singt für mei-nen Hund", "G4:1 G4:.5 E4:.5 C4:1 E4:1 G4:1 A4:1 G4:1 r:1"),
     Line("Refrain", "Und mor-gen tanzt der Löf-fel-baum", "F4:1 E4:.5 D4:.5 C4:1 D4:1 E4:1 D4:1 C4:1 r:1")),
    unguessable=True, language="de", held_out=True, description="German, 4/4 at 96 BPM, 48 kHz, range 60-72"))

_add(Song(
    "luna_verde", "La Luna Verde", 44_100, ((0.0, 108.0),), ((1, 3, 4),),
    ("Dm", "Dm", "F", "C", "Dm", "A", "Dm", "Gm", "C", "F", "Dm", "A", "Dm", "Dm"),
    (Line("Verso", "La lu-na ver-de co-me pan", "A4:1 A4:1 C5:1 B4:1 A4:1 G4:1 F4:1 E4:1 r:1"),
     Line("Verso", "El ga-to can-ta sin pa-rar", "D4:1 F4:1 A4:1 A4:1 G4:1 F4:1 E4:1 D4:1 r:1"),
     Line("Coro", "Mi som-bre-ro bus-ca el mar", "E4:1 G4:1 B4:1 C5:1 B4:1 A4:1 G4:1 E4:1 r:1"),
     Line("Coro", "Las me-sas bai-lan al com-pás", "F4:1 A4:1 G4:1 F4:1 E4:1 D4:1 E4:1 D4:1 r:1")),
    unguessable=True, language="es", held_out=True, description="Spanish, 3/4 at 108 BPM, 44.1 kHz"))

_add(Song(
    "cobalt_kites", "Cobalt Kites", 48_000, ((0.0, 100.0),), ((1, 4, 4),),
    ("F", "F", "Bb", "F", "Dm", "C", "Bb", "C", "F", "F"),
    (Line("Verse", "Co-balt ki-tes un-fold at dawn", "A4:1 C5:.5 D5:.5 F5:1 E5:1 D5:1 C5:1 A4:1 r:1"),
     Line("Verse", "Sev-en ru-by lan-terns hum-ming", "C5:1 E5:.5 F5:.5 E5:1 D5:1 C5:1 D5:1 E5:1 r:1"),
     Line("Chorus", "Pa-per o-ceans climb the gar-den", "F5:1 E5:.5 D5:.5 C5:1 A4:1 G4:1 A4:1 C5:1 r:1"),
     Line("Chorus", "Sil-ver spoons in-vent the mor-ning", "D5:1 C5:.5 A4:.5 G4:1 E4:1 F4:1 G4:1 F4:1 r:1")),
    unguessable=True, held_out=True,
    description="4/4 at 100 BPM, 48 kHz, a soprano line up to MIDI 77 (F5), unguessable lyrics"))

_add(Song(
    "tin_orchard", "Tin Orchard", 44_100, ((0.0, 126.0),), ((1, 4, 4),),
    ("G", "G", "C", "D", "Em", "C", "G", "D", "G", "G"),
    (Line("Verse", "Hon-est gi-raffes are knit-ting mar-ble soup to-night",
          "G4:.5 G4:.5 A4:.5 B4:.5 D5:.5 B4:.5 A4:.5 G4:.5 A4:.5 B4:.5 A4:.5 G4:2 r:.5"),
     Line("Verse", "Twelve shy tur-nips bor-row lad-ders from the pale moon",
          "B4:.5 B4:.5 C5:.5 D5:.5 E5:.5 D5:.5 C5:.5 B4:.5 A4:.5 B4:.5 C5:.5 A4:2 r:.5"),
     Line("Chorus", "Gen-tle an-chors whis-tle un-der soft pur-ple snow",
          "D5:.5 D5:.5 C5:.5 B4:.5 A4:.5 G4:.5 A4:.5 B4:.5 G4:.5 E4:.5 F#4:.5 G4:2 r:.5"),
     Line("Chorus", "My pock-et holds a tram-po-line of cop-per glue",
          "E4:.5 G4:.5 A4:.5 B4:.5 A4:.5 G4:.5 E4:.5 D4:.5 E4:.5 G4:.5 A4:.5 G4:2 r:.5")),
    unguessable=True, held_out=True, description="4/4 at 126 BPM, eighth-note lines, 44.1 kHz, unguessable lyrics"))


# Short held-out songs in the other languages the singer sings (the per-artist table, artists.py).
_add(Song(
    "chaise_bleue", "La Chaise Bleue", 44_100, ((0.0, 100.0),), ((1, 4, 4),),
    ("C", "C", "Am", "F", "G", "C", "C"),
    (Line("Couplet", "La chai-se bleu-e mange un na-vi-re", "E4:1 G4:.5 A4:.5 G4:1 E4:1 D4:1 E4:.5 F4:.5 E4:1 D4:1"),
     Line("Couplet", "Le pia-no dort sous la ri-viè-re", "C4:1 E4:.5 G4:.5 A4:1 G4:1 F4:1 E4:1 D4:1 C4:1")),
    unguessable=True, language="fr", held_out=True, description="French, 4/4 at 100 BPM"))

_add(Song(
    "gatto_viola", "Il Gatto Viola", 48_000, ((0.0, 96.0),), ((1, 4, 4),),
    ("F", "F", "Bb", "C", "Dm", "F", "F"),
    (Line("Strofa", "Il gat-to vio-la cu-ci-na la lu-na", "F4:1 A4:.5 C5:.5 A4:1 G4:1 F4:.5 G4:.5 A4:1 G4:1 F4:1 E4:1"),
     Line("Strofa", "La se-dia can-ta sot-to il ma-re", "C4:1 F4:.5 G4:.5 A4:1 C5:1 A4:.5 G4:.5 F4:1 E4:1 F4:1")),
    unguessable=True, language="it", held_out=True, description="Italian, 4/4 at 96 BPM"))

_add(Song(
    "janela_azul", "Janela Azul", 44_100, ((0.0, 92.0),), ((1, 4, 4),),
    ("G", "G", "Em", "C", "D", "G", "G"),
    (Line("Verso", "A ja-ne-la a-zul can-ta pa-ra o pão", "D4:.5 G4:.5 A4:.5 B4:1 D5:.5 B4:1 A4:.5 G4:.5 A4:.5 B4:.5 A4:1 G4:1"),
     Line("Verso", "O bar-co dor-me no meu cha-péu", "B3:1 D4:.5 G4:.5 A4:1 B4:1 A4:1 G4:1 D4:1 G4:1")),
    unguessable=True, language="pt-br", held_out=True, description="Brazilian Portuguese, 4/4 at 92 BPM"))


# ---------------------------------------------------------------------------------------- MIDI
def _q(qn: float) -> int:
    return int(round(qn * TPQ))


def _abs_to_track(events: list[tuple[int, int, mido.Message | mido.MetaMessage]], name: str) -> mido.MidiTrack:
    tr = mido.MidiTrack()
    tr.append(mido.MetaMessage("track_name", name=name, time=0))
    now = 0
    for tick, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
        tr.append(msg.copy(time=tick - now))
        now = tick
    tr.append(mido.MetaMessage("end_of_track", time=0))
    return tr


def conductor_track(song: Song) -> mido.MidiTrack:
    tm = song.tempo_map
    ev: list[tuple[int, int, mido.Message | mido.MetaMessage]] = []
    for t in tm.tempos:
        ev.append((_q(t.qn), 0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(t.bpm), time=0)))
    for m in tm.meters:
        ev.append((_q(tm.qn_at_bar(m.bar)), 0, mido.MetaMessage(
            "time_signature", numerator=m.numerator, denominator=m.denominator, time=0)))
    return _abs_to_track(ev, song.title)


def melody_midi(song: Song, lyric_events: bool = False) -> mido.MidiFile:
    """The guide melody: conductor track (tempo, meter) + one melody track."""
    mf = mido.MidiFile(type=1, ticks_per_beat=TPQ)
    mf.tracks.append(conductor_track(song))
    ev: list[tuple[int, int, mido.Message | mido.MetaMessage]] = [(0, 0, mido.Message("program_change", program=53))]
    for n in song.notes():
        a, b = _q(n.onset), _q(n.onset + n.duration)
        if lyric_events:  # canonical tokens (host_bridge.core.midi): "pur-" continues, "+" melisma
            tok = "+" if not n.syllable else n.syllable + ("-" if n.word_continues else "")
            ev.append((a, 1, mido.MetaMessage("lyrics", text=tok, time=0)))
        ev.append((a, 2, mido.Message("note_on", note=n.pitch, velocity=90)))
        ev.append((b, 0, mido.Message("note_off", note=n.pitch, velocity=0)))
    mf.tracks.append(_abs_to_track(ev, "Melody"))
    return mf


_CHORD_Q = {"": (0, 4, 7), "m": (0, 3, 7), "7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11), "m7": (0, 3, 7, 10),
            "sus4": (0, 5, 7), "sus2": (0, 2, 7)}


def chord_pitches(symbol: str) -> tuple[int, list[int]]:
    """'Am' -> (bass MIDI pitch, chord tones around middle C)."""
    m = re.fullmatch(r"([A-G][#b]?)(maj7|m7|sus4|sus2|m|7)?", symbol)
    if not m:
        raise ValueError(f"bad chord {symbol!r}")
    root = midi_of(m.group(1) + "3")
    root = root if root < 55 else root - 12  # bass roots E2..D#3 region, pads around C4
    tones = [root + 12 + i for i in _CHORD_Q[m.group(2) or ""]]
    tones = [t + 12 if t < 55 else t for t in tones]
    return root, sorted(tones)


def _beats(song: Song, bar: int) -> tuple[float, list[float]]:
    """(bar length qn, beat offsets qn): compound meters beat in dotted quarters."""
    m = song.tempo_map.meter_at_bar(bar)
    if m.denominator == 8 and m.numerator % 3 == 0:
        beat = 1.5
    else:
        beat = 4.0 / m.denominator
    n = int(round(m.bar_qn / beat))
    return m.bar_qn, [i * beat for i in range(n)]


def backing_midi(song: Song, drums: bool = True, arpeggio: bool = True) -> mido.MidiFile:
    """The instrumental: pad chords, bass on the strong beats, a soft arpeggio, simple drums."""
    tm = song.tempo_map
    mf = mido.MidiFile(type=1, ticks_per_beat=TPQ)
    mf.tracks.append(conductor_track(song))
    pad: list[tuple[int, int, mido.Message | mido.MetaMessage]] = [
        (0, 0, mido.Message("program_change", channel=0, program=song.programs["pad"]))]
    bass: list[tuple[int, int, mido.Message | mido.MetaMessage]] = [
        (0, 0, mido.Message("program_change", channel=1, program=song.programs["bass"]))]
    keys: list[tuple[int, int, mido.Message | mido.MetaMessage]] = [
        (0, 0, mido.Message("program_change", channel=2, program=song.programs["keys"]))]
    dr: list[tuple[int, int, mido.Message | mido.MetaMessage]] = []

    def note(ev: list, ch: int, pitch: int, a: float, b: float, vel: int) -> None:  # type: ignore[type-arg]
        ev.append((_q(a), 2, mido.Message("note_on", channel=ch, note=pitch, velocity=vel)))
        ev.append((_q(b), 0, mido.Message("note_off", channel=ch, note=pitch, velocity=0)))

    last = len(song.chords)
    for bar, sym in enumerate(song.chords, start=1):
        start = tm.qn_at_bar(bar)
        bar_qn, beats = _beats(song, bar)
        parts = sym.split()
        seg = bar_qn / len(parts)
        for k, ch_sym in enumerate(parts):
            a = start + k * seg
            root, tones = chord_pitches(ch_sym)
            for t in tones:
                note(pad, 0, t, a, a + seg, 52 if bar < last else 40)
            for bi, off in enumerate(beats):
                if k * seg <= off < (k + 1) * seg:
                    p = root if bi % 2 == 0 else root + 7
                    note(bass, 1, p, start + off, start + off + min(seg, beats[1] if len(beats) > 1 else bar_qn) * 0.9,
                         78 if bi == 0 else 64)
            if arpeggio and bar < last:
                step = 0.5 if seg >= 1.5 else seg / 2
                arp = tones + [tones[0] + 12]
                i, t = 0, a
                while t < a + seg - 1e-6:
                    note(keys, 2, arp[i % len(arp)] + 12, t, t + step * 0.9, 42)
                    t += step
                    i += 1
        if drums and bar < last:
            nb = len(beats)
            for bi, off in enumerate(beats):
                t = start + off
                if bi == 0 or (nb == 4 and bi == 2):
                    note(dr, 9, 36, t, t + 0.25, 90 if bi == 0 else 78)  # kick
                elif (nb in (2, 4) and bi % 2 == 1) or (nb == 3 and bi == 2):
                    note(dr, 9, 38, t, t + 0.25, 62)  # backbeat
            h, t = 0.5, start
            while t < start + bar_qn - 1e-6:
                note(dr, 9, 42, t, t + 0.2, 40)
                t += h
    if last >= 1:  # final chord rings
        start = tm.qn_at_bar(last)
        note(bass, 1, chord_pitches(song.chords[-1].split()[-1])[0], start, start + _beats(song, last)[0], 70)
        note(dr, 9, 49, start, start + 1.0, 50)  # crash
    mf.tracks.append(_abs_to_track(pad, "Pad"))
    mf.tracks.append(_abs_to_track(bass, "Bass"))
    mf.tracks.append(_abs_to_track(keys, "Keys"))
    if drums:
        mf.tracks.append(_abs_to_track(dr, "Drums"))
    return mf


# ---------------------------------------------------------------------------------------- audio
def fluidsynth_available() -> bool:
    return shutil.which("fluidsynth") is not None and SOUNDFONT.is_file()


def render_midi(mf: mido.MidiFile, sample_rate: int, length_samples: int, gain: float = 0.5,
                reverb: bool = True) -> np.ndarray:
    """Render a MIDI file with fluidsynth + the GM soundfont. float32 [2, length_samples]."""
    with tempfile.TemporaryDirectory() as td:
        mid, wav = os.path.join(td, "in.mid"), os.path.join(td, "out.wav")
        mf.save(mid)
        cmd = ["fluidsynth", "-ni", "-q", "-g", str(gain), "-r", str(sample_rate), "-O", "float", "-T", "wav",
               "-R", "1" if reverb else "0", "-C", "0", "-F", wav, str(SOUNDFONT), mid]
        subprocess.run(cmd, check=True, capture_output=True, timeout=300)
        y, sr = sf.read(wav, dtype="float32", always_2d=True)
    assert sr == sample_rate, (sr, sample_rate)
    y = y.T
    out = np.zeros((y.shape[0], length_samples), np.float32)
    n = min(length_samples, y.shape[1])
    out[:, :n] = y[:, :n]
    return out


def render_numpy(song: Song) -> np.ndarray:
    """Fallback instrumental without fluidsynth: soft additive chord pads and a bass. float32 [1, T]."""
    sr, tm = song.sample_rate, song.tempo_map
    y = np.zeros(song.length_samples, np.float64)
    for bar, sym in enumerate(song.chords, start=1):
        a_qn = tm.qn_at_bar(bar)
        bar_qn, _ = _beats(song, bar)
        parts = sym.split()
        for k, c in enumerate(parts):
            a = tm.seconds_at(a_qn + k * bar_qn / len(parts))
            b = tm.seconds_at(a_qn + (k + 1) * bar_qn / len(parts))
            i0, i1 = int(a * sr), min(len(y), int(b * sr))
            t = np.arange(i1 - i0) / sr
            env = np.minimum(1, t / 0.05) * np.minimum(1, (b - a - t) / 0.05)
            root, tones = chord_pitches(c)
            for p in tones + [root]:
                f = 440 * 2 ** ((p - 69) / 12)
                y[i0:i1] += 0.05 * env * (np.sin(2 * np.pi * f * t) + 0.3 * np.sin(4 * np.pi * f * t))
    return y.astype(np.float32)[None, :]


def instrumental(song: Song) -> np.ndarray:
    """The song's instrumental at its sample rate and exact length, float32 [C, T], peak -3 dBFS."""
    if fluidsynth_available():
        y = render_midi(backing_midi(song), song.sample_rate, song.length_samples)
    else:
        log.warning("fluidsynth or %s missing: using the plain numpy synth", SOUNDFONT)
        y = render_numpy(song)
    peak = float(np.max(np.abs(y)))
    if peak > 0:
        y *= 10 ** (-3 / 20) / peak
    return y.astype(np.float32)


def write_song(song: Song, folder: Path, lyric_events: bool = False, audio: np.ndarray | None = None
               ) -> dict[str, Path]:
    """Write melody.mid, lyrics.txt and instrumental.wav (24-bit) into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"melody": folder / "melody.mid", "lyrics": folder / "lyrics.txt",
             "instrumental": folder / "instrumental.wav"}
    melody_midi(song, lyric_events).save(str(paths["melody"]))
    paths["lyrics"].write_text(song.lyrics_text(), encoding="utf-8")
    y = instrumental(song) if audio is None else audio
    sf.write(str(paths["instrumental"]), y.T, song.sample_rate, subtype="PCM_24")
    return paths


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description="Write the benchmark songs as files (melody.mid, lyrics.txt, "
                                             "instrumental.wav) for the CLI.")
    ap.add_argument("out", type=Path)
    ap.add_argument("--songs", default="", help="comma-separated names (default: all)")
    ap.add_argument("--lyric-events", action="store_true", help="also put the syllables in the MIDI file")
    a = ap.parse_args()
    names = [s for s in a.songs.split(",") if s] or list(SONGS)
    for name in names:
        s = SONGS[name]
        p = write_song(s, a.out / name, a.lyric_events)
        lo, hi = s.pitch_range()
        print(f"{name:14s} {s.sample_rate} Hz {s.duration_s:5.1f} s range {lo}-{hi} -> {p['instrumental'].parent}")


if __name__ == "__main__":
    main()
