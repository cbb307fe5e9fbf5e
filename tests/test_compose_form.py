"""The composer follows the instrumental's form (issue 17): lyric sections on the music's
sections, the intro and outro left free, a repeated chorus sung the same over the same music, a
short sheet leaving the rest instrumental, and the bad inputs that must say what to fix."""
from __future__ import annotations

import numpy as np
import pytest

from host_bridge.core.errors import LyricsError
from host_bridge.core.model import LyricsSheet, Score, TempoMap
from inference.analysis import Analysis, Key, Section
from inference.analysis.analyze import analyze_features
from inference.analysis.features import extract
from inference.compose import ComposeReport, compose, syllables_for
from inference.compose.stage import compose_over
from tests.synth_music import POP, render
from tests.test_compose import analysis_for

SR = 22050
BPM = 144.0
VERSE = [(0, "maj"), (9, "min"), (5, "maj"), (7, "maj")] * 2
CHORUS = [(5, "maj"), (7, "maj"), (4, "min"), (9, "min")] * 2
SONG = """[Verse 1]
Morning comes in through the blind
I kept your letters in a box
The river knows the way back home
We drove all night to see the sea
[Chorus]
Oh come on home tonight
The lights are on for you
Oh come on home tonight
And I will wait here too
[Verse 2]
Your coat is hanging by the door
Nobody told me it would rain
Light a candle in the kitchen
The station clock has stopped at nine
[Chorus]
Oh come on home tonight
The lights are on for you
Oh come on home tonight
And I will wait here too
"""
LOW, HIGH = 55, 74


def _section(chords: list[tuple[int, str]], gain: float, clicks: bool) -> np.ndarray:
    y = render(chords, bpm=BPM, sr=SR, clicks=clicks)[0]
    n = int(round(len(chords) * 4 * 60.0 / BPM * SR))
    return gain * y[:n]


@pytest.fixture(scope="module")
def song_features():
    """A 4-bar intro (the chorus chords, quiet, no clicks), verse, chorus, verse, chorus (8 bars each)."""
    y = np.concatenate([_section(CHORUS[:4], 0.2, False), _section(VERSE, 0.5, True), _section(CHORUS, 1.0, True),
                        _section(VERSE, 0.5, True), _section(CHORUS, 1.0, True)])
    return extract(y[None, :].astype(np.float32), SR)


@pytest.fixture(scope="module")
def composed(song_features):
    an = analyze_features(song_features, tempo_map=TempoMap.constant(BPM))
    sheet = LyricsSheet.parse(SONG)
    rep = ComposeReport()
    score = compose(sheet, an, LOW, HIGH, seed=3, syllables=syllables_for(sheet), report=rep)
    return an, score, rep


def _bars_of_line(score: Score, line: int) -> tuple[int, int]:
    tm = score.tempo_map
    notes = [n for n in score.notes if n.line == line]
    return tm.bar_beat_at(notes[0].onset + 1e-6)[0], tm.bar_beat_at(notes[-1].end - 1e-6)[0]


def test_intro_is_left_free_and_verses_and_choruses_sit_on_their_sections(composed) -> None:
    an, score, rep = composed
    assert an.sections[0].role == "intro" and an.sections[0].last_bar == 4
    assert min(n.onset for n in score.notes) >= score.tempo_map.qn_at_bar(5) - 1e-9     # nothing in the intro
    spans = {0: (5, 12), 1: (13, 20), 2: (21, 28), 3: (29, 36)}                         # lyric section -> bars
    for sec, (a, b) in spans.items():
        for line in range(4 * sec, 4 * sec + 4):
            first, last = _bars_of_line(score, line)
            assert a <= first and last <= b, f"line {line} sung in bars {first}-{last}, not {a}-{b}"
    assert [p.first_bar for p in rep.placements] == [5, 13, 21, 29]


def test_a_chorus_sung_twice_over_the_same_music_is_the_same_melody(composed) -> None:
    _, score, rep = composed
    for i, j in zip(range(4, 8), range(12, 16)):
        a = [(round(n.onset - rep.phrases[i].start_qn, 6), n.duration, n.pitch) for n in score.notes if n.line == i]
        b = [(round(n.onset - rep.phrases[j].start_qn, 6), n.duration, n.pitch) for n in score.notes if n.line == j]
        assert a == b


def test_tempo_and_meter_of_the_song_are_found_without_a_map(song_features) -> None:
    an = analyze_features(song_features)
    assert an.grid.bpm == pytest.approx(BPM, rel=0.02)
    assert (an.grid.numerator, an.grid.denominator) == (4, 4)
    assert an.grid.confidence > 0.3


def _three_minutes() -> Analysis:
    an = analysis_for(VERSE, Key(0, "major", 0.9), bpm=100.0, bars=75)          # 75 bars of 2.4 s
    form = [(1, 4, "A", "intro"), (5, 12, "B", "verse"), (13, 20, "C", "chorus"), (21, 28, "B", "verse"),
            (29, 36, "C", "chorus"), (37, 44, "D", "bridge"), (45, 52, "C", "chorus"), (53, 60, "C", "chorus"),
            (61, 75, "E", "outro")]
    an.sections = [Section(a, b, lab, role, -20.0, 0.9) for a, b, lab, role in form]
    return an


