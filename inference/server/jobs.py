"""The sidecar's job table and queue: priorities, FIFO within a priority, bounded by count and bytes.

A job's id is the id of the request that made it. A request with an id the table already knows
is the same job resubmitted (a bridge that reconnected): it is never queued twice.
"""
from __future__ import annotations

import heapq
import hmac
import itertools
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from host_bridge.core.protocol import JobSpec, TaskSpec

PRIORITY_AUDITION = 0
PRIORITY_GENERATE = 5


@dataclass
class Job:
    id: str
    kind: str
    spec: JobSpec | TaskSpec
    """What to sing (generate, audition) or which task to run (compose, analyze, artist_create)."""
    owner: bytes
    """ZeroMQ identity of the bridge that gets the events (the latest one that proved it owns the job)."""
    priority: int
    seq: int
    nbytes: int
    key: str | None = None
    """The job's secret, sent by the bridge that made it: a resubmission or a cancel from another
    connection must carry it. None (an older bridge): only the submitting connection owns the job."""
    state: str = "queued"
    """queued -> running -> done | failed | cancelled."""
    cancel: threading.Event = field(default_factory=threading.Event)
    submitted: float = field(default_factory=time.monotonic)
    started: float | None = None
    last_progress: float | None = None
    """monotonic time of the last progress or chunk from the render (for stall detection)."""

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed", "cancelled")

    def owns(self, ident: bytes, key: str | None) -> bool:
        """Whether a request from connection ``ident`` carrying ``key`` may act on this job."""
        if self.key is not None and key is not None:
            return hmac.compare_digest(self.key.encode(), key.encode())
        return ident == self.owner


class JobTaken(Exception):
    """A request reuses the id of a job another bridge owns (without its key)."""


class QueueFull(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class JobQueue:
    """Thread-safe: the server loop submits and cancels, the render worker takes jobs."""

    def __init__(self, max_jobs: int = 64, max_bytes: int = 1 << 30, keep_finished: int = 256) -> None:
        self.max_jobs = max_jobs
        self.max_bytes = max_bytes
        self.keep_finished = keep_finished
        self._heap: list[tuple[int, int, str]] = []
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._closed = False
        self.queued_bytes = 0
        self._active: Job | None = None
        """The job the worker is executing (until it calls finish, even when cancelled meanwhile)."""

    def get(self, job_id: str) -> Job | None:
        with self._cv:
            return self._jobs.get(job_id)

    def submit(self, job_id: str, kind: str, spec: JobSpec | TaskSpec, owner: bytes, priority: int,
               key: str | None = None) -> tuple[Job, bool]:
        """Queue a job; returns (job, is_new). A known id returns the existing job, its owner
        updated, when the request proves it owns it (see :meth:`owns`); otherwise raises
        JobTaken. Raises QueueFull when the queue is at its job or byte limit."""
        nbytes = spec.nbytes if isinstance(spec, TaskSpec) else \
            (spec.instrumental.nbytes if spec.instrumental is not None else 0) + len(spec.melody_midi or b"")
        with self._cv:
            old = self._jobs.get(job_id)
            if old is not None:
                if not old.owns(owner, key):
                    raise JobTaken(job_id)
                old.owner = owner
                return old, False
            waiting = len(self._heap)
            if waiting >= self.max_jobs:
                raise QueueFull(f"{waiting} jobs are waiting")
            if waiting and self.queued_bytes + nbytes > self.max_bytes:
                raise QueueFull(f"{self.queued_bytes >> 20} MiB of audio is waiting")
            job = Job(job_id, kind, spec, owner, priority, next(self._seq), nbytes, key=key)
            self._jobs[job_id] = job
            heapq.heappush(self._heap, (priority, job.seq, job_id))
            self.queued_bytes += nbytes
            self._trim()
            self._cv.notify()
            return job, True

    def take(self, timeout: float) -> Job | None:
        """Next job to render (lowest priority number, then oldest), or None after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                while self._heap:
                    _, _, jid = heapq.heappop(self._heap)
                    job = self._jobs[jid]
                    self.queued_bytes -= job.nbytes
                    if job.state == "queued":
                        job.state = "running"
                        job.started = job.last_progress = time.monotonic()
                        self._active = job
                        return job
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    return None
                self._cv.wait(left)

    def cancel(self, job_id: str, ident: bytes | None = None, key: str | None = None) -> Job | None:
        """Mark a job cancelled (a queued one never runs; a running one has its event set). With
        ``ident``, a job that connection does not own (see :meth:`Job.owns`) is treated as unknown."""
        with self._cv:
            job = self._jobs.get(job_id)
            if job is not None and ident is not None and not job.owns(ident, key):
                return None
            if job is None or job.finished:
                return job
            job.state = "cancelled"
            job.cancel.set()
            return job

    def finish(self, job: Job, state: str) -> bool:
        """Record the end of a running job; False when it was cancelled meanwhile (drop its result)."""
        with self._cv:
            if self._active is job:
                self._active = None
            job.spec = _released(job.spec)
            if job.state != "running":
                return False
            job.state = state
            return True

    def close(self) -> None:
        with self._cv:
            self._closed = True
            for job in self._jobs.values():
                if not job.finished:
                    job.state = "cancelled"
                    job.cancel.set()
            self._cv.notify_all()

    def snapshot(self, owner: bytes | None = None) -> dict[str, Any]:
        """The queue's state. With ``owner``, ``queued`` and ``running`` name only that
        connection's jobs (another bridge's ids are its secrets); ``queued_total`` and ``busy``
        count everyone's."""
        with self._cv:
            running = self._active
            queued = sorted((j for j in self._jobs.values() if j.state == "queued"), key=lambda j: (j.priority, j.seq))
            return {
                "queued": [j.id for j in queued if owner is None or j.owner == owner],
                "queued_total": len(queued),
                "running": running.id if running and (owner is None or running.owner == owner) else None,
                "busy": running is not None,
                "stalled_s": round(time.monotonic() - running.last_progress, 3)
                if running and running.last_progress else 0.0,
                "queued_bytes": self.queued_bytes,
            }

    def position(self, job: Job) -> int | None:
        """Place of a queued job among all queued jobs (0: next), None when not queued."""
        with self._cv:
            if job.state != "queued":
                return None
            return sum(1 for j in self._jobs.values() if j.state == "queued" and (j.priority, j.seq) < (job.priority, job.seq))

    def _trim(self) -> None:
        finished = [k for k, j in self._jobs.items() if j.finished]
        for k in finished[: max(0, len(finished) - self.keep_finished)]:
            del self._jobs[k]


def _released(spec: JobSpec | TaskSpec) -> JobSpec | TaskSpec:
    """The spec without its audio, so finished jobs kept for de-duplication hold no buffers."""
    from dataclasses import replace

    if isinstance(spec, TaskSpec):
        return replace(spec, audio=None, melody_midi=None)
    return replace(spec, instrumental=None, melody_midi=None)
