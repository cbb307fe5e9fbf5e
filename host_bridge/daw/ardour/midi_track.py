"""A guide melody from a MIDI track of an Ardour 7 session, read from the session file.

Ardour keeps a MIDI region's notes in a Standard MIDI File per source
(``interchange/<session>/midifiles/<source name>``, 19200 ticks per quarter note, times from the
source's start). A region shows the part of its source from ``start`` on, for its length, at its
position on the timeline. This turns the unmuted regions of one MIDI track into a single-track
SMF whose time 0 is bar 1 (no tempo events: the session's tempo map places the notes), which is
what the pipeline takes as ``melody_midi``.
"""
from __future__ import annotations

import io
import logging
from pathlib import Path

import mido

from host_bridge.daw.ardour.errors import SessionFileError
from host_bridge.daw.ardour.session import TICKS_PER_QN, ArdourSession, TimePos

log = logging.getLogger(__name__)

OUT_PPQ = 1920


def _qn(session: ArdourSession, pos: TimePos) -> float:
    if pos.beats:
        return pos.value / TICKS_PER_QN
    return session.tempo_map.qn_at(pos.value / session.superclock_rate)


def midi_track_notes(session: ArdourSession, track: str) -> list[tuple[float, float, int, int]]:
    """(onset qn, end qn, pitch, velocity) of every note the track plays, sorted."""
    route = None
    for el in session.root.findall("Routes/Route"):
        if el.get("name") == track:
            route = el
    if route is None:
        session.route(track)  # raises with the list of names
        raise AssertionError("unreachable")
    pl_id = route.get("midi-playlist")
    if pl_id is None:
        raise SessionFileError(f"{track!r} is not a MIDI track",
                               "give the MIDI track that holds the guide melody (or a MIDI file)")
    sources = {s.get("id"): s for s in session.root.findall("Sources/Source")}
    midifiles = session.dir / "interchange" / session.name / "midifiles"
    notes: list[tuple[float, float, int, int]] = []
    for reg in session.playlist(pl_id).findall("Region"):
        if reg.get("muted") == "1":
            continue
        where = f"{session.file.name} region {reg.get('name')!r}"
        dur, _, pos = reg.get("length", "a0@a0").partition("@")
        position = TimePos.parse(pos or "a0", where)
        length = TimePos.parse(dur, where)
        pos_qn = _qn(session, position)
        if length.beats:
            end_qn = pos_qn + length.value / TICKS_PER_QN
        else:
            end_qn = session.tempo_map.qn_at(session.tempo_map.seconds_at(pos_qn) + length.value / session.superclock_rate)
        start = TimePos.parse(reg.get("start", "b0"), where)
        start_qn = start.value / TICKS_PER_QN if start.beats else 0.0
        src = sources.get(reg.get("source-0"))
        if src is None:
            raise SessionFileError(f"{where} has no source", "open the session in Ardour 7 and save it once")
        path = Path(src.get("name", ""))
        path = path if path.is_absolute() else midifiles / path
        for on, off, pitch, vel in _smf_notes(path):
            if on < start_qn - 1e-9:
                continue
            a = pos_qn + on - start_qn
            if a >= end_qn - 1e-9:
                continue
            notes.append((a, min(pos_qn + off - start_qn, end_qn), pitch, vel))
    if not notes:
        raise SessionFileError(f"MIDI track {track!r} plays no notes", "put the guide melody on it, or give a MIDI file")
    return sorted(notes)


def _smf_notes(path: Path) -> list[tuple[float, float, int, int]]:
    try:
        mf = mido.MidiFile(str(path))
    except (OSError, ValueError, EOFError, KeyError, IndexError) as e:
        raise SessionFileError(f"cannot read the MIDI source {path}: {e}",
                               "open the session in Ardour 7 and save it once") from e
    out = []
    for tr in mf.tracks:
        t = 0
        held: dict[tuple[int, int], tuple[int, int]] = {}
        for m in tr:
            t += m.time
            if m.type == "note_on" and m.velocity > 0:
                held[(m.channel, m.note)] = (t, m.velocity)
            elif m.type in ("note_off", "note_on") and (m.channel, m.note) in held:
                t0, vel = held.pop((m.channel, m.note))
                out.append((t0 / mf.ticks_per_beat, t / mf.ticks_per_beat, m.note, vel))
    return out


def melody_from_track(session: ArdourSession, track: str) -> bytes:
    """The track's notes as a one-track SMF (``OUT_PPQ`` per quarter note, time 0 = bar 1)."""
    notes = midi_track_notes(session, track)
    events: list[tuple[int, int, mido.Message]] = []
    for on, off, pitch, vel in notes:
        a, b = int(round(on * OUT_PPQ)), int(round(off * OUT_PPQ))
        events.append((a, 1, mido.Message("note_on", note=pitch, velocity=vel)))
        events.append((max(b, a + 1), 0, mido.Message("note_off", note=pitch, velocity=0)))
    events.sort(key=lambda e: (e[0], e[1]))
    mf = mido.MidiFile(type=0, ticks_per_beat=OUT_PPQ)
    tr = mido.MidiTrack()
    tr.append(mido.MetaMessage("track_name", name=track, time=0))
    last = 0
    for t, _, msg in events:
        tr.append(msg.copy(time=t - last))
        last = t
    mf.tracks.append(tr)
    buf = io.BytesIO()
    mf.save(file=buf)
    return buf.getvalue()
