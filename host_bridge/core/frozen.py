"""The standalone (PyInstaller) build, seen from the running code: where its files are and what
it says about itself. Everything here answers "not frozen" in a Python install.

build.py lays the bundle out (names in packaging/spec_data.py): both programs, ``topline`` and
``topline-sidecar``, sit in one folder and share ``_internal/``, which holds the presets, the
prepared Kokoro models, espeak-ng and ``topline_build.json``.
"""
from __future__ import annotations

import json
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from host_bridge.core import __version__
from host_bridge.core.protocol import PROTOCOL_VERSION

SIDECAR_PROGRAM = "topline-sidecar"
BUILD_INFO_FILE = "topline_build.json"


def is_frozen() -> bool:
    """True inside a program built by build.py (PyInstaller sets ``sys.frozen``)."""
    return bool(getattr(sys, "frozen", False))


def bundle_dir() -> Path | None:
    """The bundle's data folder (``_internal/``), or None in a Python install."""
    base = getattr(sys, "_MEIPASS", None)
    return Path(base) if is_frozen() and base else None


def sidecar_program() -> Path:
    """The bundled ``topline-sidecar`` next to this program."""
    return Path(sys.executable).resolve().with_name(SIDECAR_PROGRAM)


@lru_cache(maxsize=1)
def build_info() -> dict[str, Any]:
    """What this program is: version, protocol, and (frozen) the build's commit, date and Python.

    A Python install reports ``{"frozen": False, ...}``; the sidecar puts this in its hello."""
    info: dict[str, Any] = {"version": __version__, "protocol": PROTOCOL_VERSION, "frozen": is_frozen()}
    base = bundle_dir()
    if base is not None:
        try:
            info.update(json.loads((base / BUILD_INFO_FILE).read_text(encoding="utf-8")))
        except (OSError, ValueError) as e:
            info["build_info_error"] = str(e)
        info["frozen"] = True
    return info


def version_line() -> str:
    """``topline --version``: the same version, protocol and build the sidecar's hello reports."""
    info = build_info()
    line = f"topline {info['version']} (protocol {info['protocol']}"
    if info.get("commit"):
        line += f", build {info['commit'][:12]}{'+dirty' if info.get('dirty') else ''} {info.get('built', '')}".rstrip()
    return line + ")"
