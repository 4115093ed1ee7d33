"""`synthos validate` end to end: the KFP pipeline on the local runner, MLflow, the outputs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from servers import mlflow_server

from synthos.cli import main
from synthos.demo.pair import write_demo_pair
from synthos.tracking.mlflow_run import default_tracking_uri

DESIGN_FIELDS = {"schema_version", "collapse_detected", "verdict", "dimensions", "risk_score",
                 "predicted_accuracy", "diversity", "localization", "recommendations", "inputs",
                 "mlflow", "timings_s"}
NOT_BUILT = ("predicted_accuracy",)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One demo validation, shared by the tests that read its outputs."""
    out = tmp_path_factory.mktemp("demo") / "out"
    code = main(["demo", "--out", str(out), "--quiet"])
    return {"code": code, "out": out,
            "summary": json.loads((out / "summary.json").read_text())}


def test_demo_exits_zero_and_writes_every_output(demo_run: dict) -> None:
    """The README's first command leaves summary.json, report.html and the stage outputs."""
    assert demo_run["code"] == 0
    names = sorted(p.name for p in demo_run["out"].iterdir())
    assert names == ["alignment.json", "collapse.json", "diversity.json", "inputs",
                     "localization.json", "localization.parquet", "prescreen.json",
                     "recommendations.json", "reference.parquet", "reference.schema.json",
                     "report.html", "summary.json", "synthetic.parquet",
                     "synthetic.schema.json"]


def test_summary_follows_the_contract(demo_run: dict) -> None:
    """Every field DESIGN.md names is there; fields of stages not built yet are null."""
    summary = demo_run["summary"]
    assert summary.keys() >= DESIGN_FIELDS
    assert summary["schema_version"] == 1
    for name in NOT_BUILT:
        assert summary[name] is None, name
    dims = summary["dimensions"]
    assert [d["name"] for d in dims] == [
        "distribution_fidelity", "correlation_preservation", "mutual_information",
        "tail_preservation", "diversity_entropy", "coverage", "structural_spectrum", "novelty"]
    for d in dims:
        assert set(d) == {"name", "score", "threshold", "passed", "details"}
        assert 0 <= d["score"] <= 100 and d["passed"] == (d["score"] >= d["threshold"])
    assert summary["collapse_detected"] == any(not d["passed"] for d in dims)
    assert summary["verdict"] in ("pass", "warn", "collapse")
    assert (summary["verdict"] == "collapse") == summary["collapse_detected"]
    syn, ref = summary["inputs"]["synthetic"], summary["inputs"]["reference"]
    # breast cancer has 569 rows: the reference is the first half, the generator samples the
    # same number of rows as the other half holds.
    assert (syn["rows"], ref["rows"]) == (285, 284)
    assert syn["columns"] == ref["columns"] == 31
    assert syn["uri"].endswith("synthetic.csv") and ref["uri"].endswith("reference.parquet")
    assert set(summary["timings_s"]) == {"load_synthetic", "load_reference", "align",
                                         "collapse", "diversity", "prescreen", "localize",
                                         "recommend", "report"}
    assert all(v >= 0 for v in summary["timings_s"].values())
    assert summary["target"] == "diagnosis"
    assert summary["alignment"]["task"] == "classification"
    assert summary["alignment"]["missing"] == [] and summary["alignment"]["extra"] == []


def test_normalized_sample_keeps_row_positions(demo_run: dict) -> None:
    """The load stage's Parquet holds every row (inputs are small) with its input position."""
    sample = pd.read_parquet(demo_run["out"] / "synthetic.parquet")
    assert sample["__synthos_row__"].tolist() == list(range(285))
    original = pd.read_csv(demo_run["out"] / "inputs" / "synthetic.csv")
    assert sample["mean_radius"].round(9).tolist() == original["mean_radius"].round(9).tolist()


def test_report_html_is_self_contained_and_readable(demo_run: dict) -> None:
    html = (demo_run["out"] / "report.html").read_text()
    assert html.startswith("<!doctype html>")
    for section in ("Collapse", "Inputs", "Schema alignment", "Timings", "Tracking"):
        assert f"<h2>{section}</h2>" in html
    assert "synthetic.csv" in html and "reference.parquet" in html
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert demo_run["summary"]["mlflow"]["run_id"] in html


