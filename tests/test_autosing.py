"""AutoSing engine invariants, on the debug configuration (tiny models, tiny random SNAC, CPU).

Layouts round-trip; delays align; KV-cache decoding equals the full forward; causality;
streaming decode equals one-shot; sampling is seeded; CFG's unconditional input is what
condition dropout trains; a tiny model overfits one example and greedy generation reproduces
it; save -> load gives identical outputs; pickles and wrong files are refused by name.
"""
from __future__ import annotations

import json
import random
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from host_bridge.core.errors import CancelledError, InputError, ModelError
from host_bridge.core.model import Note, Score, TempoMap
from inference.engines.autosing.builders import build_embedder, build_lm
from inference.engines.autosing.codec import Codec, build_snac
from inference.engines.autosing.config import SNAC_DEBUG, EmbedderConfig, LMConfig, PatternSpec, debug_lm
from inference.engines.autosing.engine import AutoSing, AutoSingEngine, SingParams
from inference.engines.autosing.generate import Generator, stage1_plan, stage2_plan
from inference.engines.autosing.loaders import load_embedder, load_lm, load_snac, save_checkpoint
from inference.engines.autosing.patterns import Pattern
from inference.engines.autosing.sampling import GREEDY, SamplingParams, cfg_combine, sample
from inference.engines.autosing.train import (Example, TrainConfig, cosine_lr, lyrics_bytes, make_batch,
                                              n_semantic, train_embedder, train_lm)

torch.set_num_threads(1)
K = SNAC_DEBUG["codebook_size"]
SR = 32000


