"""The topline composer's invariants on generated cases: every syllable sung once, range,
chord tones on strong beats, phrases inside their bars, seeds, repeated choruses."""
from __future__ import annotations

import numpy as np
import pytest

from host_bridge.core.errors import LyricsError
from host_bridge.core.model import LyricsSheet, Score, TempoMap
from inference.analysis import Analysis, BeatGrid, Chord, Key, beat_qn, beats_per_bar
from inference.compose import ComposeReport, compose, is_strong, syllables_for
from inference.compose.stage import compose_over

SONG = """[Verse]
Purple lemons dance at night
quiet rivers hold the light
[Chorus]
Sing it loud and don't you stop
we are climbing to the top
[Verse 2]
Every morning brings the rain, washing windows once again
and the city hums along
[Chorus]
Sing it loud and don't you stop
we are climbing to the top
"""
LOW, HIGH = 52, 71


def analysis_for(prog: list[tuple[int, str]], key: Key, bpm: float = 100.0, meter: tuple[int, int] = (4, 4),
                 bars: int = 48) -> Analysis:
    tm = TempoMap.constant(bpm, *meter)
    bq = beat_qn(*meter)
    k = beats_per_bar(*meter)
    chords = []
    for b in range(bars):
        r, q = prog[b % len(prog)]
        for i in range(k):
            q0 = tm.qn_at_bar(b + 1) + i * bq
            chords.append(Chord(q0, q0 + bq, r, q, 0.9))
    grid = BeatGrid(tuple(c.start_qn for c in chords), tuple(tm.seconds_at(c.start_qn) for c in chords), (), bpm,
                    meter[0], meter[1], 1.0, "tempo_map")
    return Analysis(tm, grid, key, chords, [], -20.0, tm.seconds_at(tm.qn_at_bar(bars + 1)), bars)


POP = analysis_for([(0, "maj"), (7, "maj"), (9, "min"), (5, "maj")], Key(0, "major", 0.9))


@pytest.fixture(scope="module")
def sheet() -> LyricsSheet:
    return LyricsSheet.parse(SONG)


@pytest.fixture(scope="module")
def syls(sheet: LyricsSheet):
    return syllables_for(sheet)


def _lines(score: Score) -> dict[int, list]:
    """The syllables' notes per line (melisma notes, which carry on a vowel, left out)."""
    out: dict[int, list] = {}
    for n in score.notes:
        if n.is_melisma:
            continue
        out.setdefault(n.line, []).append(n)
    return out


def check_invariants(score: Score, an: Analysis, syls, rep: ComposeReport) -> None:
    tm = an.tempo_map
    lines = _lines(score)
    # every syllable sung exactly once, in order
    assert [len(lines[i]) for i in range(len(syls))] == [len(s) for s in syls]
    for i, line in enumerate(syls):
        assert [n.syllable for n in lines[i]] == [s.text for s in line]
    notes = score.notes
    assert all(LOW <= n.pitch <= HIGH for n in notes)
    assert all(abs(b.pitch - a.pitch) <= 12 for a, b in zip(notes, notes[1:]))
    assert all(b.onset >= a.end - 1e-6 for a, b in zip(notes, notes[1:]))          # monophonic
    strong = [n for n in notes if is_strong(tm, n.onset)]
    assert strong
    assert all(int(n.pitch) % 12 in an.key.scale for n in strong)
    tones = [int(n.pitch) % 12 in an.chord_at(n.onset).pitch_classes for n in strong]
    assert np.mean(tones) >= 0.8
    for ph in rep.phrases:
        assert abs(ph.start_qn - tm.qn_at_bar(ph.first_bar)) < 1e-9                  # on a bar boundary
        line = lines[ph.line]
        assert line[0].onset >= ph.start_qn - ph.pickup_qn - 1e-9                   # an upbeat at most
        assert line[-1].end <= tm.qn_at_bar(ph.first_bar + ph.bars) + 1e-9           # inside its bars
        assert line[-1].end <= ph.end_qn + 1e-9                                      # leaves the breath


def test_composed_melody_keeps_every_invariant(sheet, syls) -> None:
    rep = ComposeReport()
    score = compose(sheet, POP, LOW, HIGH, seed=0, syllables=syls, report=rep)
    check_invariants(score, POP, syls, rep)
    assert score.lines == tuple(ln.text for ln in sheet.lines)
    assert all(n.phonemes is not None for n in score.notes)


@pytest.mark.parametrize("meter,bpm", [((3, 4), 132.0), ((6, 8), 120.0), ((4, 4), 72.0)])
def test_other_meters_and_tempos(sheet, syls, meter, bpm) -> None:
    an = analysis_for([(9, "min"), (5, "maj"), (0, "maj"), (7, "7")], Key(9, "minor", 0.9), bpm, meter, bars=64)
    rep = ComposeReport()
    score = compose(sheet, an, LOW, HIGH, seed=3, syllables=syls, report=rep)
    check_invariants(score, an, syls, rep)


def test_same_seed_same_melody_other_seed_another(sheet, syls) -> None:
    a = compose(sheet, POP, LOW, HIGH, seed=7, syllables=syls)
    b = compose(sheet, POP, LOW, HIGH, seed=7, syllables=syls)
    c = compose(sheet, POP, LOW, HIGH, seed=8, syllables=syls)
    assert a.to_dict() == b.to_dict()
    assert [(n.onset, n.pitch) for n in a.notes] != [(n.onset, n.pitch) for n in c.notes]


