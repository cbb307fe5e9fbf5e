"""KokoroEngine: Kokoro-82M made to sing a Score, phrase by phrase.

Per phrase: syllables -> Kokoro symbols (:mod:`.plan`), the probe model gives spoken durations
and energy, the plan places every symbol in time (vowel on the beat; stress marks and word
spaces keep their spoken length), the control model renders with those durations (long vowels
capped at ``VOWEL_RENDER_FRAMES``, after a spoken-length lead-in that is cut off), an F0 curve
inside the voice's comfortable range and a held energy curve, and the WORLD pass (:mod:`.world`)
re-times it to the exact plan (holding the long vowels) and imposes the score's pitch. The
vocoder's convolution stack runs in torch where torch is installed (:mod:`.generator`, ~2x the
int8 onnxruntime graph on this CPU), else in onnxruntime.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from host_bridge.errors import CancelledError
from host_bridge.model import Note, Phonemes, Score, TempoMap
from inference.engines.base import RenderedPhrase
from inference.performance import apply_performance
from presets import Artist

from . import model as km
from .contour import TimedNote, contour_midi, midi_to_hz
from .phones import SONORANTS, VOICED_OBSTRUENTS, VOWELS
from .plan import RELEASE_S, Plan, Token, attach_symbols, build_tokens, build_units, place, to_frames
from .register import choose_octave, render_pitches
from .voice_tables import voice_bank
from .voices import VoiceBank
from .world import FRAME_PERIOD_MS, WarpSpec, world_resynth

log = logging.getLogger(__name__)


def _relay(cancel: threading.Event, stop: threading.Event) -> None:
    """Set ``stop`` when ``cancel`` is set; ends when ``stop`` is set."""
    while not stop.is_set():
        if cancel.wait(0.02):
            stop.set()


_ARENA_LOCK = threading.Lock()
_ARENA_SHARED = False


def _share_cpu_arena(ort: Any) -> None:
    """Register one CPU memory arena for the process (once), which the engine's sessions use
    instead of an arena each: two phrases vocoded side by side in the lane sessions, and the first
    phrase in the main ones, reuse the same buffers (peak RSS of a warm render, 2026-11-23: 500 MB
    without lanes, 800 MB with an arena per session, 660 MB shared)."""
    global _ARENA_SHARED
    with _ARENA_LOCK:
        if _ARENA_SHARED:
            return
        info = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
        ort.create_and_register_allocator(info, ort.OrtArenaCfg(0, -1, -1, -1))  # onnxruntime's defaults
        _ARENA_SHARED = True


@dataclass(frozen=True)
class _Sessions:
    """The onnxruntime sessions a phrase runs through, built for one intra-op thread count."""
    probe: Any
    """Spoken durations and energy of the phrase's tokens."""
    front: Any
    """Text features aligned to the planned durations."""
    phase: Any
    """The harmonic source's phase at a window's start."""
    control: Any
    """The decoder (the vocoder: most of the time), or None with the torch vocoder."""
    dfront: Any
    """With the torch vocoder: the decoder up to the generator (and the harmonic source)."""
    istft: Any
    """With the torch vocoder: the generator's output to audio."""
    threads: int

