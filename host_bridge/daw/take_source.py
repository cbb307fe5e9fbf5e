"""Where a DAW adapter gets its take: one function, :func:`ask_for_take`.

The adapter describes the job as a :class:`host_bridge.protocol.JobSpec` (the same contract the
bridge sends to the sidecar) and gets a :class:`~host_bridge.model.Take` back, at the session
rate, ``spec.length_samples`` long, its sample 0 at ``spec.start_sample``.

Sources: the in-process :class:`inference.pipeline.Pipeline` (imported lazily, so the bridge
stays torch-free until a take is asked for in-process). A caller (a test, the bridge's own
session) may pass any callable with the same signature instead.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from host_bridge.model import Take
from host_bridge.protocol import JobSpec

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, float], None]
TakeSource = Callable[[JobSpec, "ProgressCallback | None"], Take]


class InProcessTakeSource:
    """Sings in this process with the sidecar's pipeline (kept warm between takes)."""

    def __init__(self, pipeline: Any = None, threads: int = 2) -> None:
        self._pipeline = pipeline
        self.threads = threads

    @property
    def pipeline(self) -> Any:
        if self._pipeline is None:
            from inference.pipeline import Pipeline

            self._pipeline = Pipeline(threads=self.threads)
        return self._pipeline

    def __call__(self, spec: JobSpec, progress: ProgressCallback | None = None) -> Take:
        from inference.pipeline import GenerateRequest

        req = GenerateRequest(**spec.request_fields())
        take: Take = self.pipeline.generate(req, progress=progress)
        return take


def default_take_source() -> TakeSource:
    """The source an adapter uses when none is given (hold on to it: it keeps engines warm)."""
    return InProcessTakeSource()


def ask_for_take(spec: JobSpec, progress: ProgressCallback | None = None, source: TakeSource | None = None) -> Take:
    """Ask for a take: from ``source`` when given, else from a new default source."""
    take = (source or default_take_source())(spec, progress)
    if take.sample_rate != spec.sample_rate or take.audio.shape[1] != spec.length_samples:
        raise AssertionError(f"take source returned {take.audio.shape[1]} samples at {take.sample_rate} Hz, "
                             f"asked for {spec.length_samples} at {spec.sample_rate} Hz")
    return take
