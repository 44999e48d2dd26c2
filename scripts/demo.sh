#!/usr/bin/env bash
# The whole job on a fresh machine: install, then `fakescan demo` — real sample faces, a synthetic
# FF++-style data set, face crops, training, a held-out test and explained predictions, written up
# in runs/demo/report.md. Extra arguments go to `fakescan demo` (e.g. --quick for a one-minute run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/fakescan demo --out runs/demo "$@"
