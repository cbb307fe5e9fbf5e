"""Take delivery: each take lands in a takes folder next to the session as three files,
written atomically and numbered, never overwriting anything::

    Topline Takes/take-0007.wav    the stem; its BWF ``bext`` time reference = the take's session
                                   position (samples), so a DAW's "move to original position" places it
    Topline Takes/take-0007.mid    the melody actually sung, with lyric events
    Topline Takes/take-0007.json   artist, engine, seed, tempo map, lyrics hash, timings, job id

Every file is first written under a temporary name in the same folder. The number is claimed
by hard-linking the finished JSON to its final name (which fails if the name exists, so two
bridges writing into one folder never share a number); the MIDI and then the WAV are renamed
into place after it. A DAW watching the folder sees the WAV last, complete.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import struct
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from host_bridge import __version__
from host_bridge.core.errors import InputError
from host_bridge.core.fileio import umask_mode
from host_bridge.core.model import Take

log = logging.getLogger(__name__)

TAKES_DIRNAME = "Topline Takes"
BEXT_FIXED = 602
"""Bytes of a bext chunk before its coding history (EBU Tech 3285 v1/v2)."""


def takes_folder_for(session: str | Path) -> Path:
    """The takes folder of a session: beside the session file, or inside a session folder."""
    p = Path(session)
    return (p if p.is_dir() else p.parent) / TAKES_DIRNAME


@dataclass(frozen=True)
class DeliveredTake:
    number: int
    wav: Path
    midi: Path | None
    json: Path


# ------------------------------------------------------------------------------------ BWF
def bext_chunk(time_reference: int, description: str = "", originator: str = "Topline",
               coding_history: str = "") -> bytes:
    """A BWF ``bext`` chunk (version 1) with its 8-byte chunk header."""
    if not 0 <= time_reference < 1 << 64:
        raise InputError(f"take position {time_reference} cannot be stored in a BWF time reference",
                         "place takes at or after the session start")
    now = time.localtime()
    body = struct.pack(
        "<256s32s32s10s8sIIH64s10x180s",
        description.encode("utf-8")[:256], originator.encode("ascii", "replace")[:32],
        b"", time.strftime("%Y-%m-%d", now).encode(), time.strftime("%H:%M:%S", now).encode(),
        time_reference & 0xFFFFFFFF, time_reference >> 32, 1, b"", b"",
    ) + coding_history.encode("ascii", "replace")
    if len(body) % 2:
        body += b"\x00"
    return b"bext" + struct.pack("<I", len(body)) + body


def bwf_bytes(audio: np.ndarray, sample_rate: int, time_reference: int, subtype: str = "PCM_24",
              description: str = "") -> bytes:
    """float32 [C, T] -> the bytes of a WAV file with a bext chunk right after the RIFF header."""
    buf = io.BytesIO()
    sf.write(buf, np.asarray(audio, np.float32).T, sample_rate, subtype=subtype, format="WAV")
    wav = buf.getvalue()
    if wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
        raise InputError("the WAV writer did not produce a RIFF file", "write takes shorter than 4 GB")
    chunk = bext_chunk(time_reference, description)
    body = wav[12:]
    return b"RIFF" + struct.pack("<I", 4 + len(chunk) + len(body)) + b"WAVE" + chunk + body


def read_time_reference(path: str | Path) -> int | None:
    """The BWF time reference (samples) of a WAV file, or None when it has no bext chunk."""
    with open(path, "rb") as f:
        head = f.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        while True:
            hdr = f.read(8)
            if len(hdr) < 8:
                return None
            cid, size = hdr[:4], struct.unpack("<I", hdr[4:])[0]
            if cid == b"bext":
                data = f.read(BEXT_FIXED)
                lo, hi = struct.unpack_from("<II", data, 338)
                return lo | (hi << 32)
            f.seek(size + (size & 1), os.SEEK_CUR)


# ------------------------------------------------------------------------------------ folder
class TakeFolder:
    """Numbered, atomic, never-overwriting take delivery into one folder."""

    _NAME = re.compile(r"^(?P<prefix>.+)-(?P<n>\d{4,})\.(wav|mid|json)$")

    def __init__(self, folder: str | Path, prefix: str = "take", subtype: str = "PCM_24") -> None:
        self.folder = Path(folder)
        self.prefix = prefix
        self.subtype = subtype

    def numbers(self) -> list[int]:
        if not self.folder.is_dir():
            return []
        out = []
        for p in self.folder.iterdir():
            m = self._NAME.match(p.name)
            if m and m["prefix"] == self.prefix:
                out.append(int(m["n"]))
        return sorted(set(out))

    def deliver(self, take: Take, lyrics_text: str = "", job_id: str = "",
                extra: dict[str, Any] | None = None) -> DeliveredTake:
        """Write the take's WAV, MIDI and JSON under the next free number."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(f"cannot create the takes folder {self.folder}: {e.strerror}",
                             "choose a takes folder you can write to") from e
        wav = bwf_bytes(take.audio, take.sample_rate, take.start_sample, self.subtype,
                        description=f"Topline {take.artist} seed {take.seed}")
        midi = _midi_bytes(take)
        tmps: list[Path] = []
        try:
            tmp_wav = self._tmp(wav, ".wav", tmps)
            tmp_mid = self._tmp(midi, ".mid", tmps) if midi is not None else None
            n = (self.numbers() or [0])[-1] + 1
            while True:
                names = self._names(n)
                md = self._metadata(take, n, names, lyrics_text, job_id, extra, has_midi=midi is not None)
                tmp_json = self._tmp(json.dumps(md, indent=1).encode("utf-8"), ".json", tmps)
                if not names[0].exists() and not names[1].exists() and self._claim(tmp_json, names[2]):
                    break
                n += 1
            if tmp_mid is not None:
                os.replace(tmp_mid, names[1])
            os.replace(tmp_wav, names[0])
        finally:
            for t in tmps:
                t.unlink(missing_ok=True)
        log.info("take %d delivered: %s", n, names[0])
        return DeliveredTake(n, names[0], names[1] if midi is not None else None, names[2])

    def _names(self, n: int) -> tuple[Path, Path, Path]:
        stem = self.folder / f"{self.prefix}-{n:04d}"
        return stem.with_suffix(".wav"), stem.with_suffix(".mid"), stem.with_suffix(".json")

    def _tmp(self, data: bytes, suffix: str, tmps: list[Path]) -> Path:
        fd, name = tempfile.mkstemp(prefix=f".{self.prefix}.", suffix=suffix + ".part", dir=self.folder)
        tmps.append(Path(name))
        os.fchmod(fd, umask_mode())  # mkstemp's 0600 would hide the take from the user's group
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        return Path(name)

    @staticmethod
    def _claim(tmp: Path, final: Path) -> bool:
        try:
            os.link(tmp, final)
        except FileExistsError:
            return False
        return True

    def _metadata(self, take: Take, n: int, names: tuple[Path, Path, Path], lyrics_text: str, job_id: str,
                  extra: dict[str, Any] | None, has_midi: bool) -> dict[str, Any]:
        md = take.metadata()
        md.pop("score", None)
        md.update({
            "take": n, "job_id": job_id, "topline_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "start_seconds": take.start_sample / take.sample_rate, "duration_s": take.duration_s,
            "lyrics_sha256": _lyrics_hash(lyrics_text) if lyrics_text else None,
            "wav": names[0].name, "midi": names[1].name if has_midi else None, "wav_subtype": self.subtype,
            "bwf_time_reference": take.start_sample,
        })
        md.update(extra or {})
        return md


def _lyrics_hash(text: str) -> str:
    from host_bridge.core.model import LyricsSheet

    try:
        return LyricsSheet.parse(text).sha256()
    except InputError:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _midi_bytes(take: Take) -> bytes | None:
    try:
        from host_bridge.core.midi import score_midi_bytes
    except ImportError:  # the MIDI writer is optional in stripped-down builds
        log.warning("host_bridge.core.midi is not available: the take gets no MIDI file")
        return None
    return score_midi_bytes(take.score)
