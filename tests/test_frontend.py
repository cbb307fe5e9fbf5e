"""Text front end: espeak G2P, syllables, and lyrics-to-notes alignment."""
from __future__ import annotations

import threading

import pytest

from host_bridge.core.errors import AlignmentError
from host_bridge.core.midi import GuideMelody
from host_bridge.core.model.lyrics import LyricsSheet, Word
from host_bridge.core.model.score import Note, Phonemes
from host_bridge.core.model.tempo import TempoMap
from inference.frontend.align import align
from inference.frontend.g2p import G2P
from inference.frontend.syllables import Syllable, is_vowel, line_syllables, lyrics_syllables, split_text, syllabify


@pytest.fixture(scope="module")
def g2p() -> G2P:
    return G2P()


def _sylls(g2p: G2P, text: str) -> list[Syllable]:
    return [s for line in lyrics_syllables(LyricsSheet.parse(text), g2p) for s in line]


def _word_sylls(g2p: G2P, word: str) -> list[Syllable]:
    return _sylls(g2p, word)


# ---------------------------------------------------------------------------------- G2P
def test_words_in_context(g2p):
    ph = g2p.words(["a", "cat"])
    assert ph[0] != ("ˈeɪ",)  # the article, not the letter name
    assert ph[1] == ("k", "ˈæ", "t")


def test_lone_word_a_in_fallback_is_article(g2p):
    # a digit word that espeak splits in two forces the mismatch path
    ph = g2p.words(["a", "1990s", "song"])
    assert len(ph) == 3 and ph[0][0] in ("ɐ", "ə")


def test_apostrophes(g2p):
    assert g2p.words(["don't"]) == [("d", "ˈoʊ", "n", "t")]
    assert g2p.words(["Don’t"]) == g2p.words(["don't"])


def test_unicode_words(g2p):
    ph = g2p.words(["café", "naïve"])
    assert len(ph) == 2 and sum(map(is_vowel, ph[0])) == 2 and sum(map(is_vowel, ph[1])) == 2


def test_digits_are_read(g2p):
    assert [p.replace("ˈ", "") for p in g2p.words(["2"])[0]] == ["t", "uː"]
    sy = _word_sylls(g2p, "100")
    assert len(sy) == 3  # one hun-dred
    assert all(s.text for s in sy)


def test_short_digit_words_round_trip_through_midi_tokens(g2p):
    sy = _word_sylls(g2p, "7")
    assert len(sy) == 2
    again = line_syllables([Word("".join(s.text for s in sy), tuple(s.text for s in sy))], g2p)
    assert [s.phonemes for s in again] == [s.phonemes for s in sy]


def test_split_words_are_rejoined(g2p):
    ph = g2p.words(["the", "1990s"])
    assert len(ph) == 2 and sum(map(is_vowel, ph[1])) >= 5


def test_unreadable_word_gets_a_vowel(g2p):
    assert g2p.words(["la", "???", "la"])[1] == ("ə",)


