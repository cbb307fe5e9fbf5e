"""Topline as a user installs it: a wheel of the working tree (``pip wheel --no-deps``) installed
with ``--no-deps`` into a fresh ``python -m venv``, run from a folder outside the source tree.

Nothing is downloaded: the wheel is built without build isolation (the dev venv's setuptools), and
the fresh venv reaches its dependencies through a ``.pth`` file naming the dev venv's
site-packages (a plain path line, so the dev venv's editable install of the source tree stays
inactive). What the wheel does not ship (the Ardour Lua scripts once lived in daw_plugin/, outside
every package) fails here.

Cost on the shared 2-core box: wheel + venv + install about 11 s, the three quick checks 5 s; the
Kokoro render of the demo's first line (bars 1-3, through a cold sidecar) about 67 s, marked slow.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import mido
import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "demo"
PACKAGES = ("host_bridge", "inference", "presets")


@dataclass(frozen=True)
class Install:
    venv: Path
    work: Path  # an empty folder outside the source tree, the commands' working directory

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """``topline ARGS`` from the installed entry point, in ``work``, without PYTHONPATH."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        return subprocess.run([str(self.venv / "bin" / "topline"), *args], capture_output=True, text=True,
                              timeout=timeout, env=env, cwd=self.work)


def _copy_sources(dst: Path) -> None:
    """The files a wheel is built from: the three packages (working tree, not the last commit) and
    pyproject.toml."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in PACKAGES:
        shutil.copytree(ROOT / name, dst / name, ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", dst / "pyproject.toml")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Install]:
    base = tmp_path_factory.mktemp("wheel")
    src, wheels, venv, work = base / "src", base / "wheels", base / "venv", base / "work"
    _copy_sources(src)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    r = subprocess.run([*pip, "wheel", str(src), "--no-deps", "--no-build-isolation", "-w", str(wheels)],
                       capture_output=True, text=True, timeout=300, cwd=base)
    assert r.returncode == 0, r.stdout + r.stderr
    (wheel,) = wheels.glob("topline-*.whl")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    r = subprocess.run([*pip, "--python", str(venv / "bin" / "python"), "install", "--no-deps", str(wheel)],
                       capture_output=True, text=True, timeout=300, cwd=base)
    assert r.returncode == 0, r.stdout + r.stderr
    purelib = subprocess.run([str(venv / "bin" / "python"), "-c",
                              "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    (Path(purelib) / "topline_dev_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work.mkdir()
    yield Install(venv, work)


def test_the_installed_packages_come_from_the_wheel_not_the_source_tree(installed: Install) -> None:
    code = ("import sys, host_bridge, inference, presets\n"
            "print(*(m.__file__ for m in (host_bridge, inference, presets)), sep='\\n')\n"
            f"assert not any(p in ('', '.', {str(ROOT)!r}) for p in sys.path[1:]), sys.path\n")
    r = subprocess.run([str(installed.python), "-c", code], capture_output=True, text=True, timeout=60,
                       cwd=installed.work, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert r.returncode == 0, r.stderr
    for f in r.stdout.split():
        assert Path(f).is_relative_to(installed.venv), f"{f} is not the installed copy"


def test_installed_topline_version_and_artists(installed: Install) -> None:
    r = installed.run("--version")
    assert r.returncode == 0 and r.stdout.startswith("topline 0.1.0"), r.stdout + r.stderr
    r = installed.run("artists")
    assert r.returncode == 0, r.stderr
    assert "heart" in r.stdout and "engine kokoro" in r.stdout, r.stdout


def test_installed_ardour_install_finds_its_lua_without_the_source_tree(installed: Install) -> None:
    """Regression: the Lua scripts and export preset lived in daw_plugin/ardour, found by walking up
    from the package, so an installed Topline had none."""
    cfg = installed.work / "ardour-config"
    r = installed.run("ardour", "install", "--config-dir", str(cfg))
    assert r.returncode == 0, r.stdout + r.stderr
    data = ROOT / "host_bridge" / "daw" / "ardour" / "data"
    landed = {cfg / "scripts" / "topline_sing.lua": data / "topline_sing.lua",
              cfg / "export" / "topline-float.preset": data / "export" / "topline-float.preset",
              cfg / "export" / "topline-float.format": data / "export" / "topline-float.format"}
    for dst, src in landed.items():
        assert dst.is_file(), f"{dst} was not installed"
        assert dst.read_bytes() == src.read_bytes(), f"{dst} differs from {src}"
    # the headless scripts the adapter runs ship too, beside the installed package
    code = ("from host_bridge.daw.ardour import runner as R; d = R.plugin_dir(); "
            "print(d); assert (d / 'headless' / 'topline_lib.lua').is_file()")
    r = subprocess.run([str(installed.python), "-c", code], capture_output=True, text=True, timeout=60,
                       cwd=installed.work)
    assert r.returncode == 0, r.stderr
    assert Path(r.stdout.strip()).is_relative_to(installed.venv), r.stdout


def _demo_excerpt(dst: Path, last_bar: int = 3) -> dict[str, Path]:
    """The demo's bars 1..``last_bar`` (the intro and the first sung line): instrumental, lyrics, melody."""
    mid = mido.MidiFile(DEMO / "melody.mid")
    end_tick = last_bar * 4 * mid.ticks_per_beat  # 4/4 throughout
    out = mido.MidiFile(ticks_per_beat=mid.ticks_per_beat, type=mid.type)
    for track in mid.tracks:
        kept, now, last = mido.MidiTrack(), 0, 0
        for msg in track:
            now += msg.time
            if now <= end_tick and msg.type != "end_of_track":
                kept.append(msg.copy(time=now - last))
                last = now
        kept.append(mido.MetaMessage("end_of_track", time=0))
        out.tracks.append(kept)
    files = {"melody": dst / "melody.mid", "lyrics": dst / "lyrics.txt", "instrumental": dst / "instrumental.wav"}
    out.save(files["melody"])
    files["lyrics"].write_text("[Verse]\nMorning light on the kitchen floor\n", encoding="utf-8")
    audio, sr = sf.read(DEMO / "instrumental.ogg", dtype="float32", always_2d=True)
    seconds = last_bar * 4 * 60.0 / 96.0  # 96 BPM
    sf.write(files["instrumental"], audio[:int(seconds * sr)], sr, subtype="FLOAT")
    return files


@pytest.mark.slow
def test_installed_topline_generates_the_demos_first_line(installed: Install) -> None:
    song = installed.work / "song"
    song.mkdir()
    files = _demo_excerpt(song)
    cf = installed.work / "run" / "sidecar.json"
    out = installed.work / "take.wav"
    try:
        r = installed.run("generate", "--instrumental", str(files["instrumental"]), "--lyrics", str(files["lyrics"]),
                          "--melody", str(files["melody"]), "--out", str(out), "--connection-file", str(cf),
                          timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        if cf.exists():
            stop = installed.run("sidecar", "--stop", "--connection-file", str(cf))
            assert stop.returncode == 0, stop.stderr
    stem, sr = sf.read(out, dtype="float32", always_2d=True)
    inst, sr_inst = sf.read(files["instrumental"], dtype="float32", always_2d=True)
    assert sr == sr_inst and abs(len(stem) - len(inst)) <= sr // 100, (len(stem), len(inst))
    sung = stem[int(4 * 60 / 96 * sr):]  # the line is sung from bar 2 on
    assert np.sqrt(np.mean(sung ** 2)) > 0.01, "the take is silent where the line is sung"
    assert out.with_suffix(".mid").is_file()