MAX_TOKENS = 480
"""Longest token sequence sent to the model at once (its limit is 510 with pads)."""
FADE_IN_S = 0.01
LEAD_S = 1.5
"""Streaming: the first phrase of a render that runs on past ``LEAD_S + LEAD_MIN_REST_S`` is
vocoded in two windows and yielded in two pieces, the first ending near ``LEAD_S`` into the
phrase (at a consonant where one is near), so a take's first audio costs the lead-in pad and
~2 s of vocoding instead of the whole phrase's (first chunk, benchmarks/transport.py: 0.97 s
median warm; 1.54 s with the cut at 2.0 s once the 0.75 s lead-in pad was added)."""
LEAD_MIN_REST_S = 1.5
LEAD_CONTEXT_FRAMES = 32
"""Decoder frames (25 ms) a window reads past its piece on each side: the vocoder's convolutions
and instance norms see the neighbourhood, so the two windows agree across the join."""
PAD_FRAMES = 30
"""Decoder frames (25 ms) of the leading pad token rendered before a phrase and cut off again.
Kokoro's own lead-in before speech is 0.4-0.5 s; with a bare 50 ms the first consonant of
each line was lost ("Heaven" for "Seven") and the whole phrase was less clear (the decoder's
instance norms see the silence too): in an ablation with spoken durations and long vowels, a
2-frame pad cost 14 points of Whisper WER. Benchmark songs, WER over all six: 28 % at 12
frames, 19 % at 20, 16.5 % at 30, 20 % at 40 (the meter's noise is +-4 on such a mean)."""
VOWEL_RENDER_FRAMES = 6
"""Longest a vowel is rendered (25 ms frames; 0 = as long as it is sung); the WORLD pass holds
it for the rest of its note (only its steady middle is stretched, see ``warp_breakpoints``).
Most of a sung phrase is held vowel, so this roughly halves what the vocoder renders, with no
loss of words measured (Whisper WER over the six benchmark songs 16.5 % uncapped, 19 % at 8
frames, 22 % at 12, 23 % at 5: within the meter's noise). 8 -> 6 frames: 7 % less to vocode;
six songs x three voices (gongitsune, tebukuro, nezumi), phrases rendered alone: mean WER
22.4 % at 8, 21.0 % at 6."""
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
    consonants, and a word space between two voiced sounds (legato across the words)."""
    v = np.array([_voiced(t) for t in tokens])
    for k, t in enumerate(tokens):
        if t.role == "space" and 0 < k < len(tokens) - 1:
            v[k] = bool(v[k - 1] and v[k + 1])
    return v


class KokoroEngine:
    """The embedded default singer. Sessions live on the object; build one per sidecar."""

    name = "kokoro"
    sample_rate = km.SAMPLE_RATE

    def __init__(self, threads: int = 2, *, cache_dir: Path | None = None, correct_pitch: bool = True,
                 aperiodicity: str = "rule", providers: list[str] | None = None, lanes: bool = True,
                 vocoder: str = "auto") -> None:
        """``threads``: onnxruntime intra-op threads. ``correct_pitch``: run the WORLD pass (exact
        timing and pitch; off = Kokoro's raw render, 25 ms timing grid, clamped register).
        ``aperiodicity``: "rule" or "d4c" (see :func:`.world.world_resynth`). ``lanes``: after
        the first piece of a render, ``threads`` phrases side by side on one thread each (on the
        CPU with 2+ threads; off: one phrase at a time on every thread; same samples). ``vocoder``:
        "torch" runs the generator's convolutions in torch (:mod:`.generator`; bf16 where the CPU
        has it: render RTF 0.184 vs 0.364 for the int8 graph, benchmarks/speed.py 2026-12-05), "onnx"
        the shipped int8 graph throughout,
        "auto" torch on the CPU when torch is installed (the standalone build has none)."""
        if vocoder not in ("auto", "torch", "onnx"):
            raise ValueError(f"unknown vocoder {vocoder!r}: use 'auto', 'torch' or 'onnx'")
        self.threads = threads
        self.lanes = lanes
        self.aperiodicity = aperiodicity
        self.cache_dir = cache_dir
        self.correct_pitch = correct_pitch
        self.providers = providers or ["CPUExecutionProvider"]
        self.vocoder = self._pick_vocoder(vocoder)
        self._gen: Any = None
        """The torch generator (weights shared by every session set), with the torch vocoder."""
        self._s: _Sessions | None = None
        """Sessions on ``threads`` intra-op threads: the first phrase of a render (first audio soonest)."""
        self._lane: _Sessions | None = None
        """Sessions on one intra-op thread, run from ``threads`` render lanes side by side (the rest
        of a render); built on first use (:meth:`_lane_sessions`), after a render's first audio."""
        self._files: km.ModelFiles | None = None
        self._vocab: dict[str, int] = {}
        self._voices: VoiceBank | None = None
        self._load_lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle
    def load(self) -> None:
        with self._load_lock:
            if self._s is not None:
                return
            t0 = time.perf_counter()
            self._files = km.ensure_models(self.cache_dir)
            if self.vocoder == "torch":
                from .generator import load_generator
                self._gen = load_generator(self._files.generator)
            self._s = self._sessions(self.threads)
            self._vocab = km.load_vocab()
            self._voices = voice_bank()
            log.info("Kokoro sessions loaded in %.2f s", time.perf_counter() - t0)

    def _pick_vocoder(self, want: str) -> str:
        if want == "onnx" or (want == "auto" and self.providers[0] != "CPUExecutionProvider"):
            return "onnx"
        from importlib.util import find_spec

        if find_spec("torch") is None:  # found, not imported: torch's import waits for load()
            if want == "torch":
                raise ImportError("the torch vocoder needs torch: pip install 'topline[sidecar]'")
            return "onnx"
        return "torch"

    @property
    def vocoder_precision(self) -> str:
        """What renders the vocoder's convolutions: "onnx int8", "torch bfloat16" or "torch float32"
        (torch's precision is known once loaded)."""
        return "onnx int8" if self.vocoder == "onnx" else f"torch {self._gen.dtype if self._gen is not None else '?'}"

    @property
    def _side_by_side(self) -> bool:
        return self.lanes and self.threads >= 2 and self.providers[0] == "CPUExecutionProvider"

    def _sessions(self, threads: int) -> _Sessions:
        """The four sessions on ``threads`` intra-op threads (on the CPU: in the shared arena)."""
        import onnxruntime as ort

        assert self._files is not None
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        if self.providers[0] == "CPUExecutionProvider":
            _share_cpu_arena(ort)
            so.add_session_config_entry("session.use_env_allocators", "1")
        f = self._files

        def session(m: Path) -> Any:
            return ort.InferenceSession(str(m), so, providers=self.providers)

        torch_voc = self.vocoder == "torch"
        return _Sessions(session(f.probe), session(f.front), session(f.phase),
                         None if torch_voc else session(f.decoder),
                         session(f.dfront) if torch_voc else None, session(f.istft) if torch_voc else None, threads)

    def _lane_sessions(self) -> _Sessions:
        """The one-thread sessions, built once on first use (~0.45 s on 2 cores: kept off the
        load, so a cold render's first audio does not wait for them)."""
        with self._load_lock:
            if self._lane is None:
                self._lane = self._sessions(1)
            return self._lane

    def warm_up(self) -> None:
        self.load()
        notes = (Note(0.0, 1.0, 60.0, "la", Phonemes(("l",), ("ɑ",), (), 2), 0, 0),
                 Note(1.0, 1.0, 62.0, "la", Phonemes(("l",), ("ɑ",), (), 2), 1, 0))
        score = Score(notes, TempoMap.constant(120))
        artist = Artist("warmup", "warmup", "kokoro", "", {"jf_alpha": 1.0}, 48, 67)
        for _ in self.render(score, artist):
            pass
        if self._side_by_side:  # the lanes' sessions too (built, and a session's first runs allocate)
            self._lane_sessions()
            for _ in self._render_phrase(list(score.notes), score, artist, 0, 0, lane=True):
                pass

    @property
    def voices(self) -> tuple[str, ...]:
        self.load()
        assert self._voices is not None
        return self._voices.names

    # ------------------------------------------------------------------ rendering
    def render(self, score: Score, artist: Artist, *, seed: int = 0,
               cancel: threading.Event | None = None) -> Iterator[RenderedPhrase]:
        """Sing ``score`` with ``artist``; yields one :class:`RenderedPhrase` per phrase (float32
        [1, T] at 24 kHz, dry), in time order; a long first phrase comes in two joined pieces
        (see ``LEAD_S``), so that streaming starts sooner."""
        self.load()
        assert self._voices is not None
        self._voices.table(artist)  # validate the voice before any work
        if not score.notes:
            return
        score = apply_performance(score, artist)
        octave = choose_octave([n.pitch for n in score.notes], artist.low, artist.high,
                               [n.duration for n in score.notes])
        if octave:
            log.info("singing the take %+d semitones (artist range %d-%d, melody %.0f-%.0f)", octave,
                     artist.low, artist.high, *score.pitch_range())
        jobs = [(part, seed + k) for k, phrase in enumerate(score.phrases()) for part in self._split_long(phrase)]
        self._check(cancel)
        if not self._side_by_side or len(jobs) < 2:
            for i, (part, sd) in enumerate(jobs):
                self._check(cancel)
                yield from self._render_phrase(part, score, artist, octave, sd, cancel, lead=i == 0)
            return
        # The first phrase's first piece alone on every thread (the first audio as soon as it can
        # be); then ``threads`` renders at a time, each on one thread (the first phrase's second
        # piece beside the next phrase, and so on), handed out in order; what does not fill the
        # lanes, on every thread. The vocoder gains ~1.45x from a second thread inside one run but
        # ~1.85x from two runs side by side (2 cores, 2026-11-23); the samples are the same either way.
        stop = threading.Event()  # set on cancel, or when the consumer stops: every run ends within ~50 ms
        relay = None
        if cancel is not None:
            relay = threading.Thread(target=_relay, args=(cancel, stop), name="kokoro-cancel-relay", daemon=True)
            relay.start()
        pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="kokoro-lane")
        try:
            first = self._render_phrase(jobs[0][0], score, artist, octave, jobs[0][1], stop, lead=True, handoff=True)
            piece = next(first)
            yield piece
            self._lane_sessions()
            # each task: (in a lane, on every thread)
            tasks: list[tuple[Callable[[], list[RenderedPhrase]], Callable[[], list[RenderedPhrase]]]] = []
            if piece.joins_next:  # the first phrase's second piece
                tasks.append((lambda: list(first), lambda: list(first)))
            tasks += [(partial(self._phrase_list, part, score, artist, octave, sd, stop, True),
                       partial(self._phrase_list, part, score, artist, octave, sd, stop, False)) for part, sd in jobs[1:]]
            paired = len(tasks) - len(tasks) % self.threads
            for fut in [pool.submit(lane) for lane, _ in tasks[:paired]]:
                while True:
                    self._check(cancel, stop)
                    try:
                        pieces = fut.result(timeout=0.02)
                        break
                    except TimeoutError:
                        continue
                yield from pieces
            for _, whole in tasks[paired:]:  # what does not fill the lanes
                self._check(cancel, stop)
                yield from whole()
        finally:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            if relay is not None:
                relay.join()

    def _phrase_list(self, part: list[Note], score: Score, artist: Artist, octave: int, seed: int,
                     stop: threading.Event, lane: bool) -> list[RenderedPhrase]:
        return list(self._render_phrase(part, score, artist, octave, seed, stop, lane=lane))

    @staticmethod
    def _check(cancel: threading.Event | None, stop: threading.Event | None = None) -> None:
        if cancel is not None and cancel.is_set():
            if stop is not None:
                stop.set()
            raise CancelledError("rendering was cancelled", "start a new take when ready")

    def _split_long(self, notes: list[Note]) -> list[list[Note]]:
        """Split a phrase whose token count would pass the model's limit (rare: a very long line)."""
        est = sum(2 + (len(n.phonemes.onset) + len(n.phonemes.nucleus) * 2 + len(n.phonemes.coda)) * 2
                  if n.phonemes else 0 for n in notes)
        if est <= MAX_TOKENS or len(notes) < 2:
            return [notes]
        mid = len(notes) // 2
        return self._split_long(notes[:mid]) + self._split_long(notes[mid:])

    def _render_phrase(self, notes: list[Note], score: Score, artist: Artist, octave: int,
                       seed: int, cancel: threading.Event | None = None,
                       lead: bool = False, lane: bool = False, handoff: bool = False) -> Iterator[RenderedPhrase]:
        """Render one phrase (``lead``: cut for streaming, see ``LEAD_S``; ``lane``: on the
        one-thread sessions, beside other phrases; ``handoff``: the first of two pieces on every
        thread, the second on the one-thread sessions)."""
        assert self._voices is not None and self._s is not None
        ses = self._lane if lane and self._lane is not None else self._s
        t_start = time.perf_counter()
        style = artist.style
        sung = [n.pitch + octave for n in notes]
        rend = render_pitches(sung, artist.render_low, artist.render_high)
        units = build_units(notes, score, sung)  # timing_offset_ms is applied at placement (produce)
        attach_symbols(units, self._vocab, score.language)
        tokens = build_tokens(units, self._vocab)
        plan = Plan(units, tokens)
        ids = np.array([[t.id for t in tokens]], np.int64)
        sv = self._voices.style_for(artist, len(tokens) - 2)
        speed = np.array([1.0], np.float32)
        nat_frames, _, nat_energy = ses.probe.run(None, {"tokens": ids, "style": sv, "speed": speed})
        nat_frames = np.asarray(nat_frames, np.float64).ravel()
        plan.bounds = place(plan, nat_frames * km.FRAME_S)
        frames = to_frames(plan.bounds, tokens, km.FRAME_S)
        if self.correct_pitch and VOWEL_RENDER_FRAMES:  # long vowels: rendered short, held by WORLD
            frames = np.array([min(f, VOWEL_RENDER_FRAMES) if t.role == "vowel" else f
                               for f, t in zip(frames, tokens)], np.int64)
        src_tok = np.concatenate([[0.0], np.cumsum(frames)]) * km.FRAME_S
        dst_tok = plan.bounds - plan.bounds[0]
        src_b, dst_b = warp_breakpoints(src_tok, dst_tok, tokens)
        t0 = plan.bounds[0]

        # F0 and energy curves on the render's 12.5 ms grid
        n_f = int(2 * frames.sum())
        tok_of = np.repeat(np.arange(len(tokens)), 2 * frames)
        t_src = (np.arange(n_f) + 0.5) * km.F0_FRAME_S
        t_dst = np.interp(t_src, src_b, dst_b) + t0
        rnotes: list[TimedNote] = []  # the pitches asked of Kokoro
        snotes: list[TimedNote] = []  # the pitches sung
        i = 0
        for u in units:
            for tn in u.notes:
                rnotes.append(TimedNote(tn.start, tn.end, float(rend[i])))
                snotes.append(tn)
                i += 1
        voiced_tok = voiced_tokens(tokens)
        f0_render = midi_to_hz(contour_midi(rnotes, t_dst, style, seed)) * voiced_tok[tok_of]
        energy = self._energy(tokens, nat_frames, np.asarray(nat_energy).ravel())[tok_of]
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
        sung_notes = tuple(replace(n, pitch=p) for n, p in zip(notes, sung))
        info: dict[str, Any] = {
            "engine": self.name, "voice": dict(artist.voice), "octave_shift": octave,
            "pitch_shift_semitones": float(np.max(np.abs(np.asarray(sung) - rend))) if len(sung) else 0.0,
            "notes_shifted": int(np.sum(np.abs(np.asarray(sung) - rend) > 1e-6)),
            "render_range": [artist.render_low, artist.render_high],
            "tokens": len(tokens), "corrected": False, "decode_frames": n_dec,
        }

        def decode(a: int, b: int) -> np.ndarray:
            """Decoder frames [a, b) of the plan (the rendered pad before frame 0 is cut)."""
            y = self._decode(asr, f0_in, energy_in, sv, a + pad if a > 0 else 0, b + pad, cancel, ses)
            return y[pad * km.HOP:] if a == 0 else y

        if not self.correct_pitch:
            t_dec = time.perf_counter()
            audio = decode(0, n_dec)
            info["decode_s"] = round(time.perf_counter() - t_dec, 4)
            yield self._piece(self._fade(audio), float(t0), sung_notes, info, t_start)
            return

        fp = OUT_FRAME_S
        # analysis pitch on the render grid, target pitch on the output grid
        sub = int(round(km.FRAME_S / fp))  # output frames per decoder frame
        ta = np.arange(n_dec * sub + 1) * fp
        tok_a = np.clip(np.searchsorted(src_tok, ta, side="right") - 1, 0, len(tokens) - 1)
        f0_a = midi_to_hz(contour_midi(rnotes, np.interp(ta, src_b, dst_b) + t0, style, seed))
        f0_a = f0_a * voiced_tok[tok_a]
        n_out = int(dst_tok[-1] / fp)
        to = np.arange(n_out) * fp
        tok_o = np.clip(np.searchsorted(dst_tok, to, side="right") - 1, 0, len(tokens) - 1)
        f0_o = midi_to_hz(contour_midi(snotes, to + t0, style, seed)) * voiced_tok[tok_o]
        held = np.array([t.role in HELD_ROLES for t in tokens])[tok_o]
        info["corrected"] = True

        def world(audio: np.ndarray, dec_start: int, o0: int, o1: int) -> np.ndarray:
            """WORLD pass for output frames [o0, o1) from a window decoded from frame ``dec_start``."""
            off = dec_start * km.FRAME_S
            return world_resynth(audio, self.sample_rate, f0_a[dec_start * sub:], WarpSpec(src_b - off, dst_b - o0 * fp),
                                 f0_o[o0:o1], held[o0:o1], self.aperiodicity, formant_shift=artist.formant_shift)

        cut = self._lead_cut(tokens, dst_tok, (dst_b, src_b), n_out, n_dec) if lead else None
        if cut is None:
            t_dec = time.perf_counter()
            audio = decode(0, n_dec)
            info["decode_s"] = round(time.perf_counter() - t_dec, 4)
            t_world = time.perf_counter()
            audio = world(audio, 0, 0, n_out)
            info["world_s"] = round(time.perf_counter() - t_world, 4)
            yield self._piece(self._fade(audio), float(t0), sung_notes, info, t_start)
            return

        k_s, b1, a2 = cut
        t_cut = float(t0) + k_s * fp
        first = tuple(n for n in sung_notes if score.tempo_map.seconds_at(n.onset) < t_cut)
        pitches = tuple(float(p) for p in sung)
        t_dec = time.perf_counter()
        y1 = world(decode(0, b1), 0, 0, min(n_out, k_s + JOIN_FRAMES))
        n_join = len(y1) - int(round(k_s * fp * self.sample_rate))
        y1 = self._fade(y1, release=False)
        y1[-n_join:] *= np.linspace(1.0, 0.0, n_join, dtype=np.float32)
        info1 = dict(info, piece=1, pieces=2, decode_frames=b1, decode_s=round(time.perf_counter() - t_dec, 4))
        yield self._piece(y1, float(t0), first, info1, t_start, joins_next=True, phrase_pitches=pitches)
        if handoff and self._lane is not None:
            ses = self._lane  # the second piece renders in a lane, beside the next phrase
        t2 = time.perf_counter()
        y2 = world(decode(a2, n_dec), a2, k_s, n_out)
        y2 = self._fade(y2, attack=False)
        y2[:n_join] *= np.linspace(0.0, 1.0, n_join, dtype=np.float32)
        info2 = dict(info, piece=2, pieces=2, decode_frames=n_dec - a2, decode_s=round(time.perf_counter() - t2, 4))
        yield self._piece(y2, t_cut, sung_notes[len(first):], info2, t2, joins_previous=True, phrase_pitches=pitches)

    def _piece(self, audio: np.ndarray, start_s: float, notes: tuple[Note, ...], info: dict[str, Any],
               t_start: float, **join: Any) -> RenderedPhrase:
        info["render_s"] = round(time.perf_counter() - t_start, 4)
        info["audio_s"] = round(len(audio) / self.sample_rate, 4)
        return RenderedPhrase(audio[None, :], self.sample_rate, start_s, notes, info, **join)

    def _lead_cut(self, tokens: list[Token], dst_b: np.ndarray, warp: tuple[np.ndarray, np.ndarray], n_out: int,
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

    def _decode(self, asr: np.ndarray, f0: np.ndarray, energy: np.ndarray, style: np.ndarray, a: int, b: int,
                cancel: threading.Event | None, ses: _Sessions) -> np.ndarray:
        """Vocode decoder frames [a, b) (25 ms each): float32 [(b - a) * km.HOP] at 24 kHz. A window
        that starts mid-phrase continues the harmonic source's phase of the whole phrase."""
        if a == 0:
            phase0 = np.zeros((1, 1, 9), np.float32)
        else:
            run = ses.phase.run(None, {"f0": f0[:, : 2 * a]})[0]
            phase0 = np.mod(run[:, -1:, :].astype(np.float64), km.PHASE_PERIOD).astype(np.float32)
        feed = {"asr": asr[:, :, a:b], "f0": f0[:, 2 * a:2 * b], "energy": energy[:, 2 * a:2 * b],
                "style": style, "phase0": phase0}
        if self._gen is None:
            return np.asarray(self._run_control(ses.control, feed, cancel), np.float32).ravel()
        return self._run_torch(ses, feed, cancel)

    def _run_torch(self, ses: _Sessions, feed: dict[str, np.ndarray], cancel: threading.Event | None) -> np.ndarray:
        """The decoder with the torch generator: ``dfront`` -> generator -> ``istft``. A cancel
        stops it between the generator's blocks (~10-40 ms apart)."""
        import torch

        def check() -> None:
            if cancel is not None and cancel.is_set():
                raise CancelledError("rendering was cancelled", "start a new take when ready")

        check()
        x, har = ses.dfront.run(None, feed)
        torch.set_num_threads(ses.threads)  # this thread's intra-op threads (one in a lane); same bits either way
        style = torch.from_numpy(feed["style"][:, : self._gen.cfg.style_dim])
        spec = self._gen(torch.from_numpy(x), torch.from_numpy(har), style, check)
        return np.asarray(ses.istft.run(None, {"spec": spec.numpy()})[0], np.float32).ravel()

    @staticmethod
    def _run_control(control: Any, feed: dict[str, np.ndarray], cancel: threading.Event | None) -> np.ndarray:
        """The decoder run (most of a phrase's time), stopped mid-run when ``cancel`` is set: a
        watcher sets onnxruntime's terminate flag, so a cancel frees the worker within ~50 ms
        instead of at the end of the phrase."""
        if cancel is None:
            return control.run(None, feed)[0]
        if cancel.is_set():
            raise CancelledError("rendering was cancelled", "start a new take when ready")
        import onnxruntime as ort
        opts = ort.RunOptions()
        finished = threading.Event()

        def watch() -> None:
            while not finished.is_set():
                if cancel.wait(0.02):
                    opts.terminate = True
                    return

        watcher = threading.Thread(target=watch, name="kokoro-cancel", daemon=True)
        watcher.start()
        try:
            return control.run(None, feed, opts)[0]
        except Exception:
            if cancel.is_set():
                raise CancelledError("rendering was cancelled", "start a new take when ready") from None
            raise
        finally:
            finished.set()
            watcher.join()

    def _energy(self, tokens: list[Token], nat_frames: np.ndarray, nat_energy: np.ndarray) -> np.ndarray:
        """Energy level per token: its spoken level, held (vowels floored near the phrase's
        typical vowel level so that quiet or phrase-final vowels do not drop out)."""
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

    def _fade(self, audio: np.ndarray, attack: bool = True, release: bool = True) -> np.ndarray:
        n_in = min(len(audio), int(FADE_IN_S * self.sample_rate)) if attack else 0
        n_out = min(len(audio), int(RELEASE_S * self.sample_rate)) if release else 0
        out = audio.copy()
        if n_in:
            out[:n_in] *= np.linspace(0.0, 1.0, n_in, dtype=np.float32)
        if n_out:
            out[-n_out:] *= (0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, n_out))).astype(np.float32)
        return out
