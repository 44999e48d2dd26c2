#!/usr/bin/env bash
# The main job on a fresh machine: install, fetch the real sample media, extract face crops.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
samples=$(.venv/bin/fakescan samples fetch)
.venv/bin/fakescan extract "$samples" --out runs/demo/crops "$@"
echo "crops and manifest in runs/demo/crops (open runs/demo/crops/manifest.csv)"
