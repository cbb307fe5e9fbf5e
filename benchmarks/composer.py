"""Composer benchmark (issue 17): whole songs with intros, verses, choruses, bridges, breaks and
outros (benchmarks/form_songs.py), sung from lyrics alone, with no tempo given and with the
song's tempo map given.

    nice -n 10 .venv/bin/python -m benchmarks.composer [--set held-out|tuning|all] [--songs h1,h4]

Per song and overall (targets from issue 17, held-out set): tempo (the felt beat, printed in
beats per minute) within 4 % of the truth (a 2x/3x error is wrong; >= 90 % of songs with no map), meter right (>= 85 %), section boundaries
within one bar (F-measure), share of the reference melody's sung bars the composed take also
sings (>= 80 %), intro (of >= 2 bars) and outro left free, syllables per second against the
reference melody's (0.67-1.5x on >= 85 % of songs), strong-beat notes that are tones of the
chord really sounding (>= 80 %), sung time in the key (>= 95 %), largest interval. Everything
is measured against the truth of the render, in seconds, whatever grid the analysis chose.
``--wer``: the Whisper-base WER of the sung takes, composed against the reference melody
(benchmarks/composer_wer.py).
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.form_songs import HELD_OUT, TUNING, FormSong, Reference, reference_melody, render_song  # noqa: E402
from host_bridge.core.errors import LyricsError  # noqa: E402
from host_bridge.core.model import LyricsSheet, Score, TempoMap  # noqa: E402
from inference.analysis import Analysis  # noqa: E402
from inference.analysis.analyze import analyze_features  # noqa: E402
from inference.analysis.features import Features, extract  # noqa: E402
from inference.analysis.result import CHORD_INTERVALS  # noqa: E402
from inference.compose import ComposeReport, SylIn, compose, is_strong, syllables_for  # noqa: E402

SR = 22050
LOW, HIGH = 55, 74
CONDITIONS = ("no tempo", "tempo map")


@dataclass
class Row:
    song: str
    cond: str
    tempo_ok: bool
    meter_ok: bool
    bpm: float
    meter: str
    boundary_f: float
    sung_share: float
    intro_free: bool | None
    outro_free: bool | None
    rate_ratio: float
    chord_tones: float
    in_key: float
    max_iv: float
    error: str = ""


def _truth_bar(tm: TempoMap, t: float) -> int:
    return tm.bar_beat_at(tm.qn_at(t) + 1e-6)[0]


def _boundary_f(song: FormSong, an: Analysis) -> float:
    tm = song.tempo_map
    ref = [tm.seconds_at(tm.qn_at_bar(a)) for _, a, _ in song.sections[1:]]
    est = [an.tempo_map.seconds_at(an.tempo_map.qn_at_bar(s.first_bar)) for s in an.sections[1:]]
    tol = song.bar_seconds()
    hit_r = sum(any(abs(r - e) <= tol * 1.01 for e in est) for r in ref)
    hit_e = sum(any(abs(r - e) <= tol * 1.01 for r in ref) for e in est)
    p = hit_e / len(est) if est else 0.0
    r = hit_r / len(ref) if ref else 1.0
    return 2 * p * r / (p + r) if p + r else 0.0


def _sung_rate(spans: list[tuple[float, float, int]]) -> float:
    """syllables per second of singing: each line from its first onset to its last note's end."""
    t = sum(b - a for a, b, _ in spans)
    return sum(n for _, _, n in spans) / t if t > 0 else 0.0


