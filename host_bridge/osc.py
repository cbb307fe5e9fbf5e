"""The OSC surface: a DAW script or a control surface drives Topline with OSC over UDP.

Requests (arguments in order; optional ones may be left off from the right)::

    /topline/generate  instrumental_path lyrics_path melody_path [artist seed start_sample tempo_bpm channels language]
    /topline/audition  (same arguments; served before full takes, delivered as audition-NNNN files)
    /topline/cancel    job_id
    /topline/status

Replies go back to the address the request came from::

    /topline/accepted  job_id
    /topline/progress  job_id stage fraction
    /topline/done      job_id wav_path midi_path json_path start_sample
    /topline/error     job_id code message hint        (job_id "" when the request itself was bad)
    /topline/status    state running_job queued_jobs bridge_jobs

Malformed OSC (not an OSC packet, a malformed bundle, a non-UTF-8 address, unknown /topline
address, wrong argument types or count) is answered with /topline/error, never dropped.

Any local process can send UDP, so the surface trusts no sender: it reads files only inside the
session folder (paths resolved, symlinks followed, regular files only), never sends a file's
contents back (quoted text is cut from the error messages it returns; the full message goes to
the log), and binds loopback unless told ``allow_remote`` (which logs a warning). Python-osc's layers are kept: the dispatcher maps
addresses to handlers (in the UDP thread); jobs run on the bridge thread, which alone touches
the sidecar connection.
"""
from __future__ import annotations

import logging
import queue
import re
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from pythonosc import osc_packet
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_message_builder import build_msg
from pythonosc.osc_server import BlockingOSCUDPServer

from host_bridge.bridge import Bridge, JobHandle
from host_bridge.core.errors import AudioInputError, InputError, LyricsError, MidiError, ToplineError
from host_bridge.jobfiles import spec_from_files
from host_bridge.takes import TakeFolder

log = logging.getLogger(__name__)

Address = tuple[str, int]
OPTIONAL = (("artist", str), ("seed", int), ("start_sample", int), ("tempo", float), ("channels", int),
            ("language", str))


class OscRequestError(ToplineError):
    code = "bad_osc"


LOOPBACK = ("127.0.0.1", "localhost", "::1")
_FILE_ERRORS = {"instrumental": AudioInputError, "lyrics": LyricsError, "melody": MidiError}
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|‘[^’]*’|“[^”]*”")


def scrub(text: str) -> str:
    """``text`` with every quoted passage replaced by '…' (error messages quote lyric lines,
    MIDI track names and the like: an OSC sender never gets a file's contents back)."""
    return _QUOTED.sub("'…'", text)[:300]


def confined(root: Path, given: str, what: str) -> Path:
    """The regular file ``given`` names (relative to ``root``), resolved with symlinks followed,
    if it lies inside ``root``; else the input error of its kind."""
    err = _FILE_ERRORS[what]
    top = root.resolve()
    try:
        p = Path(given)
        p = (p if p.is_absolute() else top / p).resolve()
    except (OSError, RuntimeError, ValueError) as e:  # a symlink loop, a NUL in the name
        raise err(f"{what} path cannot be resolved: {type(e).__name__}", "give a file inside the session folder")
    if not p.is_relative_to(top):
        raise err(f"{what} {given[:200]} is outside the session folder {top}",
                  "put the file in the session folder (the OSC surface reads nothing else)")
    try:
        st = p.stat()
    except OSError as e:
        raise err(f"{what} {given[:200]} does not exist ({e.strerror})", f"check the path to the {what} file")
    if stat.S_ISDIR(st.st_mode):
        raise err(f"{what} {given[:200]} is a folder", f"give the {what} file, not its folder")
    if not stat.S_ISREG(st.st_mode):
        raise err(f"{what} {given[:200]} is not a regular file", f"give the {what} as an ordinary file")
    return p


@dataclass
class _Pending:
    job: JobHandle
    reply_to: Address
    lyrics_text: str


