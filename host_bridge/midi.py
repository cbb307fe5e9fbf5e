"""Guide melodies in and sung scores out, as Standard MIDI Files (torch-free; mido).

Reading (:func:`read_melody`) picks the melody track of a guide MIDI, reduces it to one
monophonic line and keeps the file's tempo map, meters and lyric events.

Lyric tokens
------------
``GuideMelody.lyrics`` holds one token per note (or is empty when the file has no lyrics), in
one canonical form whatever convention the file used:

* ``"twin-"``: a syllable whose word continues on the next sung syllable (trailing ``-``);
* ``"kle"``: a syllable that ends its word;
* ``"+"``: a melisma note: the previous syllable's vowel carries on (UltraStar ``~``,
  Vocaloid ``-``, UTAU ``+`` all read as this);
* ``""``: the note had no lyric event.

Files are read with these conventions: trailing ``-`` = the word continues; a token made only
of ``+``, ``~`` or ``-`` = melisma; leading/trailing spaces mark word boundaries (karaoke
``.kar`` and UltraStar style: when any token carries a space, syllables *without* spaces join
into one word); ``/`` or ``\\`` at the start of a token, or ``\\r``/``\\n`` at its end, mark a
new lyric line (``GuideMelody.line_starts``). ``lyrics`` meta events win over ``text`` events;
``text`` events are used only when no ``lyrics`` events exist, ``@`` headers of ``.kar`` files
are skipped, and they are ignored unless most of them coincide with notes.

Writing (:func:`write_score_midi`) emits exactly the canonical tokens above, one ``lyrics``
event per note, so ``read_melody`` round-trips a written score.
"""
from __future__ import annotations

import bisect
import io
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mido

from host_bridge.fileio import atomic_write_bytes
from host_bridge.inputs import read_regular
from host_bridge.errors import MidiError, TempoError
from host_bridge.model.score import Note, Score
from host_bridge.model.tempo import MAX_BPM, MIN_BPM, MeterChange, TempoChange, TempoMap

log = logging.getLogger(__name__)

DRUM_CHANNEL = 9  # MIDI channel 10, 0-based
MELISMA = "+"
WRITE_TICKS_PER_BEAT = 960
_DRUM_NAME = re.compile(r"drum|percus|\bperc\b|\bkit\b|hi-?hat|snare|\bkick|cymbal|\btoms?\b", re.IGNORECASE)
_MELODY_NAME = re.compile(r"vocal|vox|melod|lead|voice|sing|topline|lyric", re.IGNORECASE)
_MELISMA_TOKEN = re.compile(r"^[+~\-]+$")
MAX_MIDI_BYTES = 32 * 1024 * 1024
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


def _fix_text(s: str) -> str:
    """mido decodes meta text as latin-1; most files today write UTF-8: repair when it decodes."""
    try:
        return s.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return s


def _lyric_events(texts: list[tuple[int, str, str, int]]) -> list[tuple[int, str, int]]:
    lyr = [(t, s, ti) for t, kind, s, ti in texts if kind == "lyrics"]
    if lyr:
        return sorted(lyr, key=lambda e: e[0])
    # text events carry lyrics in .kar files, but also titles and comments: keep short ones only
    txt = [(t, s, ti) for t, kind, s, ti in texts
           if kind == "text" and s.strip() and not s.startswith("@") and len(s.split()) <= 2 and len(s) <= 24]
    return sorted(txt, key=lambda e: e[0])


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


def _attach_lyrics(events: list[tuple[int, str, int]], onsets: list[int], tpb: int, p: Path,
                   lyrics_type: bool) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Attach each lyric event to the note it precedes or coincides with; canonicalise tokens."""
    tol = max(1, tpb // 16)
    raw: list[str | None] = [None] * len(onsets)
    unplaced = 0
    for tick, text, _ in events:
        i = bisect.bisect_left(onsets, tick - tol)
        if i >= len(onsets) or onsets[i] - tick > 2 * tpb:
            unplaced += 1
            continue
        prev = raw[i]
        raw[i] = text if prev is None else prev + text
    placed = len(events) - unplaced
    if unplaced:
        log.warning("%s: %d lyric events are not on a melody note and were ignored", p.name, unplaced)
    if placed == 0 or placed < 0.5 * len(events) or (not lyrics_type and placed < max(2, 0.25 * len(onsets))):
        log.warning("%s: its lyric/text events do not follow the melody; ignoring them", p.name)
        return (), ()
    return canonical_tokens(raw)


def canonical_tokens(raw: list[str | None]) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Raw per-note lyric texts (None: no event) -> (canonical tokens, line-start note indices).

    See the module doc for the conventions read."""
    parsed: list[dict[str, Any] | None] = []
    breaks_before: set[int] = set()
    for i, r in enumerate(raw):
        if r is None:
            parsed.append(None)
            continue
        s = r
        while s[:1] in ("/", "\\"):
            breaks_before.add(i)
            s = s[1:]
        if "\r" in s or "\n" in s:
            breaks_before.add(i + 1)
            s = s.replace("\r", "").replace("\n", "")
        core = s.strip()
        if not core:
            parsed.append(None)
        elif _MELISMA_TOKEN.match(core):
            parsed.append({"melisma": True})
        else:
            dash = core.endswith("-")
            parsed.append({"melisma": False, "text": core.rstrip("-").strip() or core, "dash": dash,
                           "lead": s[:1].isspace(), "trail": s[-1:].isspace()})
    syl = [i for i, e in enumerate(parsed) if e is not None and not e["melisma"]]
    spaced = any(parsed[i]["lead"] or parsed[i]["trail"] for i in syl)  # type: ignore[index]
    tokens = ["" if e is None else MELISMA for e in parsed]
    for k, i in enumerate(syl):
        a = parsed[i]
        assert a is not None
        cont = False
        if k + 1 < len(syl):
            j = syl[k + 1]
            b = parsed[j]
            assert b is not None
            line_break = any(i < x <= j for x in breaks_before)
            if line_break:
                cont = False
            elif a["dash"]:
                cont = True
            elif spaced:
                cont = not (a["trail"] or b["lead"])
        tokens[i] = a["text"] + ("-" if cont else "")
    starts: set[int] = set()
    for x in breaks_before:
        nxt = next((i for i in syl if i >= x), None)
        if nxt is not None:
            starts.add(nxt)
    if starts and syl:
        starts.add(syl[0])
    return tuple(tokens), tuple(sorted(starts))


# ---------------------------------------------------------------------------------- writing
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
