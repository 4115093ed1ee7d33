"""What each pipeline stage does, as one call with plain paths in and numbers out.

A KFP component reads its inputs, calls one function here, and writes what it returns as
its ``Metrics``; so every stage can be run and tested without KFP.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from typing import Any, TypeVar

from synthos.errors import SynthosInputError, record_input_error
from synthos.io.align import align_schemas
from synthos.io.atomic import read_json, write_bytes, write_json, write_parquet
from synthos.io.normalize import normalize_table
from synthos.io.profile import profile
from synthos.io.uri import resolve, store_errors
from synthos.report.html import render_report
from synthos.report.summary import build_summary
from synthos.tracking import mlflow_run

F = TypeVar("F", bound=Callable[..., Any])

#: Names of the files a validation leaves in its output folder.
OUTPUT_FILES = {
    "synthetic_sample": "synthetic.parquet",
    "reference_sample": "reference.parquet",
    "synthetic_schema": "synthetic.schema.json",
    "reference_schema": "reference.schema.json",
    "alignment": "alignment.json",
    "collapse": "collapse.json",
    "diversity": "diversity.json",
    "prescreen": "prescreen.json",
    "localization_table": "localization.parquet",
    "localization": "localization.json",
    "recommendations": "recommendations.json",
    "report": "report.html",
    "summary": "summary.json",
}


def stage(func: F) -> F:
    """Record input errors where the launcher can find them, then fail the stage."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SynthosInputError as err:
            record_input_error(err)
            raise

    return wrapper  # type: ignore[return-value]


@stage
def start(tracking_uri: str, experiment: str, run_name: str, params: dict[str, Any],
          job_id: str = "") -> str:
    """Open the validation's MLflow run, tagged with the KFP job; returns its id."""
    tags = {"synthos.stage": "validation", mlflow_run.JOB_TAG: job_id}
    return mlflow_run.start_run(tracking_uri, experiment, run_name, params, tags=tags)


@stage
def load(uri: str, role: str, sample_rows: int, seed: int, dataset_path: str,
         schema_path: str, tracking_uri: str = "", run_id: str = "") -> dict[str, float]:
    """Profile ``uri`` in one pass; write its normalized sample (Parquet) and schema (JSON).

    Returns the stage's metrics: rows, columns, bytes, sampled rows, seconds.
    """
    prof = profile(uri, sample_rows=sample_rows, seed=seed)
    sample = normalize_table(prof.sample, prof.columns)
    doc = prof.schema_document()
    doc["role"] = role
    write_parquet(dataset_path, sample)
    write_json(schema_path, doc)
    metrics = {"rows": prof.rows, "columns": len(prof.columns), "bytes": prof.bytes,
               "sample_rows": sample.num_rows, "seconds": prof.seconds,
               "missing_rate_max": max((c.missing_rate for c in prof.columns), default=0.0)}
    _track(f"load.{role}", metrics, tracking_uri, run_id)
    return metrics


@stage
def align(synthetic_schema_path: str, reference_schema_path: str, target: str,
          alignment_path: str, tracking_uri: str = "", run_id: str = "") -> dict[str, float]:
    """Align the synthetic schema to the reference and validate the target column."""
    started = time.perf_counter()
    alignment = align_schemas(read_json(synthetic_schema_path), read_json(reference_schema_path),
                              target or None)
    doc = alignment.to_dict()
    metrics = {"common_columns": len(alignment.common), "missing_columns": len(alignment.missing),
               "extra_columns": len(alignment.extra),
               "mismatched_columns": len(alignment.mismatched),
               "seconds": time.perf_counter() - started}
    doc["seconds"] = metrics["seconds"]
    write_json(alignment_path, doc)
    _track("align", metrics, tracking_uri, run_id)
    return metrics


@stage
def collapse(synthetic_sample_path: str, reference_sample_path: str, alignment_path: str,
             target: str, result_path: str, html_path: str, tracking_uri: str = "",
             run_id: str = "", seed: int = 0) -> dict[str, float]:
    """Score the 8 collapse dimensions on the two normalized samples.

    Writes the result document (JSON) and a page with the scores against their thresholds;
    returns the scores, ``collapse_detected`` (0/1) and seconds as metrics.
    """
    import pandas as pd

    from synthos.collapse import detect_collapse
    from synthos.report.collapse_html import render_collapse
    from synthos.report.html import page

    alignment = read_json(alignment_path)
    result = detect_collapse(pd.read_parquet(synthetic_sample_path),
                             pd.read_parquet(reference_sample_path), alignment["kinds"],
                             target=target or None, seed=seed)
    doc = result.to_dict()
    write_json(result_path, doc)
    write_bytes(html_path, page("Synthos collapse detection", render_collapse(doc)).encode())
    metrics = {d.name: d.score for d in result.dimensions}
    metrics.update(collapse_detected=float(result.collapse_detected), seconds=result.seconds)
    _track("collapse", metrics, tracking_uri, run_id)
    return metrics