class _Dispatcher(Dispatcher):
    """Answers what python-osc would drop: unparsable packets (a malformed bundle, a non-UTF-8
    address) and unknown /topline addresses; a handler's failure is answered too."""

    def __init__(self, on_bad: Callable[[Address, str, str], None]) -> None:
        super().__init__(strict_timing=False)  # a bundle timed years ahead must not put the UDP thread to sleep
        self.on_bad = on_bad

    def call_handlers_for_packet(self, data: bytes, client_address: Address) -> list[Any]:
        try:
            packet = osc_packet.OscPacket(data)
        except Exception as e:  # noqa: BLE001 - python-osc raises ParseError, UnicodeDecodeError, struct.error...
            self.on_bad(client_address, f"not an OSC message: {type(e).__name__}: {scrub(str(e))[:120]}",
                        "send an OSC 1.0 message like /topline/status (UTF-8 address)")
            return []
        if not packet.messages:
            self.on_bad(client_address, "no OSC message in the packet (an empty or malformed bundle)",
                        "send an OSC 1.0 message like /topline/status, or a bundle holding one")
            return []
        for timed in packet.messages:
            if not list(self.handlers_for_address(timed.message.address)):
                self.on_bad(client_address, f"unknown address {timed.message.address[:100]}",
                            "use /topline/generate, /topline/audition, /topline/cancel or /topline/status")
        try:
            return super().call_handlers_for_packet(data, client_address)
        except Exception as e:  # noqa: BLE001 - answered: a DAW script waits for a reply
            log.exception("OSC handler failed")
            self.on_bad(client_address, f"the request failed: {type(e).__name__}", "see the bridge's log")
            return []


class _Server(BlockingOSCUDPServer):
    def verify_request(self, request: Any, client_address: Any) -> bool:
        return True  # let every datagram reach the dispatcher, which answers the bad ones


class OscSurface:
    """Serve OSC on ``host:port`` for a bridge; ``run`` drives the bridge until ``stop``."""

    def __init__(self, bridge: Bridge, takes: TakeFolder, host: str = "127.0.0.1", port: int = 9050,
                 auditions: TakeFolder | None = None, root: Path | None = None, allow_remote: bool = False) -> None:
        if host not in LOOPBACK and not allow_remote:
            raise InputError(f"OSC on {host} would let other machines start jobs and name files",
                             "bind 127.0.0.1, or pass --osc-allow-remote on a network you trust")
        if host not in LOOPBACK:
            log.warning("OSC listens on %s: any machine that reaches it can start jobs", host)
        self.bridge = bridge
        self.takes = takes
        self.root = Path(root) if root is not None else takes.folder.parent
        """The session folder: the only place requests may read files from."""
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

    def _error(self, to: Address, job_id: str, e: ToplineError) -> None:
        """Answer an error; quoted text (file contents) stays in the log, not in the reply."""
        log.warning("OSC request %s failed: %s", job_id or "-", e)
        self.send(to, "/topline/error", job_id, e.code, scrub(e.message), scrub(e.hint))

    def _on_job(self, to: Address, address: str, fixed: list[Any], *args: Any) -> None:
        kind = fixed[0]
        usage = f"{address} instrumental lyrics melody [artist seed start_sample tempo_bpm channels language]"
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
                    spec = spec_from_files(confined(self.root, instrumental, "instrumental"),
                                           confined(self.root, lyrics, "lyrics"),
                                           confined(self.root, melody, "melody"), **kw)
                    job = self.bridge.submit(spec, kind)
                    job.on_progress = self._progress_sender(job.id, to)
                    self.pending[job.id] = _Pending(job, to, spec.lyrics_text)
                    self.send(to, "/topline/accepted", job.id)
            except ToplineError as e:
                self._error(to, arg if kind == "cancel" else "", e)

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
                    self._error(p.reply_to, jid, e)
                    continue
                self.send(p.reply_to, "/topline/done", jid, str(d.wav), str(d.midi or ""), str(d.json),
                          job.take.start_sample)
            else:
                err = job.error or ToplineError("the job ended without a take", "see the sidecar log")
                self._error(p.reply_to, jid, err)

    def _progress_sender(self, job_id: str, to: Address) -> Callable[[str, float], None]:
        return lambda stage, frac: self.send(to, "/topline/progress", job_id, stage, float(frac))
