#!/usr/bin/env bash
# The whole test suite: lint, then pytest (servers are started by the tests on 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/ruff check .
exec .venv/bin/python -m pytest -q "$@"
