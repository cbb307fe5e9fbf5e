"""``python -m inference.server``: run one sidecar in the foreground (the supervisor starts this,
and ``topline sidecar`` hands its options on to it; both read them from host_bridge.sidecar_args)."""
from __future__ import annotations

import argparse
import logging
import sys

from host_bridge.programs import run_reporting_errors
from host_bridge.sidecar_args import add_arguments
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
    p = argparse.ArgumentParser(prog="python -m inference.server", description="Run a Topline sidecar.")
    add_arguments(p)
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s sidecar %(levelname)s %(name)s: %(message)s")
    return run_reporting_errors("topline sidecar", lambda: server_class(config_from(args)).serve())


if __name__ == "__main__":
    sys.exit(main())
