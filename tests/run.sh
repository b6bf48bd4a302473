#!/usr/bin/env bash
# Installs everything pycompose needs (tests/setup.sh) and runs the whole test suite:
# lint, type check, unit tests, then the root integration and end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup.sh

.venv/bin/ruff check compose engine schema tests bench
.venv/bin/mypy
.venv/bin/python -m pytest -p no:cacheprovider "$@"
