"""Instrumental analysis on short numpy-synthesised instrumentals (no soundfont): key, chords
per beat, beat grid with and without the tempo map, and the degenerate inputs (silence, noise)."""
from __future__ import annotations

import numpy as np
import pytest

from host_bridge.core.model import TempoMap
from inference.analysis import analyze
from tests.synth_music import POP, render

SR = 22050


@pytest.fixture(scope="module")
def pop_4_4() -> np.ndarray:
    return render(POP * 3, bpm=120.0, sr=SR)


def _majmin_hits(an, truth: list[tuple[int, str]], beats_per_bar: int) -> float:
    hits = 0
    total = 0
    for bar, (root, q) in enumerate(truth):
        for k in range(beats_per_bar):
            qn = an.tempo_map.qn_at_bar(bar + 1) + k * (4.0 / an.tempo_map.meters[0].denominator)
            c = an.chord_at(qn + 0.05)
            total += 1
            hits += int(c.root == root and c.majmin.endswith("maj" if q == "maj" else "min"))
    return hits / total


def test_key_and_chords_with_the_sessions_tempo_map(pop_4_4: np.ndarray) -> None:
    an = analyze(pop_4_4, SR, tempo_map=TempoMap.constant(120.0))
    assert an.key.name == "C major"
    assert an.grid.source == "tempo_map" and an.grid.agreement > 0.5
    assert _majmin_hits(an, POP * 3, 4) >= 0.75
    assert [c.label for c in an.chords[:16:4]] == ["C", "G", "Am", "F"]
    assert an.bars == 12 and not an.warnings
    assert all(0.0 <= c.confidence <= 1.0 for c in an.chords)


def test_beats_estimated_without_a_tempo_map(pop_4_4: np.ndarray) -> None:
    an = analyze(pop_4_4, SR)
    assert an.grid.source == "estimated"
    assert an.grid.bpm == pytest.approx(120.0, rel=0.02)       # not 60 or 240: the meter resolves it
    assert (an.grid.numerator, an.grid.denominator) == (4, 4)
    # the first downbeat sits on bar 1 of the render (t = 0), within 40 ms
    assert min(abs(t) for t in an.grid.downbeats_s) < 0.04
    assert an.key.name == "C major"


def test_waltz_meter_and_tempo_estimated() -> None:
    audio = render([(9, "min"), (2, "min"), (4, "maj"), (9, "min")] * 3, bpm=150.0, meter=(3, 4), sr=SR)
    an = analyze(audio, SR)
    assert an.grid.bpm == pytest.approx(150.0, rel=0.02)
    assert (an.grid.numerator, an.grid.denominator) == (3, 4)
    assert an.key.name == "A minor"


@pytest.mark.parametrize("sr", [44100, 48000])
def test_session_rates_give_the_same_key(sr: int) -> None:
    audio = render(POP * 2, bpm=100.0, sr=sr)
    an = analyze(audio, sr, tempo_map=TempoMap.constant(100.0))
    assert an.key.name == "C major"
    assert an.bars == 8


def test_silence_gives_a_default_key_and_a_warning() -> None:
    an = analyze(np.zeros((2, SR * 4), np.float32), SR)
    assert an.key.name == "C major" and an.key.confidence == 0.0
    assert any("silent" in w for w in an.warnings)
    assert all(c.root == -1 for c in an.chords)


def test_noise_is_atonal_with_a_warning() -> None:
    rng = np.random.default_rng(0)
    an = analyze((0.2 * rng.standard_normal((1, SR * 6))).astype(np.float32), SR, tempo_map=TempoMap.constant(120.0))
    assert an.key.name == "C major"
    assert any("no clear pitch" in w for w in an.warnings)


def test_zero_length_audio_is_silent_not_a_crash() -> None:
    an = analyze(np.zeros((1, 0), np.float32), SR)
    assert any("silent" in w for w in an.warnings)


def test_tempo_map_offset_by_half_a_beat_is_reported(pop_4_4: np.ndarray) -> None:
    an = analyze(pop_4_4, SR, tempo_map=TempoMap.constant(120.0, offset_s=0.13))
    good = analyze(pop_4_4, SR, tempo_map=TempoMap.constant(120.0))
    assert an.grid.agreement < good.grid.agreement
