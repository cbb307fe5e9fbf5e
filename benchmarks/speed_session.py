"""Speed as a working session feels it (issue 19), run by ``speed.py --session``:

    nice -n 10 .venv/bin/python benchmarks/speed.py --session [--song lanterns] [--repeat 4] [--runs 3]

- (a) re-sing after a one-line lyric change: a long song (a benchmark song's lines repeated
  ``--repeat`` times, ~3 min) rendered in full on an empty phrase cache (the baseline, same
  run), then the same request with one word of one line changed (another line each run):
  median time of each and the ratio (target <= 10 %);
- (b) a second artist on the same request: the full render with the first artist (baseline)
  and the same request with a second artist right after it; ratio;
- (c) an audition of 5 artists x 8 bars (inference.audition): time to the first clip (its first
  phrase streamed, the audio a player starts on; and the whole clip) and to all five (targets
  3 s and 10 s on 2 cores), beside one artist's full 8-bar generate (baseline).

Times are whole ``Pipeline.generate`` calls (compose, render, produce) on a warm pipeline.
"""
from __future__ import annotations

import dataclasses
import io
import os
import statistics
import tempfile
import time

from typing import Any

from benchmarks.songs import SONGS, Song, melody_midi

TARGET_RESING = 0.10
TARGET_FIRST_CLIP_S = 3.0
TARGET_ALL_CLIPS_S = 10.0
AUDITION = ("heart", "michael", "emma", "george", "bella")


def long_song(song: Song, repeat: int) -> Song:
    """``song``'s lines and bars ``repeat`` times over (the melody keeps its bar positions)."""
    return dataclasses.replace(song, name=f"{song.name}x{repeat}", chords=song.chords * repeat,
                               lines=song.lines * repeat)


def changed_line(song: Song, i: int) -> Song:
    """``song`` with the first word of line ``i`` swapped for another of as many syllables."""
    lines = list(song.lines)
    words = lines[i].lyrics.split()
    k = next((j for j, w in enumerate(words) if "-" not in w), 0)
    words[k] = "bright" if words[k].lower() != "bright" else "glow"
    lines[i] = dataclasses.replace(lines[i], lyrics=" ".join(words))
    return dataclasses.replace(song, lines=tuple(lines))


def request(song: Song, artist: str, seed: int = 0, bars: tuple[int, int] | None = None) -> Any:
    from inference.pipeline import GenerateRequest

    buf = io.BytesIO()
    melody_midi(song).save(file=buf)
    return GenerateRequest(lyrics_text=song.lyrics_text(), sample_rate=song.sample_rate,
                           length_samples=song.length_samples, melody_midi=buf.getvalue(), artist=artist,
                           seed=seed, bars=bars)


def timed(pipe: Any, req: Any) -> tuple[float, dict[str, int]]:
    t0 = time.perf_counter()
    take = pipe.generate(req)
    return time.perf_counter() - t0, dict(take.register.get("phrase_cache", {}))


def med(xs: list[float]) -> float:
    return float(statistics.median(xs))


