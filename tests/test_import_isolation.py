"""The bridge is torch-free (issue 18): every module of ``host_bridge`` imports, and the ``topline``
parser builds, in a process where torch, onnxruntime and ``inference`` cannot be imported at all
(the CLI's model work goes to the sidecar over the protocol; the sidecar is a separate program)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCKED = ("torch", "onnxruntime", "inference")

PROBE = r"""
import importlib, importlib.abc, json, pkgutil, sys

BLOCKED = tuple(sys.argv[1].split(","))


class Unimportable(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is unimportable here: the bridge must not need it")
        return None


sys.meta_path.insert(0, Unimportable())
out = {"modules": [], "failed": {}, "blocker_works": False}
try:
    import inference  # noqa: F401
except ImportError:
    out["blocker_works"] = True
import host_bridge

for m in pkgutil.walk_packages(host_bridge.__path__, "host_bridge.", onerror=lambda n: out["failed"].setdefault(n, "walk")):
    out["modules"].append(m.name)
    try:
        importlib.import_module(m.name)
    except Exception as e:
        out["failed"][m.name] = f"{type(e).__name__}: {e}"
try:
    from host_bridge.cli import build_parser

    build_parser()
    out["parser"] = True
except Exception as e:
    out["failed"]["build_parser()"] = f"{type(e).__name__}: {e}"
out["loaded"] = sorted(k for k in sys.modules if k.split(".")[0] in BLOCKED)
print(json.dumps(out))
"""


def test_every_host_bridge_module_imports_without_torch_onnxruntime_or_inference() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", PROBE, ",".join(BLOCKED)], capture_output=True, text=True,
                       cwd=ROOT, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-4000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["blocker_works"], "the probe could import inference: it proves nothing"
    assert len(out["modules"]) >= 30 and "host_bridge.cli" in out["modules"] and "host_bridge.protocol.tasks" in \
        out["modules"], out["modules"]
    assert out["failed"] == {}, "\n".join(f"{k}: {v}" for k, v in out["failed"].items())
    assert out.get("parser") and out["loaded"] == []


KNOWN_EXCEPTIONS: dict[str, str] = {}
"""Modules that still import ``inference`` inside a function (never at import time), with why."""


def test_no_host_bridge_module_imports_inference_even_inside_a_function() -> None:
    """Stronger than the import test: the CLI reaches models only through the sidecar, so no
    ``import inference...`` statement appears anywhere in host_bridge (lazy ones included)."""
    import ast

    found: list[str] = []
    for path in sorted((ROOT / "host_bridge").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            found += [f"{rel}:{node.lineno} {n}" for n in names
                      if n.split(".")[0] in BLOCKED and rel not in KNOWN_EXCEPTIONS]
    assert found == [], "\n".join(found)
