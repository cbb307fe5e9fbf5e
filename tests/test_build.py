"""The standalone programs (build.py): built once per source hash (cached under build/pyinstaller/),
then run from a copy outside the source tree, in an empty environment, with the source tree, the
virtual environment and the home folder hidden (a private mount namespace) and no network but
loopback (a private network namespace) where this machine allows it; env -i and another working
folder everywhere.

Cost on the shared 2-core box: a cold build 3.5-7.5 min wall (about 2 min CPU), a cached one 1 s;
the demo song through the built sidecar 70-75 s there; the whole module 6 min.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf
from test_protocol_mismatch import ForeignSidecar  # a sidecar speaking protocol 2

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "demo"
SIZE_LIMIT = 700e6
CUDA_MARKERS = ("libcuda", "libcudart", "libcublas", "libcudnn", "libcufft", "libnccl", "libnvrtc", "libnvjitlink",
                "onnxruntime_providers_cuda", "onnxruntime_providers_tensorrt", "libtorch_cuda")

pytestmark = pytest.mark.slow


# ------------------------------------------------------------------------------------ helpers
def _can_isolate() -> bool:
    """True when unshare can give us private mount + network namespaces here."""
    if not shutil.which("unshare") or not _ip():
        return False
    r = subprocess.run([*_unshare(), "true"], capture_output=True)
    return r.returncode == 0


def _unshare() -> list[str]:
    return ["unshare", "--mount", "--net", *([] if os.geteuid() == 0 else ["--map-root-user"])]


def _ip() -> str | None:
    return shutil.which("ip") or next((p for p in ("/usr/sbin/ip", "/sbin/ip") if os.path.exists(p)), None)


ISOLATE = _can_isolate()


def run_isolated(script: str, cwd: Path, timeout: float, net: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a /bin/sh ``script`` in ``cwd`` with an empty environment (PATH=/usr/bin:/bin, HOME and
    TMPDIR inside ``cwd``), the source tree, venv and real home hidden, and (``net``) no network
    but loopback."""
    home = cwd / "home"
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    env = f"env -i PATH=/usr/bin:/bin HOME={home} TMPDIR={home / 'tmp'} LANG=C.UTF-8"
    prelude = ""
    cmd: list[str] = ["/bin/sh", "-c"]
    if ISOLATE:
        hide = {ROOT, Path(sys.prefix).resolve(), Path.home().resolve()}
        hide = {p for p in hide if not any(q != p and q in p.parents for q in hide) and p not in cwd.parents}
        prelude = "".join(f"mount -t tmpfs tmpfs '{p}' && " for p in sorted(hide))
        if net:
            prelude = f"{_ip()} link set lo up && " + prelude
        cmd = [*(_unshare() if net else [c for c in _unshare() if c != "--net"]), "/bin/sh", "-c"]
    body = script.replace("$ENV", env)
    return subprocess.run([*cmd, f"{prelude}cd '{cwd}' && {body}"], capture_output=True, text=True, timeout=timeout,
                          env={"PATH": "/usr/bin:/bin:/usr/sbin:/sbin"})


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """Build (or reuse the cached build of) both programs; their folder copied into a tmp dir."""
    dist = tmp_path_factory.mktemp("dist")
    r = subprocess.run(["nice", "-n", "10", sys.executable, str(ROOT / "build.py"), "--allow-dirty", "--json",
                        "--dist", str(dist)], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, f"build.py failed:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    report = json.loads(r.stdout.strip().splitlines()[-1])
    return dist / "topline", report


def midi_notes(path: Path) -> list[tuple[float, float, int]]:
    """(start s, end s, MIDI pitch) of every note in a Standard MIDI File."""
    t, on, out = 0.0, {}, []
    for m in mido.MidiFile(str(path)):
        t += m.time
        if m.type == "note_on" and m.velocity > 0:
            on[m.note] = t
        elif m.type in ("note_off", "note_on") and m.note in on:
            out.append((on.pop(m.note), t, m.note))
    return out


def f0_estimate(x: np.ndarray, sr: int, lo: float = 70.0, hi: float = 1000.0) -> float:
    """Median pitch (Hz) of the voiced 40 ms frames of mono ``x``: autocorrelation peak with
    parabolic interpolation. NaN when no frame is voiced."""
    n = int(0.04 * sr)
    est = []
    for i in range(0, len(x) - n, n // 2):
        f = x[i:i + n] * np.hanning(n)
        if np.sqrt(np.mean(f ** 2)) < 1e-3:
            continue
        ac = np.fft.irfft(np.abs(np.fft.rfft(f, 2 * n)) ** 2)[:n]
        a, b = int(sr / hi), int(sr / lo)
        k = a + int(np.argmax(ac[a:b]))
        if ac[k] < 0.3 * ac[0]:
            continue
        y0, y1, y2 = ac[k - 1], ac[k], ac[k + 1]
        est.append(sr / (k + 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2)))
    return float(np.median(est)) if est else float("nan")


def test_f0_estimate_reads_a_sine(sine) -> None:  # the meter the stem check relies on
    x = sine(293.66, 0.5, 44100)[0]
    assert abs(1200 * np.log2(f0_estimate(x, 44100) / 293.66)) < 5


# ------------------------------------------------------------------------------------ the build
def test_build_is_cpu_only_and_under_the_limit(bundle: tuple[Path, dict]) -> None:
    folder, report = bundle
    assert report["total_bytes"] < SIZE_LIMIT, report["parts"]
    assert (folder / "topline").is_file() and (folder / "topline-sidecar").is_file()
    names = [p.name for p in folder.rglob("*.so*")]
    assert not [n for n in names if any(m in n for m in CUDA_MARKERS)], "the CPU build carries CUDA libraries"
    assert not [n for n in names if n.startswith("libtorch")], "torch must stay out of the CPU build"
    assert not list(folder.rglob("test_*.py")), "tests must not be bundled"
    models = sorted(p.name.rsplit("-", 1)[1] for p in (folder / "_internal" / "models" / "kokoro").glob("*.onnx"))
    assert models == ["decoder.onnx", "front.onnx", "phase.onnx", "probe.onnx"], "the prepared Kokoro models ship with the build"


def test_generate_on_the_demo_song_through_the_built_sidecar(bundle: tuple[Path, dict], tmp_path: Path) -> None:
    folder, _ = bundle
    for name in ("instrumental.ogg", "lyrics.txt", "melody.mid"):
        shutil.copy(DEMO / name, tmp_path / name)
    cf = tmp_path / "sidecar.json"
    t, s = f"'{folder}/topline'", f"--connection-file '{cf}'"
    script = (f"$ENV {t} --version > version.txt; "
              f"$ENV {t} generate --instrumental instrumental.ogg --lyrics lyrics.txt --melody melody.mid "
              f"--out take.wav {s} > generate.txt 2>&1; rc=$?; "
              f"$ENV {t} sidecar --status {s} > status.json; $ENV {t} sidecar --stop {s}; exit $rc")
    try:
        r = run_isolated(script, tmp_path, timeout=600)
    finally:
        _kill_sidecar(cf)
    log = (tmp_path / "generate.txt").read_text() if (tmp_path / "generate.txt").exists() else ""
    side_log = cf.with_suffix(".log").read_text() if cf.with_suffix(".log").exists() else ""
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}\n{log}\n--- sidecar log ---\n{side_log[-4000:]}"

    # the stem: the instrumental's rate and exact length, and a steady note at its pitch
    ref = sf.info(str(tmp_path / "instrumental.ogg"))
    info = sf.info(str(tmp_path / "take.wav"))
    assert (info.samplerate, info.frames) == (ref.samplerate, ref.frames)
    x, sr = sf.read(str(tmp_path / "take.wav"), always_2d=True)
    x = x.mean(axis=1)
    assert np.sqrt(np.mean(x ** 2)) > 1e-3, "the stem is silent"
    start, end, pitch = max(midi_notes(tmp_path / "take.mid"), key=lambda n: n[1] - n[0])
    assert end - start > 0.4, "the demo melody has long notes"
    d = end - start
    got = f0_estimate(x[int(sr * (start + d / 4)):int(sr * (end - d / 4))], sr)
    want = 440.0 * 2 ** ((pitch - 69) / 12)
    assert abs(1200 * np.log2(got / want)) < 50, f"note {pitch} at {start:.2f}-{end:.2f} s sung at {got:.1f} Hz"
    guide = {p % 12 for _, _, p in midi_notes(tmp_path / "melody.mid")}
    assert pitch % 12 in guide, "the sung note is one of the guide melody's"

    # `topline --version` and the sidecar's hello agree
    hello = json.loads((tmp_path / "status.json").read_text())["hello"]
    version = (tmp_path / "version.txt").read_text().strip()
    build = hello["build"]
    assert build["frozen"] is True and hello["server"] == build["version"]
    assert version.startswith(f"topline {hello['server']} (protocol {build['protocol']}, build {build['commit'][:12]}")
    assert build["protocol"] in hello["versions"]
    assert "autosing" in build["left_out"], "the hello says AutoSing needs the Python install"


