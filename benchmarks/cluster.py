"""Throughput and latency of the cluster gateway (issue 21): the same burst of jobs from several
bridges at once, served by the local sidecar (the baseline, in the same run), then by a local
Ray Serve cluster with 1 and with 2 replicas. Prints takes per minute and p50 / p95 latency
(submit -> take) as the median over ``--runs`` bursts, the 2-vs-1 replica scaling ratio and the
cluster-vs-sidecar ratio, and writes them to benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/cluster.py                       # tone engine (renders by sleeping)
    .venv/bin/python benchmarks/cluster.py --pipeline inference.pipeline:Pipeline --jobs-per-client 1

The tone engine's render is a sleep of ``--rtf`` x the sung length, so it measures what the
gateway, Ray Serve and the scheduling add and how replicas overlap renders, not CPU contention;
the real pipeline on this 2-core machine is CPU-bound, and its replicas share the same cores.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from benchmarks.results import machine_line, record  # noqa: E402
from host_bridge.core import protocol as P  # noqa: E402
from host_bridge.bridge import Bridge  # noqa: E402
from host_bridge.supervisor import Heartbeat, SidecarManager, sidecar_command  # noqa: E402

TONE = f"{ROOT / 'tests' / 'integration' / 'tone.py'}:TonePipeline"
LYRICS = "[Verse]\nla la la la\nlo lo lo lo\n[Chorus]\nli li li li\nlu lu lu lu"


def spec(seed: int) -> P.JobSpec:
    from tone import melody_midi

    return P.JobSpec(LYRICS, 48000, 12 * 48000, melody_midi=melody_midi(16), seed=seed)


@contextlib.contextmanager
def local_sidecar(pipeline: str, tmp: Path) -> Iterator[Path]:
    m = SidecarManager(sidecar_command(["--pipeline", pipeline, "--threads", "2"]), tmp / "local.json",
                       start_timeout=300.0)
    m.start().close()
    try:
        yield tmp / "local.json"
    finally:
        m.kill(term_timeout=2.0)


@contextlib.contextmanager
def cluster(pipeline: str, replicas: int, tmp: Path) -> Iterator[Path]:
    cf = tmp / f"cluster{replicas}.json"
    cpus = os.cpu_count() or 2
    with open(tmp / f"cluster{replicas}.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "inference.serve", "--replicas", str(replicas),
                                 "--cpus-per-replica", str(cpus / replicas), "--num-cpus", str(cpus),
                                 "--pipeline", pipeline, "--connection-file", str(cf)],
                                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 600
            while not cf.exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the gateway did not start; see {tmp / f'cluster{replicas}.log'}")
                time.sleep(0.2)
            yield cf
        finally:
            proc.terminate()
            try:
                proc.wait(90)
            except subprocess.TimeoutExpired:
                pass
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # no Ray process outlives the run
            proc.wait(10)


def burst(cf: Path, clients: int, per_client: int, seed0: int) -> tuple[float, list[float]]:
    """``clients`` bridges each send ``per_client`` jobs at once; (wall seconds, latencies)."""
    lat: list[float] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(clients)
    lock = threading.Lock()

    def client(c: int) -> None:
        try:
            b = Bridge(SidecarManager(connection_file=cf), Heartbeat(time_to_dead=10.0), accept_timeout=10.0)
            b.connect(start=False)
            barrier.wait(60)
            t0 = time.perf_counter()
            jobs = [b.submit(spec(seed0 + c * per_client + i)) for i in range(per_client)]
            done: set[str] = set()
            while len(done) < len(jobs):
                b.poll(0.01)
                for j in jobs:
                    if j.finished and j.id not in done:
                        if j.error is not None:
                            raise j.error
                        done.add(j.id)
                        with lock:
                            lat.append(time.perf_counter() - t0)
            b.close()
        except BaseException as e:  # noqa: BLE001 - re-raised below
            errors.append(e)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - t0, lat


def one_burst(cf: Path, args: argparse.Namespace, seed0: int, label: str) -> tuple[float, float, float]:
    """(wall s, p50 s, p95 s) of one burst of ``clients`` x ``jobs_per_client`` jobs."""
    n = args.clients * args.jobs_per_client
    wall, lat = burst(cf, args.clients, args.jobs_per_client, seed0)
    lat.sort()
    p50, p95 = statistics.median(lat), lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))]
    print(f"    {label}: {n} takes in {wall:.2f} s, p50 {p50:.2f} s, p95 {p95:.2f} s", flush=True)
    return wall, p50, p95


def summary(runs: list[tuple[float, float, float]], n: int) -> dict[str, float]:
    wall = statistics.median(r[0] for r in runs)
    return {"takes_per_min": 60.0 * n / wall, "p50_s": statistics.median(r[1] for r in runs),
            "p95_s": statistics.median(r[2] for r in runs), "wall_s": wall, "bursts": len(runs)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pipeline", default=TONE, help="replicas' and the sidecar's pipeline (module:callable)")
    ap.add_argument("--rtf", type=float, default=0.1, help="the tone engine's render time per second sung")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--jobs-per-client", type=int, default=3)
    ap.add_argument("--runs", type=int, default=3, help="bursts per cluster size (each beside a sidecar burst)")
    ap.add_argument("--no-record", action="store_true", help="print only; leave benchmarks/RESULTS.md alone")
    args = ap.parse_args()
    os.environ["TOPLINE_TONE_RTF"] = str(args.rtf)
    # every take is rendered: no phrase cache (it would serve a repeated request from disk), and
    # no seed is sent twice (the gateway forwards TOPLINE_* to the replicas)
    os.environ["TOPLINE_PHRASE_CACHE"] = "off"
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    n = args.clients * args.jobs_per_client
    local_runs: list[tuple[float, float, float]] = []
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="topline-cluster-bench-") as d:
        tmp = Path(d)
        with local_sidecar(args.pipeline, tmp) as lcf:
            burst(lcf, 1, 1, 10_000)  # warm-up
            for size in (1, 2):
                name = f"cluster, {size} replica{'s' if size > 1 else ''}"
                print(name, "(each burst after a local sidecar burst, the baseline)", flush=True)
                t0 = time.perf_counter()
                with cluster(args.pipeline, size, tmp) as ccf:
                    up = time.perf_counter() - t0
                    burst(ccf, 1, 1, 10_000 + size)  # warm-up: first-call costs paid
                    runs = []
                    for r in range(args.runs):  # interleaved, so both see the same machine load
                        seed = 100_000 * size + 1000 * r
                        local_runs.append(one_burst(lcf, args, seed, "local sidecar"))
                        runs.append(one_burst(ccf, args, seed + 500, name))
                    rows[name] = {**summary(runs, n), "up_s": up}
    rows = {"local sidecar": summary(local_runs, n), **rows}
    body = report(rows, args)
    print(body)
    if not args.no_record:  # the tone run and a real-pipeline run keep a section each
        record("cluster.py" if args.pipeline == TONE else f"cluster.py --pipeline {args.pipeline}", body)
    return 0


def report(rows: dict[str, dict[str, float]], args: argparse.Namespace) -> str:
    base, one, two = rows["local sidecar"], rows["cluster, 1 replica"], rows["cluster, 2 replicas"]
    engine = "tone (a sleep of %.2f x the sung length)" % args.rtf if args.pipeline == TONE else args.pipeline
    lines = [f"Engine: {engine}; {args.clients} bridges x {args.jobs_per_client} jobs at once (12 s takes, "
             f"8 s sung), medians over bursts, each cluster burst right after a local sidecar burst (the "
             f"sidecar's row pools all of them); machine: {machine_line()}.", "",
             "| served by | takes / min | p50 latency s | p95 latency s | start s |", "|---|---|---|---|---|"]
    for name, r in rows.items():
        up = f"{r['up_s']:.0f}" if "up_s" in r else "-"
        lines.append(f"| {name} | {r['takes_per_min']:.1f} | {r['p50_s']:.2f} | {r['p95_s']:.2f} | {up} |")
    vs_local = one["takes_per_min"] / base["takes_per_min"]
    why = ("not explained: a guess, untested, is that the gateway's socket work runs in another process than "
           "the render, where the sidecar's loop and worker share one interpreter" if vs_local >= 1
           else "what the gateway and Ray Serve add")
    lines += ["", f"Scaling, 2 vs 1 replicas: {two['takes_per_min'] / one['takes_per_min']:.2f}x takes/min; "
              f"1 replica vs the local sidecar: {vs_local:.2f}x ({why}).", "",
              "On paper, N GPU nodes with one replica each: takes/min = N x 60 / (per-take render seconds), "
              "the per-take render seconds being the sung length x the replica's RTF (speed.py) plus the "
              "fixed stages; the gateway is one process that moves every byte of audio (a real job's 12 s stereo 48 kHz "
              "instrumental in and its take out: ~7 MB), so its own limits are its NIC and one core's "
              "encode/copy rate (transport.py), far above what a handful of GPU nodes produce."]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
