"""Atomic file creation: the one way Topline writes a file a musician or a DAW may read.

The content goes to a temporary file in the target folder, is flushed to disk, then renamed
over the target, so a reader sees the old file or the new one, never half of one; a failure
leaves nothing behind. :func:`read_json_object` reads such a file back.
"""
from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

from host_bridge.core.errors import InputError, ToplineError


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


def read_json_object(path: Path, error: type[ToplineError], hint: str) -> dict[str, Any]:
    """The JSON object in ``path``. A file that cannot be read, is not JSON or holds another JSON
    value raises ``error`` (naming the file) with ``hint``."""
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise error(f"{path} cannot be read: {e}", hint) from e
    if not isinstance(d, dict):
        raise error(f"{path} is not a JSON object", hint)
    return d


def folder_write_error(folder: Path, e: OSError) -> InputError:
    """An OSError met writing into ``folder`` -> an input error whose hint matches its cause."""
    hints = {errno.EROFS: f"{folder} is on a read-only disk: choose an output on a writable one",
             errno.EACCES: f"you may not write in {folder}: choose another folder or change its permissions",
             errno.EPERM: f"you may not write in {folder}: choose another folder or change its permissions",
             errno.ENOSPC: f"the disk holding {folder} is full: free some space or choose another disk",
             errno.EDQUOT: f"your disk quota on {folder} is used up: free some space or choose another disk",
             errno.EFBIG: f"the file is larger than this system lets you write in {folder} (a file size limit): "
                          "choose another disk or raise the limit",
             errno.ENOTDIR: f"{folder} is not a folder: choose an output inside a folder"}
    return InputError(f"cannot write in {folder}: {e.strerror or e}",
                      hints.get(e.errno or 0, f"check that {folder} exists and can be written"))


def probe_writable(folder: str | Path) -> None:
    """Create (and remove) a temporary file in ``folder``, or in its nearest existing parent when
    it does not exist yet (nothing is left behind), so an unwritable output is found before any
    work is done. Raises :class:`InputError` with the fix."""
    d = Path(folder)
    here = d
    while not here.exists() and here.parent != here:
        here = here.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=".topline-probe-", suffix=".part", dir=here)
    except OSError as e:
        raise folder_write_error(d, e) from e
    os.close(fd)
    os.unlink(tmp)


def atomic_write_files(contents: dict[Path, bytes], *, mode: int | None = None) -> None:
    """Create several files all or none: each is written and flushed to a temporary file beside
    it first, then all are renamed into place. A failure (a full disk) leaves no file changed and
    no temporary file behind; raises the OSError."""
    tmps: dict[Path, str] = {}
    try:
        for p, data in contents.items():
            p.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part", dir=p.parent)
            tmps[p] = tmp
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            if mode is not None:
                os.chmod(tmp, mode)
        for p, tmp in tmps.items():
            os.replace(tmp, p)
    finally:
        for tmp in tmps.values():
            Path(tmp).unlink(missing_ok=True)
