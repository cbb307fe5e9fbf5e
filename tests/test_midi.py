"""Guide MIDI in (read_melody) and sung score out (write_score_midi), on files built with mido."""
from __future__ import annotations

import logging
from pathlib import Path

import mido
import pytest

from host_bridge.core.errors import MidiError, TempoError
from host_bridge.core.midi import (GuideMelody, canonical_tokens, read_melody, score_lyric_tokens, score_midi_bytes,
                                   write_score_midi)
from host_bridge.core.model.score import Note, Phonemes, Score
from host_bridge.core.model.tempo import MeterChange, TempoChange, TempoMap

TPB = 480


def _track(name: str | None, events: list[tuple[float, object]]) -> mido.MidiTrack:
    """events: (qn, message) in any order -> a delta-time track."""
    tr = mido.MidiTrack()
    if name is not None:
        tr.append(mido.MetaMessage("track_name", name=name, time=0))
    last = 0
    for qn, msg in sorted(events, key=lambda e: (e[0], 0 if getattr(e[1], "type", "") == "note_off" else 1)):
        tick = int(round(qn * TPB))
        tr.append(msg.copy(time=tick - last))
        last = tick
    return tr


def _notes(spec, channel: int = 0, lyrics=None, lyric_type: str = "lyrics") -> list[tuple[float, object]]:
    """spec: (onset qn, length qn, pitch) -> note on/off (and lyric) events."""
    ev: list[tuple[float, object]] = []
    for k, (on, length, pitch) in enumerate(spec):
        if lyrics is not None and k < len(lyrics) and lyrics[k] is not None:
            ev.append((on, mido.MetaMessage(lyric_type, text=lyrics[k])))
        ev.append((on, mido.Message("note_on", channel=channel, note=pitch, velocity=90)))
        ev.append((on + length, mido.Message("note_off", channel=channel, note=pitch, velocity=0)))
    return ev


def _save(path: Path, tracks, ticks_per_beat: int = TPB, type_: int = 1) -> Path:
    mf = mido.MidiFile(type=type_, ticks_per_beat=ticks_per_beat)
    mf.tracks.extend(tracks)
    mf.save(str(path))
    return path


def _conductor(bpms=((0.0, 120.0),), sigs=((0.0, 4, 4),)) -> mido.MidiTrack:
    ev: list[tuple[float, object]] = [(qn, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(b))) for qn, b in bpms]
    ev += [(qn, mido.MetaMessage("time_signature", numerator=n, denominator=d)) for qn, n, d in sigs]
    return _track("Conductor", ev)


SCALE = [(float(i), 1.0, 60 + i) for i in range(8)]


def test_reads_notes_tempo_and_name(tmp_path):
    p = _save(tmp_path / "m.mid", [_conductor(((0.0, 100.0),)), _track("Melody", _notes(SCALE))])
    m = read_melody(p)
    assert isinstance(m, GuideMelody)
    assert [(n.onset, n.duration, n.pitch) for n in m.notes] == [(float(i), 1.0, 60.0 + i) for i in range(8)]
    assert m.tempo_map.tempos == (TempoChange(0.0, pytest.approx(100.0)),)
    assert m.track_name == "Melody" and m.source == str(p) and m.lyrics == ()


def test_tempo_changes_in_quarter_notes(tmp_path):
    p = _save(tmp_path / "m.mid", [_conductor(((0.0, 120.0), (4.0, 90.0), (10.5, 140.0))), _track("v", _notes(SCALE))])
    tm = read_melody(p).tempo_map
    assert [(t.qn, round(t.bpm, 3)) for t in tm.tempos] == [(0.0, 120.0), (4.0, 90.0), (10.5, 140.0)]
    assert tm.seconds_at(5.0) == pytest.approx(2.0 + 60 / 90)


def test_tempo_events_in_any_track(tmp_path):
    ev = _notes(SCALE) + [(2.0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(60)))]
    p = _save(tmp_path / "m.mid", [_track("v", ev)], type_=0)
    tm = read_melody(p).tempo_map
    assert tm.bpm_at(0.0) == 60.0  # the only tempo also applies before it
    assert [t.qn for t in tm.tempos] == [0.0, 2.0]


