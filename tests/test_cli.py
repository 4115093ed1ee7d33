"""`synthos inspect` and the command's usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from synthos.cli import main


@pytest.fixture
def parquet(tmp_path: Path) -> Path:
    frame = pd.DataFrame({"user_id": range(20_000), "score": [i / 7 for i in range(20_000)],
                          "tier": [("gold", "silver", "bronze")[i % 3] for i in range(20_000)]})
    frame.loc[::10, "score"] = None
    path = tmp_path / "t.parquet"
    frame.to_parquet(path, row_group_size=5000)
    return path


def test_inspect_prints_footer_rows_and_kinds(parquet: Path, capsys) -> None:
    assert main(["inspect", str(parquet)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == str(parquet)
    assert out[1].split() == ["format", "Parquet"]
    assert out[3].split() == ["rows", "20,000"]
    assert out[4].strip() == "columns  3 (kinds from the first 10,000 rows)"
    kinds = {line.split()[0]: line.split()[1] for line in out[5:8]}
    assert kinds == {"user_id": "id", "score": "numeric", "tier": "categorical"}
    assert "missing  10.0%" in out[6]


def test_inspect_json(parquet: Path, capsys) -> None:
    assert main(["inspect", str(parquet), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["rows"], doc["rows_exact"], doc["format"]) == (20_000, True, "Parquet")
    assert [c["name"] for c in doc["columns"]] == ["user_id", "score", "tier"]
    assert doc["columns"][2]["distinct"] == 3


def test_inspect_bad_input_is_one_line(tmp_path: Path, capsys) -> None:
    path = tmp_path / "missing.parquet"
    assert main(["inspect", str(path)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"synthos: {path}: no such file"]


def test_unknown_profile_is_bad_usage(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", "a.csv", "--reference", "b.csv", "--profile", "huge"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["synthos validate: argument --profile: invalid choice: 'huge' (choose from "
                   "'quick', 'full') (see synthos validate --help)"]
