#!/usr/bin/env bash
# Install with the test tools and run the whole suite (slow end-to-end tests included) and the linter.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh dev
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
.venv/bin/python -m pytest "$@"
