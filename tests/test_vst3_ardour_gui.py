"""The Topline editor hosted in a real DAW on a screen: Ardour 7's GUI (Debian's /usr/bin/ardour) on
a virtual X display (Xvfb), a JACK server on its dummy backend as the sound card, a real sidecar.

The session is made headless (ardour7-lua: an instrumental track with Topline inserted, Capture
armed, saved); Ardour's GUI then opens it with a private HOME whose config names the JACK engine
(no audio setup dialog). The test clicks like a musician (xdotool): Ardour's Mixer, a double click on
Topline in the track's strip (Ardour opens the plugin's own editor window), Ardour's Play, then
the editor's Generate (the editor reports where its buttons are on the screen). Each state is
checked by what the editor says it shows ($TOPLINE_EDITOR_STATE) and photographed: no sidecar;
sidecar ready with its artists; generating at ~50 %; the take listed; the take marked stale after
the session's tempo changed (Ardour's own tempo dialog). Clicks on Ardour's widgets use their
places in Ardour 7.3's layout on a 1600x1000 screen; a click that misses fails with a screenshot.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import soundfile as sf

from host_bridge.daw.ardour import ArdourAdapter, create_session
from host_bridge.daw.ardour import runner as R
from host_bridge.core.model import TempoMap
from test_vst3 import LYRICS, _bext_time_reference, _melody, tone_sidecar, vst3_path  # noqa: F401 (fixtures)
from test_vst3_editor import Display, display, jack, shot  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parents[1]
ARDOUR_GUI = shutil.which("ardour") or shutil.which("ardour7")
SCANNER = Path("/usr/lib/ardour7/ardour-vst3-scanner")
SCREEN = "1600x1000x24"
PLUGIN_WINDOW = r"Topline \(by Topline\) \[VST3\]"   # Ardour's window around the plugin's editor

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(ARDOUR_GUI is None or not SCANNER.exists() or not any(shutil.which(b) for b in R.LUA_BINARIES),
                       reason="needs Ardour 7 with its GUI, ardour7-lua and its VST3 scanner (apt-get install ardour)"),
    pytest.mark.skipif(any(shutil.which(t) is None for t in ("Xvfb", "xdotool", "jackd")),
                       reason="needs Xvfb, xdotool and jackd (apt-get install xvfb xdotool jackd2; scripts/setup.sh --dev)"),
]


def ardour_home(home: Path, session: Path) -> None:
    """A first-run-free Ardour config in ``home``: the JACK engine already chosen (Ardour connects to
    the running server instead of showing its audio setup dialog); the session's engine hint
    rewritten from the headless run's Dummy backend to JACK (else Ardour warns that the device changed)."""
    cfg = home / ".config" / "ardour7"
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / ".a7").touch()  # Ardour 7 has been run before: no welcome wizard
    (cfg / "config").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<Ardour>\n  <Config/>\n  <Extra>\n    <AudioMIDISetup>\n'
        '      <EngineStates>\n        <State backend="JACK" driver="" device="" input-device="" output-device=""'
        ' sample-rate="48000" buffer-size="1024" n-periods="2" input-latency="0" output-latency="0" lm-input=""'
        ' lm-output="" active="1" use-buffered-io="0" midi-option="" lru="1">\n          <MIDIDevices/>\n'
        '        </State>\n      </EngineStates>\n    </AudioMIDISetup>\n  </Extra>\n</Ardour>\n')
    text = session.read_text()
    session.write_text(re.sub(r"<EngineHints [^>]*/>", '<EngineHints backend="JACK" input-device="" output-device=""/>', text))


def session_with_topline(vst3_path: Path, work: Path, defaults: Path) -> tuple[Path, Path]:
    """A 48 kHz / 100 BPM session, 20 s of instrumental on "Instrumental" with Topline inserted
    (headless; the VST3 scanned into the HOME the GUI will use). Returns (.ardour file, VST3 folder)."""
    session = create_session(work / "song", 48000, TempoMap.constant(100.0), tracks=[("Instrumental", 2)])
    rng = np.random.default_rng(5)
    inst = (rng.standard_normal((2, 48000 * 20)) * 0.05).astype(np.float32)
    ArdourAdapter(session).place_audio("Instrumental", inst, 48000, 1, "instrumental")
    vst_dir = work / "vst3"
    vst_dir.mkdir()
    (vst_dir / "Topline.vst3").symlink_to(vst3_path)
    scan = subprocess.run([str(SCANNER), str(vst_dir / "Topline.vst3")], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, LD_LIBRARY_PATH=str(SCANNER.parent)))
    assert scan.returncode == 0, scan.stdout + scan.stderr
    runner = R.ArdourRunner(timeout_s=300)
    runner.headless = ROOT / "daw_plugin" / "vst3" / "ardour"
    res = runner.run("insert_and_save.lua", session.parent, session.stem,
                     {"TOPLINE_LUA_LIB": str(R.plugin_dir() / "headless" / "topline_lib.lua"), "VST3_PATH": str(vst_dir),
                      "TOPLINE_VST3_DEFAULTS": str(defaults), "TOPLINE_ROUTE": "Instrumental"}, retries=2)
    assert res.values("saved"), res.output[-2000:]
    return session, vst_dir


