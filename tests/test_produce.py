"""produce stage: phrases land at the right session sample, the stem has exactly the asked length
and rate, the peak is safe, and nothing is lost at the edges."""
from __future__ import annotations

import numpy as np
import pytest

from host_bridge.core.model import Note
from inference.engines.base import RenderedPhrase
from inference.produce import PEAK_CEILING, Producer
from host_bridge.core.artists import get_artist

ENGINE_SR = 24000


def _click_phrase(at_s: float, start_s: float, seconds: float = 1.0) -> RenderedPhrase:
    """A phrase whose audio starts at ``start_s`` with a tone burst starting at ``at_s``."""
    x = np.zeros(int(seconds * ENGINE_SR), np.float32)
    i = int(round((at_s - start_s) * ENGINE_SR))
    t = np.arange(int(0.2 * ENGINE_SR)) / ENGINE_SR
    x[i:i + len(t)] = 0.5 * np.sin(2 * np.pi * 440 * t) * np.hanning(len(t))
    return RenderedPhrase(x[None], ENGINE_SR, start_s, (Note(0, 1, 69, "la"),))


@pytest.mark.parametrize("sr", [44100, 48000, 96000])
def test_phrase_lands_on_its_session_sample(sr):
    length = int(3.0 * sr)
    prod = Producer(sr, length, 0, 2, get_artist("alpha"))
    chunk, at = prod.add(_click_phrase(at_s=1.5, start_s=1.2))
    y = prod.finish()
    assert y.shape == (2, length) and y.dtype == np.float32
    env = np.abs(y[0])
    centre = np.sum(np.arange(length) * env) / np.sum(env)
    assert abs(centre / sr - 1.6) < 0.5e-3  # hann burst centred at 1.5 + 0.1 s
    assert at == int(round(1.2 * sr)) and chunk.shape[0] == 2
    assert np.max(np.abs(y)) <= PEAK_CEILING + 1e-6


def test_stem_starting_later_in_the_session_is_shifted():
    sr = 48000
    prod = Producer(sr, 2 * sr, start_sample=sr, channels=1, artist=get_artist("alpha"))
    _, at = prod.add(_click_phrase(at_s=1.5, start_s=1.2))
    y = prod.finish()
    env = np.abs(y[0])
    centre = np.sum(np.arange(len(env)) * env) / np.sum(env)
    assert abs(centre / sr - 0.6) < 0.5e-3
    assert at == int(round(1.2 * sr))


def test_phrase_beyond_the_end_is_cut_not_overflowed():
    sr = 48000
    prod = Producer(sr, sr, 0, 1, get_artist("alpha"))
    prod.add(_click_phrase(at_s=0.95, start_s=0.9))
    y = prod.finish()
    assert y.shape == (1, sr) and prod.dropped_s > 0


def test_loud_input_is_limited_and_silence_stays_silent():
    sr = 44100
    prod = Producer(sr, sr, 0, 1, get_artist("alpha"))
    loud = RenderedPhrase(np.full((1, 12000), 5.0, np.float32) * np.sin(np.arange(12000) / 3)[None].astype(np.float32),
                          ENGINE_SR, 0.1, ())
    prod.add(loud)
    assert np.max(np.abs(prod.finish())) <= PEAK_CEILING + 1e-6
    quiet = Producer(sr, sr, 0, 1, get_artist("alpha")).finish()
    assert not quiet.any()


@pytest.mark.parametrize("sr", [44100, 48000])
def test_joined_pieces_are_one_phrase_with_no_seam(sr):
    """A phrase streamed in two cross-faded pieces (as the kokoro engine sends a long first
    phrase) gives the stem the whole phrase would: no fade or breath at the join, one gain."""
    artist = get_artist("alpha")
    t = np.arange(int(2.0 * ENGINE_SR)) / ENGINE_SR
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    cut, n_join = int(0.9 * ENGINE_SR), 960
    a = tone[:cut + n_join].copy()
    a[cut:] *= np.linspace(1, 0, n_join, dtype=np.float32)
    b = tone[cut:].copy()
    b[:n_join] *= np.linspace(0, 1, n_join, dtype=np.float32)
    notes = (Note(0, 1, 60, "la"), Note(1, 1, 72, "la"))
    pitches = (60.0, 72.0)
    p1 = RenderedPhrase(a[None], ENGINE_SR, 0.5, notes[:1], joins_next=True, phrase_pitches=pitches)
    p2 = RenderedPhrase(b[None], ENGINE_SR, 0.5 + cut / ENGINE_SR, notes[1:], joins_previous=True,
                        phrase_pitches=pitches)
    whole = RenderedPhrase(tone[None], ENGINE_SR, 0.5, notes)
    outs = []
    for phs in ([p1, p2], [whole]):
        prod = Producer(sr, int(3.0 * sr), 0, 1, artist)
        for ph in phs:
            prod.add(ph)
        outs.append(prod.buffer[0].copy())
    split, ref = outs
    j = int((0.5 + cut / ENGINE_SR) * sr)
    seam = slice(j - int(0.05 * sr), j + int(0.1 * sr))
    assert np.max(np.abs(split[seam] - ref[seam])) < 0.01 * np.max(np.abs(ref))
    assert np.max(np.abs(split - ref)) < 0.01 * np.max(np.abs(ref))
