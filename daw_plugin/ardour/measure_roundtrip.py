"""Measure what an Ardour round trip costs, with the real singer, on the bundled demo song.

    .venv/bin/python daw_plugin/ardour/measure_roundtrip.py [--bars 2-14] [--keep DIR]

Builds a 44.1 kHz session at 96 BPM (the demo's map) with the instrumental on a track feeding a
'Band' bus, stores the demo lyrics and guide melody with it, then times each step of
``ArdourAdapter.sing`` (headless export of the bus, the take from a sidecar it starts (cold), the new
track and region) and a second take (warm sidecar), and checks placement on an export of the
master. Prints one line per step. Not part of the test suite (the singer takes real CPU time).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from host_bridge.daw.ardour import ArdourAdapter, SingOptions, create_session  # noqa: E402
from host_bridge.daw.ardour.records import Settings  # noqa: E402
from host_bridge.daw.take_source import SidecarTakeSource  # noqa: E402
from host_bridge.core.midi import read_melody  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bars", default="2-14")
    ap.add_argument("--keep", type=Path, default=None, help="build the session here and keep it")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    first, last = (int(x) for x in a.bars.split("-"))
    demo = ROOT / "demo"
    audio, sr = sf.read(str(demo / "instrumental.ogg"), dtype="float32", always_2d=True)
    tm = read_melody(demo / "melody.mid").tempo_map
    work = Path(tempfile.mkdtemp(prefix="topline-ardour-")) if a.keep is None else a.keep
    folder = work / "kitchen_floor"
    t = time.monotonic()
    create_session(folder, sr, tm, [("Instrumental", 2, "Band")], busses=[("Band", 2)])
    print(f"create session            {time.monotonic() - t:6.1f} s")
    source = SidecarTakeSource(connection_file=work / "sidecar.json", detach=False, threads=a.threads)
    ad = ArdourAdapter(folder, take_source=source)
    try:
        ad.place_audio("Instrumental", np.ascontiguousarray(audio.T), sr, 1, "instrumental")
        Settings(lyrics=str(demo / "lyrics.txt"), melody=str(demo / "melody.mid"), bus="Band",
                 bars=(first, last)).save(ad.session.topline_dir)
        for label in ("take 1 (cold sidecar)", "take 2 (warm sidecar)"):
            t = time.monotonic()
            rec = ad.sing(SingOptions(seed=0 if "1" in label else 1))
            total = time.monotonic() - t
            tt = rec.timings
            audio_s = (rec.bar_samples[-1] - rec.bar_samples[0]) / sr
            print(f"{label:<25} {total:6.1f} s for {audio_s:.1f} s of bars {first}-{last}: capture "
                  f"{tt.get('capture', 0):.1f} s, render {tt.get('render', 0):.1f} s, place {tt.get('place', 0):.1f} s")
        t = time.monotonic()
        out, _ = ad.export(0, ad.session.end_sample(), work / "mix.wav")
        print(f"export master             {time.monotonic() - t:6.1f} s")
        mix, _ = sf.read(str(out), dtype="float32", always_2d=True)
        take, _ = sf.read(str(ad.session.dir / rec.stem), dtype="float32", always_2d=True)
        n = 1 << int(np.ceil(np.log2(len(mix) + len(take))))
        c = np.fft.irfft(np.fft.rfft(mix.sum(axis=1), n) * np.conj(np.fft.rfft(take[:, 0], n)), n)
        lag = int(np.argmax(c[: len(mix)]))
        print(f"take 2 found at sample {lag}, bar {first} is at {rec.bar_samples[0]} "
              f"({1000 * (lag - rec.bar_samples[0]) / sr:+.3f} ms); session in {folder}")
    finally:
        source.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
