#!/usr/bin/env bash
# Create (or update) the virtual environment .venv with fakescan installed in editable mode.
#   bash scripts/install.sh          the tool
#   bash scripts/install.sh dev      the tool plus the test and lint tools
# torch is pinned by constraints.txt to the CPU build; a GPU user installs their own torch first
# (see README.md) and sets FAKESCAN_CONSTRAINTS=/dev/null.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
constraints=${FAKESCAN_CONSTRAINTS:-constraints.txt}
extras=${1:+[$1]}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -c "$constraints" -e ".$extras"
if .venv/bin/python -m pip list 2>/dev/null | grep -qi '^nvidia-'; then
    echo "install.sh: CUDA packages (nvidia-*) were pulled into .venv; check $constraints" >&2
    exit 1
fi
