"""The render worker: one thread per device that loads and warms the pipeline once, then renders
jobs from the queue one at a time, streaming progress and phrase chunks as they finish.

Events leave through an inproc PUSH socket to the server loop (a ZeroMQ socket belongs to one
thread); the loop forwards them to the job's owner.
"""
from __future__ import annotations

import importlib
import importlib.util
import logging
import threading
import time
from typing import Any, Callable

import zmq

from host_bridge.core import protocol as P
from host_bridge.core.errors import CancelledError, ToplineError
from inference.server.finals import FinalSpool
from inference.server.jobs import Job, JobQueue

log = logging.getLogger(__name__)

PipelineFactory = Callable[..., Any]

def load_factory(spec: str) -> PipelineFactory:
    """``"package.module:callable"`` or ``"path/to/file.py:callable"`` -> the callable (the
    sidecar's pipeline is injectable, so tests run the real server with a fast real engine)."""
    mod, _, name = spec.rpartition(":")
    if not mod or not name:
        raise ValueError(f"pipeline factory {spec!r} is not 'module:callable'")
    if mod.endswith(".py"):
        loc = importlib.util.spec_from_file_location(f"_topline_pipeline_{abs(hash(mod))}", mod)
        if loc is None or loc.loader is None:
            raise ValueError(f"cannot load {mod}")
        module = importlib.util.module_from_spec(loc)
        loc.loader.exec_module(module)
    else:
        module = importlib.import_module(mod)
    factory: PipelineFactory = getattr(module, name)
    return factory


