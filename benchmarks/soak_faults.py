"""Fault soak: several clients send valid jobs mixed with hostile frames to one sidecar.

    .venv/bin/python benchmarks/soak_faults.py --minutes 60            # the issue's hour
    nice -n 10 .venv/bin/python benchmarks/soak_faults.py --minutes 5 --json out.json

One real sidecar process (the server loop, queue and worker, with the tests' tone engine
through the real pipeline, so a take costs little CPU) and ``--clients`` client threads, each
on its own socket, in bounded steps. A step is: one valid generate (its take checked against
the first take of the same seed, bit for bit, and its ``done`` counted), ``--fuzz`` hostile
messages from tests/reliability/wirefuzz.py (random, bit-flipped, structure-aware), an attempt
to take over another client's live job id without its key (must be refused) and to cancel it
(must be "unknown"), and a hello naming a FIFO as its shared-memory slot. A monitor samples
the sidecar's RSS and checks that it is the same process.

Pass: 0 sidecar deaths, every valid take correct and delivered exactly once, every takeover
refused, RSS after the first minute growing by less than ``--rss-slack-mb``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT / "tests" / "reliability"))

from host_bridge.core import protocol as P  # noqa: E402
from host_bridge.client import SidecarClient  # noqa: E402
from host_bridge.supervisor import SidecarManager, sidecar_command  # noqa: E402
from tone import melody_midi  # noqa: E402
from wirefuzz import cases  # noqa: E402

LYRICS = "[Verse]\nla la la la\nlo lo lo lo\n[Chorus]\nli li li li\nlu lu lu lu"
SR = 48000


class Shared:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.live: dict[str, str] = {}
        """job id -> client name, while the job runs (targets for takeover attempts)."""
        self.reference: dict[int, np.ndarray] = {}
        self.stats: Counter[str] = Counter()
        self.done_count: Counter[str] = Counter()
        self.stop = threading.Event()


def _spec(seed: int) -> P.JobSpec:
    inst = np.zeros((1, 6 * SR), np.float32)
    return P.JobSpec(LYRICS, SR, 6 * SR, melody_midi=melody_midi(16), instrumental=inst, seed=seed)


def _note(client: SidecarClient, sh: Shared, m: P.Message) -> None:
    client.release(m)
    with sh.lock:
        sh.stats[f"reply_{m.type}"] += 1
        if m.type == "done":
            sh.done_count[m.re or ""] += 1


def _count(client: SidecarClient, sh: Shared, until: float, want: str | None = None) -> P.Message | None:
    """Read replies until ``until``; count them; return the first event of job ``want`` that ends it."""
    while time.monotonic() < until:
        m = client.recv(max(0.0, until - time.monotonic()))
        if m is None:
            continue
        _note(client, sh, m)
        if want is not None and m.re == want and m.type in ("done", "error"):
            return m
    return None


def _valid_job(name: str, client: SidecarClient, sh: Shared, rng: random.Random) -> None:
    seed = rng.randrange(3)
    job = P.job_request(_spec(seed), job_id=P.new_id(), key=P.new_id())
    with sh.lock:
        sh.live[job.id] = name
    client.send(job)
    end = _count(client, sh, time.monotonic() + 120, want=job.id)
    with sh.lock:
        sh.live.pop(job.id, None)
        if end is None:
            sh.stats["valid_timeout"] += 1
            return
        if end.type == "error":
            sh.stats[f"valid_error_{end.body.get('code')}"] += 1
            return
        take = P.take_from_done(end)
        ref = sh.reference.setdefault(seed, take.audio)
        ok = take.audio.shape == (1, 6 * SR) and np.array_equal(take.audio, ref)
        sh.stats["valid_ok" if ok else "valid_wrong"] += 1


def _attacks(client: SidecarClient, sh: Shared, rng: random.Random, n_fuzz: int, fifo: str | None) -> None:
    for frames in cases(rng.randrange(1 << 30), n_fuzz):
        client.sock.send_multipart(frames, copy=True)
    with sh.lock:
        sh.stats["fuzz_sent"] += n_fuzz
        targets = list(sh.live)
    if targets:
        victim = rng.choice(targets)
        steal = P.job_request(_spec(0), job_id=victim, key=P.new_id())
        client.send(steal)
        cancel = P.Message("cancel", body={"job": victim})
        client.send(cancel)
        deadline = time.monotonic() + 5
        got: dict[str, str] = {}
        while time.monotonic() < deadline and len(got) < 2:
            m = client.recv(0.2)
            if m is None:
                continue
            _note(client, sh, m)
            if m.re == victim and m.type in ("error", "accepted", "done", "chunk", "progress"):
                got["steal"] = str(m.body.get("code", m.type))
            elif m.re == cancel.id and m.type == "cancel_reply":
                got["cancel"] = str(m.body.get("state"))
        with sh.lock:
            sh.stats["takeover_refused" if got.get("steal") == "job_id_taken" else "takeover_NOT_refused"] += 1
            sh.stats["cancel_refused" if got.get("cancel") == "unknown" else "cancel_NOT_refused"] += 1
    if fifo is not None:
        hello = P.Message("hello", body={"versions": [1], "shm": fifo})
        try:
            client.request(hello, "hello_reply", 5.0)
            with sh.lock:
                sh.stats["reply_hello_reply"] += 1
            with sh.lock:
                sh.stats["fifo_hello_answered"] += 1
        except Exception:  # noqa: BLE001 - counted: the server loop did not answer
            with sh.lock:
                sh.stats["fifo_hello_unanswered"] += 1


def client_loop(name: str, info: Any, sh: Shared, seed: int, n_fuzz: int, fifo: str | None) -> None:
    rng = random.Random(seed)
    client = SidecarClient(info, identity=name.encode())
    try:
        client.hello()
        while not sh.stop.is_set():
            _valid_job(name, client, sh, rng)
            _attacks(client, sh, rng, n_fuzz, fifo)
            _count(client, sh, time.monotonic() + 0.2)
            with sh.lock:
                sh.stats["steps"] += 1
    finally:
        _count(client, sh, time.monotonic() + 2.0)  # late duplicates would show here
        client.close()


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run(minutes: float, clients: int, n_fuzz: int, rtf: float) -> dict[str, Any]:
    os.environ["TOPLINE_TONE_RTF"] = str(rtf)
    tone = f"{ROOT / 'tests' / 'integration' / 'tone.py'}:TonePipeline"
    with tempfile.TemporaryDirectory() as tmp:
        m = SidecarManager(sidecar_command(["--pipeline", tone]), Path(tmp) / "sidecar.json", start_timeout=60)
        m.start().close()
        assert m.proc is not None and m.info is not None
        pid = m.proc.pid
        fifo = None
        if Path("/dev/shm").is_dir():
            fifo = f"topline-1-{os.getpid()}"  # pid 1 is alive: no sweep of dead processes' slots removes it
            os.mkfifo(f"/dev/shm/{fifo}", 0o600)
        sh = Shared()
        threads = [threading.Thread(target=client_loop, args=(f"soak-{i}", m.info, sh, i, n_fuzz, fifo), daemon=True)
                   for i in range(clients)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        samples: list[tuple[float, float]] = []
        deaths = 0
        try:
            while time.monotonic() - t0 < minutes * 60:
                time.sleep(5.0)
                if m.proc.poll() is not None:
                    deaths += 1
                    break
                samples.append((round(time.monotonic() - t0, 1), round(rss_mb(pid), 1)))
        finally:
            sh.stop.set()
            for t in threads:
                t.join(180)
            alive = m.proc.poll() is None
            m.kill(term_timeout=1.0)
            if fifo is not None:
                Path(f"/dev/shm/{fifo}").unlink(missing_ok=True)
    warm = [r for t, r in samples if t >= 60] or [r for _, r in samples]
    dup = {k: v for k, v in sh.done_count.items() if v != 1}
    return {"minutes": round((time.monotonic() - t0) / 60, 2), "clients": clients, "fuzz_per_step": n_fuzz,
            "deaths": deaths + (0 if alive else 1), "stats": dict(sh.stats), "done_not_once": len(dup),
            "rss_mb_first": samples[0][1] if samples else None, "rss_mb_after_1min": warm[0] if warm else None,
            "rss_mb_peak": max((r for _, r in samples), default=None),
            "rss_mb_end": samples[-1][1] if samples else None, "rss_samples": samples[:: max(1, len(samples) // 24)]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=60.0, help="how long to run (the issue asks for 60)")
    ap.add_argument("--clients", type=int, default=5)
    ap.add_argument("--fuzz", type=int, default=40, help="hostile messages per client step")
    ap.add_argument("--rtf", type=float, default=0.05, help="the tone engine's render time per second of audio")
    ap.add_argument("--rss-slack-mb", type=float, default=64.0)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    res = run(a.minutes, a.clients, a.fuzz, a.rtf)
    s = res["stats"]
    growth = (res["rss_mb_end"] or 0) - (res["rss_mb_after_1min"] or 0)
    res["rss_growth_after_1min_mb"] = round(growth, 1)
    res["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    res["pass"] = (res["deaths"] == 0 and s.get("valid_ok", 0) > 0 and res["done_not_once"] == 0
                   and not any(k.startswith(("valid_wrong", "valid_timeout", "valid_error")) or "NOT" in k
                               or k == "fifo_hello_unanswered" for k in s)
                   and growth < a.rss_slack_mb)
    print(json.dumps(res, indent=1))
    if a.json:
        a.json.write_text(json.dumps(res, indent=1))
    print("PASS" if res["pass"] else "FAIL")
    return 0 if res["pass"] else 1


if __name__ == "__main__":
    from benchmarks.results import recorded

    with recorded("soak_faults.py"):
        rc = main()
    sys.exit(rc)
