"""One MLflow run per validation: created first, every stage logs into it, the report ends it.

Where runs go
-------------
``MLFLOW_TRACKING_URI`` when set (a KFP backend from 2.17 may inject it, with
``MLFLOW_RUN_ID`` and ``MLFLOW_EXPERIMENT_ID``); otherwise a SQLite file at
``$SYNTHOS_HOME/mlflow.db`` (``SYNTHOS_HOME`` defaults to ``~/.synthos``) with artifacts under
``$SYNTHOS_HOME/mlartifacts``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

DEFAULT_EXPERIMENT = "synthos-validation"


def synthos_home() -> Path:
    return Path(os.environ.get("SYNTHOS_HOME") or Path.home() / ".synthos")


def default_tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI``, else the local SQLite store under :func:`synthos_home`."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{synthos_home() / 'mlflow.db'}"


def _client(tracking_uri: str) -> Any:
    # mlflow reports usage to its vendor unless told not to; a data-validation tool must not
    # send anything off the machine by default. Users can still opt in by setting it false.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    # Imported here: mlflow takes seconds to import, and most library users never track.
    from mlflow import MlflowClient

    tracking_uri = tracking_uri or default_tracking_uri()
    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri=tracking_uri)


def start_run(tracking_uri: str, experiment: str, run_name: str, params: dict[str, Any],
              tags: dict[str, str] | None = None) -> str:
    """Create the validation's run (or adopt ``MLFLOW_RUN_ID``) and log its params.

    Returns
    -------
    str
        The run id every later stage logs to.
    """
    client = _client(tracking_uri)
    run_id = os.environ.get("MLFLOW_RUN_ID")
    if not run_id:
        exp = client.get_experiment_by_name(experiment)
        if exp is None:
            location = None
            if tracking_uri.startswith("sqlite:///"):
                # Beside the database, not in whatever folder the command ran from.
                location = (synthos_home() / "mlartifacts").as_uri()
            exp_id = client.create_experiment(experiment, artifact_location=location)
        else:
            exp_id = exp.experiment_id
        run_id = client.create_run(exp_id, run_name=run_name, tags=tags or {}).info.run_id
    from mlflow.entities import Param

    client.log_batch(run_id, params=[Param(k, _param(v)) for k, v in sorted(params.items())])
    return run_id


def log_metrics(tracking_uri: str, run_id: str, metrics: dict[str, float]) -> None:
    """Log ``metrics`` (name -> number) to the run; non-finite values are skipped."""
    import time

    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    rows = [Metric(k, float(v), now, 0) for k, v in sorted(metrics.items())
            if v is not None and float(v) == float(v) and abs(float(v)) != float("inf")]
    if rows:
        _client(tracking_uri).log_batch(run_id, metrics=rows)


def log_artifact(tracking_uri: str, run_id: str, path: str) -> None:
    _client(tracking_uri).log_artifact(run_id, path)


def end_run(tracking_uri: str, run_id: str, status: str = "FINISHED") -> None:
    """Close the run; a run still open when the pipeline exits is marked FAILED."""
    client = _client(tracking_uri)
    if client.get_run(run_id).info.status == "RUNNING":
        client.set_terminated(run_id, status=status)


def run_status(tracking_uri: str, run_id: str) -> str:
    return _client(tracking_uri).get_run(run_id).info.status


#: Tag holding the KFP pipeline job that a run belongs to; the exit handler finds runs by it.
JOB_TAG = "synthos.kfp_job_id"


def find_job_run(tracking_uri: str, experiment: str, job_id: str) -> str | None:
    """The id of the run tagged with KFP job ``job_id`` (or ``MLFLOW_RUN_ID``), if any."""
    if os.environ.get("MLFLOW_RUN_ID"):
        return os.environ["MLFLOW_RUN_ID"]
    client = _client(tracking_uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None or not job_id:
        return None
    runs = client.search_runs([exp.experiment_id],
                              filter_string=f"tags.`{JOB_TAG}` = '{job_id}'", max_results=1)
    return runs[0].info.run_id if runs else None


def _param(value: Any) -> str:
    text = str(value)
    # MLflow caps param values at 6000 characters.
    return text if len(text) <= 6000 else text[:5997] + "..."