def test_six_eight_and_meter_change_bars(tmp_path):
    # 2 bars of 6/8 (3 qn each), then 4/4 from qn 6 -> bar 3
    p = _save(tmp_path / "m.mid", [_conductor(sigs=((0.0, 6, 8), (6.0, 4, 4))), _track("v", _notes(SCALE))])
    tm = read_melody(p).tempo_map
    assert tm.meters == (MeterChange(1, 6, 8), MeterChange(3, 4, 4))
    assert tm.qn_at_bar(3) == 6.0 and tm.qn_at_bar(4) == 10.0


def test_meter_change_mid_bar_becomes_short_bar(tmp_path):
    # 4/4, then 3/4 at qn 6 (half-way through bar 2): bar 2 is cut to 2/4, 3/4 from bar 3
    p = _save(tmp_path / "m.mid", [_conductor(sigs=((0.0, 4, 4), (6.0, 3, 4))), _track("v", _notes(SCALE))])
    tm = read_melody(p).tempo_map
    assert tm.meters == (MeterChange(1, 4, 4), MeterChange(2, 2, 4), MeterChange(3, 3, 4))
    assert tm.qn_at_bar(3) == 6.0


def test_pickup_bar_keeps_bar_numbers(tmp_path):
    # a one-beat pickup written as a 1/4 bar, then 4/4: the first full bar starts at qn 1
    spec = [(0.0, 1.0, 67), (1.0, 1.0, 72), (2.0, 2.0, 71), (5.0, 1.0, 69)]
    p = _save(tmp_path / "m.mid", [_conductor(sigs=((0.0, 1, 4), (1.0, 4, 4))), _track("v", _notes(spec))])
    m = read_melody(p)
    tm = m.tempo_map
    assert tm.meters == (MeterChange(1, 1, 4), MeterChange(2, 4, 4))
    assert tm.bar_beat_at(m.notes[0].onset) == (1, 1.0)
    assert tm.bar_beat_at(m.notes[1].onset) == (2, 1.0)
    assert tm.bar_beat_at(m.notes[3].onset) == (3, 1.0)


def test_pickup_note_mid_bar_keeps_its_onset(tmp_path):
    spec = [(3.0, 1.0, 67), (4.0, 2.0, 72)]
    m = read_melody(_save(tmp_path / "m.mid", [_conductor(), _track("v", _notes(spec))]))
    assert m.notes[0].onset == 3.0
    assert m.tempo_map.bar_beat_at(3.0) == (1, 4.0)


def test_no_tempo_defaults_to_120_with_warning(tmp_path, caplog):
    p = _save(tmp_path / "m.mid", [_track("v", _notes(SCALE))])
    with caplog.at_level(logging.WARNING, logger="host_bridge.core.midi"):
        m = read_melody(p)
    assert m.tempo_map.tempos == (TempoChange(0.0, 120.0),)
    assert any("120" in r.getMessage() for r in caplog.records)


def test_tempo_bpm_used_when_file_has_none(tmp_path):
    p = _save(tmp_path / "m.mid", [_track("v", _notes(SCALE))])
    assert read_melody(p, tempo_bpm=93.0).tempo_map.tempos == (TempoChange(0.0, 93.0),)


