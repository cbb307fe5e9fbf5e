"""The artist's vocal chain: inserts on the dry stem, sends rendered to a separate wet stem.

    dry -> EQ -> de-esser -> compressor -> saturation            (the stem the DAW gets)
    processed -> reverb send, delay send (100% wet, summed)       (the wet stem, for its own track)

Built from :class:`host_bridge.core.artists.VocalChain` with pedalboard; the de-esser is a split-band gain
computer here (pedalboard has none). Float32 ``[C, T]`` in, same shape out; nothing adds latency
to the dry path (placement stays sample-exact). Breath and dynamics are phrase-level habits,
applied as phrases are placed (:func:`breath_noise`, :func:`phrase_gain`).
"""
from __future__ import annotations

import numpy as np
from pedalboard import (Compressor, Delay, Distortion, Gain, HighpassFilter, HighShelfFilter, LowpassFilter,
                        LowShelfFilter, Pedalboard, PeakFilter, Plugin, Reverb)

from host_bridge.core.artists import Artist, VocalChain

BREATH_S = 0.28
"""Length of an in-breath before a phrase."""
BREATH_MIN_GAP_S = 0.45
"""A phrase breathes in only after a rest at least this long."""


def _eq_plugin(band: dict[str, float | str]) -> Plugin:
    t, hz = band["type"], float(band["hz"])
    q = float(band.get("q", 0.707))
    g = float(band.get("gain_db", 0.0))
    if t == "highpass":
        return HighpassFilter(cutoff_frequency_hz=hz)
    if t == "lowshelf":
        return LowShelfFilter(cutoff_frequency_hz=hz, gain_db=g, q=q)
    if t == "highshelf":
        return HighShelfFilter(cutoff_frequency_hz=hz, gain_db=g, q=q)
    return PeakFilter(cutoff_frequency_hz=hz, gain_db=g, q=q)


def deess(x: np.ndarray, sr: int, hz: float, threshold_db: float, max_reduction_db: float) -> np.ndarray:
    """Split-band de-esser: the band above ``hz`` is turned down where its level (5 ms RMS,
    fast attack, 60 ms release) passes ``threshold_db``, by at most ``max_reduction_db``."""
    if x.shape[-1] == 0 or hz >= sr / 2 * 0.95:
        return x
    band = HighpassFilter(cutoff_frequency_hz=hz)(x, sr).astype(np.float32)
    hop = max(1, int(0.005 * sr))
    e = np.sqrt(np.mean(band ** 2, axis=0))
    n = int(np.ceil(len(e) / hop))
    blocks = np.sqrt(np.mean(np.pad(e ** 2, (0, n * hop - len(e))).reshape(n, hop), axis=1))
    lvl = 20 * np.log10(blocks + 1e-9)
    red = np.clip(lvl - threshold_db, 0.0, max_reduction_db)
    rel = np.exp(-0.005 / 0.06)
    for i in range(1, n):  # instant attack, exponential release
        red[i] = max(red[i], red[i - 1] * rel)
    g = 10 ** (-np.repeat(red, hop)[: x.shape[-1]] / 20)
    return (x - band + band * g[None, :]).astype(np.float32)


def insert_chain(chain: VocalChain, sr: int) -> tuple[Pedalboard, Pedalboard]:
    """(before de-essing, after de-essing) boards of the insert path."""
    pre = Pedalboard([_eq_plugin(b) for b in chain.eq])
    post: list[Plugin] = []
    if chain.compressor is not None:
        c = chain.compressor
        post.append(Compressor(threshold_db=c.get("threshold_db", -18.0), ratio=c.get("ratio", 3.0),
                               attack_ms=c.get("attack_ms", 5.0), release_ms=c.get("release_ms", 80.0)))
        if c.get("makeup_db", 0.0):
            post.append(Gain(gain_db=c["makeup_db"]))
    return pre, Pedalboard(post)


def process_inserts(x: np.ndarray, sr: int, chain: VocalChain) -> np.ndarray:
    """Dry stem float32 [C, T] -> the processed dry stem (same shape)."""
    if x.shape[-1] == 0:
        return x
    pre, post = insert_chain(chain, sr)
    y = pre(x, sr, reset=True).astype(np.float32) if len(pre) else x
    if chain.deesser is not None:
        d = chain.deesser
        y = deess(y, sr, d.get("hz", 6000.0), d.get("threshold_db", -30.0), d.get("max_reduction_db", 8.0))
    if len(post):
        y = post(y, sr, reset=True).astype(np.float32)
    if chain.saturation is not None:
        s = chain.saturation
        mix = float(s.get("mix", 0.3))
        drive = float(s.get("drive_db", 6.0))
        sat = Distortion(drive_db=drive)(y, sr, reset=True) * 10 ** (-drive / 20)
        y = ((1 - mix) * y + mix * sat).astype(np.float32)
    return np.ascontiguousarray(y, np.float32)


def render_sends(x: np.ndarray, sr: int, chain: VocalChain) -> np.ndarray | None:
    """The wet stem float32 [C, T] (reverb + delay returns, 100% wet) of the processed stem ``x``,
    or None when the chain has no sends."""
    if not chain.has_sends or x.shape[-1] == 0:
        return None
    wet = np.zeros_like(x)
    if chain.reverb is not None:
        r = chain.reverb
        src = x * np.float32(10 ** (r.get("send_db", -12.0) / 20))
        pd = int(r.get("predelay_ms", 0.0) / 1000 * sr)
        if pd:
            src = np.pad(src, ((0, 0), (pd, 0)))[:, : x.shape[-1]]
        rv = Reverb(room_size=r.get("room_size", 0.5), damping=r.get("damping", 0.5), wet_level=1.0,
                    dry_level=0.0, width=r.get("width", 1.0))
        wet += rv(src, sr, reset=True).astype(np.float32)
    if chain.delay is not None:
        d = chain.delay
        src = x * np.float32(10 ** (d.get("send_db", -18.0) / 20))
        board = Pedalboard([Delay(delay_seconds=d.get("time_s", 0.375), feedback=d.get("feedback", 0.3), mix=1.0),
                            LowpassFilter(cutoff_frequency_hz=d.get("lowpass_hz", 6000.0))])
        wet += board(src, sr, reset=True).astype(np.float32)
    return np.ascontiguousarray(wet, np.float32)


def phrase_gain(artist: Artist, pitches: list[float]) -> float:
    """Linear gain of a phrase from the artist's dynamics: higher phrases louder, up to
    ``dynamics_db`` between the bottom and the top of the artist's range."""
    db = artist.style.dynamics_db
    if db <= 0 or not pitches:
        return 1.0
    pos = (float(np.mean(pitches)) - artist.low) / max(1.0, artist.high - artist.low)
    return float(10 ** (db * (np.clip(pos, 0.0, 1.0) - 0.5) / 20))


def breath_noise(sr: int, level: float, seed: int) -> np.ndarray:
    """An in-breath float32 [T] (BREATH_S long): band-passed noise, rise-and-fall envelope, at
    ``level`` x about -14 dB of an engine's dry phrase level (before the stem's levelling)."""
    n = int(BREATH_S * sr)
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(n).astype(np.float32)[None, :]
    board = Pedalboard([HighpassFilter(cutoff_frequency_hz=900.0), LowpassFilter(cutoff_frequency_hz=5500.0)])
    y = board(noise, sr, reset=True)[0]
    env = np.sin(np.linspace(0, np.pi, n)) ** 1.5
    y = y * env / (np.sqrt(np.mean(y ** 2)) + 1e-9)
    return (y * 0.05 * 10 ** (-14 / 20) * level).astype(np.float32)
