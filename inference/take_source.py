"""A take source that sings in this process, for DAW adapters in tests and scripts (see
:mod:`host_bridge.daw.take_source`; the CLI and the bridge use the sidecar instead, so the
torch-free ``host_bridge`` never imports this package)."""
from __future__ import annotations

from typing import Any

from host_bridge.core.model import Take
from host_bridge.core.protocol import JobSpec, ProgressCallback


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
