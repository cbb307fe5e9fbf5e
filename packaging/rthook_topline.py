"""PyInstaller runtime hook: point phonemizer at the espeak-ng library and data inside the bundle,
and keep the bundle's libraries away from the programs we start.

Runs before any project code in both programs. The paths match packaging/spec_data.py
(BUNDLE_ESPEAK_LIBRARY, BUNDLE_ESPEAK_DATA); phonemizer reads these two variables, and a
sidecar started from here inherits them.

The bootloader prepends the bundle to LD_LIBRARY_PATH (this process has already loaded with
it); a program started from here (ardour7-lua, a shell) must find its own libraries, not our
libreadline or libstdc++, so the variable goes back to what the user had. A bundled
topline-sidecar sets it again for itself.
"""
import glob
import os
import sys

_base = getattr(sys, "_MEIPASS", os.path.dirname(sys.executable))
_libs = sorted(glob.glob(os.path.join(_base, "espeak", "libespeak-ng.so*")))
if _libs:
    os.environ["PHONEMIZER_ESPEAK_LIBRARY"] = _libs[0]
_data = os.path.join(_base, "espeak", "espeak-ng-data")
if os.path.isdir(_data):
    os.environ["PHONEMIZER_ESPEAK_DATA_PATH"] = _data

if "LD_LIBRARY_PATH_ORIG" in os.environ:
    os.environ["LD_LIBRARY_PATH"] = os.environ.pop("LD_LIBRARY_PATH_ORIG")
else:
    os.environ.pop("LD_LIBRARY_PATH", None)
