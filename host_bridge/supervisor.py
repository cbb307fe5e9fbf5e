"""The sidecar's lifecycle, as the bridge sees it (jupyter_client's manager + restarter + heartbeat).

- :class:`SidecarManager` starts a sidecar process (or attaches to one through its connection
  file), tells whether it lives, and stops it: polite shutdown request -> SIGTERM -> SIGKILL.
- :class:`Restarter` counts restarts against a limit.
- :class:`Heartbeat` pings on the open connection and calls a sidecar dead when nothing readable
  came back for ``time_to_dead`` seconds (a hung sidecar answers nothing: the loop that answers
  pings is the one that serves requests).
- :class:`MemoryCeiling`: the resident memory above which the bridge restarts the sidecar
  between jobs (a last resort: the engines bound their memory themselves).
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from host_bridge.core import protocol as P
from host_bridge.client import ProtocolMismatch, SidecarClient, SidecarError, protocol_mismatch
from host_bridge.core.connection import ConnectionInfo, default_connection_file, pid_alive, rss_bytes
from host_bridge.core.frozen import is_frozen, sidecar_program
from host_bridge.core.programs import SOURCE_ROOT as ROOT
from host_bridge.core.shm import sweep

log = logging.getLogger(__name__)


ENV_MAX_RSS_MB = "TOPLINE_SIDECAR_MAX_RSS_MB"
DEFAULT_MAX_RSS_MB = 4096.0
"""The sidecar's resident memory (MB) above which it is restarted between jobs: well above what
a warm Kokoro sidecar holds after many takes (benchmarks/soak.py), below what would push an
8 GB laptop into swap."""


@dataclass(frozen=True)
class MemoryCeiling:
    """The sidecar's resident memory above which the bridge restarts it once its jobs are done
    (never mid-job). ``limit_bytes`` None: never."""

    limit_bytes: int | None = int(DEFAULT_MAX_RSS_MB * (1 << 20))

    @classmethod
    def from_env(cls) -> "MemoryCeiling":
        """``TOPLINE_SIDECAR_MAX_RSS_MB`` (default ``DEFAULT_MAX_RSS_MB``; 0 or "off": never)."""
        raw = os.environ.get(ENV_MAX_RSS_MB, "").strip().lower()
        if raw in ("0", "off", "none", "no"):
            return cls(None)
        try:
            mb = float(raw) if raw else DEFAULT_MAX_RSS_MB
        except ValueError:
            log.warning("%s=%r is not a number of megabytes: using %.0f", ENV_MAX_RSS_MB, raw, DEFAULT_MAX_RSS_MB)
            mb = DEFAULT_MAX_RSS_MB
        return cls(int(mb * (1 << 20)) if mb > 0 else None)

    def exceeded(self, status: dict[str, object]) -> int | None:
        """The RSS a ``status`` reply reports when it is above the ceiling, else None."""
        rss = status.get("rss_bytes")
        if self.limit_bytes is None or not isinstance(rss, int) or isinstance(rss, bool):
            return None
        return rss if rss > self.limit_bytes else None


def sidecar_command(extra: Sequence[str] = ()) -> list[str]:
    """The command that runs a sidecar with this Python (in a standalone build: the bundled
    ``topline-sidecar`` beside this program)."""
    if is_frozen():
        return [str(sidecar_program()), *extra]
    return [sys.executable, "-m", "inference.server", *extra]


class SidecarManager:
    """Owns (or attaches to) one sidecar process at a time."""

    def __init__(self, command: Sequence[str] | None = None, connection_file: Path | None = None,
                 start_timeout: float = 60.0, detach: bool = False, curve_keys: Path | None = None) -> None:
        self.command = list(command) if command is not None else sidecar_command()
        self.connection_file = Path(connection_file or default_connection_file())
        self.start_timeout = start_timeout
        self.detach = detach
        """Start the sidecar in its own session so it outlives this bridge (the CLI's warm sidecar)."""
        self.curve_keys = curve_keys
        self.proc: subprocess.Popen[bytes] | None = None
        self.info: ConnectionInfo | None = None

    @property
    def owned(self) -> bool:
        return self.proc is not None

    @property
    def log_file(self) -> Path:
        return self.connection_file.with_suffix(".log")

    # ------------------------------------------------------------------ start / attach
    def attach(self, timeout: float = 3.0) -> SidecarClient | None:
        """A client to the sidecar named by the connection file, when one answers hello; else None."""
        try:
            info = ConnectionInfo.read(self.connection_file)
        except FileNotFoundError:
            return None
        if not pid_alive(info.pid):
            log.info("stale connection file %s (pid %d is gone)", self.connection_file, info.pid)
            return None
        if info.protocol not in P.SUPPORTED_VERSIONS:
            raise protocol_mismatch(info.protocol, f"named by {self.connection_file} (pid {info.pid})")
        client = self.client(info)
        try:
            client.hello(timeout)
        except ProtocolMismatch:
            client.close()
            raise
        except SidecarError:
            client.close()
            return None
        self.info = info
        return client

    def start(self) -> SidecarClient:
        """Start a new sidecar and return a client once it answered hello."""
        if self.proc is not None and self.proc.poll() is None:
            raise SidecarError("this manager's sidecar is still running", "stop it before starting another")
        self.connection_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.connection_file.unlink(missing_ok=True)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        cmd = [*self.command, "--connection-file", str(self.connection_file)]
        log.info("starting sidecar: %s", " ".join(cmd))
        with open(self.log_file, "ab") as logf:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, env=env,
                                         start_new_session=self.detach)
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.proc.poll() is not None:
                raise SidecarError(f"the sidecar exited with status {self.proc.returncode} while starting",
                                   f"see its log: {self.log_file}")
            try:
                info = ConnectionInfo.read(self.connection_file)
                if info.pid == self.proc.pid:
                    break
            except FileNotFoundError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise SidecarError(f"the sidecar did not start within {self.start_timeout:.0f} s",
                                   f"see its log: {self.log_file}")
            time.sleep(0.02)
        self.info = info
        client = self.client(info)
        client.hello(max(1.0, deadline - time.monotonic()))
        return client

    def ensure(self) -> SidecarClient:
        """Attach to a running sidecar, else start one."""
        return self.attach() or self.start()

    def client(self, info: ConnectionInfo) -> SidecarClient:
        return SidecarClient(info, curve_keys=self.curve_keys)

    # ------------------------------------------------------------------ life and death
    def exited(self) -> bool:
        """True when the sidecar process is known to be gone (owned: exit status; attached: pid)."""
        if self.proc is not None:
            return self.proc.poll() is not None
        return self.info is not None and not pid_alive(self.info.pid)

    def shutdown(self, client: SidecarClient | None = None, timeout: float = 3.0) -> None:
        """Stop the sidecar: a shutdown request, then SIGTERM, then SIGKILL, each waited for."""
        if client is not None:
            try:
                client.shutdown(timeout=min(1.0, timeout))
            except (SidecarError, P.RemoteError) as e:
                log.info("polite shutdown failed: %s", e)
        if self._wait(timeout):
            return
        self.kill(term_timeout=timeout)

    def kill(self, term_timeout: float = 1.0) -> None:
        """SIGTERM, then SIGKILL if it is still there after ``term_timeout``."""
        pid = self.proc.pid if self.proc is not None else (self.info.pid if self.info else None)
        if pid is None or self.exited():
            self._reap()
            return
        for sig, wait in ((signal.SIGTERM, term_timeout), (signal.SIGKILL, 5.0)):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                break
            if self._wait(wait):
                break
        self._reap()
        if self.exited():
            sweep(pid)  # shared-memory slots a killed sidecar could not remove

    def _wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.exited():
                self._reap()
                return True
            time.sleep(0.02)
        return self.exited()

    def _reap(self) -> None:
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                log.error("sidecar %d did not die after SIGKILL", self.proc.pid)


