"""Where a DAW adapter gets its take: one function, :func:`ask_for_take`.

The adapter describes the job as a :class:`host_bridge.core.protocol.JobSpec` (the same contract the
bridge sends to the sidecar) and gets a :class:`~host_bridge.core.model.Take` back, at the session
rate, ``spec.length_samples`` long, its sample 0 at ``spec.start_sample``.

Sources:

* :class:`SidecarTakeSource` (the default): the bridge (:class:`host_bridge.bridge.Bridge`) on a
  supervised sidecar, the one ``topline generate`` uses (started when none answers, left warm);
  With ``detach=False`` and a connection file of its own, a private sidecar that lives as long
  as the source (``topline ardour sing --in-process``).

A caller may pass any callable with the same signature instead (tests and scripts that sing in
their own process use ``inference.take_source.InProcessTakeSource``).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from host_bridge.core.model import Take
from host_bridge.core.protocol import JobSpec, ProgressCallback, TakeSource

log = logging.getLogger(__name__)


class SidecarTakeSource:
    """Asks the bridge for the take: a sidecar named by ``connection_file`` (the user's by
    default), started when none answers. ``detach``: a sidecar started here outlives this
    source (warm for the next call, it exits when idle); otherwise :meth:`close` stops it."""

    def __init__(self, connection_file: Path | None = None, pipeline: str | None = None, threads: int = 2,
                 detach: bool = True, idle_exit_s: float = 600.0, timeout_s: float = 3600.0) -> None:
        self.connection_file = connection_file
        self.pipeline = pipeline
        self.threads = threads
        self.detach = detach
        self.idle_exit_s = idle_exit_s
        self.timeout_s = timeout_s
        self._bridge: Any = None

    def _connect(self) -> Any:
        if self._bridge is None:
            from host_bridge.bridge import Bridge
            from host_bridge.supervisor import SidecarManager, sidecar_command

            extra = ["--threads", str(self.threads), "--idle-exit", str(self.idle_exit_s)]
            if self.pipeline:
                extra += ["--pipeline", self.pipeline]
            manager = SidecarManager(sidecar_command(extra), self.connection_file, detach=self.detach)
            self._bridge = Bridge(manager)
        return self._bridge

    def start(self) -> dict[str, Any]:
        """Connect now (starting the sidecar when none answers); returns its hello."""
        hello: dict[str, Any] = self._connect().connect()
        return hello

    def __call__(self, spec: JobSpec, progress: ProgressCallback | None = None) -> Take:
        take: Take = self._connect().run(spec, timeout=self.timeout_s, on_progress=progress)
        return take

    def close(self) -> None:
        if self._bridge is not None:
            self._bridge.close()
            self._bridge = None


def default_take_source() -> TakeSource:
    """The source an adapter uses when none is given: the bridge, on the user's warm sidecar."""
    return SidecarTakeSource()


def ask_for_take(spec: JobSpec, progress: ProgressCallback | None = None, source: TakeSource | None = None) -> Take:
    """Ask for a take: from ``source`` when given, else from a new default source."""
    take = (source or default_take_source())(spec, progress)
    if take.sample_rate != spec.sample_rate or take.audio.shape[1] != spec.length_samples:
        raise AssertionError(f"take source returned {take.audio.shape[1]} samples at {take.sample_rate} Hz, "
                             f"asked for {spec.length_samples} at {spec.sample_rate} Hz")
    return take
