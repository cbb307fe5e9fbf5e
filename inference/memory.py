"""The renderer's heap kept bounded over a session (issue 19: a warm sidecar's RSS climbed with
every take and never came back).

Measured with the Kokoro engine over takes of varied phrase lengths (tests/test_kokoro_memory.py):
most of the growth was glibc's malloc, not the models: every render's lane threads allocate from
malloc arenas of their own (up to 8 per core), each keeping the free memory of the longest phrase
it saw. :func:`bound_heap` caps the arenas at ``ARENA_MAX`` and fixes malloc's mmap and trim
thresholds, and :func:`release_heap` (after each render) gives the free pages back to the system
(``malloc_trim``). Elsewhere than glibc both do nothing; ``TOPLINE_HEAP_RELEASE=off`` turns both
off (for comparison runs).

Why fixed thresholds: glibc raises its mmap threshold to the size of each mmapped block freed (up
to 32 MB) and its trim threshold to twice that; with them left to move, a warm engine's RSS stepped
up 11-48 MB at a new phrase length in about 1 run of 4, the lane threads' arena holding that much
free (read as its free top, which ``malloc_trim`` leaves to the trim threshold outside the main
arena; with both fixed, no step over 8 MB).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
import threading
from typing import Any

log = logging.getLogger(__name__)

ARENA_MAX = 2
"""malloc arenas for the whole process (glibc's default: 8 per core)."""
MMAP_THRESHOLD = 4 << 20
"""Blocks from this size up are mapped on their own and unmapped when freed (a phrase's tensors)."""
TRIM_THRESHOLD = 8 << 20
"""Free memory above this at the top of an arena goes back to the system when a block is freed."""
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
_lock = threading.Lock()
_libc: Any = None
_bounded = False


def _glibc() -> Any:
    global _libc
    if _libc is None:
        _libc = False
        if sys.platform.startswith("linux") and os.environ.get("TOPLINE_HEAP_RELEASE", "").lower() != "off":
            try:
                lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                if hasattr(lib, "malloc_trim") and hasattr(lib, "mallopt"):
                    _libc = lib
            except OSError:
                pass
    return _libc


def bound_heap() -> None:
    """Cap malloc's arenas at ``ARENA_MAX`` (once per process; arenas made before stay)."""
    global _bounded
    with _lock:
        lib = _glibc()
        if _bounded or not lib:
            return
        _bounded = True
        if not lib.mallopt(_M_ARENA_MAX, ARENA_MAX):
            log.info("mallopt(M_ARENA_MAX) refused; render threads keep malloc arenas of their own")
        if not (lib.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) and lib.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)):
            log.info("mallopt(M_MMAP_THRESHOLD/M_TRIM_THRESHOLD) refused; an arena may keep a long phrase's memory")


def release_heap() -> None:
    """Give the heap's free pages back to the system (after a render: a few ms)."""
    lib = _glibc()
    if lib:
        lib.malloc_trim(0)
