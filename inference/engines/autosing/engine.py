"""AutoSing: lyrics + instrumental (+ artist embedding) -> vocal, and its Engine adapter.

Direct API (no melody needed)::

    model = AutoSing.from_checkpoint("ckpt/")          # or AutoSing.debug() in tests
    vocal = model.sing("la la la", instrumental, 48000, artist_embedding)   # float32 [1, T] at 48 kHz
    for chunk in model.stream(...): ...                # audio as soon as frames are decoded

Per window (at most ``max_seconds``): the instrumental is SNAC-encoded once; stage 1 writes 25 Hz
semantic tokens from the lyrics bytes and the coarse instrumental codes; stage 2 writes the
vocal's codes from the semantic tokens, the artist embedding and the full instrumental codes;
finished frames go through the streaming SNAC decoder as they are generated.
"""
from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from host_bridge.core.errors import CancelledError, InputError, ModelError
from host_bridge.core.model import Score
from inference.engines.autosing.codec import Codec
from inference.engines.autosing.generate import Generator, stage1_plan, stage2_plan
from inference.engines.autosing.models.lm import AutoSingLM
from inference.engines.autosing.sampling import SamplingParams
from inference.engines.autosing.train import lyrics_bytes, n_semantic
from inference.engines.base import RenderedPhrase
from host_bridge.core.artists import Artist

log = logging.getLogger(__name__)

ARTIST_DIM = 256


@dataclass(frozen=True)
class SingParams:
    stage1: SamplingParams = SamplingParams(temperature=0.7, cfg_scale=2.0)
    stage2: SamplingParams = SamplingParams(temperature=0.7, cfg_scale=2.0)
    layout: str | None = None
    """Stage-2 layout at inference; None = the checkpoint's ``infer_layout``."""


@dataclass
class VocalChunk:
    audio: np.ndarray
    """float32 [1, n] at the codec rate."""
    start: int
    """Sample (codec rate) of ``audio[:, 0]`` from the instrumental's sample 0."""
    window: int
    last_in_window: bool = False
    info: dict[str, Any] = field(default_factory=dict)


