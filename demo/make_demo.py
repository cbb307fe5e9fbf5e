"""Regenerate the bundled demo song: ``instrumental.ogg``, ``lyrics.txt`` and ``melody.mid``.

    .venv/bin/python demo/make_demo.py            # needs fluidsynth + fluid-soundfont-gm

"Kitchen Floor", the project's own song: 4/4 at 96 BPM, 44.1 kHz, C major, a one-bar intro,
then [Verse] (bars 2-9) and [Chorus] (bars 10-14) and a ringing last bar (about 38 s). The guide
melody stays in G3..G4 (MIDI 55-67), the default artist's comfortable range; it starts on bar 2,
beat 1, and every strong-beat note is a tone of the bar's chord. The instrumental (warm pad,
fingered bass, nylon guitar arpeggios, soft drums) is rendered once with fluidsynth and the
General MIDI soundfont, then stored as Ogg Vorbis to stay small.
"""
from __future__ import annotations

import sys
from pathlib import Path

import soundfile as sf

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.songs import Line, Song, instrumental, melody_midi  # noqa: E402

DEMO = Song(
    "demo", "Kitchen Floor", 44_100, ((0.0, 96.0),), ((1, 4, 4),),
    ("C", "C", "Am", "F", "G", "C", "Am", "F G", "C", "F", "G", "Em Am", "F G", "C", "C"),
    (Line("Verse", "Morn-ing light on the kit-chen floor", "E4:1 D4:.5 C4:1 E4:.5 G4:1 E4:1 C4:1 A3:1.5 r:.5"),
     Line("Verse", "Cof-fee warm and the win-dow wide", "F4:1 E4:.5 F4:1 C4:.5 C4:1 D4:1 B3:1 D4:1.5 r:.5"),
     Line("Verse", "Hum the tune I wrote last night", "G4:1 E4:.5 G4:1.5 E4:1 D4:1 C4:1 A3:1.5 r:.5"),
     Line("Verse", "Let it fol-low me out-side", "A3:1 C4:1 B3:1 D4:1 E4:1 D4:1 C4:1.5 r:.5"),
     Line("Chorus", "Sing it high, sing it low", "F4:1 F4:.5 G4:1.5 r:1 D4:1 D4:.5 B3:1.5 r:1"),
     Line("Chorus", "Ev-ery-where the sun-light goes", "E4:1 G4:1 E4:1 C4:1 F4:1.5 E4:.5 D4:2 ~C4:3 r:1")),
    description="the bundled demo", programs={"pad": 89, "bass": 33, "keys": 24})


def main() -> None:
    lo, hi = DEMO.pitch_range()
    assert 55 <= lo and hi <= 67, (lo, hi)
    first = DEMO.notes()[0]
    assert first.onset == DEMO.tempo_map.qn_at_bar(2)
    y = instrumental(DEMO)  # float32 [2, T], peak -3 dBFS
    sf.write(str(HERE / "instrumental.ogg"), y.T, DEMO.sample_rate, format="OGG", subtype="VORBIS",
             compression_level=0.7)
    melody_midi(DEMO).save(str(HERE / "melody.mid"))
    # the sheet as a songwriter types it: no syllable hyphens, the front end syllabifies
    (HERE / "lyrics.txt").write_text(DEMO.lyrics_text().replace("-", ""), encoding="utf-8")
    size = (HERE / "instrumental.ogg").stat().st_size
    print(f"demo: {DEMO.duration_s:.1f} s at {DEMO.sample_rate} Hz, melody MIDI {lo}-{hi}, "
          f"instrumental.ogg {size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