def _kill_sidecar(cf: Path) -> None:
    """Stop a sidecar the test left behind (its pid is in the connection file)."""
    try:
        pid = json.loads(cf.read_text())["pid"]
    except (OSError, ValueError, KeyError):
        return
    try:
        os.kill(int(pid), 15)
    except ProcessLookupError:
        pass


@pytest.mark.parametrize("claims", [2, 1], ids=["connection-file-says-2", "answers-in-2"])
def test_built_bridge_refuses_a_sidecar_of_another_protocol(bundle: tuple[Path, dict], tmp_path: Path,
                                                            claims: int) -> None:
    folder, _ = bundle
    for name in ("instrumental.ogg", "lyrics.txt", "melody.mid"):
        shutil.copy(DEMO / name, tmp_path / name)
    cf = tmp_path / "sidecar.json"
    foreign = ForeignSidecar(cf, claims)
    try:
        r = run_isolated(f"$ENV '{folder}/topline' generate --instrumental instrumental.ogg --lyrics lyrics.txt "
                         f"--melody melody.mid --out take.wav --connection-file '{cf}'", tmp_path, 120, net=False)
    finally:
        foreign.close()
    assert r.returncode == 2, r.stdout + r.stderr
    assert "speaks protocol version 2; this topline speaks 1" in r.stderr, r.stderr
    assert "same release" in r.stderr, r.stderr
    assert not (tmp_path / "take.wav").exists()
    assert json.loads(cf.read_text())["port"], "the other sidecar's connection file is left alone"


