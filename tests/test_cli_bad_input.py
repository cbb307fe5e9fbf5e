"""`topline generate` refuses bad input before any model loads: a clear message naming the file,
a hint saying what to fix, exit code 2, and no output file left behind."""
from __future__ import annotations

from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf

from host_bridge.cli import main


def _melody(path: Path, notes=((60, 480), (62, 480), (64, 960)), channel: int = 0, tempo: int | None = 500000) -> Path:
    mf = mido.MidiFile(ticks_per_beat=480)
    tr = mido.MidiTrack()
    mf.tracks.append(tr)
    if tempo is not None:
        tr.append(mido.MetaMessage("set_tempo", tempo=tempo))
    for pitch, dur in notes:
        tr.append(mido.Message("note_on", note=pitch, velocity=90, channel=channel, time=0))
        tr.append(mido.Message("note_off", note=pitch, velocity=0, channel=channel, time=dur))
    mf.save(str(path))
    return path


@pytest.fixture
def good(tmp_path):
    inst = tmp_path / "inst.wav"
    sf.write(inst, np.zeros((48000 * 3, 2), np.float32), 48000)
    lyr = tmp_path / "lyrics.txt"
    lyr.write_text("sing a song\n", encoding="utf-8")
    mid = _melody(tmp_path / "melody.mid")
    return {"--instrumental": str(inst), "--lyrics": str(lyr), "--melody": str(mid), "--out": str(tmp_path / "out" / "take.wav")}


def _run(args: dict[str, str], capsys) -> tuple[int, str]:
    argv = ["generate"]
    for k, v in args.items():
        argv += [k, v]
    code = main(argv)
    return code, capsys.readouterr().err


def _bad_file(tmp_path, name, writer):
    p = tmp_path / name
    writer(p)
    return str(p)


CASES = {
    "empty_audio": ("--instrumental", lambda p: p.write_bytes(b""), "empty"),
    "garbage_audio": ("--instrumental", lambda p: p.write_bytes(b"not audio at all" * 100), "cannot read"),
    "zero_length_audio": ("--instrumental", lambda p: sf.write(p, np.zeros((0, 1), np.float32), 48000), "0 samples"),
    "nan_audio": ("--instrumental", lambda p: sf.write(p, np.full((4800, 1), np.nan, np.float32), 48000, subtype="FLOAT"), "NaN"),
    "six_channels": ("--instrumental", lambda p: sf.write(p, np.zeros((4800, 6), np.float32), 48000), "6 channels"),
    "8k_audio": ("--instrumental", lambda p: sf.write(p, np.zeros((8000, 1), np.float32), 8000), "8000 Hz"),
    "192k_audio": ("--instrumental", lambda p: sf.write(p, np.zeros((19200, 1), np.float32), 192000), "192000 Hz"),
    "empty_lyrics": ("--lyrics", lambda p: p.write_text("  \n\n", encoding="utf-8"), "empty"),
    "binary_lyrics": ("--lyrics", lambda p: p.write_bytes(bytes(range(256)) * 20), "binary"),
    "punctuation_only_lyrics": ("--lyrics", lambda p: p.write_text("... !!! ---\n", encoding="utf-8"), "no words"),
    "corrupt_midi": ("--melody", lambda p: p.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x02garbage"), "not a readable"),
    "midi_without_notes": ("--melody", lambda p: _melody(p, notes=()), "no notes"),
    "drums_only_midi": ("--melody", lambda p: _melody(p, channel=9), "only drum"),
    "missing_midi": ("--melody", lambda p: None, "does not exist"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_refused_with_the_file_named_and_nothing_written(tmp_path, good, capsys, case):
    opt, writer, needle = CASES[case]
    suffix = {"--instrumental": ".wav", "--lyrics": ".txt", "--melody": ".mid"}[opt]
    args = dict(good)
    args[opt] = _bad_file(tmp_path, f"bad_{case}{suffix}", writer)
    code, err = _run(args, capsys)
    assert code == 2
    assert needle in err
    assert f"bad_{case}" in err, "the message must name the file"
    assert "fix:" in err
    assert not (tmp_path / "out").exists()


def test_unknown_artist_lists_the_known_ones(good, capsys, tmp_path):
    args = dict(good, **{"--artist": "nobody"})
    code, err = _run(args, capsys)
    assert code == 2 and "unknown artist 'nobody'" in err and "alpha" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("tempo", ["0", "-120", "abc"])
def test_non_positive_tempo_is_refused(good, capsys, tempo):
    with pytest.raises(SystemExit) as e:
        main(["generate", *sum(([k, v] for k, v in good.items()), []), "--tempo", tempo])
    assert e.value.code == 2
    assert "tempo" in capsys.readouterr().err


def test_output_must_be_a_wav(good, capsys):
    code, err = _run(dict(good, **{"--out": str(Path(good["--out"]).with_suffix(".mp3"))}), capsys)
    assert code == 2 and ".wav" in err
