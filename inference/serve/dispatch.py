"""The gateway's worker: hands queued jobs to Ray Serve replicas and forwards their events.

It stands where the sidecar's :class:`~inference.server.worker.RenderWorker` stands (same
``ready`` / ``failure`` / ``final`` surface, same event path to the server loop), but instead of
rendering it runs one *slot* thread per job that may be in flight on the cluster. A slot takes
a job from the :class:`~inference.serve.fair.FairQueue` only while the cluster has a free
replica for it (running replicas x one job each, read from ``serve.status()`` every second), so
the queue's priorities and round-robin decide the order, not Serve's FIFO.

Faults: a replica that dies mid-job (``RayActorError``) gets the job sent again (to a live
replica, chosen by Serve's router) up to ``retries`` times. The render is deterministic for a
request and seed, so the resent job yields the same events; chunks already delivered (by index)
and progress already delivered (by count) are skipped, and the final event goes out once.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

import zmq

from host_bridge.core import protocol as P
from host_bridge.core.errors import ToplineError
from inference.serve.fair import FairQueue
from inference.server.jobs import Job
from inference.server.worker import RenderWorker

log = logging.getLogger(__name__)

REFRESH_S = 1.0
"""How often the replica count (the dispatcher's capacity) is read from Serve."""


class _Delivered:
    """What of one job has reached its owner, so a resent job repeats nothing."""

    def __init__(self) -> None:
        self.chunks: set[int] = set()
        self.parts: set[tuple[int, int]] = set()
        self.progress = 0
        self.seen_progress = 0

    def restart(self) -> None:
        self.seen_progress = 0

    def first_time(self, msg: P.Message) -> bool:
        if msg.type == "chunk":
            idx = int(msg.body.get("index", -1))
            if idx in self.chunks:
                return False
            self.chunks.add(idx)
            return True
        if msg.type == "part":
            key = (int(msg.body.get("clip_index", -1)), int(msg.body.get("part", -1)))
            if key in self.parts:
                return False
            self.parts.add(key)
            return True
        if msg.type == "progress":
            self.seen_progress += 1
            if self.seen_progress <= self.progress:
                return False
            self.progress = self.seen_progress
        return True


class _Lost(Exception):
    """The replica's stream ended without a final event (its process went away)."""


class ClusterDispatcher(RenderWorker):
    def __init__(self, ctx: zmq.Context, events_url: str, queue: FairQueue, handle: Any, *, app: str,
                 deployment: str, max_slots: int, retries: int = 3, autoscaling: bool = False,
                 warm_s: float | None = None, shm_for: Callable[[bytes], P.ShmWriter | None] | None = None) -> None:
        super().__init__(ctx, events_url, queue, lambda **kw: None, 0, False, shm_for)
        self.name = "cluster-dispatcher"
        self.fair = queue
        self.handle = handle.options(stream=True)
        self.app, self.deployment, self.max_slots = app, deployment, max_slots
        self.retries, self.autoscaling, self.warm_s = retries, autoscaling, warm_s
        self.capacity = 0
        self.serve_view: dict[str, Any] = {}
        self.replicas: dict[str, dict[str, Any]] = {}
        """Replica id -> its last report and what the gateway has it doing."""
        self.retried = 0
        self._inflight: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        queue.on_cancel = self._cancel_running

    # ------------------------------------------------------------------ threads
    def run(self) -> None:
        self._push = self._socket()
        self.refresh()
        self.ready.set()
        self._push.send_multipart([b"", b"ready"])
        slots = [threading.Thread(target=self._slot, args=(i,), name=f"slot-{i}", daemon=True)
                 for i in range(self.max_slots)]
        for t in slots:
            t.start()
        while not self.stopping.wait(REFRESH_S):
            try:
                self.refresh()
            except Exception as e:  # noqa: BLE001 - the controller restarting: keep the last view
                log.warning("cannot read the Serve status: %s", e)
        for t in slots:
            t.join(timeout=1.0)
        self._push.close()

    def _socket(self) -> zmq.Socket:
        s = self.ctx.socket(zmq.PUSH)
        s.setsockopt(zmq.LINGER, 1000)
        s.connect(self.events_url)
        return s

    def _send(self, job: Job, flag: bytes, msg: P.Message) -> None:
        push = getattr(self._local, "push", None)  # a ZeroMQ socket belongs to one thread: one per slot
        if push is None:
            push = self._local.push = self._socket()
        push.send_multipart([job.owner, flag, *P.encode(msg, self.shm_for(job.owner))], copy=False)

    def _slot(self, index: int) -> None:
        try:
            while not self.stopping.is_set():
                if index >= self.capacity:
                    self.stopping.wait(0.1)
                    continue
                job = self.fair.take(timeout=0.2)
                if job is not None:
                    self.dispatch(job)
        finally:
            push = getattr(self._local, "push", None)
            if push is not None:
                push.close()

    def refresh(self) -> None:
        from ray import serve

        app = serve.status().applications.get(self.app)
        dep = app.deployments.get(self.deployment) if app is not None else None
        states = {str(k): int(v) for k, v in (dep.replica_states.items() if dep is not None else [])}
        running = states.get("RUNNING", 0)
        # with autoscaling, as many again wait in Serve's own queue so its autoscaler sees the demand
        self.capacity = min(self.max_slots, running * 2 if self.autoscaling else running)
        self.serve_view = {"app": str(app.status.value) if app is not None else "missing",
                           "deployment": str(dep.status.value) if dep is not None else "missing",
                           "replica_states": states}

    # ------------------------------------------------------------------ one job
    def dispatch(self, job: Job) -> None:
        """Run ``job`` on a replica (again on another one if its replica dies), events once."""
        from ray.exceptions import RayActorError
        from ray.serve.exceptions import DeploymentUnavailableError

        spec, sent = job.spec, _Delivered()
        for attempt in range(self.retries + 1):
            sent.restart()
            try:
                self._attempt(job, spec, sent)
                return
            except (RayActorError, DeploymentUnavailableError, _Lost) as e:
                if job.cancel.is_set():
                    self.fair.finish(job, "cancelled")
                    return
                self.retried += 1
                log.warning("job %s lost its replica (%s); sending it again (%d of %d)",
                            job.id, type(e).__name__, attempt + 1, self.retries)
                self.stopping.wait(min(0.25 * (attempt + 1), 2.0))
            except Exception as e:  # noqa: BLE001 - a failing job answers with an error; the gateway stays up
                log.exception("job %s failed on the cluster", job.id)
                self._fail(job, ToplineError(f"the cluster failed on this job: {type(e).__name__}: {e}",
                                             "see the gateway's and the replicas' logs (`ray logs`); please report it"))
                return
        self._fail(job, ToplineError(f"the job's replica died {self.retries + 1} times",
                                     "check the cluster (`topline cluster status`): replicas may be running out of "
                                     "memory; send the job again once replicas are RUNNING"))

    def _attempt(self, job: Job, spec: Any, sent: _Delivered) -> None:
        from ray.exceptions import RayActorError, TaskCancelledError

        gen = self.handle.render.remote(job.id, job.kind, spec, job.priority)
        with self._lock:
            self._inflight[job.id] = gen
        if job.cancel.is_set():
            gen.cancel()
        rid = None
        try:
            for report, msg in gen:
                rid = self._note(report, job.id)
                job.last_progress = time.monotonic()
                if msg.type in ("done", "error"):
                    if self.fair.finish(job, "done" if msg.type == "done" else "failed"):
                        self.emit_final(job, msg)
                    return
                if sent.first_time(msg):
                    self.emit(job, msg)
            raise _Lost("the replica's stream ended without a take")
        except TaskCancelledError:  # (Serve's RequestCancelledError too) the owner was told by the server loop
            self.fair.finish(job, "cancelled")
        except (RayActorError, _Lost):
            if rid is not None:
                with self._lock:
                    self.replicas.pop(rid, None)  # that replica is gone; Serve starts another
            raise
        finally:
            with self._lock:
                self._inflight.pop(job.id, None)
                if rid is not None and self.replicas.get(rid, {}).get("job") == job.id:
                    self.replicas[rid]["job"] = None

    def _fail(self, job: Job, err: ToplineError) -> None:
        if self.fair.finish(job, "failed"):
            self.emit_final(job, P.error_reply(job.id, err))

    def _cancel_running(self, job: Job) -> None:
        with self._lock:
            gen = self._inflight.get(job.id)
        if gen is not None:
            gen.cancel()  # Serve cancels the replica's render; it sets the job's cancel event

    def _note(self, report: dict[str, Any], job_id: str) -> str:
        rid = str(report.get("replica"))
        with self._lock:
            self.replicas[rid] = {**report, "job": job_id, "seen": time.time()}
        return rid

    # ------------------------------------------------------------------ status
    def view(self) -> dict[str, Any]:
        """The cluster as the gateway sees it: Serve's replica states, the dispatch capacity,
        and each replica's last report (memory, jobs done, cancels) with the job it runs now."""
        now = time.time()
        with self._lock:
            items = sorted(self.replicas.items())
            in_flight = len(self._inflight)
        reps = [{"replica": rid, "pid": r.get("pid"), "job": r.get("job"), "rss_mb": r.get("rss_mb"),
                 "jobs_done": r.get("jobs_done"), "cancelled": r.get("cancelled"),
                 "cancel_stop_s": r.get("cancel_stop_s"), "device": r.get("device"),
                 "last_report_s": round(now - float(r.get("seen", now)), 1)}
                for rid, r in items]
        return {**self.serve_view, "capacity": self.capacity, "in_flight": in_flight,
                "retried": self.retried, "replicas": reps}
