"""The renderer's heap kept bounded over a session (issue 19: a warm sidecar's RSS climbed with
every take and never came back).

Measured with the Kokoro engine over takes of varied phrase lengths (tests/test_kokoro_memory.py):
most of the growth was glibc's malloc, not the models: every render's lane threads allocate from
malloc arenas of their own (up to 8 per core), each keeping the free memory of the longest phrase
it saw. :func:`bound_heap` caps the arenas at ``ARENA_MAX``, and :func:`release_heap` (after each
render) gives the free pages back to the system (``malloc_trim``). Elsewhere than glibc both do
nothing; ``TOPLINE_HEAP_RELEASE=off`` turns both off (for comparison runs).
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


def release_heap() -> None:
    """Give the heap's free pages back to the system (after a render: a few ms)."""
    lib = _glibc()
    if lib:
        lib.malloc_trim(0)
