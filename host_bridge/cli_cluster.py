"""``topline cluster up | status | down``: serve takes from a Ray Serve cluster through a gateway
that speaks the sidecar's protocol (inference/serve/, docs/CLUSTER.md).

Only argparse and the bridge's client here: Ray and ``inference`` are imported when
``cluster up`` runs, never when the CLI starts.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def add_up_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``topline cluster up`` (also ``python -m inference.serve``)."""
    p.add_argument("--replicas", type=int, default=2, help="pipeline replicas (one job each at a time)")
    p.add_argument("--cpus-per-replica", type=float, default=1.0, help="CPUs Ray reserves for each replica")
    p.add_argument("--gpus-per-replica", type=float, default=0.0, help="GPUs per replica (0.5: two share one)")
    p.add_argument("--address", default=None,
                   help="join this Ray cluster (auto, or ray://HEAD:10001) instead of starting one here")
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray cluster (default: the replicas')")
    p.add_argument("--autoscale-max", type=int, default=None, help="let Serve scale between 1 and this many replicas")
    p.add_argument("--max-per-user", type=int, default=16, help="jobs one bridge may have waiting or rendering")
    p.add_argument("--ip", default="127.0.0.1", help="gateway address (beyond loopback needs --curve-keys)")
    p.add_argument("--port", type=int, default=0, help="gateway port (0 picks a free one)")
    p.add_argument("--connection-file", type=Path, default=None,
                   help="where to write how to reach the gateway (default: the sidecar's, so `topline generate` uses it)")
    p.add_argument("--curve-keys", type=Path, default=None, help="folder with server.key_secret (and clients/)")
    p.add_argument("--pipeline", default="inference.pipeline:Pipeline", help="the replicas' pipeline, module:callable")
    p.add_argument("--no-warm", action="store_true", help="replicas load models on their first job")
    p.add_argument("--max-message-mb", type=float, default=None, help="largest request accepted (MiB)")
    p.add_argument("--max-jobs", type=int, default=256, help="jobs that may wait at the gateway")
    p.add_argument("--max-queue-mb", type=float, default=2048, help="audio that may wait at the gateway (MiB)")


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
    from host_bridge.errors import InputError

    try:
        import ray.serve  # noqa: F401 - only to say how to install it when missing

        from inference.serve.gateway import ClusterConfig, run_gateway
    except ModuleNotFoundError as e:
        raise InputError(f"`topline cluster` needs Ray Serve, which is not installed here ({e.name})",
                         "run it from a Python install: `bash scripts/setup.sh --cluster` "
                         "(the standalone programs do not carry Ray)") from None
    from inference.server.app import ServerConfig

    server = ServerConfig(ip=args.ip, port=args.port, connection_file=args.connection_file, curve_keys=args.curve_keys,
                          pipeline=args.pipeline, warm=not args.no_warm, max_jobs=args.max_jobs,
                          max_queue_bytes=int(args.max_queue_mb * (1 << 20)))
    if args.max_message_mb is not None:
        server.max_message_bytes = int(args.max_message_mb * (1 << 20))
    cluster = ClusterConfig(replicas=args.replicas, cpus_per_replica=args.cpus_per_replica,
                            gpus_per_replica=args.gpus_per_replica, address=args.address, num_cpus=args.num_cpus,
                            autoscale_max=args.autoscale_max, max_per_user=args.max_per_user)
    return run_gateway(server, cluster)


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


def main(argv: list[str] | None = None) -> int:
    """``python -m inference.serve``: ``topline cluster up`` with the same options."""
    p = argparse.ArgumentParser(prog="python -m inference.serve", description="Run a Topline cluster gateway.")
    add_up_arguments(p)
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s gateway %(levelname)s %(name)s: %(message)s")
    from host_bridge.errors import ToplineError

    try:
        return cmd_up(args)
    except ToplineError as e:
        print(f"topline cluster: error: {e.message}", file=sys.stderr)
        if e.hint:
            print(f"topline cluster: fix: {e.hint}", file=sys.stderr)
        return 2
