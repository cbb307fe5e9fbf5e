"""Issue 22, `topline generate` against a real sidecar: Ctrl-C cancels the job there, a write that
fails after the render gives one line and leaves nothing behind, and an alignment error names
the lyrics and MIDI files and cuts the line to its first words (checked on the error the real
frontend raises: the tone engine of these tests does not align)."""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from realsidecar import Sidecar, sidecar, slow_sidecar  # noqa: F401 (fixtures)
from tone import melody_midi

ROOT = Path(__file__).resolve().parents[2]
LYRICS = "[Verse]\nla la la la\nlo lo lo lo\n[Chorus]\nli li li li\nlu lu lu lu\n"


def _files(tmp_path: Path, seconds: float = 12.0, channels: int = 2) -> list[str]:
    inst = tmp_path / "song.wav"
    sf.write(inst, np.zeros((int(seconds * 48000), channels), np.float32), 48000, subtype="FLOAT")
    (tmp_path / "lyrics.txt").write_text(LYRICS)
    (tmp_path / "guide.mid").write_bytes(melody_midi())
    return ["--instrumental", str(inst), "--lyrics", str(tmp_path / "lyrics.txt"),
            "--melody", str(tmp_path / "guide.mid")]


def _cli(args: list[str], sc: Sidecar, **kw: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "host_bridge.cli", "generate", *args,
                             "--connection-file", str(sc.manager.connection_file)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **kw)  # type: ignore[call-overload]


def test_ctrl_c_cancels_the_job_on_the_sidecar(slow_sidecar: Sidecar, tmp_path: Path) -> None:
    proc = _cli([*_files(tmp_path), "--out", str(tmp_path / "take.wav")], slow_sidecar)
    assert proc.stderr is not None
    while "render" not in (line := proc.stderr.readline()):  # the progress bar: the job is rendering
        assert line, "the CLI ended before rendering"
    probe = slow_sidecar.peer()
    assert probe.ping().body["busy"] is True
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=15)
    assert proc.returncode == 130 and "cancelled" in err and "Traceback" not in err
    while probe.ping().body["busy"]:  # the worker drops the job at its next phrase, not after the take
        assert time.monotonic() - t0 < 5.0, "the sidecar kept rendering the interrupted job"
        time.sleep(0.1)
    assert not (tmp_path / "take.wav").exists() and not list(tmp_path.glob("*.part"))


def _limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, as a full disk does
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))


def test_write_that_fails_after_the_render_is_one_line_and_leaves_nothing_behind(sidecar: Sidecar,
                                                                                  tmp_path: Path) -> None:
    """The stem (12 s stereo float, 4.6 MB) cannot be written past a 1 MB file-size limit, like a
    disk that fills during the write: one error line with its fix, no traceback, no temporary
    file, and the sung MIDI of an earlier take beside it untouched (both files or neither)."""
    out = tmp_path / "out" / "take.wav"
    out.parent.mkdir()
    old_mid = out.with_suffix(".mid")
    old_mid.write_bytes(b"earlier take")
    files = _files(tmp_path, seconds=12.0, channels=1)
    proc = _cli([*files, "--out", str(out), "--channels", "2", "--float"], sidecar, preexec_fn=_limit_file_size)
    _, err = proc.communicate(timeout=60)
    lines = [ln for ln in err.splitlines() if ln.startswith("topline:")]
    assert proc.returncode == 2 and "Traceback" not in err, err
    assert lines[0].startswith(f"topline: error: cannot write in {out.parent}") and lines[1].startswith("topline: fix:")
    assert sorted(p.name for p in out.parent.iterdir()) == ["take.mid"] and old_mid.read_bytes() == b"earlier take"


def test_alignment_error_names_the_files_and_cuts_the_line() -> None:
    """The frontend's AlignmentError (as the real pipeline raises it for a 500-word line), told by
    the CLI: the lyrics and MIDI files are named and the line is cut to its first words."""
    from host_bridge.cli_checks import explain
    from host_bridge.core.errors import AlignmentError

    line = " ".join(f"word{i}" for i in range(500))
    err = AlignmentError(f'line 1 "{line}" has 3102 syllables but only 16 notes are left for it',
                         "add notes to the guide melody")
    told = explain(err, "/s/lyrics.txt", "/s/guide.mid")
    assert told.message.startswith("/s/lyrics.txt with /s/guide.mid: line 1 \"word0 word1")
    assert "word499" not in told.message and len(told.message) < 200 and told.hint == err.hint
