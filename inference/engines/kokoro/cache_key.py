"""What a Kokoro phrase's samples depend on, hashed: the key of :mod:`inference.phrase_cache`.

A phrase (one job of :meth:`KokoroEngine.render`: a breath group, or half of a very long one) is
rendered by :func:`.phrase.render_phrase` from

- its notes after the artist's performance (transpose, swing) and the take's octave placement:
  per note its start and end in session seconds, pitch, phonemes, whether it carries a syllable,
  and which notes share a word (word indices relative to the phrase: a changed line earlier in
  the song shifts every later index without changing how those words are sung);
- the take's language (how phonemes map to Kokoro symbols), the seed (the take's seed plus the
  phrase's index: the pitch contour's randomness), and whether it is the take's first phrase
  (streamed in two pieces);
- the artist's voice: the style table it sings with (its bytes: the voice tables' version and a
  preset's own embedding), its blend, style, render range and formant shift;
- the engine: its code (the package's sources), the edited models and vocab, the vocoder's path
  and precision, the WORLD pass's settings, the sample rate, and the versions of onnxruntime,
  numpy, pyworld (and torch with the torch vocoder).

Not in the key: the samples do not depend on which sessions (all threads or a lane) render a
phrase (tests/test_kokoro_engine.py), nor on the lyric text beyond the phonemes.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from host_bridge.core.model import Note, Score

if TYPE_CHECKING:
    from host_bridge.core.artists import Artist

    from .engine import KokoroEngine

_CODE_DIGEST: str | None = None


def _code_digest() -> str:
    """SHA-256 of the Kokoro engine's sources (every edit to how a phrase is sung changes it);
    the installed topline version where the sources are not on disk (a frozen build)."""
    global _CODE_DIGEST
    if _CODE_DIGEST is None:
        h = hashlib.sha256()
        here = Path(__file__).resolve().parent
        files = sorted(here.glob("*.py"))
        for f in files:
            try:
                h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
            except OSError:
                h.update(f.name.encode())
        if not files:
            h.update(_version("topline").encode())
        _CODE_DIGEST = h.hexdigest()
    return _CODE_DIGEST


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


def engine_digest(engine: "KokoroEngine") -> str:
    """The engine's part of every phrase key (after :meth:`KokoroEngine.load`)."""
    files = engine._files
    assert files is not None, "load() the engine first"
    parts: dict[str, Any] = {
        "code": _code_digest(), "models": files.source_sha256, "parts": sorted(p.name for p in files.all),
        "vocab": sorted(engine._vocab.items()), "vocoder": engine.vocoder_precision,
        "correct_pitch": engine.correct_pitch, "aperiodicity": engine.aperiodicity,
        "sample_rate": engine.sample_rate, "providers": list(engine.providers),
        "libs": [_version(d) for d in ("onnxruntime", "numpy", "pyworld")]
                + ([_version("torch")] if engine.vocoder == "torch" else []),
    }
    return _digest(parts)


def artist_digest(artist: "Artist", table: np.ndarray) -> str:
    """The artist's part of a phrase key; ``table``: the style table it sings with."""
    parts = {"table": hashlib.sha256(np.ascontiguousarray(table, np.float32).tobytes()).hexdigest(),
             "shape": list(table.shape), "voice": sorted((str(k), float(v)) for k, v in artist.voice.items()),
             "style": asdict(artist.style), "render": [artist.render_low, artist.render_high],
             "formant_shift": float(artist.formant_shift)}
    return _digest(parts)


def phrase_key(engine_part: str, artist_part: str, notes: Sequence[Note], score: Score, octave: int,
               seed: int, lead: bool) -> str:
    """The key of one phrase job (``notes`` after the artist's performance, as rendered)."""
    words: dict[int, int] = {}
    rows = []
    for n in notes:
        t0, t1 = score.note_seconds(n)
        word = -1 if n.word < 0 else words.setdefault(n.word, len(words))
        rows.append([t0, t1, n.pitch, bool(n.syllable.strip()),
                     n.phonemes.to_list() if n.phonemes is not None else None, word])
    return _digest({"engine": engine_part, "artist": artist_part, "language": score.language, "octave": octave,
                    "seed": seed, "lead": lead, "notes": rows})


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":"), default=repr)
                          .encode("utf-8")).hexdigest()
