"""KokoroEngine: Kokoro-82M made to sing a Score, phrase by phrase.

Per phrase: syllables -> Kokoro symbols (:mod:`.plan`), the probe model gives spoken durations
and energy, the plan places every symbol in time (vowel on the beat), the control model renders
with the durations, an F0 curve inside the voice's comfortable range and a held energy curve,
and the WORLD pass (:mod:`.world`) re-times it to the exact plan and imposes the score's pitch.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

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
from .voices import VoiceBank
from .world import FRAME_PERIOD_MS, WarpSpec, world_resynth

log = logging.getLogger(__name__)

MAX_TOKENS = 480
"""Longest token sequence sent to the model at once (its limit is 510 with pads)."""
FADE_IN_S = 0.01


def _voiced(tok: Token) -> bool:
    return tok.role in ("vowel", "glide") or (tok.sounding and (tok.ch in SONORANTS or tok.ch in VOICED_OBSTRUENTS
                                                                or tok.ch in VOWELS))


class KokoroEngine:
    """The embedded default singer. Sessions live on the object; build one per sidecar."""

    name = "kokoro"
    sample_rate = km.SAMPLE_RATE

    def __init__(self, threads: int = 2, *, cache_dir: Path | None = None, correct_pitch: bool = True,
                 aperiodicity: str = "rule", providers: list[str] | None = None) -> None:
        """``threads``: onnxruntime intra-op threads. ``correct_pitch``: run the WORLD pass (exact
        timing and pitch; off = Kokoro's raw render, 25 ms timing grid, clamped register).
        ``aperiodicity``: "rule" or "d4c" (see :func:`.world.world_resynth`)."""
        self.threads = threads
        self.aperiodicity = aperiodicity
        self.cache_dir = cache_dir
        self.correct_pitch = correct_pitch
        self.providers = providers or ["CPUExecutionProvider"]
        self._control: Any = None
        self._probe: Any = None
        self._vocab: dict[str, int] = {}
        self._voices: VoiceBank | None = None
        self._load_lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle
    def load(self) -> None:
        with self._load_lock:
            if self._control is not None:
                return
            import onnxruntime as ort
            t0 = time.perf_counter()
            files = km.ensure_models(self.cache_dir)
            so = ort.SessionOptions()
            so.intra_op_num_threads = self.threads
            so.inter_op_num_threads = 1
            so.log_severity_level = 3
            self._probe = ort.InferenceSession(str(files.probe), so, providers=self.providers)
            self._control = ort.InferenceSession(str(files.control), so, providers=self.providers)
            self._vocab = km.load_vocab()
            self._voices = VoiceBank(km.load_voice_packs())
            log.info("Kokoro sessions loaded in %.2f s", time.perf_counter() - t0)

    def warm_up(self) -> None:
        self.load()
        notes = (Note(0.0, 1.0, 60.0, "la", Phonemes(("l",), ("ɑ",), (), 2), 0, 0),
                 Note(1.0, 1.0, 62.0, "la", Phonemes(("l",), ("ɑ",), (), 2), 1, 0))
        score = Score(notes, TempoMap.constant(120))
        artist = Artist("warmup", "warmup", "kokoro", "", {"jf_alpha": 1.0}, 48, 67)
        for _ in self.render(score, artist):
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
        [1, T] at 24 kHz, dry), in time order."""
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
        for k, phrase in enumerate(score.phrases()):
            if cancel is not None and cancel.is_set():
                raise CancelledError("rendering was cancelled", "start a new take when ready")
            for part in self._split_long(phrase):
                yield self._render_phrase(part, score, artist, octave, seed + k, cancel)

    def _split_long(self, notes: list[Note]) -> list[list[Note]]:
        """Split a phrase whose token count would pass the model's limit (rare: a very long line)."""
        est = sum(2 + (len(n.phonemes.onset) + len(n.phonemes.nucleus) * 2 + len(n.phonemes.coda)) * 2
                  if n.phonemes else 0 for n in notes)
        if est <= MAX_TOKENS or len(notes) < 2:
            return [notes]
        mid = len(notes) // 2
        return self._split_long(notes[:mid]) + self._split_long(notes[mid:])

    def _render_phrase(self, notes: list[Note], score: Score, artist: Artist, octave: int,
                       seed: int, cancel: threading.Event | None = None) -> RenderedPhrase:
        assert self._voices is not None
        t_start = time.perf_counter()
        style = artist.style
        sung = [n.pitch + octave for n in notes]
        rend = render_pitches(sung, artist.low, artist.high)
        units = build_units(notes, score, sung)  # timing_offset_ms is applied at placement (produce)
        attach_symbols(units, self._vocab)
        tokens = build_tokens(units, self._vocab)
        plan = Plan(units, tokens)
        ids = np.array([[t.id for t in tokens]], np.int64)
        sv = self._voices.style_for(artist, len(tokens) - 2)
        speed = np.array([1.0], np.float32)
        nat_frames, _, nat_energy = self._probe.run(None, {"tokens": ids, "style": sv, "speed": speed})
        nat_frames = np.asarray(nat_frames, np.float64).ravel()
        plan.bounds = place(plan, nat_frames * km.FRAME_S)
        frames = to_frames(plan.bounds, tokens, km.FRAME_S)
        src_b = np.concatenate([[0.0], np.cumsum(frames)]) * km.FRAME_S
        dst_b = plan.bounds - plan.bounds[0]
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
        voiced_tok = np.array([_voiced(t) for t in tokens])
        f0_render = midi_to_hz(contour_midi(rnotes, t_dst, style, seed)) * voiced_tok[tok_of]
        energy = self._energy(tokens, nat_frames, np.asarray(nat_energy).ravel())[tok_of]
        energy = np.convolve(np.pad(energy, 1, mode="edge"), np.ones(3) / 3, mode="valid")
        t_dec = time.perf_counter()
        audio = self._run_control({
            "tokens": ids, "style": sv, "speed": speed, "durations": frames.astype(np.float32)[None],
            "f0": f0_render.astype(np.float32)[None], "energy": energy.astype(np.float32)[None]}, cancel)
        audio = np.asarray(audio, np.float32).ravel()
        t_dec = time.perf_counter() - t_dec

        info: dict[str, Any] = {
            "engine": self.name, "voice": dict(artist.voice), "octave_shift": octave,
            "pitch_shift_semitones": float(np.max(np.abs(np.asarray(sung) - rend))) if len(sung) else 0.0,
            "tokens": len(tokens), "corrected": False,
        }
        if self.correct_pitch:
            fp = FRAME_PERIOD_MS / 1000.0
            # analysis pitch on the render grid, target pitch on the output grid
            ta = np.arange(int(len(audio) / self.sample_rate / fp) + 1) * fp
            tok_a = np.clip(np.searchsorted(src_b, ta, side="right") - 1, 0, len(tokens) - 1)
            f0_a = midi_to_hz(contour_midi(rnotes, np.interp(ta, src_b, dst_b) + t0, style, seed))
            f0_a = f0_a * voiced_tok[tok_a]
            n_out = int(dst_b[-1] / fp)
            to = np.arange(n_out) * fp
            tok_o = np.clip(np.searchsorted(dst_b, to, side="right") - 1, 0, len(tokens) - 1)
            f0_o = midi_to_hz(contour_midi(snotes, to + t0, style, seed)) * voiced_tok[tok_o]
            held = np.array([t.role in ("vowel", "glide") for t in tokens])[tok_o]
            t_world = time.perf_counter()
            audio = world_resynth(audio, self.sample_rate, f0_a, WarpSpec(src_b, dst_b), f0_o, held,
                                  self.aperiodicity, formant_shift=artist.formant_shift)
            info["corrected"] = True
            info["world_s"] = round(time.perf_counter() - t_world, 4)
        audio = self._fade(audio)
        sung_notes = tuple(replace(n, pitch=p) for n, p in zip(notes, sung))
        info["decode_s"] = round(t_dec, 4)
        info["render_s"] = round(time.perf_counter() - t_start, 4)
        info["audio_s"] = round(len(audio) / self.sample_rate, 4)
        return RenderedPhrase(audio[None, :], self.sample_rate, float(t0), sung_notes, info)

    def _run_control(self, feed: dict[str, np.ndarray], cancel: threading.Event | None) -> np.ndarray:
        """The vocoder run (most of a phrase's time), stopped mid-run when ``cancel`` is set: a
        watcher sets onnxruntime's terminate flag, so a cancel frees the worker within ~50 ms
        instead of at the end of the phrase."""
        if cancel is None:
            return self._control.run(None, feed)[0]
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
            return self._control.run(None, feed, opts)[0]
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
            if t.role in ("vowel", "glide"):
                lev[k] = max(hi[k], vref - 1.0)
            elif t.sounding and t.ch in SONORANTS:
                lev[k] = max(lev[k], vref - 2.0)
        return lev

    def _fade(self, audio: np.ndarray) -> np.ndarray:
        n_in = min(len(audio), int(FADE_IN_S * self.sample_rate))
        n_out = min(len(audio), int(RELEASE_S * self.sample_rate))
        out = audio.copy()
        if n_in:
            out[:n_in] *= np.linspace(0.0, 1.0, n_in, dtype=np.float32)
        if n_out:
            out[-n_out:] *= (0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, n_out))).astype(np.float32)
        return out
