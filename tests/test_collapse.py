"""The collapse dimensions: real data passes against itself, each corruption fails the
dimension built to catch it, and Column Shapes equals SDMetrics' own number."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthos.collapse import DIMENSIONS, detect_collapse
from synthos.collapse.prepare import snap_to_atoms
from synthos.demo.pair import real_table


def _mixed(n: int, seed: int) -> pd.DataFrame:
    """A mixed table with dependence, a rare category, missing values, an id and text."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, n)
    group = rng.choice(["a", "b", "c", "rare"], n, p=[0.5, 0.3, 0.17, 0.03])
    frame = pd.DataFrame({
        "uid": [f"u{seed}-{i}" for i in range(n)],
        "x": x,
        "y": 2 * x + rng.normal(0, 0.5, n) + (group == "b") * 1.5,
        "count": rng.poisson(4 + 2 * (group == "c"), n),
        "group": group,
        "flag": x + rng.normal(0, 1, n) > 0,
        "note": [" ".join(rng.choice(["big", "small", "red", "blue"], 5)) for _ in range(n)],
    })
    frame.loc[rng.random(n) < 0.05, "x"] = np.nan
    return frame


KINDS = {"uid": "id", "x": "numeric", "y": "numeric", "count": "integer",
         "group": "categorical", "flag": "boolean", "note": "text"}


@pytest.fixture(scope="module")
def real() -> pd.DataFrame:
    return _mixed(4000, 0)


def _run(synthetic: pd.DataFrame, reference: pd.DataFrame) -> dict[str, float]:
    result = detect_collapse(synthetic, reference, KINDS, target="group", seed=0)
    return {d.name: d.score for d in result.dimensions}


@pytest.mark.parametrize("ratio", [0.3, 1.0, 3.0])
def test_real_against_real_passes_at_every_size_ratio(ratio: float) -> None:
    """Two independent samples of one population pass, whatever their relative size."""
    reference = _mixed(1500, 1)
    synthetic = _mixed(int(1500 * ratio), 2)
    result = detect_collapse(synthetic, reference, KINDS, target="group")
    assert result.verdict == "pass", {d.name: d.score for d in result.dimensions}
    assert [d.name for d in result.dimensions] == list(DIMENSIONS)


def test_shrunk_variance_fails_tails(real: pd.DataFrame) -> None:
    reference, other = real.iloc[:2000], real.iloc[2000:].copy()
    for col in ("x", "y"):
        other[col] = other[col].median() + 0.5 * (other[col] - other[col].median())
    scores = _run(other, reference)
    assert scores["tail_preservation"] < 20
    assert scores["distribution_fidelity"] < 50


def test_copied_reference_rows_fail_novelty(real: pd.DataFrame) -> None:
    reference, other = real.iloc[:2000], real.iloc[2000:].reset_index(drop=True)
    copies = other.copy()
    copies.iloc[:1200] = reference.iloc[:1200].to_numpy()
    scores = _run(copies, reference)
    assert scores["novelty"] < 5
    assert scores["distribution_fidelity"] == 100  # copies look perfect to marginal tests


def test_independently_permuted_columns_fail_correlation(real: pd.DataFrame) -> None:
    reference, other = real.iloc[:2000], real.iloc[2000:].copy()
    rng = np.random.default_rng(5)
    for col in ("x", "y", "count", "group", "flag"):
        other[col] = rng.permutation(other[col].to_numpy())
    scores = _run(other, reference)
    assert scores["correlation_preservation"] < 10
    assert scores["mutual_information"] < 10
    assert scores["distribution_fidelity"] == 100  # marginals are untouched


def test_repeated_rows_fail_diversity(real: pd.DataFrame) -> None:
    reference, other = real.iloc[:2000], real.iloc[2000:].reset_index(drop=True)
    repeated = other.copy()
    repeated.iloc[1000:] = other.iloc[:1000].to_numpy()
    scores = _run(repeated, reference)
    assert scores["diversity_entropy"] < 10


def test_dropped_rare_category_fails_tails(real: pd.DataFrame) -> None:
    reference, other = real.iloc[:2000], real.iloc[2000:]
    kept = other[other["group"] != "rare"]
    result = detect_collapse(kept, reference, KINDS, target="group")
    tails = next(d for d in result.dimensions if d.name == "tail_preservation")
    rare = next(s for s in tails.details["statistics"] if s["name"] == "rare_category_loss")
    assert rare["observed"] == 1.0 and rare["null_mean"] == 0.0
    assert rare["worst"][0]["part"] == "group"
    assert not tails.passed


def test_details_name_excluded_columns_and_worst_parts(real: pd.DataFrame) -> None:
    reference, other = real.iloc[:2000], real.iloc[2000:].copy()
    other.loc[other.sample(frac=0.4, random_state=0).index, "count"] = np.nan
    result = detect_collapse(other, reference, KINDS)
    fidelity = result.dimensions[0]
    assert fidelity.details["excluded_columns"] == {
        "uid": "identifier: one distinct value per row",
        "note": "free text: compared by the diversity stage"}
    miss = next(s for s in fidelity.details["statistics"] if s["name"] == "missingness")
    assert miss["worst"][0]["part"] == "count"
    assert miss["worst"][0]["observed"] == pytest.approx(0.4, abs=0.05)
    assert not fidelity.passed


