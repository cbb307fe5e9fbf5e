"""Reading a guide melody (:func:`read_melody`): the melody track of a Standard MIDI File, reduced
to one monophonic line, with the file's tempo map, meters and lyric tokens."""
from __future__ import annotations

import bisect
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path

import mido

from host_bridge.core.errors import MidiError, TempoError
from host_bridge.core.midi.conductor import _abs_events, _conductor, _meters_to_bars, _open
from host_bridge.core.midi.lyrics import _attach_lyrics, _fix_text, _lyric_events
from host_bridge.core.model.score import Note
from host_bridge.core.model.tempo import MAX_BPM, MIN_BPM, TempoChange, TempoMap

log = logging.getLogger(__name__)

DRUM_CHANNEL = 9  # MIDI channel 10, 0-based
_DRUM_NAME = re.compile(r"drum|percus|\bperc\b|\bkit\b|hi-?hat|snare|\bkick|cymbal|\btoms?\b", re.IGNORECASE)
_MELODY_NAME = re.compile(r"vocal|vox|melod|lead|voice|sing|topline|lyric", re.IGNORECASE)
MAX_NOTES = 20_000
"""Most notes a guide melody may hold (a 20-minute song at 16 notes a second)."""


@dataclass(frozen=True)
class GuideMelody:
    notes: tuple[Note, ...]
    """The melody, monophonic, sorted, in qn from bar 1; ``syllable`` is left empty."""
    tempo_map: TempoMap
    lyrics: tuple[str, ...] = ()
    """One canonical lyric token per note (see the module doc), or () when the file has none."""
    track_name: str = ""
    source: str = ""
    """The file the melody came from (for messages)."""
    line_starts: tuple[int, ...] = ()
    """Indices of notes where the file marks a new lyric line (karaoke ``/``, ``\\``, ``\\r``)."""

    @property
    def has_lyrics(self) -> bool:
        return any(t for t in self.lyrics)


@dataclass
class _Candidate:
    track: int
    channel: int
    name: str
    notes: list[tuple[int, int, int, int]]  # (on tick, off tick, pitch, velocity)


# ---------------------------------------------------------------------------------- reading
def read_melody(path: str | Path, tempo_bpm: float | None = None) -> GuideMelody:
    """Read the guide melody of a Standard MIDI File.

    ``tempo_bpm`` is used only when the file has no ``set_tempo`` event (a file without one and
    without ``tempo_bpm`` plays at 120 BPM, with a warning). Raises :class:`MidiError` for an
    unreadable file, a file without (non-drum) notes, and :class:`TempoError` for a bad tempo.
    """
    p = Path(path)
    if tempo_bpm is not None and not (isinstance(tempo_bpm, (int, float)) and math.isfinite(tempo_bpm)
                                      and MIN_BPM <= tempo_bpm <= MAX_BPM):
        raise TempoError(f"tempo {tempo_bpm!r} given for {p.name} is not {MIN_BPM:g}-{MAX_BPM:g} BPM",
                         "give the session tempo in beats per minute, e.g. 120")
    mf = _open(p)
    tpb = mf.ticks_per_beat
    if not isinstance(tpb, int) or tpb <= 0:
        raise MidiError(f"{p.name}: timing division {tpb!r} is not supported",
                        "export the MIDI with a ticks-per-quarter-note resolution (not SMPTE timecode)")
    tempos, meters = _conductor(mf, p)
    if not tempos:
        if tempo_bpm is None:
            log.warning("%s has no tempo event; assuming 120 BPM (pass tempo_bpm to set it)", p.name)
            tempo_bpm = 120.0
        tempos = [TempoChange(0.0, float(tempo_bpm))]
    elif tempo_bpm is not None:
        log.warning("%s has its own tempo (%.3f BPM at the start); ignoring tempo_bpm=%s",
                    p.name, tempos[0].bpm, tempo_bpm)
    try:
        tempo_map = TempoMap(tuple(tempos), tuple(_meters_to_bars(meters, tpb, p)))
    except TempoError as e:
        raise TempoError(f"{p.name}: {e.message}", e.hint) from e

    cands, texts = _collect(mf, p)
    if not cands:
        raise MidiError(f"{p.name} has no notes", "export the guide melody track with its notes (not an empty or "
                        "audio-only track)")
    pitched = [c for c in cands if c.channel != DRUM_CHANNEL and not _DRUM_NAME.search(c.name)
               and any(off > on for on, off, _, _ in c.notes)]
    if not pitched:
        raise MidiError(f"{p.name} has only drum notes (channel 10 or drum tracks)",
                        "export the melody track (a sung or played line on a channel other than 10)")
    lyric_events = _lyric_events(texts)
    chosen = _choose(pitched, lyric_events, tpb)
    raw = _monophonic(chosen.notes)
    if len(raw) > MAX_NOTES:
        raise MidiError(f"{p} holds {len(raw)} melody notes; a guide melody may have at most {MAX_NOTES}",
                        "export only the sung melody track (one song)")
    notes = [Note(on / tpb, (off - on) / tpb, float(pitch), velocity=vel) for on, off, pitch, vel in raw]
    if not notes:
        raise MidiError(f"{p.name}: the melody track '{chosen.name}' has only zero-length notes",
                        "give the notes of the guide melody a length")
    lyrics: tuple[str, ...] = ()
    line_starts: tuple[int, ...] = ()
    own = [e for e in lyric_events if e[2] == chosen.track]
    if own or lyric_events:  # lyrics in the melody's own track win; else a karaoke "Words" track
        lyrics, line_starts = _attach_lyrics(own or lyric_events, [r[0] for r in raw], tpb, p,
                                             any(kind == "lyrics" for _, kind, _, _ in texts))
    log.info("%s: melody from track '%s' (channel %d): %d notes, %d lyric tokens", p.name, chosen.name,
             chosen.channel + 1, len(notes), sum(1 for t in lyrics if t))
    return GuideMelody(tuple(notes), tempo_map, lyrics, chosen.name, str(p), line_starts)



