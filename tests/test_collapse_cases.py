"""Collapse benchmark cases: real tables load offline, and each family does what it says.

Every claim is checked on the tables the benchmark ships with, through the same ``generate_cases``
a benchmark run calls; the recursive generator is also checked on a table built to have rare levels.
"""

from __future__ import annotations

import socket

import numpy as np
import pandas as pd
import pytest

from benchmarks.collapse import cases as cs
from benchmarks.collapse.datasets import (
    CALIBRATION,
    DATASETS,
    HELD_OUT,
    SOURCES,
    STRING,
    TARGETS,
    column_kinds,
    load,
    split,
)

# (rows, columns) each loader promises; README.md's table says the same.
EXPECTED_SHAPES = {
    "breast_cancer": (569, 31),
    "diabetes": (442, 11),
    "digits": (1797, 62),
    "anes96": (944, 10),
    "fair": (6366, 9),
    "modechoice": (840, 8),
    "randhie": (20190, 8),
    "star98": (303, 14),
    "dietox": (861, 5),
    "docvis": (3629, 15),
    "birthweight": (4642, 22),
    "penguins": (344, 8),
}

ALLOWED_DTYPES = ("float64", "int64", "bool")


def _row_hashes(frame: pd.DataFrame) -> np.ndarray:
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def _case(dataset: str, family: str, severity: str = "none", seed: int = 0) -> cs.Case:
    levels = cs.SEVERITIES if severity == "none" else [severity]
    (case,) = [c for c in cs.generate_cases([dataset], seeds=[seed], families=[family],
                                            severities=levels)
               if c.severity == severity]
    return case


@pytest.fixture(scope="module")
def all_cases() -> list[cs.Case]:
    return list(cs.generate_cases(list(DATASETS), seeds=[0]))


# ---------------------------------------------------------------------------------------------
# datasets


