"""The sidecar's command-line options, in one place for ``python -m inference.server`` (which
parses them) and ``topline sidecar`` (which parses the same and hands them on to that program:
the CLI never runs the models in its own process)."""
from __future__ import annotations

import argparse
from pathlib import Path

from host_bridge.programs import add_options, options_argv

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
