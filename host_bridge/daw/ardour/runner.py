"""Running Ardour 7 headless (``ardour7-lua``) on Topline's Lua scripts, and knowing when not to.

Each run is one ``ardour7-lua`` process on the hidden "None (Dummy)" backend, niced, bounded in
time, in its own process group (killed with everything it started if it overruns), driven by
environment variables, and answering with ``TOPLINE<TAB>...`` lines on stdout (see
``host_bridge/daw/ardour/data/headless/topline_lib.lua``).

A session must not be edited while an Ardour has it open: that Ardour would overwrite the edit on
its next save. Ardour 7 keeps no lock file, so :func:`session_users` looks for Ardour processes
that hold the session's files open, run inside its folder or name it on their command line, and
for Topline's own lock file (``.topline.lock``, written around every headless run).
"""
from __future__ import annotations

import importlib.resources
import logging
import os
import shutil
import signal
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from host_bridge.core.connection import pid_alive
from host_bridge.daw.ardour.errors import ArdourCrashError, ArdourMissingError, ArdourRunError, SessionBusyError

log = logging.getLogger(__name__)

LUA_BINARIES = ("ardour7-lua",)
ARDOUR_PROCESS_NAMES = ("ardour", "luasession", "hardour", "headless-ardour")
EXPORT_PRESET_ID = "5a0b6c1e-7f3d-4c1b-9e55-70711e000001"
"""Topline's export preset (32-bit float WAV at the session rate, no normalising, no dither)."""
STOCK_WAV_PRESET_ID = "75969a1c-3133-4694-864b-a1fa50e43348"
"""Ardour's stock "WAV @ session-rate" (16 bit), used when Topline's preset cannot be installed."""
LOCK_NAME = ".topline.lock"
DEFAULT_TIMEOUT_S = 300.0


def plugin_dir() -> Path:
    """The Lua scripts and export preset, package data of this package (``data/``: the editor
    action ``topline_sing.lua``, ``headless/``, ``export/``); TOPLINE_ARDOUR_DIR overrides.
    Ardour reads them by path, so they must be files on disk."""
    env = os.environ.get("TOPLINE_ARDOUR_DIR")
    if env:
        return Path(env)
    data = importlib.resources.files("host_bridge.daw.ardour") / "data"
    if not isinstance(data, Path):
        raise ArdourRunError(f"Topline's Ardour scripts are inside an archive ({data}), where Ardour cannot read them",
                             "install Topline unpacked (pip install), or set TOPLINE_ARDOUR_DIR to a copy of them")
    return data


def find_ardour_lua() -> str:
    """Path of the headless Ardour interpreter, or ArdourMissingError saying how to install it."""
    env = os.environ.get("TOPLINE_ARDOUR_LUA")
    if env:
        if shutil.which(env):
            return str(shutil.which(env))
        raise ArdourMissingError(f"TOPLINE_ARDOUR_LUA={env} is not an executable",
                                 "point TOPLINE_ARDOUR_LUA at ardour7-lua, or unset it")
    for name in LUA_BINARIES:
        found = shutil.which(name)
        if found:
            return found
    raise ArdourMissingError("Ardour 7's headless tool ardour7-lua is not installed",
                             "install Ardour 7 (Debian/Ubuntu: apt-get install ardour), or set TOPLINE_ARDOUR_LUA")


def ardour_config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "ardour7"


def ensure_export_preset() -> str:
    """Install Topline's float WAV export preset into Ardour's user config (once); returns the
    preset id to use (the stock 16-bit WAV preset when the user config is not writable)."""
    src = plugin_dir() / "export"
    dst = ardour_config_dir() / "export"
    try:
        dst.mkdir(parents=True, exist_ok=True)
        for name in ("topline-float.preset", "topline-float.format"):
            s, d = src / name, dst / name
            if not d.is_file() or d.read_bytes() != s.read_bytes():
                shutil.copyfile(s, d)
        return EXPORT_PRESET_ID
    except OSError as e:
        log.warning("cannot install Topline's export preset into %s (%s); exporting 16-bit WAV", dst, e)
        return STOCK_WAV_PRESET_ID


# ---------------------------------------------------------------------- who has the session open
def _is_ardour(pid: int) -> bool:
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip().lower()
        exe = os.path.basename(os.readlink(f"/proc/{pid}/exe")).lower()
    except OSError:
        return False
    return any(n in comm or n in exe for n in ARDOUR_PROCESS_NAMES)


def _references(pid: int, session_dir: Path) -> bool:
    root = str(session_dir)
    try:
        if os.readlink(f"/proc/{pid}/cwd") == root:
            return True
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        if root in cmd:
            return True
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(root + os.sep):
                    return True
            except OSError:
                continue
    except OSError:
        return False
    return False