def test_same_inputs_same_scores(real: pd.DataFrame) -> None:
    reference, other = real.iloc[:2000], real.iloc[2000:]
    first = detect_collapse(other, reference, KINDS, seed=3).to_dict()
    second = detect_collapse(other, reference, KINDS, seed=3).to_dict()
    first.pop("seconds")
    second.pop("seconds")
    assert first == second


def test_column_shapes_equals_sdmetrics() -> None:
    """Our Column Shapes is SDMetrics' QualityReport property, to 1e-9."""
    from sdmetrics.reports.single_table import QualityReport

    real = real_table()
    reference = real.iloc[:300].reset_index(drop=True)
    synthetic = real.iloc[300:].reset_index(drop=True).copy()
    synthetic["mean_radius"] = synthetic["mean_radius"] * 1.1  # something to disagree on
    synthetic.loc[:40, "diagnosis"] = "benign"
    kinds = {c: ("categorical" if c == "diagnosis" else "numeric") for c in real.columns}
    ours = detect_collapse(synthetic, reference, kinds).column_shapes
    metadata = {"columns": {c: {"sdtype": "categorical" if k == "categorical" else "numerical"}
                            for c, k in kinds.items()}}
    report = QualityReport()
    report.generate(reference, synthetic, metadata, verbose=False)
    theirs = report.get_properties().set_index("Property").loc["Column Shapes", "Score"]
    assert ours == pytest.approx(float(theirs), abs=1e-9)
    details = report.get_details("Column Shapes").set_index("Column")["Score"]
    mine = detect_collapse(synthetic, reference, kinds).dimensions[0].details["column_shapes"]
    for column, value in details.items():
        assert mine["columns"][column] == pytest.approx(float(value), abs=1e-6), column


def test_snapping_sends_noise_and_reference_to_the_same_atom() -> None:
    """Grid values with noise return to the grid; where atoms crowd, a noisy value and the
    light atom it lands near both go to the heavy atom; values the reference never repeats
    stay as they are."""
    reference = np.r_[np.repeat([0.0, 5.0, 10.0], 50), [5.02, 5.02], np.linspace(20, 30, 40)]
    noisy = np.array([0.03, 4.97, 5.015, 9.99, 5.02, 25.123, np.nan])
    snapped = snap_to_atoms(noisy, reference)
    assert snapped[:5].tolist() == [0.0, 5.0, 5.0, 10.0, 5.0]
    assert snapped[5] == 25.123 and np.isnan(snapped[6])
    assert snap_to_atoms(reference, reference)[150:152].tolist() == [5.0, 5.0]


def _gridded(n: int, seed: int) -> pd.DataFrame:
    """Floats that live on atoms: ages on a 5-year grid, a zero-inflated amount, log prices."""
    rng = np.random.default_rng(seed)
    age = rng.choice([17.5, 22.0, 27.0, 32.0, 37.0, 42.0], n, p=[0.05, 0.25, 0.3, 0.2, 0.1, 0.1])
    spent = np.where(rng.random(n) < 0.6, 0.0, np.round(rng.exponential(2.0, n), 2))
    price = np.log(rng.choice(np.arange(100, 1000, 3), n) * 1.0)
    return pd.DataFrame({"age": age, "spent": spent + 0.1 * age, "price": price,
                         "kind": rng.choice(["a", "b", "c"], n)})


def test_rounding_noise_on_gridded_floats_is_not_collapse() -> None:
    """Another sample with 1% noise on its floats (a good generator's small errors) passes;
    without comparing at the reference's resolution, KS and the classifier flag it."""
    kinds = {"age": "numeric", "spent": "numeric", "price": "numeric", "kind": "categorical"}
    reference, synthetic = _gridded(4000, 0), _gridded(4000, 1)
    rng = np.random.default_rng(2)
    for col in ("age", "spent", "price"):
        synthetic[col] += rng.normal(0, 0.01 * synthetic[col].std(), len(synthetic))
    result = detect_collapse(synthetic, reference, kinds)
    assert not result.collapse_detected, {d.name: d.score for d in result.dimensions}
    coverage = next(d for d in result.dimensions if d.name == "coverage")
    auc = next(s for s in coverage.details["statistics"] if s["name"] == "classifier_auc")
    assert auc["observed"] < 0.55


def test_installed_thresholds_are_the_benchmark_calibration() -> None:
    """The package judges with the thresholds the collapse benchmark calibrated and recorded."""
    import json
    from pathlib import Path

    from synthos.collapse.thresholds import load_thresholds

    thresholds, provenance = load_thresholds()
    record = json.loads((Path(__file__).parents[1] / "benchmarks" / "collapse"
                         / "thresholds.json").read_text())
    assert thresholds == record["thresholds"]
    assert set(thresholds) == set(DIMENSIONS)
    assert provenance.startswith("calibrated on " + ", ".join(record["calibration_datasets"]))
