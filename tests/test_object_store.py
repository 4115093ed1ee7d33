"""Inputs read and outputs written through s3:// and gs:// against loopback servers."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import fsspec
import pandas as pd
import pytest
from servers import gcs_server, s3_server

from synthos.cli import main
from synthos.demo.pair import write_demo_pair
from synthos.io import inspect, profile
from synthos.stages import OUTPUT_FILES


def _use(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    # The KFP task subprocesses inherit os.environ: that is how they find the server.
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def _round_trip(scheme: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    syn, ref = write_demo_pair(str(tmp_path / "inputs"), seed=3)
    fs = fsspec.filesystem("s3" if scheme == "s3" else "gcs", skip_instance_cache=True)
    fs.put_file(syn, "data/synthetic.csv")
    fs.put_file(ref, "data/reference.parquet")
    out = f"{scheme}://results/run-1"
    code = main(["validate", f"{scheme}://data/synthetic.csv", "--reference",
                 f"{scheme}://data/reference.parquet", "--target", "diagnosis", "--out", out,
                 "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"report:  {out}/report.html" in captured.out
    assert sorted(fs.ls("results/run-1", detail=False)) == sorted(
        f"results/run-1/{name}" for name in OUTPUT_FILES.values())
    summary = json.loads(fs.cat_file("results/run-1/summary.json"))
    assert summary["inputs"]["synthetic"]["uri"] == f"{scheme}://data/synthetic.csv"
    assert summary["inputs"]["reference"]["uri"] == f"{scheme}://data/reference.parquet"
    assert (summary["inputs"]["synthetic"]["rows"], summary["inputs"]["reference"]["rows"]) \
        == (285, 284)
    sample = pd.read_parquet(fs.open("results/run-1/synthetic.parquet"))
    local = pd.read_csv(syn)
    assert len(sample) == len(local)
    assert sample["worst_area"].round(6).tolist() == local["worst_area"].round(6).tolist()
    assert fs.cat_file("results/run-1/report.html").startswith(b"<!doctype html>")


def test_s3_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                       capsys: pytest.CaptureFixture) -> None:
    with s3_server() as server:
        server.create_bucket("data")
        server.create_bucket("results")
        _use(server.env, monkeypatch)
        _round_trip("s3", tmp_path, capsys)


def test_gcs_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture) -> None:
    with gcs_server() as server:
        server.create_bucket("data")
        server.create_bucket("results")
        _use(server.env, monkeypatch)
        _round_trip("gs", tmp_path, capsys)


def test_compressed_and_columnar_reads_from_s3(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Compressed text streams through fsspec; Parquet metadata comes from the footer."""
    frame = pd.DataFrame({"x": range(3000), "k": [f"c{i % 7}" for i in range(3000)]})
    with s3_server() as server:
        server.create_bucket("data")
        _use(server.env, monkeypatch)
        fs = fsspec.filesystem("s3", skip_instance_cache=True)
        fs.pipe_file("data/t.csv.gz", gzip.compress(frame.to_csv(index=False).encode()))
        local = tmp_path / "t.parquet"
        frame.to_parquet(local)
        fs.put_file(str(local), "data/t.parquet")
        prof = profile("s3://data/t.csv.gz", sample_rows=100)
        assert (prof.rows, prof.sample.num_rows) == (3000, 100)
        assert {c.name: c.kind for c in prof.columns} == {"x": "id", "k": "categorical"}
        meta = inspect("s3://data/t.parquet")
        assert (meta.rows, meta.rows_exact, meta.format) == (3000, True, "Parquet")
