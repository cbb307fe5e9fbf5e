"""The bridge's job session: submit jobs to the sidecar, stream their events, survive its death.

One thread drives it (``poll``/``wait``/``run``). Several jobs may be in flight. The session
pings the sidecar, and when it stops answering (or its process exits) it kills it, starts a new
one (up to the restart limit) and resubmits every unfinished job under its own id. A job
yields at most one take: events of a finished job are ignored, chunks already delivered are
not delivered again, and the sidecar itself never queues a known id twice.
"""
from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from host_bridge.core import protocol as P
from host_bridge.client import SidecarClient, SidecarError
from host_bridge.core.errors import CancelledError, ToplineError
from host_bridge.core.model import Take
from host_bridge.core.reel import Clip, ClipPart
from host_bridge.supervisor import ENV_MAX_RSS_MB, Heartbeat, MemoryCeiling, Restarter, SidecarManager

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, float], None]
ChunkCallback = Callable[[np.ndarray, int], None]
ClipCallback = Callable[[Clip], None]
PartCallback = Callable[[ClipPart], None]


@dataclass
class JobHandle:
    id: str
    kind: str
    spec: P.JobSpec | P.TaskSpec
    priority: int | None = None
    on_progress: ProgressCallback | None = None
    on_chunk: ChunkCallback | None = None
    on_clip: ClipCallback | None = None
    """An audition's clips, each as soon as it is ready (request order on one worker)."""
    on_part: PartCallback | None = None
    """An audition's clips in pieces, as they render (sent only when the spec asks ``stream_clips``)."""
    state: str = "sent"
    """sent -> accepted -> done | failed | cancelled."""
    take: Take | None = None
    result: P.TaskResult | None = None
    """A task's result (compose, analyze, artist_create)."""
    error: ToplineError | None = None
    chunks_seen: set[int] = field(default_factory=set)
    parts_seen: set[tuple[int, int]] = field(default_factory=set)
    sent_at: float = field(default_factory=time.monotonic)
    submissions: int = 1
    shm_slots: list[str] = field(default_factory=list)
    """Shared-memory slots holding this job's request buffers (lent to the sidecar until the job ends)."""
    first_chunk_s: float | None = None
    """Seconds from the first submission to the first audio chunk."""
    first_chunk_sidecar_s: float | None = None
    """Of those, the seconds the sidecar spent from starting the job to sending that chunk."""
    t0: float = field(default_factory=time.monotonic)
    key: str = field(default_factory=lambda: secrets.token_hex(16))
    """The job's secret: sent with every submission and cancel, so that after a reconnect (or a
    sidecar restart) the sidecar gives the job back only to this bridge."""

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed", "cancelled")


