"""The OSC surface: a DAW script or a control surface drives Topline with OSC over UDP.

Requests (arguments in order; optional ones may be left off from the right)::

    /topline/generate  instrumental_path lyrics_path melody_path [artist seed start_sample tempo_bpm channels]
    /topline/audition  (same arguments; served before full takes, delivered as audition-NNNN files)
    /topline/cancel    job_id
    /topline/status

Replies go back to the address the request came from::

    /topline/accepted  job_id
    /topline/progress  job_id stage fraction
    /topline/done      job_id wav_path midi_path json_path start_sample
    /topline/error     job_id code message hint        (job_id "" when the request itself was bad)
    /topline/status    state running_job queued_jobs bridge_jobs

Malformed OSC (not an OSC packet, unknown /topline address, wrong argument types or count) is
answered with /topline/error, never dropped. Python-osc's layers are kept: the dispatcher maps
addresses to handlers (in the UDP thread); jobs run on the bridge thread, which alone touches
the sidecar connection.
"""
from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any, Callable

from pythonosc import osc_packet
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_message_builder import build_msg
from pythonosc.osc_server import BlockingOSCUDPServer

from host_bridge.bridge import Bridge, JobHandle
from host_bridge.errors import ToplineError
from host_bridge.jobfiles import spec_from_files
from host_bridge.takes import TakeFolder

log = logging.getLogger(__name__)

Address = tuple[str, int]
OPTIONAL = (("artist", str), ("seed", int), ("start_sample", int), ("tempo", float), ("channels", int))


class OscRequestError(ToplineError):
    code = "bad_osc"


@dataclass
class _Pending:
    job: JobHandle
    reply_to: Address
    lyrics_text: str


class _Dispatcher(Dispatcher):
    """Answers what python-osc would drop: unparsable packets and unknown /topline addresses."""

    def __init__(self, on_bad: Callable[[Address, str, str], None]) -> None:
        super().__init__()
        self.on_bad = on_bad

    def call_handlers_for_packet(self, data: bytes, client_address: Address) -> list[Any]:
        try:
            packet = osc_packet.OscPacket(data)
        except osc_packet.ParseError as e:
            self.on_bad(client_address, f"not an OSC message: {e}", "send an OSC 1.0 message like /topline/status")
            return []
        for timed in packet.messages:
            if not list(self.handlers_for_address(timed.message.address)):
                self.on_bad(client_address, f"unknown address {timed.message.address}",
                            "use /topline/generate, /topline/audition, /topline/cancel or /topline/status")
        return super().call_handlers_for_packet(data, client_address)


class _Server(BlockingOSCUDPServer):
    def verify_request(self, request: Any, client_address: Any) -> bool:
        return True  # let every datagram reach the dispatcher, which answers the bad ones