def test_every_dataset_loads_offline_with_the_promised_shape(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a dataset loader tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert set(DATASETS) == set(EXPECTED_SHAPES) == set(TARGETS) == set(SOURCES)
    with_labels = 0
    for name, loader in DATASETS.items():
        frame = loader()
        assert frame.shape == EXPECTED_SHAPES[name], name
        assert len(frame) >= 300 and frame.shape[1] >= 4
        assert isinstance(frame.index, pd.RangeIndex)
        assert not frame.isna().all(axis=1).any(), name
        assert (frame.nunique(dropna=True) > 1).all(), f"{name}: constant column"
        for col, dtype in frame.dtypes.items():
            assert str(dtype) in ALLOWED_DTYPES or dtype == STRING, (name, col, dtype)
        if TARGETS[name] is not None:
            assert TARGETS[name] in frame.columns
        with_labels += "categorical" in column_kinds(frame).values()
        # Deterministic: a second load is the same table.
        pd.testing.assert_frame_equal(frame, loader())
    assert with_labels >= 4
    assert sum(rows >= 5000 for rows, _ in EXPECTED_SHAPES.values()) >= 2


def test_calibration_and_held_out_partition_the_datasets():
    assert not set(CALIBRATION) & set(HELD_OUT)
    assert set(CALIBRATION) | set(HELD_OUT) == set(DATASETS)
    for group in (CALIBRATION, HELD_OUT):
        rows = [EXPECTED_SHAPES[n][0] for n in group]
        assert min(rows) < 600 and max(rows) >= 5000


def test_split_is_disjoint_covers_every_row_and_repeats():
    frame = load("penguins")
    frame["row"] = np.arange(len(frame))
    reference, other = split(frame, 7)
    assert len(reference) == len(frame) // 2 and len(reference) + len(other) == len(frame)
    assert not set(reference["row"]) & set(other["row"])
    assert set(reference["row"]) | set(other["row"]) == set(range(len(frame)))
    again, _ = split(frame, 7)
    pd.testing.assert_frame_equal(reference, again)
    assert set(split(frame, 8)[0]["row"]) != set(reference["row"])


# ---------------------------------------------------------------------------------------------
# every case


def test_cases_keep_the_reference_schema_and_their_labels(all_cases):
    counts: dict[str, int] = {}
    for case in all_cases:
        counts[case.dataset] = counts.get(case.dataset, 0) + 1
        assert list(case.synthetic.columns) == list(case.reference.columns), case.name
        assert (case.synthetic.dtypes == case.reference.dtypes).all(), case.name
        assert isinstance(case.synthetic.index, pd.RangeIndex)
        if case.family in cs.HEALTHY_FAMILIES:
            assert (case.label, case.severity) == ("healthy", "none"), case.name
        else:
            assert case.label == "collapsed" and case.severity in cs.SEVERITIES, case.name
        assert case.description.startswith(case.family)
    assert counts == {name: 18 for name in DATASETS}


def test_same_seed_gives_identical_cases_whatever_else_is_asked():
    first = list(cs.generate_cases(["penguins", "star98"], seeds=[3]))
    second = list(cs.generate_cases(["penguins", "star98"], seeds=[3]))
    alone = {c.name: c for c in cs.generate_cases(["star98"], seeds=[3],
                                                  families=["recursive", "duplicates"])}
    assert [c.name for c in first] == [c.name for c in second]
    for a, b in zip(first, second, strict=True):
        pd.testing.assert_frame_equal(a.synthetic, b.synthetic)
        pd.testing.assert_frame_equal(a.reference, b.reference)
        if a.name in alone:
            pd.testing.assert_frame_equal(a.synthetic, alone[a.name].synthetic)
    other_seed = {c.name.rsplit("/", 1)[0]: c for c in cs.generate_cases(["star98"], seeds=[4])}
    case = next(c for c in first if c.name == "star98/duplicates/high/3")
    assert not case.synthetic.equals(other_seed["star98/duplicates/high"].synthetic)


# ---------------------------------------------------------------------------------------------
# healthy cases


def test_healthy_cases_are_untouched_real_rows():
    reference, other = cs.halves("fair", 0)
    holdout = _case("fair", "holdout")
    pd.testing.assert_frame_equal(holdout.reference, reference)
    pd.testing.assert_frame_equal(holdout.synthetic, other)

    sub = _case("fair", "subsample")
    assert len(sub.synthetic) == round(0.3 * len(reference))
    pd.testing.assert_frame_equal(sub.synthetic,
                                  other.iloc[sub.details["rows"]].reset_index(drop=True))
    assert not sub.synthetic.index.duplicated().any()
    assert len(np.unique(sub.details["rows"])) == len(sub.synthetic)

    big = _case("penguins", "enlarged")
    full = load("penguins")
    assert len(big.synthetic) == pytest.approx(3 * len(big.reference), abs=3)
    rows = np.concatenate([big.details["reference_rows"], big.details["synthetic_rows"]])
    assert sorted(rows) == list(range(len(full)))
    pd.testing.assert_frame_equal(
        big.synthetic, full.iloc[big.details["synthetic_rows"]].reset_index(drop=True))


def test_jitter_is_one_percent_noise_on_numbers_only():
    case = _case("penguins", "jitter")
    _, other = cs.halves("penguins", 0)
    kinds = column_kinds(other)
    for col, kind in kinds.items():
        if kind == "numeric":
            diff = (case.synthetic[col] - other[col]).dropna()
            assert diff.std() / other[col].std() == pytest.approx(0.01, rel=0.2), col
            assert case.synthetic[col].isna().equals(other[col].isna())
        elif kind == "integer":
            assert (case.synthetic[col] - other[col]).abs().max() <= 1
        else:
            pd.testing.assert_series_equal(case.synthetic[col], other[col])


# ---------------------------------------------------------------------------------------------
# collapsed cases


@pytest.mark.parametrize("severity,q", [("low", 0.025), ("high", 0.10)])
def test_tail_truncation_moves_the_tails_in(severity, q):
    case = _case("breast_cancer", "tail_truncation", severity)
    _, other = cs.halves("breast_cancer", 0)
    assert len(case.synthetic) == len(other)
    for col in other.columns[:-1]:
        lo, hi = np.quantile(other[col], [q, 1 - q])
        values = case.synthetic[col]
        assert values.min() >= lo and values.max() <= hi, col
        # The extreme quantiles have moved inside the real ones.
        assert values.quantile(0.005) > other[col].quantile(0.005), col
        assert values.quantile(0.995) < other[col].quantile(0.995), col
    # Every synthetic row is a real row of the other half.
    assert set(_row_hashes(case.synthetic)) <= set(_row_hashes(other))


@pytest.mark.parametrize("dataset", ["penguins", "fair"])
@pytest.mark.parametrize("severity,factor", [("low", 0.85), ("high", 0.5)])
def test_variance_shrinkage_scales_std_by_the_factor(dataset, severity, factor):
    case = _case(dataset, "variance_shrinkage", severity)
    _, other = cs.halves(dataset, 0)
    for col, kind in column_kinds(other).items():
        if kind in ("numeric", "integer"):
            ratio = case.synthetic[col].std() / other[col].std()
        if kind == "numeric":
            assert ratio == pytest.approx(factor, rel=0.01), col
            assert case.synthetic[col].median() == pytest.approx(other[col].median())
        elif kind == "integer":
            # Rounding back to whole numbers blurs the factor; it never widens the column.
            assert ratio <= 1.0 + 1e-9, col
        else:
            pd.testing.assert_series_equal(case.synthetic[col], other[col])


@pytest.mark.parametrize("severity", cs.SEVERITIES)
def test_mode_collapse_removes_the_rarest_levels(severity):
    case = _case("anes96", "mode_collapse", severity)
    _, other = cs.halves("anes96", 0)
    dropped = case.details["dropped_levels"]
    assert set(dropped) == {"PID", "educ"}  # vote has two levels: never dropped
    for col, gone in dropped.items():
        counts = other[col].value_counts()
        share = cs.SEVERITY_PARAMS["mode_collapse"][severity]
        assert len(gone) == max(1, int(np.floor(share * len(counts) + 0.5)))
        # The dropped levels are the rarest ones.
        assert counts[gone].max() <= counts.drop(gone).min()
        assert not case.synthetic[col].isin(gone).any()
        assert set(case.synthetic[col]) == set(counts.index) - set(gone)
    assert len(case.synthetic) == len(other)


@pytest.mark.parametrize("severity,k", [("low", 1), ("high", 3)])
def test_mode_collapse_drops_clusters_of_numeric_tables(severity, k):
    case = _case("breast_cancer", "mode_collapse", severity)
    _, other = cs.halves("breast_cancer", 0)
    gone = case.details["dropped_clusters"]
    assert len(gone) == k
    before = cs.cluster_labels(other, case.details)
    after = cs.cluster_labels(case.synthetic, case.details)
    assert np.isin(before, gone).any()
    assert not np.isin(after, gone).any()
    sizes = np.bincount(before, minlength=cs.N_CLUSTERS)
    assert sizes[gone].max() <= np.delete(sizes, gone).min()
    assert len(case.synthetic) == len(other)


@pytest.mark.parametrize("severity,share", [("low", 0.2), ("high", 0.6)])
def test_memorization_copies_exactly_the_promised_share(severity, share):
    case = _case("breast_cancer", "memorization", severity)
    reference, other = cs.halves("breast_cancer", 0)
    n = len(other)
    copies = np.isin(_row_hashes(case.synthetic), _row_hashes(reference))
    # breast_cancer has no row in both halves, so every copy is one the corruption made.
    assert not np.isin(_row_hashes(other), _row_hashes(reference)).any()
    assert copies.sum() == round(share * n)
    assert np.array_equal(np.flatnonzero(copies), case.details["rows"])
    untouched = np.setdiff1d(np.arange(n), case.details["rows"])
    pd.testing.assert_frame_equal(case.synthetic.iloc[untouched], other.iloc[untouched])
    # Distinct reference rows: memorization does not also make duplicates.
    assert not case.synthetic.duplicated().any()


def test_memorization_on_a_table_with_natural_repeats_copies_at_least_the_share():
    case = _case("randhie", "memorization", "low")
    reference, _ = cs.halves("randhie", 0)
    copies = np.isin(_row_hashes(case.synthetic), _row_hashes(reference)).mean()
    assert copies >= 0.2


@pytest.mark.parametrize("severity,share", [("low", 0.3), ("high", 1.0)])
def test_broken_correlations_keep_marginals_and_lose_dependence(severity, share):
    case = _case("breast_cancer", "broken_correlations", severity)
    _, other = cs.halves("breast_cancer", 0)
    permuted = case.details["permuted_columns"]
    assert len(permuted) == int(np.floor(share * other.shape[1] + 0.5))
    for col in other.columns:
        if col in permuted:
            assert sorted(case.synthetic[col]) == sorted(other[col]), col
            assert not case.synthetic[col].equals(other[col])
        else:
            pd.testing.assert_series_equal(case.synthetic[col], other[col])
    numeric = [c for c in other.columns[:-1]]
    before = other[numeric].corr().abs()
    after = case.synthetic[numeric].corr().abs()
    for col in (c for c in permuted if c in numeric):
        rest = [c for c in numeric if c != col]
        assert after.loc[col, rest].mean() < 0.1 < before.loc[col, rest].mean(), col


@pytest.mark.parametrize("severity,share", [("low", 0.3), ("high", 0.7)])
def test_duplicates_reach_the_promised_share(severity, share):
    case = _case("breast_cancer", "duplicates", severity)
    _, other = cs.halves("breast_cancer", 0)
    assert not other.duplicated().any()
    assert case.synthetic.duplicated().sum() == round(share * len(other))
    # Copies come from the synthetic rows themselves, never from the reference.
    assert set(_row_hashes(case.synthetic)) <= set(_row_hashes(other))


def test_recursive_generator_loses_rare_levels_over_generations():
    rng = np.random.default_rng(0)
    n = 2000
    zipf = 1.0 / np.arange(1, 41) ** 1.3
    frame = pd.DataFrame({
        "x": rng.standard_normal(n),
        "y": rng.gamma(2.0, 1.0, n),
        "k": rng.integers(0, 100, n),
        "level": pd.Series(rng.choice([f"L{i:02d}" for i in range(40)], size=n,
                                      p=zipf / zipf.sum())).astype(STRING),
    })
    levels = frame["level"].nunique()
    lost = []
    for generations in (1, 20):
        sample = cs.recursive_sample(frame, generations, np.random.default_rng(1))
        pd.testing.assert_series_equal(sample.dtypes, frame.dtypes)
        assert set(sample["level"]) <= set(frame["level"])
        lost.append(levels - sample["level"].nunique())
        if generations == 20:
            # Tails recede: the sample stays inside the real range and loses its extremes.
            assert sample["y"].max() < frame["y"].quantile(0.999)
    assert lost[1] > lost[0] and lost[1] >= 3


def test_recursive_case_loses_a_rare_level_or_a_tail_on_real_data():
    case = _case("anes96", "recursive", "high")
    _, other = cs.halves("anes96", 0)
    assert case.details["generations"] == 20
    lost_levels = sum(map(len, case.details["levels_lost"].values()))
    receded = [col for col, kind in column_kinds(other).items()
               if kind in ("numeric", "integer")
               and (case.synthetic[col].max() < other[col].quantile(0.99)
                    or case.synthetic[col].min() > other[col].quantile(0.01))]
    assert lost_levels >= 1 or receded
    assert len(case.synthetic) == len(other)
