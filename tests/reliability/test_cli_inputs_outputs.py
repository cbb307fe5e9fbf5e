"""Issue 22, the CLI as a new user meets it: inputs are never overwritten, every output problem
is found before rendering, hostile or odd input files are refused with a message naming the
file and the fix (never read whole, never waited on), and limits hold (tempo, notes, length)."""
from __future__ import annotations

import errno
import io
import logging
import os
import time
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf

from host_bridge.cli import main
from host_bridge.core.errors import InputError, LyricsError, MidiError
from host_bridge.core.fileio import folder_write_error
from host_bridge.core.inputs import read_lyrics
from host_bridge.jobfiles import spec_from_files
from host_bridge.core.midi import MAX_NOTES, read_melody
from realsidecar import INTEGRATION  # noqa: F401 (puts tests/integration on the path)
from tone import melody_midi

LYRICS = "[Verse]\nla la la la\nlo lo lo lo\n[Chorus]\nli li li li\nlu lu lu lu\n"


def _midi(notes: list[tuple[float, float]], bpm: float = 120.0) -> bytes:
    """A one-track MIDI file with notes at (onset qn, length qn)."""
    mf = mido.MidiFile(ticks_per_beat=480)
    tr = mido.MidiTrack()
    mf.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)))
    now = 0
    for on, length in notes:
        tr.append(mido.Message("note_on", note=60, velocity=90, time=int(on * 480) - now))
        tr.append(mido.Message("note_off", note=60, velocity=0, time=int(length * 480)))
        now = int((on + length) * 480)
    buf = io.BytesIO()
    mf.save(file=buf)
    return buf.getvalue()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    inst = tmp_path / "song.wav"
    sf.write(inst, np.zeros((12 * 48000, 2), np.float32), 48000, subtype="FLOAT")
    lyr = tmp_path / "lyrics.txt"
    lyr.write_text(LYRICS)
    mel = tmp_path / "guide.mid"
    mel.write_bytes(melody_midi())
    return {"instrumental": inst, "lyrics": lyr, "melody": mel, "cf": tmp_path / "sidecar.json"}


def _generate(files: dict[str, Path], capsys: pytest.CaptureFixture[str], **over: object) -> tuple[int, str]:
    args = {"instrumental": files["instrumental"], "lyrics": files["lyrics"], "melody": files["melody"],
            "out": files["instrumental"].parent / "take.wav", **over}
    argv = ["generate", "--connection-file", str(files["cf"])]
    for k, v in args.items():
        if v is not None:
            argv += [f"--{k}", str(v)]
    rc = main(argv)
    err = capsys.readouterr().err
    assert not files["cf"].exists(), "a sidecar was started: the problem was not found before rendering"
    return rc, err


