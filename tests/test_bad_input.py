"""Bad input: one line on stderr naming the file and the problem, exit 2, no output at all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from servers import gcs_server, s3_server

from synthos.cli import main


@pytest.fixture
def good(tmp_path: Path) -> dict[str, Path]:
    frame = pd.DataFrame({"a": range(50), "b": [f"x{i % 3}" for i in range(50)],
                          "y": [i % 2 for i in range(50)]})
    csv = tmp_path / "good.csv"
    frame.to_csv(csv, index=False)
    parquet = tmp_path / "good.parquet"
    frame.to_parquet(parquet)
    return {"csv": csv, "parquet": parquet, "frame": frame}


def run_cli(args: list[str], out: Path, capsys: pytest.CaptureFixture) -> str:
    """Run ``synthos validate`` and return its one stderr line; checks exit 2, no output."""
    code = main(["validate", *args, "--out", str(out), "--quiet"])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2, captured.err
    assert len(lines) == 1, captured.err
    assert captured.out == ""
    assert not out.exists()
    return lines[0]


def test_missing_file(tmp_path: Path, good: dict, capsys: pytest.CaptureFixture) -> None:
    missing = tmp_path / "nope.csv"
    line = run_cli([str(missing), "--reference", str(good["csv"])], tmp_path / "out", capsys)
    assert line == f"synthos: {missing}: no such file"


def test_corrupt_file(tmp_path: Path, good: dict, capsys: pytest.CaptureFixture) -> None:
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(good["parquet"].read_bytes()[:-100])
    line = run_cli([str(broken), "--reference", str(good["csv"])], tmp_path / "out", capsys)
    assert line.startswith(f"synthos: {broken}: corrupt or unreadable Parquet file: ")


def test_corrupt_compressed_file(tmp_path: Path, good: dict,
                                 capsys: pytest.CaptureFixture) -> None:
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00" + b"\x00garbage" * 20)
    line = run_cli([str(broken), "--reference", str(good["csv"])], tmp_path / "out", capsys)
    assert line.startswith(f"synthos: {broken}: corrupt gzip data")


def test_extension_that_lies(tmp_path: Path, good: dict, capsys: pytest.CaptureFixture) -> None:
    liar = tmp_path / "data.csv"
    liar.write_bytes(good["parquet"].read_bytes())
    line = run_cli([str(liar), "--reference", str(good["csv"])], tmp_path / "out", capsys)
    assert line == f"synthos: {liar}: extension says CSV but the content is Parquet"


def test_text_named_parquet(tmp_path: Path, good: dict, capsys: pytest.CaptureFixture) -> None:
    liar = tmp_path / "data.parquet"
    liar.write_bytes(good["csv"].read_bytes())
    line = run_cli([str(liar), "--reference", str(good["csv"])], tmp_path / "out", capsys)
    assert line == f"synthos: {liar}: extension says Parquet but the content is text"


def test_empty_file(tmp_path: Path, good: dict, capsys: pytest.CaptureFixture) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    line = run_cli([str(good["csv"]), "--reference", str(empty)], tmp_path / "out", capsys)
    assert line == f"synthos: {empty}: file is empty (0 bytes)"


def test_header_only_file(tmp_path: Path, good: dict, capsys: pytest.CaptureFixture) -> None:
    header = tmp_path / "header.csv"
    header.write_text("a,b,y\n")
    line = run_cli([str(header), "--reference", str(good["csv"])], tmp_path / "out", capsys)
    assert line == f"synthos: {header}: has a header but no data rows"


def test_no_column_in_common(tmp_path: Path, good: dict, capsys: pytest.CaptureFixture) -> None:
    other = tmp_path / "other.csv"
    other.write_text("p,q\n1,2\n3,4\n")
    line = run_cli([str(other), "--reference", str(good["csv"])], tmp_path / "out", capsys)
    assert line == (f"synthos: {other}: no column in common with the reference {good['csv']} "
                    "(synthetic: p, q; reference: a, b, y)")


def test_unknown_target(tmp_path: Path, good: dict, capsys: pytest.CaptureFixture) -> None:
    line = run_cli([str(good["parquet"]), "--reference", str(good["csv"]), "--target", "label"],
                   tmp_path / "out", capsys)
    assert line == f"synthos: {good['csv']}: target column 'label' not found (columns: a, b, y)"


def test_target_missing_from_synthetic(tmp_path: Path, good: dict,
                                       capsys: pytest.CaptureFixture) -> None:
    syn = tmp_path / "syn.csv"
    good["frame"].drop(columns="y").to_csv(syn, index=False)
    line = run_cli([str(syn), "--reference", str(good["csv"]), "--target", "y"],
                   tmp_path / "out", capsys)
    assert line == f"synthos: {syn}: target column 'y' is missing from the synthetic data"


def test_unsupported_scheme(tmp_path: Path, good: dict, capsys: pytest.CaptureFixture) -> None:
    line = run_cli(["ftp://host/data.csv", "--reference", str(good["csv"])], tmp_path / "out",
                   capsys)
    assert line == ("synthos: ftp://host/data.csv: unsupported URI scheme 'ftp://'; use a local "
                    "path, file://, s3:// or gs://")


def test_unknown_extension(tmp_path: Path, good: dict, capsys: pytest.CaptureFixture) -> None:
    odd = tmp_path / "data.xyz"
    odd.write_text("a\n1\n")
    line = run_cli([str(odd), "--reference", str(good["csv"])], tmp_path / "out", capsys)
    assert line.startswith(f"synthos: {odd}: unknown file extension .xyz; supported: .arrow, ")


def test_bad_usage_is_one_line(tmp_path: Path, good: dict,
                               capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", str(good["csv"])])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2
    assert err == ["synthos validate: the following arguments are required: --reference "
                   "(see synthos validate --help)"]


@pytest.fixture(scope="module")
def s3_auth() -> Iterator:
    with s3_server(auth=True) as server:
        server.create_bucket("data")
        yield server


def _use(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def test_s3_access_denied(tmp_path: Path, good: dict, s3_auth, monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture) -> None:
    _use(s3_auth.denied_env, monkeypatch)
    line = run_cli(["s3://data/synthetic.csv", "--reference", str(good["csv"])],
                   tmp_path / "out", capsys)
    assert line == ("synthos: s3://data/synthetic.csv: access denied when trying to read "
                    "(check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE and the "
                    "bucket policy)")


def test_s3_bad_secret_is_access_denied(tmp_path: Path, good: dict, s3_auth,
                                        monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture) -> None:
    _use(s3_auth.bad_secret_env, monkeypatch)
    line = run_cli([str(good["csv"]), "--reference", "s3://data/reference.parquet"],
                   tmp_path / "out", capsys)
    assert line.startswith("synthos: s3://data/reference.parquet: access denied when trying "
                           "to read")


def test_s3_bucket_missing(tmp_path: Path, good: dict, s3_auth,
                           monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    _use(s3_auth.env, monkeypatch)
    line = run_cli(["s3://no-such-bucket/synthetic.csv", "--reference", str(good["csv"])],
                   tmp_path / "out", capsys)
    assert line == ("synthos: s3://no-such-bucket/synthetic.csv: bucket 'no-such-bucket' "
                    "does not exist")


def test_s3_output_bucket_missing(tmp_path: Path, good: dict, s3_auth,
                                  monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture) -> None:
    _use(s3_auth.env, monkeypatch)
    code = main(["validate", str(good["csv"]), "--reference", str(good["csv"]),
                 "--out", "s3://missing-results/run", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == ["synthos: s3://missing-results/run: bucket 'missing-results' does not exist"]


def test_gcs_bucket_missing(tmp_path: Path, good: dict, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture) -> None:
    with gcs_server() as server:
        _use(server.env, monkeypatch)
        line = run_cli(["gs://absent/synthetic.parquet", "--reference", str(good["csv"])],
                       tmp_path / "out", capsys)
    assert line == "synthos: gs://absent/synthetic.parquet: bucket 'absent' does not exist"


def test_gcs_object_missing(tmp_path: Path, good: dict, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture) -> None:
    with gcs_server() as server:
        server.create_bucket("present")
        _use(server.env, monkeypatch)
        line = run_cli(["gs://present/synthetic.parquet", "--reference", str(good["csv"])],
                       tmp_path / "out", capsys)
    assert line == "synthos: gs://present/synthetic.parquet: no such object"
