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
    assert len(out["modules"]) >= 30 and "host_bridge.cli" in out["modules"] and "host_bridge.core.protocol.tasks" in \
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


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every absolute import in ``path`` (module names, lazy ones inside functions included)."""
    import ast

    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from host_bridge import x` names the submodule x when there is one
            subs = [f"{node.module}.{a.name}" for a in node.names]
            out += [(node.lineno, s if _is_module(s) else node.module) for s in subs]
    return out


def _is_module(name: str) -> bool:
    p = ROOT.joinpath(*name.split("."))
    return p.with_suffix(".py").is_file() or (p / "__init__.py").is_file()


def _layer(module: str) -> str | None:
    """The layer a module belongs to: the ground floor, the rest of the bridge, the sidecar, the
    shipped presets (None: not Topline's)."""
    top = module.split(".")[0]
    if module == "host_bridge.core" or module.startswith("host_bridge.core."):
        return "core"
    return {"host_bridge": "bridge", "inference": "inference", "presets": "presets"}.get(top)


def _layer_edges() -> dict[tuple[str, str], list[str]]:
    edges: dict[tuple[str, str], list[str]] = {}
    for package in ("host_bridge", "inference", "presets"):
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT)
            here = _layer(".".join(rel.with_suffix("").parts))
            for line, name in _imports(path):
                there = _layer(name)
                if here and there and there != here:
                    edges.setdefault((here, there), []).append(f"{rel.as_posix()}:{line} {name}")
    return edges


def test_the_ground_floor_imports_nothing_above_it() -> None:
    """host_bridge.core is what everything shares: it may read the presets' data folder, and
    nothing of the bridge, the sidecar, torch or onnxruntime (lazy imports included)."""
    found: list[str] = []
    for path in sorted((ROOT / "host_bridge" / "core").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for line, name in _imports(path):
            if _layer(name) in ("bridge", "inference") or name.split(".")[0] in ("torch", "onnxruntime"):
                found.append(f"{rel}:{line} {name}")
    assert found == [], "\n".join(found)


def test_no_import_cycle_between_the_layers() -> None:
    """core <- bridge, core <- inference, presets is data read by core: the layer graph has no
    cycle, the sidecar reaches the bridge's code only through the ground floor, and the presets
    folder imports nothing of Topline."""
    edges = _layer_edges()
    assert ("inference", "bridge") not in edges, "\n".join(edges[("inference", "bridge")])
    assert not any(a == "presets" for a, _ in edges), edges
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)

    def reaches(start: str, goal: str, seen: frozenset[str] = frozenset()) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph.get(start, ()))

    cycles = [f"{a} -> {b} -> ... -> {a}" for a, b in edges if reaches(b, a)]
    assert cycles == [], "\n".join(cycles) + "\n" + "\n".join(f"{k}: {v[:3]}" for k, v in edges.items())
    assert ("inference", "core") in edges and ("bridge", "core") in edges  # the probe sees real imports