class AutoSing:
    def __init__(self, stage1: AutoSingLM, stage2: AutoSingLM, codec: Codec, compile: bool = False,
                 compile_mode: str | None = None) -> None:
        if stage1.cfg.stage != 1 or stage2.cfg.stage != 2:
            raise ModelError("stage models swapped", "pass the stage-1 model first, then the stage-2 model")
        if stage2.cfg.codebook_size != codec.codebook_size or stage1.cfg.codebook_size != codec.codebook_size:
            raise ModelError(f"the stages use {stage2.cfg.codebook_size} codes per codebook, the codec "
                             f"{codec.codebook_size}", "use the codec the checkpoint was trained with")
        self.stage1, self.stage2, self.codec = stage1, stage2, codec
        self.gen1, self.gen2 = Generator(stage1, compile, compile_mode), Generator(stage2, compile, compile_mode)
        self.sample_rate = codec.sample_rate
        max_s = min(stage1.cfg.max_seconds, stage2.cfg.max_seconds)
        self.max_frames = max(codec.align, int(max_s * codec.frame_rate) // codec.align * codec.align)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_checkpoint(cls, folder: Path | str, device: str | None = None, compile: bool = False,
                        dtype: torch.dtype | None = None) -> "AutoSing":
        """Load ``folder`` (stage1/, stage2/, codec/). ``dtype`` (e.g. torch.bfloat16 on a GPU)
        applies to the two transformers; SNAC stays in float32."""
        from inference.engines.autosing.loaders import load_lm, load_snac

        folder = Path(folder)
        if not folder.is_dir():
            raise ModelError(f"AutoSing checkpoint folder {folder} does not exist",
                             "pass --checkpoint DIR holding stage1/, stage2/ and codec/")
        dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
        s1 = load_lm(folder / "stage1", stage=1, device=dev)
        s2 = load_lm(folder / "stage2", stage=2, device=dev)
        if dtype is not None:
            s1, s2 = s1.to(dtype), s2.to(dtype)
        codec = Codec(load_snac(folder / "codec", device=dev))
        return cls(s1, s2, codec, compile)

    @classmethod
    def debug(cls, seed: int = 0, layout: str = "unrolled") -> "AutoSing":
        """Tiny random models and a tiny random SNAC, built in code: the whole path in seconds on CPU."""
        from inference.engines.autosing.builders import build_lm
        from inference.engines.autosing.codec import build_snac
        from inference.engines.autosing.config import SNAC_DEBUG, debug_lm

        return cls(build_lm(debug_lm(1, layout=layout), seed), build_lm(debug_lm(2, layout=layout), seed + 1),
                   Codec(build_snac(SNAC_DEBUG, seed + 2)))

    # ------------------------------------------------------------------ windows
    def windows(self, n_frames: int) -> list[tuple[int, int]]:
        """Split ``n_frames`` finest frames into near-equal windows of at most ``max_frames``."""
        a = self.codec.align
        k = max(1, -(-n_frames // self.max_frames))
        per = -(-n_frames // k // a) * a
        return [(s, min(n_frames, s + per)) for s in range(0, n_frames, per)]

    # ------------------------------------------------------------------ singing
    def stream(self, lyrics: str | list[str], instrumental: np.ndarray, sample_rate: int,
               artist_embedding: np.ndarray | None = None, *, seed: int = 0, params: SingParams = SingParams(),
               cancel: threading.Event | None = None) -> Iterator[VocalChunk]:
        """Yield vocal audio chunks (codec rate) in time order. ``lyrics``: one text for the whole
        instrumental, or one text per window (see :meth:`windows` of the instrumental's frames).
        ``instrumental``: float32 [C, T] at ``sample_rate``; ``artist_embedding``: [256] or None."""
        inst = _check_audio(instrumental, sample_rate)
        codes = self.codec.encode(inst, sample_rate)
        n_fine = codes[-1].shape[-1] * self.codec.strides[-1]
        wins = self.windows(n_fine)
        texts = _split_lyrics(lyrics, len(wins))
        art = None
        if artist_embedding is not None:
            a = np.asarray(artist_embedding, np.float32).reshape(-1)
            if a.size != self.stage2.cfg.artist_dim or not np.all(np.isfinite(a)):
                raise InputError(f"artist embedding has {a.size} values (or non-finite ones)",
                                 f"give {self.stage2.cfg.artist_dim} finite floats (the artist's AutoSing embedding)")
            art = torch.from_numpy(a)[None]
        for w, (a0, a1) in enumerate(wins):
            wcodes = [c[:, a0 // s:a1 // s] for c, s in zip(codes, self.codec.strides)]
            yield from self._window(w, a0, wcodes, texts[w], art, seed + 7919 * w, params, cancel)

    def _window(self, w: int, frame0: int, codes: list[torch.Tensor], text: str, artist: torch.Tensor | None,
                seed: int, params: SingParams, cancel: threading.Event | None) -> Iterator[VocalChunk]:
        s1, s2, codec = self.stage1, self.stage2, self.codec
        p = s2.pattern
        n_fine = codes[-1].shape[-1] * codec.strides[-1]
        music = p.compressed(codes)
        tb = lyrics_bytes(text)[None]
        fixed, pos = stage1_plan(s1, n_semantic(s1, n_fine))
        sem = self.gen1.generate(tb, torch.ones_like(tb, dtype=torch.bool), music, fixed, pos,
                                 params=params.stage1, seed=seed, cancel=cancel)[0, 1:]
        layout = params.layout or s2.cfg.infer_layout
        fixed, pos = stage2_plan(s2, layout, n_fine)
        seq_dev = fixed.to(self.gen2.device)
        seq = fixed.clone()
        dec = codec.streaming(seed)
        done, step_frames = 0, p.frame_multiple
        start = frame0 * codec.hop
        emitted = 0
        for t, tok in self.gen2.stream(sem[None], torch.ones((1, sem.numel()), dtype=torch.bool), music,
                                       fixed, pos, artist=artist, params=params.stage2, seed=seed + 1, cancel=cancel):
            seq_dev[:, t] = tok
            ready = p.finished_frames(layout, t + 1) // step_frames * step_frames
            if ready > done:  # copy back only when a block of frames is complete
                seq[:, :t + 1] = seq_dev[:, :t + 1].cpu()
                audio = dec.push(self._codes(seq, layout, done, ready))
                done = ready
                if audio.shape[1]:
                    yield VocalChunk(audio, start + emitted, w)
                    emitted += audio.shape[1]
        if cancel is not None and cancel.is_set():
            raise CancelledError("the job was cancelled", "start it again when you are ready")
        seq = seq_dev.cpu()
        if done < n_fine:
            audio = dec.push(self._codes(seq, layout, done, n_fine))
            if audio.shape[1]:
                yield VocalChunk(audio, start + emitted, w)
                emitted += audio.shape[1]
        tail = dec.flush()
        yield VocalChunk(tail, start + emitted, w, last_in_window=True,
                         info={"semantic_tokens": int(sem.numel()), "frames": n_fine, "layout": layout,
                               "codes": self._codes(seq, layout, 0, n_fine), "semantic": sem.cpu()})

    def _codes(self, seq: torch.Tensor, layout: str, a: int, b: int) -> list[torch.Tensor]:
        """Codes of finest frames [a, b) from the delayed sequence ``seq`` [S, L]."""
        p = self.stage2.pattern
        g = p.group if layout == "compressed" else 1
        x = torch.stack([seq[i, a // g + d:b // g + d] for i, d in enumerate(p.delays)])[None]
        return p.from_layout(x, layout)

    def sing(self, lyrics: str | list[str], instrumental: np.ndarray, sample_rate: int,
             artist_embedding: np.ndarray | None = None, *, seed: int = 0, params: SingParams = SingParams(),
             cancel: threading.Event | None = None) -> np.ndarray:
        """The whole vocal: float32 [1, T] at ``sample_rate``, as long as the instrumental."""
        chunks = [c.audio for c in self.stream(lyrics, instrumental, sample_rate, artist_embedding,
                                                seed=seed, params=params, cancel=cancel)]
        y = np.concatenate(chunks, 1) if chunks else np.zeros((1, 0), np.float32)
        if sample_rate != self.sample_rate and y.shape[1]:
            import soxr

            y = soxr.resample(y[0], self.sample_rate, sample_rate, quality="HQ")[None].astype(np.float32)
        n = instrumental.shape[-1]
        out = np.zeros((1, n), np.float32)
        out[:, :min(n, y.shape[1])] = y[:, :n]
        return out


def _check_audio(x: np.ndarray, sample_rate: int) -> np.ndarray:
    if not isinstance(x, np.ndarray) or x.ndim != 2 or x.shape[0] < 1:
        raise InputError("the instrumental must be a float32 array [channels, samples]",
                         "pass audio channels first, e.g. soundfile's data.T")
    if x.shape[1] == 0:
        raise InputError("the instrumental is empty (0 samples)", "give at least a bar of instrumental")
    if sample_rate <= 0:
        raise InputError(f"sample rate {sample_rate}", "pass the instrumental's sample rate in Hz")
    return x.astype(np.float32, copy=False)


def _split_lyrics(lyrics: str | list[str], n: int) -> list[str]:
    if isinstance(lyrics, list):
        if len(lyrics) != n:
            raise InputError(f"{len(lyrics)} lyric windows for {n} instrumental windows",
                             "pass one text, or one per window (AutoSing.windows)")
        return lyrics
    lines = [ln for ln in lyrics.splitlines() if ln.strip()]
    if n == 1 or not lines:
        return [lyrics] * n if not lines else [lyrics]
    return ["\n".join(lines[i * len(lines) // n:(i + 1) * len(lines) // n]) for i in range(n)]


# ---------------------------------------------------------------------- the Engine adapter
def artist_embedding(artist: Artist) -> np.ndarray | None:
    """An artist's AutoSing embedding: the preset JSON's optional ``"autosing_embedding"`` (a list
    of 256 floats, or a path relative to the preset to a .npy / .safetensors holding one), as the
    preset loader validated it (``Artist.autosing_embedding``); read from the JSON for Artists
    built in code with a ``source``."""
    if artist.autosing_embedding is not None:
        return np.asarray(artist.autosing_embedding, np.float32).reshape(-1)
    if not artist.source:
        return None
    path = Path(artist.source)
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    v = d.get("autosing_embedding")
    if v is None:
        return None
    if isinstance(v, list):
        emb = np.asarray(v, np.float32)
    else:
        f = (path.parent / str(v)).resolve()
        try:
            if f.suffix == ".npy":
                emb = np.load(f, allow_pickle=False).astype(np.float32)
            else:
                from safetensors.numpy import load_file

                emb = next(iter(load_file(str(f)).values())).astype(np.float32)
        except (OSError, ValueError, StopIteration) as e:
            raise InputError(f"artist {artist.name}: embedding file {f} cannot be read: {e}",
                             "point autosing_embedding at a .npy or .safetensors holding 256 floats") from e
    if emb.size != ARTIST_DIM:
        raise InputError(f"artist {artist.name}: autosing_embedding has {emb.size} values",
                         f"give {ARTIST_DIM} floats (train.py writes them to artists.json)")
    return emb.reshape(-1)


class AutoSingEngine:
    """The ``autosing`` engine. AutoSing sings from lyrics and the instrumental, so ``render``
    takes the instrumental as keyword arguments (proposed protocol extension: ``instrumental``,
    ``instrumental_sample_rate``, ``instrumental_start_s``). The Score gives the lyrics lines (and,
    through its notes, which lines fall in which window); the phrases it yields carry notes
    transcribed from the sung audio (an estimated Score), not the Score's notes."""

    name = "autosing"

    def __init__(self, checkpoint: Path | str | None = None, *, model: AutoSing | None = None,
                 device: str | None = None, compile: bool = False, params: SingParams = SingParams()) -> None:
        if model is None and checkpoint is None:
            raise ModelError("the autosing engine needs a checkpoint", "pass --checkpoint DIR")
        self.checkpoint = None if checkpoint is None else Path(checkpoint)
        self._model = model
        self.device, self.compile, self.params = device, compile, params
        self._lock = threading.Lock()
        if model is not None:
            self.sample_rate = model.sample_rate
        else:
            from inference.engines.autosing.loaders import read_config

            assert self.checkpoint is not None
            self.sample_rate = int(read_config(self.checkpoint / "codec").get("sampling_rate", 32000))

    @property
    def model(self) -> AutoSing:
        with self._lock:
            if self._model is None:
                assert self.checkpoint is not None
                self._model = AutoSing.from_checkpoint(self.checkpoint, self.device, self.compile)
            return self._model

    def warm_up(self) -> None:
        m = self.model
        silence = np.zeros((1, m.codec.align * m.codec.hop), np.float32)
        for _ in m.stream("la", silence, m.sample_rate, None, seed=0, params=self.params):
            pass

    def render(self, score: Score, artist: Artist, *, seed: int = 0, cancel: threading.Event | None = None,
               instrumental: np.ndarray | None = None, instrumental_sample_rate: int | None = None,
               instrumental_start_s: float = 0.0) -> Iterator[RenderedPhrase]:
        """One phrase per window (<= max_seconds) of the instrumental, in time order."""
        from inference.engines.autosing.transcribe import estimate_notes

        if instrumental is None or instrumental_sample_rate is None:
            raise InputError("the autosing engine sings over the instrumental, and none was given",
                             "pass the instrumental (topline generate --instrumental FILE)")
        m = self.model
        inst = _check_audio(instrumental, instrumental_sample_rate)
        n_fine = m.codec.n_frames(int(round(inst.shape[1] * m.sample_rate / instrumental_sample_rate)))
        wins = m.windows(n_fine)
        texts = _lyrics_per_window(score, wins, m.codec.frame_rate, instrumental_start_s)
        emb = artist_embedding(artist)
        pending: list[np.ndarray] = []
        for ch in m.stream(texts, inst, instrumental_sample_rate, emb, seed=seed, params=self.params, cancel=cancel):
            pending.append(ch.audio)
            if not ch.last_in_window:
                continue
            audio = np.concatenate(pending, 1)
            pending = []
            start_s = instrumental_start_s + wins[ch.window][0] / m.codec.frame_rate
            notes = estimate_notes(audio, m.sample_rate, score.tempo_map, start_s)
            info = {**{k: v for k, v in ch.info.items() if k not in ("codes", "semantic")},
                    "window": ch.window, "estimated_notes": True,
                    "artist_embedding": "preset" if emb is not None else "none"}
            yield RenderedPhrase(audio, m.sample_rate, start_s, notes, info)


def _lyrics_per_window(score: Score, wins: list[tuple[int, int]], frame_rate: float, start_s: float) -> list[str]:
    lines = list(score.lines)
    if not lines:
        words: dict[int, list[str]] = {}
        for n in score.notes:
            if n.syllable:
                words.setdefault(max(n.line, 0), []).append(n.syllable)
        lines = [" ".join(words[k]) for k in sorted(words)]
    if not lines:
        raise InputError("the score has no lyrics", "give a lyrics sheet")
    first: dict[int, float] = {}
    for n in score.notes:
        if n.line >= 0 and n.line not in first:
            first[n.line] = score.tempo_map.seconds_at(n.onset) - start_s
    out: list[list[str]] = [[] for _ in wins]
    for i, ln in enumerate(lines):
        if i in first:
            f = first[i] * frame_rate
            w = next((k for k, (a, b) in enumerate(wins) if f < b), len(wins) - 1)
        else:
            w = min(len(wins) - 1, i * len(wins) // len(lines))
        out[w].append(ln)
    return ["\n".join(x) for x in out]


__all__ = ["AutoSing", "AutoSingEngine", "SingParams", "VocalChunk", "artist_embedding"]
