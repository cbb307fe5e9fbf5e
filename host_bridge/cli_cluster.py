"""``topline cluster up | status | down``: serve takes from a Ray Serve cluster through a gateway
that speaks the sidecar's protocol (inference/serve/, docs/CLUSTER.md).

Only argparse and the bridge's client here: ``cluster up`` becomes the gateway program
(``python -m inference.serve``, :mod:`inference.serve.__main__`), as ``topline sidecar`` becomes
the sidecar's, so no host_bridge module imports Ray or ``inference``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from host_bridge.core.sidecar_args import add_up_arguments, up_argv


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    c = sub.add_parser("cluster", help="serve takes from a Ray cluster (`topline cluster up`; docs/CLUSTER.md)")
    cs = c.add_subparsers(dest="cluster_command", required=True)
    up = cs.add_parser("up", help="start a local Ray cluster (or join one) with N replicas and a gateway; "
                                  "runs until Ctrl-C or `topline cluster down`")
    add_up_arguments(up)
    up.set_defaults(func=cmd_up)
    for name, func, what in (("status", cmd_status, "print the gateway's queue and replicas as JSON"),
                             ("down", cmd_down, "stop the gateway and its deployment")):
        p = cs.add_parser(name, help=what)
        p.add_argument("--connection-file", type=Path, default=None, help="the gateway's connection file")
        p.add_argument("--curve-keys", type=Path, default=None, help="this bridge's secret key (remote gateways)")
        p.set_defaults(func=func)


def cmd_up(args: argparse.Namespace) -> int:
    """Become the gateway program (``python -m inference.serve``): this process is replaced, so its
    pid, signals and exit status are the gateway's, and the CLI never imports Ray or the models."""
    import importlib.util

    from host_bridge.core.errors import InputError
    from host_bridge.core.frozen import is_frozen
    from host_bridge.core.programs import exec_program

    if is_frozen() or importlib.util.find_spec("ray") is None or importlib.util.find_spec("inference") is None:
        raise InputError("`topline cluster` needs Ray Serve and the sidecar's packages, which are not installed here",
                         "run it from a Python install: `bash scripts/setup.sh --cluster` "
                         "(the standalone programs do not carry Ray)")
    verbose = ["--verbose"] if getattr(args, "verbose", False) else []
    cmd = [sys.executable, "-m", "inference.serve", *up_argv(args), *verbose]
    exec_program(cmd)
    return 0  # not reached


def _client(args: argparse.Namespace) -> Any:
    from host_bridge.client import SidecarClient
    from host_bridge.core.connection import ConnectionInfo, default_connection_file
    from host_bridge.core.errors import InputError

    path = Path(args.connection_file or default_connection_file())
    try:
        info = ConnectionInfo.read(path)
    except FileNotFoundError:
        raise InputError(f"no gateway: {path} does not exist", "start one with `topline cluster up`") from None
    return SidecarClient(info, curve_keys=args.curve_keys)


def cmd_status(args: argparse.Namespace) -> int:
    client = _client(args)
    try:
        json.dump(client.status(), sys.stdout, indent=1, sort_keys=True)
        sys.stdout.write("\n")
    finally:
        client.close()
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    client = _client(args)
    try:
        client.shutdown()
    finally:
        client.close()
    return 0