@stage
def diversity_plan(synthetic_uri: str, reference_uri: str,
                   row_groups_per_shard: int) -> list[dict]:
    """The shards of both inputs for the diversity pass (one per input unless a Parquet
    input has more row groups than ``row_groups_per_shard``)."""
    from synthos.diversity.shards import plan_shards

    return (plan_shards(synthetic_uri, "synthetic", row_groups_per_shard)
            + plan_shards(reference_uri, "reference", row_groups_per_shard))


@stage
def diversity_shard(shard: dict, alignment_path: str, seed: int, state_path: str
                    ) -> dict[str, float]:
    """One streaming pass of mergeable sketches over one shard (the compared columns only)."""
    from synthos.diversity import sketch_state
    from synthos.diversity.shards import row_group_list, state_bytes

    started = time.perf_counter()
    kinds = read_json(alignment_path)["kinds"]
    state = sketch_state(shard["uri"], kinds, row_groups=row_group_list(shard["row_groups"]),
                         seed=seed)
    write_bytes(state_path, state_bytes(shard["role"], state))
    return {"rows": state.rows, "seconds": time.perf_counter() - started}


@stage
def diversity(state_paths: list[str], seed: int, result_path: str, html_path: str,
              tracking_uri: str = "", run_id: str = "") -> dict[str, float]:
    """Merge the shards of each input and analyze the diversity of the synthetic table
    beside the reference; returns the key numbers as metrics."""
    from synthos.diversity import analyze_states, merge_states
    from synthos.diversity.shards import read_state
    from synthos.report.diversity_html import render_diversity
    from synthos.report.html import page

    started = time.perf_counter()
    states: dict[str, list] = {"synthetic": [], "reference": []}
    for path in state_paths:
        with open(path, "rb") as fh:
            role, state = read_state(fh.read(), path)
        states[role].append(state)
    result = analyze_states(merge_states(states["synthetic"]), merge_states(states["reference"]),
                            seed=seed)
    doc = result.to_dict()
    doc["shards"] = {role: len(parts) for role, parts in states.items()}
    doc["seconds"] = time.perf_counter() - started
    write_json(result_path, doc)
    write_bytes(html_path, page("Synthos diversity", render_diversity(doc)).encode())
    metrics = result.metrics(prefix="")
    metrics["seconds"] = doc["seconds"]
    _track("diversity", metrics, tracking_uri, run_id)
    return metrics


@stage
def prescreen(synthetic_sample_path: str, reference_sample_path: str, alignment_path: str,
              library_uri: str, result_path: str, tracking_uri: str = "", run_id: str = "",
              seed: int = 0) -> dict[str, float]:
    """The dataset's signature looked up in the signature library: a risk of collapse 0-100
    and the known cases it resembles. ``library_uri`` empty: the default library (created
    from the packaged seed on first use)."""
    import pandas as pd

    from synthos.prescreen import open_default_library
    from synthos.prescreen.signature import signature

    started = time.perf_counter()
    alignment = read_json(alignment_path)
    sig = signature(pd.read_parquet(synthetic_sample_path),
                    pd.read_parquet(reference_sample_path), alignment["kinds"], seed=seed)
    library = open_default_library(library_uri or None)
    lookup = library.query(sig.vector)
    doc = {"risk_score": lookup.risk, "probability": lookup.probability,
           "matched_kinds": lookup.matched_kinds, "lookup": lookup.to_dict(),
           "signature": sig.as_dict(), "library": {"uri": library.uri, "entries": len(library)},
           "seconds": time.perf_counter() - started}
    write_json(result_path, doc)
    metrics = {"risk_score": lookup.risk, "seconds": doc["seconds"],
               "nearest_distance": min((n.distance for n in lookup.neighbours), default=0.0)}
    _track("prescreen", metrics, tracking_uri, run_id)
    return metrics


