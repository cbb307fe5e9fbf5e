"""Getting audio out of an Ardour 7 session: a headless export over a sample range, and the
capture of a bus over bars (exported headless, or handed in as a file the GUI exported)."""
from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf

from host_bridge.daw.ardour import runner as R
from host_bridge.daw.ardour.errors import ArdourRunError, BarRangeError
from host_bridge.daw.ardour.session import ArdourSession
from host_bridge.core.errors import InputError

ExportFn = Callable[..., tuple[Path, R.RunResult]]


@dataclass(frozen=True)
class Capture:
    audio: np.ndarray
    """float32 [C, T] at the session rate: what the bus sends to the master over the bars."""
    sample_rate: int
    start_sample: int
    bars: tuple[int, int]
    bus: str
    ardour_bars: dict[int, int]
    """Where Ardour's own tempo map puts each captured bar line (bar -> sample)."""
    seconds: float


def export_range(session: ArdourSession, runner: R.ArdourRunner, start_sample: int, end_sample: int,
                 out: str | Path, solo: str | None = None,
                 report_bars: tuple[int, int] | None = None) -> tuple[Path, R.RunResult]:
    """Export the master over [start, end) samples (``solo``: only that bus/track) to ``out``;
    ``report_bars`` (first, last): Ardour also reports where it puts those bar lines."""
    out = Path(out)
    if end_sample <= start_sample:
        raise BarRangeError(f"export range {start_sample}-{end_sample} is empty", "give an end after the start")
    preset = R.ensure_export_preset()
    with tempfile.TemporaryDirectory(prefix="topline-export-") as td, R.session_lock(session.dir):
        env = {"TOPLINE_START": str(start_sample), "TOPLINE_END": str(end_sample), "TOPLINE_OUT_DIR": td,
               "TOPLINE_PRESET": preset, "TOPLINE_SOLO": solo or ""}
        if report_bars:
            env["TOPLINE_REPORT_BARS"] = f"{report_bars[0]}\t{report_bars[1]}"

        def clear() -> None:  # a crashed attempt may have left a half-written file
            for f in Path(td).iterdir():
                f.unlink() if f.is_file() else shutil.rmtree(f, ignore_errors=True)

        res = runner.run("export.lua", session.dir, session.snapshot, env, before_attempt=clear)
        files = sorted(Path(td).glob("*.wav"))
        if len(files) != 1:
            raise ArdourRunError(f"Ardour's export wrote {len(files)} files", "run with -v and check the log")
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(files[0]), out)
    return out, res


def capture_bus(session: ArdourSession, export: ExportFn, bus: str, bars: tuple[int, int], master: str) -> Capture:
    """What ``bus`` sends to the master over ``bars`` (inclusive), at the session rate, exported
    by ``export`` (checked: Ardour's bar lines must be where Topline reads them, within a sample)."""
    s = session
    start, end = s.bar_sample(bars[0]), s.bar_sample(bars[1] + 1)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="topline-capture-") as td:
        path, res = export(start, end, Path(td) / "capture.wav",
                           solo=None if bus == master else bus, report_bars=(bars[0], bars[1] + 1))
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    if sr != s.sample_rate or data.shape[0] != end - start:
        raise ArdourRunError(f"Ardour exported {data.shape[0]} samples at {sr} Hz, expected {end - start} at "
                             f"{s.sample_rate} Hz", "report this with the session file")
    ardour_bars = {int(b): int(x) for b, x in res.values("bar")}
    for b, x in ardour_bars.items():
        ours = s.bar_sample(b)
        if abs(ours - x) > 1:
            raise ArdourRunError(f"Ardour puts bar {b} at sample {x}, Topline's reading of the tempo map at {ours}",
                                 "the session's tempo map holds something Topline misreads; report it")
    return Capture(np.ascontiguousarray(data.T), sr, start, bars, bus, ardour_bars, time.monotonic() - t0)


def capture_file(session: ArdourSession, path: str | Path, bus: str, bars: tuple[int, int]) -> Capture:
    """A capture exported elsewhere (Ardour's GUI): checked against the session's rate and bars."""
    from host_bridge.core.audio import read_audio

    session.route(bus)
    session.check_bars(*bars)
    audio, sr = read_audio(path)
    start, end = session.bar_sample(bars[0]), session.bar_sample(bars[1] + 1)
    if sr != session.sample_rate:
        raise InputError(f"capture {path} is at {sr} Hz, the session at {session.sample_rate} Hz",
                         "export the bus at the session rate")
    if abs(audio.shape[1] - (end - start)) > 1:
        raise InputError(f"capture {path} is {audio.shape[1]} samples long; bars {bars[0]}-{bars[1]} are "
                         f"{end - start}", "export exactly the bars to sing (from the first bar line to the "
                         "bar line after the last bar)")
    fixed = np.zeros((audio.shape[0], end - start), np.float32)
    n = min(end - start, audio.shape[1])
    fixed[:, :n] = audio[:, :n]
    return Capture(fixed, sr, start, bars, bus, {}, 0.0)
