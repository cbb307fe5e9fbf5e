"""Rendered phrases kept on disk, so that a take re-sings only the phrases whose inputs changed.

An engine names each phrase by a key: a hash of everything the phrase's samples depend on (its
phonemes, notes and timing, the artist's voice and style, the seed, the engine's code, models
and settings; see :mod:`inference.engines.kokoro.cache_key`). :class:`PhraseCache` maps a key to
the phrase's pieces (float32 audio with where it starts and how it joins its neighbours), so a
phrase found there is spliced in sample for sample as it was rendered.

One file per phrase: a magic line, a JSON header, the raw float32 samples, and a SHA-256 of all
of it (no pickle). A file that fails the check (a crash mid-write, a disk error, an older
format) is deleted and the phrase rendered again. The folder is kept under ``max_bytes``: the
least recently used files go first (a hit refreshes a file's time).

Configured by the environment of the process that renders (the sidecar):
``TOPLINE_PHRASE_CACHE=off`` turns it off, ``TOPLINE_PHRASE_CACHE_DIR`` moves it (default: the
user cache folder, beside the models), ``TOPLINE_PHRASE_CACHE_MB`` bounds it (default 512).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

log = logging.getLogger(__name__)

MAGIC = b"TOPLINE-PHRASE-1\n"
SUFFIX = ".phrase"
DEFAULT_MAX_MB = 512
ENV_OFF = "TOPLINE_PHRASE_CACHE"
ENV_DIR = "TOPLINE_PHRASE_CACHE_DIR"
ENV_MB = "TOPLINE_PHRASE_CACHE_MB"
_HASH_LEN = 32


@dataclass(frozen=True)
class CachedPiece:
    """One piece of a cached phrase: what the engine needs to hand it out again as it was."""
    audio: np.ndarray
    """float32 [1, T] at ``sample_rate``."""
    sample_rate: int
    start_s: float
    n_notes: int
    """How many of the phrase's notes (in order) this piece sings."""
    joins_next: bool = False
    joins_previous: bool = False
    phrase_pitches: tuple[float, ...] = ()
    info: dict[str, Any] = field(default_factory=dict)


def default_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("topline")) / "phrases"


class PhraseCache:
    """Phrases on disk under ``directory``, at most ``max_bytes`` in all (LRU). Thread-safe;
    several processes may share the folder (writes are atomic renames)."""

    def __init__(self, directory: Path, max_bytes: int = DEFAULT_MAX_MB << 20) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be > 0, got {max_bytes}: turn the cache off instead")
        self.directory = Path(directory)
        self.max_bytes = int(max_bytes)
        self.hits = 0
        self.misses = 0
        self.damaged = 0
        self._lock = threading.Lock()
        self._total: int | None = None  # bytes on disk, known after the first scan

    @classmethod
    def from_env(cls) -> "PhraseCache | None":
        """The cache the environment asks for (see the module doc), or None when it is off."""
        if os.environ.get(ENV_OFF, "").strip().lower() in ("0", "off", "no", "false"):
            return None
        mb = os.environ.get(ENV_MB, "").strip()
        try:
            max_mb = float(mb) if mb else DEFAULT_MAX_MB
        except ValueError:
            log.warning("%s=%r is not a number of megabytes: using %d", ENV_MB, mb, DEFAULT_MAX_MB)
            max_mb = DEFAULT_MAX_MB
        if max_mb <= 0:
            return None
        where = os.environ.get(ENV_DIR, "").strip()
        return cls(Path(where) if where else default_dir(), int(max_mb * (1 << 20)))

    # ------------------------------------------------------------------ entries
    def _path(self, key: str) -> Path:
        if not key or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"a phrase key is a lowercase hex digest, got {key!r}")
        return self.directory / f"{key}{SUFFIX}"

    def get(self, key: str) -> list[CachedPiece] | None:
        """The pieces stored under ``key``, or None (not there, or damaged: then deleted)."""
        path = self._path(key)
        try:
            data = path.read_bytes()
        except OSError:
            self.misses += 1
            return None
        try:
            pieces = _decode(data, key)
        except (ValueError, KeyError, TypeError, json.JSONDecodeError) as e:
            log.warning("phrase cache entry %s is damaged (%s): rendering the phrase again", path.name, e)
            self.damaged += 1
            self.misses += 1
            self._remove(path)
            return None
        try:
            os.utime(path)  # most recently used
        except OSError:
            pass
        self.hits += 1
        return pieces

    def put(self, key: str, pieces: Sequence[Any]) -> None:
        """Store ``pieces`` (:class:`~inference.engines.base.RenderedPhrase` or
        :class:`CachedPiece`) under ``key``; a failure to write is logged, never raised."""
        data = _encode(key, pieces)
        if len(data) > self.max_bytes:
            return
        path = self._path(key)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError as e:
            log.warning("phrase cache: cannot write %s (%s); the take is not affected", path, e)
            self._remove(tmp)
            return
        with self._lock:
            if self._total is not None:
                self._total += len(data)
            if self._total is None or self._total > self.max_bytes:
                self._evict()

    def size_bytes(self) -> int:
        """Bytes the cache's files take now (a scan of the folder)."""
        return sum(size for _, size, _ in self._entries())

    def clear(self) -> None:
        for path, _, _ in self._entries():
            self._remove(path)
        with self._lock:
            self._total = 0

    # ------------------------------------------------------------------ bound
    def _entries(self) -> list[tuple[Path, int, int]]:
        out = []
        try:
            with os.scandir(self.directory) as it:
                for e in it:
                    if e.name.endswith(SUFFIX) and not e.name.startswith("."):
                        try:
                            st = e.stat()
                        except OSError:
                            continue
                        out.append((Path(e.path), st.st_size, st.st_mtime_ns))
        except OSError:
            return []
        return out

    def _evict(self) -> None:
        """Delete the least recently used entries until the folder is within ``max_bytes``."""
        entries = sorted(self._entries(), key=lambda e: e[2])
        total = sum(size for _, size, _ in entries)
        for path, size, _ in entries:
            if total <= self.max_bytes:
                break
            if self._remove(path):
                total -= size
        self._total = total

    @staticmethod
    def _remove(path: Path) -> bool:
        try:
            path.unlink()
            return True
        except OSError:
            return False


