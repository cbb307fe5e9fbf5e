"""The project's other programs (the sidecar, the cluster gateway) run by the CLI: their options,
declared once as ``(flag, argparse keywords)`` pairs that both the program and the ``topline``
subcommand parse, handed on as arguments, and the program run in place of this process (so the
CLI never imports the models)."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, Sequence

Options = Sequence[tuple[str, dict[str, object]]]


def add_options(p: argparse.ArgumentParser, options: Options) -> None:
    """Declare ``options`` on ``p``."""
    for flag, kw in options:
        p.add_argument(flag, **kw)  # type: ignore[arg-type]


def options_argv(args: argparse.Namespace, options: Options) -> list[str]:
    """The ``options`` parsed into ``args`` back as program arguments (defaults left out)."""
    out: list[str] = []
    for flag, kw in options:
        v = getattr(args, flag.lstrip("-").replace("-", "_"))
        if kw.get("action") == "store_true":
            out += [flag] if v else []
        elif v is not None and v != kw.get("default"):
            out += [flag, str(v)]
    return out


def exec_program(cmd: list[str]) -> None:
    """Replace this process with ``cmd`` (its pid, signals and exit status become the program's),
    the source tree on its PYTHONPATH as the supervisor gives a sidecar it starts."""
    from host_bridge.supervisor import ROOT

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(cmd[0], cmd, env)


def run_reporting_errors(program: str, run: Callable[[], int]) -> int:
    """``run()``'s exit status; a :class:`host_bridge.errors.ToplineError` is printed as the CLI
    prints it (``<program>: error: ...`` and ``<program>: fix: ...``) and exits 2."""
    from host_bridge.errors import ToplineError

    try:
        return run()
    except ToplineError as e:
        print(f"{program}: error: {e.message}", file=sys.stderr)
        if e.hint:
            print(f"{program}: fix: {e.hint}", file=sys.stderr)
        return 2
