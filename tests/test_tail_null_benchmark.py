"""The tail-calibration benchmark's exchangeable reference and its splits."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import tail_null as tn


def test_the_exchangeable_tail_is_the_chance_that_the_top_places_are_all_synthetic() -> None:
    assert tn.exchangeable_tail(1, 1, 1) == pytest.approx(0.5)
    assert tn.exchangeable_tail(2, 2, 2) == pytest.approx(1 / 6)  # 1 of C(4, 2) orderings
    assert tn.exchangeable_tail(3, 5, 4) == 0.0
    # Against a simulation of exchangeable statistics.
    rng = np.random.default_rng(0)
    n = m = 20
    hits = 0
    for _ in range(20_000):
        x = rng.normal(size=n + m)
        hits += np.sum(x[:n] > x[n:].max()) >= 3
    assert hits / 20_000 == pytest.approx(tn.exchangeable_tail(n, m, 3), abs=0.006)


def test_one_draw_reports_every_score_column_and_the_flags() -> None:
    (record,) = tn.run(["penguins"], draws=1)
    assert record["synthetic"] == 172 and record["real"] == 172
    assert {"score", "score_memorization", "score_out_of_support"} <= set(record["beyond"])
    text = tn.report([record])
    assert "| penguins | 172/172 | score_memorization |" in text
    assert "exchangeable" in text and "1 draws" in text
