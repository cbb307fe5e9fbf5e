#!/usr/bin/env bash
# Set up Topline and sing the bundled demo song into demo_take.wav (+ demo_take.mid).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/topline generate --instrumental demo/instrumental.ogg --lyrics demo/lyrics.txt \
  --melody demo/melody.mid --out demo_take.wav