class ArdourGui:
    """Ardour's GUI on ``screen`` (its own HOME and JACK server), and clicks on it."""

    def __init__(self, session: Path, screen: Display, home: Path, jack: str, env: dict[str, str], work: Path) -> None:
        self.screen, self.work = screen, work
        self.state_file = work / "editor-state.json"
        full = {k: v for k, v in os.environ.items() if not k.startswith("TOPLINE_")}
        full.update(env, DISPLAY=screen.name, HOME=str(home), TOPLINE_EDITOR_STATE=str(self.state_file),
                    JACK_DEFAULT_SERVER=jack, JACK_NO_START_SERVER="1", JACK_NO_AUDIO_RESERVATION="1")
        self.log = open(work / "ardour-gui.log", "wb")
        assert ARDOUR_GUI is not None
        self.proc = subprocess.Popen(["nice", "-n", "10", ARDOUR_GUI, "-n", "-a", str(session)], env=full,
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def _x(self, *args: str) -> str:
        return subprocess.run(["xdotool", *args], env={**os.environ, "DISPLAY": self.screen.name},
                              capture_output=True, text=True, timeout=20).stdout

    def windows(self) -> list[tuple[str, int, int, int, int, int]]:
        """Visible windows: (name, id, x, y, w, h)."""
        out = []
        for wid in self._x("search", "--onlyvisible", "--name", "").split():
            name = self._x("getwindowname", wid).strip()
            geo = re.findall(r"-?\d+", self._x("getwindowgeometry", wid).split("Position:")[-1])
            if len(geo) >= 5:
                out.append((name, int(wid), int(geo[0]), int(geo[1]), int(geo[3]), int(geo[4])))
        return out

    def click(self, x: int, y: int, double: bool = False) -> None:
        self._x("mousemove", str(x), str(y), "click", *(["--repeat", "2", "--delay", "80"] if double else []), "1")
        time.sleep(0.5)

    def fail(self, what: str) -> None:
        self.screen.grab(self.work / "failed.png")
        log = Path(self.log.name).read_text(errors="replace") if Path(self.log.name).is_file() else ""
        halted = "JACK HALTED (Ardour lost its JACK server; the test runs once more): " if "JACK HALTED" in log else ""
        raise AssertionError(f"{halted}{what}; the screen is in {self.work / 'failed.png'}, Ardour's log in {self.log.name}")

    def wait_window(self, pattern: str, timeout: float) -> tuple[int, int, int, int, int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"Ardour exited ({self.proc.returncode}); see {self.log.name}"
            for name, *w in self.windows():
                if re.search(pattern, name):
                    return (w[0], w[1], w[2], w[3], w[4])
            time.sleep(1.0)
        self.fail(f"no window named like {pattern!r} within {timeout:.0f} s (windows: {[w[0] for w in self.windows()]})")
        raise AssertionError

    def state(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.state_file.read_text()))
        except (OSError, ValueError):
            return {}

    def wait(self, pred: Callable[[dict[str, Any]], bool], timeout: float, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, f"Ardour exited ({self.proc.returncode}) waiting for {what}"
            s = self.state()
            if s and pred(s):
                return s
            if time.monotonic() > deadline:
                self.fail(f"timed out waiting for {what}; the editor shows: {s}")
            time.sleep(0.1)

    def press(self, button: str) -> None:
        """Clicks one of the editor's buttons where the editor says it is in its window; that window
        is the bottom of Ardour's plugin window (Ardour's toolbar above it)."""
        s = self.state()
        at = s.get("button_centres", {}).get(button)
        assert at, f"the editor does not show {button}: {s.get('button_centres')}"
        _, x, y, _, h = self.wait_window(PLUGIN_WINDOW, 5.0)
        self.click(x + int(at[0]), y + h - int(round(s["size"][1] * s["scale"])) + int(at[1]))

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(5)
        self.log.close()


# the dummy JACK server now and then drops Ardour at start-up (its log: garbled requests, then
# "JACK HALTED"), here about 1 run in 4; only that failure is run again, with fresh fixtures
@pytest.mark.flaky(reruns=1, only_rerun=["JACK HALTED"])
def test_the_editor_in_ardours_gui_through_its_states(
        vst3_path: Path, tmp_path: Path, tone_sidecar: Callable[[], Any], display: Callable[..., Display],  # noqa: F811
        jack: str, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))  # the headless runs scan and save into the GUI's HOME
    defaults = tmp_path / "defaults.json"
    defaults.write_text(json.dumps({"format": "topline-vst3", "lyrics": LYRICS, "seed": 4, "artist": "alpha",
                                    "melody_path": str(_melody(tmp_path / "guide.mid")), "max_capture_s": 10.0,
                                    "takes_dir": str(tmp_path / "takes"), "connection_file": str(tmp_path / "sidecar.json")}))
    session, vst_dir = session_with_topline(vst3_path, tmp_path, defaults)
    ardour_home(home, session)
    screen = display(size=SCREEN)
    gui = ArdourGui(session, screen, home, jack, {"VST3_PATH": str(vst_dir), "TOPLINE_VST3_DEFAULTS": str(defaults)},
                    tmp_path)
    try:
        drive(gui, screen, tmp_path, tone_sidecar, monkeypatch, session)
    finally:
        gui.close()


def open_editor(gui: ArdourGui) -> None:
    """Ardour's Mixer (its Mix button), then a double click on Topline in the track's strip."""
    gui.wait_window(r" - Ardour$", 180.0)
    time.sleep(3.0)

    def shown() -> bool:
        return any(re.search(PLUGIN_WINDOW, w[0]) for w in gui.windows())

    for _ in range(3):  # a click while Ardour still lays its window out is lost: again
        gui.click(gui.wait_window(r" - Ardour$", 5.0)[3] - 22, 72)   # "Mix", right end of the toolbar
        time.sleep(2.0)
        gui.click(331, 206, double=True)  # the strip's first processor: Topline
        deadline = time.monotonic() + 15.0
        while time.monotonic() < deadline and not shown():
            time.sleep(1.0)
        if shown():
            break
    plug = gui.wait_window(PLUGIN_WINDOW, 5.0)
    gui._x("windowmove", str(plug[0]), "660", "330")  # off Ardour's transport bar (no window manager here)


def drive(gui: ArdourGui, screen: Display, tmp_path: Path, tone_sidecar: Callable[[], Any],
          monkeypatch: pytest.MonkeyPatch, session: Path) -> None:
    # the session opens (a warning dialog about the audio device, if any, is answered OK)
    deadline = time.monotonic() + 180.0
    while not any(w[0].endswith(" - Ardour") for w in gui.windows()) and time.monotonic() < deadline:
        for name, _, x, y, w, h in gui.windows():
            if 300 < w < 600 and 60 < h < 200 and name == "":
                gui.click(x + w - 55, y + h - 26)  # its OK button
        time.sleep(1.0)
    open_editor(gui)

    # 1. no sidecar: the banner says so and how to fix it
    s = gui.wait(lambda s: s.get("sidecar_state") == "not found" and "button_centres" in s, 30.0, "the no-sidecar banner")
    assert "topline sidecar" in s["banner_fix"] and s["diagnostics"]["standalone"] is False
    assert s["host_bpm"] == 100.0, s
    shot(screen, tmp_path, "ardour-1-no-sidecar")

    # 2. the sidecar appears (slow tone engine, so the render is seen half way)
    monkeypatch.setenv("TOPLINE_TONE_RTF", "1.0")
    tone_sidecar()
    s = gui.wait(lambda s: s["sidecar_state"] == "connected" and s["artist_info"] != "", 30.0, "the artists")
    assert "alpha" in s["artists"] and s["message"] == "", s
    shot(screen, tmp_path, "ardour-2-sidecar-ready")

    # Ardour's Play: Topline captures 10 s of the track with Ardour's tempo and position
    gui.click(158, 43)
    s = gui.wait(lambda s: s["diagnostics"]["captured_samples"] >= 10 * 48000 - 1, 60.0, "Ardour to play 10 s")
    assert s["diagnostics"]["playing"] is True

    # 3. Generate (the editor's button, clicked on the screen) at ~50 %
    gui.press("Generate")
    gui.wait(lambda s: 0.3 <= s["progress"] <= 0.7, 60.0, "the render at ~50 %")
    shot(screen, tmp_path, "ardour-3-generating")

    # 4. the take, listed with its melody; Ardour still playing, nothing allocated or locked on its audio thread
    s = gui.wait(lambda s: s["status"].startswith("Take ready") and s["piano_roll_notes"] > 0, 90.0, "the take")
    assert [t["number"] for t in s["takes"]] == [1] and s["takes"][0]["stale"] is False
    wav = Path(s["takes"][0]["wav"])
    assert _bext_time_reference(wav) == s["diagnostics"]["capture_start_sample"]
    assert s["diagnostics"]["playing"] is True
    assert s["diagnostics"]["audio_thread_allocations"] == 0 and s["diagnostics"]["audio_thread_locks"] == 0
    shot(screen, tmp_path, "ardour-4-take")

    # the take dragged from the editor's take tile onto the Instrumental track in Ardour's editor
    # window: Ardour imports the file (copied into the session) as a region where it is dropped
    drag_take_onto_track(gui, session)

    # 5. the session's tempo changed in Ardour (its tempo dialog, from the tempo in the toolbar):
    # the take is marked stale, Ardour playing on
    set_tempo(gui, 120)
    s = gui.wait(lambda s: s["takes"] and s["takes"][0]["stale"] is True, 30.0, "the stale marker")
    assert s["host_bpm"] == 120.0 and s["diagnostics"]["playing"] is True
    assert s["diagnostics"]["audio_thread_allocations"] == 0 and s["diagnostics"]["audio_thread_locks"] == 0
    shot(screen, tmp_path, "ardour-5-stale-take")


def set_tempo(gui: ArdourGui, bpm: int) -> None:
    """Ardour's Edit Tempo dialog (a click on the tempo in the toolbar): type the BPM, Apply."""
    gui.click(533, 73)
    wid, *_ = gui.wait_window(r"^Edit Tempo$", 20.0)
    gui._x("windowfocus", "--sync", str(wid))  # no window manager: give the dialog the keyboard
    gui._x("mousemove", "--window", str(wid), "192", "78", "click", "--repeat", "3", "--delay", "60", "1")
    gui._x("type", "--delay", "50", str(bpm))
    gui._x("key", "Tab")
    time.sleep(0.5)
    gui._x("mousemove", "--window", str(wid), "192", "158", "click", "1")  # Apply


def drag_take_onto_track(gui: ArdourGui, session: Path) -> None:
    """Ardour's Editor (its Edit button), then a mouse drag from the editor's take tile (JUCE starts
    an XDND drag of the take's WAV) to the Instrumental track's lane, where Ardour takes the drop."""
    s = gui.state()
    take = Path(s["takes"][0]["wav"])
    main = gui.wait_window(r" - Ardour$", 5.0)
    gui.click(main[3] - 22, 43)  # "Edit", right end of the toolbar
    _, x, y, _, h = gui.wait_window(PLUGIN_WINDOW, 5.0)
    tile = s["button_centres"]["Take tile"]
    top = y + h - int(round(s["size"][1] * s["scale"]))
    gui._x("mousemove", str(x + tile[0]), str(top + tile[1]), "mousedown", "1")
    for px, py in ((x + tile[0] - 10, top + tile[1] - 10), (1000, 800), (800, 600), (600, 450), (500, 380), (500, 372)):
        time.sleep(0.25)
        gui._x("mousemove", str(px), str(py))
    time.sleep(0.5)
    gui._x("mouseup", "1")
    imported = session.parent / "interchange" / session.stem / "audiofiles" / take.name
    deadline = time.monotonic() + 20.0
    while not imported.exists() and time.monotonic() < deadline:
        time.sleep(0.25)
    if not imported.exists():
        gui.fail(f"Ardour did not import the dropped take ({imported} is missing)")
    time.sleep(1.0)  # written out
    a, sr_a = sf.read(str(imported), dtype="float32", always_2d=True)
    b, sr_b = sf.read(str(take), dtype="float32", always_2d=True)
    assert sr_a == sr_b and a.shape == b.shape and np.max(np.abs(a - b)) < 1e-6, "Ardour's copy is not the take"
