"""``python -m inference.serve``: the cluster gateway in the foreground (what ``topline cluster up``
becomes; its options are host_bridge.cli_cluster.UP_OPTIONS)."""
from __future__ import annotations

import argparse
import logging
import sys

from host_bridge.cli_cluster import add_up_arguments
from host_bridge.programs import run_reporting_errors
from inference.serve.gateway import ClusterConfig, run_gateway
from inference.server.app import ServerConfig


def config_from(args: argparse.Namespace) -> tuple[ServerConfig, ClusterConfig]:
    server = ServerConfig(ip=args.ip, port=args.port, connection_file=args.connection_file, curve_keys=args.curve_keys,
                          pipeline=args.pipeline, warm=not args.no_warm, max_jobs=args.max_jobs,
                          max_queue_bytes=int(args.max_queue_mb * (1 << 20)))
    if args.max_message_mb is not None:
        server.max_message_bytes = int(args.max_message_mb * (1 << 20))
    cluster = ClusterConfig(replicas=args.replicas, cpus_per_replica=args.cpus_per_replica,
                            gpus_per_replica=args.gpus_per_replica, address=args.address, num_cpus=args.num_cpus,
                            autoscale_max=args.autoscale_max, max_per_user=args.max_per_user)
    return server, cluster


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m inference.serve", description="Run a Topline cluster gateway.")
    add_up_arguments(p)
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s gateway %(levelname)s %(name)s: %(message)s")
    return run_reporting_errors("topline cluster", lambda: run_gateway(*config_from(args)))


if __name__ == "__main__":
    sys.exit(main())
