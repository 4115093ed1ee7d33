"""Dataset signatures, seeding libraries from the collapse benchmark, and the default library."""

from __future__ import annotations

import math
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.collapse import generate_cases
from synthos.cli import main
from synthos.collapse.prepare import prepare
from synthos.errors import SynthosInputError
from synthos.prescreen import (
    FEATURES,
    NULL_VALUES,
    SignatureLibrary,
    build_library,
    kinds_of,
    open_default_library,
)
from synthos.prescreen import seed as seed_module
from synthos.prescreen.signature import signature, signature_spec

KINDS = {"a": "numeric", "b": "numeric", "c": "numeric", "count": "integer",
         "colour": "categorical", "flag": "boolean", "when": "datetime", "row_id": "id",
         "note": "text"}
COMPARED = ["a", "b", "c", "count", "colour", "flag", "when"]


def _table(n: int, seed: int) -> pd.DataFrame:
    """Every column kind, correlated numerics, a rare level, and missing values."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 3))
    frame = pd.DataFrame({
        "a": z[:, 0],
        "b": 0.8 * z[:, 0] + 0.6 * z[:, 1],
        "c": np.exp(z[:, 2]),
        "count": rng.poisson(4, n),
        "colour": rng.choice(["red", "green", "blue", "teal", "plum"], n,
                             p=[0.5, 0.3, 0.15, 0.03, 0.02]),
        "flag": rng.random(n) < 0.4,
        "when": pd.Timestamp("2024-01-01")
        + pd.to_timedelta(rng.integers(0, 10**7, n), unit="s"),
        "row_id": [f"r{seed}-{i}" for i in range(n)],
        "note": [f"free text number {i}" for i in rng.integers(0, 10**9, n)],
    })
    frame.loc[rng.random(n) < 0.05, "c"] = np.nan
    frame.loc[rng.random(n) < 0.05, "colour"] = None
    return frame


def _halves(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two independent samples of one distribution: (reference, synthetic)."""
    full = _table(2 * n, seed)
    return full.iloc[:n].reset_index(drop=True), full.iloc[n:].reset_index(drop=True)


def _values(synthetic: pd.DataFrame, reference: pd.DataFrame) -> dict[str, float]:
    return signature(synthetic, reference, KINDS).as_dict()


# --------------------------------------------------------------------------- the vector


def test_fixed_length_and_names_whatever_the_columns() -> None:
    ref, syn = _halves(400, 0)
    numeric_only = ["a", "b"]
    labels_only = ["colour", "flag", "note"]
    shapes = []
    for columns in (list(KINDS), numeric_only, labels_only):
        kinds = {c: KINDS[c] for c in columns}
        sig = signature(syn[columns], ref[columns], kinds)
        assert sig.names == FEATURES
        assert sig.vector.dtype == np.float32
        assert np.isfinite(sig.vector).all()
        assert sig.rows == (400, 400)
        assert 0 < sig.seconds < 10
        shapes.append(sig.vector.shape)
        if columns == labels_only:
            # Nothing numeric to measure: those features sit at their null values.
            values = sig.as_dict()
            for name in ("ks_mean", "ks_max", "std_ratio_min", "tail_mass_kept",
                         "effective_rank_ratio"):
                assert values[name] == NULL_VALUES[name]
    assert shapes == [(len(FEATURES),)] * 3


def test_deterministic_given_the_seed() -> None:
    ref, syn = _halves(3000, 1)
    first = signature(syn, ref, KINDS, seed=7).vector
    again = signature(syn.copy(), ref.copy(), KINDS, seed=7).vector
    np.testing.assert_array_equal(first, again)
    # Under MARGINAL_ROWS a side the seed only picks the halvings: the features compared at
    # equal sizes move by sampling noise, the others not at all.
    other = signature(syn, ref, KINDS, seed=8).vector
    halved = [FEATURES.index(f) for f in ("association_change_mean", "association_change_max",
                                          "effective_rank_ratio", "coverage_change",
                                          "precision_change")]
    rest = [i for i in range(len(FEATURES)) if i not in halved]
    np.testing.assert_array_equal(other[rest], first[rest])
    assert not np.array_equal(other[halved], first[halved])
    np.testing.assert_allclose(other[halved], first[halved], atol=0.6)


@pytest.mark.parametrize("n", [300, 5000])
def test_real_against_real_sits_at_the_null_values_at_any_size(n: int) -> None:
    ref, syn = _halves(n, n)
    v = _values(syn, ref)
    assert abs(v["ks_mean"]) < 0.3 and v["ks_max"] < 0.6
    assert abs(v["tvd_mean"]) < 0.6
    assert -1.8 < v["std_ratio_min"] < 0.5 and abs(v["std_ratio_mean"]) < 1.2
    assert 0.6 < v["tail_mass_kept"] < 1.5
    assert abs(v["rare_mass_kept"]) < 0.1
    assert v["entropy_ratio_min"] > -0.1 and abs(v["entropy_ratio_mean"]) < 0.05
    assert v["duplicate_excess"] == 0.0 and v["copy_excess"] == 0.0
    assert abs(v["association_change_mean"]) < 0.4
    assert abs(v["effective_rank_ratio"]) < 0.1
    assert abs(v["coverage_change"]) < 0.1 and abs(v["precision_change"]) < 0.1
    assert abs(v["missing_change"]) < 0.7