class Bridge:
    """Jobs on a supervised sidecar. ``manager`` decides how the sidecar is started or found."""

    def __init__(self, manager: SidecarManager, heartbeat: Heartbeat | None = None, restart_limit: int = 3,
                 accept_timeout: float = 2.0, request_timeout: float = 5.0,
                 memory_ceiling: MemoryCeiling | None = None) -> None:
        """``memory_ceiling``: the sidecar is restarted once its jobs are done when its resident
        memory is above it (default: :meth:`MemoryCeiling.from_env`)."""
        self.manager = manager
        self.heartbeat = heartbeat or Heartbeat()
        self.restarter = Restarter(restart_limit)
        self.accept_timeout = accept_timeout
        self.request_timeout = request_timeout
        self.jobs: dict[str, JobHandle] = {}
        self.client: SidecarClient | None = None
        self.hello: dict[str, Any] = {}
        self.restarts = 0
        self.memory_ceiling = memory_ceiling or MemoryCeiling.from_env()
        self.memory_restarts = 0
        self._jobs_ended = False

    # ------------------------------------------------------------------ connection
    def connect(self, start: bool = True) -> dict[str, Any]:
        """Attach to the sidecar of the connection file, or start one (``start``). Returns its hello."""
        if self.client is None:
            client = self.manager.attach() if not start else self.manager.ensure()
            if client is None:
                raise SidecarError(f"no sidecar answers at {self.manager.connection_file}",
                                   "start one with `topline sidecar`")
            self.client = client
            self.heartbeat.reset()
            self.hello = client.hello_body
        return self.hello

    def close(self, stop_sidecar: bool | None = None) -> None:
        """Disconnect; stop the sidecar too when this bridge started it (or ``stop_sidecar``)."""
        stop = self.manager.owned and not self.manager.detach if stop_sidecar is None else stop_sidecar
        if self.client is not None:
            if stop:
                self.manager.shutdown(self.client)
            self.client.close()
            self.client = None

    # ------------------------------------------------------------------ jobs
    def submit(self, spec: P.JobSpec | P.TaskSpec, kind: str = "generate", job_id: str | None = None,
               priority: int | None = None, on_progress: ProgressCallback | None = None,
               on_chunk: ChunkCallback | None = None, on_clip: ClipCallback | None = None,
               on_part: PartCallback | None = None) -> JobHandle:
        """Send a job: a JobSpec as ``kind`` (generate, audition), or a TaskSpec (its own kind)."""
        self.connect()
        if isinstance(spec, P.TaskSpec):
            kind = spec.kind
        job = JobHandle(job_id or P.new_id(), kind, spec, priority, on_progress, on_chunk, on_clip, on_part)
        if job.id in self.jobs:
            raise ValueError(f"job id {job.id} is already used by this bridge")
        self.jobs[job.id] = job
        self._send_job(job)
        return job

    def _send_job(self, job: JobHandle) -> None:
        assert self.client is not None
        job.sent_at = time.monotonic()
        self._release_slots(job)
        msg = (P.task_request(job.spec, job.id, job.priority, key=job.key) if isinstance(job.spec, P.TaskSpec)
               else P.job_request(job.spec, job.kind, job.id, job.priority, key=job.key))
        self.client.send(msg, job.shm_slots)

    def _release_slots(self, job: JobHandle) -> None:
        if job.shm_slots and self.client is not None and self.client.arena is not None:
            self.client.arena.release(job.shm_slots)
        job.shm_slots = []

    def cancel(self, job_id: str) -> None:
        """Ask the sidecar to stop a job; its handle ends as cancelled when the sidecar confirms."""
        job = self.jobs.get(job_id)
        if job is None or job.finished or self.client is None:
            return
        self.client.send(P.Message("cancel", body={"job": job_id, "key": job.key}))

    def wait(self, job_id: str, timeout: float) -> JobHandle:
        """Drive the session until the job ends; raises SidecarError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        job = self.jobs[job_id]
        while not job.finished:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SidecarError(f"job {job_id} did not finish within {timeout:.0f} s",
                                   "the sidecar may be overloaded; try again or cancel the job")
            self.poll(min(left, 0.1))
        return job

    def run(self, spec: P.JobSpec, kind: str = "generate", timeout: float = 3600.0, **kw: Any) -> Take:
        """Submit, wait, and return the take (raises the job's error)."""
        job = self.submit(spec, kind, **kw)
        self.wait(job.id, timeout)
        if job.error is not None:
            raise job.error
        assert job.take is not None
        return job.take

    def unfinished(self) -> list[JobHandle]:
        return [j for j in self.jobs.values() if not j.finished]

    # ------------------------------------------------------------------ the loop
    def poll(self, timeout: float) -> None:
        """Handle what arrives within ``timeout`` s; ping; recover a dead sidecar."""
        self.connect()
        assert self.client is not None
        deadline = time.monotonic() + timeout
        while True:
            msg = self.client.recv(max(0.0, min(deadline - time.monotonic(), self.heartbeat.interval)))
            if msg is not None:
                self._dispatch(msg)
                self.client.release(msg)  # its audio was copied out
                if self._jobs_ended and not self.unfinished():
                    self._check_memory()  # between jobs only
            if self.manager.exited() or self.heartbeat.dead(self.client):
                self._recover()
                return
            self.heartbeat.beat(self.client)
            self._resend_unaccepted()
            if time.monotonic() >= deadline:
                return

    def _resend_unaccepted(self) -> None:
        now = time.monotonic()
        for job in self.unfinished():
            if job.state == "sent" and now - job.sent_at > self.accept_timeout:
                log.info("job %s not accepted after %.1f s: sending it again", job.id, self.accept_timeout)
                job.submissions += 1
                self._send_job(job)

    def _dispatch(self, msg: P.Message) -> None:
        if msg.type == "pong":
            self.heartbeat.on_pong(msg)
            return
        job = self.jobs.get(msg.re or "")
        if job is None:
            if msg.type not in ("cancel_reply", "status_reply", "hello_reply", "artists_reply"):
                log.info("ignoring %s for unknown request %s", msg.type, msg.re)
            return
        if job.finished:
            log.info("ignoring %s for finished job %s", msg.type, job.id)
            return
        if msg.type == "accepted":
            job.state = "accepted"
        elif msg.type == "progress":
            if job.on_progress is not None:
                job.on_progress(str(msg.body.get("stage", "")), float(msg.body.get("frac", 0.0)))
        elif msg.type == "chunk":
            self._chunk(job, msg)
        elif msg.type == "part":
            self._part(job, msg)
        elif msg.type == "done":
            if isinstance(job.spec, P.TaskSpec):
                job.result = P.result_from_done(msg)
            else:
                job.take = P.take_from_done(msg)
            job.state = "done"
            self.restarter.healthy()
        elif msg.type == "error" and msg.body.get("code") == "busy":
            log.info("sidecar busy; job %s will be sent again in %.1f s", job.id, self.accept_timeout)
            job.state, job.sent_at = "sent", time.monotonic()
        elif msg.type == "error":
            job.error = P.remote_error(msg)
            job.state = "cancelled" if isinstance(job.error, CancelledError) else "failed"
        if job.finished:
            self._release_slots(job)
            self._jobs_ended = True

    def _chunk(self, job: JobHandle, msg: P.Message) -> None:
        idx = msg.body.get("index")
        audio = msg.buffers.get("audio")
        if not isinstance(idx, int) or not isinstance(audio, P.Audio):
            log.warning("skipping a malformed chunk of job %s", job.id)
            return
        if idx in job.chunks_seen:
            return  # the same phrase again, from a resubmitted job
        job.chunks_seen.add(idx)
        if job.first_chunk_s is None:
            job.first_chunk_s = time.monotonic() - job.t0
            el = msg.body.get("elapsed_s")
            job.first_chunk_sidecar_s = float(el) if isinstance(el, (int, float)) else None
        if job.on_chunk is not None:
            job.on_chunk(np.array(audio.array, np.float32, ndmin=2), int(msg.body.get("start_sample", 0)))
        if job.on_clip is not None and "clip" in msg.body:
            job.on_clip(P.clip_from_chunk(msg))

    def _part(self, job: JobHandle, msg: P.Message) -> None:
        try:
            part = P.part_from_event(msg)
        except P.ProtocolError as e:
            log.warning("skipping a malformed clip part of job %s: %s", job.id, e)
            return
        if (part.clip_index, part.part) in job.parts_seen:
            return  # the same piece again, from a resubmitted job
        job.parts_seen.add((part.clip_index, part.part))
        if job.on_part is not None:
            job.on_part(part)

    def _check_memory(self) -> None:
        """No job in flight: restart the sidecar when its resident memory is above the ceiling
        (logged; a last resort, the engines bound their memory themselves)."""
        self._jobs_ended = False
        if self.memory_ceiling.limit_bytes is None or self.client is None:
            return
        try:
            rss = self.memory_ceiling.exceeded(self.client.status(min(1.0, self.request_timeout)))
        except (SidecarError, ToplineError) as e:
            log.info("no memory figure from the sidecar: %s", e)
            return
        if rss is None:
            return
        pid = self.manager.info.pid if self.manager.info else "?"
        log.warning("sidecar %s holds %.0f MB after its jobs, above the ceiling of %.0f MB (%s): restarting it "
                    "between jobs", pid, rss / 2**20, self.memory_ceiling.limit_bytes / 2**20, ENV_MAX_RSS_MB)
        self.manager.shutdown(self.client)
        self.client.close()
        self.client = self.manager.start()
        self.heartbeat.reset()
        self.hello = self.client.hello_body
        self.memory_restarts += 1

    def _recover(self) -> None:
        """The sidecar is dead or hung: kill it, start another, resubmit the unfinished jobs."""
        assert self.client is not None
        why = "exited" if self.manager.exited() else ("stalled" if self.heartbeat.stalled else "stopped answering")
        log.warning("sidecar %s: %s", self.manager.info.pid if self.manager.info else "?", why)
        self.client.close()
        self.client = None
        self.manager.kill(term_timeout=0.5)
        if not self.restarter.allow():
            err = SidecarError(f"the sidecar {why} and was restarted {self.restarter.count} times already",
                               f"see its log ({self.manager.log_file}); check the models with `topline artists`")
            for job in self.unfinished():
                job.state, job.error = "failed", err
            raise err
        self.restarter.record()
        self.restarts += 1
        self.client = self.manager.start()
        self.heartbeat.reset()
        self.hello = self.client.hello_body
        for job in self.unfinished():
            job.state = "sent"
            job.submissions += 1
            self._send_job(job)
