"""An artist's performance habits applied to the Score before any engine sings it.

Engine-independent: transposition (the artist's written-to-sung interval) and swing (off-beat
eighths pushed late, the note before them lengthened). Timing offset (ahead/behind) is applied
at placement (produce stage); vibrato, scoops and portamento live in the pitch contour.
"""
from __future__ import annotations

from dataclasses import replace

from host_bridge.core.model import Score
from host_bridge.core.artists import Artist

SWING_FULL_QN = 1.0 / 6.0
"""Delay of an off-beat eighth at swing 1.0: from 1/2 to 2/3 of the beat (triplet feel)."""


def apply_performance(score: Score, artist: Artist) -> Score:
    """``score`` as ``artist`` sings it: transposed by ``artist.transpose`` semitones and swung
    by ``artist.style.swing``. Returns ``score`` itself when there is nothing to do."""
    swing = artist.style.swing
    if not artist.transpose and swing <= 0 or not score.notes:
        return score
    notes = [replace(n, pitch=n.pitch + artist.transpose) for n in score.notes]
    if swing > 0:
        d = swing * SWING_FULL_QN
        for i, n in enumerate(notes):
            frac = n.onset % 1.0
            if abs(frac - 0.5) > 1e-3 or n.duration <= d + 1e-6:
                continue
            notes[i] = replace(n, onset=n.onset + d, duration=n.duration - d)
            if i > 0 and abs(notes[i - 1].end - n.onset) < 1e-6:
                notes[i - 1] = replace(notes[i - 1], duration=notes[i - 1].duration + d)
    return Score(tuple(notes), score.tempo_map, score.lines, score.sections)
