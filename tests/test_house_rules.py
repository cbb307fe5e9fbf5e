"""The house rules of STYLE.md that a machine can check (issue 18): in library code (host_bridge,
inference, presets) no module over 400 lines and no function over 60."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("host_bridge", "inference", "presets")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _library_files() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_no_library_module_is_over_400_lines() -> None:
    files = _library_files()
    assert len(files) > 100  # the walk found the packages
    long = [f"{p.relative_to(ROOT)}: {n} lines" for p in files
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES]
    assert long == [], "split these modules:\n" + "\n".join(long)


def test_no_library_function_is_over_60_lines() -> None:
    long: list[str] = []
    for p in _library_files():
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno is not None:
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{p.relative_to(ROOT)}:{node.lineno} {node.name}: {n} lines")
    assert long == [], "split these functions:\n" + "\n".join(long)