def test_thread_safe():
    lines = [["twinkle", "twinkle", "little", "star"], ["how", "I", "wonder", "what", "you", "are"],
             ["don't", "stop", "me", "now", "1990s"], ["purple", "lemons", "dance", "at", "night"]]
    shared = G2P(cache_lines=0)  # every call reaches espeak
    expected = [shared.words(ln) for ln in lines]
    errors: list[str] = []

    def run(k: int) -> None:
        for i in range(30):
            j = (i + k) % len(lines)
            if shared.words(lines[j]) != expected[j]:
                errors.append(f"thread {k} line {j}")

    threads = [threading.Thread(target=run, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


# ---------------------------------------------------------------------------------- syllables
@pytest.mark.parametrize("word,count", [("cat", 1), ("don't", 1), ("twinkle", 2), ("little", 2), ("button", 2),
                                        ("purple", 2), ("beautiful", 3), ("understand", 3), ("everything", 3),
                                        ("café", 2), ("strengths", 1), ("together", 3), ("I", 1),
                                        ("quiet", 2), ("lion", 2), ("idea", 3), ("museum", 3), ("period", 3),
                                        ("fire", 1), ("clear", 1)])
def test_syllable_counts(g2p, word, count):
    assert len(_word_sylls(g2p, word)) == count


@pytest.mark.parametrize("word,stressed", [("about", 1), ("beautiful", 0), ("believe", 1), ("understand", 2),
                                           ("café", 1), ("lemons", 0), ("together", 1)])
def test_primary_stress_on_the_right_syllable(g2p, word, stressed):
    sy = _word_sylls(g2p, word)
    assert [k for k, s in enumerate(sy) if s.phonemes.stress == 2] == [stressed]


def test_secondary_stress(g2p):
    sy = _word_sylls(g2p, "understand")
    assert sy[0].phonemes.stress == 1 and sy[1].phonemes.stress == 0


def test_no_stress_marks_left_in_phones(g2p):
    for s in _sylls(g2p, "Twinkle twinkle little star, extraordinary understanding"):
        for p in s.phonemes.onset + s.phonemes.nucleus + s.phonemes.coda:
            assert "ˈ" not in p and "ˌ" not in p
        assert s.phonemes.nucleus and is_vowel(s.phonemes.nucleus[0])


def test_maximal_onset():
    sy = syllabify(["s", "ˈɪ", "s", "t", "ɚ"])
    assert [(p.onset, p.nucleus, p.coda) for p in sy] == [(("s",), ("ɪ",), ()), (("s", "t"), ("ɚ",), ())]
    sy = syllabify(["t", "w", "ˈɪ", "ŋ", "k", "əl"])  # ŋ never starts a syllable
    assert sy[0].coda == ("ŋ",) and sy[1].onset == ("k",)
    sy = syllabify(["ɛ", "k", "s", "t", "ɹ", "ˈɑː"])  # ks.tɹ: "kstɹ" is not an onset, "stɹ" is
    assert sy[0].coda == ("k",) and sy[1].onset == ("s", "t", "ɹ")


def test_forced_fewer_syllables_fold_the_weak_vowel():
    sy = syllabify(["ˈɛ", "v", "ɹ", "ɪ", "θ", "ˌɪ", "ŋ"], 2)  # every-thing sung as ev'ry-thing
    assert len(sy) == 2 and sy[0].nucleus == ("ɛ",) and sy[0].stress == 2 and sy[1].onset == ("θ",)


def test_forced_more_syllables_split_diphthongs():
    sy = syllabify(["f", "ˈaɪɚ", "ɹ"], 2)
    assert [p.nucleus for p in sy] == [("aɪ",), ("ɚ",)]
    sy = syllabify(["h", "ə", "m"], 3)  # more notes than vowels: the vowel is held again
    assert len(sy) == 3 and all(p.nucleus == ("ə",) for p in sy) and sy[-1].coda == ("m",)


def test_syllabify_edge_cases():
    assert syllabify([]) == [Phonemes((), ("ə",), (), 0)]
    assert syllabify(["m"])[0].nucleus == ("m",)
    assert len(syllabify(["k", "ˈæ", "t"], 0)) == 1


def test_sheet_hyphens_set_count_and_text(g2p):
    sy = _sylls(g2p, "ev-ery stop-ping")
    assert [s.text for s in sy] == ["ev", "ery", "stop", "ping"]
    assert [s.word for s in sy] == [0, 0, 1, 1]
    assert [(s.word_start, s.word_end) for s in sy] == [(True, False), (False, True)] * 2


def test_split_text():
    assert split_text("twinkle", 2) == ["twin", "kle"]
    assert split_text("little", 2) == ["lit", "tle"]
    assert split_text("quiet", 2) == ["qui", "et"]
    assert split_text("dance", 1) == ["dance"]
    assert split_text("7", 2) == ["7", "'"]
    for w in ("beautiful", "everything", "strengths", "aaa", "rhythm"):
        for n in (1, 2, 3):
            pieces = split_text(w, n)
            assert len(pieces) == n and all(pieces)
            if len(w) >= n:
                assert "".join(pieces) == w


def test_lyrics_syllables_indices(g2p):
    sheet = LyricsSheet.parse("[Verse]\nTwinkle little star\n[Chorus]\nHow I wonder")
    lines = lyrics_syllables(sheet, g2p)
    assert [[s.text for s in ln] for ln in lines] == [["Twin", "kle", "lit", "tle", "star"],
                                                      ["How", "I", "won", "der"]]
    assert [s.word for s in lines[1]] == [3, 4, 5, 5] and {s.line for s in lines[1]} == {1}


def test_line_syllables_explicit_counts(g2p):
    sy = line_syllables([Word("beautiful", ("beau", "ti", "ful")), Word("everything")], g2p, counts=[None, 2])
    assert [s.text for s in sy][:3] == ["beau", "ti", "ful"] and len(sy) == 5


# ---------------------------------------------------------------------------------- align
def _melody(pitches, lengths=None, rests=(), lyrics=(), line_starts=()) -> GuideMelody:
    """Notes back to back (1 qn unless ``lengths``), a rest of 2 qn before each index in ``rests``."""
    notes = []
    t = 0.0
    for i, p in enumerate(pitches):
        if i in rests:
            t += 2.0
        d = lengths[i] if lengths else 1.0
        notes.append(Note(t, d, float(p)))
        t += d
    return GuideMelody(tuple(notes), TempoMap.constant(100), tuple(lyrics), "v", "test.mid", tuple(line_starts))


TWINKLE = [60, 60, 67, 67, 69, 69, 67, 65, 65, 64, 64, 62, 62, 60]


def test_one_syllable_per_note(g2p):
    sheet = LyricsSheet.parse("[Verse]\nTwinkle twinkle little star\nHow I wonder what you are")
    sc = align(sheet, _melody(TWINKLE, rests={7}), g2p)
    assert [n.syllable for n in sc.notes] == ["Twin", "kle", "twin", "kle", "lit", "tle", "star",
                                              "How", "I", "won", "der", "what", "you", "are"]
    assert [n.line for n in sc.notes] == [0] * 7 + [1] * 7
    assert sc.notes[1].word == sc.notes[0].word == 0 and sc.notes[13].word == 9
    assert sc.lines == ("Twinkle twinkle little star", "How I wonder what you are")
    assert sc.sections == (("Verse", 0),)
    assert all(n.phonemes is not None for n in sc.notes)
    assert sc.tempo_map == TempoMap.constant(100)


def test_melisma_goes_to_the_line_end(g2p):
    sheet = LyricsSheet.parse("la di da\nsing")
    mel = _melody([60, 62, 64, 65, 67, 69, 71], rests={5})  # 5 notes for "la di da", 2 for "sing"
    sc = align(sheet, mel, g2p)
    assert [n.syllable for n in sc.notes] == ["la", "di", "da", "", "", "sing", ""]
    assert [n.word for n in sc.notes] == [0, 1, 2, 2, 2, 3, 3]
    assert all(n.is_melisma for n in sc.notes if n.syllable == "")
    assert sc.notes[3].phonemes is None


def test_melisma_at_line_end_rather_than_on_a_repeated_pitch(g2p):
    # "Light the Lanterns": E4 E4 G4 G4 E4 D4 D4 B3, the B3 continues "hill"
    sheet = LyricsSheet.parse("Light the lan-terns on the hill")
    mel = _melody([64, 64, 67, 67, 64, 62, 62, 59], [1, .5, .5, 1, 1, 1, 1, 1])
    assert [n.syllable for n in align(sheet, mel, g2p).notes] == ["Light", "the", "lan", "terns", "on", "the",
                                                                  "hill", ""]


def test_melisma_prefers_short_runs(g2p):
    sheet = LyricsSheet.parse("glo-ri-a in ex-cel-sis")
    pitches = [67, 69, 71, 72, 74, 72, 71, 69, 67, 65, 64]
    lengths = [1.0, 0.25, 0.25, 0.25, 0.25, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0]
    sc = align(sheet, _melody(pitches, lengths), g2p)
    assert [n.syllable for n in sc.notes][:5] == ["glo", "", "", "", ""]


def test_lines_follow_phrases(g2p):
    sheet = LyricsSheet.parse("one two three\nfour five")
    mel = _melody([60, 62, 64, 65, 67, 69, 71], rests={4})  # 4 + 3 notes
    sc = align(sheet, mel, g2p)
    assert [(n.syllable, n.line) for n in sc.notes] == [("one", 0), ("two", 0), ("three", 0), ("", 0),
                                                        ("four", 1), ("five", 1), ("", 1)]


def test_largest_rests_split_lines(g2p):
    sheet = LyricsSheet.parse("one two\nthree four")
    # short rests (half a beat) everywhere, the longest between notes 2 and 3
    notes = (Note(0, 1, 60), Note(1.5, 1, 62), Note(4.0, 1, 64), Note(5.5, 1, 65))
    mel = GuideMelody(notes, TempoMap.constant(100), (), "v", "t.mid")
    sc = align(sheet, mel, g2p, phrase_rest_qn=4.0)
    assert [n.line for n in sc.notes] == [0, 0, 1, 1]


def test_sequential_fill_crosses_rests_and_drops_extra_notes(g2p):
    sheet = LyricsSheet.parse("one two three\nfour")
    mel = _melody([60, 62, 64, 65, 67, 69, 71, 72], rests={2, 6})  # phrases of 2, 4, 2 notes
    sc = align(sheet, mel, g2p)
    assert [n.syllable for n in sc.notes] == ["one", "two", "three", "four", "", ""]
    assert [n.onset for n in sc.notes] == [0.0, 1.0, 4.0, 5.0, 6.0, 7.0]  # the last phrase is not sung


def test_single_line_is_not_stretched_over_rests(g2p):
    sheet = LyricsSheet.parse("la di")
    sc = align(sheet, _melody([60, 62, 64, 65, 67], rests={3}), g2p)
    assert [n.syllable for n in sc.notes] == ["la", "di", ""]  # the phrase after the rest is not sung


def test_alignment_error_names_the_line(g2p):
    sheet = LyricsSheet.parse("la la\nthis line is far too long for the tune")
    with pytest.raises(AlignmentError) as e:
        align(sheet, _melody([60, 62, 64, 65, 67]), g2p)
    msg = e.value.message
    assert "line 2" in msg and "this line is far too long for the tune" in msg
    assert "hyphen" in e.value.hint and "add notes" in e.value.hint


def test_no_lyrics_at_all_raises(g2p):
    with pytest.raises(AlignmentError):
        align(None, _melody([60, 62]), g2p)


def test_lyric_events_win_over_the_sheet(g2p):
    sheet = LyricsSheet.parse("Twinkle twinkle\nlittle star")
    lyr = ["Twi-", "nkle", "twin-", "kle", "+", "lit-", "tle", "star"]
    mel = _melody([60, 60, 67, 67, 68, 69, 69, 67], lyrics=lyr)
    sc = align(sheet, mel, g2p)
    assert [n.syllable for n in sc.notes] == ["Twi", "nkle", "twin", "kle", "", "lit", "tle", "star"]
    assert [n.word for n in sc.notes] == [0, 0, 1, 1, 1, 2, 2, 3]
    assert [n.line for n in sc.notes] == [0, 0, 0, 0, 0, 1, 1, 1]  # the sheet's lines (same words)
    assert sc.lines == ("Twinkle twinkle", "little star")
    assert sc.notes[0].phonemes is not None and sc.notes[0].phonemes.stress == 2


def test_lyric_events_force_the_syllable_count(g2p):
    # "every" has three vowels; the file sings it on two notes
    mel = _melody([60, 62, 64], lyrics=["ev-", "ry", "day"])
    sc = align(None, mel, g2p)
    assert [n.syllable for n in sc.notes] == ["ev", "ry", "day"]
    assert sc.notes[0].phonemes.nucleus == ("ɛ",)


def test_lyric_events_lines_from_file_marks_or_phrases(g2p):
    mel = _melody([60, 62, 64, 65], lyrics=["one", "two", "three", "four"], line_starts=(0, 2))
    sc = align(LyricsSheet.parse("a different sheet with more words"), mel, g2p)
    assert [n.line for n in sc.notes] == [0, 0, 1, 1]
    assert sc.lines == ("one two", "three four")
    mel = _melody([60, 62, 64, 65], lyrics=["one", "two", "three", "four"], rests={3})
    assert [n.line for n in align(None, mel, g2p).notes] == [0, 0, 0, 1]


def test_unlyriced_notes_in_a_lyric_file(g2p):
    # a note without a lyric inside a phrase is a melisma; after a rest, or before any lyric, it is not sung
    mel = _melody([55, 60, 62, 64, 65], lyrics=["", "la", "", "di", ""], rests={4})
    sc = align(None, mel, g2p)
    assert [(n.pitch, n.syllable) for n in sc.notes] == [(60.0, "la"), (62.0, ""), (64.0, "di")]


def test_score_round_trips_through_midi(g2p, tmp_path):
    from host_bridge.core.midi import read_melody, write_score_midi

    sheet = LyricsSheet.parse("[Verse]\nTwinkle, twinkle little star\n[Chorus]\nHow I won-der 7 times")
    mel = _melody(TWINKLE + [67, 65, 64], rests={7})
    sc = align(sheet, mel, g2p)
    assert any(n.is_melisma for n in sc.notes)
    p = tmp_path / "take.mid"
    write_score_midi(sc, p)
    back = align(sheet, read_melody(p), g2p)
    assert back.notes == sc.notes
    assert back.lines == sc.lines and back.sections == sc.sections
