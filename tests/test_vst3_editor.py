"""The Topline editor on a screen: the JUCE Standalone app (same processor and editor as the VST3,
from the same CMake project) on a virtual X display (Xvfb), with a real sidecar.

The app plays a WAV file as its input (a JACK server on its dummy backend stands in for a sound
card: the audio callbacks run in real time), captures it, and the test drives it like a musician: Ctrl+Return (sent to
the window with xdotool) presses Generate. Each state is checked by what the editor itself says
it shows ($TOPLINE_EDITOR_STATE: the JSON the editor rewrites when its content changes) and
photographed (Pillow's X11 grab of the display): no sidecar; sidecar ready with its artists;
generating at ~50 %; a take listed with its melody; the take marked stale after the tempo changed
(the app started again at another tempo, at 200 % scale: $TOPLINE_UI_SCALE=2 stands for the
scale a host passes to the editor; JUCE reads a desktop's scale only from XRandR outputs, which
Xvfb does not describe). The PNGs go to the test's tmp folder
and, with TOPLINE_SCREENSHOTS_DIR set, to that folder (docs/plugin/ holds the last run's).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest
import soundfile as sf

from test_vst3 import LYRICS, _bext_time_reference, _melody, tone_sidecar, vst3_path  # noqa: F401 (fixtures)

pytestmark = pytest.mark.skipif(shutil.which("Xvfb") is None or shutil.which("xdotool") is None,
                                reason="needs Xvfb and xdotool (apt-get install xvfb xdotool; scripts/setup.sh --dev)")
needs_jack = pytest.mark.skipif(shutil.which("jackd") is None,
                                reason="needs jackd (apt-get install jackd2; scripts/setup.sh --dev)")


class Display:
    """An Xvfb server on a free display number (Xvfb picks it: -displayfd)."""

    def __init__(self, size: str = "1040x720x24") -> None:
        r, w = os.pipe()
        self.proc = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", size, "-nolisten", "tcp"],
                                     pass_fds=(w,), stderr=subprocess.DEVNULL)
        os.close(w)
        with os.fdopen(r) as f:
            self.name = ":" + f.readline().strip()
        assert self.name != ":", "Xvfb did not start"

    def grab(self, path: Path) -> Path:
        from PIL import ImageGrab

        ImageGrab.grab(xdisplay=self.name).save(path)
        return path

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def display() -> Iterator[Callable[..., Display]]:
    made: list[Display] = []

    def make(**kw: Any) -> Display:
        made.append(Display(**kw))
        return made[-1]

    yield make
    for d in made:
        d.close()


def standalone_path(vst3: Path) -> Path:
    app = vst3.parent.parent / "Standalone" / "Topline"
    assert app.is_file() and os.access(app, os.X_OK), f"the Standalone app was not built next to {vst3}"
    return app


@pytest.fixture
def jack(tmp_path: Path) -> Iterator[str]:
    """A JACK server of its own (dummy backend, 48 kHz, real-time paced, no sound card): its name."""
    name = f"topline-test-{os.getpid()}"
    env = {**os.environ, "JACK_NO_AUDIO_RESERVATION": "1"}
    with open(tmp_path / "jackd.log", "wb") as log:
        # -t 10000: a client late by up to 10 s (a loaded machine, a niced Ardour) is not thrown out
        proc = subprocess.Popen(["jackd", "-n", name, "--no-realtime", "-t", "10000", "-d", "dummy", "-r", "48000", "-p", "1024"],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
    time.sleep(1.0)
    assert proc.poll() is None, (tmp_path / "jackd.log").read_text()
    yield name
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:  # it waits for a client that went away mid-cycle
        proc.kill()
        proc.wait(5)


class App:
    """The Standalone app on ``display`` with a private HOME (JUCE's settings file; no ALSA card,
    so JUCE picks the JACK server ``jack``) and the plugin defaults ``settings``."""

    def __init__(self, app: Path, display: Display, home: Path, settings: dict[str, Any], jack: str,
                 scale: float = 1.0) -> None:
        home.mkdir(parents=True, exist_ok=True)
        # JUCE's Standalone settings: the device input unmuted (the input WAV replaces it; muted,
        # the window shows a feedback warning bar)
        (home / ".config").mkdir(exist_ok=True)
        (home / ".config" / "Topline.settings").write_text(
            '<?xml version="1.0" encoding="UTF-8"?>\n<PROPERTIES>\n  <VALUE name="shouldMuteInput" val="0"/>\n</PROPERTIES>\n')
        defaults = home / "defaults.json"
        defaults.write_text(json.dumps({"format": "topline-vst3", "version": 1, **settings}))
        self.state_file = home / "editor-state.json"
        self.display = display
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOPLINE_")}
        env.update(DISPLAY=display.name, HOME=str(home), TOPLINE_VST3_DEFAULTS=str(defaults),
                   TOPLINE_EDITOR_STATE=str(self.state_file), XDG_RUNTIME_DIR=str(home), JACK_DEFAULT_SERVER=jack,
                   JACK_NO_START_SERVER="1", JACK_NO_AUDIO_RESERVATION="1", TOPLINE_UI_SCALE=str(scale))
        self.log = open(home / "app.log", "wb")
        self.proc = subprocess.Popen([str(app)], env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def state(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.state_file.read_text()))
        except (OSError, ValueError):
            return {}

    def wait(self, pred: Callable[[dict[str, Any]], bool], timeout: float, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, f"the app exited ({self.proc.returncode}) waiting for {what}"
            s = self.state()
            if s and pred(s):
                return s
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the editor shows: {s}")
            time.sleep(0.05)

    def xdotool(self, *args: str, click_at: tuple[int, int] = (40, 80)) -> None:
        """Clicks at ``click_at`` in the window (default: the editor's title, no control there),
        which gives the editor the keyboard focus (with no window manager, X focus alone does not
        reach JUCE), then runs ``xdotool args``."""
        env = {**os.environ, "DISPLAY": self.display.name}
        wid = subprocess.run(["xdotool", "search", "--sync", "--onlyvisible", "--pid", str(self.proc.pid)],
                             env=env, capture_output=True, text=True, timeout=20).stdout.split()
        assert wid, "no window of the app"
        subprocess.run(["xdotool", "mousemove", "--window", wid[-1], str(click_at[0]), str(click_at[1]), "click", "1"],
                       env=env, check=True, timeout=10)
        time.sleep(0.3)
        subprocess.run(["xdotool", *args], env=env, check=True, timeout=10)

    def key(self, keys: str) -> None:
        self.xdotool("key", "--clearmodifiers", keys)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


@pytest.fixture
def apps() -> Iterator[list[App]]:
    made: list[App] = []
    yield made
    for a in made:
        a.close()


def shot(display: Display, tmp_path: Path, name: str) -> Path:
    """A PNG of the display that is not blank: many colours, text-like contrast."""
    from PIL import Image

    time.sleep(0.4)  # the editor writes its state, then repaints on the next message-loop turns
    path = display.grab(tmp_path / f"{name}.png")
    img = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)
    colours = len(np.unique(img.reshape(-1, 3).astype(np.uint8), axis=0))
    assert colours > 50 and img.std() > 20, f"{name}.png looks blank ({colours} colours, std {img.std():.1f})"
    keep = os.environ.get("TOPLINE_SCREENSHOTS_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / path.name)
    return path


def instrumental(path: Path, sr: int = 48000, seconds: float = 4.0) -> Path:
    t = np.arange(int(sr * seconds)) / sr
    x = (0.1 * np.sin(2 * np.pi * 110 * t) * (1 + np.sign(np.sin(2 * np.pi * 2 * t))) / 2).astype(np.float32)
    sf.write(str(path), np.stack([x, x]).T, sr, subtype="FLOAT")
    return path


@needs_jack
def test_the_standalone_editor_through_its_states_on_a_virtual_display(
        vst3_path: Path, tmp_path: Path, tone_sidecar: Callable[[], Any], display: Callable[..., Display],
        apps: list[App], jack: str, monkeypatch: pytest.MonkeyPatch) -> None:
    app = standalone_path(vst3_path)
    settings = {"lyrics": LYRICS, "artist": "alpha", "melody_path": str(_melody(tmp_path / "guide.mid")),
                "takes_dir": str(tmp_path / "takes"), "connection_file": str(tmp_path / "sidecar.json"),
                "clock": "free", "fallback_bpm": 120.0, "seed": 5, "max_capture_s": 8.0,
                "input_wav": str(instrumental(tmp_path / "instrumental.wav")), "params": {"capture": True}}
    screen = display()
    a = App(app, screen, tmp_path / "home-a", settings, jack)
    apps.append(a)

    # 1. no sidecar: the banner says so and how to fix it
    s = a.wait(lambda s: s["sidecar_state"] == "not found", 60.0, "the no-sidecar banner")
    assert "topline sidecar" in s["banner_fix"] and s["diagnostics"]["standalone"] is True
    s = a.wait(lambda s: s["diagnostics"]["sample_rate"] > 0
               and s["diagnostics"]["captured_samples"] >= 8 * s["diagnostics"]["sample_rate"] - 1, 60.0,
               "the input WAV captured (8 s)")
    assert s["diagnostics"]["input_file_playing"] is True
    shot(screen, tmp_path, "1-no-sidecar")

    # 2. a sidecar (slow tone engine: the render takes ~16 s, so ~50 % lasts through a screenshot on a
    # loaded machine) appears: artists with their details
    monkeypatch.setenv("TOPLINE_TONE_RTF", "2.0")
    sidecar = tone_sidecar()
    s = a.wait(lambda s: s["sidecar_state"] == "connected" and s["artist_info"] != "", 30.0, "the artists")
    assert "alpha" in s["artists"] and "Range" in s["artist_info"] and s["message"] == "", s
    shot(screen, tmp_path, "2-sidecar-ready")

    # 3. Ctrl+Return = Generate; photographed half way
    a.key("ctrl+Return")
    s = a.wait(lambda s: 0.3 <= s["progress"] <= 0.7, 60.0, "the render at ~50 %")
    shot(screen, tmp_path, "3-generating")
    after = a.state()
    assert after["progress"] <= 0.75 and "Generating" in after["status"], after
    assert s["phrase"].startswith("Sung ") or after["phrase"].startswith("Sung "), (s, after)

    # 4. the take: listed, selected, its melody drawn with the lyric under the notes
    s = a.wait(lambda s: s["status"].startswith("Take ready") and s["piano_roll_notes"] > 0, 60.0, "the take")
    assert [t["number"] for t in s["takes"]] == [1] and s["takes"][0]["artist"] == "alpha"
    assert s["takes"][0]["seed"] == 5 and s["takes"][0]["stale"] is False and s["selected_take"] == 0
    # what a drag out of the take list or the take tile hands over: the WAV, placed by its BWF
    # time reference (the capture started at session sample 0 on the app's clock)
    wav = Path(s["takes"][0]["wav"])
    assert wav.is_file() and _bext_time_reference(wav) == s["diagnostics"]["capture_start_sample"] == 0
    assert s["diagnostics"]["audio_thread_allocations"] == 0 and s["diagnostics"]["audio_thread_locks"] == 0
    shot(screen, tmp_path, "4-take")

    # the sidecar killed while a second take is made: the banner says so and how to fix it
    a.key("ctrl+Return")
    a.wait(lambda s: "Generating" in s["status"], 30.0, "the second render")
    os.kill(sidecar.proc.pid, signal.SIGKILL)
    sidecar.proc.wait(10)  # reaped, as its parent or init would
    s = a.wait(lambda s: s["sidecar_state"] == "not found" and "topline sidecar" in s["status"], 20.0,
               "the killed sidecar noticed")
    assert "topline sidecar" in s["banner_fix"] and s["diagnostics"]["job_running"], s
    shot(screen, tmp_path, "sidecar-killed")
    a.key("Escape")
    s = a.wait(lambda s: s["status"].startswith("Cancelled"), 10.0, "Escape to cancel")
    assert s["diagnostics"]["audio_thread_allocations"] == 0 and s["diagnostics"]["audio_thread_locks"] == 0
    a.close()

    # 5. the project reopened at 100 BPM (the tempo changed since the capture), at 200 % scale
    meta = json.loads((tmp_path / "takes" / "take-0001.json").read_text())
    take = {"path": str(tmp_path / "takes" / "take-0001.wav"), "start_sample": 0,
            "sample_rate": sf.info(str(tmp_path / "takes" / "take-0001.wav")).samplerate,
            "tempo_map": meta["tempo_map"]}
    big = display(size="2000x1400x24")
    b = App(app, big, tmp_path / "home-b", {**settings, "fallback_bpm": 100.0, "take": take}, jack, scale=2.0)
    apps.append(b)
    s = b.wait(lambda s: s["takes"] and s["takes"][0]["stale"] is True, 60.0, "the stale marker")
    assert s["host_bpm"] == 100.0 and s["piano_roll_notes"] == 16
    assert s["scale"] == 2.0, "the editor is not at 200 %"
    shot(big, tmp_path, "5-stale-take-200pct")


@needs_jack
def test_bad_input_in_the_editor_says_what_to_do(
        vst3_path: Path, tmp_path: Path, tone_sidecar: Callable[[], Any], display: Callable[..., Display],
        apps: list[App], jack: str) -> None:
    """An artist the sidecar does not have, empty lyrics, a guide melody that is not MIDI: each
    shows a message in the editor that says what to do; the audio keeps running."""
    tone_sidecar()
    not_midi = tmp_path / "melody.mid"
    not_midi.write_text("a text file named .mid\n")
    settings = {"lyrics": "", "artist": "ghost", "melody_path": str(not_midi), "takes_dir": str(tmp_path / "takes"),
                "connection_file": str(tmp_path / "sidecar.json"), "clock": "free", "max_capture_s": 4.0,
                "input_wav": str(instrumental(tmp_path / "instrumental.wav")), "params": {"capture": True}}
    a = App(standalone_path(vst3_path), display(), tmp_path / "home", settings, jack)
    apps.append(a)
    s = a.wait(lambda s: s["sidecar_state"] == "connected" and s["diagnostics"]["captured_samples"] > 0, 60.0,
               "the sidecar and a capture")
    assert "ghost" in s["message"] and "pick another" in s["message"], s
    # keyboard only: Tab walks the controls in reading order; Return on Generate presses it
    a.xdotool("key", "--clearmodifiers", "Tab")
    a.wait(lambda s: s.get("focus") == "Artist", 5.0, "Tab to the artist menu")
    a.xdotool("key", "--clearmodifiers", *["Tab"] * 4)
    a.wait(lambda s: s.get("focus") == "Load lyrics...", 5.0, "Tab through the lyrics to Load lyrics")
    a.xdotool("key", "--clearmodifiers", *["Tab"] * 10)
    a.wait(lambda s: s.get("focus") == "Generate", 5.0, "Tab to Generate")
    a.xdotool("key", "--clearmodifiers", *["Tab"] * 10, "Return")
    s = a.wait(lambda s: "No lyrics" in s["message"], 10.0, "the empty-lyrics message")
    assert "type or load the lyrics" in s["message"] and not s["diagnostics"]["job_running"], s
    a.xdotool("type", "--delay", "20", "la la la la", click_at=(200, 250))   # into the lyrics
    a.key("ctrl+Return")
    s = a.wait(lambda s: "not a MIDI file" in s["message"], 10.0, "the not-MIDI message")
    assert "Compose for me" in s["message"] and not s["diagnostics"]["job_running"], s
    blocks = s["diagnostics"]["blocks"]
    s = a.wait(lambda s: s["diagnostics"]["blocks"] > blocks, 5.0, "the audio to keep running")
    assert s["diagnostics"]["audio_thread_allocations"] == 0 and s["diagnostics"]["audio_thread_locks"] == 0


@needs_jack
def test_audition_from_the_editor_lists_its_clips_and_plays_the_one_picked(
        vst3_path: Path, tmp_path: Path, tone_sidecar: Callable[[], Any], display: Callable[..., Display],
        apps: list[App], jack: str) -> None:
    """Ctrl+Shift+Return (the Audition button): the artist picked and the next two the sidecar
    has sing the capture; the clips come in one by one, are listed in the editor with their files
    (BWF time reference = their session position) and the first plays; the Hear menu (reached
    with Tab, changed with the arrow keys) switches to another clip. tests/test_vst3_audition.py
    checks that a clip plays on the session samples it was sung for."""
    tone_sidecar()
    settings = {"lyrics": LYRICS, "artist": "alpha", "melody_path": str(_melody(tmp_path / "guide.mid")),
                "takes_dir": str(tmp_path / "takes"), "connection_file": str(tmp_path / "sidecar.json"),
                "clock": "free", "seed": 5, "max_capture_s": 8.0,
                "input_wav": str(instrumental(tmp_path / "instrumental.wav")), "params": {"capture": True}}
    screen = display()
    a = App(standalone_path(vst3_path), screen, tmp_path / "home", settings, jack)
    apps.append(a)
    s = a.wait(lambda s: s["sidecar_state"] == "connected" and len(s["artists"]) >= 3
               and s["diagnostics"]["captured_samples"] >= 8 * s["diagnostics"]["sample_rate"] - 1, 60.0,
               "the sidecar and the capture")
    i = s["artists"].index("alpha")
    cast = ["alpha"] + [s["artists"][(i + k) % len(s["artists"])] for k in (1, 2)]
    a.key("ctrl+shift+Return")
    s = a.wait(lambda s: s["status"].startswith("Audition ready") or s["message"] != "", 90.0, "the audition")
    assert s["message"] == "" and sorted(c["artist"] for c in s["clips"]) == sorted(cast), s
    for c in s["clips"]:
        assert _bext_time_reference(Path(c["wav"])) == c["start_sample"] >= 0
    assert s["clip_playing"] == 0 and "playing " + s["clips"][0]["artist"] in s["phrase"], s
    assert s["takes"] == [], "an audition is not a take"
    shot(screen, tmp_path, "6-audition")

    # the Hear menu is the last control: Tab through all of them to it, then Down picks the next clip
    # (each xdotool call first clicks the editor, which starts the Tab order again)
    tabs = 0
    while a.state().get("focus") != "Hear":
        tabs += 1
        assert tabs < 30, f"Tab never reached the Hear menu (focus on {a.state().get('focus')})"
        a.xdotool("key", "--clearmodifiers", *["Tab"] * tabs)
        time.sleep(0.3)
    a.xdotool("key", "--clearmodifiers", *["Tab"] * tabs, "Down")
    s = a.wait(lambda s: s["clip_playing"] == 1, 10.0, "the second clip picked")
    assert "playing " + s["clips"][1]["artist"] in s["phrase"], s
    assert s["diagnostics"]["take_loaded"] is True
    assert s["diagnostics"]["audio_thread_allocations"] == 0 and s["diagnostics"]["audio_thread_locks"] == 0
