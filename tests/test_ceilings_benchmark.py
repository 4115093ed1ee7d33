"""The ceilings benchmark's likelihood ratios are the densities they claim, and its tables are
planted as it says."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal, poisson

from benchmarks import ceilings as cb
from benchmarks.localize import n_planted


def test_a_mix_of_independent_columns_is_drawn_like_a_healthy_row() -> None:
    x = np.random.default_rng(0).normal(size=(500, 6))
    ratio = cb.mix_likelihood_ratio(x, cb.equicorrelation(6, 0.0), 3)
    assert np.all(ratio == 1.0)


def test_two_column_mix_ratio_is_the_product_of_margins_over_the_joint() -> None:
    cov = cb.equicorrelation(2, 0.7)
    x = np.random.default_rng(1).normal(size=(200, 2))
    expected = (multivariate_normal(np.zeros(2), np.eye(2)).pdf(x)
                / multivariate_normal(np.zeros(2), cov).pdf(x))
    np.testing.assert_allclose(cb.mix_likelihood_ratio(x, cov, 1), expected, rtol=1e-7)


def test_mix_ratio_is_a_density_ratio_and_favours_the_mixes() -> None:
    rng = np.random.default_rng(2)
    cov = cb.equicorrelation(4, 0.6)
    healthy = cb.gaussian_table(cov, 200_000, rng)
    # E_p[q / p] = 1 for any density q: off when a subset's covariance or the mean is wrong.
    assert cb.mix_likelihood_ratio(healthy.to_numpy(), cov, 2).mean() == pytest.approx(1.0,
                                                                                         abs=0.02)
    planted = cb.plant_fresh_mixes(healthy.iloc[:4000], cov, 0.5, rng)
    log_ratio = np.log(cb.mix_likelihood_ratio(planted.synthetic.to_numpy(), cov, 2))
    # KL(q || p) > 0 on the mixes, -KL(p || q) < 0 on the healthy rows.
    assert log_ratio[planted.positives].mean() > 0.05
    assert log_ratio[~planted.positives].mean() < -0.05


def test_fresh_mixes_replace_the_planted_rows_only_with_values_no_table_holds() -> None:
    rng = np.random.default_rng(3)
    cov = cb.equicorrelation(6, 0.5)
    healthy = cb.gaussian_table(cov, 300, rng)
    planted = cb.plant_fresh_mixes(healthy, cov, 0.1, rng)
    assert planted.positives.sum() == n_planted(300, 0.1) == len(planted.rows)
    kept = ~planted.positives
    pd.testing.assert_frame_equal(planted.synthetic[kept], healthy[kept])
    new = planted.synthetic.to_numpy()[planted.positives]
    assert not np.isin(new, healthy.to_numpy()).any()
    assert all(len(s["from_first"]) == 3 for s in planted.sources)


def test_copy_ratio_is_the_reference_count_over_the_expected_count() -> None:
    reference = pd.DataFrame({"c0": [0, 0, 0, 1], "c1": [0, 0, 0, 0]})
    rows = pd.DataFrame({"c0": [0, 1, 2], "c1": [0, 0, 2]})
    ratio = cb.copy_likelihood_ratio(rows, reference, 1.5)
    p = poisson.pmf(rows.to_numpy(), 1.5).prod(axis=1)
    np.testing.assert_allclose(ratio, [0.75 / p[0], 0.25 / p[1], 0.0])


def test_reached_is_the_share_of_the_ceilings_distance_from_a_coin_toss() -> None:
    assert cb.reached(0.75, 1.0) == pytest.approx(0.5)
    assert cb.reached(0.9, 0.9) == pytest.approx(1.0)
    assert np.isnan(cb.reached(0.6, 0.52))


def test_one_table_of_rare_records_has_copies_near_certain_and_localize_finds_them() -> None:
    rec = cb.one_table("copies", 10.0, 0.05, 0, 400)
    assert rec["positives"] == n_planted(400, 0.05)
    assert rec["healthy_equal_reference"] < 0.05
    assert rec["ceiling"] > 0.99 and rec["population_ceiling"] > 0.99
    assert rec["own"] > 0.95


def test_report_prints_both_families() -> None:
    records = [{"kind": "mixed", "param": 0.9, "rate": 0.05, "seed": 0, "rows": 10,
                "positives": 3, "healthy_equal_reference": float("nan"), "ceiling": 0.95,
                "population_ceiling": 0.9, "score": 0.7, "own": 0.8, "seconds": 1.0},
               {"kind": "copies", "param": 1.0, "rate": 0.05, "seed": 0, "rows": 10,
                "positives": 3, "healthy_equal_reference": 0.8, "ceiling": 0.65,
                "population_ceiling": 0.7, "score": 0.6, "own": 0.7, "seconds": 1.0}]
    text = cb.report({"config": {"rows": 10, "seeds": [0], "threads": 1,
                                 "gaussian_columns": 6, "count_columns": 5},
                      "records": records, "wall_s": 2.0})
    assert "| 0.9 | 0.05 | 1 | 3.0 | 0.950 | 0.900 | 0.700 | 0.800 | 0.500 | 0.750 |" in text
    assert "| 1 | 0.05 | 80.0% | 1 | 3.0 | 0.650 | 0.700 | 0.600 | 0.700 | 0.500 | 1.000 |" in text


def test_population_ceilings_are_a_coin_toss_where_nothing_tells_the_rows_apart() -> None:
    rng = np.random.default_rng(4)
    assert cb.mixed_population_ceiling(cb.equicorrelation(4, 0.0), rng, 2000) == 0.5
    assert cb.mixed_population_ceiling(cb.equicorrelation(4, 0.9), rng, 2000) > 0.7
    # One record only: a copy and a fresh row are the same row.
    single = pd.DataFrame({"c0": [0] * 50, "c1": [0] * 50})
    assert cb.copy_population_ceiling(single, 1e-9, rng, 500) == 0.5
