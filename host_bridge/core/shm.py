"""Shared-memory lanes for big audio buffers between a bridge and a sidecar on the same machine.

A socket moves a 3-minute stereo instrumental (69 MB) at kernel-copy speed (~115 ms each way
on a 2-core VM); a buffer written once into shared memory and mapped by the peer costs one
memory copy. So, when both ends share a machine, buffers above a threshold travel as a name in
the header (``"shm": "topline-<pid>-<n>"``) instead of a frame; everything else, and every
remote peer, keeps using frames.

- :class:`ShmArena` (sender) keeps reusable slots: files in ``/dev/shm``, 0600, each mapped
  once and filled by one copy. A slot is *lent* while the peer may read it and comes back with
  :meth:`ShmArena.release` (the peer's ``release`` message, or the end of the job that used it).
  Slots lent for longer than ``lease_s`` are taken back; when the arena is full, ``put``
  returns None and the buffer goes as a frame.
- :class:`ShmMaps` (receiver) maps a peer's slots read-only, cached by name, and hands out
  zero-copy views.

Names are never reused, so a cached mapping never shows another buffer's bytes.
"""
from __future__ import annotations

import atexit
import itertools
import logging
import math
import mmap
import os
import re
import stat
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SHM_DIR = Path("/dev/shm")
PREFIX = "topline-"
_NAME = re.compile(r"^topline-(\d+)-(\d+)$")
_IDS = itertools.count()
"""Slot numbers, unique in this process (several arenas may live in one bridge)."""
MAX_SLOT_BYTES = 4 << 30
"""Largest slot a peer may name (a 20-minute 96 kHz stereo float64 buffer is 1.8 GB)."""
_ARENAS: "weakref.WeakSet[ShmArena]" = weakref.WeakSet()
_swept = False


def shm_available(directory: Path = SHM_DIR) -> bool:
    return directory.is_dir() and os.access(directory, os.W_OK)


@dataclass
class _Slot:
    name: str
    size: int
    mm: mmap.mmap
    lent_at: float | None = None


class ShmArena:
    """Sender side: reusable shared-memory slots. Thread-safe."""

    def __init__(self, directory: Path = SHM_DIR, threshold: int = 64 << 10, max_bytes: int = 1 << 30,
                 lease_s: float = 300.0, keep_free_bytes: int = 64 << 20) -> None:
        self.directory = directory
        self.threshold = threshold
        self.max_bytes = max_bytes
        self.lease_s = lease_s
        self.keep_free_bytes = keep_free_bytes
        """Free slots kept mapped for reuse, at most this many bytes (the smallest kept): the
        slots of a long take's stems are unmapped when it is released, so a sender's resident
        memory does not keep the size of the longest take it ever sent (issue 19)."""
        self._slots: dict[str, _Slot] = {}
        self._lock = threading.Lock()
        self.total = 0
        global _swept
        if not _swept:
            _swept = True
            sweep_dead(directory)
        _ARENAS.add(self)

    def put(self, array: np.ndarray) -> str | None:
        """Copy ``array`` (C-contiguous little-endian) into a free slot; its name, or None when the
        buffer is small, the arena full, or shared memory unusable (send a frame instead)."""
        n = array.nbytes
        if n < self.threshold:
            return None
        with self._lock:
            slot = self._free_slot(n)
            if slot is None:
                return None
            slot.lent_at = time.monotonic()
        np.frombuffer(slot.mm, np.uint8, count=n)[:] = array.reshape(-1).view(np.uint8)
        return slot.name

    def _free_slot(self, n: int) -> _Slot | None:
        now = time.monotonic()
        for s in self._slots.values():
            if s.lent_at is not None and now - s.lent_at > self.lease_s:
                log.info("shared-memory slot %s was never released; taking it back", s.name)
                s.lent_at = None
        free = [s for s in self._slots.values() if s.lent_at is None and s.size >= n]
        if free:
            return min(free, key=lambda s: s.size)
        for s in sorted((s for s in self._slots.values() if s.lent_at is None), key=lambda s: s.size):
            if self.total + n <= self.max_bytes:
                break
            self._drop(s)
        if self.total + n > self.max_bytes:
            return None
        name = f"{PREFIX}{os.getpid()}-{next(_IDS)}"
        path = self.directory / name
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
            try:
                os.ftruncate(fd, n)
                mm = mmap.mmap(fd, n)
            finally:
                os.close(fd)
        except OSError as e:
            log.warning("shared memory unusable (%s); sending frames", e)
            path.unlink(missing_ok=True)
            return None
        slot = _Slot(name, n, mm)
        self._slots[name] = slot
        self.total += n
        return slot

    def _drop(self, s: _Slot) -> None:
        del self._slots[s.name]
        self.total -= s.size
        (self.directory / s.name).unlink(missing_ok=True)
        try:
            s.mm.close()
        except BufferError:  # a view of it is still alive in this process; the GC unmaps it later
            pass

    def release(self, names: list[str]) -> None:
        with self._lock:
            for name in names:
                s = self._slots.get(name)
                if s is not None:
                    s.lent_at = None
            free = sorted((s for s in self._slots.values() if s.lent_at is None), key=lambda s: s.size)
            kept = 0
            for s in free:
                if kept + s.size > self.keep_free_bytes:
                    self._drop(s)
                else:
                    kept += s.size

    def lent(self) -> list[str]:
        with self._lock:
            return [s.name for s in self._slots.values() if s.lent_at is not None]

    def close(self) -> None:
        with self._lock:
            for s in list(self._slots.values()):
                self._drop(s)


