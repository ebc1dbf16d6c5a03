#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs every check CI runs: ruff, mypy, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
echo "== ruff"; .venv/bin/ruff check . && .venv/bin/ruff format --check .
echo "== mypy"; .venv/bin/mypy .
echo "== pytest"; .venv/bin/pytest -q "$@"
