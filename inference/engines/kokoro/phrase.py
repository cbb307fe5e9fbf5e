"""One phrase sung: the token plan timed, Kokoro's render, and the WORLD pass that re-times and
re-pitches it.

Per phrase: syllables -> Kokoro symbols (:mod:`.plan`), the probe model gives spoken durations
and energy, the plan places every symbol in time (vowel on the beat; stress marks and word
spaces keep their spoken length), the control model renders with those durations (long vowels
capped at ``VOWEL_RENDER_FRAMES``, after a spoken-length lead-in that is cut off), an F0 curve
inside the voice's comfortable range and a held energy curve, and the WORLD pass (:mod:`.world`)
re-times it to the exact plan (holding the long vowels) and imposes the score's pitch.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator

import numpy as np

from host_bridge.core.model import Note, Score
from host_bridge.core.model.language import is_english
from inference.engines.base import RenderedPhrase
from host_bridge.core.artists import Artist

from . import model as km
from .contour import TimedNote, contour_midi, midi_to_hz
from .phones import SONORANTS, VOICED_OBSTRUENTS, VOWELS
from .plan import RELEASE_S, Plan, Token, attach_symbols, build_tokens, build_units, place, to_frames
from .register import render_pitches
from .sessions import Sessions, vocode
from .voices import VoiceBank
from .world import FRAME_PERIOD_MS, WarpSpec, world_resynth

FADE_IN_S = 0.01
LEAD_S = 1.5
"""Streaming: the first phrase of a render that runs on past ``LEAD_S + LEAD_MIN_REST_S`` is
vocoded in two windows and yielded in two pieces, the first ending near ``LEAD_S`` into the
phrase (at a consonant where one is near), so a take's first audio costs the lead-in pad and
~2 s of vocoding instead of the whole phrase's."""
LEAD_MIN_REST_S = 1.5
LEAD_CONTEXT_FRAMES = 32
"""Decoder frames (25 ms) a window reads past its piece on each side: the vocoder's convolutions
and instance norms see the neighbourhood, so the two windows agree across the join."""
PAD_FRAMES = 30
"""Decoder frames (25 ms) of the leading pad token rendered before a phrase and cut off again.
Kokoro's own lead-in before speech is 0.4-0.5 s; with a bare 50 ms the first consonant of each
line was lost ("Heaven" for "Seven") and the whole phrase was less clear (the decoder's
instance norms see the silence too); 30 frames read best over the benchmark songs. The vocoder
renders the whole pad too: with less of it vocoded, line-initial words were lost."""
VOWEL_RENDER_FRAMES = 14
"""Longest a vowel is rendered (25 ms frames; 0 = as long as it is sung); the WORLD pass holds
it for the rest of its note (only its steady middle is stretched, see ``warp_breakpoints``).
Most of a sung phrase is held vowel, so this cuts what the vocoder renders. Rendered shorter
(150 ms), a vowel is mostly its transitions into and out of its consonants, and the stretched
middle is coloured by them: heart's "keep" was heard "cute", "fog" "fun", "soup" "zoom"
(unguessable tuning songs ~23 % WER at 6 frames, ~16 % at 14). English only: see
``vowel_render_frames``."""
VOWEL_RENDER_FRAMES_PURE = 6
"""Longest a vowel is rendered in the other languages (pure vowels, no English glides into their
consonants): at 14 frames Whisper read the Romance songs far worse than at 6 (Spanish 115 vs 64 %,
Portuguese 142 vs 77 %, French 98 vs 75 %, Italian 57 vs 40 %, same runs' code and seed)."""
VOWEL_EDGE_S = 0.05
HELD_ROLES = ("vowel", "glide", "stress")
"""Token roles that are part of a held vowel: always voiced, held at the vowel level, their
aperiodicity capped in the WORLD pass."""
OUT_FRAME_S = FRAME_PERIOD_MS / 1000.0
"""One WORLD-pass frame (5 ms)."""
JOIN_FRAMES = 8
"""Output frames (5 ms) the two pieces overlap, cross-faded (40 ms)."""


def _voiced(tok: Token) -> bool:
    return tok.role in HELD_ROLES or (
        tok.sounding and (tok.ch in SONORANTS or tok.ch in VOICED_OBSTRUENTS or tok.ch in VOWELS))


