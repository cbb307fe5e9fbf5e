#!/usr/bin/env bash
# Set up everything (system packages, .venv, models, meters) and run the test suite + type check.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
echo "[test] mypy host_bridge inference presets"
.venv/bin/python -m mypy --no-error-summary host_bridge inference presets
echo "[test] pytest"
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
