"""Reading what a musician (or any local process) hands over, and checking where outputs go,
before any work is done.

Every reader here is bounded and non-blocking: a folder, a FIFO, a device such as ``/dev/zero``
or a file larger than the limit is refused with an error naming the file and the fix, never
read whole or waited on. Every output check runs before the render: an output that is one of
the inputs (the same file by inode, however the path is spelled), a sung MIDI that would replace
the guide MIDI, an output that is a folder, or a folder that cannot be written.
"""
from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from host_bridge.core.errors import InputError, LyricsError, MidiError

if TYPE_CHECKING:
    from host_bridge.core.midi import GuideMelody
    from host_bridge.core.model import LyricsSheet

log = logging.getLogger(__name__)

MAX_LYRICS_BYTES = 1 << 20
"""Largest lyrics file read (a sheet of 200,000 characters in UTF-8 stays under it)."""


def read_regular(path: str | Path, max_bytes: int, what: str, error: type[InputError] = InputError) -> bytes:
    """The bytes of the regular file ``path`` (symlinks followed), at most ``max_bytes`` of them.

    Never blocks and never reads without bound: a folder, a FIFO, a device (``/dev/zero``) or a
    file over ``max_bytes`` is refused with ``error`` naming the file and the fix, before (and
    while) reading. ``what`` names the file for the musician ("lyrics file")."""
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise error(f"{what} {p} does not exist", f"check the path to the {what}") from None
    except IsADirectoryError:
        raise error(f"{what} {p} is a folder, not a file", f"give the {what} itself") from None
    except OSError as e:
        raise error(f"cannot read {what} {p}: {e.strerror}", f"check the path and the permissions of the {what}") from e
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise error(f"{what} {p} is a folder, not a file", f"give the {what} itself")
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{what} {p} is not a regular file (a pipe or a device)", f"save the {what} as a file first")
        if st.st_size > max_bytes:
            raise error(f"{what} {p} is {st.st_size} bytes, more than the {max_bytes} a {what} may be",
                        f"check that {p.name} is the {what} (one song)")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise error(f"cannot read {what} {p}: {e.strerror}", f"check the {what}") from e
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise error(f"{what} {p} grew past {max_bytes} bytes while it was read", f"give a finished {what}")
    return data


def check_regular(path: str | Path, what: str, error: type[InputError] = InputError) -> None:
    """Refuse (with ``error``) a path that is missing, a folder, or not a regular file."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise error(f"{what} {p} does not exist", f"check the path to the {what}") from None
    except OSError as e:
        raise error(f"cannot read {what} {p}: {e.strerror}", f"check the path to the {what}") from e
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{what} {p} is a folder, not a file", f"give the {what} itself")
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{what} {p} is not a regular file (a pipe or a device)", f"save the {what} as a file first")


# ------------------------------------------------------------------------------------------ lyrics
def read_lyrics(path: str | Path) -> "LyricsSheet":
    """A lyrics file -> LyricsSheet: a regular file of at most MAX_LYRICS_BYTES, in UTF-8 (BOM or
    not), UTF-16 (BOM, or recognised by its zero bytes) or Windows-1252."""
    from host_bridge.core.model import LyricsSheet

    p = Path(path)
    data = read_regular(p, MAX_LYRICS_BYTES, "lyrics file", LyricsError)
    if not data.strip():
        raise LyricsError(f"lyrics file {p} is empty", "write the lyrics in it, one line per sung phrase")
    return LyricsSheet.parse(decode_text(data, p), source=str(p))


def decode_text(data: bytes, p: Path) -> str:
    enc = _utf16(data)
    if enc is not None:
        try:
            return data.decode(enc).lstrip("\ufeff")
        except UnicodeDecodeError as e:
            raise LyricsError(f"{p} looks like UTF-16 text but does not decode ({e.reason})",
                              "save the lyrics as UTF-8 plain text") from e
    if b"\x00" in data[:4096]:
        raise LyricsError(f"{p} looks like a binary file, not lyrics",
                          "give a plain-text (UTF-8) file with one lyric line per line")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError as e:
            raise LyricsError(f"{p} is neither UTF-8 nor Windows-1252 text", "save the lyrics as UTF-8 plain text") from e


def _utf16(data: bytes) -> str | None:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "utf-16"  # the BOM names the byte order
    head = data[:4096]
    half = len(head) // 2
    if half >= 2 and len(head) % 2 == 0:
        even, odd = head[0::2].count(0), head[1::2].count(0)
        if odd > 0.4 * half and even == 0:
            return "utf-16-le"
        if even > 0.4 * half and odd == 0:
            return "utf-16-be"
    return None


# ------------------------------------------------------------------------------------------ melody
def check_melody_fits(guide: "GuideMelody", seconds: float, start_s: float = 0.0) -> None:
    """Refuse a guide melody none of whose notes starts before the instrumental ends (nothing
    would be sung); warn, naming them, about the notes that start after its end."""
    end = start_s + seconds
    tm = guide.tempo_map
    outside = [n for n in guide.notes if tm.seconds_at(n.onset) >= end - 1e-6]
    if not outside:
        return
    first = outside[0]
    bar, beat = tm.bar_beat_at(first.onset)
    where = f"{guide.source or 'the guide melody'}"
    if len(outside) == len(guide.notes):
        raise MidiError(f"{where}: no note starts before the instrumental ends at {end:.1f} s "
                        f"(the first starts at {tm.seconds_at(guide.notes[0].onset):.1f} s): nothing would be sung",
                        "give the instrumental the melody was written for, or check the MIDI file's tempo")
    log.warning("%s: %d of %d notes start after the instrumental ends at %.1f s (from bar %d beat %g, "
                "%.1f s): they will not be sung", where, len(outside), len(guide.notes), end, bar, beat,
                tm.seconds_at(first.onset))


# ------------------------------------------------------------------------------------------ outputs
def check_outputs(outputs: list[Path], inputs: dict[str, str | Path | None]) -> None:
    """Before any work: refuse an output that is a folder or not a regular file, an output that
    is one of ``inputs`` (same file by inode: ``sub/../song.wav``, hard links), and an output
    folder that cannot be written (a temporary file is created there and removed)."""
    from host_bridge.core.fileio import probe_writable

    for out in outputs:
        try:
            st = out.stat()
        except FileNotFoundError:
            continue
        except OSError as e:
            from host_bridge.core.fileio import folder_write_error

            raise folder_write_error(out.parent, e) from e
        if stat.S_ISDIR(st.st_mode):
            raise InputError(f"output {out} is a folder", f"give a file name inside it, like {out / 'take.wav'}")
        if not stat.S_ISREG(st.st_mode):
            raise InputError(f"output {out} is not a regular file (a pipe or a device)", "choose a file name")
        for what, given in inputs.items():
            if given is not None and _same_file(out, Path(given)):
                raise InputError(f"output {out} is the {what} {given}: writing it would destroy your {what}",
                                 f"choose another --out (the sung MIDI is written beside it as {out.stem}.mid)")
    for folder in dict.fromkeys(o.parent for o in outputs):
        probe_writable(folder)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