def session_users(session_dir: Path) -> list[str]:
    """Descriptions of the processes that have this session open (empty when none is seen)."""
    session_dir = session_dir.resolve()
    users = []
    lock = session_dir / LOCK_NAME
    if lock.is_file():
        try:
            pid = int(lock.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pid = -1
        if pid > 0 and pid != os.getpid() and pid_alive(pid):
            users.append(f"a Topline run (process {pid})")
    if Path("/proc").is_dir():
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            pid = int(entry)
            if _is_ardour(pid) and _references(pid, session_dir):
                users.append(f"Ardour (process {pid})")
    return users


def check_not_open(session_dir: Path) -> None:
    users = session_users(session_dir)
    if users:
        raise SessionBusyError(f"session {session_dir} is open in {', '.join(users)}",
                               "save and close the session in Ardour (or wait for the other run), then try again")


@contextmanager
def session_lock(session_dir: Path) -> Iterator[None]:
    """Topline's lock around a step that loads or writes the session (refuses a busy session)."""
    check_not_open(session_dir)
    lock = session_dir / LOCK_NAME
    try:
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        lock.unlink(missing_ok=True)  # stale: check_not_open found its owner dead
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, f"{os.getpid()} topline\n".encode())
        os.close(fd)
        yield
    finally:
        lock.unlink(missing_ok=True)


# ---------------------------------------------------------------------- running a script
@dataclass
class RunResult:
    records: list[list[str]] = field(default_factory=list)
    """The TOPLINE lines, split on tabs, without the leading 'TOPLINE'."""
    output: str = ""
    seconds: float = 0.0

    def values(self, key: str) -> list[list[str]]:
        return [r[1:] for r in self.records if r and r[0] == key]


class ArdourRunner:
    """Runs Topline's headless Lua scripts with ``ardour7-lua``."""

    def __init__(self, binary: str | None = None, nice: int = 10, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.binary = binary or find_ardour_lua()
        self.nice = nice
        self.timeout_s = timeout_s
        self.headless = plugin_dir() / "headless"

    def run(self, script: str, session_dir: Path, session_name: str, env: dict[str, str] | None = None,
            timeout_s: float | None = None, retries: int = 1,
            before_attempt: Callable[[], None] | None = None) -> RunResult:
        """Run ``script``. Ardour 7.3 sometimes crashes (heap corruption at export or teardown): a
        run that crashed before saving anything is run again, up to ``retries`` times.
        ``before_attempt`` runs before each attempt (clear what a crashed attempt left half-written)."""
        for attempt in range(retries + 1):
            if before_attempt is not None:
                before_attempt()
            try:
                return self._run_once(script, session_dir, session_name, env, timeout_s)
            except ArdourCrashError as e:
                if attempt == retries:
                    raise
                log.warning("%s; running it again", e.message)
        raise AssertionError("unreachable")

    def _run_once(self, script: str, session_dir: Path, session_name: str, env: dict[str, str] | None,
                  timeout_s: float | None) -> RunResult:
        path = self.headless / script
        if not path.is_file():
            raise ArdourRunError(f"Topline's Ardour script {path} is missing", "reinstall Topline (its package data host_bridge/daw/ardour/data)")
        full_env = dict(os.environ)
        full_env.update({"TOPLINE_LUA_LIB": str(self.headless / "topline_lib.lua"),
                         "TOPLINE_SESSION_DIR": str(session_dir), "TOPLINE_SESSION_NAME": session_name})
        full_env.update(env or {})
        cmd = [self.binary, str(path)]
        if self.nice and shutil.which("nice"):
            cmd = ["nice", "-n", str(self.nice)] + cmd
        limit = timeout_s or self.timeout_s
        t0 = time.monotonic()
        log.info("ardour7-lua %s (%s)", script, session_dir)
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=full_env, cwd=str(session_dir.parent), start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise ArdourRunError(f"Ardour did not finish {script} within {limit:.0f} s",
                                 "check the session opens in Ardour; raise the timeout for long exports") from None
        except BaseException:
            _kill_group(proc)
            raise
        finally:
            _kill_group(proc)  # nothing it started may outlive it (the engine threads, a stray jackd)
        text = out.decode("utf-8", "replace")
        res = RunResult(output=text, seconds=time.monotonic() - t0)
        for line in text.splitlines():
            if line.startswith("TOPLINE\t"):
                res.records.append(line.split("\t")[1:])
        errors = res.values("error")
        if errors:
            raise ArdourRunError(f"Ardour ({script}): {errors[0][0] if errors[0] else 'failed'}",
                                 "see the message; the session file was not changed by this step")
        if proc.returncode != 0 and res.values("done"):
            log.warning("ardour7-lua exited with status %d after finishing %s (a known crash in Ardour 7.3's "
                        "teardown); its work is complete", proc.returncode, script)
        elif proc.returncode != 0:
            tail = "\n".join(text.splitlines()[-8:])
            if proc.returncode < 0 and not res.values("saved"):
                raise ArdourCrashError(f"Ardour crashed (signal {-proc.returncode}) running {script}, before saving:\n{tail}",
                                       "run it again; if it keeps crashing, open the session in Ardour to check it")
            raise ArdourRunError(f"Ardour exited with status {proc.returncode} running {script}:\n{tail}",
                                 "open the session in Ardour to check it loads; run with -v for the whole log")
        log.info("ardour7-lua %s done in %.1f s", script, res.seconds)
        return res


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        log.warning("ardour7-lua process %d did not exit after SIGKILL", proc.pid)
