"""An audition request with several artists, on a real sidecar (tone engine through the real
pipeline and produce stage): each clip streams as a chunk the moment it is ready, before the
job ends, and the take that ends it is the A/B reel."""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable

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
    assert not job.parts_seen  # pieces only when asked (stream_clips)
    b.close()


def test_audition_streams_each_clips_phrases_before_the_clip_when_asked(managers: Callable[..., SidecarManager]) -> None:
    """stream_clips: every clip's phrases come as ``part`` events, each before its clip, placed
    inside the clip's span; the first audio comes before the first clip is finished. Without
    it (the test above), no part is sent."""
    m = managers(tone_command())
    b = Bridge(m, Heartbeat(interval=0.2, time_to_dead=1.5), accept_timeout=1.0)
    spec = dataclasses.replace(job_spec(n_notes=8), bars=(1, 2), artists=("alpha", "kumo"), stream_clips=True)
    events: list[tuple[str, int, float, Any]] = []
    t0 = time.monotonic()
    job = b.submit(spec, kind="audition", on_part=lambda p: events.append(("part", p.clip_index, time.monotonic() - t0, p)),
                   on_clip=lambda c: events.append(("clip", c.index, time.monotonic() - t0, c)))
    while not job.finished:
        b.poll(0.05)
    assert job.take is not None, job.error
    clips = {i: (t, c) for kind, i, t, c in events if kind == "clip"}
    parts = [(i, t, p) for kind, i, t, p in events if kind == "part"]
    assert sorted(clips) == [0, 1] and {i for i, _, _ in parts} == {0, 1}
    for i, t, p in parts:
        t_clip, clip = clips[i]
        assert t <= t_clip and p.artist == clip.artist and p.sample_rate == clip.take.sample_rate
        assert clip.take.start_sample <= p.start_sample
        assert p.start_sample + p.audio.shape[1] <= clip.take.start_sample + clip.take.audio.shape[1]
        assert p.audio.shape[0] == clip.take.audio.shape[0] and np.abs(p.audio).max() > 0.01
    assert [e[0] for e in events][0] == "part"  # the first audio: a phrase, before any finished clip
    b.close()
