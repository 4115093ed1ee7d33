"""Test isolation: MLflow and synthos state go to a temporary home, never ~/.synthos."""

from __future__ import annotations

import os

import pytest

# Before anything imports mlflow: it starts a telemetry client at import time.
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DO_NOT_TRACK"] = "true"


@pytest.fixture(autouse=True, scope="session")
def _isolated_home(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("synthos-home")
    saved = {
        k: os.environ.get(k)
        for k in ("SYNTHOS_HOME", "MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID")
    }
    os.environ["SYNTHOS_HOME"] = str(home)
    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID"):
        os.environ.pop(key, None)
    yield home
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