def test_mlflow_run_has_params_metrics_and_artifacts(demo_run: dict) -> None:
    """mlflow.search_runs finds the run, with input URIs, sizes and stage metrics."""
    summary = demo_run["summary"]
    assert summary["mlflow"]["tracking_uri"] == default_tracking_uri()
    assert summary["mlflow"]["tracking_uri"].startswith("sqlite:///")
    mlflow.set_tracking_uri(summary["mlflow"]["tracking_uri"])
    runs = mlflow.search_runs(experiment_names=["synthos-demo"])
    run = runs[runs["run_id"] == summary["mlflow"]["run_id"]].iloc[0]
    assert run["status"] == "FINISHED"
    assert run["params.synthetic_uri"].endswith("synthetic.csv")
    assert run["params.target"] == "diagnosis"
    assert run["params.profile"] == "quick"
    assert int(run["params.synthetic.columns"]) == 31
    assert run["metrics.load.synthetic.rows"] == 285
    assert run["metrics.load.reference.rows"] == 284
    assert run["metrics.align.common_columns"] == 31
    for d in summary["dimensions"]:
        assert run[f"metrics.collapse.{d['name']}"] == pytest.approx(d["score"])
    assert run["metrics.collapse.collapse_detected"] == float(summary["collapse_detected"])
    assert run["metrics.prescreen.risk_score"] == pytest.approx(summary["risk_score"])
    for name, value in summary["diversity"]["metrics"].items():
        assert run[f"metrics.diversity.{name}"] == pytest.approx(value)
    client = mlflow.MlflowClient(summary["mlflow"]["tracking_uri"])
    names = {a.path for a in client.list_artifacts(summary["mlflow"]["run_id"])}
    assert names == {"summary.json", "report.html"}
    logged = json.loads(Path(client.download_artifacts(summary["mlflow"]["run_id"],
                                                       "summary.json")).read_text())
    assert logged == summary


def test_against_a_real_mlflow_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MLFLOW_TRACKING_URI pointing at `mlflow server` on loopback: the run lands there."""
    syn, ref = write_demo_pair(str(tmp_path / "inputs"), seed=1)
    with mlflow_server(tmp_path / "mlflow") as server:
        for key, value in server.env.items():
            monkeypatch.setenv(key, value)
        code = main(["validate", syn, "--reference", ref, "--out", str(tmp_path / "out"),
                     "--experiment", "server-test", "--quiet"])
        assert code == 0
        summary = json.loads((tmp_path / "out" / "summary.json").read_text())
        assert summary["mlflow"]["tracking_uri"] == server.uri
        mlflow.set_tracking_uri(server.uri)
        runs = mlflow.search_runs(experiment_names=["server-test"])
        assert runs["run_id"].tolist() == [summary["mlflow"]["run_id"]]
        assert runs.iloc[0]["metrics.load.synthetic.rows"] == 285
        client = mlflow.MlflowClient(server.uri)
        names = {a.path for a in client.list_artifacts(summary["mlflow"]["run_id"])}
        assert names == {"summary.json", "report.html"}


def test_progress_lines_name_each_stage(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    syn, ref = write_demo_pair(str(tmp_path / "inputs"), seed=2)
    assert main(["validate", syn, "--reference", ref, "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err.splitlines()
    done = [line.split("✓ ", 1)[1].split(":")[0] for line in err if "✓" in line]
    assert done[0] == "start tracking" and done[-1] == "finish tracking"
    # A set: the sketch tasks run in a ParallelFor, on threads whose log lines kfp.local
    # sometimes routes past our stream, so one of their two end lines can be missing.
    assert set(done[1:-1]) == {"align schema", "analyze diversity", "detect collapse",
                               "load reference", "load synthetic", "plan diversity shards",
                               "prescreen", "report", "sketch shard", "localize rows",
                               "recommend actions"}
    assert all(line.startswith("[") and "s]" in line for line in err)


def test_error_deep_in_a_file_fails_the_stage_cleanly(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A bad row past what the pre-flight reads: the load stage's one line, exit 2, no
    output folder, and the MLflow run marked FAILED by the exit handler."""
    rows = ["a,b"] + [f"{i},{2 * i}" for i in range(1_200_000)] + ["5,6,7"]
    synthetic = tmp_path / "deep.csv"
    synthetic.write_text("\n".join(rows) + "\n")
    reference = tmp_path / "ref.csv"
    reference.write_text("\n".join(rows[:500]) + "\n")
    out = tmp_path / "out"
    code = main(["validate", str(synthetic), "--reference", str(reference), "--out", str(out),
                 "--experiment", "deep-error"])
    captured = capsys.readouterr()
    assert code == 2
    last = captured.err.strip().splitlines()[-1]
    assert last == (f"synthos: {synthetic}: corrupt or unreadable CSV file: CSV parse error: "
                    "Expected 2 columns, got 3: 5,6,7")
    assert "✗ load synthetic: FAILED" in captured.err
    assert not out.exists()
    mlflow.set_tracking_uri(default_tracking_uri())
    runs = mlflow.search_runs(experiment_names=["deep-error"])
    assert runs["status"].tolist() == ["FAILED"]


