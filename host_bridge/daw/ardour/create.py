"""Creating an Ardour 7 session headless (tests, templates): rate, tempo map, busses, tracks."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from host_bridge.daw.ardour import runner as R
from host_bridge.daw.ardour.session import TICKS_PER_QN
from host_bridge.core.errors import InputError
from host_bridge.core.model import TempoMap


def session_tempo_env(tm: TempoMap) -> dict[str, str]:
    """TOPLINE_TEMPOS / TOPLINE_METERS for the headless scripts (quarter-note tempos)."""
    tempos = "\n".join(f"{int(round(t.qn * TICKS_PER_QN))}\t{t.bpm!r}\t{t.bpm!r}\t4" for t in tm.tempos)
    meters = "\n".join(f"{int(round(tm.qn_at_bar(m.bar) * TICKS_PER_QN))}\t{m.numerator}\t{m.denominator}"
                       for m in tm.meters)
    return {"TOPLINE_TEMPOS": tempos, "TOPLINE_METERS": meters}


def create_session(folder: str | Path, sample_rate: int, tempo_map: TempoMap,
                   tracks: Sequence[tuple[str, int] | tuple[str, int, str]],
                   busses: Sequence[tuple[str, int]] = (), runner: R.ArdourRunner | None = None) -> Path:
    """Create a new Ardour session headless (tests, templates): ``tracks`` as (name, channels) or
    (name, channels, bus it feeds), ``busses`` as (name, channels). Returns its .ardour file."""
    folder = Path(folder).resolve()
    if folder.exists() and any(folder.iterdir()):
        raise InputError(f"{folder} already exists and is not empty", "choose a new folder for the session")
    folder.parent.mkdir(parents=True, exist_ok=True)
    run = runner or R.ArdourRunner()
    env = {"TOPLINE_RATE": str(sample_rate),
           "TOPLINE_TRACKS": "\n".join("\t".join(str(v) for v in t) for t in tracks),
           "TOPLINE_BUSSES": "\n".join(f"{n}\t{c}" for n, c in busses)}
    env.update(session_tempo_env(tempo_map))
    run.run("new_session.lua", folder, folder.name, env)
    return folder / f"{folder.name}.ardour"
