"""`topline compose` and `topline analyze` end to end on a short synthesised instrumental."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf

from host_bridge.cli import main
from tests.synth_music import POP, render

pytestmark = pytest.mark.usefixtures("cli_sidecar")  # CLI commands run on a sidecar of the module's own

LYRICS = "[Verse]\nhello there my friend\nsing along with me\n[Chorus]\nla la la\n"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli_compose")
    wav = d / "mix.wav"
    sf.write(str(wav), render(POP * 3, bpm=120.0, sr=44100).T, 44100)
    lyr = d / "lyrics.txt"
    lyr.write_text(LYRICS, encoding="utf-8")
    return {"wav": wav, "lyrics": lyr, "dir": d}


def test_compose_writes_an_editable_melody(files, capsys) -> None:
    from host_bridge.core.midi import read_melody

    out = files["dir"] / "melody.mid"
    png = files["dir"] / "melody.png"
    rc = main(["compose", "--instrumental", str(files["wav"]), "--lyrics", str(files["lyrics"]), "--seed", "2",
               "--tempo", "120", "--out", str(out), "--picture", str(png)])
    assert rc == 0
    assert "C major" in capsys.readouterr().out
    mel = read_melody(out)
    assert len([t for t in mel.lyrics if t != "+"]) == 5 + 5 + 3          # "+": a melisma note
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_analyze_prints_tempo_key_chords_and_sections(files, capsys) -> None:
    rc = main(["analyze", str(files["wav"]), "--json"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    assert d["key"] == "C major" and d["meter"] == "4/4"
    assert d["tempo_bpm"] == pytest.approx(120.0, rel=0.02)
    assert [labels for _, labels in d["chords_per_bar"][:4]] == [["C"], ["G"], ["Am"], ["F"]]
    assert d["sections"]


def test_compose_refuses_lyrics_longer_than_the_instrumental(files, capsys) -> None:
    long = files["dir"] / "long.txt"
    long.write_text("\n".join(f"line number {i} goes on and on" for i in range(30)), encoding="utf-8")
    rc = main(["compose", "--instrumental", str(files["wav"]), "--lyrics", str(long), "--tempo", "120",
               "--out", str(files["dir"] / "x.mid")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "lines fit" in err and "shorten the lyrics" in err
    assert not (files["dir"] / "x.mid").exists()


def test_compose_wants_a_midi_output_name(files, capsys) -> None:
    rc = main(["compose", "--instrumental", str(files["wav"]), "--lyrics", str(files["lyrics"]),
               "--out", str(files["dir"] / "melody.wav")])
    assert rc == 2
    assert "melody.mid" in capsys.readouterr().err