def resing(pipe: Any, cache: Any, song: Song, artist: str, runs: int) -> dict[str, Any]:
    """(a): full render on an empty cache vs one line changed, ``runs`` times."""
    full, change, counts = [], [], []
    step = max(1, len(song.lines) // (runs + 1))
    for r in range(runs):
        cache.clear()
        full.append(timed(pipe, request(song, artist))[0])
        t, c = timed(pipe, request(changed_line(song, step * (r + 1)), artist))
        change.append(t)
        counts.append(c)
    return {"full_s": med(full), "resing_s": med(change), "ratio": med(change) / med(full),
            "full_runs": full, "resing_runs": change, "phrase_cache": counts[-1]}


def second_artist(pipe: Any, cache: Any, song: Song, artists: tuple[str, str], runs: int) -> dict[str, Any]:
    """(b): the request with ``artists[0]`` on an empty cache, then with ``artists[1]``."""
    first, second = [], []
    for _ in range(runs):
        cache.clear()
        first.append(timed(pipe, request(song, artists[0]))[0])
        second.append(timed(pipe, request(song, artists[1]))[0])
    return {"first_s": med(first), "second_s": med(second), "ratio": med(second) / med(first)}


def audition_run(pipe: Any, cache: Any, song: Song, runs: int) -> dict[str, Any]:
    """(c): 5 artists x 8 bars, first clip and all clips, vs one artist's 8-bar generate."""
    from inference.audition import audition

    bars = (song.melody_start_bar, song.melody_start_bar + 7)
    req = request(song, AUDITION[0], bars=bars)
    one, audio, first, every = [], [], [], []
    for _ in range(runs):
        cache.clear()
        one.append(timed(pipe, req)[0])
        cache.clear()
        parts: list[float] = []
        clips = audition(pipe, req, list(AUDITION), on_part=lambda p: parts.append(p.ready_s))
        audio.append(min(parts))
        first.append(min(c.ready_s for c in clips))
        every.append(max(c.ready_s for c in clips))
    return {"one_artist_s": med(one), "first_audio_s": med(audio), "first_clip_s": med(first),
            "all_clips_s": med(every), "ratio_all_to_one": med(every) / med(one), "bars": list(bars)}


def main(song_name: str, repeat: int, runs: int, threads: int, parts: str = "abc") -> int:
    from benchmarks.results import machine_line, record
    from inference.phrase_cache import PhraseCache
    from inference.pipeline import Pipeline

    base = SONGS[song_name]
    song = long_song(base, repeat)
    print(f"# speed.py --session: {machine_line()}, {threads} threads, load {os.getloadavg()[0]:.1f}; "
          f"song {song.name} ({song.duration_s:.0f} s, {len(song.lines)} lines), {runs} runs, parts {parts}", flush=True)
    lines: list[str] = []
    ok = True
    with tempfile.TemporaryDirectory(prefix="topline-phrases-") as d:
        os.environ["TOPLINE_PHRASE_CACHE_DIR"] = d  # an empty cache of the benchmark's own
        pipe = Pipeline(threads=threads)
        pipe.warm_up()
        cache = getattr(pipe.engine("kokoro"), "phrase_cache", None)
        if not isinstance(cache, PhraseCache):
            raise SystemExit("the Kokoro engine has no phrase cache (TOPLINE_PHRASE_CACHE=off?)")
        timed(pipe, request(base, AUDITION[0]))  # warm-up of the front end and every session
        if "a" in parts:
            a = resing(pipe, cache, song, AUDITION[0], runs)
            ok &= a["ratio"] <= TARGET_RESING
            lines.append(f"(a) one line changed in {song.name} ({song.duration_s:.0f} s): re-sung {a['resing_s']:.2f} s "
                         f"vs full render {a['full_s']:.1f} s (same runs): {a['ratio']:.3f} (target <= "
                         f"{TARGET_RESING}); phrases {a['phrase_cache']}")
            print(lines[-1], f"; load {os.getloadavg()[0]:.1f}", flush=True)
        if "b" in parts:
            b = second_artist(pipe, cache, base, (AUDITION[0], AUDITION[1]), runs)
            lines.append(f"(b) a second artist ({AUDITION[1]}) on the same request ({base.name}, "
                         f"{base.duration_s:.0f} s): {b['second_s']:.1f} s vs the first ({AUDITION[0]}) "
                         f"{b['first_s']:.1f} s: {b['ratio']:.2f}")
            print(lines[-1], f"; load {os.getloadavg()[0]:.1f}", flush=True)
        if "c" in parts:
            c = audition_run(pipe, cache, base, runs)
            ok &= c["first_audio_s"] <= TARGET_FIRST_CLIP_S and c["all_clips_s"] <= TARGET_ALL_CLIPS_S
            lines.append(f"(c) audition {len(AUDITION)} artists x 8 bars of {base.name}: first clip streaming at "
                         f"{c['first_audio_s']:.1f} s (its first phrase; target <= {TARGET_FIRST_CLIP_S}), finished "
                         f"at {c['first_clip_s']:.1f} s; all {c['all_clips_s']:.1f} s (target <= {TARGET_ALL_CLIPS_S});"
                         f" one artist's 8-bar generate {c['one_artist_s']:.1f} s (baseline; all / one "
                         f"{c['ratio_all_to_one']:.2f}x)")
            print(lines[-1], f"; load {os.getloadavg()[0]:.1f}", flush=True)
    key = "speed.py --session" + ("" if parts == "abc" else f" --parts {parts}")
    record(key, "\n".join([
        f"`{key} --song {song_name} --repeat {repeat} --runs {runs}`, {threads} threads, load "
        f"{os.getloadavg()[0]:.1f} at the end; whole generate calls on a warm pipeline, medians", "",
        *[f"- {x}" for x in lines], f"- {'PASS' if ok else 'FAIL'}"]))
    return 0 if ok else 1


def add_arguments(ap: Any) -> None:
    ap.add_argument("--session", action="store_true", help="the session figures (a)-(c) instead (speed_session.py)")
    ap.add_argument("--song", default="lanterns", help="the song the session figures use")
    ap.add_argument("--repeat", type=int, default=7, help="its lines repeated this often for (a)'s long song")
    ap.add_argument("--parts", default="abc", help="which session figures: any of a, b, c (default all)")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit("run it as benchmarks/speed.py --session")

