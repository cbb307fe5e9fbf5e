"""Tempo maps where the session and the guide meet, without running Ardour (fast): the map
written for Ardour 7.3 keeps every bar line, the check refuses a guide whose bars fall elsewhere,
takes are readable by the user's group, and `topline ardour info` stops quietly on a closed pipe."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from ardour_songs import bar_qn, constant_guide, rit_guide, rit_tempos, seconds_at  # noqa: E402
from test_ardour_session import INSTRUMENTAL, meter, session_xml, tempo, write  # noqa: E402

from host_bridge.daw.ardour.errors import TempoMismatchError  # noqa: E402
from host_bridge.daw.ardour.tempo_maps import (HOLD_MS, check_guide_tempo, compare_bar_lines,  # noqa: E402
                                               fit_for_ardour, guide_tempo)
from host_bridge.core.model import MeterChange, TempoChange, TempoMap  # noqa: E402

RIT_METERS = (MeterChange(1, 4, 4), MeterChange(9, 6, 8))


def rit_map() -> TempoMap:
    return TempoMap(tuple(TempoChange(q, b) for q, b in rit_tempos()), RIT_METERS)


def test_fit_keeps_every_bar_line_of_a_half_beat_ritardando_where_point_by_point_drifts() -> None:
    tm = rit_map()
    fitted = fit_for_ardour(tm)
    assert all(t.qn == int(t.qn) for t in fitted.tempos)  # what Ardour 7.3 can hold
    assert len(fitted.tempos) <= 18  # one constant tempo per beat of the ritardando, then 84 BPM
    for bar in range(1, 16):  # every bar line, read against the tempo list directly
        assert abs(fitted.seconds_at(bar_qn(bar)) - seconds_at(rit_tempos(), bar_qn(bar))) < 1e-9
    # copied point by point, Ardour moves each off-beat step to the nearest beat: the bars drift
    snapped = TempoMap(tuple(TempoChange(float(round(t.qn + 1e-9)), t.bpm) for t in tm.tempos), RIT_METERS)
    assert compare_bar_lines(snapped, tm, 1, 14).max_ms > 20 * HOLD_MS
    assert compare_bar_lines(fitted, tm, 1, 14).max_ms < 1e-6


def test_a_bar_line_off_the_beat_after_an_off_beat_step_cannot_be_held_and_is_measured() -> None:
    # 7/8: bar 2 starts at 3.5 quarter notes, and the tempo steps at 3.25
    tm = TempoMap((TempoChange(0.0, 100.0), TempoChange(3.25, 60.0)), (MeterChange(1, 7, 8),))
    c = compare_bar_lines(fit_for_ardour(tm), tm, 1, 4)
    assert c.worst[0] == 2 and c.max_ms > HOLD_MS


def test_a_120_bpm_session_refuses_a_72_bpm_guide_naming_both_tempos(tmp_path: Path) -> None:
    guide = constant_guide(tmp_path / "slow.mid", 72.0, [(4.0, 1.0, 60)])
    with pytest.raises(TempoMismatchError) as e:
        check_guide_tempo(TempoMap.constant(120), guide, (2, 3))
    msg = e.value.message
    assert "120 BPM" in msg and "72 BPM" in msg and "slow.mid" in msg
    assert "bar    4: session     6.000 s   slow.mid    10.000 s" in msg  # both maps' figures
    assert "--use-session-tempo" in e.value.hint and "topline ardour tempo SESSION --melody slow.mid" in e.value.hint
    rec = check_guide_tempo(TempoMap.constant(120), guide, (2, 3), use_session_tempo=True)
    assert rec["forced"] and rec["map"] == "session" and rec["worst_bar"] == 4
    assert rec["max_bar_diff_ms"] == pytest.approx(4000.0)
    assert "120 BPM" in rec["note"] and "72 BPM" in rec["note"]


def test_a_guide_within_10_ms_passes_and_one_without_tempo_is_not_checked(tmp_path: Path) -> None:
    close = constant_guide(tmp_path / "close.mid", 120.02, [(0.0, 1.0, 60)])  # bar 5 8 s: 1.3 ms early
    rec = check_guide_tempo(TempoMap.constant(120), close, (1, 4))
    assert rec["checked"] and not rec["forced"] and 1.0 < rec["max_bar_diff_ms"] < 10.0
    bare = tmp_path / "bare.mid"
    bare.write_bytes(close.read_bytes())
    import mido

    mf = mido.MidiFile(str(bare))
    for tr in mf.tracks:
        for m in [m for m in tr if m.type == "set_tempo"]:
            tr.remove(m)
    mf.save(str(bare))
    assert guide_tempo(bare, (MeterChange(1, 4, 4),)) is None
    rec = check_guide_tempo(TempoMap.constant(60), bare, (1, 4))
    assert not rec["checked"] and "no tempo" in rec["note"]


def test_a_guide_without_time_signature_is_read_in_the_sessions_meter(tmp_path: Path) -> None:
    import mido

    path = tmp_path / "nosig.mid"
    mf = mido.MidiFile(ticks_per_beat=480)
    mf.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(90)),
                                     mido.Message("note_on", note=60, velocity=90, time=0),
                                     mido.Message("note_off", note=60, velocity=0, time=480)]))
    mf.save(str(path))
    session = TempoMap((TempoChange(0.0, 90.0),), (MeterChange(1, 6, 8),))
    rec = check_guide_tempo(session, path, (5, 8))
    assert rec["checked"] and rec["max_bar_diff_ms"] < 0.05  # MIDI holds a tempo in whole µs per beat


def test_the_ritardando_guide_passes_against_its_fitted_map(tmp_path: Path) -> None:
    guide = rit_guide(tmp_path / "rit.mid")
    g = guide_tempo(guide, (MeterChange(1, 4, 4),))
    assert g is not None and g.own_meter and g.tempo_map.meter_at_bar(9).numerator == 6
    rec = check_guide_tempo(fit_for_ardour(g.tempo_map), guide, (5, 8))
    assert rec["checked"] and rec["max_bar_diff_ms"] < 0.001
    assert rec["guide_tempo"] == "76-99.25 BPM"


def test_take_files_are_group_readable_under_umask_022(tmp_path: Path) -> None:
    """Regression: takes and records were written mode 0600 (mkstemp's), whatever the umask."""
    code = (
        "import numpy as np, os, sys\n"
        "from host_bridge.core.model import Note, Score, Take, TempoMap\n"
        "from host_bridge.takes import TakeFolder\n"
        "from host_bridge.daw.ardour.records import Settings\n"
        "score = Score((Note(0.0, 1.0, 60.0, 'la', None, 0, 0),), TempoMap.constant(120), ('la',))\n"
        "take = Take(np.zeros((1, 4800), np.float32), 48000, 0, score, 'alpha', 'kokoro', 0, {})\n"
        "d = TakeFolder(sys.argv[1]).deliver(take)\n"
        "Settings(bus='Band').save(__import__('pathlib').Path(sys.argv[1]) / 'topline')\n"
    )
    subprocess.run([sys.executable, "-c", f"import os; os.umask(0o022)\n{code}", str(tmp_path)], check=True,
                   cwd=ROOT, timeout=60)
    files = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert {p.suffix for p in files} == {".wav", ".mid", ".json"}
    for p in files:
        assert p.stat().st_mode & 0o777 == 0o644, (p.name, oct(p.stat().st_mode))
    subprocess.run([sys.executable, "-c", f"import os; os.umask(0o077)\n{code}", str(tmp_path / "private")],
                   check=True, cwd=ROOT, timeout=60)
    for p in (tmp_path / "private").rglob("*.wav"):
        assert p.stat().st_mode & 0o777 == 0o600  # a stricter umask is respected too


def test_info_into_a_closed_pipe_exits_without_a_traceback(tmp_path: Path) -> None:
    """Regression: `topline ardour info SESSION | head -1` ended in a BrokenPipeError traceback."""
    d = write(tmp_path, session_xml(tempo(120, 4, 0, "0:0"), meter(4, 4, 1, "0:0"), INSTRUMENTAL))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "host_bridge.cli", "ardour", "info", str(d)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first line is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    shell = subprocess.run(f"set -o pipefail; {' '.join(cmd)} | head -1", shell=True, capture_output=True,
                           env=env, cwd=ROOT, executable="/bin/bash", timeout=60)
    assert shell.stdout.decode().startswith("session s (") and "Traceback" not in shell.stderr.decode()
    assert np.isin(shell.returncode, [0, 141])


def test_new_refuses_before_creating_anything(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ardour_songs import instrumental

    from host_bridge.cli import main

    mix = tmp_path / "mix.wav"
    instrumental(mix, 48000, 1.0)
    guide = rit_guide(tmp_path / "rit.mid")
    bare = tmp_path / "bare.mid"
    constant_guide(bare, 100.0, [(0.0, 1.0, 60)])
    import mido

    mf = mido.MidiFile(str(bare))
    mf.tracks[0] = mido.MidiTrack([m for m in mf.tracks[0] if m.type != "set_tempo"])
    mf.save(str(bare))
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    cases = [
        (["ardour", "new", str(taken), "--instrumental", str(mix), "--tempo", "100"], "already exists"),
        (["ardour", "new", str(tmp_path / "a"), "--instrumental", str(mix), "--melody", str(bare)], "--tempo BPM"),
        (["ardour", "new", str(tmp_path / "b"), "--instrumental", str(mix), "--melody", str(guide), "--tempo", "90"],
         "leave out --tempo"),
        (["ardour", "new", str(tmp_path / "c"), "--instrumental", str(mix), "--tempo", "90", "--meter", "4-4"],
         "N/D"),
        (["ardour", "new", str(tmp_path / "d"), "--instrumental", str(mix)], "--melody guide.mid"),
        (["ardour", "new", str(tmp_path / "e"), "--instrumental", str(tmp_path / "none.wav"), "--tempo", "90"],
         "none.wav"),
        (["ardour", "new", str(tmp_path / "f"), "--instrumental", str(mix), "--tempo", "90", "--lyrics",
          str(tmp_path / "none.txt")], "none.txt"),
        (["ardour", "new", str(tmp_path / "g"), "--instrumental", str(mix), "--tempo", "90", "--artist", "Nobody"],
         "topline artists"),
    ]
    for argv, fix in cases:
        assert main(argv) == 2, argv
        assert fix in capsys.readouterr().err, argv
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bare.mid", "mix.wav", "rit.mid", "taken"]
    assert [p.name for p in taken.iterdir()] == ["keep.txt"]