class ShmMaps:
    """Receiver side: read-only views of a peer's slots, the mappings cached by name."""

    def __init__(self, directory: Path = SHM_DIR, keep: int = 8, refuse_pid: int | None = None) -> None:
        self.directory = directory
        self.keep = keep
        self.refuse_pid = refuse_pid
        """Slots of this process are refused (a sidecar passes its own pid: a peer must not
        name the sidecar's slots, which hold other bridges' audio)."""
        self._maps: OrderedDict[str, mmap.mmap] = OrderedDict()
        self._lock = threading.Lock()

    def view(self, name: str, dtype: str, shape: list[int]) -> np.ndarray:
        """A read-only array over slot ``name``. Raises ValueError for a name that is not a
        Topline slot or a slot smaller than the buffer."""
        m = _NAME.match(name) if isinstance(name, str) and len(name) <= 64 else None
        if m is None or (self.refuse_pid is not None and int(m[1]) == self.refuse_pid):
            raise ValueError(f"{str(name)[:64]!r} is not a Topline shared-memory slot of the peer")
        dt = np.dtype(dtype).newbyteorder("<")
        count = math.prod(shape)
        with self._lock:
            mm = self._maps.get(name)
            if mm is None:
                mm = _map_slot(self.directory / name)
                self._maps[name] = mm
                while len(self._maps) > self.keep:
                    self._maps.popitem(last=False)  # views still alive keep their mapping
            self._maps.move_to_end(name)
        if count * dt.itemsize > len(mm):
            raise ValueError(f"shared-memory slot {name} holds {len(mm)} bytes, the buffer needs {count * dt.itemsize}")
        return np.frombuffer(mm, dt, count=count).reshape(shape)


def _map_slot(path: Path) -> mmap.mmap:
    """Map a peer's slot read-only. Never blocks (a FIFO or device under the name is refused, not
    opened for reading) and maps only a regular file of this user, of a size that can be a slot."""
    name = path.name
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as e:
        raise ValueError(f"shared-memory slot {name} cannot be opened: {e.strerror}") from e
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"shared-memory slot {name} is not a regular file")
        if hasattr(os, "getuid") and st.st_uid != os.getuid():
            raise ValueError(f"shared-memory slot {name} belongs to another user")
        if not 0 < st.st_size <= MAX_SLOT_BYTES:
            raise ValueError(f"shared-memory slot {name} holds {st.st_size} bytes")
        return mmap.mmap(fd, st.st_size, access=mmap.ACCESS_READ)
    except OSError as e:
        raise ValueError(f"shared-memory slot {name} cannot be mapped: {e.strerror}") from e
    finally:
        os.close(fd)


def sweep(pid: int, directory: Path = SHM_DIR) -> int:
    """Remove the slots a dead process left behind; returns how many."""
    n = 0
    for p in directory.glob(f"{PREFIX}{pid}-*"):
        p.unlink(missing_ok=True)
        n += 1
    return n


def sweep_dead(directory: Path = SHM_DIR) -> int:
    """Remove the slots of every Topline process that is gone (killed before it could clean up)."""
    from host_bridge.core.connection import pid_alive

    pids = {int(m[1]) for p in directory.glob(f"{PREFIX}*") if (m := _NAME.match(p.name))}
    return sum(sweep(pid, directory) for pid in pids if not pid_alive(pid))


@atexit.register
def _close_all() -> None:
    for arena in list(_ARENAS):
        arena.close()
