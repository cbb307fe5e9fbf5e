"""The sidecar's server loop: a ZeroMQ ROUTER socket, a handler table per message type, and the
render worker behind a job queue.

The loop never renders: it answers pings, hello, status and artists at once (even while the
models warm up), queues jobs, cancels them, and forwards the worker's events to each job's
owner. A failing handler answers with an error; the process stays up.
"""
from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import zmq

from host_bridge.core import __version__
from host_bridge.core import protocol as P
from host_bridge.core.connection import ConnectionInfo, default_connection_file
from host_bridge.core.errors import CancelledError, InputError, ToplineError
from host_bridge.core.frozen import build_info
from host_bridge.core.shm import ShmArena, ShmMaps, shm_available
from inference.server.jobs import PRIORITY_AUDITION, PRIORITY_GENERATE, JobQueue, JobTaken, QueueFull
from inference.server.worker import PipelineFactory, RenderWorker, load_factory

log = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class ServerConfig:
    ip: str = "127.0.0.1"
    port: int = 0
    """0 picks a free port."""
    connection_file: Path | None = None
    curve_keys: Path | None = None
    """Folder with ``server.key_secret`` (and optionally ``clients/*.key`` to allow only those bridges)."""
    pipeline: str = "inference.pipeline:Pipeline"
    threads: int = 2
    warm: bool = True
    max_message_bytes: int = P.DEFAULT_MAX_MESSAGE_BYTES
    max_jobs: int = 64
    max_queue_bytes: int = 1 << 30
    idle_exit_s: float | None = None
    """Exit when no bridge has said anything for this long and no job is waiting."""