def test_no_kfp_in_the_library() -> None:
    """Importing every library module pulls in no kfp (only the pipeline side may)."""
    import subprocess
    import sys

    src = Path(__file__).resolve().parents[1] / "src" / "synthos"
    modules = sorted(
        "synthos." + str(p.relative_to(src).with_suffix("")).replace(os.sep, ".")
        .removesuffix(".__init__")
        for p in src.rglob("*.py"))
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m.removesuffix('.'))\n"
            "print(sorted(m for m in sys.modules if m == 'kfp' or m.startswith('kfp.')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
    for path in src.rglob("*.py"):
        text = path.read_text()
        assert "import kfp" not in text and "from kfp" not in text, path


def test_fail_on_collapse_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Columns permuted independently: collapse is detected, and the flag turns it into 3."""
    import numpy as np

    syn, ref = write_demo_pair(str(tmp_path / "inputs"), seed=4)
    frame = pd.read_csv(syn)
    rng = np.random.default_rng(0)
    for column in frame.columns:
        frame[column] = rng.permutation(frame[column].to_numpy())
    broken = tmp_path / "broken.csv"
    frame.to_csv(broken, index=False)
    code = main(["validate", str(broken), "--reference", ref, "--out", str(tmp_path / "out"),
                 "--fail-on-collapse", "--quiet"])
    out = capsys.readouterr().out
    assert code == 3
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["collapse_detected"] is True and summary["verdict"] == "collapse"
    failed = {d["name"] for d in summary["dimensions"] if not d["passed"]}
    assert {"correlation_preservation", "structural_spectrum"} <= failed
    assert "verdict: collapse (failed: " in out


def test_validate_scores_a_benchmark_case_as_the_benchmark_does(tmp_path: Path) -> None:
    """Through CSV files, the loader and the pipeline, a labelled case of the collapse
    benchmark gets the very scores the benchmark measured by calling the library: the held-out
    numbers in the README are what `synthos validate` gives."""
    from benchmarks.collapse.calibrate import TARGETS, score_ours
    from benchmarks.collapse.cases import generate_cases

    case = next(generate_cases(["penguins"], [0], ["mode_collapse"], ["low"]))
    case.synthetic.to_csv(tmp_path / "syn.csv", index=False)
    case.reference.to_csv(tmp_path / "ref.csv", index=False)
    out = tmp_path / "out"
    code = main(["validate", str(tmp_path / "syn.csv"), "--reference", str(tmp_path / "ref.csv"),
                 "--target", TARGETS["penguins"], "--out", str(out), "--quiet"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    direct = score_ours(case)["scores"]
    assert {d["name"]: d["score"] for d in summary["dimensions"]} == direct
    assert summary["verdict"] == "collapse"
    assert direct["diversity_entropy"] < 20  # the refilled survivors repeat rows


def test_diversity_in_summary_report_and_output(demo_run: dict) -> None:
    """The diversity stage fills summary.json's field from one pass over each whole input."""
    div = demo_run["summary"]["diversity"]
    full = json.loads((demo_run["out"] / "diversity.json").read_text())
    assert full["synthetic"]["rows"] == 285 and full["reference"]["rows"] == 284
    assert div["shards"] == {"synthetic": 1, "reference": 1}
    assert div["metrics"] == full["metrics"]
    # The demo's synthetic rows are draws from a Gaussian: no two repeat, like the real ones.
    assert div["duplicates"]["synthetic"]["value"] == 0.0
    assert 0.9 <= div["strata"]["mass_coverage"] <= 1.0
    assert [c["column"] for c in div["columns"]] == demo_run["summary"]["alignment"]["common"]
    html = (demo_run["out"] / "report.html").read_text()
    assert "<h2>Diversity</h2>" in html and "Normalized entropy per column" in html


