#!/usr/bin/env bash
# The demo: build a real/synthetic pair from scikit-learn's bundled breast-cancer data and run
# `synthos validate` on it with the embedded defaults (KFP local runner, MLflow in
# ~/.synthos/mlflow.db, outputs in ./synthos-demo).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/synthos demo --out "${1:-synthos-demo}"
