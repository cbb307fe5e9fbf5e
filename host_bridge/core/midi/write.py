"""Writing a sung score as a Standard MIDI File: one ``lyrics`` event per note in the canonical
tokens of :mod:`host_bridge.core.midi`, so :func:`~host_bridge.core.midi.read_melody` round-trips it."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import mido

from host_bridge.core.errors import MidiError
from host_bridge.core.fileio import atomic_write_bytes
from host_bridge.core.midi.lyrics import MELISMA
from host_bridge.core.model.score import Score

WRITE_TICKS_PER_BEAT = 960


def score_midi_bytes(score: Score, track_name: str = "Topline vocal") -> bytes:
    """The score as a type-1 Standard MIDI File: a conductor track (tempo map, meters) and the
    melody with one ``lyrics`` event per note in the canonical tokens of the module doc.

    The tempo map's ``offset_s`` is not stored (a MIDI file starts at bar 1); fractional pitches
    are rounded to the nearest semitone."""
    tpb = WRITE_TICKS_PER_BEAT
    mf = mido.MidiFile(type=1, ticks_per_beat=tpb)  # latin-1 meta text: we pass UTF-8 bytes through it
    tm = score.tempo_map
    cond: list[tuple[int, int, Any]] = []
    for m in tm.meters:
        tick = int(round(tm.qn_at_bar(m.bar) * tpb))
        cond.append((tick, 0, mido.MetaMessage("time_signature", numerator=m.numerator,
                                                denominator=m.denominator, clocks_per_click=24,
                                                notated_32nd_notes_per_beat=8)))
    for t in tm.tempos:
        cond.append((int(round(t.qn * tpb)), 1, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(t.bpm))))
    mf.tracks.append(_track("Conductor", cond))

    tokens = score_lyric_tokens(score)
    events: list[tuple[int, int, Any]] = []
    for n, tok in zip(score.notes, tokens):
        if n.onset < 0:
            raise MidiError(f"a note starts {-n.onset:.3f} qn before bar 1; a MIDI file cannot hold it",
                            "shift the score so every note starts at or after bar 1")
        on = int(round(n.onset * tpb))
        off = max(on + 1, int(round(n.end * tpb)))
        pitch = min(127, max(0, int(round(n.pitch))))
        vel = min(127, max(1, int(n.velocity)))
        if tok:
            events.append((on, 1, mido.MetaMessage("lyrics", text=_utf8_as_latin1(tok))))
        events.append((on, 2, mido.Message("note_on", channel=0, note=pitch, velocity=vel)))
        events.append((off, 0, mido.Message("note_off", channel=0, note=pitch, velocity=0)))
    mf.tracks.append(_track(track_name, events))
    buf = io.BytesIO()
    mf.save(file=buf)
    return buf.getvalue()


def score_lyric_tokens(score: Score) -> list[str]:
    """The canonical lyric token of every note of ``score`` (see the module doc): the syllable,
    ``-`` appended when the next sung syllable belongs to the same word, ``+`` for a melisma
    note, ``""`` for a note without a word."""
    notes = score.notes
    out = []
    for i, n in enumerate(notes):
        if n.syllable:
            nxt = next((m for m in notes[i + 1:] if m.syllable), None)
            cont = nxt is not None and n.word >= 0 and nxt.word == n.word
            out.append(n.syllable.strip() + ("-" if cont else ""))
        elif n.word >= 0:
            out.append(MELISMA)
        else:
            out.append("")
    return out


def write_score_midi(score: Score, path: str | Path, track_name: str = "Topline vocal") -> None:
    """Write :func:`score_midi_bytes` to ``path`` atomically (temp file beside it, then rename)."""
    p = Path(path)
    data = score_midi_bytes(score, track_name)
    if not p.parent.is_dir():
        raise MidiError(f"cannot write MIDI file {p}: its folder does not exist",
                        "check that the folder exists and is writable")
    try:
        atomic_write_bytes(p, data, mode=0o644)
    except OSError as e:
        raise MidiError(f"cannot write MIDI file {p}: {e.strerror}",
                        "check free disk space and that the file is not locked by another program") from e


def _utf8_as_latin1(text: str) -> str:
    """UTF-8 bytes spelled as latin-1 characters: mido's (process-global) meta charset stays latin-1
    and the file holds UTF-8, which :func:`_fix_text` reads back."""
    return text.encode("utf-8").decode("latin-1")


def _track(name: str, events: list[tuple[int, int, Any]]) -> mido.MidiTrack:
    """Absolute-tick events (tick, order at the same tick, message) -> a delta-time track."""
    tr = mido.MidiTrack()
    tr.append(mido.MetaMessage("track_name", name=_utf8_as_latin1(name), time=0))
    last = 0
    for tick, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
        tr.append(msg.copy(time=tick - last))
        last = tick
    tr.append(mido.MetaMessage("end_of_track", time=0))
    return tr
