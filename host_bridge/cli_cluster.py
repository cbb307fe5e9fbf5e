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

from host_bridge.programs import add_options, options_argv


UP_OPTIONS: list[tuple[str, dict[str, object]]] = [
    ("--replicas", {"type": int, "default": 2, "help": "pipeline replicas (one job each at a time)"}),
    ("--cpus-per-replica", {"type": float, "default": 1.0, "help": "CPUs Ray reserves for each replica"}),
    ("--gpus-per-replica", {"type": float, "default": 0.0, "help": "GPUs per replica (0.5: two share one)"}),
    ("--address", {"default": None,
                   "help": "join this Ray cluster (auto, or ray://HEAD:10001) instead of starting one here"}),
    ("--num-cpus", {"type": int, "default": None, "help": "CPUs of the local Ray cluster (default: the replicas')"}),
    ("--autoscale-max", {"type": int, "default": None, "help": "let Serve scale between 1 and this many replicas"}),
    ("--max-per-user", {"type": int, "default": 16, "help": "jobs one bridge may have waiting or rendering"}),
    ("--ip", {"default": "127.0.0.1", "help": "gateway address (beyond loopback needs --curve-keys)"}),
    ("--port", {"type": int, "default": 0, "help": "gateway port (0 picks a free one)"}),
    ("--connection-file", {"type": Path, "default": None, "help": "where to write how to reach the gateway "
                           "(default: the sidecar's, so `topline generate` uses it)"}),
    ("--curve-keys", {"type": Path, "default": None, "help": "folder with server.key_secret (and clients/)"}),
    ("--pipeline", {"default": "inference.pipeline:Pipeline", "help": "the replicas' pipeline, module:callable"}),
    ("--no-warm", {"action": "store_true", "help": "replicas load models on their first job"}),
    ("--max-message-mb", {"type": float, "default": None, "help": "largest request accepted (MiB)"}),
    ("--max-jobs", {"type": int, "default": 256, "help": "jobs that may wait at the gateway"}),
    ("--max-queue-mb", {"type": float, "default": 2048, "help": "audio that may wait at the gateway (MiB)"}),
]
"""The options of ``topline cluster up``, parsed by the CLI and by the gateway program alike."""


def add_up_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``topline cluster up`` (and of ``python -m inference.serve``)."""
    add_options(p, UP_OPTIONS)


def up_argv(args: argparse.Namespace) -> list[str]:
    """The parsed options back as the gateway program's arguments (defaults left out)."""
    return options_argv(args, UP_OPTIONS)


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

    from host_bridge.errors import InputError
    from host_bridge.frozen import is_frozen
    from host_bridge.programs import exec_program

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
    from host_bridge.connection import ConnectionInfo, default_connection_file
    from host_bridge.errors import InputError

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
