"""The onnxruntime sessions of the edited Kokoro models, and the vocoder run over them.

A :class:`Sessions` set is built for one intra-op thread count: the engine keeps one on every
thread (a render's first audio) and one on a single thread (phrases rendered side by side, see
:mod:`.lanes`). The vocoder is the ``decoder`` graph, or, with the torch vocoder, ``dfront`` ->
the torch generator (:mod:`.generator`) -> ``istft``. Both stop within ~50 ms of a cancel.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from host_bridge.core.errors import CancelledError

from . import model as km

_ARENA_LOCK = threading.Lock()
_ARENA_SHARED = False


ARENA_SAME_AS_REQUESTED = 1
"""The arena grows by what a run asks for (onnxruntime's default doubles its last chunk)."""
SHRINK_ARENA = "memory.enable_memory_arena_shrinkage"
"""A vocoder run gives the arena's free chunks back when it ends: the buffers of the longest
phrase so far no longer stay resident (issue 19: a warm sidecar's RSS grew with every new
phrase length)."""


def share_cpu_arena(ort: Any) -> None:
    """Register one CPU memory arena for the process (once), which the engine's sessions use
    instead of an arena each: two phrases vocoded side by side in the lane sessions, and the first
    phrase in the main ones, reuse the same buffers (a warm render's peak RSS is ~25 % lower than
    with an arena per session)."""
    global _ARENA_SHARED
    with _ARENA_LOCK:
        if _ARENA_SHARED:
            return
        info = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
        ort.create_and_register_allocator(info, ort.OrtArenaCfg(0, ARENA_SAME_AS_REQUESTED, -1, -1))
        _ARENA_SHARED = True


def run_options(ort: Any, shrink: bool) -> Any:
    """RunOptions of a vocoder run (``shrink``: the shared CPU arena shrunk after it)."""
    opts = ort.RunOptions()
    if shrink:
        opts.add_run_config_entry(SHRINK_ARENA, "cpu:0")
    return opts


@dataclass(frozen=True)
class Sessions:
    """The onnxruntime sessions a phrase runs through, built for one intra-op thread count."""
    probe: Any
    """Spoken durations and energy of the phrase's tokens."""
    front: Any
    """Text features aligned to the planned durations."""
    phase: Any
    """The harmonic source's phase at a window's start."""
    control: Any
    """The decoder (the vocoder: most of the time), or None with the torch vocoder. Its int8
    convolutions keep the shipped u8 weights: onnxruntime's ConvInteger has no fast u8 x s8 path
    on AVX2 (re-signed s8 weights give the same output, slower), and the same graph with its
    weights dequantised to float32 convolutions runs slower on AVX2 than the int8 one."""
    dfront: Any
    """With the torch vocoder: the decoder up to the generator (and the harmonic source)."""
    istft: Any
    """With the torch vocoder: the generator's output to audio."""
    threads: int
    shrink: bool = False
    """Vocoder runs give the shared arena's free chunks back (:data:`SHRINK_ARENA`)."""


def open_sessions(files: km.ModelFiles, threads: int, providers: list[str], torch_vocoder: bool) -> Sessions:
    """The sessions on ``threads`` intra-op threads (on the CPU: in the shared arena)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    if providers[0] == "CPUExecutionProvider":
        share_cpu_arena(ort)
        so.add_session_config_entry("session.use_env_allocators", "1")

    def session(m: Path) -> Any:
        return ort.InferenceSession(str(m), so, providers=providers)

    return Sessions(session(files.probe), session(files.front), session(files.phase),
                    None if torch_vocoder else session(files.decoder),
                    session(files.dfront) if torch_vocoder else None,
                    session(files.istft) if torch_vocoder else None, threads,
                    shrink=providers[0] == "CPUExecutionProvider")


def cpu_bf16_native() -> bool | None:
    """Whether the CPU computes bfloat16 natively (AVX512-BF16 or AMX), read from the kernel's
    CPU flags without importing torch; None where they cannot be read (not Linux)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
            break
    return bool(flags & {"avx512_bf16", "amx_bf16"}) if flags else None


def check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise CancelledError("rendering was cancelled", "start a new take when ready")


def vocode(ses: Sessions, gen: Any, asr: np.ndarray, f0: np.ndarray, energy: np.ndarray, style: np.ndarray,
           a: int, b: int, cancel: threading.Event | None) -> np.ndarray:
    """Vocode decoder frames [a, b) (25 ms each): float32 [(b - a) * km.HOP] at 24 kHz. A window
    that starts mid-phrase continues the harmonic source's phase of the whole phrase. ``gen``: the
    torch generator, or None for the decoder graph."""
    if a == 0:
        phase0 = np.zeros((1, 1, 9), np.float32)
    else:
        run = ses.phase.run(None, {"f0": f0[:, : 2 * a]})[0]
        phase0 = np.mod(run[:, -1:, :].astype(np.float64), km.PHASE_PERIOD).astype(np.float32)
    feed = {"asr": asr[:, :, a:b], "f0": f0[:, 2 * a:2 * b], "energy": energy[:, 2 * a:2 * b],
            "style": style, "phase0": phase0}
    if gen is None:
        return np.asarray(run_control(ses.control, feed, cancel, ses.shrink), np.float32).ravel()
    return run_torch(ses, gen, feed, cancel)


def run_torch(ses: Sessions, gen: Any, feed: dict[str, np.ndarray], cancel: threading.Event | None) -> np.ndarray:
    """The decoder with the torch generator: ``dfront`` -> generator -> ``istft``. A cancel
    stops it between the generator's blocks (~10-40 ms apart)."""
    import torch

    def check() -> None:
        check_cancel(cancel)

    check()
    import onnxruntime as ort

    x, har = ses.dfront.run(None, feed, run_options(ort, ses.shrink))
    torch.set_num_threads(ses.threads)  # this thread's intra-op threads (one in a lane); same bits either way
    style = torch.from_numpy(feed["style"][:, : gen.cfg.style_dim])
    spec = gen(torch.from_numpy(x), torch.from_numpy(har), style, check)
    return np.asarray(ses.istft.run(None, {"spec": spec.numpy()}, run_options(ort, ses.shrink))[0], np.float32).ravel()


def run_control(control: Any, feed: dict[str, np.ndarray], cancel: threading.Event | None,
                shrink: bool = False) -> np.ndarray:
    """The decoder run (most of a phrase's time), stopped mid-run when ``cancel`` is set: a
    watcher sets onnxruntime's terminate flag, so a cancel frees the worker within ~50 ms
    instead of at the end of the phrase. ``shrink``: the shared arena shrunk after it."""
    import onnxruntime as ort

    opts = run_options(ort, shrink)
    if cancel is None:
        return control.run(None, feed, opts)[0]
    check_cancel(cancel)
    finished = threading.Event()

    def watch() -> None:
        while not finished.is_set():
            if cancel.wait(0.02):
                opts.terminate = True
                return

    watcher = threading.Thread(target=watch, name="kokoro-cancel", daemon=True)
    watcher.start()
    try:
        return control.run(None, feed, opts)[0]
    except Exception:
        if cancel.is_set():
            raise CancelledError("rendering was cancelled", "start a new take when ready") from None
        raise
    finally:
        finished.set()
        watcher.join()
