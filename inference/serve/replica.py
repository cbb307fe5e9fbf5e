"""One Ray Serve replica: a Topline pipeline, loaded and warmed once, that renders one job at a
time and streams the job's events (the sidecar's own ``progress`` / ``chunk`` / ``done`` /
``error`` messages, built by the same :class:`~inference.server.worker.RenderWorker` code) back
to the gateway through a Serve streaming response.

Cancelling the response (the gateway does when a bridge cancels) raises ``CancelledError`` in
:meth:`TakeReplica.render`; the job's cancel event is set at once and the pipeline stops at its
next check, as in the sidecar. Every event travels with a small report of the replica (id, pid,
resident memory, jobs done, cancels and how long each took to stop) for the gateway's status.
"""
from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, AsyncIterator, Callable

from host_bridge.core import protocol as P
from inference.server.jobs import Job
from inference.server.worker import RenderWorker, load_factory

log = logging.getLogger(__name__)

ReplicaEvent = tuple[dict[str, Any], P.Message]
"""What :meth:`TakeReplica.render` yields: (the replica's report, one protocol event of the job)."""


class _OneJob:
    """The part of the sidecar's JobQueue that RenderWorker.render calls: finish(job, state)."""

    def finish(self, job: Job, state: str) -> bool:
        if job.state != "running":
            return False  # cancelled meanwhile: the result is dropped
        job.state = state
        return True


class ReplicaWorker(RenderWorker):
    """The sidecar's render worker without its thread and sockets: events go to a per-job sink."""

    def __init__(self, pipeline: str, threads: int, warm: bool) -> None:
        super().__init__(None, "", _OneJob(), load_factory(pipeline), threads, warm)  # type: ignore[arg-type]
        self.sinks: dict[str, Callable[[P.Message], None]] = {}
        self.load()

    def load(self) -> None:
        """Load (and warm) the pipeline; a failure is kept and answers every job, as in the sidecar."""
        self.load_pipeline("replica", "see the replica's log (ray logs); install the model packages on every node")

    def _send(self, job: Job, flag: bytes, msg: P.Message) -> None:
        sink = self.sinks.get(job.id)
        if sink is not None:
            sink(msg)


class TakeReplica:
    """The deployment's class (wrapped by :func:`inference.serve.gateway.deployment`)."""

    def __init__(self, pipeline: str, threads: int = 1, warm: bool = True) -> None:
        self.worker = ReplicaWorker(pipeline, threads, warm)
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="render")
        """One render at a time per replica (one pipeline; its engines are not re-entrant)."""
        self.jobs_done = 0
        self.cancels: list[float] = []
        """Seconds each cancelled render took to stop after the cancel reached this replica."""
        self.rendering: str | None = None
        self.replica_id = _replica_id()

    def report(self) -> dict[str, Any]:
        return {"replica": self.replica_id, "pid": os.getpid(), "rss_mb": round(_rss_mb(), 1),
                "jobs_done": self.jobs_done, "cancelled": len(self.cancels),
                "cancel_stop_s": [round(s, 3) for s in self.cancels[-8:]], "rendering": self.rendering,
                "warm_s": self.worker.warm_s, "device": str(getattr(self.worker.pipeline, "device", "cpu") or "cpu")}

    async def render(self, job_id: str, kind: str, spec: Any, priority: int = 5) -> AsyncIterator[ReplicaEvent]:
        """Render one job; yields (report, event) until the job's final event."""
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[P.Message | None] = asyncio.Queue()
        job = Job(job_id, kind, spec, b"", priority, 0, 0, state="running")
        job.started = job.last_progress = time.monotonic()

        def sink(m: P.Message) -> None:
            loop.call_soon_threadsafe(events.put_nowait, m)

        self.worker.sinks[job_id] = sink
        done = threading.Event()

        def run() -> None:
            self.rendering = job_id
            try:
                self.worker.render(job)
            finally:
                self.rendering = None
                done.set()
                loop.call_soon_threadsafe(events.put_nowait, None)

        fut = loop.run_in_executor(self.pool, run)
        try:
            while (msg := await events.get()) is not None:
                if msg.type in ("done", "error"):
                    self.jobs_done += 1
                yield self.report(), msg
            await fut
        except asyncio.CancelledError:
            self._cancelled(job, done)
            raise
        finally:
            self.worker.sinks.pop(job_id, None)

    def _cancelled(self, job: Job, done: threading.Event) -> None:
        t0 = time.monotonic()
        job.state = "cancelled"
        job.cancel.set()
        log.info("job %s cancelled by the gateway", job.id)

        def timed() -> None:
            done.wait(600)
            self.cancels.append(time.monotonic() - t0)

        threading.Thread(target=timed, name="cancel-timer", daemon=True).start()


def _replica_id() -> str:
    try:
        from ray import serve

        return str(serve.get_replica_context().replica_id.unique_id)
    except Exception:  # noqa: BLE001 - outside Serve (a unit test): the pid names it
        return f"pid-{os.getpid()}"


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1 << 20)
    except OSError:
        return 0.0