class SidecarServer:
    def __init__(self, config: ServerConfig, factory: PipelineFactory | None = None) -> None:
        self.config = config
        self.factory = factory or load_factory(config.pipeline)
        self.ctx = zmq.Context()
        self.queue = JobQueue(config.max_jobs, config.max_queue_bytes)
        self.handlers: dict[str, Callable[[bytes, P.Message], None]] = {
            "hello": self.on_hello, "ping": self.on_ping, "status": self.on_status, "artists": self.on_artists,
            "generate": self.on_job, "audition": self.on_job, "compose": self.on_job, "analyze": self.on_job,
            "artist_create": self.on_job, "cancel": self.on_cancel, "shutdown": self.on_shutdown,
            "release": self.on_release,
        }
        shm = config.ip in LOOPBACK and shm_available()
        self.arena = ShmArena() if shm else None
        self.maps = ShmMaps(refuse_pid=os.getpid()) if shm else None
        self.shm_peers: set[bytes] = set()
        self.bad_messages = 0
        self.lent_to: dict[str, bytes] = {}
        """Shared-memory slot -> the bridge it was lent to (only that bridge may release it)."""
        """Messages answered with an error because they could not be read."""
        """Bridges that agreed to shared memory in hello."""
        self._stop = False
        self._last_activity = time.monotonic()
        self.started = time.monotonic()
        self.connection_file = Path(config.connection_file or default_connection_file())
        self.info: ConnectionInfo | None = None
        self._auth: Any = None

    # ------------------------------------------------------------------ sockets
    def bind(self) -> ConnectionInfo:
        c = self.config
        self.router = self.ctx.socket(zmq.ROUTER)
        self.router.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self.router.setsockopt(zmq.ROUTER_HANDOVER, 1)
        self.router.setsockopt(zmq.LINGER, 1000)
        # A hard cap far above the answered limit: a frame beyond it drops the peer (unanswered)
        # instead of eating memory; anything between the two limits is answered with too_large.
        self.router.setsockopt(zmq.MAXMSGSIZE, 4 * c.max_message_bytes + (64 << 20))
        public = self._setup_curve()
        url = f"tcp://{c.ip}"
        port = self.router.bind_to_random_port(url) if c.port == 0 else self._bind_port(url, c.port)
        self.events = self.ctx.socket(zmq.PULL)
        self.events_url = f"inproc://events-{id(self)}"
        self.events.bind(self.events_url)
        self.info = ConnectionInfo(c.ip, port, os.getpid(), P.PROTOCOL_VERSION, server_public_key=public)
        return self.info

    def _bind_port(self, url: str, port: int) -> int:
        self.router.bind(f"{url}:{port}")
        return port

    def _setup_curve(self) -> str | None:
        c = self.config
        if c.curve_keys is None:
            if c.ip not in LOOPBACK:
                raise InputError(f"binding {c.ip} would expose the sidecar to the network without encryption",
                                 "pass --curve-keys DIR (create one with `topline sidecar --make-keys DIR`) "
                                 "or bind 127.0.0.1")
            return None
        import zmq.auth

        secret_file = Path(c.curve_keys) / "server.key_secret"
        if not secret_file.is_file():
            raise InputError(f"{secret_file} does not exist", "create keys with `topline sidecar --make-keys DIR`")
        public, secret = zmq.auth.load_certificate(str(secret_file))
        assert secret is not None
        clients = Path(c.curve_keys) / "clients"
        if clients.is_dir():
            from zmq.auth.thread import ThreadAuthenticator

            self._auth = ThreadAuthenticator(self.ctx)
            self._auth.start()
            self._auth.configure_curve(domain="*", location=str(clients))
        self.router.curve_server = True
        self.router.curve_publickey = public
        self.router.curve_secretkey = secret
        return public.decode("ascii")

    def send(self, ident: bytes, msg: P.Message) -> None:
        self.send_frames(ident, P.encode(msg, self.shm_for(ident)))

    def shm_for(self, ident: bytes) -> "_PeerSlots | None":
        return _PeerSlots(self.arena, self.lent_to, ident) if self.arena is not None and ident in self.shm_peers else None

    def send_frames(self, ident: bytes, frames: list[Any]) -> None:
        try:
            self.router.send_multipart([ident, *frames], copy=False)
        except zmq.ZMQError as e:  # EHOSTUNREACH: that bridge is gone; its job keeps running
            log.info("cannot reach bridge %r: %s", ident, e)

    # ------------------------------------------------------------------ loop
    def serve(self) -> int:
        info = self.bind()
        self.worker = self.make_worker()
        self.worker.start()
        info.write(self.connection_file)
        log.info("sidecar %d listening on %s (connection file %s)", info.pid, info.url, self.connection_file)
        old = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        poller.register(self.events, zmq.POLLIN)
        try:
            while not self._stop:
                ready = dict(poller.poll(100))
                if self.router in ready:
                    self._drain_router()
                if self.events in ready:
                    self._drain_events()
                self._check_idle()
        finally:
            for s, h in old.items():
                signal.signal(s, h)
            self.close()
        return 0

    def make_worker(self) -> RenderWorker:
        return RenderWorker(self.ctx, self.events_url, self.queue, self.factory, self.config.threads, self.config.warm,
                            self.shm_for)

    def _on_signal(self, signum: int, frame: Any) -> None:
        log.info("signal %d: shutting down", signum)
        self._stop = True

    def _drain_router(self) -> None:
        for _ in range(100):
            try:
                frames = self.router.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            self._last_activity = time.monotonic()
            self.handle(frames[0].bytes, [f.buffer for f in frames[1:]])

    def _drain_events(self) -> None:
        for _ in range(1000):
            try:
                frames = self.events.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            owner, flag = frames[0].bytes, frames[1].bytes
            if flag == b"ready":
                log.info("worker ready%s", f" (failed: {self.worker.failure})" if self.worker.failure else "")
                continue
            self.send_frames(owner, frames[2:])

    def _check_idle(self) -> None:
        idle = self.config.idle_exit_s
        if idle is None or time.monotonic() - self._last_activity < idle:
            return
        snap = self.queue.snapshot()
        if snap["running"] is None and not snap["queued"]:
            log.info("no bridge for %.0f s: exiting", idle)
            self._stop = True

    def handle(self, ident: bytes, frames: list[Any]) -> None:
        """One request from bridge ``ident``: decode, dispatch, and answer any failure with an error."""
        try:
            msg = P.decode(frames, self.config.max_message_bytes, self.maps if ident in self.shm_peers else None)
        except P.ProtocolError as e:
            self.bad_messages += 1
            log.info("bad message from %r: %s", ident, e)
            self.send(ident, P.error_reply(e.re, e))
            return
        except Exception as e:  # noqa: BLE001 - the decoder is total; this keeps the loop up if it is not
            self.bad_messages += 1
            log.exception("the decoder failed on a message from %r", ident)
            self.send(ident, P.error_reply(None, P.ProtocolError(f"unreadable message ({type(e).__name__})",
                                                                 "send a header frame the protocol describes")))
            return
        handler = self.handlers.get(msg.type)
        try:
            if handler is None:
                raise P.ProtocolError(f"{msg.type!r} is not a request", f"send one of {', '.join(sorted(self.handlers))}",
                                      code="unknown_type")
            handler(ident, msg)
        except ToplineError as e:
            self.send(ident, P.error_reply(msg.id, e))
        except Exception as e:  # noqa: BLE001 - a failing handler answers; the sidecar stays up
            log.exception("handler for %s failed", msg.type)
            self.send(ident, P.error_reply(msg.id, ToplineError(
                f"the sidecar failed on {msg.type}: {type(e).__name__}: {e}", "this is a bug; please report it")))

    # ------------------------------------------------------------------ handlers
    def state(self) -> str:
        if not self.worker.ready.is_set():
            return "warming"
        return "failed" if self.worker.failure else "ready"

    def on_ping(self, ident: bytes, msg: P.Message) -> None:
        self.send(ident, P.reply(msg, "pong", {"state": self.state(), **self.queue.snapshot(ident)}))

    def on_hello(self, ident: bytes, msg: P.Message) -> None:
        from host_bridge.core.artists import load_artists

        artists = load_artists()
        body: dict[str, Any] = {
            "versions": list(P.SUPPORTED_VERSIONS), "server": __version__, "pid": os.getpid(),
            "state": self.state(), "engines": sorted({a.engine for a in artists.values()}),
            "artists": sorted(artists), "device": self.device(),
            "warm_s": self.worker.warm_s, "uptime_s": round(time.monotonic() - self.started, 3),
            "build": build_info(),
        }
        if self.worker.failure is not None:
            f = self.worker.failure
            body["failure"] = {"code": f.code, "message": f.message, "hint": f.hint}
        probe = msg.body.get("shm")
        if self.maps is not None and isinstance(probe, str):
            try:
                self.maps.view(probe, "float32", [1])
                self.shm_peers.add(ident)
                body["shm"] = True
            except ValueError as e:  # another machine or container: frames it is
                log.info("bridge %r cannot share memory: %s", ident, e)
        self.send(ident, P.reply(msg, "hello_reply", body))

    def device(self) -> str:
        dev = getattr(self.worker.pipeline, "device", None)
        return str(dev) if dev else "cpu"

    def on_status(self, ident: bytes, msg: P.Message) -> None:
        from host_bridge.core.connection import rss_bytes  # resident memory, for the bridge's ceiling

        lent = len(self.arena.lent()) if self.arena is not None else 0
        self.send(ident, P.reply(msg, "status_reply", {"state": self.state(), "shm_lent": lent,
                                                       "rss_bytes": rss_bytes(), **self.queue.snapshot(ident)}))

    def on_artists(self, ident: bytes, msg: P.Message) -> None:
        from host_bridge.core.artists import load_artists

        self.send(ident, P.reply(msg, "artists_reply", {"artists": [a.to_dict() for a in load_artists().values()]}))

    def on_job(self, ident: bytes, msg: P.Message) -> None:
        spec: P.JobSpec | P.TaskSpec = P.task_spec(msg) if msg.type in P.TASK_REQUESTS else P.job_spec(msg)
        default = PRIORITY_AUDITION if msg.type == "audition" else PRIORITY_GENERATE
        prio = msg.body.get("priority", default)
        if not isinstance(prio, int) or isinstance(prio, bool) or not 0 <= prio <= 9:
            raise P.ProtocolError(f"priority {prio!r} is not 0-9", "leave priority out, or send 0 (first) to 9")
        key = msg.body.get("key")
        try:
            job, new = self.queue.submit(msg.id, msg.type, spec, ident, prio, key if isinstance(key, str) else None)
        except QueueFull as e:
            raise P.RemoteError("busy", f"the sidecar is busy: {e.reason}",
                                "wait for a take to finish, then send the job again") from None
        except JobTaken:
            raise P.ProtocolError(f"job id {msg.id} is taken by another bridge",
                                  "give every job a new random id (a resubmission must carry the job's key)",
                                  code="job_id_taken") from None
        pos = self.queue.position(job)
        self.send(ident, P.reply(msg, "accepted", {"state": job.state, "duplicate": not new, "position": pos,
                                                   "seq": job.seq}))
        final = self.worker.final(job.id) if not new and job.finished else None
        if final is not None:
            self.send(ident, final)

    def on_cancel(self, ident: bytes, msg: P.Message) -> None:
        jid, key = msg.body.get("job"), msg.body.get("key")
        if not isinstance(jid, str) or len(jid) > 128:
            raise P.ProtocolError("cancel needs the job id", 'send {"job": "<id of the generate request>"}')
        job = self.queue.cancel(jid, ident, key if isinstance(key, str) else None)
        state = job.state if job is not None else "unknown"  # another bridge's job is unknown here
        self.send(ident, P.reply(msg, "cancel_reply", {"job": jid, "state": state}))
        if job is not None and state == "cancelled" and self.worker.final(jid) is None:
            final = P.error_reply(jid, CancelledError("the job was cancelled", "start it again when ready"))
            self.worker.keep_final(jid, final)
            self.send(job.owner, final)

    def on_release(self, ident: bytes, msg: P.Message) -> None:
        slots = msg.body.get("slots")
        if self.arena is not None and isinstance(slots, list):  # only slots lent to this bridge come back
            mine = [s for s in slots[:1024] if isinstance(s, str) and self.lent_to.get(s) == ident]
            for s in mine:
                self.lent_to.pop(s, None)
            self.arena.release(mine)

    def on_shutdown(self, ident: bytes, msg: P.Message) -> None:
        self.send(ident, P.reply(msg, "shutdown_reply", {"pid": os.getpid()}))
        self._stop = True

    # ------------------------------------------------------------------ exit
    def close(self) -> None:
        self.queue.close()
        if hasattr(self, "worker"):
            self.worker.stopping.set()
            self.worker.join(timeout=2.0)
            self.worker.finals.close()
        try:
            if self.info is not None and ConnectionInfo.read(self.connection_file).pid == os.getpid():
                self.connection_file.unlink()
        except (OSError, ToplineError) as e:
            log.debug("connection file not removed (gone, or another sidecar's): %s", e)
        if self._auth is not None:
            self._auth.stop()
        self.router.close(linger=1000)
        self.events.close(linger=0)
        if self.arena is not None:
            self.arena.close()
        if not (hasattr(self, "worker") and self.worker.is_alive()):
            self.ctx.term()  # a worker stuck in a render keeps its socket; the process exit ends it


class _PeerSlots:
    """The server's arena as one bridge's ShmWriter: records which bridge each slot went to."""

    def __init__(self, arena: ShmArena, lent_to: dict[str, bytes], ident: bytes) -> None:
        self.arena, self.lent_to, self.ident = arena, lent_to, ident

    def put(self, array: Any) -> str | None:
        name = self.arena.put(array)
        if name is not None:
            self.lent_to[name] = self.ident  # (a dict item set is atomic; the worker thread calls this too)
            if len(self.lent_to) > 1024:  # slots taken back after their lease, or dropped, are forgotten
                lent = set(self.arena.lent())
                for k in [k for k in list(self.lent_to) if k not in lent]:
                    self.lent_to.pop(k, None)
        return name
