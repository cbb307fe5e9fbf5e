"""``python -m inference.server``: run one sidecar in the foreground (the supervisor starts this)."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from host_bridge.errors import ToplineError
from inference.server.app import ServerConfig, SidecarServer


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ip", default="127.0.0.1", help="address to bind (beyond loopback needs --curve-keys)")
    p.add_argument("--port", type=int, default=0, help="port (0 picks a free one)")
    p.add_argument("--connection-file", type=Path, default=None, help="where to write how to reach this sidecar")
    p.add_argument("--curve-keys", type=Path, default=None, help="folder with server.key_secret (and clients/)")
    p.add_argument("--pipeline", default="inference.pipeline:Pipeline", help="pipeline factory, module:callable")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for the models")
    p.add_argument("--no-warm", action="store_true", help="load models on the first job instead of at start")
    p.add_argument("--max-message-mb", type=float, default=None, help="largest request accepted (MiB)")
    p.add_argument("--max-jobs", type=int, default=64, help="jobs that may wait in the queue")
    p.add_argument("--max-queue-mb", type=float, default=1024, help="audio that may wait in the queue (MiB)")
    p.add_argument("--idle-exit", type=float, default=None, help="exit after this many seconds without a bridge")


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
    try:
        return server_class(config_from(args)).serve()
    except ToplineError as e:
        print(f"topline sidecar: error: {e.message}", file=sys.stderr)
        if e.hint:
            print(f"topline sidecar: fix: {e.hint}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