def measure(song: FormSong, an: Analysis, score: Score, ref_rate: float, ref_bars: set[int], cond: str) -> Row:
    tm, atm = song.tempo_map, an.tempo_map
    chords = song.chords()
    scale = {(song.tonic + s) % 12 for s in ((0, 2, 4, 5, 7, 9, 11) if song.mode == "major" else (0, 2, 3, 5, 7, 8, 10))}
    sung: set[int] = set()
    lines: dict[int, list[tuple[float, float, int]]] = {}
    strong = tones = 0
    key_t = tot_t = 0.0
    for n in score.notes:
        a, b = atm.seconds_at(n.onset), atm.seconds_at(n.onset + n.duration)
        sung.update(range(_truth_bar(tm, a), _truth_bar(tm, b - 1e-3) + 1))
        lines.setdefault(n.line, []).append((a, b, int(not n.is_melisma)))
        tot_t += b - a
        key_t += (b - a) * (int(n.pitch) % 12 in scale)
        if is_strong(atm, n.onset):
            bar = _truth_bar(tm, a)
            root, q = chords[min(max(bar, 1), len(chords)) - 1][1]
            strong += 1
            tones += int(int(n.pitch) % 12 in {(root + i) % 12 for i in CHORD_INTERVALS[q]})
    spans = [(v[0][0], v[-1][1], sum(s for _, _, s in v)) for v in lines.values()]
    secs = song.sections
    intro = secs[0] if secs[0][0] == "intro" and secs[0][2] - secs[0][1] + 1 >= 2 else None
    outro = secs[-1] if secs[-1][0] == "outro" else None
    bpm_ok = abs(an.grid.tactus_bpm / song.tactus_bpm - 1.0) <= 0.04
    ivs = [abs(b.pitch - a.pitch) for a, b in zip(score.notes, score.notes[1:])]
    return Row(song.name, cond, bpm_ok, (an.grid.numerator, an.grid.denominator) == song.meter, an.grid.tactus_bpm,
               f"{an.grid.numerator}/{an.grid.denominator}", _boundary_f(song, an),
               len(sung & ref_bars) / max(1, len(ref_bars)),
               None if intro is None else not any(b <= intro[2] for b in sung),
               None if outro is None else not any(b >= outro[1] for b in sung),
               _sung_rate(spans) / ref_rate if ref_rate else 0.0,
               tones / max(1, strong), key_t / max(1e-9, tot_t), float(max(ivs, default=0.0)))


FEATURES_VERSION = 1
"""Bump when inference/analysis/features.py changes what it extracts (the cache is keyed by it)."""


def features_for(song: FormSong) -> Features:
    """The song's analysis features, cached next to its render (extraction is the slow part)."""
    cache = Path.home() / ".cache" / "topline" / "form_songs" / f"{song.name}_{song.key_hash()}_f{FEATURES_VERSION}.npz"
    names = [f.name for f in fields(Features)]
    if cache.exists():
        with np.load(cache) as z:
            return Features(**{n: z[n] for n in names})
    feat = extract(render_song(song, SR), SR)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **{n: getattr(feat, n) for n in names})
    return feat


def song_inputs(song: FormSong, g2p: object) -> tuple[LyricsSheet, list[list[SylIn]], Reference]:
    """The song's lyrics sheet, its syllables (from the text front end) and its reference melody."""
    sheet = song.sheet()
    syls = syllables_for(sheet, g2p)
    return sheet, syls, reference_melody(song, [len(s) for s in syls])


def composed(song: FormSong, cond: str, sheet: LyricsSheet, syls: list[list[SylIn]]) -> tuple[Analysis, Score]:
    """The analysis (the song's tempo map given when ``cond`` is "tempo map") and the score composed
    over it from the lyrics alone. Raises LyricsError when the composer refuses the sheet."""
    an = analyze_features(features_for(song), tempo_map=song.tempo_map if cond == "tempo map" else None)
    return an, compose(sheet, an, LOW, HIGH, seed=0, syllables=syls, report=ComposeReport())


def run_song(song: FormSong, g2p: object) -> list[Row]:
    sheet, syls, ref = song_inputs(song, g2p)
    tm = song.tempo_map
    by_line: dict[int, list] = {}
    for n in ref.notes:
        by_line.setdefault(n.line, []).append(n)
    ref_rate = _sung_rate([(tm.seconds_at(v[0].onset), tm.seconds_at(v[-1].onset + v[-1].duration), len(v))
                           for v in by_line.values()])
    ref_bars = ref.sung_bars(tm)
    rows = []
    for cond in CONDITIONS:
        try:
            an, score = composed(song, cond, sheet, syls)
        except LyricsError as e:
            an = analyze_features(features_for(song), tempo_map=song.tempo_map if cond == "tempo map" else None)
            rows.append(Row(song.name, cond, abs(an.grid.tactus_bpm / song.tactus_bpm - 1) <= 0.04,
                            (an.grid.numerator, an.grid.denominator) == song.meter, an.grid.tactus_bpm,
                            f"{an.grid.numerator}/{an.grid.denominator}", _boundary_f(song, an), 0.0, None, None,
                            0.0, 0.0, 0.0, 0.0, e.message))
            continue
        rows.append(measure(song, an, score, ref_rate, ref_bars, cond))
    return rows


