"""Is a take still on the session's grid? Compares the tempo map a take was sung to with the
session's current one, over the take's bars."""
from __future__ import annotations

from dataclasses import dataclass

from host_bridge.daw.ardour.records import TakeRecord
from host_bridge.daw.ardour.session import ArdourSession
from host_bridge.core.model import TempoMap

STALE_TOLERANCE_S = 0.0005
"""A bar line that moved less than this (relative to the capture start) is not a change."""


@dataclass(frozen=True)
class StaleTake:
    record: TakeRecord
    state: str
    """"stale" (the captured bars changed length or meter: sing again), "moved" (only shifted:
    the region followed its bar), "missing" (the region was deleted), or "ok"."""
    max_shift_ms: float


def staleness(session: ArdourSession, rec: TakeRecord) -> StaleTake:
    """Where the take's bar lines are now against where they were when it was sung."""
    if session.region_by_id(rec.region_id) is None:
        return StaleTake(rec, "missing", 0.0)
    sr = session.sample_rate
    now = [session.bar_sample(b) for b in range(rec.bars[0], rec.bars[1] + 2)]
    then = rec.bar_samples
    rel = max(abs((a - now[0]) - (b - then[0])) for a, b in zip(now, then)) / sr
    shift = max(abs(a - b) for a, b in zip(now, then)) / sr
    meters_now = [session.tempo_map.meter_at_bar(b) for b in range(rec.bars[0], rec.bars[1] + 1)]
    old = TempoMap.from_dict(rec.tempo_map)
    meters_then = [old.meter_at_bar(b) for b in range(rec.bars[0], rec.bars[1] + 1)]
    same_meters = [(m.numerator, m.denominator) for m in meters_now] == [(m.numerator, m.denominator)
                                                                         for m in meters_then]
    if rel > STALE_TOLERANCE_S or not same_meters or len(now) != len(then):
        state = "stale"
    elif shift > STALE_TOLERANCE_S:
        state = "moved"
    else:
        state = "ok"
    return StaleTake(rec, state, 1000.0 * max(rel, shift))
