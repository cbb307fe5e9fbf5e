"""The project's other programs (the sidecar, the cluster gateway) run by the CLI: their options,
declared once as ``(flag, argparse keywords)`` pairs that both the program and the ``topline``
subcommand parse, handed on as arguments, and the program run in place of this process (so the
CLI never imports the models)."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Callable, Sequence

SOURCE_ROOT = Path(__file__).resolve().parents[2]
"""The folder holding ``host_bridge`` and ``inference``: put on a started program's PYTHONPATH so a
sidecar started from a source tree imports the same code as its bridge."""

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
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SOURCE_ROOT), env.get("PYTHONPATH", "")) if p)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(cmd[0], cmd, env)


def run_reporting_errors(program: str, run: Callable[[], int]) -> int:
    """``run()``'s exit status; a :class:`host_bridge.core.errors.ToplineError` is printed as the CLI
    prints it (``<program>: error: ...`` and ``<program>: fix: ...``) and exits 2."""
    from host_bridge.core.errors import ToplineError

    try:
        return run()
    except ToplineError as e:
        print(f"{program}: error: {e.message}", file=sys.stderr)
        if e.hint:
            print(f"{program}: fix: {e.hint}", file=sys.stderr)
        return 2


def program_main(argv: list[str] | None, prog: str, description: str,
                 add_arguments: Callable[[argparse.ArgumentParser], None], log_name: str, program: str,
                 run: Callable[[argparse.Namespace], int]) -> int:
    """A program's ``main``: its options (plus ``-v``), logging that names it (``log_name``), and
    ``run(args)`` with errors reported as ``program`` (see :func:`run_reporting_errors`)."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    add_arguments(p)
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format=f"%(asctime)s {log_name} %(levelname)s %(name)s: %(message)s")
    return run_reporting_errors(program, lambda: run(args))