def warp_breakpoints(src_tok: np.ndarray, dst_tok: np.ndarray, tokens: list[Token]
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Render -> output time map for the WORLD pass: token boundaries, plus, inside a vowel the
    output holds longer than the render, breakpoints ``VOWEL_EDGE_S`` in from each end, so the
    vowel's transitions into and out of its consonants keep their spoken speed and only its
    steady middle is stretched."""
    src, dst = [float(src_tok[0])], [float(dst_tok[0])]
    for k, t in enumerate(tokens):
        s0, s1, d0, d1 = src_tok[k], src_tok[k + 1], dst_tok[k], dst_tok[k + 1]
        if t.role == "vowel" and d1 - d0 > s1 - s0 + 1e-6 and s1 - s0 > 0:
            e = min(VOWEL_EDGE_S, (s1 - s0) / 3)
            src += [s0 + e, s1 - e]
            dst += [d0 + e, d1 - e]
        src.append(float(s1))
        dst.append(float(d1))
    return np.array(src), np.array(dst)


def voiced_tokens(tokens: list[Token]) -> np.ndarray:
    """Which tokens are sung with pitch: vowels (and the stress mark that starts one), voiced
    consonants, and a word space between two voiced sounds (legato across the words; an unvoiced
    break before a vowel-initial word, a glottal onset, read no better overall)."""
    v = np.array([_voiced(t) for t in tokens])
    for k, t in enumerate(tokens):
        if t.role == "space" and 0 < k < len(tokens) - 1:
            v[k] = bool(v[k - 1] and v[k + 1])
    return v


def energy_levels(tokens: list[Token], nat_frames: np.ndarray, nat_energy: np.ndarray) -> np.ndarray:
    """Energy level per token: its spoken level, held (vowels floored near the phrase's typical
    vowel level so that quiet or phrase-final vowels do not drop out)."""
    c = np.concatenate([[0], np.cumsum(np.rint(nat_frames).astype(np.int64))]) * 2
    lev = np.zeros(len(tokens))
    hi = np.zeros(len(tokens))
    for k in range(len(tokens)):
        seg = nat_energy[c[k]:c[k + 1]]
        if len(seg):
            lev[k] = float(np.median(seg))
            hi[k] = float(np.percentile(seg, 80))
    vow = [hi[k] for k, t in enumerate(tokens) if t.role == "vowel"]
    vref = float(np.median(vow)) if vow else float(np.max(hi))
    for k, t in enumerate(tokens):
        if t.role in HELD_ROLES:
            lev[k] = max(hi[k], vref - 1.0)
        elif t.sounding and t.ch in SONORANTS:
            lev[k] = max(lev[k], vref - 2.0)
    return lev


def fade(audio: np.ndarray, sample_rate: int, attack: bool = True, release: bool = True) -> np.ndarray:
    n_in = min(len(audio), int(FADE_IN_S * sample_rate)) if attack else 0
    n_out = min(len(audio), int(RELEASE_S * sample_rate)) if release else 0
    out = audio.copy()
    if n_in:
        out[:n_in] *= np.linspace(0.0, 1.0, n_in, dtype=np.float32)
    if n_out:
        out[-n_out:] *= (0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, n_out))).astype(np.float32)
    return out


def lead_cut(tokens: list[Token], dst_b: np.ndarray, warp: tuple[np.ndarray, np.ndarray], n_out: int,
             n_dec: int) -> tuple[int, int, int] | None:
    """Where a first phrase is cut for streaming: (output frame of the cut, end of the first
    decoder window, start of the second), or None when the phrase is too short to gain.
    ``dst_b``: token start times in the output; ``warp``: (output, render) time breakpoints."""
    fp = OUT_FRAME_S
    if dst_b[-1] < LEAD_S + LEAD_MIN_REST_S:
        return None
    # a token boundary near LEAD_S, preferring one where an unvoiced sound begins
    best, best_cost = LEAD_S, 0.5
    for k in range(1, len(tokens)):
        d = float(dst_b[k])
        cost = abs(d - LEAD_S) + (0.0 if not _voiced(tokens[k]) else 0.25)
        if abs(d - LEAD_S) <= 0.6 and cost < best_cost:
            best, best_cost = d, cost
    k_s = int(round(best / fp))
    src_a = float(np.interp(k_s * fp, *warp))
    src_b1 = float(np.interp((k_s + JOIN_FRAMES) * fp, *warp))
    b1 = int(np.ceil(src_b1 / km.FRAME_S)) + LEAD_CONTEXT_FRAMES
    a2 = max(0, int(np.floor(src_a / km.FRAME_S)) - LEAD_CONTEXT_FRAMES)  # 0: the second window is the whole phrase
    if b1 >= n_dec or k_s + JOIN_FRAMES >= n_out:
        return None
    return k_s, b1, a2


@dataclass(frozen=True)
class Voice:
    """What a phrase is sung with: the engine's loaded parts and settings."""
    voices: VoiceBank
    vocab: dict[str, int]
    gen: Any
    """The torch generator, or None for the decoder graph."""
    correct_pitch: bool
    aperiodicity: str
    name: str = "kokoro"
    sample_rate: int = km.SAMPLE_RATE


@dataclass
class _Phrase:
    """A phrase planned and rendered by the control model's front, ready to vocode."""
    tokens: list[Token]
    sung_notes: tuple[Note, ...]
    sung: list[float]
    rnotes: list[TimedNote]
    snotes: list[TimedNote]
    voiced_tok: np.ndarray
    src_tok: np.ndarray
    dst_tok: np.ndarray
    src_b: np.ndarray
    dst_b: np.ndarray
    t0: float
    sv: np.ndarray
    asr: np.ndarray
    f0_in: np.ndarray
    energy_in: np.ndarray
    pad: int
    n_dec: int
    info: dict[str, Any]


def vowel_render_frames(language: str) -> int:
    """Longest a vowel of ``language`` is rendered before the WORLD pass holds it (25 ms frames;
    an empty language is the front end's English)."""
    return VOWEL_RENDER_FRAMES if is_english(language) else VOWEL_RENDER_FRAMES_PURE


def _plan(v: Voice, ses: Sessions, notes: list[Note], score: Score, artist: Artist, octave: int,
          seed: int) -> _Phrase:
    """Plan the phrase's tokens in time, and run the control model's front on them."""
    style = artist.style
    sung = [n.pitch + octave for n in notes]
    rend = render_pitches(sung, artist.render_low, artist.render_high)
    units = build_units(notes, score, sung)  # timing_offset_ms is applied at placement (produce)
    attach_symbols(units, v.vocab, score.language)
    tokens = build_tokens(units, v.vocab)
    plan = Plan(units, tokens)
    ids = np.array([[t.id for t in tokens]], np.int64)
    sv = v.voices.style_for(artist, len(tokens) - 2)
    speed = np.array([1.0], np.float32)
    nat_frames, _, nat_energy = ses.probe.run(None, {"tokens": ids, "style": sv, "speed": speed})
    nat_frames = np.asarray(nat_frames, np.float64).ravel()
    plan.bounds = place(plan, nat_frames * km.FRAME_S)
    frames = to_frames(plan.bounds, tokens, km.FRAME_S)
    cap = vowel_render_frames(score.language)
    if v.correct_pitch and cap:  # long vowels: rendered short, held by WORLD
        frames = np.array([min(f, cap) if t.role == "vowel" else f for f, t in zip(frames, tokens)], np.int64)
    src_tok = np.concatenate([[0.0], np.cumsum(frames)]) * km.FRAME_S
    dst_tok = plan.bounds - plan.bounds[0]
    src_b, dst_b = warp_breakpoints(src_tok, dst_tok, tokens)
    t0 = plan.bounds[0]
    # F0 and energy curves on the render's 12.5 ms grid
    n_f = int(2 * frames.sum())
    tok_of = np.repeat(np.arange(len(tokens)), 2 * frames)
    t_dst = np.interp((np.arange(n_f) + 0.5) * km.F0_FRAME_S, src_b, dst_b) + t0
    rnotes = [TimedNote(tn.start, tn.end, float(p)) for tn, p in zip((tn for u in units for tn in u.notes), rend)]
    snotes = [tn for u in units for tn in u.notes]
    voiced_tok = voiced_tokens(tokens)
    f0_render = midi_to_hz(contour_midi(rnotes, t_dst, style, seed)) * voiced_tok[tok_of]
    energy = energy_levels(tokens, nat_frames, np.asarray(nat_energy).ravel())[tok_of]
    energy = np.convolve(np.pad(energy, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    # the model renders a longer leading pad (cut off again in decode)
    pad = max(0, PAD_FRAMES - int(frames[0]))
    f0_in = np.concatenate([np.zeros(2 * pad), f0_render]).astype(np.float32)[None]
    energy_in = np.concatenate([np.full(2 * pad, energy[0]), energy]).astype(np.float32)[None]
    frames_in = frames.copy()
    frames_in[0] += pad
    asr = ses.front.run(None, {"tokens": ids, "style": sv, "speed": speed,
                               "durations": frames_in.astype(np.float32)[None]})[0]
    n_dec = int(asr.shape[2]) - pad
    info: dict[str, Any] = {
        "engine": v.name, "voice": dict(artist.voice), "octave_shift": octave,
        "pitch_shift_semitones": float(np.max(np.abs(np.asarray(sung) - rend))) if len(sung) else 0.0,
        "notes_shifted": int(np.sum(np.abs(np.asarray(sung) - rend) > 1e-6)),
        "render_range": [artist.render_low, artist.render_high],
        "tokens": len(tokens), "corrected": False, "decode_frames": n_dec,
    }
    return _Phrase(tokens, tuple(replace(n, pitch=p) for n, p in zip(notes, sung)), sung, rnotes, snotes,
                   voiced_tok, src_tok, dst_tok, src_b, dst_b, float(t0), sv, asr, f0_in, energy_in, pad, n_dec, info)


def _piece(v: Voice, audio: np.ndarray, start_s: float, notes: tuple[Note, ...], info: dict[str, Any],
           t_start: float, **join: Any) -> RenderedPhrase:
    info["render_s"] = round(time.perf_counter() - t_start, 4)
    info["audio_s"] = round(len(audio) / v.sample_rate, 4)
    return RenderedPhrase(audio[None, :], v.sample_rate, start_s, notes, info, **join)


def render_phrase(v: Voice, ses: Sessions, notes: list[Note], score: Score, artist: Artist, octave: int, seed: int,
                  cancel: threading.Event | None = None, lead: bool = False,
                  handoff: Callable[[], Sessions | None] | None = None) -> Iterator[RenderedPhrase]:
    """Render one phrase on ``ses`` (``lead``: cut for streaming, see ``LEAD_S``; ``handoff``:
    asked, once the first of two pieces is out, for the sessions the second renders on)."""
    t_start = time.perf_counter()
    ph = _plan(v, ses, notes, score, artist, octave, seed)
    info, pad = ph.info, ph.pad

    def decode(s: Sessions, a: int, b: int) -> np.ndarray:
        """Decoder frames [a, b) of the plan (the rendered pad before frame 0 is cut)."""
        y = vocode(s, v.gen, ph.asr, ph.f0_in, ph.energy_in, ph.sv, a + pad if a > 0 else 0, b + pad, cancel)
        return y[pad * km.HOP:] if a == 0 else y

    if not v.correct_pitch:
        t_dec = time.perf_counter()
        audio = decode(ses, 0, ph.n_dec)
        info["decode_s"] = round(time.perf_counter() - t_dec, 4)
        yield _piece(v, fade(audio, v.sample_rate), ph.t0, ph.sung_notes, info, t_start)
        return
    world = _world_pass(v, ph, artist, seed)
    info["corrected"] = True
    n_out = int(ph.dst_tok[-1] / OUT_FRAME_S)
    cut = lead_cut(ph.tokens, ph.dst_tok, (ph.dst_b, ph.src_b), n_out, ph.n_dec) if lead else None
    if cut is None:
        t_dec = time.perf_counter()
        audio = decode(ses, 0, ph.n_dec)
        info["decode_s"] = round(time.perf_counter() - t_dec, 4)
        t_world = time.perf_counter()
        audio = world(audio, 0, 0, n_out)
        info["world_s"] = round(time.perf_counter() - t_world, 4)
        yield _piece(v, fade(audio, v.sample_rate), ph.t0, ph.sung_notes, info, t_start)
        return
    yield from _two_pieces(v, ph, score, cut, n_out, world, decode, ses, handoff, t_start)


def _world_pass(v: Voice, ph: _Phrase, artist: Artist, seed: int) -> Any:
    """The WORLD pass for output frames [o0, o1) from a window decoded from frame ``dec_start``."""
    fp = OUT_FRAME_S
    style = artist.style
    n_tokens = len(ph.tokens)
    # analysis pitch on the render grid, target pitch on the output grid
    sub = int(round(km.FRAME_S / fp))  # output frames per decoder frame
    ta = np.arange(ph.n_dec * sub + 1) * fp
    tok_a = np.clip(np.searchsorted(ph.src_tok, ta, side="right") - 1, 0, n_tokens - 1)
    f0_a = midi_to_hz(contour_midi(ph.rnotes, np.interp(ta, ph.src_b, ph.dst_b) + ph.t0, style, seed))
    f0_a = f0_a * ph.voiced_tok[tok_a]
    n_out = int(ph.dst_tok[-1] / fp)
    to = np.arange(n_out) * fp
    tok_o = np.clip(np.searchsorted(ph.dst_tok, to, side="right") - 1, 0, n_tokens - 1)
    f0_o = midi_to_hz(contour_midi(ph.snotes, to + ph.t0, style, seed)) * ph.voiced_tok[tok_o]
    held = np.array([t.role in HELD_ROLES for t in ph.tokens])[tok_o]

    def world(audio: np.ndarray, dec_start: int, o0: int, o1: int) -> np.ndarray:
        off = dec_start * km.FRAME_S
        return world_resynth(audio, v.sample_rate, f0_a[dec_start * sub:],
                             WarpSpec(ph.src_b - off, ph.dst_b - o0 * fp), f0_o[o0:o1], held[o0:o1], v.aperiodicity,
                             formant_shift=artist.formant_shift)

    return world


def _two_pieces(v: Voice, ph: _Phrase, score: Score, cut: tuple[int, int, int], n_out: int, world: Any,
                decode: Any, ses: Sessions, handoff: Callable[[], Sessions | None] | None,
                t_start: float) -> Iterator[RenderedPhrase]:
    """A first phrase in two pieces, cross-faded over ``JOIN_FRAMES``: the first as soon as it
    is vocoded, the second (on ``handoff`` when given) after it."""
    fp = OUT_FRAME_S
    k_s, b1, a2 = cut
    t_cut = ph.t0 + k_s * fp
    first = tuple(n for n in ph.sung_notes if score.tempo_map.seconds_at(n.onset) < t_cut)
    pitches = tuple(float(p) for p in ph.sung)
    t_dec = time.perf_counter()
    y1 = world(decode(ses, 0, b1), 0, 0, min(n_out, k_s + JOIN_FRAMES))
    n_join = len(y1) - int(round(k_s * fp * v.sample_rate))
    y1 = fade(y1, v.sample_rate, release=False)
    y1[-n_join:] *= np.linspace(1.0, 0.0, n_join, dtype=np.float32)
    info1 = dict(ph.info, piece=1, pieces=2, decode_frames=b1, decode_s=round(time.perf_counter() - t_dec, 4))
    yield _piece(v, y1, ph.t0, first, info1, t_start, joins_next=True, phrase_pitches=pitches)
    lane = handoff() if handoff is not None else None
    ses2 = lane if lane is not None else ses  # the second piece renders in a lane, beside the next phrase
    t2 = time.perf_counter()
    y2 = world(decode(ses2, a2, ph.n_dec), a2, k_s, n_out)
    y2 = fade(y2, v.sample_rate, attack=False)
    y2[:n_join] *= np.linspace(0.0, 1.0, n_join, dtype=np.float32)
    info2 = dict(ph.info, piece=2, pieces=2, decode_frames=ph.n_dec - a2,
                 decode_s=round(time.perf_counter() - t2, 4))
    yield _piece(v, y2, t_cut, ph.sung_notes[len(first):], info2, t2, joins_previous=True, phrase_pitches=pitches)
