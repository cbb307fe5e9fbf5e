#!/usr/bin/env bash
# Build the Topline VST3 and the Standalone app (same processor and editor) into build/vst3 (repo
# root), reusing the build folder so a second run only recompiles changed sources. Prints the path
# of the .vst3 bundle on the last line; the app is build/vst3/Topline_artefacts/Release/Standalone/Topline.
#   bash daw_plugin/vst3/build.sh            # Release
#   JOBS=1 bash daw_plugin/vst3/build.sh     # fewer parallel compilers (default 2)
#   WIRE_TEST=1 bash daw_plugin/vst3/build.sh  # also the wire's golden-vector test program,
#                                              # build/vst3/ToplineWireVectors (tests/test_vst3_wire_vectors.py)
# Needs: cmake, g++, pkg-config, juce-modules-source, libzmq3-dev, cppzmq-dev
# (scripts/setup.sh --dev installs them).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BUILD="${TOPLINE_VST3_BUILD:-$ROOT/build/vst3}"
JOBS="${JOBS:-2}"
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  nice -n 10 cmake -S "$HERE" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >&2
fi
nice -n 10 cmake --build "$BUILD" -j"$JOBS" >&2
if [ -n "${WIRE_TEST:-}" ]; then
  nice -n 10 cmake --build "$BUILD" -j"$JOBS" --target ToplineWireVectors >&2
fi
BUNDLE="$BUILD/Topline_artefacts/Release/VST3/Topline.vst3"
[ -d "$BUNDLE" ] || { echo "build finished but $BUNDLE is missing" >&2; exit 1; }
APP="$BUILD/Topline_artefacts/Release/Standalone/Topline"
[ -x "$APP" ] || { echo "build finished but the Standalone app $APP is missing" >&2; exit 1; }
echo "$BUNDLE"
