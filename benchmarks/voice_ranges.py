"""Each Kokoro voice's comfortable sung range: the notes it follows cleanly when asked, unaided.

    nice -n 10 .venv/bin/python benchmarks/voice_ranges.py [--voices af_heart,am_michael] [--json out.json]

Kokoro follows an imposed F0 from low notes up to a wall about an octave above its speaking
pitch; above it, it drops an octave and unvoices (FINDINGS). Per voice, a rising scale of 0.6 s
"la" notes (one per semitone, sung as one phrase) is rendered with the WORLD pass off (Kokoro's
own render, F0 asked for directly, no register help) and tracked with CREPE: a note holds when
>= 60 % of its steady middle is voiced and its median is within 50 cents. The comfortable range is the run of held notes around
the voice's speaking region (isolated misses inside tolerated); its top is the voice's wall, what presets give as
``render_range``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import meters as M  # noqa: E402
from benchmarks.results import machine_line, record  # noqa: E402

LOW, HIGH = 45, 80
NOTE_QN = 1.2  # at 120 BPM: 0.6 s
VOICED = 0.6
"""Share of a note's steady middle CREPE must hear voiced (the "l" onsets and CREPE's periodicity
threshold keep a clean 0.6 s note near 0.8-0.9)."""


def scale(engine: Any, voice: str, low: int = LOW, high: int = HIGH) -> dict[int, tuple[bool, float, float]]:
    """MIDI note -> (held, median cents off, voiced share) over one sung rising scale."""
    from host_bridge.core.model import Note, Phonemes, Score, TempoMap
    from host_bridge.core.artists import Artist

    la = Phonemes(("l",), ("ɑ",), (), 2)
    notes = tuple(Note(k * NOTE_QN, NOTE_QN, float(m), "la", la, k, 0) for k, m in enumerate(range(low, high + 1)))
    score = Score(notes, TempoMap.constant(120))
    artist = Artist("probe", "probe", "kokoro", "", {voice: 1.0}, 20, 110)
    pieces = list(engine.render(score, artist))
    t0 = pieces[0].start_s
    audio = np.concatenate([p.audio[0] for p in pieces])
    tr = M.pitch_track(audio, engine.sample_rate, start_s=t0)
    out = {}
    for n in notes:
        a, b = score.note_seconds(n)
        sel = (tr.times >= a + 0.3 * (b - a)) & (tr.times <= b - 0.15 * (b - a))
        f0 = tr.f0[sel]
        voiced = float(np.mean(f0 > 0)) if f0.size else 0.0
        med = float("nan")
        if np.any(f0 > 0):
            med = float(np.median(1200 * np.log2(f0[f0 > 0] / (440.0 * 2 ** ((n.pitch - 69) / 12)))))
        out[int(n.pitch)] = (voiced >= VOICED and abs(med) <= 50, med, voiced)
    return out


def comfortable(ok: dict[int, bool], seed: int) -> tuple[int, int]:
    """The run of held notes around ``seed`` (the voice's speaking region), isolated misses
    inside tolerated: (lowest, highest = the wall)."""
    def good(n: int) -> bool:
        return ok.get(n, False) or (ok.get(n - 1, False) and ok.get(n + 1, False))

    lo = hi = seed
    while good(hi + 1):
        hi += 1
    while good(lo - 1):
        lo -= 1
    return lo, hi


def main(argv: list[str] | None = None) -> int:
    from inference.engines.kokoro import KokoroEngine
    from host_bridge.core.artists.schema import KOKORO_VOICES

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--voices", default="", help="comma-separated (default: every voice)")
    ap.add_argument("--json", type=Path, help="write every figure here")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    voices = [v for v in args.voices.split(",") if v] or list(KOKORO_VOICES)
    engine = KokoroEngine(threads=args.threads, correct_pitch=False, lanes=False, vocoder="onnx")
    engine.load()
    print(f"# voice ranges: {machine_line()}", flush=True)
    out: dict[str, Any] = {}
    lines = ["| voice | comfortable (MIDI) | wall | notes held |", "|---|---|---|---|"]
    for v in voices:
        t0 = time.perf_counter()
        res = scale(engine, v)
        lo, hi = comfortable({m: r[0] for m, r in res.items()}, 52 if v[1:2] == "m" else 60)
        n_ok = sum(r[0] for r in res.values())
        out[v] = {"low": lo, "high": hi, "held": [m for m, r in res.items() if r[0]],
                  "cents": {m: round(r[1], 1) for m, r in res.items()},
                  "voiced": {m: round(r[2], 2) for m, r in res.items()}}
        print(f"{v:<14} {lo}-{hi}  ({n_ok} of {len(res)} held, {time.perf_counter() - t0:.0f} s)", flush=True)
        lines.append(f"| {v} | {lo}-{hi} | {hi} | {n_ok}/{len(res)} |")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    record("voice_ranges.py", "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
