"""A real sidecar built to misbehave, run as its own process by the integration tests.

    python tests/integration/misbehaving_sidecar.py --misbehave MODE --once-file PATH [server args...]

Modes (each fires once per ``--once-file``, so the restarted sidecar behaves):
  crash    the process exits (status 3) while rendering, after the first phrase went out
  hang     the server loop stops for good after the first phrase (no pongs; SIGTERM is ignored)
  late     the first generate request is answered 2.5 s late (pings are answered meanwhile)
  garbage  every event is preceded by unreadable frames, a wrong-version header, and a done for
           a job nobody asked for; every final event is sent twice (fires every time)
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from host_bridge.core import protocol as P  # noqa: E402
from inference.server.__main__ import main  # noqa: E402
from inference.server.app import SidecarServer  # noqa: E402
from inference.server.jobs import Job  # noqa: E402
from inference.server.worker import RenderWorker  # noqa: E402

ARGS: argparse.Namespace


def fire() -> bool:
    """True the first time a mode fires across restarts (the once-file remembers)."""
    try:
        fd = os.open(ARGS.once_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return False
    os.close(fd)
    return True


class Worker(RenderWorker):
    server: "MisbehavingServer"

    def on_chunk(self, job: Job, index: int) -> None:
        if index != 1:
            return
        if ARGS.misbehave == "crash" and fire():
            os._exit(3)
        if ARGS.misbehave == "hang" and fire():
            self.server.hang.set()


class MisbehavingServer(SidecarServer):
    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.hang = threading.Event()
        self.deferred: list[tuple[float, bytes, P.Message]] = []

    def make_worker(self) -> RenderWorker:
        w = Worker(self.ctx, self.events_url, self.queue, self.factory, self.config.threads, self.config.warm)
        w.server = self
        return w

    def _drain_events(self) -> None:
        super()._drain_events()
        if self.hang.is_set():
            Path(ARGS.once_file + ".hung").write_text(repr(time.time()))
            while True:  # a handler stuck for good: SIGTERM sets a flag nobody reads
                time.sleep(3600)

    def on_job(self, ident: bytes, msg: P.Message) -> None:
        if ARGS.misbehave == "late" and msg.type == "generate" and fire():
            self.deferred.append((time.monotonic() + 2.5, ident, msg))
            return
        super().on_job(ident, msg)

    def _check_idle(self) -> None:
        now = time.monotonic()
        for item in [d for d in self.deferred if d[0] <= now]:
            self.deferred.remove(item)
            super().on_job(item[1], item[2])
        super()._check_idle()

    def send_frames(self, ident: bytes, frames: list[Any]) -> None:
        if ARGS.misbehave == "garbage":
            super().send_frames(ident, [b"\xff\xfe\x00 not json"])
            super().send_frames(ident, [b'{"v": 99, "id": "x", "type": "done", "re": "nobody"}'])
            super().send_frames(ident, [b'{"v": 1, "id": "y", "type": "chunk", "re": "nobody", '
                                        b'"buffers": [{"name": "audio", "dtype": "float32", "shape": [1, 4], '
                                        b'"sample_rate": 48000}]}'])
            super().send_frames(ident, P.encode(P.Message("done", re="nobody", body={"take": {}})))
        super().send_frames(ident, frames)
        if ARGS.misbehave == "garbage" and b'"type":"done"' in bytes(frames[0]):
            super().send_frames(ident, frames)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--misbehave", choices=("crash", "hang", "late", "garbage"), required=True)
    ap.add_argument("--once-file", required=True)
    ARGS, rest = ap.parse_known_args()
    sys.exit(main(rest, server_class=MisbehavingServer))
