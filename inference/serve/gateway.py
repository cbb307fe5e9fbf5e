"""The gateway: the sidecar's own server loop (:class:`~inference.server.app.SidecarServer`:
ROUTER socket, handlers, CURVE, shared memory, job ids and keys, cancel, resubmission) with a
:class:`~inference.serve.fair.FairQueue` and a :class:`~inference.serve.dispatch.ClusterDispatcher`
in place of the local render worker. A bridge cannot tell it from a sidecar except by what
``hello`` says of the device and what ``status`` adds under ``cluster``.

:func:`run_gateway` starts (or joins) a Ray cluster, deploys the replicas with Ray Serve,
serves until shutdown / SIGTERM, then takes the deployment down again.
"""
from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass
from typing import Any

from host_bridge.core import protocol as P
from inference.serve.dispatch import ClusterDispatcher
from inference.serve.fair import FairQueue
from inference.serve.replica import TakeReplica
from inference.server.app import ServerConfig, SidecarServer
from inference.server.worker import RenderWorker

log = logging.getLogger(__name__)

DEPLOYMENT = "TakeReplica"


@dataclass
class ClusterConfig:
    replicas: int = 2
    """Replicas at start (and always, without ``autoscale_max``)."""
    cpus_per_replica: float = 1.0
    gpus_per_replica: float = 0.0
    """Fractions share a GPU (0.5: two replicas per GPU)."""
    address: str | None = None
    """An existing Ray cluster (``auto``, ``ray://host:10001``); None starts a local one."""
    num_cpus: int | None = None
    """CPUs of the local cluster (default: what the replicas ask for)."""
    autoscale_max: int | None = None
    """With a number, Serve scales the replicas between 1 and it by load."""
    max_per_user: int = 16
    retries: int = 3
    app_name: str = "topline"
    object_store_mb: int = 256


def _no_pipeline(**kw: Any) -> None:
    return None  # the gateway loads no models; the replicas do


class GatewayServer(SidecarServer):
    def __init__(self, config: ServerConfig, cluster: ClusterConfig, handle: Any, warm_s: float | None = None) -> None:
        super().__init__(config, factory=_no_pipeline)
        self.fair = FairQueue(config.max_jobs, config.max_queue_bytes, cluster.max_per_user)
        self.queue = self.fair
        self.cluster, self.serve_handle, self.warm_s = cluster, handle, warm_s

    def make_worker(self) -> RenderWorker:
        c = self.cluster
        slots = max(c.autoscale_max or 0, c.replicas) * 2
        return ClusterDispatcher(self.ctx, self.events_url, self.fair, self.serve_handle, app=c.app_name,
                                 deployment=DEPLOYMENT, max_slots=slots, retries=c.retries,
                                 autoscaling=c.autoscale_max is not None, warm_s=self.warm_s, shm_for=self.shm_for)

    @property
    def dispatcher(self) -> ClusterDispatcher:
        assert isinstance(self.worker, ClusterDispatcher)
        return self.worker

    def device(self) -> str:
        running = self.dispatcher.serve_view.get("replica_states", {}).get("RUNNING", 0)
        devices = sorted({str(r.get("device")) for r in self.dispatcher.replicas.values()})
        return f"ray serve: {running} replicas" + (f" ({', '.join(devices)})" if devices else "")

    def send(self, ident: bytes, msg: P.Message) -> None:
        if msg.type == "status_reply":  # the sidecar's status, and the cluster's view beside it
            msg.body["cluster"] = self.dispatcher.view()
        super().send(ident, msg)


def deployment(cluster: ClusterConfig, server: ServerConfig) -> Any:
    """The Serve application: ``TakeReplica`` replicas of ``server.pipeline``, one job each at a time."""
    from ray import serve

    env = {k: v for k, v in os.environ.items() if k.startswith("TOPLINE_")}
    actor: dict[str, Any] = {"num_cpus": cluster.cpus_per_replica, "num_gpus": cluster.gpus_per_replica}
    if env:  # e.g. the model cache folder: replicas on other nodes do not inherit the gateway's environment
        actor["runtime_env"] = {"env_vars": env}
    options: dict[str, Any] = {"name": DEPLOYMENT, "max_ongoing_requests": 1, "ray_actor_options": actor,
                               "health_check_period_s": 2.0, "graceful_shutdown_timeout_s": 2.0}
    if cluster.autoscale_max is not None:
        options["autoscaling_config"] = {"min_replicas": 1, "initial_replicas": cluster.replicas,
                                         "max_replicas": cluster.autoscale_max, "target_ongoing_requests": 1}
    else:
        options["num_replicas"] = cluster.replicas
    threads = max(1, int(round(cluster.cpus_per_replica)))
    return serve.deployment(**options)(TakeReplica).bind(server.pipeline, threads, server.warm)


def start_cluster(cluster: ClusterConfig, server: ServerConfig) -> tuple[Any, float]:
    """Start (or join) Ray, start Serve without its HTTP proxy, deploy; returns (handle, seconds)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray
    from ray import serve

    t0 = time.perf_counter()
    verbose = logging.getLogger().isEnabledFor(logging.INFO)
    if cluster.address:
        ray.init(address=cluster.address, namespace="topline", log_to_driver=verbose)
    else:
        cpus = cluster.num_cpus or max(1, math.ceil(cluster.replicas * cluster.cpus_per_replica))
        ray.init(num_cpus=cpus, include_dashboard=False, namespace="topline", log_to_driver=verbose,
                 object_store_memory=cluster.object_store_mb << 20)
    serve.start(proxy_location="Disabled")
    handle = serve.run(deployment(cluster, server), name=cluster.app_name, route_prefix=None)
    took = time.perf_counter() - t0
    log.info("Ray Serve application %r is running (%.1f s)", cluster.app_name, took)
    return handle, took


def stop_cluster(cluster: ClusterConfig) -> None:
    import ray
    from ray import serve

    try:
        if cluster.address:
            serve.delete(cluster.app_name)  # someone else's cluster: take down only what we deployed
        else:
            serve.shutdown()
    finally:
        ray.shutdown()


def run_gateway(server: ServerConfig, cluster: ClusterConfig) -> int:
    """Serve the Topline protocol from a Ray cluster until shutdown; returns the exit status."""
    handle, took = start_cluster(cluster, server)
    try:
        return GatewayServer(server, cluster, handle, took).serve()
    finally:
        stop_cluster(cluster)