@stage
def localize(synthetic_sample_path: str, reference_sample_path: str, alignment_path: str,
             target: str, table_path: str, result_path: str, html_path: str,
             tracking_uri: str = "", run_id: str = "", seed: int = 0) -> dict[str, float]:
    """Score every sampled synthetic row; write ``localization.parquet`` (one row per
    synthetic row scored), the summary document and a page of the worst rows beside their
    nearest real rows. Returns rows scored, flagged, flagged per detector and seconds."""
    import pandas as pd
    import pyarrow as pa

    from synthos.localize import localize as localize_rows
    from synthos.report.html import page
    from synthos.report.localize_html import render_localization

    alignment = read_json(alignment_path)
    result = localize_rows(pd.read_parquet(synthetic_sample_path),
                           pd.read_parquet(reference_sample_path), alignment["kinds"],
                           target=target or None, seed=seed)
    doc = result.to_dict()
    write_parquet(table_path, pa.Table.from_pandas(result.table, preserve_index=False))
    write_json(result_path, doc)
    write_bytes(html_path, page("Synthos localization", render_localization(doc)).encode())
    metrics = {"rows_scored": doc["rows_scored"], "flagged": doc["flagged"],
               "flagged_share": doc["flagged_share"], "seconds": doc["seconds"]}
    metrics.update({f"flagged_{k}": v for k, v in doc["flagged_per_reason"].items()})
    _track("localize", metrics, tracking_uri, run_id)
    return metrics


@stage
def recommend(synthetic_sample_path: str, reference_sample_path: str, alignment_path: str,
              collapse_path: str, localization_path: str, localization_table_path: str,
              diversity_path: str, target: str, result_path: str, html_path: str,
              tracking_uri: str = "", run_id: str = "", seed: int = 0) -> dict[str, float]:
    """Actions for the failed and weak dimensions, the transformations among them applied
    and re-scored; returns how many, the best measured gain and seconds."""
    import pandas as pd

    from synthos.recommend import recommend as recommend_actions
    from synthos.report.html import page
    from synthos.report.recommend_html import render_recommendations

    alignment = read_json(alignment_path)
    doc = recommend_actions(pd.read_parquet(synthetic_sample_path),
                            pd.read_parquet(reference_sample_path), alignment["kinds"],
                            read_json(collapse_path), read_json(localization_path),
                            pd.read_parquet(localization_table_path),
                            diversity=read_json(diversity_path), target=target or None,
                            seed=seed)
    write_json(result_path, doc)
    write_bytes(html_path, page("Synthos recommendations",
                                render_recommendations(doc)).encode())
    gains = [r["gain"] for r in doc["recommendations"] if r["measured"]]
    metrics = {"recommendations": len(doc["recommendations"]),
               "best_gain": max(gains, default=0.0), "seconds": doc["seconds"]}
    _track("recommend", metrics, tracking_uri, run_id)
    return metrics


def learn(prescreen_doc: dict, summary: dict, library_uri: str) -> str:
    """Add a validated dataset's signature and verdict to the library (continuous learning).

    The entry's kind is ``healthy`` when nothing failed, else ``failed_<dimension>`` of the
    lowest-scoring failed dimension: the verdict names no collapse family, the dimensions do.
    """
    import numpy as np

    from synthos.prescreen import FEATURES, open_default_library

    failed = sorted((d for d in summary["dimensions"] if not d["passed"]),
                    key=lambda d: d["score"])
    kind = f"failed_{failed[0]['name']}" if failed else "healthy"
    vector = np.array([prescreen_doc["signature"][n] for n in FEATURES], dtype=np.float32)
    library = open_default_library(library_uri or None)
    return library.add(vector, kind, summary["inputs"]["synthetic"]["uri"], summary["verdict"],
                       {"run_id": summary["mlflow"].get("run_id"),
                        "risk_score": prescreen_doc["risk_score"]})


