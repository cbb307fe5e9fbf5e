"""The connection file: how a bridge finds a running sidecar (like a Jupyter kernel's JSON file).

The sidecar writes it once it is listening; it is readable by the user only (0600), written
atomically, and removed on clean exit. It names the address, the port, the sidecar's pid and,
when the socket is bound beyond loopback, the server's CURVE public key.
"""
from __future__ import annotations

import json
import os
import sys
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from host_bridge.core.errors import InputError
from host_bridge.core.fileio import atomic_write_bytes

ENV_CONNECTION_FILE = "TOPLINE_CONNECTION_FILE"


def default_connection_file() -> Path:
    """``$TOPLINE_CONNECTION_FILE``, else ``<user runtime dir>/topline/sidecar.json``."""
    env = os.environ.get(ENV_CONNECTION_FILE)
    if env:
        return Path(env)
    import platformdirs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no XDG_RUNTIME_DIR: platformdirs falls back to /tmp and says so
        return Path(platformdirs.user_runtime_dir("topline")) / "sidecar.json"


@dataclass(frozen=True)
class ConnectionInfo:
    ip: str
    port: int
    pid: int
    protocol: int
    transport: str = "tcp"
    server_public_key: str | None = None
    """Z85 CURVE public key of the sidecar; set when it is bound beyond loopback."""

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.ip in ("0.0.0.0", "*") else self.ip
        return f"{self.transport}://{host}:{self.port}"

    def write(self, path: str | Path) -> Path:
        """Atomically write the file, readable and writable by the user only."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        return atomic_write_bytes(p, json.dumps(asdict(self), indent=1).encode("utf-8"), mode=0o600)

    @classmethod
    def read(cls, path: str | Path) -> "ConnectionInfo":
        p = Path(path)
        try:
            d: dict[str, Any] = json.loads(p.read_text(encoding="utf-8"))
            return cls(str(d["ip"]), int(d["port"]), int(d["pid"]), int(d["protocol"]), str(d.get("transport", "tcp")),
                       d.get("server_public_key"))
        except FileNotFoundError:
            raise
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise InputError(f"connection file {p} is unreadable: {e}",
                             "delete it and start the sidecar again (`topline sidecar`)") from e


def pid_alive(pid: int) -> bool:
    """True while process ``pid`` runs (a zombie waiting to be reaped counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs (macOS): the signal test is all we have
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def rss_bytes(pid: int | None = None) -> int | None:
    """Resident memory of process ``pid`` (default: this one) in bytes, from /proc (Linux); for
    this process elsewhere, its peak (``getrusage``); None where it cannot be read."""
    try:
        with open(f"/proc/{pid or 'self'}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    if pid is not None and pid != os.getpid():
        return None
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak) if sys.platform == "darwin" else int(peak) * 1024
    except (ImportError, OSError):
        return None