@dataclass
class Restarter:
    """Restart policy: at most ``limit`` restarts; a finished job proves health and resets the count."""

    limit: int = 3
    count: int = 0
    history: list[float] = field(default_factory=list)

    def allow(self) -> bool:
        return self.count < self.limit

    def record(self) -> None:
        self.count += 1
        self.history.append(time.monotonic())

    def healthy(self) -> None:
        self.count = 0


class Heartbeat:
    """Pings every ``interval`` s when the sidecar has been quiet; dead after ``time_to_dead`` s of
    silence. Any readable message counts as a beat (a busy sidecar streaming chunks is alive)."""

    def __init__(self, interval: float = P.PING_INTERVAL_S, time_to_dead: float = P.DEAD_AFTER_S,
                 stall_timeout: float = P.STALL_AFTER_S) -> None:
        self.interval = interval
        self.time_to_dead = time_to_dead
        self.stall_timeout = stall_timeout
        """A running job that has reported nothing for this long means a hung render."""
        self._last_ping = 0.0
        self.stalled = False

    def beat(self, client: SidecarClient) -> None:
        now = time.monotonic()
        if now - self._last_ping >= self.interval and now - client.last_seen >= self.interval:
            self._last_ping = now
            client.send(P.Message("ping"))

    def on_pong(self, msg: P.Message) -> None:
        self.stalled = float(msg.body.get("stalled_s", 0.0)) > self.stall_timeout

    def dead(self, client: SidecarClient) -> bool:
        return time.monotonic() - client.last_seen > self.time_to_dead or self.stalled

    def reset(self) -> None:
        self._last_ping = 0.0
        self.stalled = False