def test_shrunk_variance_moves_the_spread_and_tail_features() -> None:
    ref, syn = _halves(1000, 3)
    null = _values(syn, ref)
    shrunk = syn.copy()
    for column in ("a", "b", "c"):
        median = shrunk[column].median()
        shrunk[column] = median + 0.5 * (shrunk[column] - median)
    v = _values(shrunk, ref)
    # log(0.5) is about 30 noise scales at 1,000 rows a side: signed log(1 + 30) = 3.4.
    assert v["std_ratio_min"] < -3.0 < null["std_ratio_min"]
    assert v["std_ratio_mean"] < -2.0 < null["std_ratio_mean"]
    assert v["tail_mass_kept"] < 0.6 < null["tail_mass_kept"]
    assert v["ks_mean"] > 0.5 > null["ks_mean"]
    # Labels untouched: their features do not move.
    assert v["tvd_mean"] == pytest.approx(null["tvd_mean"])
    assert v["duplicate_excess"] == 0.0 and v["copy_excess"] == 0.0


def test_duplicated_rows_move_duplicate_excess_by_their_share() -> None:
    ref, syn = _halves(1000, 4)
    rng = np.random.default_rng(0)
    duplicated = syn.copy()
    rows = rng.choice(1000, 500, replace=False)
    duplicated.iloc[rows] = syn.iloc[rng.choice(1000, 500)].to_numpy()
    expected = float(duplicated[COMPARED].duplicated().mean())
    assert 0.25 < expected < 0.5
    v = _values(duplicated, ref)
    assert v["duplicate_excess"] == pytest.approx(expected, abs=1e-6)  # float32
    assert v["copy_excess"] == 0.0


def test_memorized_rows_move_copy_excess_by_their_share() -> None:
    ref, syn = _halves(1000, 5)
    rng = np.random.default_rng(0)
    memorized = syn.copy()
    memorized.iloc[rng.choice(1000, 400, replace=False)] = \
        ref.iloc[rng.choice(1000, 400, replace=False)].to_numpy()
    v = _values(memorized, ref)
    assert v["copy_excess"] == pytest.approx(0.4, abs=1e-6)
    assert v["duplicate_excess"] == 0.0


def test_copies_are_measured_against_the_references_own_overlap() -> None:
    # A coarse table repeats rows naturally: a real sample matches the reference about as
    # often as the reference matches itself, and copy_excess stays near 0.
    rng = np.random.default_rng(6)
    full = pd.DataFrame({"x": rng.integers(0, 4, 4000), "y": rng.choice(["p", "q"], 4000)})
    kinds = {"x": "integer", "y": "categorical"}
    ref, syn = full.iloc[:2000], full.iloc[2000:]
    raw_copies = float(np.isin(prepare(syn, ref, kinds).synthetic.row_hash,
                               prepare(syn, ref, kinds).reference.row_hash).mean())
    assert raw_copies == 1.0
    assert signature(syn, ref, kinds).as_dict()["copy_excess"] == pytest.approx(0.0)


def test_too_few_rows_is_an_input_error() -> None:
    ref, syn = _halves(50, 0)
    with pytest.raises(SynthosInputError, match="reference"):
        signature(syn, ref.head(5), KINDS)
    with pytest.raises(SynthosInputError, match="synthetic"):
        signature(syn.head(2), ref, KINDS)


def test_a_hundred_thousand_rows_take_seconds() -> None:
    ref, syn = _halves(100_000, 9)
    sig = signature(syn, ref, KINDS)
    assert sig.seconds < 10
    assert abs(sig.as_dict()["ks_mean"]) < 0.3


# --------------------------------------------------------------------------- libraries


@pytest.fixture(scope="module")
def small_library(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, object]:
    uri = str(tmp_path_factory.mktemp("prescreen") / "library")
    return uri, build_library(uri, ["star98", "dietox"], [0])


def test_build_library_adds_every_case_with_its_kind(small_library) -> None:
    uri, report = small_library
    library = SignatureLibrary.open(uri)
    assert report.added == len(library) == 36
    assert library.pending == 0  # compacted
    assert library.spec == signature_spec()
    rows = library.entries().to_pylist()
    expected = {c.name: c for c in generate_cases(["star98", "dietox"], [0])}
    assert {r["source"] for r in rows} == set(expected)
    for row in rows:
        case = expected[row["source"]]
        assert row["kind"] == ("healthy" if case.label == "healthy" else case.family)
        assert row["verdict"] == case.label
    kinds = Counter(r["kind"] for r in rows)
    assert kinds["healthy"] == 8
    assert all(kinds[f] == 4 for f in kinds if f != "healthy") and len(kinds) == 8
    assert report.kinds == dict(kinds)


