"""``python -m inference.serve``: the cluster gateway in the foreground (what ``topline cluster up``
becomes; its options are host_bridge.core.sidecar_args.UP_OPTIONS)."""
from __future__ import annotations

import argparse
import sys

from host_bridge.core.sidecar_args import add_up_arguments
from host_bridge.core.programs import program_main
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
    return program_main(argv, "python -m inference.serve", "Run a Topline cluster gateway.", add_up_arguments,
                        "gateway", "topline cluster", lambda args: run_gateway(*config_from(args)))

if __name__ == "__main__":
    sys.exit(main())
