"""`topline compose` / `topline analyze` with the session's tempo map from a MIDI file, the plan
as JSON and as a picture (issue 17)."""
from __future__ import annotations

import json
from pathlib import Path

import mido
import pytest
import soundfile as sf

from host_bridge.cli import main
from tests.synth_music import POP, render

pytestmark = pytest.mark.usefixtures("cli_sidecar")  # CLI commands run on a sidecar of the module's own

BPM = 97.3
LYRICS = "[Verse]\nhello there my friend\nsing along with me\n[Chorus]\nla la la la\nhere we go\n"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli_form")
    wav = d / "mix.wav"
    sf.write(str(wav), render(POP * 3, bpm=BPM, meter=(3, 4), sr=44100).T, 44100)
    mid = mido.MidiFile(ticks_per_beat=480)
    tr = mido.MidiTrack()
    tr.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(BPM), time=0))
    tr.append(mido.MetaMessage("time_signature", numerator=3, denominator=4, time=0))
    mid.tracks.append(tr)
    mid.save(str(d / "map.mid"))
    (d / "lyrics.txt").write_text(LYRICS, encoding="utf-8")
    return {"wav": wav, "map": d / "map.mid", "lyrics": d / "lyrics.txt", "dir": d}


def test_tempo_fed_from_a_midi_map_is_used_exactly(files, capsys) -> None:
    rc = main(["analyze", str(files["wav"]), "--tempo-map", str(files["map"]), "--json"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    assert d["tempo_bpm"] == round(mido.tempo2bpm(mido.bpm2tempo(BPM)), 2) and d["meter"] == "3/4"
    assert d["beat_source"] == "tempo_map"


def test_compose_prints_its_plan_as_json_and_draws_it(files, capsys) -> None:
    out, png = files["dir"] / "melody.mid", files["dir"] / "plan.png"
    rc = main(["compose", "--instrumental", str(files["wav"]), "--lyrics", str(files["lyrics"]), "--tempo-map",
               str(files["map"]), "--out", str(out), "--picture", str(png), "--json"])
    assert rc == 0
    text = capsys.readouterr().out
    plan = json.loads(text[text.index("{"):text.rindex("}") + 1])
    assert plan["meter"] == "3/4" and plan["tempo_bpm"] == pytest.approx(BPM, abs=1e-3)
    assert [s["name"] for s in plan["lyric_sections"]] == ["Verse", "Chorus"]
    assert len(plan["lines"]) == 4 and all(0.5 <= ln["syllables_per_s"] <= 6.0 for ln in plan["lines"])
    bar_s = 3 * 60.0 / BPM       # the lyric sections start on bars of the MIDI map
    assert all(abs(s["start_s"] - (s["first_bar"] - 1) * bar_s) < 1e-3 for s in plan["lyric_sections"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_analyze_draws_the_plan_of_a_lyrics_sheet(files, capsys) -> None:
    png = files["dir"] / "analysis.png"
    rc = main(["analyze", str(files["wav"]), "--lyrics", str(files["lyrics"]), "--picture", str(png), "--json"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out.split("\nwrote ")[0])
    assert len(d["plan"]["lines"]) == 4
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_tempo_map_and_a_tempo_together_are_refused(files, capsys) -> None:
    rc = main(["analyze", str(files["wav"]), "--tempo-map", str(files["map"]), "--tempo", "120"])
    assert rc == 2
    assert "--tempo-map was given with --tempo" in capsys.readouterr().err


def test_generate_without_a_melody_takes_tempo_and_meter(files) -> None:
    from host_bridge.core.errors import InputError
    from host_bridge.jobfiles import spec_from_files

    spec = spec_from_files(files["wav"], files["lyrics"], None, tempo=BPM, meter=(3, 4))
    assert spec.tempo_map is not None and spec.tempo_map.tempos[0].bpm == BPM
    assert (spec.tempo_map.meters[0].numerator, spec.tempo_map.meters[0].denominator) == (3, 4)
    with pytest.raises(InputError, match="--meter was given without --tempo"):
        spec_from_files(files["wav"], files["lyrics"], None, meter=(3, 4))


def test_generate_without_a_melody_takes_the_sessions_tempo_map(files) -> None:
    from host_bridge.core.errors import InputError
    from host_bridge.jobfiles import spec_from_files

    spec = spec_from_files(files["wav"], files["lyrics"], None, tempo_map_midi=files["map"])
    assert spec.tempo_map is not None and spec.tempo_map.tempos[0].bpm == pytest.approx(BPM, abs=1e-3)
    assert spec.tempo_map.meters[0].numerator == 3
    with pytest.raises(InputError, match="--tempo-map was given with --tempo"):
        spec_from_files(files["wav"], files["lyrics"], None, tempo=120.0, tempo_map_midi=files["map"])
