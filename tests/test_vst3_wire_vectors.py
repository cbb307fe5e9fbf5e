"""The C++ side of the shared golden vectors: the VST3's wire code (daw_plugin/vst3/Source/Wire.cpp)
reads tests/golden/protocol_vectors.json, decodes every vector's frames to the stated meaning,
encodes that meaning back to the Python encoder's frames byte for byte (canonical JSON header),
refuses every invalid message with the Python side's error code, and runs the same message type
lists and heartbeat (daw_plugin/vst3/Tests/WireVectors.cpp). Built into build/vst3 with the plugin
(one extra file, linked against the plugin's compiled JUCE); skipped like the other VST3 tests when
the toolchain or JUCE is missing."""
from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from golden import protocol_vectors as G
from test_vst3 import BUILD_SH, ROOT, _missing_tools

from host_bridge.core import protocol as P

DOC: dict[str, Any] = json.loads(G.PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def wire_test() -> Path:
    why = _missing_tools()
    if why is not None:
        pytest.skip(why)
    r = subprocess.run(["bash", str(BUILD_SH)], capture_output=True, text=True, timeout=3600,
                       env={**os.environ, "WIRE_TEST": "1"})
    assert r.returncode == 0, f"build failed:\n{r.stderr[-4000:]}"
    exe = Path(os.environ.get("TOPLINE_VST3_BUILD", ROOT / "build" / "vst3")) / "ToplineWireVectors"
    assert exe.is_file(), f"the build did not make {exe}"
    return exe


def _run(exe: Path, doc: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "vectors.json"
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False), encoding="utf-8")
    return subprocess.run([str(exe), str(path)], capture_output=True, text=True, timeout=60)


def _vector(name: str, msg: P.Message) -> dict[str, Any]:
    frames = P.encode(msg)
    return {"name": name, "frames": [bytes(f).hex() for f in frames], "message": G.meaning(P.decode(frames))}


def test_the_vst3_wire_decodes_and_encodes_every_golden_vector_and_refuses_the_invalid(wire_test: Path) -> None:
    r = subprocess.run([str(wire_test), str(G.PATH)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{len(DOC['vectors'])} vectors, {len(DOC['invalid'])} invalid messages, 0 failures" in r.stdout


def test_the_vst3_header_encoder_writes_every_float_as_python_repr(wire_test: Path, tmp_path: Path) -> None:
    """Doubles over the whole range (each binade, subnormals, the repr switch points 1e-4 / 1e16),
    written by the C++ encoder byte for byte as json.dumps writes them."""
    rng = np.random.default_rng(18)
    bits = rng.integers(0, 2 ** 63 - 1, 3000, dtype=np.int64)
    floats = [float(x) for x in bits.view(np.float64) if np.isfinite(x)]
    floats += [float(x) for x in rng.standard_normal(500) * 10.0 ** rng.integers(-8, 20, 500)]
    floats += [1e16, 9999999999999998.0, 1e-4, 0.0001234, 9.999999999999999e-05, 5e-324, 1.7976931348623157e308,
               -0.0, 0.1 + 0.2, 1e22, 2.0 ** 63, 100.0, 1e15 + 0.5]
    doc = {**DOC, "vectors": [_vector("floats", P.Message("hello", id="0" * 32, body={"f": floats}))], "invalid": []}
    r = _run(wire_test, doc, tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert "1 vectors, 0 invalid messages, 0 failures" in r.stdout


def test_a_vector_that_differs_by_one_byte_is_reported(wire_test: Path, tmp_path: Path) -> None:
    """The check can fail: a header frame with a space added, a buffer value changed, an invalid
    message answered with another code, a heartbeat the plugin does not run (the changed value is reported twice: spec and frame)."""
    doc = copy.deepcopy(DOC)
    ping = next(v for v in doc["vectors"] if v["name"] == "ping")
    ping["frames"][0] = ping["frames"][0].replace(bytes(b'":').hex(), bytes(b'": ').hex(), 1)
    chunk = next(v for v in doc["vectors"] if v["name"] == "chunk")
    chunk["message"]["buffers"][0]["values"][1] = 0.25
    doc["invalid"][0]["code"] = "unknown_type"
    doc["heartbeat"]["dead_after_s"] = 6.0
    r = _run(wire_test, doc, tmp_path)
    assert r.returncode == 1
    assert "5 failures" in r.stdout and "FAIL ping: encodeHeader wrote" in r.stdout, r.stdout
    assert "FAIL chunk: buffer audio: content differs" in r.stdout and "FAIL heartbeat" in r.stdout
    assert f"FAIL invalid {doc['invalid'][0]['name']}: refused as bad_message" in r.stdout