# ------------------------------------------------------------------------------------- outputs
def test_out_equal_to_the_instrumental_is_refused_before_rendering(files: dict[str, Path],
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    before = files["instrumental"].read_bytes()
    (files["instrumental"].parent / "sub").mkdir()
    for spelling in (files["instrumental"], files["instrumental"].parent / "sub" / ".." / "song.wav"):
        rc, err = _generate(files, capsys, out=spelling)
        assert rc == 2 and "would destroy your instrumental" in err
    assert files["instrumental"].read_bytes() == before


def test_out_hard_link_to_the_instrumental_is_refused(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    link = files["instrumental"].parent / "alias.wav"
    os.link(files["instrumental"], link)
    rc, err = _generate(files, capsys, out=link)
    assert rc == 2 and "instrumental" in err


def test_out_beside_the_guide_midi_would_replace_it_and_is_refused(files: dict[str, Path],
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = _generate(files, capsys, out=files["melody"].with_suffix(".wav"))
    assert rc == 2 and "over the guide melody" in err and "guide.mid" in err
    assert files["melody"].read_bytes() == melody_midi()


def test_out_that_is_an_existing_folder_is_refused(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    folder = files["instrumental"].parent / "render.wav"
    folder.mkdir()
    rc, err = _generate(files, capsys, out=folder)
    assert rc == 2 and "is a folder" in err


def test_out_inside_a_file_instead_of_a_folder_is_refused(files: dict[str, Path],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = _generate(files, capsys, out=files["lyrics"] / "take.wav")
    assert rc == 2 and "cannot write in" in err and "not a folder" in err


def test_out_in_a_folder_that_cannot_be_written_is_refused_with_the_right_hint(
        files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = _generate(files, capsys, out=Path("/sys/take.wav"))  # not writable, even by root
    assert rc == 2 and "cannot write in /sys" in err and "disk" not in err and "permission" in err


def test_read_only_folder_hint_says_read_only_not_disk_space() -> None:
    ro = folder_write_error(Path("/mnt/card"), OSError(errno.EROFS, "Read-only file system"))
    full = folder_write_error(Path("/mnt/card"), OSError(errno.ENOSPC, "No space left on device"))
    assert "read-only" in ro.hint and "space" not in ro.hint
    assert "full" in full.hint


# ------------------------------------------------------------------------------------- inputs
def test_lyrics_dev_zero_is_refused_without_reading_it(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    t0 = time.monotonic()
    rc, err = _generate(files, capsys, lyrics="/dev/zero")
    assert rc == 2 and "/dev/zero is not a regular file" in err and time.monotonic() - t0 < 5


def test_lyrics_fifo_is_refused_not_waited_on(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    fifo = files["lyrics"].parent / "lyrics.fifo"
    os.mkfifo(fifo)
    rc, err = _generate(files, capsys, lyrics=fifo)
    assert rc == 2 and "not a regular file" in err


def test_huge_lyrics_file_is_refused_before_it_is_read(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    huge = files["lyrics"].parent / "huge.txt"
    with open(huge, "wb") as f:
        f.truncate(3 << 30)  # sparse: 3 GB that would be read whole before
    rc, err = _generate(files, capsys, lyrics=huge)
    assert rc == 2 and "huge.txt is 3221225472 bytes" in err


def test_folder_given_as_the_instrumental_says_it_is_a_folder(files: dict[str, Path],
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = _generate(files, capsys, instrumental=files["lyrics"].parent)
    assert rc == 2 and "is a folder" in err and "does not exist" not in err


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-8-sig"])
def test_utf16_lyrics_are_read_not_called_binary(tmp_path: Path, encoding: str) -> None:
    p = tmp_path / "lyrics.txt"
    p.write_bytes(LYRICS.encode(encoding))
    sheet = read_lyrics(p)
    assert [ln.text for ln in sheet.lines] == ["la la la la", "lo lo lo lo", "li li li li", "lu lu lu lu"]


def test_binary_lyrics_are_still_named_binary(tmp_path: Path) -> None:
    p = tmp_path / "lyrics.txt"
    p.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(LyricsError) as e:
        read_lyrics(p)
    assert "binary" in e.value.message


def test_midi_parse_error_says_what_is_wrong_not_empty_parentheses(tmp_path: Path) -> None:
    cut = tmp_path / "cut.mid"
    cut.write_bytes(melody_midi()[:60])
    with pytest.raises(MidiError) as e:
        read_melody(cut)
    assert "()" not in e.value.message and "cut short" in e.value.message and "cut.mid" in e.value.message
    text = tmp_path / "notes.mid"
    text.write_text("not a midi file at all")
    with pytest.raises(MidiError) as e:
        read_melody(text)
    assert "MIDI header" in e.value.message


def test_midi_at_3_6_bpm_is_refused_before_rendering(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    files["melody"].write_bytes(melody_midi(bpm=3.6))
    rc, err = _generate(files, capsys)
    assert rc == 2 and "3.6" in err and "20-400" in err


@pytest.mark.parametrize("tempo", ["1000", "5", "0"])
def test_cli_tempo_outside_20_400_bpm_is_refused(files: dict[str, Path], tempo: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["generate", "--instrumental", str(files["instrumental"]), "--lyrics", str(files["lyrics"]),
              "--tempo", tempo, "--out", str(files["instrumental"].parent / "t.wav")])
    assert e.value.code == 2 and "20-400" in capsys.readouterr().err


def test_midi_with_more_notes_than_the_cap_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "many.mid"
    p.write_bytes(_midi([(i * 0.25, 0.25) for i in range(MAX_NOTES + 1)], bpm=400))
    with pytest.raises(MidiError) as e:
        read_melody(p)
    assert str(MAX_NOTES) in e.value.message


def test_instrumental_shorter_than_the_melody_fails_when_nothing_would_be_sung(
        files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    files["melody"].write_bytes(_midi([(40.0 + i, 1.0) for i in range(8)]))  # from 20 s on, at 120 BPM
    rc, err = _generate(files, capsys)
    assert rc == 2 and "nothing would be sung" in err and "12.0 s" in err


def test_instrumental_shorter_than_the_melody_warns_naming_the_notes_outside(
        files: dict[str, Path], caplog: pytest.LogCaptureFixture) -> None:
    short = files["instrumental"].parent / "short.wav"
    sf.write(short, np.zeros((5 * 48000, 2), np.float32), 48000, subtype="FLOAT")
    with caplog.at_level(logging.WARNING, logger="host_bridge.core.inputs"):
        spec_from_files(short, files["lyrics"], files["melody"])
    msg = " ".join(r.getMessage() for r in caplog.records)
    assert "8 of 16 notes start after the instrumental ends at 5.0 s" in msg and "bar 3" in msg


def test_check_outputs_refuses_a_device_as_output(files: dict[str, Path]) -> None:
    from host_bridge.core.inputs import check_outputs

    with pytest.raises(InputError) as e:
        check_outputs([Path("/dev/null")], {})
    assert "not a regular file" in e.value.message