def test_a_collapsed_case_scores_higher_risk_than_healthy_ones(small_library) -> None:
    uri, _ = small_library
    library = SignatureLibrary.open(uri)
    risks: dict[str, float] = {}
    kinds: dict[str, dict[str, float]] = {}
    # Another dataset and seed than the library's: only the families are shared.
    for case in generate_cases(["breast_cancer"], [1], families=[
            "holdout", "subsample", "enlarged", "jitter", "memorization",
            "broken_correlations", "duplicates"], severities=["high"]):
        lookup = library.query(signature(case.synthetic, case.reference,
                                         kinds_of(case.reference)).vector)
        risks[case.family] = lookup.risk
        kinds[case.family] = lookup.kinds
    healthy = max(risks[f] for f in ("holdout", "subsample", "enlarged", "jitter"))
    for family in ("memorization", "broken_correlations", "duplicates"):
        assert risks[family] > healthy + 10, (family, risks)
        assert family in kinds[family]


def test_cli_build_library_writes_a_library_that_opens(tmp_path: Path, capsys) -> None:
    uri = str(tmp_path / "cli-library")
    assert main(["prescreen", "build-library", "--library", uri, "--datasets", "star98",
                 "--seeds", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"added 18 entries (4 healthy, 14 collapsed) to {uri}" in out
    library = SignatureLibrary.open(uri)
    assert len(library) == 18 and library.dim == len(FEATURES)
    assert all(s.endswith("/1") for s in library.entries().column("source").to_pylist())


def test_cli_bad_input_exits_2_with_one_line(tmp_path: Path, capsys) -> None:
    uri = str(tmp_path / "never")
    assert main(["prescreen", "build-library", "--library", uri,
                 "--datasets", "no_such_table"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no_such_table" in err
    assert not Path(uri).exists()
    with pytest.raises(SystemExit) as stop:
        main(["prescreen", "build-library", "--seeds", "-1"])
    assert stop.value.code == 2


def test_build_library_outside_a_checkout_says_so(monkeypatch, tmp_path: Path) -> None:
    for name in [m for m in sys.modules if m == "benchmarks" or m.startswith("benchmarks.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "benchmarks", None)  # not importable
    monkeypatch.setattr(seed_module, "_CHECKOUT", tmp_path)  # and no checkout around
    with pytest.raises(SynthosInputError, match="checkout of the synthos repository") as err:
        build_library(str(tmp_path / "lib"), "calibration", [0])
    assert "\n" not in str(err.value)
    assert not (tmp_path / "lib").exists()


def test_library_of_another_signature_version_is_refused(tmp_path: Path) -> None:
    uri = str(tmp_path / "old")
    SignatureLibrary.create(uri, len(FEATURES), spec={**signature_spec(), "version": 0})
    with pytest.raises(SynthosInputError, match="another kind or version"):
        build_library(uri, "star98", [0])
    with pytest.raises(SynthosInputError, match="another kind or version"):
        open_default_library(uri)


# --------------------------------------------------------------------------- default library


def test_default_library_is_created_from_the_packaged_seed(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SYNTHOS_HOME", str(tmp_path))
    seed = SignatureLibrary.open(str(seed_module.seed_library_files()))
    assert len(seed) == 324  # CALIBRATION's 6 datasets x 3 seeds x 18 cases
    library = open_default_library()
    assert Path(library.uri) == tmp_path / "signatures"
    assert (tmp_path / "signatures" / "library.json").is_file()
    assert len(library) == len(seed) and library.spec == signature_spec()
    assert library.entries().column("id").to_pylist() == seed.entries().column("id").to_pylist()
    np.testing.assert_array_equal(library.vectors(), seed.vectors())
    ref, syn = _halves(500, 11)
    assert 0.0 <= library.query(signature(syn, ref, KINDS).vector).risk <= 100.0
    # A second call opens what is there: entries added since are kept.
    library.add(np.zeros(len(FEATURES)), "healthy", "test")
    assert len(open_default_library()) == len(seed) + 1


def test_packaged_seed_holds_signatures_this_code_computes() -> None:
    seed = SignatureLibrary.open(str(seed_module.seed_library_files()))
    by_source = dict(zip(seed.entries().column("source").to_pylist(), seed.vectors(),
                         strict=True))
    checked = 0
    for case in generate_cases(["star98"], [2], families=["holdout", "memorization"]):
        expected = signature(case.synthetic, case.reference, kinds_of(case.reference)).vector
        np.testing.assert_allclose(by_source[case.name], expected, rtol=1e-5, atol=1e-6)
        checked += 1
    assert checked == 3
    assert math.isclose(float(np.mean([s.startswith("star98/") for s in by_source])), 1 / 6)
