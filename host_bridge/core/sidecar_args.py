"""The sidecar's and the cluster gateway's command-line options, in one place for the programs
that parse them (``python -m inference.server``, ``python -m inference.serve``) and the CLI
commands that parse the same and hand them on (``topline sidecar``, ``topline cluster up``: the
CLI never runs the models in its own process)."""
from __future__ import annotations

import argparse
from pathlib import Path

from host_bridge.core.programs import add_options, options_argv

OPTIONS: list[tuple[str, dict[str, object]]] = [
    ("--ip", {"default": "127.0.0.1", "help": "address to bind (beyond loopback needs --curve-keys)"}),
    ("--port", {"type": int, "default": 0, "help": "port (0 picks a free one)"}),
    ("--connection-file", {"type": Path, "default": None, "help": "where to write how to reach this sidecar"}),
    ("--curve-keys", {"type": Path, "default": None, "help": "folder with server.key_secret (and clients/)"}),
    ("--pipeline", {"default": "inference.pipeline:Pipeline", "help": "pipeline factory, module:callable"}),
    ("--threads", {"type": int, "default": 2, "help": "CPU threads for the models"}),
    ("--no-warm", {"action": "store_true", "help": "load models on the first job instead of at start"}),
    ("--max-message-mb", {"type": float, "default": None, "help": "largest request accepted (MiB)"}),
    ("--max-jobs", {"type": int, "default": 64, "help": "jobs that may wait in the queue"}),
    ("--max-queue-mb", {"type": float, "default": 1024, "help": "audio that may wait in the queue (MiB)"}),
    ("--idle-exit", {"type": float, "default": None, "help": "exit after this many seconds without a bridge"}),
]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The sidecar's options on ``p``."""
    add_options(p, OPTIONS)


def sidecar_argv(args: argparse.Namespace) -> list[str]:
    """The options parsed into ``args`` back as the sidecar program's arguments (defaults left out)."""
    return options_argv(args, OPTIONS)


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
