#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs every check CI runs: ruff, mypy, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"; .venv/bin/mypy .
echo "== import layers (pyproject.toml [tool.importlinter])"; .venv/bin/lint-imports
echo "== pytest"
if [ $# -eq 0 ]; then
  # The whole suite, with the coverage floor (pyproject.toml [tool.coverage]).
  .venv/bin/pytest -q --cov --cov-report=term
else
  .venv/bin/pytest -q "$@"
fi
