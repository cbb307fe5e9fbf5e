"""What the code does differently inside a standalone build (sys.frozen), checked without building:
the sidecar command, the shipped Kokoro models, the version line, the AutoSing refusal."""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from host_bridge.core import frozen
from host_bridge.core.errors import ModelError, UnknownArtistError
from host_bridge.supervisor import sidecar_command


@pytest.fixture
def bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Pretend to run as <tmp>/topline with its _internal/ beside it."""
    internal = tmp_path / "_internal"
    internal.mkdir()
    (internal / "topline_build.json").write_text('{"commit": "0123456789abcdef0123", "dirty": false, '
                                                 '"built": "2026-11-23T01:00Z"}')
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(internal), raising=False)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "topline"))
    frozen.build_info.cache_clear()
    yield internal
    frozen.build_info.cache_clear()


def test_a_python_install_is_not_frozen() -> None:
    assert not frozen.is_frozen() and frozen.bundle_dir() is None
    assert sidecar_command(["--threads", "1"])[:3] == [sys.executable, "-m", "inference.server"]
    assert frozen.version_line().startswith("topline ") and "(protocol 1" in frozen.version_line()


def test_frozen_bridge_starts_the_bundled_sidecar_and_reports_its_build(bundle: Path) -> None:
    assert sidecar_command(["--threads", "1"]) == [str(bundle.parent / "topline-sidecar"), "--threads", "1"]
    info = frozen.build_info()
    assert info["frozen"] is True and info["protocol"] == 1 and info["commit"].startswith("0123")
    assert frozen.version_line() == f"topline {info['version']} (protocol 1, build 0123456789ab 2026-11-23T01:00Z)"


def test_frozen_sidecar_uses_the_shipped_kokoro_models_and_never_rebuilds_them(bundle: Path) -> None:
    from inference.engines.kokoro import model as km

    with pytest.raises(ModelError, match="shipped .* missing or damaged") as e:
        km.ensure_models()
    assert "unpack the Topline release again" in e.value.hint
    shipped = bundle / "models" / "kokoro"
    shipped.mkdir(parents=True)
    key = km.expected_sha256()[:16]
    for part in ("front", "decoder", "phase", "probe"):
        f = shipped / f"kokoro-{key}-v{km.EDIT_VERSION}-{part}.onnx"
        f.write_bytes(part.encode())
        f.with_name(f.name + ".sha256").write_text(hashlib.sha256(part.encode()).hexdigest() + "\n")
    files = km.ensure_models()
    assert all(f.parent == shipped for f in files.all)


def test_frozen_sidecar_says_autosing_needs_the_python_install(bundle: Path) -> None:
    from inference.pipeline import Pipeline

    with pytest.raises(UnknownArtistError, match="not in the standalone topline-sidecar") as e:
        Pipeline().engine("autosing")
    assert "pip install 'topline[sidecar,autosing]'" in e.value.hint
