"""The final events of finished jobs, kept to answer a bridge that resubmits a job it never heard
finish (it reconnected after the ``done`` went out), spooled to disk.

A final carries the whole take (dry and wet stems): kept in memory, a session's last few takes
stayed resident (a 3-minute 96 kHz take is ~130 MB mono, dry + wet), so a warm sidecar's memory
grew with the length of the takes it had sung. Spooled, they cost disk instead, are read back only
on a resubmission, and are removed with the process (a folder of a killed process is swept by the
next sidecar that starts).
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import struct
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

from host_bridge.core import protocol as P
from host_bridge.core.connection import pid_alive

log = logging.getLogger(__name__)

KEEP_FINAL = 4
"""Final events kept (the latest always)."""
KEEP_FINAL_BYTES = 512 << 20
"""...holding at most this many bytes on disk among them: four 3-minute stereo 96 kHz takes."""
PREFIX = "topline-finals-"
_NAME = re.compile(rf"^{PREFIX}(\d+)-")
_LEN = struct.Struct("<Q")


def sweep_dead(directory: Path | None = None) -> int:
    """Remove the spool folders of sidecars that are gone (killed before they could clean up)."""
    base = Path(directory or tempfile.gettempdir())
    n = 0
    for p in base.glob(f"{PREFIX}*"):
        m = _NAME.match(p.name)
        if m and p.is_dir() and not pid_alive(int(m[1])):
            shutil.rmtree(p, ignore_errors=True)
            n += 1
    return n


class FinalSpool:
    """Final events by job id, on disk in a private folder, the oldest dropped beyond
    ``keep`` finals or ``max_bytes`` (the latest is always kept)."""

    def __init__(self, keep: int = KEEP_FINAL, max_bytes: int = KEEP_FINAL_BYTES, directory: Path | None = None) -> None:
        self.keep, self.max_bytes = keep, max_bytes
        sweep_dead(directory)
        self.folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=directory))  # 0700
        self._files: OrderedDict[str, tuple[Path, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._n = 0

    def put(self, job_id: str, msg: P.Message) -> None:
        """Keep ``msg`` as ``job_id``'s final (replacing an earlier one). A disk that cannot take
        it costs only the answer to a resubmission (logged)."""
        with self._lock:
            self._n += 1
            path = self.folder / f"{self._n:08d}.frames"
            try:
                size = _write_frames(path, P.encode(msg))
            except OSError as e:
                log.warning("could not keep the final of job %s on disk (%s): a resubmission renders it again", job_id, e)
                path.unlink(missing_ok=True)
                return
            old = self._files.pop(job_id, None)
            if old is not None:
                old[0].unlink(missing_ok=True)
            self._files[job_id] = (path, size)
            while len(self._files) > self.keep or (
                    len(self._files) > 1 and sum(s for _, s in self._files.values()) > self.max_bytes):
                self._files.popitem(last=False)[1][0].unlink(missing_ok=True)

    def get(self, job_id: str) -> P.Message | None:
        """``job_id``'s final, read back; None when none is kept (or its file is unreadable)."""
        with self._lock:
            entry = self._files.get(job_id)
            if entry is None:
                return None
            try:
                return P.decode(_read_frames(entry[0]), max_bytes=max(entry[1], P.DEFAULT_MAX_MESSAGE_BYTES))
            except (OSError, ValueError, P.ProtocolError) as e:
                log.warning("the kept final of job %s is unreadable (%s); dropped", job_id, e)
                del self._files[job_id]
                entry[0].unlink(missing_ok=True)
                return None

    def __len__(self) -> int:
        return len(self._files)

    def close(self) -> None:
        with self._lock:
            self._files.clear()
            shutil.rmtree(self.folder, ignore_errors=True)


def _write_frames(path: Path, frames: list[P.Frame]) -> int:
    with open(path, "wb") as f:
        f.write(_LEN.pack(len(frames)))
        for fr in frames:
            data = memoryview(fr).cast("B")
            f.write(_LEN.pack(data.nbytes))
            f.write(data)
        return f.tell()


def _read_frames(path: Path) -> list[bytes]:
    data = path.read_bytes()
    (n,), at, frames = _LEN.unpack_from(data, 0), _LEN.size, []
    for _ in range(n):
        (size,) = _LEN.unpack_from(data, at)
        at += _LEN.size
        if at + size > len(data):
            raise ValueError("the file ends inside a frame")
        frames.append(data[at:at + size])
        at += size
    if at != len(data):
        raise ValueError("bytes after the last frame")
    return frames
