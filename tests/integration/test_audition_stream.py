"""An audition request with several artists, on a real sidecar (tone engine through the real
pipeline and produce stage): each clip streams as a chunk the moment it is ready, before the
job ends, and the take that ends it is the A/B reel."""
from __future__ import annotations

import dataclasses
import time
from typing import Callable

import numpy as np

from conftest import job_spec, tone_command
from host_bridge.bridge import Bridge
from host_bridge.supervisor import Heartbeat, SidecarManager


def test_audition_streams_one_clip_per_artist_then_the_ab_reel(managers: Callable[..., SidecarManager]) -> None:
    m = managers(tone_command())
    b = Bridge(m, Heartbeat(interval=0.2, time_to_dead=1.5), accept_timeout=1.0)
    spec = dataclasses.replace(job_spec(n_notes=8), bars=(1, 2), artists=("alpha", "kumo", "dusk"))
    clips: list[tuple[float, np.ndarray, int]] = []
    t0 = time.monotonic()
    job = b.submit(spec, kind="audition", on_chunk=lambda a, at: clips.append((time.monotonic() - t0, a.copy(), at)))
    while not job.finished:
        b.poll(0.05)
    t_done = time.monotonic() - t0
    assert job.take is not None, job.error
    assert len(clips) == 3 and all(at == 0 for _, _, at in clips)
    assert len({a.shape for _, a, _ in clips}) == 1 and all(np.abs(a).max() > 0.01 for _, a, _ in clips)
    assert clips[0][0] < t_done - 0.05  # the first clip came while the others were still rendering
    assert job.take.artist == "alpha,kumo,dusk" and [a for a, _ in job.take.register["ab"]] == ["alpha", "kumo", "dusk"]
    assert job.take.audio.shape[1] > 3 * clips[0][1].shape[1]  # the clips in sequence, with gaps
    b.close()