def test_localization_and_recommendations_in_outputs(demo_run: dict) -> None:
    """Every sampled synthetic row is scored; the Gaussian's impossible negative values are
    found and named in their units; recommendations are measured and ranked."""
    import pandas as pd

    out, summary = demo_run["out"], demo_run["summary"]
    table = pd.read_parquet(out / "localization.parquet")
    sample = pd.read_parquet(out / "synthetic.parquet")
    assert table["row"].tolist() == sample["__synthos_row__"].tolist()
    assert {"row", "score", "confidence", "flagged", "fired", "reasons",
            "score_detectability", "score_out_of_support", "score_memorization",
            "score_duplicates", "score_label_issue"} <= set(table.columns)
    loc = summary["localization"]
    assert loc["rows_scored"] == 285 and loc["flagged"] == int(table["flagged"].sum())
    assert loc["absent"]["training_influence"].startswith("absent")
    # 285 rows against 284 real ones: fewer than 10 rows beyond every real row are not flagged.
    assert loc["flag_floor"]["rows_needed"] == 10
    # Real concavity_error never goes below 0; a Gaussian fitted to it does.
    negative = sample["concavity_error"] < 0
    assert negative.any()
    reasons = table.loc[negative.to_numpy() & table["flagged"].to_numpy(), "reasons"]
    assert reasons.str.contains("concavity_error -").all() or \
        reasons.str.contains("where real rows start at 0").any()
    recs = summary["recommendations"]
    assert recs and recs[0]["measured"] and recs[0]["rank"] == 1
    full = json.loads((out / "recommendations.json").read_text())
    assert full["recommendations"] == recs
    assert full["before"] == {d["name"]: d["score"] for d in summary["dimensions"]}
    html = (out / "report.html").read_text()
    assert "<h2>Bad rows</h2>" in html and "<h2>Recommendations</h2>" in html
    assert "Worst rows, beside their nearest real rows" in html
    assert "fewer than 10 rows that extreme are ranked first by score but cannot be flagged" \
        in html


def test_a_parquet_input_with_many_row_groups_fans_out(tmp_path: Path) -> None:
    """Above the row-group threshold the sketches run per shard in a ParallelFor and merge
    to exactly the whole-table counts: rows, missing values, duplicates."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    n = 6000
    frame = pd.DataFrame({"x": rng.normal(size=n), "k": rng.choice(["a", "b", "c"], n),
                          "m": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n))})
    frame.iloc[5000:] = frame.iloc[:1000].to_numpy()  # 1000 duplicate rows
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False),
                   tmp_path / "syn.parquet", row_group_size=500)  # 12 row groups
    frame.iloc[:3000].to_parquet(tmp_path / "ref.parquet")
    out = tmp_path / "out"
    code = main(["validate", str(tmp_path / "syn.parquet"), "--reference",
                 str(tmp_path / "ref.parquet"), "--out", str(out), "--quiet",
                 "--row-groups-per-shard", "4"])
    assert code == 0
    div = json.loads((out / "diversity.json").read_text())
    assert div["shards"] == {"synthetic": 3, "reference": 1}
    assert div["synthetic"]["rows"] == n
    assert div["duplicates"]["synthetic"]["duplicates"] == int(frame.duplicated().sum())
    missing = next(c for c in div["columns"] if c["column"] == "m")["missing_rate"]
    assert missing["synthetic"] == pytest.approx(frame["m"].isna().mean(), abs=1e-12)


def test_prescreen_risk_and_continuous_learning(demo_run: dict, tmp_path: Path) -> None:
    """A quick run reads the library (seeded from the package on first use) and leaves it as
    it was; a full run adds its signature with the kind of its worst failed dimension."""
    from synthos.prescreen import SignatureLibrary

    summary = demo_run["summary"]
    pre = summary["prescreen"]
    assert summary["risk_score"] == pre["risk_score"] and 0 <= pre["risk_score"] <= 100
    assert len(pre["neighbours"]) == 5 and pre["added_to_library"] is None
    html = (demo_run["out"] / "report.html").read_text()
    assert "<h2>Pre-screen</h2>" in html and f"{pre['risk_score']:.0f}</strong>/100" in html
    seeded = pre["library"]["entries"]
    assert seeded == len(SignatureLibrary.open(pre["library"]["uri"]))

    library = str(tmp_path / "library")
    syn, ref = demo_run["out"] / "inputs" / "synthetic.csv", demo_run["out"] / "inputs" / \
        "reference.parquet"
    out = tmp_path / "out"
    code = main(["validate", str(syn), "--reference", str(ref), "--target", "diagnosis",
                 "--out", str(out), "--profile", "full", "--library", library, "--quiet"])
    assert code == 0
    full = json.loads((out / "summary.json").read_text())
    entry = full["prescreen"]["added_to_library"]
    entries = SignatureLibrary.open(library).entries().to_pandas().set_index("id")
    assert len(entries) == seeded + 1
    worst = min((d for d in full["dimensions"] if not d["passed"]), key=lambda d: d["score"])
    assert entries.loc[entry, "kind"] == f"failed_{worst['name']}"
    assert entries.loc[entry, "verdict"] == "collapse"
    assert entries.loc[entry, "source"].endswith("synthetic.csv")