class OscSurface:
    """Serve OSC on ``host:port`` for a bridge; ``run`` drives the bridge until ``stop``."""

    def __init__(self, bridge: Bridge, takes: TakeFolder, host: str = "127.0.0.1", port: int = 9050,
                 auditions: TakeFolder | None = None) -> None:
        self.bridge = bridge
        self.takes = takes
        self.auditions = auditions or TakeFolder(takes.folder / "auditions", prefix="audition",
                                                 subtype=takes.subtype)
        self.commands: queue.Queue[tuple[str, Address, Any]] = queue.Queue()
        self.pending: dict[str, _Pending] = {}
        disp = _Dispatcher(self._bad)
        disp.map("/topline/generate", self._on_job, "generate", needs_reply_address=True)
        disp.map("/topline/audition", self._on_job, "audition", needs_reply_address=True)
        disp.map("/topline/cancel", self._on_cancel, needs_reply_address=True)
        disp.map("/topline/status", self._on_status, needs_reply_address=True)
        self.server = _Server((host, port), disp)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> Address:
        host, port = self.server.server_address[:2]
        return str(host), int(port)

    # ------------------------------------------------------------------ UDP thread
    def send(self, to: Address, address: str, *args: Any) -> None:
        try:
            self.server.socket.sendto(build_msg(address, list(args)).dgram, to)
        except OSError as e:
            log.info("cannot reply to %s: %s", to, e)

    def _bad(self, to: Address, message: str, hint: str) -> None:
        self.send(to, "/topline/error", "", OscRequestError.code, message, hint)

    def _on_job(self, to: Address, address: str, fixed: list[Any], *args: Any) -> None:
        kind = fixed[0]
        usage = f"{address} instrumental lyrics melody [artist seed start_sample tempo_bpm channels]"
        if not 3 <= len(args) <= 3 + len(OPTIONAL) or not all(isinstance(a, str) for a in args[:3]):
            return self._bad(to, f"{address} got {len(args)} arguments {list(args)!r}", f"send {usage}")
        kw: dict[str, Any] = {}
        for (name, typ), value in zip(OPTIONAL, args[3:]):
            ok = isinstance(value, typ) or (typ is float and isinstance(value, int))
            if not ok or isinstance(value, bool):
                return self._bad(to, f"{address}: {name} is {value!r}", f"send {name} as {typ.__name__} ({usage})")
            kw[name] = typ(value)
        self.commands.put((kind, to, (args[0], args[1], args[2], kw)))

    def _on_cancel(self, to: Address, address: str, *args: Any) -> None:
        if len(args) != 1 or not isinstance(args[0], str):
            return self._bad(to, f"{address} got {list(args)!r}", "send /topline/cancel <job_id>")
        self.commands.put(("cancel", to, args[0]))

    def _on_status(self, to: Address, address: str, *args: Any) -> None:
        self.commands.put(("status", to, None))

    # ------------------------------------------------------------------ bridge thread
    def start(self) -> None:
        """Serve OSC in a background thread (the caller then runs ``run``)."""
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="osc", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        """Drive the bridge: take OSC commands, stream progress, deliver takes; until ``stop``."""
        try:
            while not self._stop.is_set():
                self._commands()
                if self.pending:
                    self.bridge.poll(0.05)
                    self._report()
                else:
                    self._stop.wait(0.05)
        finally:
            self.server.shutdown()
            self.server.server_close()

    def _commands(self) -> None:
        while True:
            try:
                kind, to, arg = self.commands.get_nowait()
            except queue.Empty:
                return
            try:
                if kind == "status":
                    self._status(to)
                elif kind == "cancel":
                    self.bridge.cancel(arg)
                else:
                    instrumental, lyrics, melody, kw = arg
                    spec = spec_from_files(instrumental, lyrics, melody, **kw)
                    job = self.bridge.submit(spec, kind)
                    job.on_progress = self._progress_sender(job.id, to)
                    self.pending[job.id] = _Pending(job, to, spec.lyrics_text)
                    self.send(to, "/topline/accepted", job.id)
            except ToplineError as e:
                self.send(to, "/topline/error", arg if kind == "cancel" else "", e.code, e.message, e.hint)

    def _status(self, to: Address) -> None:
        self.bridge.connect()
        assert self.bridge.client is not None
        st = self.bridge.client.status()
        self.send(to, "/topline/status", st["state"], st["running"] or "", len(st["queued"]), len(self.pending))

    def _report(self) -> None:
        for jid, p in list(self.pending.items()):
            job = p.job
            if not job.finished:
                continue
            del self.pending[jid]
            if job.take is not None:
                try:
                    folder = self.auditions if job.kind == "audition" else self.takes
                    d = folder.deliver(job.take, p.lyrics_text, job.id)
                except ToplineError as e:
                    self.send(p.reply_to, "/topline/error", jid, e.code, e.message, e.hint)
                    continue
                self.send(p.reply_to, "/topline/done", jid, str(d.wav), str(d.midi or ""), str(d.json),
                          job.take.start_sample)
            else:
                err = job.error or ToplineError("the job ended without a take", "see the sidecar log")
                self.send(p.reply_to, "/topline/error", jid, err.code, err.message, err.hint)

    def _progress_sender(self, job_id: str, to: Address) -> Callable[[str, float], None]:
        return lambda stage, frac: self.send(to, "/topline/progress", job_id, stage, float(frac))