def test_a_three_minute_instrumental_with_a_four_line_sheet_leaves_the_rest_free() -> None:
    an = _three_minutes()
    sheet = LyricsSheet.parse("[Verse]\nHello there my friend\nSing along with me\n"
                              "The night is young and so are we\nCome on home\n")
    rep = ComposeReport()
    score = compose(sheet, an, LOW, HIGH, seed=0, report=rep)
    tm = an.tempo_map
    assert len({n.line for n in score.notes}) == 4
    assert tm.qn_at_bar(5) <= min(n.onset for n in score.notes)                   # after the intro
    assert max(n.end for n in score.notes) <= tm.qn_at_bar(13) + 1e-9              # the first verse only
    assert [p.first_bar for p in rep.placements] == [5]
    assert not rep.warnings


def test_lyrics_far_too_long_say_how_many_lines_fit_and_where() -> None:
    an = analysis_for(VERSE, Key(0, "major", 0.9), bpm=100.0, bars=24)
    sheet = LyricsSheet.parse("\n".join(f"this is the line number {i} of a very long song" for i in range(40)))
    with pytest.raises(LyricsError, match=r"(\d+) of the 40 lines fit \(bars 1-24, up to 0:57\.\d\)") as e:
        compose(sheet, an, LOW, HIGH)
    assert "shorten the lyrics to" in e.value.hint


def test_noise_has_no_beat_so_the_default_grid_is_used_with_a_warning() -> None:
    noise = (0.2 * np.random.default_rng(0).standard_normal((1, SR * 12))).astype(np.float32)
    sheet = LyricsSheet.parse("[Verse]\nhello there my friend\nsing along with me\n")
    score, an, rep = compose_over(sheet, noise, SR, LOW, HIGH)
    assert an.grid.confidence == 0.0 and an.grid.bpm == 120.0 and an.grid.numerator == 4
    assert any("no steady beat" in w and "--tempo" in w for w in rep.warnings)
    assert len([n for n in score.notes if not n.is_melisma]) == 10


def test_a_tempo_that_disagrees_with_the_audio_is_named_with_the_audios() -> None:
    feat = extract(render(POP * 5, bpm=120.0, sr=SR), SR)
    an = analyze_features(feat, tempo_map=TempoMap.constant(87.0))
    msg = [w for w in an.warnings if "disagrees" in w]
    assert msg and "87.0 BPM 4/4" in msg[0] and "sounds like 120.0 BPM 4/4" in msg[0]


def test_phrasing_holds_line_ends_varies_the_rhythm_and_takes_upbeats() -> None:
    an = _three_minutes()
    sheet = LyricsSheet.parse(SONG)
    syls = syllables_for(sheet)
    upbeats = melismas = 0
    for seed in range(4):
        rep = ComposeReport()
        score = compose(sheet, an, LOW, HIGH, seed=seed, syllables=syls, report=rep)
        for ph in rep.phrases:
            notes = [n for n in score.notes if n.line == ph.line and not n.is_melisma]
            last = sum(n.duration for n in score.notes if n.line == ph.line and n.onset >= notes[-1].onset)
            melismas += sum(n.is_melisma for n in score.notes if n.line == ph.line)
            assert last >= 1.0 and last >= np.median([n.duration for n in notes])
            gaps = {round(b.onset - a.onset, 3) for a, b in zip(notes, notes[1:])}
            assert len(gaps) >= 2, f"line {ph.line}: every syllable {gaps} apart"
            upbeats += notes[0].onset < ph.start_qn - 1e-9
            rate = len(notes) / (an.tempo_map.seconds_at(notes[0].onset + last + notes[-1].onset - notes[0].onset)
                                 - an.tempo_map.seconds_at(notes[0].onset))
            assert 1.0 <= rate <= 5.0
    assert upbeats >= 2 and melismas >= 1


def test_a_sheet_with_more_sections_than_the_song_says_so_before_rendering() -> None:
    an = analysis_for(VERSE, Key(0, "major", 0.9), bpm=100.0, bars=40)
    form = [(1, 4, "A", "intro"), (5, 12, "B", "verse"), (13, 20, "C", "chorus"), (21, 40, "D", "outro")]
    an.sections = [Section(a, b, lab, role, -20.0, 0.9) for a, b, lab, role in form]
    sheet = LyricsSheet.parse(SONG)                  # 4 sections of 4 lines for 2 sung sections
    rep = ComposeReport()
    compose(sheet, an, LOW, HIGH, report=rep)
    assert any("more" in w and "sung over the" in w or "share one section" in w for w in rep.warnings)


def test_a_guide_melody_still_wins_over_the_composer() -> None:
    from host_bridge.core.midi import score_midi_bytes
    from host_bridge.core.model import Note
    from inference.pipeline import GenerateRequest, Pipeline

    tm = TempoMap.constant(120.0)
    guide = Score(tuple(Note(4.0 + i, 1.0, float(p)) for i, p in enumerate((60, 62, 64, 65, 67))), tm)
    audio = render(POP * 4, bpm=120.0, sr=SR)
    req = GenerateRequest(lyrics_text="[Verse]\nhello there my friend\n", sample_rate=SR,
                          length_samples=audio.shape[1], tempo_map=tm, instrumental=audio,
                          melody_midi=score_midi_bytes(guide), seed=5)
    score = Pipeline().score_for(req)
    assert [(n.onset, n.pitch) for n in score.notes] == [(n.onset, n.pitch) for n in guide.notes]
    assert [n.syllable for n in score.notes][:2] == ["hel", "lo"]
