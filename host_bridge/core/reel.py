"""Audition clips and the A/B reel, torch-free: the sidecar streams each artist's clip as it is
ready (and, when asked, each clip's phrases before that, as :class:`ClipPart` pieces); the CLI
writes the clips and puts the reel together over the instrumental.

Audio is float32 [C, T] at the clips' sample rate, as everywhere.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from host_bridge.core.errors import InputError
from host_bridge.core.model import Take

PEAK_CEILING = 10 ** (-1.0 / 20)
"""-1 dBFS: the loudest sample a stem, a clip or the reel may hold (headroom for inter-sample peaks)."""
AB_GAP_S = 0.6
"""Silence between clips in the A/B reel."""


@dataclass
class Clip:
    """One artist's rendition of the auditioned section."""

    artist: str
    take: Take
    """The clip as a Take: ``audio`` float32 [C, T] (dry, processed) and ``wet`` at the session
    rate; ``start_sample`` is the section's session position."""
    index: int
    """Position of the artist in the request (the A/B order)."""
    ready_s: float
    """Seconds from the start of the audition until this clip was ready."""

    def mix(self) -> np.ndarray:
        """Dry + wet, float32 [C, T], peak <= -1 dBFS: what the musician hears."""
        y = self.take.audio + (self.take.wet if self.take.wet is not None else 0.0)
        peak = float(np.max(np.abs(y))) if y.size else 0.0
        return (y * (PEAK_CEILING / peak) if peak > PEAK_CEILING else y).astype(np.float32)


@dataclass(frozen=True)
class ClipPart:
    """A piece of one artist's clip (one rendered phrase) streamed before the clip is finished, so
    playback can start; the finished clip replaces the pieces (it has the vocal chain)."""

    artist: str
    clip_index: int
    """The clip's position in the request (the A/B order)."""
    part: int
    """0, 1, ... in the order the pieces were rendered."""
    audio: np.ndarray
    """float32 [C, T] dry, at the preview level of a take's streamed chunks."""
    sample_rate: int
    start_sample: int
    """Where the piece starts in the session."""
    ready_s: float
    """Seconds from the start of the audition until this piece was ready."""


def ab_reel(clips: Sequence[Clip], instrumental: np.ndarray | None, instrumental_start: int = 0,
            gap_s: float = AB_GAP_S, vocal_gain_db: float = 0.0) -> tuple[np.ndarray, list[tuple[str, float]]]:
    """The A/B reel: each clip over its stretch of the instrumental, in request order, separated by
    ``gap_s`` of silence. ``instrumental`` float32 [C, T] at the clips' rate whose sample 0 sits at
    session sample ``instrumental_start`` (the request's ``start_sample``), or None for the vocals alone.
    Returns (reel float32 [C, T], [(artist, start second in the reel)])."""
    if not clips:
        raise InputError("no clips to put in an A/B reel", "audition at least one artist")
    sr = clips[0].take.sample_rate
    ch = max(c.take.audio.shape[0] for c in clips)
    if instrumental is not None:
        ch = max(ch, instrumental.shape[0])
    parts: list[np.ndarray] = []
    marks: list[tuple[str, float]] = []
    pos = 0
    g = np.float32(10 ** (vocal_gain_db / 20))
    for c in sorted(clips, key=lambda c: c.index):
        v = c.mix() * g
        seg = np.zeros((ch, v.shape[1]), np.float32)
        seg += v if v.shape[0] == ch else np.repeat(v[:1], ch, axis=0)
        if instrumental is not None:
            s0 = max(0, c.take.start_sample - instrumental_start)
            inst = instrumental[:, s0:s0 + v.shape[1]]
            inst = inst if inst.shape[0] == ch else np.repeat(inst[:1], ch, axis=0)
            seg[:, :inst.shape[1]] += inst
        marks.append((c.artist, pos / sr))
        parts += [seg, np.zeros((ch, int(gap_s * sr)), np.float32)]
        pos += seg.shape[1] + int(gap_s * sr)
    reel = np.concatenate(parts[:-1], axis=1)
    peak = float(np.max(np.abs(reel))) if reel.size else 0.0
    if peak > PEAK_CEILING:
        reel *= PEAK_CEILING / peak
    return np.ascontiguousarray(reel, np.float32), marks
