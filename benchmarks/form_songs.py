"""Whole songs for the composer benchmark (issue 17): instrumentals made the way real songs are,
with their truth (tempo map, sections, a reference melody with lyrics).

Each :class:`FormSong` has a form (intro of 1-8 bars, verses, choruses, a bridge, instrumental
breaks, an outro), a tempo of 60-170 BPM, a meter (4/4, 3/4, 6/8), straight or swung eighths,
drums or none, and strummed / arpeggiated / picked accompaniment; 2-4 minutes long. The
arrangement is written as MIDI (:mod:`benchmarks.form_render`) and rendered with fluidsynth. The
reference melody is written here by rule (a songwriter's habits: a line per 2 or 4 bars starting
on or just before the bar, chord tones on strong beats, held line ends), independently of the
composer under test. Two sets: ``TUNING`` (the analysis and composer may be tuned on it) and
``HELD_OUT`` (only measured).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from host_bridge.core.model import LyricsSheet, MeterChange, TempoChange, TempoMap
from inference.analysis.result import CHORD_INTERVALS, beat_qn, beats_per_bar

SUNG = ("verse", "chorus", "bridge", "pre")
KIND = {"I": "intro", "V": "verse", "C": "chorus", "B": "bridge", "P": "pre", "X": "break", "O": "outro"}

# a pool of lyric lines (new text), drawn from deterministically per song
LINES = (
    "Morning comes in through the broken blind", "I kept your letters in a paper box",
    "The river knows the way back home", "We drove all night to see the sea",
    "Your coat is hanging where you left it", "Nobody told me it would rain",
    "Light a candle in the kitchen", "The station clock has stopped at nine",
    "I can hear the freight train calling", "Tell me something I don't know",
    "Every window in the city burning gold", "Dancing slowly on the wooden floor",
    "Summer fading in the orchard", "I wrote your name across the sky",
    "Walking home beneath the maple trees", "The radio is playing our old song",
    "Hold the ladder while I climb", "Silver bells on the harbour boats",
    "Maybe we were younger then", "Paper moons and painted stars",
    "The wind is singing through the wire", "I will wait for you at the gate",
    "Under the bridge where the lamplight falls", "Count the stars until the dawn",
    "Fields of barley bending low", "You laughed and the whole room turned",
    "Coffee cups and quiet talk", "The mountain holds its winter snow",
    "Carry me over the water", "Shadows running down the hall",
    "All the roads lead back to you", "Sweet honey on the garden wall",
    "I remember how the summer felt", "Little bird upon the wire",
    "Open the door and let it in", "Lanterns swaying in the evening breeze",
    "Nothing ever stays the same", "We were dreaming on the northern line",
    "Rain is falling on the tin roof", "Bring the blankets, bring the wine",
)
CHORUS_LINES = (
    ("Oh, come on home tonight", "The lights are on for you", "Oh, come on home tonight",
     "And I'll be waiting too"),
    ("Sing it out across the valley", "Let the echo bring you back", "Sing it out across the valley",
     "Every step along the track"),
    ("Hey, hey, the night is young", "Hold on to the song we sung", "Hey, hey, the night is young",
     "We are only just begun"),
    ("Fly away, fly away home", "Over the hills where the wild things roam", "Fly away, fly away home",
     "You will never be alone"),
)
BRIDGE_LINES = ("And if the sky should fall tomorrow", "I would hold you just the same",
                "Every word I never told you", "Written in the falling rain")

MAJOR = {"V": ((0, "maj"), (5, "maj"), (9, "min"), (7, "maj")), "C": ((5, "maj"), (0, "maj"), (7, "maj"), (9, "min")),
         "B": ((2, "min"), (7, "7"), (4, "min"), (9, "min")), "P": ((2, "min"), (7, "maj"))}
MINOR = {"V": ((0, "min"), (8, "maj"), (3, "maj"), (10, "maj")), "C": ((5, "min"), (0, "min"), (7, "7"), (0, "min")),
         "B": ((8, "maj"), (10, "maj"), (3, "maj"), (7, "maj")), "P": ((8, "maj"), (7, "7"))}


@dataclass(frozen=True)
class FormSong:
    name: str
    tonic: int
    mode: str
    meter: tuple[int, int]
    tactus_bpm: float
    form: str
    """Sections as letter+bars: ``I4 V8 C8 ...`` (I intro, V verse, C chorus, P pre-chorus,
    B bridge, X instrumental break, O outro)."""
    style: str
    """"strum", "arp", "pick", "ballad" or "pad"."""
    drums: bool
    swing: bool
    seed: int
    lead_in_s: float = 0.3
    intro_from: str = "C"
    """Which progression the intro and outro play."""

    @property
    def tempo_map(self) -> TempoMap:
        bpm = self.tactus_bpm * beat_qn(*self.meter)
        return TempoMap((TempoChange(0.0, bpm),), (MeterChange(1, *self.meter),), self.lead_in_s)

    @property
    def qn_bpm(self) -> float:
        return self.tactus_bpm * beat_qn(*self.meter)

    @property
    def sections(self) -> list[tuple[str, int, int]]:
        """(kind, first bar, last bar), bars 1-based inclusive."""
        out, bar = [], 1
        for tok in self.form.split():
            n = int(tok[1:])
            out.append((KIND[tok[0]], bar, bar + n - 1))
            bar += n
        return out

    @property
    def bars(self) -> int:
        return self.sections[-1][2]

    def chords(self) -> list[tuple[str, tuple[int, str]]]:
        """(section kind, (root pc, quality)) per bar."""
        progs = MAJOR if self.mode == "major" else MINOR
        out = []
        for tok in self.form.split():
            letter, n = tok[0], int(tok[1:])
            src = {"I": self.intro_from, "O": self.intro_from, "X": "V"}.get(letter, letter)
            prog = progs[src]
            for b in range(n):
                r, q = prog[b % len(prog)]
                if letter == "O" and b == n - 1:
                    r, q = 0, "maj" if self.mode == "major" else "min"
                out.append((KIND[letter], ((self.tonic + r) % 12, q)))
        return out

    def bar_seconds(self) -> float:
        return 60.0 / self.qn_bpm * self.tempo_map.meters[0].bar_qn

    def line_bars(self) -> int:
        """Bars per sung line: the power of two that makes a line last closest to ~5.5 s."""
        bs = self.bar_seconds()
        return min((1, 2, 4), key=lambda n: abs(np.log(n * bs / 5.5)))

    def lyrics(self) -> str:
        """The sheet: one line per ``line_bars()`` bars of each sung section; the chorus text is
        the same every time."""
        rng = np.random.default_rng(self.seed)
        pool = list(LINES)
        rng.shuffle(pool)
        chorus = CHORUS_LINES[self.seed % len(CHORUS_LINES)]
        out, counts = [], {"verse": 0}
        for kind, a, b in self.sections:
            if kind not in SUNG:
                continue
            n = max(1, (b - a + 1) // self.line_bars())
            if kind == "verse":
                counts["verse"] += 1
                out.append(f"[Verse {counts['verse']}]")
                out.extend(pool.pop() for _ in range(n))
            elif kind == "chorus":
                out.append("[Chorus]")
                out.extend(chorus[i % len(chorus)] for i in range(n))
            elif kind == "pre":
                out.append("[Pre-Chorus]")
                out.extend(pool.pop() for _ in range(n))
            else:
                out.append("[Bridge]")
                out.extend(BRIDGE_LINES[i % len(BRIDGE_LINES)] for i in range(n))
            out.append("")
        return "\n".join(out)

    def sheet(self) -> LyricsSheet:
        return LyricsSheet.parse(self.lyrics())

    def key_hash(self) -> str:
        return hashlib.sha256(repr(self).encode()).hexdigest()[:12]


@dataclass
class RefNote:
    onset: float
    """qn from bar 1."""
    duration: float
    pitch: int
    line: int


@dataclass
class Reference:
    notes: list[RefNote] = field(default_factory=list)

    def sung_bars(self, tm: TempoMap) -> set[int]:
        out: set[int] = set()
        for n in self.notes:
            b0 = tm.bar_beat_at(n.onset + 1e-6)[0]
            b1 = tm.bar_beat_at(n.onset + n.duration - 1e-6)[0]
            out.update(range(b0, b1 + 1))
        return out


def reference_melody(song: FormSong, syllables_per_line: list[int]) -> Reference:
    """A songwriter's melody for the song's own sheet: each line starts on its bar (a pickup of
    one eighth into it when the line has many syllables), syllables mostly on eighths with a
    longer note on the stressed middle, the last syllable held to the line's last beat."""
    tm = song.tempo_map
    rng = np.random.default_rng(song.seed + 100)
    k = beats_per_bar(*song.meter)
    bq = beat_qn(*song.meter)
    bar_qn = tm.meters[0].bar_qn
    chords = song.chords()
    scale = [(song.tonic + s) % 12 for s in ((0, 2, 4, 5, 7, 9, 11) if song.mode == "major"
                                             else (0, 2, 3, 5, 7, 8, 10))]
    low = 57 + ((song.tonic - 57) % 12)
    pitches = np.array([p for p in range(low - 3, low + 12) if p % 12 in scale])
    ref = Reference()
    line = 0
    lb = song.line_bars()
    for kind, a, b in song.sections:
        if kind not in SUNG:
            continue
        for first in range(a, b + 1 - lb + 1, lb):
            if line >= len(syllables_per_line):
                break
            n = syllables_per_line[line]
            span = lb * bar_qn - bq                       # the last beat is the breath
            unit = 0.5 if n <= span / 0.5 * 0.8 else 0.25
            slots = int(span / unit)
            # positions: even-ish spread over the first ~80 % of the span, last note held
            used = min(slots - 1, max(n - 1, int(round((n - 1) * rng.uniform(1.0, 1.6)))))
            pos = np.round(np.linspace(0, used, n)).astype(int) if n > 1 else np.array([0])
            pos = np.maximum.accumulate(pos + np.arange(n) * 0) if n > 1 else pos
            for i in range(1, n):
                pos[i] = max(pos[i], pos[i - 1] + 1)
            pickup = unit if n > 0.55 * slots and first > a else 0.0
            start = tm.qn_at_bar(first) - pickup
            prev = int(pitches[len(pitches) // 2])
            for i, p in enumerate(pos):
                on = start + p * unit
                end = start + (pos[i + 1] * unit if i + 1 < n else span + pickup)
                bar = tm.bar_beat_at(on + 1e-6)[0]
                root, q = chords[min(bar, len(chords)) - 1][1]
                tones = {(root + iv) % 12 for iv in CHORD_INTERVALS[q]}
                rel = on - tm.qn_at_bar(bar)
                strong = abs(rel / bq - round(rel / bq)) < 1e-6
                cand = [int(x) for x in pitches if (not strong or x % 12 in tones) and abs(int(x) - prev) <= 5]
                if not cand:
                    cand = [int(x) for x in pitches if x % 12 in tones]
                target = prev + int(rng.integers(-2, 3))
                pitch = min(cand, key=lambda x: (abs(x - target), x))
                ref.notes.append(RefNote(float(on), float(end - on), pitch, line))
                prev = pitch
            line += 1
    return ref


def _song(name: str, tonic: int, mode: str, meter: tuple[int, int], bpm: float, form: str, style: str,
          drums: bool, swing: bool, seed: int, **kw: object) -> FormSong:
    return FormSong(name, tonic, mode, meter, bpm, form, style, drums, swing, seed, **kw)  # type: ignore[arg-type]


TUNING = (
    _song("t1_pop_4-4_96", 7, "major", (4, 4), 96, "I4 V8 C8 V8 C8 X8 C8 O4", "strum", True, False, 1),
    _song("t2_waltz_3-4_138", 2, "major", (3, 4), 138, "I4 V16 C16 V16 C16 X8 C16 O4", "arp", False, False, 2),
    _song("t3_hymn_6-8_58", 5, "major", (6, 8), 58, "I2 V8 C8 V8 C8 X8 V8 C8 O2", "pick", False, False, 3),
    _song("t4_swing_4-4_120", 9, "minor", (4, 4), 120, "I8 V8 C8 V8 C8 B8 C8 O4", "ballad", True, True, 4),
    _song("t5_rock_4-4_150", 4, "minor", (4, 4), 150, "I4 V16 C8 V16 C8 X8 C8 C8 O4", "strum", True, False, 5),
    _song("t6_ballad_4-4_68", 0, "major", (4, 4), 68, "I2 V8 C8 V8 C8 O2", "pad", False, False, 6,
          intro_from="V"),
)
HELD_OUT = (
    _song("h1_folk_4-4_92", 2, "major", (4, 4), 92, "I4 V8 C8 V8 C8 B8 C8 O4", "pick", False, False, 11),
    _song("h2_hymn_6-8_64", 10, "major", (6, 8), 64, "I4 V8 C8 V8 C8 X8 V8 C8 C8 O2", "arp", False, False, 12),
    _song("h3_island_4-4_88", 7, "major", (4, 4), 88, "I8 V8 C8 V8 C8 X8 C8 O4", "strum", False, True, 13),
    _song("h4_waltz_3-4_96", 9, "minor", (3, 4), 96, "I4 V16 C16 X8 V16 C16 O4", "ballad", False, False, 14),
    _song("h5_rock_4-4_164", 11, "minor", (4, 4), 164, "I8 V16 C16 V16 C16 B8 C16 O8", "strum", True, False, 15),
    _song("h6_shuffle_4-4_112", 5, "major", (4, 4), 112, "I2 V8 C8 V8 C8 X8 B8 C8 O4", "pick", True, True, 16),
    _song("h7_jig_6-8_100", 0, "major", (6, 8), 100, "I4 V16 C16 V16 C16 B8 C16 O8", "strum", True, False, 17),
    _song("h8_soul_4-4_76", 3, "major", (4, 4), 76, "I1 V8 C8 V8 C8 B4 C8 O2", "ballad", True, True, 18,
          intro_from="V"),
    _song("h9_march_4-4_128", 8, "major", (4, 4), 128, "I4 V8 P4 C8 V8 P4 C8 X8 C8 C8 O4", "arp", True, False, 19),
    _song("h10_lament_3-4_72", 4, "minor", (3, 4), 72, "I3 V8 C8 V8 C8 X6 V8 C8 O3", "pick", False, False, 20),
)


def render_song(song: FormSong, sample_rate: int = 22050, cache: Path | None = None) -> np.ndarray:
    """The instrumental as float32 [2, T] at ``sample_rate`` (cached by the song's definition)."""
    import soundfile as sf

    from benchmarks.form_render import render_midi, write_song_midi

    cache = cache or Path.home() / ".cache" / "topline" / "form_songs"
    wav = cache / f"{song.name}_{song.key_hash()}_{sample_rate}.wav"
    if not wav.exists():
        cache.mkdir(parents=True, exist_ok=True)
        mid = wav.with_suffix(".mid")
        write_song_midi(song, mid)
        render_midi(mid, wav, sample_rate)
    audio, sr = sf.read(str(wav), dtype="float32", always_2d=True)
    assert sr == sample_rate
    return np.ascontiguousarray(audio.T)