def test_built_topline_installs_the_ardour_action_from_its_bundle(bundle: tuple[Path, dict], tmp_path: Path) -> None:
    """The Lua scripts and export preset are package data the bundle carries (importlib.resources
    finds them inside _internal/); the action is shown running the program itself."""
    folder, _ = bundle
    r = run_isolated(f"$ENV '{folder}/topline' ardour install --config-dir cfg", tmp_path, 60, net=False)
    assert r.returncode == 0, r.stdout + r.stderr
    data = ROOT / "host_bridge" / "daw" / "ardour" / "data"
    for got, want in ((tmp_path / "cfg" / "scripts" / "topline_sing.lua", data / "topline_sing.lua"),
                      (tmp_path / "cfg" / "export" / "topline-float.preset", data / "export" / "topline-float.preset"),
                      (tmp_path / "cfg" / "export" / "topline-float.format", data / "export" / "topline-float.format")):
        assert got.read_bytes() == want.read_bytes(), got
    assert (folder / "_internal" / "host_bridge" / "daw" / "ardour" / "data" / "headless" / "topline_lib.lua").is_file()
    assert f"The action runs: {folder}/topline\n" in r.stdout, r.stdout


# ------------------------------------------------------------------------------------ refusals
def test_build_refuses_the_system_python(tmp_path: Path) -> None:
    py = shutil.which("python3", path="/usr/bin:/bin")
    if py is None or Path(py).resolve() == Path(sys.executable).resolve():
        pytest.skip("no system Python apart from the venv")
    r = subprocess.run([py, str(ROOT / "build.py"), "--check"], capture_output=True, text=True, timeout=60,
                       cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 2
    assert "not the project's virtual environment" in r.stderr and "fix:" in r.stderr


def test_build_refuses_uncommitted_sources(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "packaging").mkdir(parents=True)
    shutil.copy(ROOT / "build.py", repo / "build.py")
    shutil.copy(ROOT / "pyproject.toml", repo / "pyproject.toml")
    for f in (ROOT / "packaging").glob("*.py"):
        shutil.copy(f, repo / "packaging" / f.name)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    (repo / "host_bridge").mkdir()
    (repo / "host_bridge" / "new.py").write_text("x = 1\n")
    r = subprocess.run([sys.executable, str(repo / "build.py"), "--dist", str(tmp_path / "d")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "host_bridge/new.py" in r.stderr and "--allow-dirty" in r.stderr, r.stderr
    assert not (tmp_path / "d").exists()
