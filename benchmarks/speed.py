"""Speed benchmark of the ``kokoro`` singing engine, with a baseline measured in the same run.

    nice -n 10 .venv/bin/python benchmarks/speed.py [--songs lanterns] [--runs 5] [--json out.json]

Figures (all on this machine, ``--threads`` onnxruntime threads):

- cold start: a fresh ``Pipeline`` in this process up to warm (models loaded from the edit
  cache, g2p built, one tiny warm-up render), and the time to the first rendered phrase of a
  first request on a fresh pipeline without warm-up (what a musician waits for after launch);
- warm: after one warm-up request, ``--runs`` requests of the same song; median of the runs of
  RTF = render stage (engine + produce) / sung span (first phrase start to last phrase end),
  phrase cache off (every run renders every phrase),
  plus RTF of the whole ``generate`` over the stem length and time to the first phrase;
- the same warm runs with the engine's lanes off (every phrase on all threads, one at a time,
  as before 2026-11-23), interleaved with the others: the ratio is what the lanes gain;
- the same warm runs with the other vocoder (the int8 onnxruntime graph when the engine picked
  the torch generator, and the reverse), interleaved too: the ratio says whether the engine's
  pick (``vocoder="auto"``: torch where the CPU has native bf16) is the faster path here;
- ``--vowel-frames N``: the same warm runs with the engine's vowels rendered up to N decoder
  frames before WORLD holds them (the length the engine used before), interleaved: what the
  longer vowels cost;
- baseline: the unedited Kokoro-82M speaking the same lyrics (benchmarks/baseline.py), median
  RTF over the same number of runs, and the ratio singing / speech.

``--session``: the figures of a working session instead (re-sing after a one-line change, a
second artist, an audition): benchmarks/speed_session.py.

The CPU is shared: the load average is printed beside the figures; compare runs at equal load.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.songs import SONGS, Song, melody_midi  # noqa: E402

TARGET_RTF = 0.15
"""Issue 19: the render's real-time factor on an AVX2-only 2-core CPU."""


def request(song: Song, artist: str, seed: int = 0) -> Any:
    import io

    from inference.pipeline import GenerateRequest

    buf = io.BytesIO()
    melody_midi(song).save(file=buf)
    return GenerateRequest(lyrics_text=song.lyrics_text(), sample_rate=song.sample_rate,
                           length_samples=song.length_samples, melody_midi=buf.getvalue(), artist=artist, seed=seed)


def timed_generate(pipe: Any, req: Any, t_ref: float | None = None) -> dict[str, Any]:
    """One request; times measured from ``t_ref`` (default: the call)."""
    first: list[float] = []

    def on_chunk(chunk: Any, at: int) -> None:
        if not first:
            first.append(time.perf_counter())

    t0, c0 = time.perf_counter(), time.process_time()
    take = pipe.generate(req, on_chunk=on_chunk)
    t1, c1 = time.perf_counter(), time.process_time()
    ref = t0 if t_ref is None else t_ref
    phrases = take.register.get("phrases", [])
    tm = take.score.tempo_map
    span = (tm.seconds_at(take.score.end_qn) - tm.seconds_at(take.score.start_qn)) if take.score.notes else 0.0
    render = take.timings.get("render", 0.0) + take.timings.get("produce", 0.0)
    return {"generate_s": t1 - t0, "first_phrase_s": (first[0] - ref) if first else None,
            "render_s": render, "sung_span_s": span, "stem_s": take.duration_s,
            "rtf_render": render / span if span else None, "rtf_generate": (t1 - t0) / take.duration_s,
            "cpu_rtf": (c1 - c0) / span if span else None,
            "phrase_audio_s": sum(p.get("audio_s", 0.0) for p in phrases), "phrases": len(phrases)}


def _with_vowel_frames(frames: int, run: Any) -> Any:
    """``run()`` with the Kokoro engine rendering vowels up to ``frames`` decoder frames."""
    from inference.engines.kokoro import phrase

    kept = phrase.VOWEL_RENDER_FRAMES
    phrase.VOWEL_RENDER_FRAMES = frames
    try:
        return run()
    finally:
        phrase.VOWEL_RENDER_FRAMES = kept


