#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs the demo until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/gridwatch demo "$@"