def _fmt(r: Row) -> str:
    free = lambda v: "-" if v is None else ("yes" if v else "NO")  # noqa: E731
    return (f"{r.song:22s} {r.cond:9s} {r.bpm:6.1f} {'ok' if r.tempo_ok else 'XX'} {r.meter:4s} "
            f"{'ok' if r.meter_ok else 'XX'}  F {r.boundary_f:.2f}  sung {r.sung_share:4.0%}  intro {free(r.intro_free):3s} "
            f"outro {free(r.outro_free):3s} rate x{r.rate_ratio:.2f}  chord {r.chord_tones:4.0%}  key {r.in_key:4.0%}  "
            f"iv {r.max_iv:.0f}" + (f"  ERROR {r.error}" if r.error else ""))


def summary(rows: list[Row], cond: str) -> list[str]:
    rs = [r for r in rows if r.cond == cond]
    if not rs:
        return []
    ok = [r for r in rs if not r.error]
    intro = [r.intro_free for r in ok if r.intro_free is not None]
    outro = [r.outro_free for r in ok if r.outro_free is not None]
    mean = lambda xs: float(np.mean(xs)) if len(xs) else float("nan")  # noqa: E731
    return [f"{cond}: {len(rs)} songs ({len(rs) - len(ok)} refused)",
            f"  tempo within 4 %:            {mean([r.tempo_ok for r in rs]):.0%}  (target >= 90 % no map, 100 % map)",
            f"  meter right:                 {mean([r.meter_ok for r in rs]):.0%}  (target >= 85 %)",
            f"  section boundary F (1 bar):  {mean([r.boundary_f for r in rs]):.2f}",
            f"  reference sung bars sung:    {mean([r.sung_share for r in ok]):.0%}  (target >= 80 %)",
            f"  intro left free:             {sum(intro)}/{len(intro)}  (target all)",
            f"  outro left free:             {sum(outro)}/{len(outro)}",
            f"  syllable rate 0.67-1.5x ref: {mean([0.67 <= r.rate_ratio <= 1.5 for r in ok]):.0%}  "
            f"(median x{np.median([r.rate_ratio for r in ok]) if ok else 0:.2f}; target >= 85 %)",
            f"  strong-beat chord tones:     {mean([r.chord_tones for r in ok]):.0%}  (target >= 80 %)",
            f"  sung time in key:            {mean([r.in_key for r in ok]):.1%}  (target >= 95 %)",
            f"  largest interval:            {max([r.max_iv for r in ok], default=0):.0f} semitones"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", choices=("held-out", "tuning", "all"), default="held-out")
    ap.add_argument("--songs", default="", help="comma-separated name prefixes to run (default: the whole set)")
    ap.add_argument("--wer", action="store_true",
                    help="instead: sing the composed and the reference melody and compare Whisper WER "
                         "(benchmarks/composer_wer.py)")
    ap.add_argument("--lines", type=int, default=8, help="--wer: the first N sung lines of each song")
    ap.add_argument("--cond", choices=CONDITIONS, action="append", help="--wer: condition(s) (default: tempo map)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    from inference.frontend.g2p import G2P

    songs = {"held-out": HELD_OUT, "tuning": TUNING, "all": TUNING + HELD_OUT}[args.set]
    if args.songs:
        songs = tuple(s for s in songs if any(s.name.startswith(p) for p in args.songs.split(",")))
    if args.wer:
        from benchmarks.composer_wer import run

        return run(songs, args.cond or ["tempo map"], args.lines, args.set)
    g2p = G2P()
    rows: list[Row] = []
    t0 = time.perf_counter()
    for song in songs:
        for r in run_song(song, g2p):
            rows.append(r)
            print(_fmt(r), flush=True)
    print()
    for cond in ("no tempo", "tempo map"):
        for line in summary(rows, cond):
            print(line)
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    from benchmarks.results import recorded

    if "--wer" in sys.argv:  # composer_wer records its own table
        rc = main()
    else:
        with recorded("composer.py"):
            rc = main()
    sys.exit(rc)
