"""Atomic file creation: the one way Topline writes a file a musician or a DAW may read.

The content goes to a temporary file in the target folder, is flushed to disk, then renamed
over the target, so a reader sees the old file or the new one, never half of one; a failure
leaves nothing behind.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable


def umask_mode(base: int = 0o666) -> int:
    """The permission bits a plain ``open()`` would give a new file (``base`` less the umask).
    ``mkstemp`` creates 0600 whatever the umask: files meant for the user's group and tools
    (takes, records) get these bits instead."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return base & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # no /proc: read it by setting it (and put it back at once)
    os.umask(mask)
    return base & ~mask


def atomic_write(path: str | Path, fill: Callable[[str], None], *, mode: int | None = None) -> Path:
    """Create ``path`` atomically. ``fill(tmp)`` writes the content to the temporary path
    ``tmp``; ``mode`` sets its permission bits before the rename (default: what the umask gives
    a new file, :func:`umask_mode`; pass 0o600 for a private file).
    Raises what ``fill`` or the file system raises (OSError)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part", dir=p.parent)
    os.close(fd)
    try:
        fill(tmp)
        os.chmod(tmp, umask_mode() if mode is None else mode)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


def atomic_write_bytes(path: str | Path, data: bytes, *, mode: int | None = None) -> Path:
    def fill(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(data)

    return atomic_write(path, fill, mode=mode)