def test_file_tempo_wins_over_tempo_bpm(tmp_path, caplog):
    p = _save(tmp_path / "m.mid", [_conductor(((0.0, 100.0),)), _track("v", _notes(SCALE))])
    with caplog.at_level(logging.WARNING, logger="host_bridge.core.midi"):
        m = read_melody(p, tempo_bpm=140.0)
    assert m.tempo_map.bpm_at(0) == pytest.approx(100.0)
    assert any("ignoring tempo_bpm" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("bpm", [0.0, -5.0, float("nan")])
def test_bad_tempo_bpm_raises(tmp_path, bpm):
    p = _save(tmp_path / "m.mid", [_track("v", _notes(SCALE))])
    with pytest.raises(TempoError) as e:
        read_melody(p, tempo_bpm=bpm)
    assert "m.mid" in e.value.message and e.value.hint


def test_zero_tempo_event_raises(tmp_path):
    ev = [(0.0, mido.MetaMessage("set_tempo", tempo=0))]
    p = _save(tmp_path / "zero.mid", [_track("c", ev), _track("v", _notes(SCALE))])
    with pytest.raises(TempoError) as e:
        read_melody(p)
    assert "zero.mid" in e.value.message and e.value.hint


def test_lyric_events_attach_to_notes(tmp_path):
    lyr = ["Twin-", "kle", "twin-", "kle", "lit-", "tle", "star", "+"]
    p = _save(tmp_path / "m.mid", [_conductor(), _track("v", _notes(SCALE, lyrics=lyr))])
    m = read_melody(p)
    assert m.lyrics == tuple(lyr) and m.has_lyrics


def test_lyric_event_just_before_its_note(tmp_path):
    ev = _notes(SCALE[:2])
    ev += [(0.0, mido.MetaMessage("lyrics", text="la")), (0.98, mido.MetaMessage("lyrics", text="di"))]
    m = read_melody(_save(tmp_path / "m.mid", [_track("v", ev)]))
    assert m.lyrics == ("la", "di")


def test_karaoke_spaces_and_line_marks(tmp_path):
    # .kar style: text events, '@' headers, spaces at word boundaries, '/' new line, '\\' paragraph
    lyr = ["Twin", "kle ", "twin", "kle ", "/lit", "tle ", "star", "\\Up"]
    ev = _notes(SCALE, lyrics=lyr, lyric_type="text") + [(0.0, mido.MetaMessage("text", text="@TSome title"))]
    m = read_melody(_save(tmp_path / "k.mid", [_conductor(), _track("Melody", ev)]))
    assert m.lyrics == ("Twin-", "kle", "twin-", "kle", "lit-", "tle", "star", "Up")
    assert m.line_starts == (0, 4, 7)


def test_text_events_that_are_not_lyrics_are_ignored(tmp_path):
    ev = _notes(SCALE) + [(0.0, mido.MetaMessage("text", text="Exported by SomeDAW version 3")),
                          (0.0, mido.MetaMessage("text", text="melody"))]
    assert read_melody(_save(tmp_path / "m.mid", [_track("v", ev)])).lyrics == ()


def test_lyrics_in_a_separate_words_track(tmp_path):
    words = _track("Words", [(float(i), mido.MetaMessage("lyrics", text=t))
                             for i, t in enumerate(["Hel", "lo ", "my ", "friend "])])
    pad = _track("Pad", _notes([(0.0, 4.0, 48), (0.0, 4.0, 55)], channel=1))
    mel = _track("Synth", _notes([(float(i), 1.0, 64 + i) for i in range(4)], channel=2))
    m = read_melody(_save(tmp_path / "m.mid", [_conductor(), pad, words, mel]))
    assert m.track_name == "Synth"
    assert m.lyrics == ("Hel-", "lo", "my", "friend")


def test_melisma_conventions():
    tokens, _ = canonical_tokens(["a-", "~", "men", "-", "+", None, "so", "far"])
    assert tokens == ("a-", "+", "men", "+", "+", "", "so", "far")


def test_utf8_lyrics_round_trip(tmp_path):
    n = [Note(0.0, 1.0, 60, "ca", Phonemes(), 0, 0), Note(1.0, 1.0, 62, "fé", Phonemes(), 0, 0),
         Note(2.0, 1.0, 64, "naïve", Phonemes(), 1, 0)]
    p = tmp_path / "u.mid"
    write_score_midi(Score(tuple(n)), p)
    assert read_melody(p).lyrics == ("ca-", "fé", "naïve")


def test_drum_channel_and_drum_tracks_skipped(tmp_path):
    drums = _track("Beat", _notes([(float(i), 0.5, 80) for i in range(8)], channel=9))
    kit = _track("Drum Kit", _notes([(float(i), 0.5, 90) for i in range(8)], channel=3))
    bass = _track("Bass", _notes([(float(i), 1.0, 40) for i in range(8)], channel=1))
    mel = _track("Flute", _notes(SCALE, channel=0))
    m = read_melody(_save(tmp_path / "m.mid", [_conductor(), drums, kit, bass, mel]))
    assert m.track_name == "Flute"


def test_prefers_melody_named_track(tmp_path):
    high = _track("Strings", _notes([(float(i), 1.0, 84) for i in range(8)], channel=1))
    vocal = _track("Lead Vocal", _notes(SCALE, channel=0))
    assert read_melody(_save(tmp_path / "m.mid", [_conductor(), high, vocal])).track_name == "Lead Vocal"


def test_prefers_highest_monophonic_track(tmp_path):
    chords = _track("Keys", _notes([(float(i // 3), 1.0, 72 + (i % 3) * 4) for i in range(24)], channel=1))
    low = _track("Bass", _notes([(float(i), 1.0, 40) for i in range(8)], channel=2))
    top = _track("Synth", _notes(SCALE, channel=0))
    assert read_melody(_save(tmp_path / "m.mid", [_conductor(), chords, low, top])).track_name == "Synth"


def test_type0_channels_split(tmp_path):
    ev = _notes(SCALE, channel=0) + _notes([(float(i), 1.0, 36) for i in range(8)], channel=9)
    m = read_melody(_save(tmp_path / "m.mid", [_track(None, ev)], type_=0))
    assert [n.pitch for n in m.notes] == [60.0 + i for i in range(8)]


def test_only_drums_raises(tmp_path):
    p = _save(tmp_path / "drums.mid", [_track("Drums", _notes([(float(i), 0.5, 36) for i in range(8)], channel=9))])
    with pytest.raises(MidiError) as e:
        read_melody(p)
    assert "drums.mid" in e.value.message and "drum" in e.value.message and e.value.hint


def test_no_notes_raises(tmp_path):
    p = _save(tmp_path / "empty.mid", [_conductor()])
    with pytest.raises(MidiError) as e:
        read_melody(p)
    assert "empty.mid" in e.value.message and "no notes" in e.value.message and e.value.hint


def test_chords_reduce_to_top_line(tmp_path):
    spec = [(0.0, 1.0, 60), (0.0, 1.0, 64), (0.0, 1.0, 67), (1.0, 1.0, 62), (1.0, 1.0, 65), (2.0, 2.0, 59)]
    m = read_melody(_save(tmp_path / "m.mid", [_track("v", _notes(spec))]))
    assert [(n.onset, n.pitch) for n in m.notes] == [(0.0, 67.0), (1.0, 65.0), (2.0, 59.0)]


def test_overlapping_notes_are_trimmed(tmp_path):
    spec = [(0.0, 1.5, 60), (1.0, 1.5, 62), (2.0, 1.0, 64)]
    m = read_melody(_save(tmp_path / "m.mid", [_track("v", _notes(spec))]))
    assert [(n.onset, n.duration) for n in m.notes] == [(0.0, 1.0), (1.0, 1.0), (2.0, 1.0)]


def test_zero_length_notes_dropped(tmp_path):
    tr = mido.MidiTrack()
    for pitch, length, rest in ((60, TPB, 0), (62, 0, 0), (64, TPB, TPB)):
        tr.append(mido.Message("note_on", note=pitch, velocity=90, time=rest))
        tr.append(mido.Message("note_off", note=pitch, velocity=0, time=length))
    m = read_melody(_save(tmp_path / "m.mid", [tr]))
    assert [n.pitch for n in m.notes] == [60.0, 64.0]


def test_unterminated_note_ends_with_track(tmp_path):
    ev = _notes(SCALE[:2]) + [(2.0, mido.Message("note_on", note=70, velocity=80)),
                              (6.0, mido.MetaMessage("end_of_track"))]
    m = read_melody(_save(tmp_path / "m.mid", [_track("v", ev)]))
    assert (m.notes[-1].onset, m.notes[-1].duration, m.notes[-1].pitch) == (2.0, 4.0, 70.0)


@pytest.mark.parametrize("data", [b"", b"not a midi file at all", b"MThd\x00\x00\x00\x06\x00\x01\x00\x02",
                                  b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\x10\x00\x90\x3c"])
def test_corrupt_file_raises(tmp_path, data):
    p = tmp_path / "bad.mid"
    p.write_bytes(data)
    with pytest.raises(MidiError) as e:
        read_melody(p)
    assert "bad.mid" in e.value.message and e.value.hint


def test_missing_file_raises(tmp_path):
    with pytest.raises(MidiError) as e:
        read_melody(tmp_path / "gone.mid")
    assert "gone.mid" in e.value.message and e.value.hint


# ---------------------------------------------------------------------------------- writing
def _score() -> Score:
    tm = TempoMap((TempoChange(0.0, 100.0), TempoChange(4.0, 80.0)), (MeterChange(1, 1, 4), MeterChange(2, 6, 8)))
    notes = (
        Note(0.0, 1.0, 67, "Twin", Phonemes(("t", "w"), ("ɪ",), ("ŋ",), 2), 0, 0),
        Note(1.0, 0.5, 67, "kle", Phonemes(("k",), ("əl",), (), 0), 0, 0),
        Note(1.5, 0.5, 69, "", None, 0, 0),
        Note(2.0, 1.5, 71, "star", Phonemes(("s", "t"), ("ɑː",), ("ɹ",), 2), 1, 0),
        Note(5.0, 1.0, 72, "how", Phonemes(("h",), ("aʊ",), (), 2), 2, 1),
    )
    return Score(notes, tm, ("Twinkle star", "how"), (("Verse", 0),))


def test_lyric_tokens_convention():
    assert score_lyric_tokens(_score()) == ["Twin-", "kle", "+", "star", "how"]


def test_write_round_trip(tmp_path):
    sc = _score()
    p = tmp_path / "out.mid"
    write_score_midi(sc, p)
    m = read_melody(p)
    assert [(n.onset, n.duration, n.pitch) for n in m.notes] == [(n.onset, n.duration, n.pitch) for n in sc.notes]
    assert m.lyrics == ("Twin-", "kle", "+", "star", "how")
    assert m.tempo_map.meters == sc.tempo_map.meters
    assert [(t.qn, round(t.bpm, 4)) for t in m.tempo_map.tempos] == [(0.0, 100.0), (4.0, 80.0)]
    assert m.track_name == "Topline vocal"
    mf = mido.MidiFile(str(p))
    assert mf.type == 1 and len(mf.tracks) == 2
    assert sum(1 for msg in mf.tracks[1] if msg.type == "lyrics") == len(sc.notes)


def test_bytes_match_file(tmp_path):
    p = tmp_path / "out.mid"
    write_score_midi(_score(), p)
    assert p.read_bytes() == score_midi_bytes(_score())
    assert score_midi_bytes(_score())[:4] == b"MThd"


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path):
    p = tmp_path / "out.mid"
    p.write_bytes(b"old")
    write_score_midi(_score(), p)
    assert p.read_bytes()[:4] == b"MThd"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["out.mid"]


def test_write_into_missing_folder_raises(tmp_path):
    with pytest.raises(MidiError) as e:
        write_score_midi(_score(), tmp_path / "no" / "such" / "out.mid")
    assert e.value.hint


def test_write_rejects_notes_before_bar_one():
    sc = Score((Note(-1.0, 1.0, 60, "a", None, 0, 0),))
    with pytest.raises(MidiError):
        score_midi_bytes(sc)


def test_fractional_pitch_rounded(tmp_path):
    sc = Score((Note(0.0, 1.0, 60.4, "a", None, 0, 0), Note(1.0, 1.0, 61.6, "b", None, 1, 0)))
    p = tmp_path / "r.mid"
    write_score_midi(sc, p)
    assert [n.pitch for n in read_melody(p).notes] == [60.0, 62.0]


def test_invalid_time_signature_raises(tmp_path):
    p = _save(tmp_path / "sig.mid", [_conductor(sigs=((0.0, 4, 4), (4.0, 4, 64))), _track("v", _notes(SCALE))])
    with pytest.raises(TempoError) as e:
        read_melody(p)
    assert "sig.mid" in e.value.message and "4/64" in e.value.message and e.value.hint


def test_many_tempo_and_meter_changes_place_notes_in_seconds(tmp_path):
    bpms = ((0.0, 120.0), (2.0, 60.0), (5.0, 180.0))
    p = _save(tmp_path / "m.mid", [_conductor(bpms, sigs=((0.0, 3, 4), (3.0, 6, 8))), _track("v", _notes(SCALE))])
    m = read_melody(p)
    secs = [m.tempo_map.seconds_at(n.onset) for n in m.notes]
    assert secs == pytest.approx([0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 4 + 1 / 3, 4 + 2 / 3])
    assert m.tempo_map.bar_beat_at(m.notes[2].onset) == (1, pytest.approx(3.0))  # 3/4 bar 1, beat 3
    assert m.tempo_map.bar_beat_at(m.notes[7].onset) == (3, pytest.approx(3.0))  # 6/8 bar 3, 3rd eighth
