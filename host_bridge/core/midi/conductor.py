"""The conductor of a MIDI file: opening it safely, its tempo and meter events, and the
session's tempo map they make (:func:`read_tempo_map`, e.g. of the DAW's tempo-map export)."""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import mido

from host_bridge.core.errors import InputError, MidiError, TempoError
from host_bridge.core.inputs import read_regular
from host_bridge.core.model.tempo import MeterChange, TempoChange, TempoMap

log = logging.getLogger(__name__)

MAX_MIDI_BYTES = 32 * 1024 * 1024


def read_tempo_map(path: str | Path) -> TempoMap:
    """The tempo map (tempo and meter changes) of a Standard MIDI File, e.g. the DAW's export."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"tempo map {p} does not exist", "export the session's tempo map as a MIDI file")
    mf = _open(p)
    tempos, meters = _conductor(mf, p)
    if not tempos:
        raise TempoError(f"{p.name} has no tempo event", "export the MIDI file with the session's tempo map")
    try:
        return TempoMap(tuple(tempos), tuple(_meters_to_bars(meters, mf.ticks_per_beat, p)))
    except TempoError as e:
        raise TempoError(f"{p.name}: {e.message}", e.hint) from e


def _open(p: Path) -> mido.MidiFile:
    import io

    data = read_regular(p, MAX_MIDI_BYTES, "MIDI file", MidiError)
    try:
        return mido.MidiFile(file=io.BytesIO(data), charset="latin1", clip=True)
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError) as e:
        raise MidiError(f"{p} is not a readable Standard MIDI File: {_why(e, data)}",
                        "export the melody again from the DAW as a Standard MIDI File (.mid, type 0 or 1)") from e


def _why(e: BaseException, data: bytes) -> str:
    """What went wrong reading a MIDI file, in words (mido's EOFError has no message)."""
    if not data.startswith(b"MThd"):
        return "it does not start with a MIDI header (MThd)"
    if isinstance(e, EOFError):
        return "it ends in the middle of a track (the file is cut short)"
    text = str(e).strip()
    return f"{text[:120]} ({type(e).__name__})" if text else type(e).__name__


def _abs_events(track: Any) -> list[tuple[int, Any]]:
    t = 0
    out = []
    for msg in track:
        t += msg.time
        out.append((t, msg))
    return out


def _conductor(mf: mido.MidiFile, p: Path) -> tuple[list[TempoChange], list[tuple[int, int, int]]]:
    """All tempo changes (as TempoChange in qn) and time signatures ((tick, num, den)) of the file."""
    tpb = mf.ticks_per_beat
    tempos: dict[int, float] = {}
    sigs: dict[int, tuple[int, int]] = {}
    for track in mf.tracks:
        for tick, msg in _abs_events(track):
            if msg.type == "set_tempo":
                if msg.tempo <= 0:
                    raise TempoError(f"{p.name} has a tempo event of {msg.tempo} µs per beat at tick {tick}",
                                     "fix the tempo in the DAW and export the MIDI again")
                tempos[tick] = mido.tempo2bpm(msg.tempo)
            elif msg.type == "time_signature":
                sigs[tick] = (msg.numerator, msg.denominator)
    for tick, bpm in tempos.items():
        if bpm > 1000:
            raise TempoError(f"{p.name} has a tempo of {bpm:.1f} BPM at tick {tick}",
                             "fix the tempo in the DAW (20-400 BPM) and export the MIDI again")
    return ([TempoChange(t / tpb, bpm) for t, bpm in sorted(tempos.items())],
            [(t, n, d) for t, (n, d) in sorted(sigs.items())])


def _meters_to_bars(sigs: list[tuple[int, int, int]], tpb: int, p: Path) -> list[MeterChange]:
    """Time signatures at ticks -> MeterChange at bar numbers, each bar counted in the meters
    before it. A signature that falls mid-bar cuts that bar short (as sequencers do): the partial
    bar becomes a bar of its own, e.g. 2/4 inside 4/4."""
    out: list[MeterChange] = []
    cur = MeterChange(1, 4, 4)
    cur_qn = 0.0
    for tick, num, den in sigs:
        qn = tick / tpb
        if num < 1 or den not in (1, 2, 4, 8, 16, 32):
            raise TempoError(f"{p.name} has an invalid time signature {num}/{den} at quarter note {qn:g}",
                             "fix the time signature in the DAW and export the MIDI again")
        bars = (qn - cur_qn) / cur.bar_qn
        whole = math.floor(bars + 1e-9)
        bar = cur.bar + whole
        partial = qn - (cur_qn + whole * cur.bar_qn)
        if partial > 1e-6:
            short = _short_bar(partial, bar)
            if short is not None:
                out.append(short)
                bar += 1
            else:
                log.warning("%s: time signature %d/%d at %.3f qn is not on a bar line; moved to bar %d",
                            p.name, num, den, qn, bar + 1)
                bar += 1
                qn = cur_qn + (whole + 1) * cur.bar_qn
        cur = MeterChange(max(1, bar), num, den)
        cur_qn = qn
        out = [m for m in out if m.bar != cur.bar] + [cur]
    return out or [MeterChange(1, 4, 4)]


def _short_bar(partial_qn: float, bar: int) -> MeterChange | None:
    for den in (4, 8, 16, 32):
        num = partial_qn * den / 4.0
        if abs(num - round(num)) < 1e-6 and round(num) >= 1:
            return MeterChange(bar, int(round(num)), den)
    return None
