"""Artists benchmark (issue 4 acceptance figures).

    nice -n 10 .venv/bin/python -m benchmarks.artists [--parts distinct,audition,create] [--json out.json]

* distinct: the same phrase (lyrics and contour, placed in each artist's own range) sung by every
  shipped artist with two seeds; pairwise speaker-embedding distances (Resemblyzer, 1 - cosine)
  against the largest same-artist/different-seed distance; and each artist's pitch accuracy
  (torchcrepe tiny: per-note median cents vs the note, median over notes; frame-level too).
* audition: 5 artists x 8 bars at 120 BPM over a synthetic instrumental, one render at a time:
  time to the first clip and to the whole set.
* create: `artist create` on a render of a held-out artist: the similarity it reaches vs the best
  single shipped voice, which shipped artist the result is closest to, and what the candidates
  sang (the words recognised in the reference; with --matched, its own score).
* roster: every artist sings a benchmark song in its own language (ROSTER_SONGS; unguessable
  lyrics) through quality.py's meters: pitch, voicing, Whisper-base WER sung and spoken by the
  same voice (the speech floor), the register used. Writes the table into docs/ARTISTS.md and
  benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import meters  # noqa: E402
from host_bridge.core.model import TempoMap  # noqa: E402
from inference.artists.phrases import melody_midi, phrase_score, render_dry  # noqa: E402
from inference.artists.similarity import VoiceSimilarity, distance  # noqa: E402
from inference.pipeline import GenerateRequest, Pipeline  # noqa: E402
from host_bridge.core.artists import Artist, load_artists  # noqa: E402

LYRICS = "open up the window let the summer in"
CONTOUR = (0, 2, 4, 5, 4, 2, 4, 7, 5, 4, 2)
"""Semitones above the artist's low note + 1; quarter notes on the beat (swing leaves them alone)."""
AUDITION_LYRICS = """Morning light on the kitchen floor
Coffee warm and the window wide
Hum the tune I wrote last night
Let it follow me outside
"""
AUDITION_CAST = ("alpha", "dusk", "kumo", "pixie", "ember")