def test_repeated_chorus_gets_the_same_melody(sheet, syls) -> None:
    rep = ComposeReport()
    score = compose(sheet, POP, LOW, HIGH, seed=1, syllables=syls, report=rep)
    lines = _lines(score)
    first, again = (2, 3), (6, 7)
    for i, j in zip(first, again):
        pi, pj = rep.phrases[i], rep.phrases[j]
        a = [(round(n.onset - pi.start_qn, 6), n.duration, n.pitch) for n in lines[i]]
        b = [(round(n.onset - pj.start_qn, 6), n.duration, n.pitch) for n in lines[j]]
        assert a == b
    assert set(rep.reused) == {6, 7}


def test_a_chorus_sits_higher_than_the_verse(sheet, syls) -> None:
    score = compose(sheet, POP, LOW, HIGH, seed=2, syllables=syls)
    lines = _lines(score)
    verse = np.mean([n.pitch for i in (0, 1) for n in lines[i]])
    chorus = np.mean([n.pitch for i in (2, 3) for n in lines[i]])
    assert chorus > verse


def test_a_very_long_line_gets_more_bars(syls) -> None:
    long = LyricsSheet.parse("[Verse]\nshort line here\n" + " ".join(["la"] * 40) + "\nand a short one\n")
    rep = ComposeReport()
    s = syllables_for(long)
    score = compose(long, POP, LOW, HIGH, syllables=s, report=rep)
    assert rep.phrases[1].bars > rep.phrases[0].bars
    check_invariants(score, POP, s, rep)


def test_lyrics_longer_than_the_instrumental_say_how_many_lines_fit(sheet, syls) -> None:
    short = analysis_for([(0, "maj"), (7, "maj")], Key(0, "major", 0.9), bars=6)
    with pytest.raises(LyricsError, match=r"3 of the 8 lines fit") as e:
        compose(sheet, short, LOW, HIGH, syllables=syls)
    assert "shorten the lyrics to 3 lines" in e.value.hint


def test_silence_still_yields_a_melody_in_the_default_key_with_a_warning(sheet) -> None:
    audio = np.zeros((2, 22050 * 40), np.float32)
    score, an, rep = compose_over(sheet, audio, 22050, LOW, HIGH, tempo_map=TempoMap.constant(120.0))
    assert an.key.name == "C major"
    assert any("silent" in w for w in rep.warnings)
    assert len(score.notes) == sum(len(ln) for ln in syllables_for(sheet))
    assert all(int(n.pitch) % 12 in an.key.scale for n in score.notes)


def test_range_narrower_than_a_fifth_is_refused(sheet, syls) -> None:
    with pytest.raises(LyricsError, match="under a fifth"):
        compose(sheet, POP, 60, 65, syllables=syls)


def test_pipeline_composes_when_no_guide_melody_is_given() -> None:
    from inference.pipeline import GenerateRequest, Pipeline
    from tests.synth_music import POP as POP_CHORDS, render

    audio = render(POP_CHORDS * 4, bpm=120.0, sr=22050)
    req = GenerateRequest(lyrics_text="[Verse]\nhello there my friend\nsing along with me\n", sample_rate=22050,
                          length_samples=audio.shape[1], tempo_map=TempoMap.constant(120.0), instrumental=audio,
                          seed=4)
    score = Pipeline().score_for(req)
    assert [n.syllable for n in score.notes][:3] == ["hel", "lo", "there"]
    assert all(int(n.pitch) % 12 in (0, 2, 4, 5, 7, 9, 11) for n in score.notes)


def test_generate_without_a_guide_melody_sings_the_composed_score() -> None:
    """The whole pipeline (produce stage included) with a sine engine: the take is sung from the
    composed score, on the session grid."""
    from inference.pipeline import GenerateRequest
    from tests.synth_music import POP as POP_CHORDS, render

    sr = 22050
    audio = render(POP_CHORDS * 4, bpm=120.0, sr=sr)
    req = GenerateRequest(lyrics_text="[Verse]\nhello there my friend\nsing along with me\n", sample_rate=sr,
                          length_samples=audio.shape[1], tempo_map=TempoMap.constant(120.0), instrumental=audio,
                          seed=1)
    take = _sine_pipeline().generate(req)
    assert take.audio.shape[1] == audio.shape[1]
    assert len([n for n in take.score.notes if not n.is_melisma]) == 10 and np.abs(take.audio).max() > 0.01
    first = take.score.notes[0]
    assert 0.0 <= first.onset < 4.0     # sung from bar 1 of the session grid


def test_composer_warnings_reach_the_take_not_only_the_sidecar_log() -> None:
    """Regression (issue 17): a tempo map that disagrees with the audio was only logged by the
    sidecar; the take carries the warning (register.warnings) and `topline generate` prints it."""
    from inference.pipeline import GenerateRequest
    from tests.synth_music import POP as POP_CHORDS, render

    sr = 22050
    audio = render(POP_CHORDS * 4, bpm=120.0, sr=sr)
    req = GenerateRequest(lyrics_text="[Verse]\nhello there my friend\nsing along with me\n", sample_rate=sr,
                          length_samples=audio.shape[1], tempo_map=TempoMap.constant(84.0), instrumental=audio,
                          seed=1)
    take = _sine_pipeline().generate(req)
    warnings = take.register.get("warnings", [])
    assert any("84" in w and "120" in w for w in warnings), warnings
    assert take.metadata()["register"]["warnings"] == warnings


def _sine_pipeline():  # noqa: ANN202 - a Pipeline whose engine is the tests' sine tone
    from inference.pipeline import Pipeline
    from tests.integration.tone import ToneEngine

    class SinePipeline(Pipeline):
        def engine(self, name: str, checkpoint: str = ""):  # type: ignore[override]
            return ToneEngine(0.0)

    return SinePipeline()