def _collect(mf: mido.MidiFile, p: Path) -> tuple[list[_Candidate], list[tuple[int, str, str, int]]]:
    """Notes per (track, channel), and every lyric/text meta event as (tick, type, text, track)."""
    cands: list[_Candidate] = []
    texts: list[tuple[int, str, str, int]] = []
    for ti, track in enumerate(mf.tracks):
        name = ""
        open_: dict[tuple[int, int], tuple[int, int]] = {}
        per_ch: dict[int, list[tuple[int, int, int, int]]] = {}
        end = 0
        for tick, msg in _abs_events(track):
            end = tick
            if msg.type == "track_name" and not name:
                name = _fix_text(msg.name).strip()
            elif msg.type in ("lyrics", "text"):
                texts.append((tick, msg.type, _fix_text(msg.text), ti))
            elif msg.type == "note_on" and msg.velocity > 0:
                key = (msg.channel, msg.note)
                if key in open_:  # retrigger: the sounding note ends here
                    on, vel = open_.pop(key)
                    per_ch.setdefault(msg.channel, []).append((on, tick, msg.note, vel))
                open_[key] = (tick, msg.velocity)
            elif msg.type in ("note_off", "note_on"):
                key = (msg.channel, msg.note)
                if key in open_:
                    on, vel = open_.pop(key)
                    per_ch.setdefault(msg.channel, []).append((on, tick, msg.note, vel))
        for (ch, pitch), (on, vel) in open_.items():  # never released: ends with the track
            per_ch.setdefault(ch, []).append((on, end, pitch, vel))
        for ch, notes in sorted(per_ch.items()):
            notes.sort()
            cands.append(_Candidate(ti, ch, name or f"Track {ti + 1}", notes))
    return cands, texts



def _polyphony(notes: list[tuple[int, int, int, int]]) -> float:
    """Fraction of notes that start while another note is still sounding (chords, pads)."""
    if len(notes) < 2:
        return 0.0
    over = sum(1 for a, b in zip(notes[:-1], notes[1:]) if b[0] < a[1] - 1)
    return over / (len(notes) - 1)


def _choose(cands: list[_Candidate], lyric_events: list[tuple[int, str, int]], tpb: int) -> _Candidate:
    if lyric_events:
        tol = tpb // 8
        lyric_tracks = {ti for _, _, ti in lyric_events}
        best, best_score = None, 0.0
        for c in cands:
            onsets = sorted({n[0] for n in c.notes})
            hit = sum(1 for t, _, _ in lyric_events if _near(onsets, t, tol)) / len(lyric_events)
            if hit < 0.5:
                continue
            score = hit + (0.05 if c.track in lyric_tracks else 0.0)  # its own lyrics break a tie
            if score > best_score:
                best, best_score = c, score
        if best is not None:
            return best
    named = [c for c in cands if _MELODY_NAME.search(c.name)]
    if named:
        return max(named, key=lambda c: len(c.notes))
    mono = [c for c in cands if _polyphony(c.notes) <= 0.25 and len(c.notes) >= 2] or cands
    return max(mono, key=lambda c: sum(n[2] for n in c.notes) / len(c.notes))


def _near(sorted_ticks: list[int], t: int, tol: int) -> bool:
    i = bisect.bisect_left(sorted_ticks, t - tol)
    return i < len(sorted_ticks) and sorted_ticks[i] <= t + tol


def _monophonic(notes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Top line: of notes starting together keep the highest; a note ends where the next begins;
    zero-length notes are dropped."""
    by_on: dict[int, tuple[int, int, int, int]] = {}
    for n in notes:
        if n[1] <= n[0]:
            continue
        cur = by_on.get(n[0])
        if cur is None or n[2] > cur[2]:
            by_on[n[0]] = n
    line = [by_on[k] for k in sorted(by_on)]
    out = []
    for i, (on, off, pitch, vel) in enumerate(line):
        if i + 1 < len(line):
            off = min(off, line[i + 1][0])
        if off > on:
            out.append((on, off, pitch, vel))
    return out
