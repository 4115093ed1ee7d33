"""The benchmark of localize's rule for which detectors join the combined score."""

from __future__ import annotations

import numpy as np

from benchmarks.active_null import report, run, which_test


def test_a_detector_drawn_like_the_real_rows_stays_out_on_equal_small_halves() -> None:
    (record,) = run(draws=10, seed=0, sizes=((172, 172),))
    assert record["joined"] == 0.0 and record["by_test"] == {}
    assert "| 172 | 172 | 10 | 0.0% | — |" in report([record])


def test_the_test_that_lets_a_detector_in_is_named() -> None:
    rng = np.random.default_rng(0)
    own = np.arange(1000) / 1000
    beyond = np.r_[np.ones(30), rng.uniform(size=970)]  # 30 rows beyond every real row
    assert which_test(beyond, own).startswith("level ")  # first level it passes
    shifted = rng.uniform(size=1000) ** 0.7  # higher overall
    assert which_test(shifted, own) != "none"
    assert which_test(rng.uniform(size=1000), own) == "none"
