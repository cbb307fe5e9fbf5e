"""The Topline VST3 in the real Ardour 7 (headless ardour7-lua on the Dummy backend), with a real sidecar.

A session at 48 kHz / 100 BPM holds the instrumental at bar 1 on a track; Topline is inserted on
that track. Ardour exports bars 1-9 (the transport plays them: the plugin captures with Ardour's
PPQ and tempo), the plugin's Generate parameter is pressed, the take comes back from a sidecar
(tone engine: tests/integration/tone.py), and Ardour exports bars 1-9 again with the take playing
through the plugin. The second export minus the first is the plugin's vocal: it must start where
the take file's BWF time reference says (within one block) and hold the take file's samples.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import soundfile as sf

from host_bridge.daw.ardour import ArdourAdapter, create_session
from host_bridge.daw.ardour import runner as R
from host_bridge.core.model import TempoMap
from test_vst3 import LYRICS, _bext_time_reference, tone_sidecar, vst3_path  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parents[1]
SCANNER = Path("/usr/lib/ardour7/ardour-vst3-scanner")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not any(shutil.which(b) for b in R.LUA_BINARIES),
                       reason="Ardour 7 headless (ardour7-lua) is not installed: apt-get install ardour"),
]


def guide_from_bar_2(path: Path) -> Path:
    """16 notes of a dotted quarter from bar 2 (qn 4), four to a line."""
    import mido

    mf = mido.MidiFile(ticks_per_beat=480)
    tr = mido.MidiTrack()
    mf.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(100)))
    t_prev = 0
    for i in range(16):
        on, off = int((4 + 1.5 * i) * 480), int((4 + 1.5 * i + 1.25) * 480)
        tr.append(mido.Message("note_on", note=60 + i % 5, velocity=90, time=on - t_prev))
        tr.append(mido.Message("note_off", note=60 + i % 5, velocity=0, time=off - on))
        t_prev = off
    buf = io.BytesIO()
    mf.save(file=buf)
    path.write_bytes(buf.getvalue())
    return path


def run_in_ardour(vst3_path: Path, tmp_path: Path, start_sidecar: Callable[[], Any], tm: TempoMap,
                  instrumental: np.ndarray | None, env: dict[str, str]) -> tuple[Any, Path]:
    """Build a 48 kHz session with ``tm`` (instrumental at bar 1 on "Instrumental"), make the VST3
    known to Ardour, start a sidecar, run capture_generate_play.lua. Returns (run result, the
    folder with the session, takes/ and exports/).

    Headless Ardour 7.3 sometimes crashes (at export or teardown) and the runner runs the script
    again; before each attempt the takes and exports of a crashed one are cleared (else the
    plugin numbers its take 0002 while the script waits for 0001, already there)."""
    if not SCANNER.exists():
        pytest.skip(f"{SCANNER} is missing (Debian's ardour package ships it)")
    session = create_session(tmp_path / "song", 48000, tm, tracks=[("Instrumental", 2)])
    if instrumental is not None:
        ArdourAdapter(session).place_audio("Instrumental", instrumental, 48000, 1, "instrumental")
    vst_dir = tmp_path / "vst3"
    vst_dir.mkdir()
    (vst_dir / "Topline.vst3").symlink_to(vst3_path)
    scan_env = dict(os.environ, LD_LIBRARY_PATH=str(SCANNER.parent))  # Ardour's private libraries
    scan = subprocess.run([str(SCANNER), str(vst_dir / "Topline.vst3")], capture_output=True, text=True, timeout=120,
                          env=scan_env)
    assert scan.returncode == 0, scan.stdout + scan.stderr
    takes, exports = tmp_path / "takes", tmp_path / "exports"
    defaults = tmp_path / "topline-defaults.json"
    defaults.write_text(json.dumps({"format": "topline-vst3", "lyrics": LYRICS, "seed": 1,
                                    "melody_path": str(guide_from_bar_2(tmp_path / "guide.mid")),
                                    "takes_dir": str(takes), "connection_file": str(tmp_path / "sidecar.json")}))
    start_sidecar()
    runner = R.ArdourRunner(timeout_s=300)
    runner.headless = ROOT / "daw_plugin" / "vst3" / "ardour"
    full = {"TOPLINE_LUA_LIB": str(R.plugin_dir() / "headless" / "topline_lib.lua"),
            "VST3_PATH": str(vst_dir), "TOPLINE_VST3_DEFAULTS": str(defaults), "TOPLINE_ROUTE": "Instrumental",
            "TOPLINE_OUT_DIR": str(exports), "TOPLINE_PRESET": R.ensure_export_preset(),
            "TOPLINE_TAKE_FILE": str(takes / "take-0001.wav"), "TOPLINE_WAIT_S": "90", **env}

    def clear() -> None:
        for d in (takes, exports):
            shutil.rmtree(d, ignore_errors=True)

    res = runner.run("capture_generate_play.lua", session.parent, session.stem, full, retries=2, before_attempt=clear)
    assert [r[0] for r in res.values("exported")] == ["pass1", "pass2"], res.output[-3000:]
    (take_line,) = res.values("take")
    print(f"take arrived {take_line[1]} s after Generate; Ardour run {res.seconds:.1f} s")
    return res, tmp_path


def read_export(work: Path, name: str) -> np.ndarray:
    (f,) = sorted((work / "exports" / name).glob("*.wav"))
    a, sr = sf.read(str(f), dtype="float32", always_2d=True)
    assert sr == 48000
    return a


def test_ardour_plays_the_take_through_the_plugin_on_the_bar_it_was_captured(
        vst3_path: Path, tmp_path: Path, tone_sidecar: Callable[[], Any]) -> None:  # noqa: F811
    sr, tm = 48000, TempoMap.constant(100.0)
    end = tm.sample_at(tm.qn_at_bar(9), sr)  # bars 1-8 played, up to the start of bar 9
    rng = np.random.default_rng(5)
    inst = (rng.standard_normal((2, end + sr)) * 0.05).astype(np.float32)
    _, work = run_in_ardour(vst3_path, tmp_path, tone_sidecar, tm, inst, {"TOPLINE_START": "0", "TOPLINE_END": str(end)})
    a1, a2 = read_export(work, "pass1"), read_export(work, "pass2")
    assert a1.shape == a2.shape and a1.shape[0] == end
    # the capture pass is the instrumental, untouched by the plugin (fader at 0 dB, panner centred)
    # (after the region's fade-in: Ardour fades a region's first 64 samples)
    assert np.max(np.abs(a1[64:] - inst[:, 64:end].T)) < 1e-6
    vocal = (a2 - a1)[:, 0].astype(np.float64)
    assert np.allclose(a2[:, 0] - a1[:, 0], a2[:, 1] - a1[:, 1], atol=1e-7)  # the mono take on both sides

    wav = work / "takes" / "take-0001.wav"
    take, tsr = sf.read(str(wav), dtype="float32", always_2d=True)
    meta = json.loads(wav.with_suffix(".json").read_text())
    start = _bext_time_reference(wav)
    assert tsr == sr and start == 0  # the capture started at bar 1 = session sample 0
    assert meta["tempo_map"]["tempos"] == [[0.0, 100.0]] and meta["tempo_map"]["meters"] == [[1, 4, 4]]
    assert abs(meta["tempo_map"]["offset_s"]) < 1e-6
    expected = np.zeros(end)
    n = min(end - start, take.shape[0])
    expected[start:start + n] = take[:n, 0]
    # where the vocal starts: first sample above -60 dBFS in each
    thr = 1e-3
    first_vocal, first_take = int(np.argmax(np.abs(vocal) > thr)), int(np.argmax(np.abs(expected) > thr))
    assert abs(first_vocal - first_take) <= 1024, (first_vocal, first_take)  # within one block
    lag = int(np.argmax(np.correlate(vocal[first_take - 2048:first_take + 48000],
                                     expected[first_take:first_take + 44000], "valid"))) - 2048
    assert lag == 0, lag
    gain = np.dot(vocal, expected) / np.dot(expected, expected)
    assert abs(gain - 1.0) < 0.01, gain  # unity through the plugin, fader and panner
    assert np.max(np.abs(vocal - expected)) < 1e-6  # the take file's samples (to float rounding of inst + vocal - inst)


def test_after_a_tempo_edit_the_take_follows_the_bar_it_was_captured_on(
        vst3_path: Path, tmp_path: Path, tone_sidecar: Callable[[], Any]) -> None:  # noqa: F811
    """Capture bars 3-9 at 100 BPM (an empty track: only the placement matters), then set the
    session to 120 BPM: bar 3 moves from 4.8 s to 4.0 s and the take must start there."""
    sr, old, new = 48000, TempoMap.constant(100.0), TempoMap.constant(120.0)
    from host_bridge.daw.ardour.adapter import session_tempo_env

    s1, e1 = old.sample_at(old.qn_at_bar(3), sr), old.sample_at(old.qn_at_bar(9), sr)
    end2 = new.sample_at(new.qn_at_bar(10), sr)
    _, work = run_in_ardour(vst3_path, tmp_path, tone_sidecar, old, None,
                             {"TOPLINE_START": str(s1), "TOPLINE_END": str(e1), "TOPLINE_RETEMPO": "1",
                              "TOPLINE_START2": "0", "TOPLINE_END2": str(end2), **session_tempo_env(new)})
    wav = work / "takes" / "take-0001.wav"
    take, _ = sf.read(str(wav), dtype="float32", always_2d=True)
    assert _bext_time_reference(wav) == s1 == 230400
    vocal = read_export(work, "pass2")[:, 0].astype(np.float64)
    new_start = new.sample_at(new.qn_at_bar(3), sr)
    assert new_start == 192000
    thr = 1e-3
    first_take = int(np.argmax(np.abs(take[:, 0]) > thr))
    first_vocal = int(np.argmax(np.abs(vocal) > thr))
    assert abs(first_vocal - (new_start + first_take)) <= 1024, (first_vocal, new_start + first_take)  # within a block
    # and from there on it is the take file, sample for sample (PPQ placement is only as fine as
    # the host's PPQ: Ardour's is 1/1920 qn, ~12 samples at 120 BPM)
    lag = first_vocal - (new_start + first_take)
    n = min(take.shape[0], vocal.shape[0] - new_start - lag)
    seg = vocal[new_start + lag: new_start + lag + n]
    ref = take[:n, 0].astype(np.float64)
    shift = max(range(-24, 25), key=lambda k: float(np.dot(np.roll(seg, -k), ref)))
    seg = vocal[new_start + lag + shift: new_start + lag + shift + n]
    assert np.max(np.abs(seg - ref)) < 1e-6, (lag, shift)
