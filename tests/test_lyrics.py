"""LyricsSheet parsing: sections, LRC times, words, and what it refuses."""
from __future__ import annotations

import unicodedata

import pytest

from host_bridge.core.errors import LyricsError
from host_bridge.core.model.lyrics import MAX_LINES, MAX_LYRICS_CHARS, LyricsSheet, Word

SONG = """[Verse 1]
Purple lemons dance at night
Quiet rivers hold the light

[Chorus]
Sing it, don't you stop-ping now!
Sing it loud

And a stanza with no header
"""


def test_sections_and_lines():
    sh = LyricsSheet.parse(SONG)
    assert [ln.text for ln in sh.lines][:2] == ["Purple lemons dance at night", "Quiet rivers hold the light"]
    assert sh.sections == [("Verse 1", 0), ("Chorus", 2), ("Verse 2", 4)]
    assert [ln.section for ln in sh.lines] == ["Verse 1", "Verse 1", "Chorus", "Chorus", "Verse 2"]


def test_blank_line_after_header_keeps_section():
    sh = LyricsSheet.parse("[Bridge]\n\nla la\n\n[Outro]\nbye")
    assert sh.sections == [("Bridge", 0), ("Outro", 1)]


def test_default_section_is_verse():
    sh = LyricsSheet.parse("one line\nanother line")
    assert sh.sections == [("Verse", 0)]


def test_lrc_times():
    sh = LyricsSheet.parse("[00:12.50] quiet rivers\n[1:02,25]hold the light\nno time here\n[00:05] five")
    assert [ln.time_s for ln in sh.lines] == [pytest.approx(12.5), pytest.approx(62.25), None, pytest.approx(5.0)]
    assert sh.lines[0].text == "quiet rivers"
    assert [w.text for w in sh.lines[1].words] == ["hold", "the", "light"]


def test_lrc_time_is_not_a_section():
    sh = LyricsSheet.parse("[Verse]\n[00:01.00] hello")
    assert sh.sections == [("Verse", 0)] and sh.lines[0].time_s == pytest.approx(1.0)


def test_apostrophes_kept_and_straightened():
    sh = LyricsSheet.parse("Don’t stop singin' rock'n'roll, 'cause it's ours")
    assert [w.text for w in sh.words] == ["Don't", "stop", "singin'", "rock'n'roll", "cause", "it's", "ours"]


def test_hyphens_are_syllable_hints():
    sh = LyricsSheet.parse("don't you stop-ping now, ev-ery-thing")
    words = sh.words
    assert words[2] == Word("stopping", ("stop", "ping"))
    assert words[4] == Word("everything", ("ev", "ery", "thing"))
    assert words[0].syllable_hints == ()


def test_dashes_between_words_are_not_hints():
    sh = LyricsSheet.parse("wait -- for me — now")
    assert [w.text for w in sh.words] == ["wait", "for", "me", "now"]
    assert all(not w.syllable_hints for w in sh.words)


def test_punctuation_dropped_from_words_kept_in_text():
    sh = LyricsSheet.parse('"Hello," she said... (again!)')
    assert [w.text for w in sh.words] == ["Hello", "she", "said", "again"]
    assert sh.lines[0].text == '"Hello," she said... (again!)'


def test_punctuation_only_lines_are_skipped():
    sh = LyricsSheet.parse("la\n...\n!!!\nlo")
    assert [ln.text for ln in sh.lines] == ["la", "lo"]


def test_underscores_are_not_words():
    sh = LyricsSheet.parse("fill in the ____ blank")
    assert [w.text for w in sh.words] == ["fill", "in", "the", "blank"]


def test_unicode_nfc():
    decomposed = "cafe\u0301 nai\u0308ve"
    sh = LyricsSheet.parse(decomposed)
    assert [w.text for w in sh.words] == ["café", "naïve"]
    assert all(unicodedata.is_normalized("NFC", w.text) for w in sh.words)
    assert sh.lines[0].text == unicodedata.normalize("NFC", decomposed)


def test_bom_and_crlf():
    sh = LyricsSheet.parse("\ufeffone two\r\nthree\r\n")
    assert [ln.text for ln in sh.lines] == ["one two", "three"]


def test_digits_are_words():
    sh = LyricsSheet.parse("I have 2 dogs")
    assert [w.text for w in sh.words] == ["I", "have", "2", "dogs"]


def test_sha256_and_to_dict_stable():
    a, b = LyricsSheet.parse(SONG), LyricsSheet.parse(SONG)
    assert a.sha256() == b.sha256() and len(a.sha256()) == 64
    d = a.to_dict()
    assert d["lines"][2] == {"text": "Sing it, don't you stop-ping now!", "section": "Chorus", "time_s": None}


@pytest.mark.parametrize("text", ["", "   \n\n\t", "[Verse]\n[Chorus]\n", "... !!! ,,,"])
def test_empty_raises(text):
    with pytest.raises(LyricsError) as e:
        LyricsSheet.parse(text)
    assert "no words" in e.value.message and e.value.hint


def test_binary_raises():
    with pytest.raises(LyricsError) as e:
        LyricsSheet.parse("abc\x00\x01\x02def")
    assert "binary" in e.value.message


def test_control_characters_raise():
    with pytest.raises(LyricsError):
        LyricsSheet.parse("la " + "\x07" * 50 + " la" * 100)


def test_huge_raises():
    with pytest.raises(LyricsError) as e:
        LyricsSheet.parse("la " * (MAX_LYRICS_CHARS // 3 + 10))
    assert "too long" in e.value.message


def test_too_many_lines_raise():
    with pytest.raises(LyricsError) as e:
        LyricsSheet.parse("la\n" * (MAX_LINES + 5))
    assert "lines" in e.value.message


def test_load_file(tmp_path):
    p = tmp_path / "song.txt"
    p.write_text(SONG, encoding="utf-8")
    assert LyricsSheet.load(p) == LyricsSheet.parse(SONG)


def test_load_cp1252_fallback(tmp_path):
    p = tmp_path / "old.txt"
    p.write_bytes("caf\xe9 on the corner".encode("latin-1"))
    assert LyricsSheet.load(p).words[0].text == "café"


@pytest.mark.parametrize("data", [b"", b"  \n  ", b"\x00\x01\x02\x03binary", b"PK\x03\x04\x00\x00zipfile"])
def test_load_bad_files_raise(tmp_path, data):
    p = tmp_path / "bad.txt"
    p.write_bytes(data)
    with pytest.raises(LyricsError) as e:
        LyricsSheet.load(p)
    assert str(p) in e.value.message


def test_load_missing_file_raises(tmp_path):
    with pytest.raises(LyricsError) as e:
        LyricsSheet.load(tmp_path / "nope.txt")
    assert "nope.txt" in e.value.message and e.value.hint
