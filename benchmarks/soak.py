"""Memory soak (issue 19): one warm sidecar sings ``--takes`` takes in a row; RSS after each.

    nice -n 10 .venv/bin/python benchmarks/soak.py                 # the issue's 40 takes
    nice -n 10 .venv/bin/python benchmarks/soak.py --takes 12      # a reduced run (said so in RESULTS.md)

The real sidecar (``python -m inference.server``, the Kokoro engine) behind a real bridge; the
takes cycle over the benchmark songs in English, ``--artists`` and ``--seeds``, and two
3-minute songs (a benchmark song's lines repeated) at 48 kHz and 96 kHz come at a fifth and three
fifths of the run (takes 9 and 25 of 40). The phrase cache is off (every take renders all its phrases) and so
is the bridge's memory ceiling (nothing restarts the sidecar). RSS is the sidecar's own figure
(its ``status`` reply).

Pass: RSS after the last take <= 1.3x RSS after the fifth, <= 2.0 GB throughout, and no take of a
song slower than 1.2x that song's first rendering (RTF: seconds per second of song).
"""
from __future__ import annotations

import argparse
import dataclasses
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.songs import SONGS, Song, melody_midi  # noqa: E402
from benchmarks.speed_session import long_song  # noqa: E402

MAX_GROWTH = 1.3
MAX_RSS_GB = 2.0
MAX_SLOWDOWN = 1.2
LONG = (("lanterns", 7, 48_000), ("purple_lemons", 8, 96_000))
"""(song, repeats, sample rate) of the 3-minute takes: at a fifth and three fifths of the run."""


def plan(n: int, artists: list[str], seeds: list[int]) -> list[tuple[Song, str, int]]:
    short = [s for s in SONGS.values() if s.language == "en-us"]
    out = []
    long_at = {int(n * 0.2): LONG[0], int(n * 0.6): LONG[1]}
    for i in range(n):
        if i in long_at:
            name, rep, sr = long_at[i]
            song = dataclasses.replace(long_song(SONGS[name], rep), sample_rate=sr)
        else:
            song = short[i % len(short)]
        out.append((song, artists[i % len(artists)], seeds[(i // len(artists)) % len(seeds)]))
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (/proc; 0.0 where unreadable): the
    work a take cost, which other load on a shared machine does not stretch as it does wall time."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def spec(song: Song, artist: str, seed: int) -> Any:
    from host_bridge.core import protocol as P

    buf = io.BytesIO()
    melody_midi(song).save(file=buf)
    return P.JobSpec(song.lyrics_text(), song.sample_rate, song.length_samples, melody_midi=buf.getvalue(),
                     artist=artist, seed=seed)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--takes", type=int, default=40)
    ap.add_argument("--artists", default="heart,michael,emma,george")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    from benchmarks.results import machine_line, record
    from host_bridge.bridge import Bridge
    from host_bridge.supervisor import MemoryCeiling, SidecarManager, sidecar_command

    takes = plan(args.takes, args.artists.split(","), [int(s) for s in args.seeds.split(",")])
    print(f"# soak.py: {machine_line()}, {args.threads} threads, load {os.getloadavg()[0]:.1f}; {len(takes)} takes",
          flush=True)
    os.environ["TOPLINE_PHRASE_CACHE"] = "off"  # the sidecar inherits it: every phrase rendered
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="topline-soak-") as d:
        m = SidecarManager(sidecar_command(["--threads", str(args.threads)]), Path(d) / "sidecar.json",
                           start_timeout=300.0)
        b = Bridge(m, memory_ceiling=MemoryCeiling(None))
        try:
            b.connect()
            assert b.client is not None
            pid = b.client.status().get("rss_bytes")
            print(f"sidecar started: RSS {pid / 2**20 if isinstance(pid, int) else float('nan'):.0f} MB", flush=True)
            sidecar_pid = m.info.pid if m.info is not None else -1
            for i, (song, artist, seed) in enumerate(takes):
                t0, c0 = time.perf_counter(), cpu_seconds(sidecar_pid)
                b.run(spec(song, artist, seed), timeout=3600)
                el, cpu = time.perf_counter() - t0, cpu_seconds(sidecar_pid) - c0
                assert b.client is not None and b.restarts == 0, "the sidecar was restarted: not one warm process"
                rss = int(b.client.status()["rss_bytes"])
                rows.append({"i": i + 1, "song": song.name, "sr": song.sample_rate, "artist": artist, "seed": seed,
                             "s": el, "rtf": el / song.duration_s, "cpu_s": cpu, "rss_mb": rss / 2**20})
                r = rows[-1]
                print(f"take {r['i']:2d} {song.name:16s} {song.sample_rate // 1000:3d} kHz {artist:8s} seed {seed} "
                      f"{song.duration_s:5.0f} s song: {el:6.1f} s (RTF {r['rtf']:.2f}, sidecar CPU {cpu:6.1f} s), RSS {r['rss_mb']:.0f} MB; "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)
        finally:
            b.close(stop_sidecar=True)
    return report(rows, args, machine_line(), record)


def report(rows: list[dict[str, Any]], args: Any, machine: str, record: Any) -> int:
    after5 = rows[min(4, len(rows) - 1)]["rss_mb"]
    last, peak = rows[-1]["rss_mb"], max(r["rss_mb"] for r in rows)
    first: dict[tuple[str, str, int], dict[str, Any]] = {}
    slow, slow_cpu = [], []
    for r in rows:  # the same song, artist and seed: the same work
        ref = first.setdefault((r["song"], r["artist"], r["seed"]), r)
        slow.append(r["s"] / ref["s"])
        slow_cpu.append(r["cpu_s"] / ref["cpu_s"] if ref["cpu_s"] > 0 else 1.0)
    worst = max(slow)
    ok = last <= MAX_GROWTH * after5 and peak <= MAX_RSS_GB * 1024 and worst <= MAX_SLOWDOWN
    lines = [f"RSS after take 5: {after5:.0f} MB; after the last ({len(rows)}): {last:.0f} MB "
             f"({last / after5:.2f}x, target <= {MAX_GROWTH}x); peak {peak:.0f} MB (target <= {MAX_RSS_GB} GB); "
             f"slowest take vs its song's first rendering {worst:.2f}x (target <= {MAX_SLOWDOWN}x, median "
             f"{statistics.median(slow):.2f}x); in the sidecar's CPU time {max(slow_cpu):.2f}x (median "
             f"{statistics.median(slow_cpu):.2f}x)", f"{'PASS' if ok else 'FAIL'}"]
    print("\n".join(lines))
    reduced = "" if len(rows) >= 40 else f" (a reduced run: {len(rows)} of the issue's 40 takes)"
    record("soak.py", "\n".join([
        f"`soak.py --takes {args.takes} --artists {args.artists} --seeds {args.seeds}`{reduced}, load "
        f"{os.getloadavg()[0]:.1f} at the end; one warm Kokoro sidecar, phrase cache off"
        f"{', heap release off' if os.environ.get('TOPLINE_HEAP_RELEASE') == 'off' else ''}", "",
        "- RSS after each take (MB): " + ", ".join(f"{r['rss_mb']:.0f}" for r in rows),
        "- take times (s): " + ", ".join(f"{r['s']:.0f}" for r in rows),
        "- the sidecar's CPU time per take (s): " + ", ".join(f"{r['cpu_s']:.0f}" for r in rows),
        *[f"- {x}" for x in lines]]))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
