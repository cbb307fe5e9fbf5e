"""Analysis accuracy on instrumentals rendered now from known chord progressions.

    nice -n 10 .venv/bin/python -m benchmarks.analysis [--n 18] [--verbose]

Renders :func:`benchmarks.instrumentals.make_set` with fluidsynth (several styles, tactus
70-160 BPM, 3/4, 4/4, 6/8, with and without drums) and measures, without a tempo map:
key accuracy (tonic and mode exact, plus the MIREX weighted score), beat F-measure (70 ms
window, beats in the first 5 s ignored, as mir_eval does), downbeat F-measure, and chord
accuracy per reference beat (maj/min reduction; dim/sus beats left out, as mir_eval's majmin).
Chord accuracy with the true tempo map given is printed too. Targets (issue 3): key >= 90%,
beat F >= 0.9, chords >= 75%.
"""
from __future__ import annotations

import argparse
import bisect
import logging
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.instrumentals import Piece, make_set, render  # noqa: E402
from inference.analysis import Analysis, Chord, analyze  # noqa: E402

SR = 22050


def f_measure(ref: list[float], est: list[float], window: float = 0.07, skip_s: float = 5.0) -> float:
    r = sorted(t for t in ref if t >= skip_s)
    e = sorted(t for t in est if t >= skip_s)
    if not r or not e:
        return 0.0
    used = set()
    hits = 0
    for t in r:
        j = bisect.bisect_left(e, t - window)
        while j < len(e) and e[j] <= t + window:
            if j not in used:
                used.add(j)
                hits += 1
                break
            j += 1
    p, rc = hits / len(e), hits / len(r)
    return 0.0 if hits == 0 else 2 * p * rc / (p + rc)


def key_score(p: Piece, a: Analysis) -> float:
    """MIREX: 1 exact, 0.5 fifth, 0.3 relative, 0.2 parallel, else 0."""
    t, m = a.key.tonic, a.key.mode
    if (t, m) == (p.tonic, p.mode):
        return 1.0
    if m == p.mode and (t - p.tonic) % 12 in (5, 7):
        return 0.5
    rel = (p.tonic + 9) % 12 if p.mode == "major" else (p.tonic + 3) % 12
    if m != p.mode and t == rel:
        return 0.3
    if m != p.mode and t == p.tonic:
        return 0.2
    return 0.0


def _majmin(root: int, q: str) -> str:
    if q in ("maj", "7", "maj7"):
        return f"{root}:maj"
    if q in ("min", "min7"):
        return f"{root}:min"
    return "X"


def chord_accuracy(p: Piece, a: Analysis, start_s: float = 0.0) -> tuple[int, int, int, int]:
    """(majmin hits, majmin beats, full-label hits, all beats) over the reference beats."""
    times, chords, _ = p.truth()
    tm = a.tempo_map
    hits = n = full = tot = 0
    for t, (root, q) in zip(times, chords):
        est: Chord = a.chord_at(tm.qn_at(t + start_s + 0.05))
        tot += 1
        full += int(est.root == root and est.quality == q)
        ref = _majmin(root, q)
        if ref == "X":
            continue
        n += 1
        hits += int(est.majmin == ref)
    return hits, n, full, tot


def section_agreement(p: Piece, a: Analysis) -> float:
    """Pairwise agreement over bars: two bars share a true section kind (verse/chorus) exactly when
    they share an estimated section letter."""
    truth = [sec for sec, _ in p.bars]
    est = ["?"] * len(truth)
    for s in a.sections:
        for b in range(s.first_bar, s.last_bar + 1):
            if 1 <= b <= len(est):
                est[b - 1] = s.label
    n = len(truth)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    return float(np.mean([(truth[i] == truth[j]) == (est[i] == est[j]) for i, j in pairs])) if pairs else 1.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=18, help="number of instrumentals (default 18)")
    ap.add_argument("--seed", type=int, default=7,
                    help="which random keys, progressions and lead-ins (the analysis was tuned on 7; try others)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    pieces = make_set(args.n, seed=args.seed)
    keys, keyw, beatf, downf, secs = [], [], [], [], []
    ch = np.zeros(4)
    chm = np.zeros(4)
    t_an = 0.0
    audio_s = 0.0
    for p in pieces:
        audio = render(p, SR)
        audio_s += audio.shape[1] / SR
        t0 = time.perf_counter()
        a = analyze(audio, SR)
        t_an += time.perf_counter() - t0
        am = analyze(audio, SR, tempo_map=p.tempo_map)
        times, _, downs = p.truth()
        fb = f_measure(times, list(a.grid.beats_s))
        fd = f_measure(downs, list(a.grid.downbeats_s))
        ks = key_score(p, a)
        c = chord_accuracy(p, a)
        cm = chord_accuracy(p, am)
        secs.append(section_agreement(p, am))
        keys.append(ks == 1.0)
        keyw.append(ks)
        beatf.append(fb)
        downf.append(fd)
        ch += c
        chm += cm
        print(f"{p.name:32s} key {p.key_name:9s} -> {a.key.name:9s} ({a.key.confidence:.2f})  "
              f"tempo {p.tactus_bpm:5.1f} -> {a.grid.tactus_bpm:5.1f} {a.grid.numerator}/{a.grid.denominator}  "
              f"beatF {fb:.2f} downF {fd:.2f}  chords {c[0] / max(c[1], 1):.2f} (map {cm[0] / max(cm[1], 1):.2f})",
              flush=True)
        if args.verbose:
            print("   ", [s for s in a.summary()["sections"]], a.warnings)
    print()
    print(f"instrumentals: {len(pieces)}  audio {audio_s:.0f} s  analysis time {t_an:.1f} s "
          f"(RTF {t_an / audio_s:.3f})")
    print(f"key accuracy:                {np.mean(keys):.1%}  (MIREX weighted {np.mean(keyw):.3f})   target >= 90%")
    print(f"beat F-measure (no map):     {np.mean(beatf):.3f}   target >= 0.9")
    print(f"downbeat F-measure (no map): {np.mean(downf):.3f}")
    print(f"chord accuracy maj/min:      {ch[0] / ch[1]:.1%} (no map)  {chm[0] / chm[1]:.1%} (tempo map given)"
          "   target >= 75%")
    print(f"section pairwise agreement:  {np.mean(secs):.1%} (tempo map given; verse/chorus by bar)")
    print(f"chord accuracy full labels:  {ch[2] / ch[3]:.1%} (no map)  {chm[2] / chm[3]:.1%} (tempo map given)")
    ok = np.mean(keys) >= 0.9 and np.mean(beatf) >= 0.9 and ch[0] / ch[1] >= 0.75
    print("PASS" if ok else "BELOW TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    from benchmarks.results import recorded

    with recorded("analysis.py"):
        rc = main()
    sys.exit(rc)