def _placed(artist: Artist) -> list[int]:
    span = max(CONTOUR)
    base = artist.low + max(1, (artist.high - artist.low - span) // 2)
    return [base + c for c in CONTOUR]


def part_distinct(pipe: Pipeline, sim: VoiceSimilarity, artists: dict[str, Artist]) -> dict[str, Any]:
    emb: dict[tuple[str, int], np.ndarray] = {}
    pitch: dict[str, Any] = {}
    t0 = time.perf_counter()
    for a in artists.values():
        score = phrase_score(pipe, LYRICS, _placed(a), [1.0] * (len(CONTOUR) - 1) + [2.0])
        for seed in (0, 1):
            y = render_dry(pipe, score, a, seed=seed)
            emb[(a.name, seed)] = sim.embed(y, 24000)
            if seed == 0:
                t_first = max(0.0, score.tempo_map.seconds_at(score.notes[0].onset) - 0.3)
                off = a.style.timing_offset_ms / 1000
                refs = [meters.NoteRef(r.start_s + off, r.end_s + off, r.midi) for r in meters.notes_from_score(score)]
                summ, res = meters.measure_pitch(y[None], 24000, refs, start_s=t_first, calibrate=False)
                per_note = [abs(r.median_cents) for r in res if r.median_cents is not None]
                pitch[a.name] = {"note_median_abs_cents": round(float(np.median(per_note)), 1) if per_note else None,
                                 "frame_median_abs_cents": summ["median_abs_cents"],
                                 "pct_notes_within_50c": summ["pct_notes_within_50c"],
                                 "notes_unvoiced": summ["notes_unvoiced"], "range": [a.low, a.high]}
        logging.getLogger("bench").info("%s rendered (%.0f s so far)", a.name, time.perf_counter() - t0)
    names = list(artists)
    same = {n: distance(emb[(n, 0)], emb[(n, 1)]) for n in names}
    pairs = {f"{a}|{b}": distance(emb[(a, 0)], emb[(b, 0)]) for a, b in itertools.combinations(names, 2)}
    floor = max(same.values())
    closest = min(pairs, key=pairs.get)
    return {"same_artist_seed_distance": {k: round(v, 4) for k, v in same.items()},
            "pair_distance": {k: round(v, 4) for k, v in pairs.items()},
            "min_pair": [closest, round(pairs[closest], 4)], "max_same": round(floor, 4),
            "all_pairs_distinct": bool(min(pairs.values()) > floor),
            "pitch": pitch,
            "worst_note_median_cents": max((p["note_median_abs_cents"] or 999) for p in pitch.values()),
            "seconds": round(time.perf_counter() - t0, 1)}


def _instrumental(seconds: float, sr: int, bpm: float = 120.0) -> np.ndarray:
    """Block chords (C Am F G, a bar each) and a kick on every beat: float32 [2, T]."""
    t = np.arange(int(seconds * sr)) / sr
    bar = 4 * 60 / bpm
    chords = [(48, 52, 55), (45, 48, 52), (41, 45, 48), (43, 47, 50)]
    y = np.zeros_like(t)
    for k in range(int(seconds / bar) + 1):
        m = (t >= k * bar) & (t < (k + 1) * bar)
        for n in chords[k % 4]:
            y[m] += 0.05 * np.sin(2 * np.pi * 440 * 2 ** ((n - 69) / 12) * t[m])
    beat = 60 / bpm
    ph = (t % beat)
    y += 0.3 * np.sin(2 * np.pi * 55 * ph) * np.exp(-ph / 0.05)
    return np.repeat(y[None].astype(np.float32), 2, axis=0)


def part_audition(pipe: Pipeline, cast: tuple[str, ...] = AUDITION_CAST) -> dict[str, Any]:
    from inference.audition import audition

    sr, bpm = 44100, 120.0
    pitches = [60, 62, 64, 62, 60, 59, 57, 59, 60, 64, 67, 65, 64, 62, 60, 62, 64, 65, 67, 65, 64, 62, 60, 59,
               57, 59, 60, 62, 64, 62, 60]
    # 8 bars from bar 1: lines of 8, 8, 7, 8 syllables on eighths/quarters
    beats = ([0.5] * 6 + [1.0, 2.0]) * 4
    notes = pitches[:len(beats)]
    mid = melody_midi(notes, beats[:len(notes)], bpm)
    inst = _instrumental(8 * 2.0 + 2.0, sr, bpm)
    req = GenerateRequest(AUDITION_LYRICS, sr, inst.shape[1], tempo_map=TempoMap.constant(bpm), melody_midi=mid,
                          instrumental=inst, bars=(1, 8), channels=2)
    ready: list[tuple[str, float]] = []
    t0 = time.perf_counter()
    clips = audition(pipe, req, list(cast), on_clip=lambda c: ready.append((c.artist, time.perf_counter() - t0)),
                     workers=1)
    total = time.perf_counter() - t0
    clip_s = clips[0].take.duration_s
    return {"artists": list(cast), "bars": 8, "bpm": bpm, "clip_s": round(clip_s, 2),
            "first_clip_s": round(ready[0][1], 1), "all_clips_s": round(total, 1),
            "ready": [[a, round(t, 1)] for a, t in ready], "rtf": round(total / (clip_s * len(clips)), 3),
            "cpu_count": os.cpu_count()}


def part_create(pipe: Pipeline, sim: VoiceSimilarity, artists: dict[str, Artist],
                held_out: tuple[str, ...] = ("dusk", "nezumi"), max_renders: int | None = None,
                drop_packs: bool = True, matched: bool = False) -> dict[str, Any]:
    from inference.artists.create import MAX_RENDERS, BlendSearch, Candidate, create_artist

    out: dict[str, Any] = {}
    for name in held_out:
        held = artists[name]
        score = phrase_score(pipe, "every river runs to meet the sea tonight", [57, 59, 60, 62, 64, 62, 60, 59, 57, 55, 57],
                             [0.5] * 10 + [1.5])
        ref = render_dry(pipe, score, held, seed=3)
        res = create_artist(pipe, ref, 24000, f"{name}_copy", exclude=[name], max_renders=max_renders or MAX_RENDERS, sim=sim,
                            drop_packs=drop_packs, sung=score if matched else None)
        bs = BlendSearch(pipe, sim, np.zeros(256, np.float32), 57, res.artist.low, res.artist.high, seed=1)
        mine = sim.embed(render_dry(pipe, bs.score, bs.artist(res.best), 1), 24000)
        sims = {a.name: 1 - distance(mine, sim.embed(render_dry(pipe, bs.score, bs.artist(Candidate(a.voice, a.formant_shift)), 1), 24000))
                for a in artists.values()}
        out[name] = {"recovered": res.best.label(), "similarity": round(res.best.similarity, 4),
                     "best_single": [res.best_single.label(), round(res.best_single.similarity, 4)],
                     "renders": len(res.tried), "seconds": round(res.seconds, 1), "compared_on": res.compared_on,
                     "closest_shipped": max(sims, key=sims.get),
                     "similarity_to_shipped": {k: round(v, 4) for k, v in sorted(sims.items(), key=lambda kv: -kv[1])},
                     "traits": res.traits.__dict__}
    return out


ROSTER_SONGS = {"en-us": "glass_bananas", "en-gb": "glass_bananas", "de": "apfelboot", "es": "luna_verde",
                "fr": "chaise_bleue", "it": "gatto_viola", "pt-br": "janela_azul", "pt": "janela_azul"}
"""The song each artist sings for the roster table, by the artist's language."""
ROSTER_BEGIN, ROSTER_END = "<!-- roster table: benchmarks/artists.py --parts roster -->", "<!-- end roster table -->"


def part_roster(pipe: Pipeline, artists: dict[str, Artist], leads: int = 2,
                on_artist: Any = None) -> dict[str, Any]:
    """Each artist on a song in its own language; ``on_artist(figures so far)`` after each."""
    from benchmarks import quality
    from benchmarks.songs import SONGS
    import tempfile

    args = argparse.Namespace(lyric_events=False, keep=None, seed=0, crepe="tiny", speech_floor=True, threads=2)
    tr = meters.Transcriber(threads=2, leads_s=meters.SILENCE_LEADS_S[:leads])
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as td:
        for a in artists.values():
            song = SONGS[ROSTER_SONGS.get(a.language, "glass_bananas")]
            t0 = time.perf_counter()
            r, _ = quality.run_song(song, a.name, args.seed, pipe, Path(td) / a.name, args, tr)
            out[a.name] = {"language": a.language, "range": [a.low, a.high], "render_range": [a.render_low, a.render_high],
                           "voice": a.voice, "song": song.name, "wer": r.get("wer"), "speech_wer": r.get("speech_wer"),
                           "median_abs_cents": r.get("median_abs_cents"), "pct_notes_within_50c": r.get("pct_notes_within_50c"),
                           "pct_note_time_voiced": r.get("pct_note_time_voiced"), "octave": r.get("octave"),
                           "seconds": round(time.perf_counter() - t0, 1)}
            o = out[a.name]
            print(f"  {a.name:<11} {a.language:<6} {song.name:<14} WER {meters.fmt(o['wer'])} % (spoken "
                  f"{meters.fmt(o['speech_wer'])} %), |c| {meters.fmt(o['median_abs_cents'])}, notes in 50c "
                  f"{meters.fmt(o['pct_notes_within_50c'])} %, voiced {meters.fmt(o['pct_note_time_voiced'])} %, "
                  f"octave {o['octave']:+d}", flush=True)
            if on_artist is not None:
                on_artist(out)
    return out


def roster_table(roster: dict[str, Any]) -> str:
    def note(n: int) -> str:
        return ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"][n % 12] + str(n // 12 - 1)

    rows = ["| artist | language | range (sung) | model asked up to | song | WER sung % | WER spoken % | "
            "median cents | notes in 50c % | voiced % | octave |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, o in roster.items():
        rows.append(f"| {name} | {o['language']} | {note(o['range'][0])}-{note(o['range'][1])} | "
                    f"{note(o['render_range'][1])} | {o['song']} | {meters.fmt(o['wer'])} | "
                    f"{meters.fmt(o['speech_wer'])} | {meters.fmt(o['median_abs_cents'])} | "
                    f"{meters.fmt(o['pct_notes_within_50c'])} | {meters.fmt(o['pct_note_time_voiced'])} | "
                    f"{o['octave']:+d} |")
    return "\n".join(rows)


def write_roster(roster: dict[str, Any], doc: Path = Path(__file__).resolve().parents[1] / "docs" / "ARTISTS.md") -> None:
    from benchmarks.results import machine_line, record

    table = roster_table(roster)
    text = doc.read_text(encoding="utf-8")
    block = (f"{ROSTER_BEGIN}\nMeasured {time.strftime('%Y-%m-%d')} on {machine_line()} "
             f"(`python -m benchmarks.artists --parts roster`).\n\n{table}\n{ROSTER_END}")
    if ROSTER_BEGIN in text and ROSTER_END in text:
        a, b = text.index(ROSTER_BEGIN), text.index(ROSTER_END) + len(ROSTER_END)
        text = text[:a] + block + text[b:]
    else:
        text = text.rstrip() + "\n\n## Per-artist figures\n" + block + "\n"
    doc.write_text(text, encoding="utf-8")
    record("artists.py --parts roster", table)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parts", default="distinct,audition,create,roster")
    ap.add_argument("--artists", default=None, help="comma list (default: every shipped artist)")
    ap.add_argument("--held-out", default="dusk,nezumi")
    ap.add_argument("--keep-packs", action="store_true",
                    help="create: hold out only the artist's preset, not the pack of a single-pack artist")
    ap.add_argument("--matched", action="store_true",
                    help="create: tell the search what the reference sings (content-matched comparison)")
    ap.add_argument("--max-renders", type=int, default=None,
                    help="create: search budget per held-out artist (default: create's own)")
    ap.add_argument("--leads", type=int, default=2, help="roster: silence lead-ins per WER chunk (1-5)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for noisy in ("phonemizer", "numba", "inference", "host_bridge"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    artists = load_artists(include_user=False)
    if args.artists:
        artists = {k: artists[k] for k in args.artists.split(",")}
    pipe = Pipeline(threads=2)
    pipe.warm_up()
    sim = VoiceSimilarity()
    report: dict[str, Any] = {"device": f"cpu x{os.cpu_count()}", "load_avg": os.getloadavg()[0]}
    parts = args.parts.split(",")
    if "distinct" in parts:
        r = report["distinct"] = part_distinct(pipe, sim, artists)
        print(f"distinct: closest pair {r['min_pair'][0]} {r['min_pair'][1]:.3f} vs same-artist/seed max "
              f"{r['max_same']:.3f} -> {'ALL DISTINCT' if r['all_pairs_distinct'] else 'NOT DISTINCT'}")
        for n, p in r["pitch"].items():
            print(f"  {n:<11} range {p['range'][0]}-{p['range'][1]}  note median {p['note_median_abs_cents']} c  "
                  f"frames {p['frame_median_abs_cents']} c  notes in 50c {p['pct_notes_within_50c']}%  "
                  f"same-seed dist {r['same_artist_seed_distance'][n]:.4f}")
        print(f"  worst per-note median {r['worst_note_median_cents']} c (target <= 20)")
    if "audition" in parts:
        r = report["audition"] = part_audition(pipe)
        print(f"audition: {len(r['artists'])} artists x 8 bars at 120 BPM ({r['clip_s']} s clips): first clip "
              f"{r['first_clip_s']} s, all {r['all_clips_s']} s ({r['rtf']}x real time, load {report['load_avg']:.1f})")
    if "create" in parts:
        r = report["create"] = part_create(pipe, sim, artists, tuple(args.held_out.split(",")),
                                           max_renders=args.max_renders, drop_packs=not args.keep_packs,
                                           matched=args.matched)
        for n, c in r.items():
            print(f"create (held out {n}{', its pack kept' if args.keep_packs else ''}"
                  f"{', content-matched' if args.matched else ''}): {c['recovered']} sim {c['similarity']} vs best single {c['best_single']}; "
                  f"closest shipped: {c['closest_shipped']} ({c['renders']} renders, {c['seconds']} s)\n    {c['compared_on']}")
    if "roster" in parts:
        print("roster: each artist on a song in its own language (WER sung / spoken by the same voice)")
        report["roster"] = part_roster(pipe, artists, leads=args.leads, on_artist=write_roster)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
