"""``synthos validate``: check the inputs, run the pipeline locally, read its summary.

The pipeline runs through kfp.local (imported only when a validation runs, so the library
itself stays free of kfp); nothing here runs a stage by another path.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from synthos.defaults import ROW_GROUPS_PER_SHARD, SAMPLE_ROWS
from synthos.errors import SynthosInputError
from synthos.io.align import align_schemas
from synthos.io.atomic import read_json
from synthos.io.profile import Metadata, inspect
from synthos.io.uri import resolve, store_errors
from synthos.tracking.mlflow_run import default_tracking_uri


def preflight(synthetic: str, reference: str, target: str, out: str) -> dict[str, Metadata]:
    """Fail fast, before any stage starts, on input a stage would reject.

    Reads each input's footer or first rows only; a problem deeper in a file is still caught
    by the load stage, whose message is then reported the same way.
    """
    metas = {"synthetic": inspect(synthetic), "reference": inspect(reference)}
    docs = {role: {"uri": m.uri, "columns": [c.to_dict() for c in m.columns]}
            for role, m in metas.items()}
    align_schemas(docs["synthetic"], docs["reference"], target or None)
    _check_output(out)
    return metas


def _check_output(out: str) -> None:
    loc = resolve(out)
    if loc.is_local:
        if os.path.exists(loc.path) and not os.path.isdir(loc.path):
            raise SynthosInputError(out, "output location exists and is not a folder")
        parent = loc.path
        while not os.path.exists(parent):
            parent = os.path.dirname(parent)
        if not os.access(parent, os.W_OK):
            raise SynthosInputError(out, "output folder is not writable")
        return
    with store_errors(loc, "write"):
        if not loc.filesystem().exists(loc.bucket):
            raise SynthosInputError(out, f"bucket '{loc.bucket}' does not exist")


def validate(synthetic: str, reference: str, *, target: str = "", out: str = "synthos-out",
             profile: str = "quick", sample_rows: int = SAMPLE_ROWS, seed: int = 0,
             experiment: str = "synthos-validation", tracking_uri: str | None = None,
             work_dir: str | None = None,
             row_groups_per_shard: int = ROW_GROUPS_PER_SHARD,
             library: str = "", on_event: Callable[[Any], None] | None = None) -> dict | None:
    """Validate ``synthetic`` against ``reference``; outputs go to ``out``.

    Parameters
    ----------
    synthetic, reference : str
        Paths or URIs of the two datasets.
    target : str
        Column a model would predict; empty for none.
    out : str
        Output folder (path, ``s3://`` or ``gs://``): ``summary.json``, ``report.html`` and
        the stage outputs land there.
    profile : {"quick", "full"}
        ``quick`` runs every stage but the cascade and NeuroGraph.
    sample_rows : int
        Rows in each input's uniform sample.
    seed : int
        Seed of the samples.
    experiment : str
        MLflow experiment name.
    tracking_uri : str, optional
        MLflow tracking URI; ``MLFLOW_TRACKING_URI`` or the local SQLite store by default.
    work_dir : str, optional
        Keep KFP's local pipeline root here.
    row_groups_per_shard : int, default :data:`~synthos.defaults.ROW_GROUPS_PER_SHARD`
        The diversity pass fans out over shards of about this many row groups when a Parquet
        input has more; 0 never fans out.
    library : str
        The pre-screen's signature library (path, ``s3://`` or ``gs://``); empty for
        ``$SYNTHOS_HOME/signatures``, created from the packaged seed on first use. A ``full``
        validation adds its signature and verdict to it.
    on_event : callable, optional
        Receives a progress event as each stage starts and ends.

    Returns
    -------
    dict or None
        The summary; None when a stage failed for a reason other than bad input (the log is
        printed to stderr).

    Raises
    ------
    SynthosInputError
        Bad input, before or during the run.
    """
    from synthos_pipelines.local import PipelineFailed, run_validation

    metas = preflight(synthetic, reference, target, out)
    tracking_uri = tracking_uri or default_tracking_uri()
    params = {"synthetic_uri": synthetic, "reference_uri": reference, "target": target,
              "out": out, "profile": profile, "sample_rows": sample_rows, "seed": seed}
    for role, meta in metas.items():
        params[f"{role}.bytes"] = meta.bytes
        params[f"{role}.columns"] = len(meta.columns)
        params[f"{role}.format"] = meta.format
    arguments = {"synthetic_uri": synthetic, "reference_uri": reference, "target": target,
                 "out_uri": out, "profile": profile, "sample_rows": sample_rows, "seed": seed,
                 "tracking_uri": tracking_uri, "experiment": experiment,
                 "run_name": f"{resolve(synthetic).name} vs {resolve(reference).name}",
                 "params_json": _json(params), "row_groups_per_shard": row_groups_per_shard,
                 "library_uri": library}
    try:
        run_validation(arguments, on_event or (lambda ev: None), work_dir)
    except PipelineFailed as err:
        print(err.log[-20000:], file=sys.stderr)
        print(f"synthos: pipeline failed: {err}", file=sys.stderr)
        return None
    return read_json(resolve(out).child("summary.json").uri)


def _json(doc: dict) -> str:
    import json

    return json.dumps(doc, sort_keys=True)
