"""Transport benchmark: the bridge <-> sidecar road, measured as the musician meets it.

    .venv/bin/python benchmarks/transport.py                 # everything (needs the Kokoro models)
    .venv/bin/python benchmarks/transport.py --skip-engine   # transport only
    .venv/bin/python benchmarks/transport.py --json out.json

1. Round trip of a 3-minute 48 kHz stereo float32 instrumental (69 MB) through the protocol
   between a bridge and a real server process (the sidecar's own loop, with an echo handler
   that answers a generate with its own copy of the instrumental as a chunk), against a plain
   memory copy of the same buffer measured in the same run. Gate: median round trip <= 3x the
   median copy, and under 100 ms. Reported for the shared-memory lane (what a bridge and a
   sidecar on one machine agree on) and for plain frames over TCP loopback (what a remote
   sidecar gets), plus the pure encode/decode cost and the round trip with the bridge's copy
   out of shared memory (what Bridge does before handing a take over).
2. Sidecar cold start: spawn -> listening (connection file written, hello answered) -> ready
   (models loaded and warmed).
3. Time from generate to the first audio chunk with the default engine warm (target <= 1.5 s),
   on the demo song; each run is cancelled after its first chunk.

Warm-up first, then several runs; medians. Device: CPU (the sidecar reports it in hello).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from host_bridge.core import protocol as P  # noqa: E402
from host_bridge.client import SidecarClient  # noqa: E402
from host_bridge.supervisor import SidecarManager, sidecar_command  # noqa: E402

SR = 48000
SECONDS = 180


def median_s(fn: Callable[[], Any], runs: int, warmup: int = 2) -> tuple[float, list[float]]:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), ts


# ------------------------------------------------------------------------------------ echo server
def echo_server(argv: list[str]) -> int:
    """The sidecar's server loop with a handler that echoes a generate's instrumental as a chunk."""
    from inference.server.__main__ import main
    from inference.server.app import SidecarServer

    class EchoServer(SidecarServer):
        def on_job(self, ident: bytes, msg: P.Message) -> None:
            spec = P.job_spec(msg)
            assert spec.instrumental is not None
            self.send(ident, P.chunk_event(msg.id, spec.instrumental, spec.sample_rate, 0, 0))

    return main([*argv, "--no-warm", "--pipeline", "benchmarks.transport:no_pipeline"], server_class=EchoServer)


def no_pipeline(threads: int = 1) -> None:
    return None


def transport(runs: int, seconds: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    inst = rng.standard_normal((2, seconds * SR)).astype(np.float32)
    spec = P.JobSpec("la", SR, inst.shape[1], instrumental=inst)
    proto_s, _ = median_s(lambda: P.decode(P.encode(P.job_request(spec))), runs)
    out: dict[str, Any] = {"buffer_mb": round(inst.nbytes / 1e6, 2), "encode_decode_ms": round(proto_s * 1e3, 3)}
    copies: list[float] = []

    def interleaved(fn: Callable[[], Any], n: int) -> float:
        """Median of ``fn``, each run next to a plain copy of the buffer (same load for both)."""
        ts = []
        for _ in range(n):
            t0 = time.perf_counter()
            inst.copy()
            copies.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        return statistics.median(ts)

    with tempfile.TemporaryDirectory() as tmp:
        m = SidecarManager([sys.executable, str(Path(__file__).resolve()), "--echo-server"],
                           Path(tmp) / "echo.json", start_timeout=60)
        first = m.start()
        first.close()
        try:
            for lane, shm in (("shm", True), ("frames_tcp", False)):
                assert m.info is not None
                c = SidecarClient(m.info)
                c.hello(shm=shm)
                assert c.use_shm == shm, f"{lane}: shared memory was not agreed"

                def round_trip(copy_out: bool = False) -> np.ndarray:
                    slots: list[str] = []
                    req = P.job_request(spec)
                    c.send(req, slots)
                    while True:
                        msg = c.recv(10.0)
                        assert msg is not None, "the echo server did not answer"
                        if msg.re == req.id and msg.type == "chunk":
                            break
                    audio = msg.buffers["audio"]
                    assert isinstance(audio, P.Audio)
                    arr = np.array(audio.array) if copy_out else audio.array
                    c.release(msg)
                    if c.arena is not None:
                        c.arena.release(slots)
                    return arr

                got = round_trip()
                assert np.array_equal(got, inst), f"{lane}: the buffer came back changed"
                round_trip()
                out[f"{lane}_round_trip_ms"] = interleaved(round_trip, runs)
                if shm:
                    out["shm_round_trip_with_copy_out_ms"] = interleaved(lambda: round_trip(True), runs)
                c.close()
        finally:
            m.kill(term_timeout=1.0)
    copy_s = statistics.median(copies)
    out["memcpy_ms"] = round(copy_s * 1e3, 2)
    for k in [k for k in out if k.endswith("round_trip_ms") or k.endswith("copy_out_ms")]:
        out[k.replace("round_trip_ms", "ratio").replace("_ms", "_ratio")] = round(out[k] / copy_s, 2)
        out[k] = round(out[k] * 1e3, 2)
    out["pass"] = bool(out["shm_ratio"] <= 3.0 and out["shm_round_trip_ms"] < 100.0)
    return out


# ------------------------------------------------------------------------------------ the engine
def engine(runs: int, threads: int) -> dict[str, Any]:
    from host_bridge.bridge import Bridge
    from host_bridge.jobfiles import spec_from_files

    demo = ROOT / "demo"
    spec = spec_from_files(demo / "instrumental.ogg", demo / "lyrics.txt", demo / "melody.mid")
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        m = SidecarManager(sidecar_command(["--threads", str(threads)]), Path(tmp) / "sidecar.json",
                           start_timeout=120)
        t0 = time.perf_counter()
        client = m.start()
        out["cold_start_listening_s"] = round(time.perf_counter() - t0, 3)
        deadline = time.monotonic() + 300
        while (hello := client.hello(30.0))["state"] == "warming":
            assert time.monotonic() < deadline, "the sidecar did not get ready in 5 minutes"
            time.sleep(0.05)
        out["cold_start_ready_s"] = round(time.perf_counter() - t0, 3)
        out["device"] = hello["device"]
        if hello["state"] != "ready":
            raise SystemExit(f"sidecar failed: {hello.get('failure')}")
        bridge = Bridge(m)
        bridge.client, bridge.hello = client, client.hello_body
        try:
            firsts, inside, cancels = [], [], []
            for i in range(runs + 1):  # the first run is the warm-up
                job = bridge.submit(spec)
                while job.first_chunk_s is None and not job.finished:
                    bridge.poll(0.01)
                if job.first_chunk_s is None:
                    raise SystemExit(f"no chunk: {job.error}")
                if i:
                    firsts.append(job.first_chunk_s)
                    inside.append(job.first_chunk_sidecar_s or 0.0)
                t_cancel = time.perf_counter()
                bridge.cancel(job.id)
                bridge.wait(job.id, 60)
                answered = time.perf_counter() - t_cancel
                while client.status()["running"] is not None:  # the engine finishes its phrase in flight
                    time.sleep(0.02)
                if i:
                    cancels.append((answered, time.perf_counter() - t_cancel))
            out["first_chunk_s_runs"] = [round(x, 3) for x in firsts]
            out["first_chunk_s"] = round(statistics.median(firsts), 3)
            out["first_chunk_inside_sidecar_s"] = round(statistics.median(inside), 3)
            out["first_chunk_transport_overhead_ms"] = round(1e3 * statistics.median(
                [a - b for a, b in zip(firsts, inside)]), 1)
            out["cancel_answered_s"] = round(statistics.median([a for a, _ in cancels]), 3)
            out["cancel_worker_free_s"] = round(statistics.median([b for _, b in cancels]), 3)
            out["first_chunk_pass"] = out["first_chunk_s"] <= 1.5
        finally:
            bridge.close(stop_sidecar=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--seconds", type=int, default=SECONDS, help="instrumental length for the round trip")
    ap.add_argument("--engine-runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-engine", action="store_true", help="transport only (no models)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--echo-server", action="store_true", help=argparse.SUPPRESS)
    args, rest = ap.parse_known_args()
    if args.echo_server:
        return echo_server(rest)
    report: dict[str, Any] = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}",
                              "load_avg_1m": round(os.getloadavg()[0], 2)}
    report["transport"] = transport(args.runs, args.seconds)
    print(json.dumps(report["transport"], indent=1), flush=True)
    if not args.skip_engine:
        report["engine"] = engine(args.engine_runs, args.threads)
        print(json.dumps(report["engine"], indent=1), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    ok = report["transport"]["pass"] and report.get("engine", {}).get("first_chunk_pass", True)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    from benchmarks.results import recorded

    with recorded("transport.py"):
        rc = main()
    sys.exit(rc)