@stage
def report(out_uri: str, files: dict[str, str], *, profile_name: str, target: str,
           tracking_uri: str, experiment: str, run_id: str, summary_path: str,
           html_path: str, library_uri: str = "") -> dict[str, float]:
    """Write ``summary.json`` and ``report.html``, publish every output to ``out_uri``.

    Parameters
    ----------
    out_uri : str
        Output folder (local path, ``s3://`` or ``gs://``); empty to publish nowhere.
    files : dict
        Paths of the earlier stages' outputs, keyed as in :data:`OUTPUT_FILES`.
    summary_path, html_path : str
        Where this stage writes ``summary.json`` and ``report.html`` (its KFP artifacts).
    library_uri : str
        The signature library; a ``full`` validation adds its signature and verdict there
        (empty: the default library).
    """
    started = time.perf_counter()
    synthetic = read_json(files["synthetic_schema"])
    reference = read_json(files["reference_schema"])
    alignment = read_json(files["alignment"])
    collapse_doc = read_json(files["collapse"])
    diversity_doc = read_json(files["diversity"])
    prescreen_doc = read_json(files["prescreen"])
    localization_doc = read_json(files["localization"])
    recommendations_doc = read_json(files["recommendations"])
    timings = {"load_synthetic": synthetic["seconds"], "load_reference": reference["seconds"],
               "align": alignment["seconds"], "collapse": collapse_doc["seconds"],
               "diversity": diversity_doc["seconds"], "prescreen": prescreen_doc["seconds"],
               "localize": localization_doc["seconds"],
               "recommend": recommendations_doc["seconds"]}
    tracking = {"tracking_uri": tracking_uri or None, "experiment": experiment or None,
                "run_id": run_id or None}
    timings["report"] = time.perf_counter() - started
    summary = build_summary(synthetic, reference, alignment, collapse_doc,
                            profile=profile_name, target=target, mlflow=tracking,
                            timings_s=timings, diversity=diversity_doc,
                            prescreen=prescreen_doc, localization=localization_doc,
                            recommendations=recommendations_doc)
    if profile_name == "full":
        summary["prescreen"]["added_to_library"] = learn(prescreen_doc, summary, library_uri)
    write_json(summary_path, summary)
    write_bytes(html_path, render_report(summary, synthetic, reference, collapse_doc,
                                         diversity_doc, localization_doc,
                                         recommendations_doc).encode())
    _track("timings_s", timings, tracking_uri, run_id)
    if run_id:
        for path in (summary_path, html_path):
            _log_as(tracking_uri, run_id, path, OUTPUT_FILES["summary" if path == summary_path
                                                             else "report"])
        mlflow_run.end_run(tracking_uri, run_id)
    if out_uri:
        publish(out_uri, {**files, "summary": summary_path, "report": html_path})
    return {"seconds": timings["report"], "synthetic_rows": synthetic["rows"],
            "reference_rows": reference["rows"]}


def finish(tracking_uri: str, experiment: str, job_id: str) -> str:
    """Exit handler: a run the report did not close is marked FAILED. Returns its status.

    The exit task may depend on no other task, so it finds the run by its KFP job tag.
    """
    run_id = mlflow_run.find_job_run(tracking_uri, experiment, job_id)
    if run_id:
        mlflow_run.end_run(tracking_uri, run_id, status="FAILED")
        return mlflow_run.run_status(tracking_uri, run_id)
    return "NONE"


def publish(out_uri: str, files: dict[str, str]) -> None:
    """Copy stage outputs into ``out_uri`` under their :data:`OUTPUT_FILES` names.

    Nothing half-written is left: locally every file is staged in a temporary folder beside
    the outputs and renamed into place; on object stores each object is one atomic PUT. In
    both, ``summary.json`` lands last, so its presence means the set is complete.
    """
    loc = resolve(out_uri)
    order = sorted(files, key=lambda k: k == "summary")
    with store_errors(loc, "write"):
        if loc.is_local:
            os.makedirs(loc.path, exist_ok=True)
            staging = tempfile.mkdtemp(prefix=".synthos-tmp-", dir=loc.path)
            try:
                for key in order:
                    shutil.copyfile(files[key], os.path.join(staging, OUTPUT_FILES[key]))
                for key in order:
                    os.replace(os.path.join(staging, OUTPUT_FILES[key]),
                               os.path.join(loc.path, OUTPUT_FILES[key]))
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        else:
            fs = loc.filesystem()
            for key in order:
                fs.put_file(files[key], loc.child(OUTPUT_FILES[key]).path)


def _track(prefix: str, metrics: dict[str, float], tracking_uri: str, run_id: str) -> None:
    """Log a stage's metrics to the validation's MLflow run as ``<prefix>.<name>``."""
    if run_id:
        mlflow_run.log_metrics(tracking_uri, run_id,
                               {f"{prefix}.{k}": v for k, v in metrics.items()})


def _log_as(tracking_uri: str, run_id: str, path: str, name: str) -> None:
    """Log ``path`` to MLflow under ``name`` (KFP artifact files have no extension)."""
    with tempfile.TemporaryDirectory() as tmp:
        target = os.path.join(tmp, name)
        shutil.copyfile(path, target)
        mlflow_run.log_artifact(tracking_uri, run_id, target)

