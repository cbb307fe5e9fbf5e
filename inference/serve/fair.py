"""The gateway's job queue: the sidecar's :class:`~inference.server.jobs.JobQueue` with several
jobs running at once (one per free replica) and fairness across users.

Order: the lowest priority number first (auditions, 0, before full takes, 5), as in the sidecar;
within a priority, the user served least recently goes next (round-robin), and each user's jobs
in the order they were sent. A user is the bridge that submitted the job (its ZeroMQ identity),
so one bridge's ten queued takes do not hold back another bridge's one. Each user may have at
most ``max_per_user`` jobs waiting or rendering; more are refused as ``busy``.
"""
from __future__ import annotations

import heapq
import time
from typing import Any, Callable

from inference.server.jobs import Job, JobQueue, QueueFull


class FairQueue(JobQueue):
    """Thread-safe: the server loop submits and cancels; the dispatcher's slots take and finish."""

    def __init__(self, max_jobs: int = 64, max_bytes: int = 1 << 30, max_per_user: int = 16,
                 keep_finished: int = 256) -> None:
        super().__init__(max_jobs, max_bytes, keep_finished)
        self.max_per_user = max_per_user
        self._user: dict[str, bytes] = {}
        """Job id -> the bridge that submitted it (the fairness key; kept when a resubmission moves the owner)."""
        self._waiting: list[Job] = []
        """Queued jobs in submission order (cancelled ones are dropped at the next pick)."""
        self._running: dict[str, Job] = {}
        self._served: dict[bytes, int] = {}
        """User -> the turn at which a job of theirs last started."""
        self._turns = 0
        self.on_cancel: Callable[[Job], None] | None = None
        """Called (outside the lock) when a running job is cancelled, so the dispatcher stops its replica."""

    def submit(self, job_id: str, kind: str, spec: Any, owner: bytes, priority: int,
               key: str | None = None) -> tuple[Job, bool]:
        """As the sidecar's; also refuses (QueueFull) a user at ``max_per_user``."""
        with self._cv:  # (a re-entrant lock: the sidecar's submit takes it again)
            if job_id not in self._jobs:
                self._purge()
                mine = sum(1 for j in [*self._waiting, *self._running.values()] if self._user.get(j.id) == owner)
                if mine >= self.max_per_user:
                    raise QueueFull(f"this bridge already has {mine} jobs waiting or rendering "
                                    f"(the cluster's limit per user is {self.max_per_user})")
            job, new = super().submit(job_id, kind, spec, owner, priority, key)
            if new:
                self._user[job_id] = owner
                self._waiting.append(job)
            return job, new

    def take(self, timeout: float) -> Job | None:
        """The next job by priority, then round-robin across users; None after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                self._purge()
                order = self._order(1)
                if order:
                    job = order[0]
                    self._unqueue([job])
                    job.state = "running"
                    job.started = job.last_progress = time.monotonic()
                    self._running[job.id] = job
                    self._turns += 1
                    self._served[self._user[job.id]] = self._turns
                    return job
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    return None
                self._cv.wait(left)

    def finish(self, job: Job, state: str) -> bool:
        with self._cv:
            self._running.pop(job.id, None)
            self._user_gc()
            return super().finish(job, state)

    def cancel(self, job_id: str, ident: bytes | None = None, key: str | None = None) -> Job | None:
        job = super().cancel(job_id, ident, key)
        with self._cv:
            running = job is not None and job.id in self._running
        if running and job is not None and self.on_cancel is not None:
            self.on_cancel(job)
        return job

    def user_of(self, job: Job) -> bytes:
        with self._cv:
            return self._user.get(job.id, job.owner)

    # ------------------------------------------------------------------ views
    def snapshot(self, owner: bytes | None = None) -> dict[str, Any]:
        """As the sidecar's, with several jobs running: ``running`` is the first of this
        connection's running jobs (``running_jobs`` all of them), ``running_total`` and
        ``users`` count everyone's; ``stalled_s`` looks at this connection's jobs only."""
        now = time.monotonic()
        with self._cv:
            self._purge()
            queued = self._order(len(self._waiting))
            running = list(self._running.values())
            mine = [j for j in running if owner is None or j.owner == owner]
            users = {self._user.get(j.id) for j in [*queued, *running]}
            return {
                "queued": [j.id for j in queued if owner is None or j.owner == owner],
                "queued_total": len(queued),
                "running": mine[0].id if mine else None,
                "running_jobs": [j.id for j in mine],
                "running_total": len(running),
                "busy": bool(running),
                "stalled_s": round(max((now - j.last_progress for j in mine if j.last_progress), default=0.0), 3),
                "queued_bytes": self.queued_bytes,
                "users": len(users),
                "max_per_user": self.max_per_user,
            }

    def position(self, job: Job) -> int | None:
        with self._cv:
            if job.state != "queued":
                return None
            order = self._order(len(self._waiting))
            return order.index(job) if job in order else None

    # ------------------------------------------------------------------ internals (lock held)
    def _order(self, n: int) -> list[Job]:
        """The first ``n`` waiting jobs in the order :meth:`take` would start them (no new arrivals)."""
        waiting = [j for j in self._waiting if j.state == "queued"]
        served = dict(self._served)
        out: list[Job] = []
        turn = self._turns
        while waiting and len(out) < n:
            best = min(j.priority for j in waiting)
            firsts: dict[bytes, Job] = {}
            for j in waiting:  # submission order: each user's oldest job at the best priority
                if j.priority == best:
                    firsts.setdefault(self._user[j.id], j)
            job = min(firsts.values(), key=lambda j: (served.get(self._user[j.id], -1), j.seq))
            waiting.remove(job)
            turn += 1
            served[self._user[job.id]] = turn
            out.append(job)
        return out

    def _purge(self) -> None:
        self._unqueue([j for j in self._waiting if j.state != "queued"])

    def _unqueue(self, jobs: list[Job]) -> None:
        """Take jobs out of the waiting list (and the sidecar's heap, which counts them for its limits)."""
        if not jobs:
            return
        ids = {j.id for j in jobs}
        for j in jobs:
            self._waiting.remove(j)
            self.queued_bytes -= j.nbytes
        self._heap = [e for e in self._heap if e[2] not in ids]
        heapq.heapify(self._heap)

    def _user_gc(self) -> None:
        if len(self._user) > 4 * self.keep_finished:
            for k in [k for k in self._user if k not in self._jobs]:
                del self._user[k]