class RenderWorker(threading.Thread):
    def __init__(self, ctx: zmq.Context, events_url: str, queue: JobQueue, factory: PipelineFactory,
                 threads: int, warm: bool = True, shm_for: Callable[[bytes], P.ShmWriter | None] | None = None) -> None:
        super().__init__(name="render-worker", daemon=True)
        self.ctx, self.events_url, self.queue = ctx, events_url, queue
        self.factory, self.threads, self.warm = factory, threads, warm
        self.pipeline: Any = None
        self.ready = threading.Event()
        self.failure: ToplineError | None = None
        self.warm_s: float | None = None
        self.stopping = threading.Event()
        self._push: zmq.Socket | None = None
        self.shm_for = shm_for or (lambda owner: None)
        self.finals = FinalSpool()
        """Final events of finished jobs, on disk, to answer a resubmission of a finished job."""

    def load_pipeline(self, who: str = "sidecar",
                      fix: str = "see the sidecar log; reinstall the model packages (scripts/setup.sh)") -> None:
        """Build (and warm) the pipeline; a failure is kept and answers every job instead of the
        process dying silently. ``who`` and ``fix`` name the process in that failure."""
        t0 = time.perf_counter()
        try:
            self.pipeline = self.factory(threads=self.threads)
            if self.warm:
                self.pipeline.warm_up()
            self.warm_s = time.perf_counter() - t0
            log.info("pipeline ready in %.2f s", self.warm_s)
        except ToplineError as e:
            log.error("pipeline failed to load: %s", e)
            self.failure = e
        except Exception as e:  # noqa: BLE001 - reported to every job
            log.exception("pipeline failed to load")
            self.failure = ToplineError(f"the {who} could not load its models: {e}", fix)
        self.ready.set()

    # ------------------------------------------------------------------ thread
    def run(self) -> None:
        self._push = self.ctx.socket(zmq.PUSH)
        self._push.setsockopt(zmq.LINGER, 1000)
        self._push.connect(self.events_url)
        self.load_pipeline()
        self._push.send_multipart([b"", b"ready"])
        while not self.stopping.is_set():
            job = self.queue.take(timeout=0.2)
            if job is not None:
                self.render(job)
        self._push.close()

    # ------------------------------------------------------------------ one job
    def emit(self, job: Job, msg: P.Message) -> None:
        """Send an event of ``job`` unless it was cancelled (a cancelled job says nothing more)."""
        if job.state == "cancelled":
            return
        self._send(job, b"e", msg)

    def _send(self, job: Job, flag: bytes, msg: P.Message) -> None:
        assert self._push is not None
        owner = job.owner
        self._push.send_multipart([owner, flag, *P.encode(msg, self.shm_for(owner))], copy=False)

    def render(self, job: Job) -> None:
        if self.failure is not None:
            self.queue.finish(job, "failed")
            self.emit_final(job, P.error_reply(job.id, self.failure))
            return
        n_chunk = 0

        def progress(stage: str, frac: float) -> None:
            job.last_progress = time.monotonic()
            self.emit(job, P.progress_event(job.id, stage, frac))

        def on_chunk(audio: Any, start_sample: int) -> None:
            nonlocal n_chunk
            job.last_progress = time.monotonic()
            self.on_chunk(job, n_chunk)
            msg = P.chunk_event(job.id, audio, job.spec.sample_rate, start_sample, n_chunk)
            msg.body["elapsed_s"] = round(time.monotonic() - (job.started or job.submitted), 4)
            self.emit(job, msg)
            n_chunk += 1

        self.on_job_started(job)
        try:
            final = self.execute(job, progress, on_chunk)
        except CancelledError:
            self.queue.finish(job, "cancelled")  # the server loop has already told the owner
            return
        except ToplineError as e:
            if self.queue.finish(job, "failed"):
                self.emit_final(job, P.error_reply(job.id, e))
            return
        except Exception as e:  # noqa: BLE001 - a failing job answers with an error; the sidecar stays up
            log.exception("job %s failed", job.id)
            if self.queue.finish(job, "failed"):
                self.emit_final(job, P.error_reply(job.id, ToplineError(
                    f"the sidecar failed on this job: {type(e).__name__}: {e}",
                    "this is a bug; the sidecar log has the traceback, please report it")))
            return
        if self.queue.finish(job, "done"):
            self.emit_final(job, final)

    def execute(self, job: Job, progress: Callable[[str, float], None], on_chunk: Callable[[Any, int], None]) -> P.Message:
        """Run the job; its final event (the take, or a task's result)."""
        from inference.pipeline import GenerateRequest

        if isinstance(job.spec, P.TaskSpec):
            from inference.server.tasks import run_task

            res = run_task(self.pipeline, job.spec, progress=progress, cancel=job.cancel)
            return P.result_event(job.id, res.result, res.files)
        req = GenerateRequest(**job.spec.request_fields())
        if job.kind == "audition" and job.spec.artists:
            take = self.audition(job, req)
        else:
            take = self.pipeline.generate(req, progress=progress, on_chunk=on_chunk, cancel=job.cancel)
        return P.done_event(job.id, take)

    def audition(self, job: Job, req: Any) -> Any:
        """Several artists sing the request's section: each clip goes out as a chunk event the
        moment it is ready (:func:`host_bridge.core.protocol.clip_event`); returns the A/B reel (the
        clips in sequence, vocals only) as the take."""
        from host_bridge.core.model import Take
        from host_bridge.core.reel import Clip, ClipPart, ab_reel
        from inference.audition import audition

        assert isinstance(job.spec, P.JobSpec)
        artists = job.spec.artists
        done = 0

        def on_clip(clip: Clip) -> None:
            nonlocal done
            done += 1
            job.last_progress = time.monotonic()
            self.on_chunk(job, clip.index)
            self.emit(job, P.clip_event(job.id, clip.take, clip.index, clip.ready_s))
            self.emit(job, P.progress_event(job.id, "audition", done / len(artists)))

        def on_part(part: ClipPart) -> None:
            job.last_progress = time.monotonic()
            self.emit(job, P.part_event(job.id, part))

        clips = audition(self.pipeline, req, artists, on_clip=on_clip, cancel=job.cancel,
                         workers=job.spec.workers or None, on_part=on_part if job.spec.stream_clips else None)
        reel, marks = ab_reel(clips, None)
        first = clips[0].take
        return Take(audio=reel, sample_rate=first.sample_rate, start_sample=first.start_sample, score=first.score,
                    artist=",".join(c.artist for c in clips), engine=first.engine, seed=first.seed,
                    timings={c.artist: round(c.ready_s, 3) for c in clips},
                    register={"ab": [[a, round(t, 3)] for a, t in marks]})

    def emit_final(self, job: Job, msg: P.Message) -> None:
        """The last event of a job, kept to answer a resubmission of the finished job."""
        self.keep_final(job.id, msg)
        self._send(job, b"f", msg)

    def keep_final(self, job_id: str, msg: P.Message) -> None:
        self.finals.put(job_id, msg)

    def final(self, job_id: str) -> P.Message | None:
        return self.finals.get(job_id)

    # ------------------------------------------------------------------ hooks (misbehaving test sidecars)
    def on_job_started(self, job: Job) -> None:
        pass

    def on_chunk(self, job: Job, index: int) -> None:
        pass
