"""benchmarks/RESULTS.md: each benchmark script writes its latest figures there itself.

Every section names the script, the date, the commit and the machine (CPU model, cores, the
vector extensions that decide which code path runs: AVX2, AVX-512, bf16, AMX). A script's new
run replaces its previous section; sections are kept newest first.
"""
from __future__ import annotations

import datetime as _dt
import os
import platform
import re
import subprocess
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = ("# Benchmark results\n\nWritten by the benchmark scripts themselves (`benchmarks/*.py`), newest "
          "first; each section is the latest run of one script, with the machine it ran on.\n")
_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "avx512_vnni", "avx_vnni")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def vector_flags() -> list[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    m = re.search(r"^flags\s*:(.*)$", text, re.MULTILINE)
    have = set(m.group(1).split()) if m else set()
    return [f for f in _FLAGS if f in have]


def machine_line() -> str:
    """``CPU model, N cores, vector extensions``: what every figure is measured on."""
    flags = vector_flags()
    return f"{cpu_model()}, {os.cpu_count()} cores, {' '.join(flags) if flags else 'no AVX2'}"


def commit() -> str:
    try:
        r = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10,
                           cwd=RESULTS.parent)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, timeout=10, cwd=RESULTS.parent).stdout.strip()
        return r.stdout.strip() + ("+changes" if dirty else "") if r.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def record(script: str, body: str, path: Path = RESULTS) -> None:
    """Put ``body`` (markdown) as the newest section for ``script``, replacing its previous one."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    section = (f"## {script}\n\n{stamp}, commit {commit()}, machine: {machine_line()}\n\n"
               f"{body.strip()}\n")
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    starts = [m.start() for m in re.finditer(r"^## ", text, re.MULTILINE)]
    sections = [text[a:b].rstrip() + "\n" for a, b in zip(starts, starts[1:] + [len(text)])]
    kept = [x for x in sections if not x.startswith(f"## {script}\n")]
    path.write_text(HEADER + "\n" + "\n".join([section, *kept]), encoding="utf-8")


class recorded:
    """``with recorded("transport.py"): main()``: what the script prints goes to the terminal as
    usual and, at the end, its last ``keep`` lines to RESULTS.md as the script's section."""

    def __init__(self, script: str, keep: int = 80) -> None:
        self.script, self.keep = script, keep
        self.lines: list[str] = []

    def __enter__(self) -> "recorded":
        import sys

        self._stdout = sys.stdout
        outer = self

        class _Tee:
            def write(self, s: str) -> int:
                outer.lines.append(s)
                return outer._stdout.write(s)

            def flush(self) -> None:
                outer._stdout.flush()

            def __getattr__(self, name: str) -> object:
                return getattr(outer._stdout, name)

        sys.stdout = _Tee()
        return self

    def __exit__(self, *exc: object) -> None:
        import sys

        sys.stdout = self._stdout
        text = "".join(self.lines).rstrip().splitlines()[-self.keep:]
        if text:
            record(self.script, "```\n" + "\n".join(text) + "\n```")