def _encode(key: str, pieces: Sequence[Any]) -> bytes:
    audio = [np.ascontiguousarray(p.audio, dtype="<f4") for p in pieces]
    head = {"key": key, "pieces": [
        {"sample_rate": int(p.sample_rate), "start_s": float(p.start_s), "shape": list(a.shape),
         "n_notes": int(p.n_notes if isinstance(p, CachedPiece) else len(p.notes)),
         "joins_next": bool(p.joins_next), "joins_previous": bool(p.joins_previous),
         "phrase_pitches": [float(x) for x in p.phrase_pitches], "info": p.info}
        for p, a in zip(pieces, audio)]}
    hb = json.dumps(head, separators=(",", ":"), default=str).encode("utf-8")
    body = MAGIC + struct.pack("<Q", len(hb)) + hb + b"".join(a.tobytes() for a in audio)
    return body + hashlib.sha256(body).digest()


def _decode(data: bytes, key: str) -> list[CachedPiece]:
    if len(data) < len(MAGIC) + 8 + _HASH_LEN or not data.startswith(MAGIC):
        raise ValueError("not a phrase cache file")
    body, digest = data[:-_HASH_LEN], data[-_HASH_LEN:]
    if hashlib.sha256(body).digest() != digest:
        raise ValueError("checksum mismatch")
    n = struct.unpack_from("<Q", body, len(MAGIC))[0]
    at = len(MAGIC) + 8
    head = json.loads(body[at:at + n].decode("utf-8"))
    if head["key"] != key:
        raise ValueError("stored under another key")
    at += n
    out = []
    for p in head["pieces"]:
        shape = tuple(int(x) for x in p["shape"])
        count = int(np.prod(shape))
        audio = np.frombuffer(body, "<f4", count, at).reshape(shape).astype(np.float32)
        at += 4 * count
        out.append(CachedPiece(audio, int(p["sample_rate"]), float(p["start_s"]), int(p["n_notes"]),
                               bool(p["joins_next"]), bool(p["joins_previous"]),
                               tuple(float(x) for x in p["phrase_pitches"]), dict(p["info"])))
    if at != len(body):
        raise ValueError("length mismatch")
    return out
