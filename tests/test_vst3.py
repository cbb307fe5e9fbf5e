"""The Topline VST3 (daw_plugin/vst3), built with CMake from Debian packages and hosted in pedalboard.

pedalboard gives no transport (its play head stays stopped at sample 0), so the tests that play
or capture set the plugin's "free" clock (sample 0 at each process() call, the tempo from its state); the real host positions (PPQ, tempo map) are
exercised in headless Ardour. Each test reads what the plugin did from its saved state
("diagnostics"): the audio-thread allocation count, the capture, the take, the worker's status.
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
BUILD_SH = ROOT / "daw_plugin" / "vst3" / "build.sh"


def _missing_tools() -> str | None:
    if shutil.which("cmake") is None or shutil.which("c++") is None:
        return "cmake or a C++ compiler is not installed (scripts/setup.sh --dev installs them)"
    if not glob.glob("/usr/lib/*/cmake/JUCE-*/JUCEConfig.cmake") and not glob.glob("/usr/lib/cmake/JUCE-*/JUCEConfig.cmake"):
        return "JUCE is not installed (apt-get install juce-modules-source; scripts/setup.sh --dev)"
    if not Path("/usr/include/zmq.hpp").exists() or not Path("/usr/include/zmq.h").exists():
        return "ZeroMQ C++ headers are missing (apt-get install libzmq3-dev cppzmq-dev; scripts/setup.sh --dev)"
    return None


@pytest.fixture(scope="session")
def vst3_path() -> Path:
    """Builds the plugin (first run ~5 min on 2 cores; later runs reuse build/vst3 and take seconds)."""
    why = _missing_tools()
    if why is not None:
        pytest.skip(why)
    r = subprocess.run(["bash", str(BUILD_SH)], capture_output=True, text=True, timeout=3600)
    assert r.returncode == 0, f"build failed:\n{r.stderr[-4000:]}"
    path = Path(r.stdout.strip().splitlines()[-1])
    assert path.is_dir() and path.suffix == ".vst3"
    return path


@pytest.fixture
def load(vst3_path: Path) -> Iterator[Callable[[], Any]]:
    import pedalboard

    made: list[Any] = []

    def make() -> Any:
        p = pedalboard.load_plugin(str(vst3_path))
        made.append(p)
        return p

    yield make
    made.clear()  # the plugin's worker thread stops when pedalboard frees the instance


_JUCE_B64 = ".ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+"


def _juce_b64_decode(text: str) -> bytes:
    """juce::MemoryBlock::fromBase64Encoding ("<size>.<6 bits per char, LSB first>")."""
    size_s, _, data = text.strip().partition(".")
    size = int(size_s)
    value = 0
    for i, ch in enumerate(data):
        value |= _JUCE_B64.index(ch) << (6 * i)
    return value.to_bytes((6 * len(data) + 7) // 8, "little")[:size]


def _juce_b64_encode(blob: bytes) -> str:
    value = int.from_bytes(blob, "little")
    n = (len(blob) * 8 + 5) // 6
    return f"{len(blob)}." + "".join(_JUCE_B64[(value >> (6 * i)) & 63] for i in range(n))


def state(plugin: Any) -> dict[str, Any]:
    """The plugin's own state (JSON) out of pedalboard's raw_state: JUCE's host wraps the VST3
    component state as "VC2!" + length + XML whose IComponent holds it in JUCE's base64; JUCE's
    plugin side appends its private data after ours, NUL-separated."""
    import xml.etree.ElementTree as ET

    raw: bytes = plugin.raw_state
    assert raw[:4] == b"VC2!", raw[:16]
    n = int.from_bytes(raw[4:8], "little")
    comp = ET.fromstring(raw[8:8 + n].decode("utf-8")).findtext("IComponent")
    assert comp is not None
    return json.loads(_juce_b64_decode(comp).split(b"\0", 1)[0].decode("utf-8"))


def set_state(plugin: Any, **fields: Any) -> None:
    s = state(plugin)
    s.pop("diagnostics", None)
    s.update(fields)
    xml = ('<?xml version="1.0" encoding="UTF-8"?>\n\n<VST3PluginState><IComponent>'
           + _juce_b64_encode(json.dumps(s).encode("utf-8")) + "</IComponent></VST3PluginState>").encode("utf-8")
    plugin.raw_state = b"VC2!" + len(xml).to_bytes(4, "little") + xml + b"\0"


def wait_for(plugin: Any, pred: Callable[[dict[str, Any]], bool], timeout: float, what: str) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        d = state(plugin)["diagnostics"]
        if pred(d):
            return d
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; plugin diagnostics: {d}")
        time.sleep(0.05)


def rt_clean(plugin: Any) -> bool:
    """No allocation and no blocking lock on the audio thread so far (the counters are armed)."""
    d = state(plugin)["diagnostics"]
    assert d["rt_check_armed"] is True
    return bool(d["audio_thread_allocations"] == 0 and d["audio_thread_locks"] == 0)


def noise(sr: int, seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((2, int(sr * seconds))) * 0.3).astype(np.float32)
    x[:, :4] = [[-0.0, 1e-40, -1.0, 1.0]] * 2  # negative zero, a denormal, full scale
    return x


def bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


# ---------------------------------------------------------------------------------- pass-through
@pytest.mark.parametrize("sr,block", [(44100, 512), (48000, 128), (96000, 1024)])
def test_pass_through_is_bit_exact_and_the_vocal_is_silent_without_a_take(load: Callable[[], Any], sr: int,
                                                                          block: int) -> None:
    p = load()
    x = noise(sr, 1.0)
    y = p.process(x, sr, buffer_size=block)
    assert y.shape == x.shape and np.array_equal(bits(y), bits(x))
    p.monitor = "Vocal"
    v = p.process(x, sr, buffer_size=block)
    assert v.shape == x.shape and not np.any(v)
    d = state(p)["diagnostics"]
    assert d["take_loaded"] is False and d["take_samples_played"] == 0
    assert d["rt_check_armed"] is True and d["audio_thread_allocations"] == 0 and d["audio_thread_locks"] == 0


def test_latency_reported_is_zero(load: Callable[[], Any]) -> None:
    p = load()
    p.process(noise(48000, 0.1), 48000)
    assert p.reported_latency_samples == 0
    assert state(p)["diagnostics"]["latency_samples"] == 0


def test_parameters_are_reachable_without_the_editor(load: Callable[[], Any]) -> None:
    p = load()
    names = set(p.parameters)
    assert {"capture", "generate", "cancel", "monitor", "vocal_level"} <= names, names


# ---------------------------------------------------------------------------------- state
def test_state_round_trips_through_the_host(load: Callable[[], Any], tmp_path: Path) -> None:
    a = load()
    set_state(a, lyrics="[Verse]\nnaïve café — ça va\nline two", artist="nezumi", seed=7, fallback_bpm=100.0, clock="free",
              melody_path=str(tmp_path / "m.mid"), takes_dir=str(tmp_path / "takes"),
              take={"path": str(tmp_path / "missing.wav"), "start_sample": 96000, "sample_rate": 48000,
                    "tempo_map": {"tempos": [[0.0, 100.0]], "meters": [[1, 3, 4]], "offset_s": 0.0}})
    a.monitor = "Instrumental"
    a.vocal_level = -6.0
    raw = a.raw_state
    b = load()
    b.raw_state = raw
    s = state(b)
    assert s["lyrics"] == "[Verse]\nnaïve café — ça va\nline two" and s["artist"] == "nezumi" and s["seed"] == 7
    assert s["fallback_bpm"] == 100.0 and s["clock"] == "free" and s["takes_dir"] == str(tmp_path / "takes")
    assert s["take"]["start_sample"] == 96000 and s["take"]["tempo_map"]["meters"] == [[1, 3, 4]]
    assert s["params"]["monitor"] == 1 and abs(s["params"]["vocal_db"] + 6.0) < 0.05
    # the take file is missing: the plugin says so and stays silent (no crash)
    d = wait_for(b, lambda d: "missing.wav" in d["error"], 5.0, "the missing-take error")
    assert d["take_loaded"] is False


def _write_take(path: Path, sr: int, seconds: float, channels: int = 1) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    take = np.stack([0.25 * np.sin(2 * np.pi * (220 + 110 * c) * t) for c in range(channels)]).astype(np.float32)
    sf.write(str(path), take.T, sr, subtype="FLOAT")
    return take


def test_a_restored_take_plays_at_its_session_position(load: Callable[[], Any], tmp_path: Path) -> None:
    sr, start = 48000, 12345
    take = _write_take(tmp_path / "take-0001.wav", sr, 1.0)
    p = load()
    p.process(np.zeros((2, 256), np.float32), sr)  # prepared at the session rate
    set_state(p, clock="free", take={"path": str(tmp_path / "take-0001.wav"), "start_sample": start, "sample_rate": sr})
    wait_for(p, lambda d: d["take_published_rate"] == sr, 10.0, "the take to load")
    p.monitor = "Vocal"
    x = noise(sr, 1.5)
    y = p.process(x, sr, buffer_size=333)
    assert not np.any(y[:, :start])
    assert np.array_equal(y[0, start:start + take.shape[1]], take[0])  # mono take on both channels, unity gain
    assert np.array_equal(y[1, start:start + take.shape[1]], take[0])
    assert not np.any(y[:, start + take.shape[1]:])
    p.monitor = "Instrumental + vocal"
    m = p.process(x, sr, buffer_size=333)
    assert np.array_equal(bits(m[:, :start]), bits(x[:, :start]))
    assert np.allclose(m[:, start:start + take.shape[1]], x[:, start:start + take.shape[1]] + take[0], atol=1e-7)
    assert rt_clean(p)


def test_sample_rate_and_block_size_changes_between_captures(load: Callable[[], Any], tmp_path: Path) -> None:
    sr0, start = 48000, 4800
    take = _write_take(tmp_path / "take.wav", sr0, 0.5)
    p = load()
    p.process(np.zeros((2, 64), np.float32), sr0)
    set_state(p, clock="free", take={"path": str(tmp_path / "take.wav"), "start_sample": start, "sample_rate": sr0})
    wait_for(p, lambda d: d["take_published_rate"] == sr0, 10.0, "the take to load")
    p.capture = True
    for sr, block in [(48000, 512), (44100, 64), (96000, 4096), (22050, 1), (48000, 37), (44100, 8192)]:
        x = noise(sr, 0.8, seed=sr + block)
        p.monitor = "Instrumental"
        y = p.process(x, sr, buffer_size=block)
        assert np.array_equal(bits(y), bits(x)), (sr, block)
        d = state(p)["diagnostics"]
        assert d["sample_rate"] == sr and d["captured_samples"] == x.shape[1], (sr, block, d)
        # the take follows the rate: resampled by the worker, still at 0.1 s
        wait_for(p, lambda d: d["take_published_rate"] == sr, 10.0, f"the take resampled to {sr} Hz")
        p.monitor = "Vocal"
        v = p.process(np.zeros((2, int(sr * 0.8)), np.float32), sr, buffer_size=block)
        onset = int(np.argmax(np.abs(v[0]) > 1e-4))
        assert abs(onset - round(start * sr / sr0)) <= 2, (sr, block, onset)
        assert abs(np.count_nonzero(np.abs(v[0]) > 1e-4) - take.shape[1] * sr / sr0) < 0.02 * sr, (sr, block)
    assert rt_clean(p)


# ---------------------------------------------------------------------------------- with a sidecar
INTEGRATION = ROOT / "tests" / "integration"
LYRICS = "[Verse]\nla la la la\nlo lo lo lo\n[Chorus]\nli li li li\nlu lu lu lu"


@pytest.fixture
def tone_sidecar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], Any]]:
    """start() -> a real sidecar (tone engine, tests/integration/tone.py) on a private connection file."""
    from host_bridge.supervisor import SidecarManager, sidecar_command

    monkeypatch.setenv("TOPLINE_TONE_RTF", "0.05")
    started: list[Any] = []

    def start() -> Any:
        m = SidecarManager(sidecar_command(["--pipeline", f"{INTEGRATION / 'tone.py'}:TonePipeline", "-v"]),
                           tmp_path / "sidecar.json", start_timeout=60.0)
        started.append(m)
        m.start()
        return m

    yield start
    for m in started:
        m.kill(term_timeout=0.5)


def _melody(path: Path) -> Path:
    sys.path.insert(0, str(INTEGRATION))
    try:
        from tone import melody_midi
    finally:
        sys.path.remove(str(INTEGRATION))
    path.write_bytes(melody_midi(16))
    return path


def _bext_time_reference(wav: Path) -> int:
    data = wav.read_bytes()
    i = data.find(b"bext")
    assert i > 0, "no bext chunk"
    return int.from_bytes(data[i + 8 + 338: i + 8 + 346], "little")


def test_capture_generate_and_play_the_take_through_a_real_sidecar(load: Callable[[], Any], tmp_path: Path,
                                                                   tone_sidecar: Callable[[], Any]) -> None:
    sr, seconds = 48000, 12.0
    p = load()
    set_state(p, lyrics=LYRICS, melody_path=str(_melody(tmp_path / "guide.mid")), takes_dir=str(tmp_path / "takes"),
              connection_file=str(tmp_path / "sidecar.json"), fallback_bpm=120.0, seed=3, clock="free")
    p.capture = True
    x = noise(sr, seconds) * np.float32(0.1)
    y = p.process(x, sr, buffer_size=512)
    assert np.array_equal(bits(y), bits(x))
    assert state(p)["diagnostics"]["captured_samples"] == x.shape[1]

    p.generate = True  # the sidecar is not there yet: the plugin waits for it
    wait_for(p, lambda d: "Waiting for the sidecar" in d["status"], 10.0, "the plugin to wait for the sidecar")
    tone_sidecar()
    d = wait_for(p, lambda d: d["status"].startswith("Take ready") or d["error"] != "", 120.0, "the take")
    assert d["error"] == "", d
    s = state(p)
    assert s["capture"]["start_sample"] == 0 and s["capture"]["length_samples"] == x.shape[1]
    assert s["capture"]["tempo_map"] == {"tempos": [[0.0, 120.0]], "meters": [[1, 4, 4]], "offset_s": 0.0}
    wav = Path(s["take"]["path"])
    assert wav.parent == tmp_path / "takes" and wav.name == "take-0001.wav" and wav.with_suffix(".json").exists()
    audio, wsr = sf.read(str(wav), dtype="float32", always_2d=True)
    assert wsr == sr and audio.shape == (x.shape[1], 1) and _bext_time_reference(wav) == 0
    assert s["take"]["engine"] == "tone" and np.sqrt(np.mean(audio ** 2)) > 1e-3

    p.monitor = "Vocal"
    v = p.process(np.zeros_like(x), sr, buffer_size=512)
    assert np.array_equal(v[0], audio[:, 0]) and np.array_equal(v[1], audio[:, 0])
    d = state(p)["diagnostics"]
    assert d["take_samples_played"] >= x.shape[1] and rt_clean(p)


def test_a_sidecar_that_crashes_mid_job_is_found_again_and_the_job_resubmitted(
        load: Callable[[], Any], tmp_path: Path, tone_sidecar: Callable[[], Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import signal

    sr = 48000
    monkeypatch.setenv("TOPLINE_TONE_RTF", "0.4")  # slow enough to be killed mid-render
    first = tone_sidecar()
    p = load()
    set_state(p, lyrics=LYRICS, melody_path=str(_melody(tmp_path / "guide.mid")), takes_dir=str(tmp_path / "takes"),
              connection_file=str(tmp_path / "sidecar.json"), clock="free")
    p.capture = True
    p.process(noise(sr, 12.0) * np.float32(0.1), sr)
    p.generate = True
    wait_for(p, lambda d: d["status"].startswith("Generating: render"), 60.0, "the render to start")
    os.kill(first.proc.pid, signal.SIGKILL)
    monkeypatch.setenv("TOPLINE_TONE_RTF", "0.05")
    tone_sidecar()  # a new process on a new port, named by the same connection file
    d = wait_for(p, lambda d: d["status"].startswith("Take ready") or d["error"] != "", 90.0, "the resubmitted take")
    assert d["error"] == "" and d["status"] == "Take ready: take-0001.wav", d
    assert sorted(x.name for x in (tmp_path / "takes").iterdir()) == ["take-0001.json", "take-0001.wav"]


def test_a_sidecar_error_shows_its_message_and_hint_and_cancel_stops_a_job(
        load: Callable[[], Any], tmp_path: Path, tone_sidecar: Callable[[], Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    sr = 48000
    monkeypatch.setenv("TOPLINE_TONE_RTF", "0.5")
    tone_sidecar()
    p = load()
    set_state(p, lyrics=LYRICS, melody_path=str(_melody(tmp_path / "guide.mid")), takes_dir=str(tmp_path / "takes"),
              connection_file=str(tmp_path / "sidecar.json"), clock="free", artist="nobody")
    p.capture = True
    p.process(noise(sr, 12.0) * np.float32(0.1), sr)
    p.generate = True
    d = wait_for(p, lambda d: d["error"] != "", 30.0, "the sidecar's error")
    assert "nobody" in d["error"] and d["hint"] and d["status"].startswith("Failed") and not d["job_running"], d

    set_state(p, artist="alpha")
    p.generate = False
    p.generate = True  # the capture is still there: generate again, then cancel mid-render
    wait_for(p, lambda d: d["status"].startswith("Generating: render"), 30.0, "the render to start")
    p.cancel = True
    d = wait_for(p, lambda d: d["status"].startswith("Cancelled"), 30.0, "the job to be cancelled")
    assert not d["job_running"] and not (tmp_path / "takes").exists()
