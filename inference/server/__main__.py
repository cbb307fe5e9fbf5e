"""``python -m inference.server``: run one sidecar in the foreground (the supervisor starts this,
and ``topline sidecar`` hands its options on to it; both read them from host_bridge.core.sidecar_args)."""
from __future__ import annotations

import argparse
import sys

from host_bridge.core.programs import program_main
from host_bridge.core.sidecar_args import add_arguments
from inference.server.app import ServerConfig, SidecarServer


def config_from(args: argparse.Namespace) -> ServerConfig:
    cfg = ServerConfig(ip=args.ip, port=args.port, connection_file=args.connection_file, curve_keys=args.curve_keys,
                       pipeline=args.pipeline, threads=args.threads, warm=not args.no_warm,
                       idle_exit_s=args.idle_exit, max_jobs=args.max_jobs,
                       max_queue_bytes=int(args.max_queue_mb * (1 << 20)))
    if args.max_message_mb is not None:
        cfg.max_message_bytes = int(args.max_message_mb * (1 << 20))
    return cfg


def main(argv: list[str] | None = None, server_class: type[SidecarServer] = SidecarServer) -> int:
    return program_main(argv, "python -m inference.server", "Run a Topline sidecar.", add_arguments, "sidecar",
                        "topline sidecar", lambda args: server_class(config_from(args)).serve())

if __name__ == "__main__":
    sys.exit(main())