def rand_codes(n_fine: int, seed: int, k: int = K, strides: tuple[int, ...] = (8, 4, 2, 1)) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, k, (1, n_fine // s), generator=g) for s in strides]


@pytest.fixture(scope="module")
def codec() -> Codec:
    return Codec(build_snac(SNAC_DEBUG, seed=0))


def example(seed: int = 0, n_fine: int = 32) -> Example:
    g = torch.Generator().manual_seed(seed + 100)
    lm = build_lm(debug_lm(1))
    return Example(lyrics_bytes("la la la\nsing it now"), rand_codes(n_fine, seed + 1), rand_codes(n_fine, seed + 2),
                   torch.randint(0, 32, (n_semantic(lm, n_fine),), generator=g), torch.randn(256, generator=g))


def conditioning(m, ex: Example):
    if m.cfg.stage == 1:
        text = ex.text[None]
    else:
        text = ex.semantic[None]
    return text, torch.ones_like(text, dtype=torch.bool), m.pattern.compressed(ex.music)


# ---------------------------------------------------------------------- patterns
@pytest.mark.parametrize("layout", ["compressed", "unrolled"])
def test_layouts_round_trip_random_lengths(layout):
    p = Pattern(PatternSpec(), K)
    rng = random.Random(0)
    for i in range(20):
        n = 8 * rng.randint(1, 40)
        codes = rand_codes(n, i)
        x = p.layout(codes, layout)
        assert x.shape == (1, 8, n // 4 if layout == "compressed" else n)
        back = p.from_layout(x, layout)
        assert all(torch.equal(a, b) for a, b in zip(codes, back))
        d = p.delay(x)
        assert torch.equal(p.undelay(d), x)


def test_delayed_alignment_and_fixed_tokens():
    p = Pattern(PatternSpec(), K)
    n = 64
    codes = rand_codes(n, 3)
    for layout in ("compressed", "unrolled"):
        x = p.layout(codes, layout)
        d = p.delay(x)[0]
        steps = x.shape[-1]
        for s, dl in enumerate(p.delays):
            assert torch.equal(d[s, dl:dl + steps], x[0, s])  # D[s, t] = X[s, t - delay]
            assert (d[s, :dl] == p.pad).all() and (d[s, dl + steps:] == p.pad).all()
        assert (d[:, 0] == p.pad).all()  # the start step
        fixed = p.fixed_tokens(layout, steps)
        known = fixed >= 0
        assert torch.equal(fixed[known], d[known])  # BLANK/PAD predicted exactly
        assert (d[~known] < K).all()  # every -1 is a real code
        assert int((~known).sum()) == sum(c.numel() for c in codes)  # each code written once


def test_compressed_and_unrolled_share_one_time_axis():
    p = Pattern(PatternSpec(), K)
    codes = rand_codes(64, 4)
    c, u = p.compressed(codes)[0], p.unrolled(codes)[0]
    pc, pu = p.positions("compressed", 16), p.positions("unrolled", 64)
    for s, st in enumerate(p.streams):
        for i in range(16):
            if c[s, i] != p.blank:
                frame = int(pc[i]) + st.phase
                assert u[s, frame] == c[s, i] and pu[frame] == frame
    # a crop of the unrolled layout keeps absolute positions and the same code grid
    crop = p.unrolled(codes)[..., 24:56]
    assert torch.equal(p.code_mask("unrolled", 32, offset=24), crop[0] != p.blank)
    assert p.positions("unrolled", 32, 24)[0] == 24


# ---------------------------------------------------------------------- model invariants
@pytest.mark.parametrize("stage,layout", [(1, "unrolled"), (2, "unrolled"), (2, "compressed")])
def test_kv_cache_decoding_equals_full_forward(stage, layout):
    m = build_lm(debug_lm(stage), seed=stage).eval()
    ex = example(1, n_fine=64)
    b = make_batch(m, [ex], random.Random(0), TrainConfig(cond_drop=0.0), layout)
    with torch.no_grad():
        mem = m.encode(b.text, b.text_mask, b.music, b.artist, b.music_mask)
        full = m(b.tokens, b.pos, mem)
        m.setup_caches(1, b.tokens.shape[-1] + 3)
        m.prefill_memory(mem)
        outs = [m.step(b.tokens[..., :5], b.pos[:, :5], torch.tensor(0))]  # prefill 5 steps
        for t in range(5, b.tokens.shape[-1]):
            outs.append(m.step(b.tokens[..., t:t + 1], b.pos[:, t:t + 1], torch.tensor(t)))
        m.clear_caches()
    assert (full - torch.cat(outs, 2)).abs().max() < 1e-4


def test_causality():
    m = build_lm(debug_lm(2), seed=0).eval()
    ex = example(2, n_fine=32)
    b = make_batch(m, [ex], random.Random(0), TrainConfig(cond_drop=0.0), "unrolled")
    with torch.no_grad():
        mem = m.encode(b.text, b.text_mask, b.music, b.artist)
        a = m(b.tokens, b.pos, mem)
        tok = b.tokens.clone()
        tok[..., 20:] = torch.randint(0, K, tok[..., 20:].shape)
        c = m(tok, b.pos, mem)
    assert torch.equal(a[..., :20, :], c[..., :20, :])
    assert not torch.allclose(a[..., 20:, :], c[..., 20:, :])


def test_cfg_unconditional_matches_condition_dropout():
    """What training drops to (make_batch, cond_drop=1) is what CFG's second row decodes with."""
    m = build_lm(debug_lm(2), seed=0).eval()
    ex = example(3)
    b = make_batch(m, [ex], random.Random(0), TrainConfig(cond_drop=1.0), "unrolled")
    null, null_mask = m.null_text(1, ex.semantic.numel())
    assert torch.equal(b.text[0, :1], null[0, :1]) and (b.artist == 0).all()
    with torch.no_grad():
        train_uncond = m(b.tokens, b.pos, m.encode(b.text, b.text_mask, b.music, b.artist))
        infer_uncond = m(b.tokens, b.pos, m.encode(null, null_mask, b.music, torch.zeros(1, 256)))
    assert (train_uncond - infer_uncond).abs().max() < 1e-5


# ---------------------------------------------------------------------- sampling and generation
def test_sampling_rules():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 50, generator=g)
    assert torch.equal(sample(logits, GREEDY), logits.argmax(-1))
    assert torch.equal(sample(logits, SamplingParams(top_k=1), torch.Generator().manual_seed(1)), logits.argmax(-1))
    assert torch.equal(sample(logits, SamplingParams(top_p=1e-6), torch.Generator().manual_seed(1)), logits.argmax(-1))
    a = sample(logits, SamplingParams(temperature=1.0), torch.Generator().manual_seed(5))
    b = sample(logits, SamplingParams(temperature=1.0), torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    top3 = logits.topk(3, -1).indices
    for seed in range(10):
        s = sample(logits, SamplingParams(temperature=1.0, top_k=3), torch.Generator().manual_seed(seed))
        assert (top3 == s[:, None]).any(-1).all()
    g2 = torch.Generator().manual_seed(3)
    c, u = torch.randn(4, 9, generator=g2), torch.randn(4, 9, generator=g2)
    # atol: the two sides round differently; values near 0 fail a purely relative check
    assert torch.allclose(cfg_combine(c, u, 1.0), c, atol=1e-6)
    assert torch.allclose(cfg_combine(c, u, 3.0), u + 3 * (c - u), atol=1e-6)


def test_generation_is_seeded_and_cfg_changes_it():
    m = build_lm(debug_lm(2), seed=0)
    gen = Generator(m)
    ex = example(4)
    text, mask, music = conditioning(m, ex)
    fixed, pos = stage2_plan(m, "unrolled", 32)

    def run(seed: int, cfg: float = 1.0) -> torch.Tensor:
        return gen.generate(text, mask, music, fixed, pos, artist=ex.artist[None],
                            params=SamplingParams(temperature=1.0, cfg_scale=cfg), seed=seed)
    a, b, c = run(1), run(1), run(2)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.equal(run(1, cfg=3.0), a)
    known = fixed >= 0
    assert torch.equal(a[known], fixed[known])  # layout tokens kept
    assert (a[~known] < K).all()


# ---------------------------------------------------------------------- codec
def test_streaming_decode_equals_one_shot(codec):
    codes = rand_codes(160, 5)
    whole = codec.decode(codes, seed=3)
    assert np.array_equal(whole, codec.decode(codes, seed=3))  # seeded noise: reproducible
    assert not np.allclose(whole, codec.decode(codes, seed=4))
    for chunk in (8, 24, 40):
        dec, outs = codec.streaming(seed=3), []
        for a in range(0, 160, chunk):
            b = min(160, a + chunk)
            outs.append(dec.push([c[:, a // s:b // s] for c, s in zip(codes, codec.strides)]))
        outs.append(dec.flush())
        y = np.concatenate(outs, 1)
        assert y.shape == whole.shape and np.abs(y - whole).max() < 1e-5
        assert sum(o.shape[1] > 0 for o in outs) > 1  # audio came out before the end


def test_codec_encode_shapes_and_rates(codec):
    for sr in (44100, 48000, 96000):
        x = (0.1 * np.sin(np.linspace(0, 600, sr // 2))).astype(np.float32)[None].repeat(3, 0)  # 3 channels
        codes = codec.encode(x, sr)
        assert [c.shape[-1] * s for c, s in zip(codes, codec.strides)] == [codec.align * 2] * 4  # 0.5 s -> 64 frames


# ---------------------------------------------------------------------- training
def test_tiny_models_overfit_one_example_and_reproduce_it(codec):
    """The training recipe (multiscale + unrolled fine-tune, real instrumental codes from the codec)
    drives a debug model to ~0 loss; greedy generation through the engine gives back the codes."""
    inst = (0.2 * np.sin(2 * np.pi * 110 * np.arange(12288) / SR)).astype(np.float32)[None]
    music = codec.encode(inst, SR)
    ex = example(6)
    ex.music = music
    cfg = TrainConfig(steps=160, finetune_steps=40, batch_size=1, lr=4e-3, warmup=20, cond_drop=0.0)
    s1, s2 = build_lm(debug_lm(1), seed=1), build_lm(debug_lm(2), seed=2)
    l1, l2 = train_lm(s1, [ex], cfg), train_lm(s2, [ex], cfg)
    assert l1[-1] < 0.05 and l2[-1] < 0.05 and l1[0] > 1.0 and l2[0] > 1.0
    model = AutoSing(s1, s2, codec)
    chunks = list(model.stream("la la la\nsing it now", inst, SR, ex.artist.numpy(), seed=0,
                               params=SingParams(GREEDY, GREEDY, "unrolled")))
    info = chunks[-1].info
    assert torch.equal(info["semantic"], ex.semantic)
    assert all(torch.equal(a, b) for a, b in zip(info["codes"], ex.vocal))
    # engine-level streaming equals a one-shot decode of the generated codes
    y = np.concatenate([c.audio for c in chunks], 1)
    assert np.abs(y - codec.decode(info["codes"], seed=0)).max() < 1e-5


def test_multiscale_batches_mix_layouts():
    m = build_lm(debug_lm(2))
    ex = example(7, n_fine=64)
    rng = random.Random(0)
    cfg = TrainConfig(p_compressed=0.75, crop_frames=24, cond_drop=0.0)
    lengths = [make_batch(m, [ex], rng, cfg).tokens.shape[-1] for _ in range(200)]
    n_comp = lengths.count(64 // 4 + 4)
    assert 0.6 < n_comp / 200 < 0.9 and lengths.count(24 + 4) == 200 - n_comp
    b = make_batch(m, [ex, example(8, n_fine=32)], random.Random(1), TrainConfig(p_compressed=0.0, crop_frames=24))
    assert b.tokens.shape[0] == 2 and (b.pos[:, 0] % 8 == 0).all()  # crops start on the c0 grid
    assert cosine_lr(0, 100, 10, 1.0, 0.1) == pytest.approx(0.1) and cosine_lr(99, 100, 10, 1.0, 0.1) < 0.11


def test_artist_embedder_loss_and_embedding():
    cfg = EmbedderConfig(dim=32, n_layers=1, n_heads=2, n_artists=2, codebook_size=K)
    m = build_embedder(cfg)
    exs = [example(9), example(10)]
    exs[1].label = 1
    losses = train_embedder(m, exs, TrainConfig(steps=40, lr=3e-3, warmup=5))
    assert losses[-1] < losses[0]
    with torch.no_grad():
        e = m.embed(exs[0].vocal)
        loss, parts = m.loss(exs[0].vocal, torch.tensor([0]))
    assert e.shape == (1, 256)
    assert float(loss) == pytest.approx(0.3 * parts["class"] + parts["ar"], rel=1e-4)


# ---------------------------------------------------------------------- checkpoints
def test_save_load_round_trip_identical_outputs(tmp_path, codec):
    ex = example(11)
    for stage in (1, 2):
        m = build_lm(debug_lm(stage), seed=stage).eval()
        save_checkpoint(m, m.cfg.to_dict(), tmp_path / f"stage{stage}")
        m2 = load_lm(tmp_path / f"stage{stage}", stage=stage)
        b = make_batch(m, [ex], random.Random(0), TrainConfig(cond_drop=0.0), "compressed")
        with torch.no_grad():
            outs = [mm(b.tokens, b.pos, mm.encode(b.text, b.text_mask, b.music, b.artist)) for mm in (m, m2)]
        assert torch.equal(outs[0], outs[1])
    save_checkpoint(codec.snac, SNAC_DEBUG, tmp_path / "codec")
    c2 = Codec(load_snac(tmp_path / "codec"))
    codes = rand_codes(32, 12)
    assert np.array_equal(codec.decode(codes, 1), c2.decode(codes, 1))
    emb = build_embedder(EmbedderConfig(dim=32, n_layers=1, n_heads=2, codebook_size=K))
    save_checkpoint(emb, emb.cfg.to_dict(), tmp_path / "embedder")
    with torch.no_grad():
        assert torch.equal(emb.embed(ex.vocal), load_embedder(tmp_path / "embedder").embed(ex.vocal))
    # the whole engine folder loads and sings
    model = AutoSing.from_checkpoint(tmp_path, device="cpu")
    y = model.sing("la", np.zeros((1, 8000), np.float32), 16000, None, seed=0)
    assert y.shape == (1, 8000) and y.dtype == np.float32


def test_pickle_checkpoint_is_refused(tmp_path):
    m = build_lm(debug_lm(1))
    d = tmp_path / "stage1"
    d.mkdir()
    (d / "config.json").write_text(json.dumps(m.cfg.to_dict()))
    torch.save(m.state_dict(), d / "pytorch_model.bin")
    with pytest.raises(ModelError, match=r"pytorch_model\.bin is a pickle file.*never unpickles"):
        load_lm(d, stage=1)


def test_bad_checkpoints_name_the_file(tmp_path):
    with pytest.raises(ModelError, match="nowhere"):
        AutoSing.from_checkpoint(tmp_path / "nowhere")
    with pytest.raises(ModelError, match="nowhere"):
        load_lm(tmp_path / "nowhere")
    m = build_lm(debug_lm(2))
    save_checkpoint(m, m.cfg.to_dict(), tmp_path / "s2")
    with pytest.raises(ModelError, match=r"s2/config\.json holds stage 2, but stage 1"):
        load_lm(tmp_path / "s2", stage=1)
    wrong = LMConfig(**{**m.cfg.__dict__, "dim": 64, "n_heads": 2})
    save_checkpoint(m, wrong.to_dict(), tmp_path / "mismatch")
    with pytest.raises(ModelError, match=r"mismatch/model\.safetensors does not match"):
        load_lm(tmp_path / "mismatch", stage=2)
    (tmp_path / "nocfg").mkdir()
    with pytest.raises(ModelError, match=r"nocfg/config\.json is missing"):
        load_lm(tmp_path / "nocfg")
    emb = build_embedder(EmbedderConfig(dim=32, n_layers=1, n_heads=2, codebook_size=K))
    save_checkpoint(emb, emb.cfg.to_dict(), tmp_path / "emb")
    with pytest.raises(ModelError, match=r"emb/config\.json is not an AutoSing stage"):
        load_lm(tmp_path / "emb", stage=1)


# ---------------------------------------------------------------------- engine adapter
@pytest.fixture(scope="module")
def debug_model() -> AutoSing:
    return AutoSing.debug(seed=0)


def _score() -> Score:
    tm = TempoMap.constant(120)
    return Score((Note(0, 1, 60, "la", line=0), Note(2, 1, 62, "sing", line=1)), tm, ("la la", "sing it"))


def test_direct_api_lengths_rates_and_channels(debug_model):
    for sr, ch in ((44100, 1), (48000, 2), (96000, 3)):
        inst = np.zeros((ch, sr // 2 + 17), np.float32)
        y = debug_model.sing("la la", inst, sr, np.ones(256, np.float32), seed=1)
        assert y.shape == (1, inst.shape[1]) and y.dtype == np.float32 and np.isfinite(y).all()
    with pytest.raises(InputError, match="empty"):
        debug_model.sing("la", np.zeros((1, 0), np.float32), 48000)
    with pytest.raises(InputError, match="256"):
        debug_model.sing("la", np.zeros((1, 4800), np.float32), 48000, np.ones(10, np.float32))


def test_long_instrumental_is_split_into_windows(debug_model):
    m = AutoSing(debug_model.stage1, debug_model.stage2, debug_model.codec)
    m.max_frames = 64
    assert m.windows(160) == [(0, 64), (64, 128), (128, 160)]
    chunks = list(m.stream("one\ntwo\nthree", np.zeros((1, 160 * 384), np.float32), SR, seed=0))
    assert {c.window for c in chunks} == {0, 1, 2}
    starts = [c.start for c in chunks if c.audio.shape[1]]
    assert starts == sorted(starts) and sum(c.audio.shape[1] for c in chunks) == 160 * 384


def test_engine_render_places_windows_and_needs_instrumental(debug_model, tmp_path):
    from host_bridge.core.artists import get_artist

    eng = AutoSingEngine(model=debug_model)
    inst = np.zeros((2, 48000), np.float32)
    phs = list(eng.render(_score(), get_artist("alpha"), seed=0, instrumental=inst,
                          instrumental_sample_rate=48000, instrumental_start_s=2.0))
    assert len(phs) == 1 and phs[0].start_s == 2.0 and phs[0].sample_rate == eng.sample_rate
    assert phs[0].audio.dtype == np.float32 and phs[0].audio.shape[0] == 1
    assert phs[0].info["artist_embedding"] == "none" and "codes" not in phs[0].info
    with pytest.raises(InputError, match="instrumental"):
        list(eng.render(_score(), get_artist("alpha")))
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(CancelledError):
        list(eng.render(_score(), get_artist("alpha"), instrumental=inst, instrumental_sample_rate=48000,
                        cancel=cancel))
    # an artist preset may carry its AutoSing embedding
    preset = json.loads((Path(get_artist("alpha").source)).read_text())
    preset.update(name="auto", engine="autosing", autosing_embedding=[0.5] * 256)
    (tmp_path / "auto.json").write_text(json.dumps(preset))
    art = get_artist("auto", [tmp_path])
    phs = list(eng.render(_score(), art, instrumental=inst, instrumental_sample_rate=48000))
    assert phs[0].info["artist_embedding"] == "preset"
    preset["autosing_embedding"] = [0.5] * 3
    (tmp_path / "auto.json").write_text(json.dumps(preset))
    with pytest.raises(InputError, match="3 values"):
        list(eng.render(_score(), get_artist("auto", [tmp_path]), instrumental=inst, instrumental_sample_rate=48000))


def test_estimated_notes_from_a_sung_tone():
    from inference.engines.autosing.transcribe import estimate_notes

    t = np.arange(SR) / SR
    tone = (0.3 * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32)[None]
    notes = estimate_notes(tone, SR, TempoMap.constant(120), start_s=1.0)
    assert notes and all(n.pitch == 57 for n in notes)
    assert notes[0].onset == pytest.approx(2.0, abs=0.1)  # 1 s at 120 bpm = 2 qn


def test_train_entry_point_writes_a_loadable_checkpoint(tmp_path):
    import soundfile as sf

    from inference.engines.autosing.train import main

    d = tmp_path / "data" / "song1"
    d.mkdir(parents=True)
    t = np.arange(16000) / 16000
    sf.write(d / "vocal.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)
    sf.write(d / "instrumental.wav", (0.3 * np.sin(2 * np.pi * 110 * t)).astype(np.float32), 16000)
    (d / "lyrics.txt").write_text("[Verse]\nla la la\n")
    assert main([str(tmp_path / "data"), str(tmp_path / "ckpt"), "--debug-codec", "--size", "debug",
                 "--steps", "2", "--finetune-steps", "1", "--batch-size", "1", "--device", "cpu"]) == 0
    for sub in ("stage1", "stage2", "codec", "embedder", "semantic"):
        assert (tmp_path / "ckpt" / sub / "model.safetensors").is_file()
    artists = json.loads((tmp_path / "ckpt" / "artists.json").read_text())
    model = AutoSing.from_checkpoint(tmp_path / "ckpt", device="cpu")
    y = model.sing("la la la", np.zeros((1, 16000), np.float32), 16000, np.asarray(artists["artist"], np.float32))
    assert y.shape == (1, 16000)


def test_bf16_model_keeps_float32_rotary_and_generates():
    m = build_lm(debug_lm(2), seed=0).to(torch.bfloat16)
    assert all(layer.self_attn.inv_freq.dtype == torch.float32 for layer in m.layers)
    ex = example(13)
    text, mask, music = conditioning(m, ex)
    fixed, pos = stage2_plan(m, "compressed", 32)
    seq = Generator(m).generate(text, mask, music, fixed, pos, artist=ex.artist[None], params=GREEDY)
    assert (seq[fixed < 0] < K).all()


def test_lyrics_only_score_is_split_over_windows(debug_model):
    """AutoSing needs no melody: a Score holding only lyric lines renders."""
    from host_bridge.core.artists import get_artist

    m = AutoSing(debug_model.stage1, debug_model.stage2, debug_model.codec)
    m.max_frames = 64
    eng = AutoSingEngine(model=m)
    score = Score((), TempoMap.constant(100), ("one", "two", "three", "four"))
    phs = list(eng.render(score, get_artist("alpha"), instrumental=np.zeros((1, 128 * 384), np.float32),
                          instrumental_sample_rate=SR))
    assert [p.info["window"] for p in phs] == [0, 1]
    assert [p.start_s for p in phs] == [0.0, pytest.approx(64 / m.codec.frame_rate)]


def test_rendered_windows_make_a_stem_on_the_session_grid(debug_model):
    from inference.produce import Producer
    from host_bridge.core.artists import get_artist

    artist = get_artist("alpha")
    sr, start, n = 48000, 96000, 60000
    inst = (0.1 * np.random.default_rng(0).standard_normal((2, n))).astype(np.float32)
    producer = Producer(sr, n, start, 2, artist)
    for ph in AutoSingEngine(model=debug_model).render(_score(), artist, instrumental=inst, instrumental_sample_rate=sr,
                                                       instrumental_start_s=start / sr):
        producer.add(ph)
    stem = producer.finish()
    assert stem.shape == (2, n) and producer.dropped_s < 0.6  # SNAC padding past the end is trimmed
    assert np.abs(stem[:, :2400]).max() > 0  # placed at the instrumental's start


@pytest.mark.slow
def test_compiled_decode_step_equals_eager():
    m = build_lm(debug_lm(2), seed=0)
    ex = example(14)
    text, mask, music = conditioning(m, ex)
    fixed, pos = stage2_plan(m, "unrolled", 32)
    args = (text, mask, music, fixed, pos)
    eager = Generator(m).generate(*args, artist=ex.artist[None], params=GREEDY)
    compiled = Generator(m, compile=True).generate(*args, artist=ex.artist[None], params=GREEDY)
    assert torch.equal(eager, compiled)


def test_engine_warm_up_runs(debug_model):
    eng = AutoSingEngine(model=debug_model)
    eng.warm_up()
    assert eng.sample_rate == 32000 and eng.name == "autosing"


@pytest.mark.slow
def test_streaming_decode_equals_one_shot_on_the_real_32khz_shape():
    """The context rule (2 attention windows either side) holds for SNAC 32 kHz's real decoder
    (random weights: the receptive field is a property of the architecture)."""
    from inference.engines.autosing.config import SNAC_32KHZ

    c = Codec(build_snac(SNAC_32KHZ, seed=0))
    assert (c.sample_rate, c.hop, c.align, c.context) == (32000, 384, 32, 64)
    codes = rand_codes(128, 15, k=4096)
    whole = c.decode(codes, seed=2)
    dec, outs = c.streaming(seed=2), []
    for a in range(0, 128, 32):
        outs.append(dec.push([x[:, a // s:(a + 32) // s] for x, s in zip(codes, c.strides)]))
    outs.append(dec.flush())
    assert [o.shape[1] // 384 for o in outs] == [0, 0, 32, 32, 64]
    assert np.abs(np.concatenate(outs, 1) - whole).max() < 1e-4