def med(xs: list[float]) -> float:
    return float(statistics.median(xs))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--songs", default="lanterns", help=f"comma-separated, from: {', '.join(SONGS)}")
    ap.add_argument("--artist", default=None)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--no-onnx", action="store_true", help="skip the runs with the other vocoder")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--vowel-frames", type=int, default=None,
                    help="also time every run with the engine's VOWEL_RENDER_FRAMES at this value (same runs)")
    from benchmarks.speed_session import add_arguments

    add_arguments(ap)
    args = ap.parse_args(argv)
    if args.session:
        from benchmarks.speed_session import main as session

        return session(args.song, args.repeat, args.runs, args.threads, args.parts)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ["TOPLINE_PHRASE_CACHE"] = "off"  # every run renders every phrase
    names = [s for s in args.songs.split(",") if s]
    songs = [SONGS[n] for n in names]
    from benchmarks.results import machine_line

    print(f"# speed benchmark: {machine_line()}, "
          f"{args.threads} threads, load {os.getloadavg()[0]:.1f}", flush=True)

    # ---------------------------------------------------------------- cold
    t_start = time.perf_counter()
    from inference.pipeline import Pipeline
    from host_bridge.core.artists import DEFAULT_ARTIST

    artist = args.artist or DEFAULT_ARTIST
    reqs = [request(s, artist) for s in songs]
    cold = timed_generate(Pipeline(threads=args.threads), reqs[0], t_ref=t_start)
    t0 = time.perf_counter()
    cold["total_s"] = t0 - t_start
    pipe = Pipeline(threads=args.threads)
    pipe.warm_up()
    warm_up_s = time.perf_counter() - t0
    print(f"cold: first phrase {cold['first_phrase_s']:.2f} s after start (imports + model load + first phrase), "
          f"whole first request {cold['total_s']:.2f} s; "
          f"fresh Pipeline warm_up() {warm_up_s:.2f} s", flush=True)

    # ---------------------------------------------------------------- warm
    out: dict[str, Any] = {"threads": args.threads, "artist": artist, "cold": cold, "warm_up_s": warm_up_s,
                           "songs": {}}
    all_rtf: list[float] = []
    all_serial: list[float] = []
    engine = pipe.engine("kokoro")
    lanes = getattr(engine, "lanes", False) and args.threads >= 2  # phrases side by side after the first
    onnx_pipe = None
    from importlib.util import find_spec

    other = "onnx" if getattr(engine, "vocoder", "onnx") == "torch" else "torch"
    if not args.no_onnx and (other == "onnx" or find_spec("torch") is not None):
        onnx_pipe = Pipeline(threads=args.threads, vocoder=other)
        onnx_pipe.warm_up()
    other_name = getattr(onnx_pipe.engine("kokoro"), "vocoder_precision", other) if onnx_pipe else other
    all_onnx: list[float] = []
    other_vowels: list[dict[str, Any]] = []
    out["vocoder"] = getattr(engine, "vocoder_precision", "?")
    print(f"vocoder: {out['vocoder']}", flush=True)
    for s, req in zip(songs, reqs):
        timed_generate(pipe, req)  # warm-up run for this song
        if onnx_pipe is not None:
            timed_generate(onnx_pipe, req)
        runs, serial, onnx = [], [], []
        for _ in range(args.runs):  # interleaved, so that the machine's drift hits both alike
            runs.append(timed_generate(pipe, req))
            if args.vowel_frames is not None:
                other_vowels.append(_with_vowel_frames(args.vowel_frames, lambda: timed_generate(pipe, req)))
            if lanes:
                engine.lanes = False  # type: ignore[attr-defined]
                try:
                    serial.append(timed_generate(pipe, req)["rtf_render"])
                finally:
                    engine.lanes = True  # type: ignore[attr-defined]
            if onnx_pipe is not None:
                onnx.append(timed_generate(onnx_pipe, req)["rtf_render"])
        r = {k: med([x[k] for x in runs]) for k in ("rtf_render", "rtf_generate", "first_phrase_s", "render_s",
                                                     "cpu_rtf")}
        r.update(sung_span_s=runs[0]["sung_span_s"], stem_s=runs[0]["stem_s"], phrases=runs[0]["phrases"],
                 runs=[x["rtf_render"] for x in runs], load=os.getloadavg()[0])
        all_rtf += [x["rtf_render"] for x in runs]
        all_serial += serial
        all_onnx += onnx
        if serial:
            r["rtf_render_one_at_a_time"] = med(serial)
        if onnx:
            r["rtf_render_onnx_vocoder"] = med(onnx)
        out["songs"][s.name] = r
        print(f"{s.name:14s} warm x{args.runs}: RTF render {r['rtf_render']:.3f} (median; runs "
              f"{', '.join(f'{v:.3f}' for v in r['runs'])}), RTF whole generate/stem {r['rtf_generate']:.3f}, "
              f"first phrase {r['first_phrase_s']:.2f} s, sung span {r['sung_span_s']:.1f} s; CPU-s per sung s "
              f"{r['cpu_rtf']:.3f} (/{args.threads} threads = {r['cpu_rtf'] / args.threads:.3f}, the RTF an idle "
              f"machine would give at best); load {r['load']:.1f}",
              flush=True)
        if onnx:
            print(f"{'':14s} same runs with the {other_name} vocoder: RTF render {med(onnx):.3f}; "
                  f"{out['vocoder']} / {other_name} = {r['rtf_render'] / med(onnx):.2f}x", flush=True)
        if serial:
            print(f"{'':14s} same runs with every phrase on both threads, one at a time (no lanes): RTF render "
                  f"{med(serial):.3f}; lanes / one at a time = {r['rtf_render'] / med(serial):.2f}x "
                  f"({r['phrases']} phrases)", flush=True)

    # ---------------------------------------------------------------- baseline
    rtf_sing = med(all_rtf)
    out["rtf_render_median"] = rtf_sing
    if other_vowels:
        out["rtf_render_other_vowel_frames"] = med([x["rtf_render"] for x in other_vowels])
        print(f"all songs: RTF render {rtf_sing:.3f}, {out['rtf_render_other_vowel_frames']:.3f} with vowels rendered "
              f"up to {args.vowel_frames} frames (same runs; {rtf_sing / out['rtf_render_other_vowel_frames']:.2f}x)",
              flush=True)
    if all_onnx:
        out["rtf_render_other_vocoder_median"] = med(all_onnx)
        out["other_vocoder"] = other_name
        print(f"all songs: RTF render {rtf_sing:.3f} with the {out['vocoder']} vocoder, {med(all_onnx):.3f} with the "
              f"{other_name} vocoder (median of runs; {rtf_sing / med(all_onnx):.2f}x)", flush=True)
    if all_serial:
        out["rtf_render_one_at_a_time_median"] = med(all_serial)
        print(f"all songs: RTF render {rtf_sing:.3f} with lanes, {med(all_serial):.3f} one phrase at a time "
              f"(median of runs; {rtf_sing / med(all_serial):.2f}x)", flush=True)
    if not args.no_baseline:
        from benchmarks.baseline import KokoroSpeech

        ks = KokoroSpeech(threads=args.threads)
        lines = [ln.lyrics.replace("-", "") for s in songs for ln in s.lines]
        ks.speak_lines(lines[:2])  # warm-up
        speech, speech_cpu = [], []
        for _ in range(args.runs):
            t0, c0 = time.perf_counter(), time.process_time()
            y, _ = ks.speak_lines(lines, gap_s=0.0)
            dur = len(y) / ks.sample_rate
            speech.append((time.perf_counter() - t0) / dur)
            speech_cpu.append((time.process_time() - c0) / dur)
        rtf_speech = med(speech)
        sing_cpu = med([r["cpu_rtf"] for r in out["songs"].values()])
        out["baseline"] = {"what": "unedited Kokoro-82M speech of the same lyrics", "rtf": rtf_speech,
                           "runs": speech, "cpu_rtf": med(speech_cpu), "load_s": ks.load_s}
        print(f"baseline (unedited Kokoro speech, same lyrics) x{args.runs}: RTF {rtf_speech:.3f} "
              f"(median), CPU-s per s {med(speech_cpu):.3f}; singing / speech = {rtf_sing / rtf_speech:.2f}x wall, "
              f"{sing_cpu / med(speech_cpu):.2f}x CPU", flush=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["peak_rss_mb"] = peak_mb
    ok = rtf_sing <= TARGET_RTF
    out["pass"] = ok
    print(f"peak RSS {peak_mb:.0f} MB; load now {os.getloadavg()[0]:.1f}")
    print(f"{'PASS' if ok else 'FAIL'}  kokoro RTF (render, warm, median of runs): {rtf_sing:.3f} "
          f"(target <= {TARGET_RTF})")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=str))
    from benchmarks.results import record

    lines = [f"`speed.py --songs {args.songs} --runs {args.runs}`, load {os.getloadavg()[0]:.1f} at the end", "",
             f"- render RTF (warm, median of runs): {rtf_sing:.3f} with the {out.get('vocoder', '?')} vocoder"]
    if all_onnx:
        lines.append(f"- same runs, the {out['other_vocoder']} vocoder: {med(all_onnx):.3f} "
                     f"(the engine's pick / it: {rtf_sing / med(all_onnx):.2f}x)")
    if other_vowels:
        from inference.engines.kokoro import phrase

        lines.append(f"- same runs, vowels rendered up to {args.vowel_frames} frames instead of "
                     f"{phrase.VOWEL_RENDER_FRAMES}: {out['rtf_render_other_vowel_frames']:.3f} "
                     f"({rtf_sing / out['rtf_render_other_vowel_frames']:.2f}x)")
    if all_serial:
        lines.append(f"- same runs, one phrase at a time: {med(all_serial):.3f} ({rtf_sing / med(all_serial):.2f}x)")
    if "baseline" in out:
        lines.append(f"- unedited Kokoro speech of the same lyrics: {out['baseline']['rtf']:.3f} "
                     f"(singing / speech {rtf_sing / out['baseline']['rtf']:.2f}x)")
    lines.append(f"- cold start to the first phrase: {out.get('cold', {}).get('first_phrase_s', float('nan')):.2f} s; "
                 f"peak RSS {peak_mb:.0f} MB")
    record("speed.py", "\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
