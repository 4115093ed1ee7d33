"""The recommendation benchmark's per-case record is consistent with what it summarizes.

One small collapsed case (penguins, duplicates, high; tables capped at 300 rows) goes through
detect, localize and recommend; the record's fields must agree with one another.
"""

from __future__ import annotations

import pytest
from threadpoolctl import threadpool_limits

from benchmarks import recommend as rb
from benchmarks.collapse.cases import generate_cases


@pytest.fixture(scope="module")
def record() -> dict:
    case = next(c for c in generate_cases(["penguins"], families=["duplicates"],
                                          severities=["high"]) if c.label == "collapsed")
    with threadpool_limits(1):
        return rb.run_case(case, max_rows=300)


def test_record_is_consistent(record: dict) -> None:
    assert record["status"] == "ok"
    assert record["rows"]["synthetic_kept"] <= 300 and record["rows"]["reference_kept"] <= 300
    dim = record["dimension"]
    assert record["dimension_source"] in ("rescored", "fallback")
    assert dim in record["before"] and record["before_score"] == record["before"][dim]
    if record["dimension_source"] == "rescored":
        failed = {d: s for d, s in record["before"].items() if s < record["thresholds"][d]}
        assert record["before_score"] < record["threshold"] == record["thresholds"][dim]
        assert record["before_score"] == min(failed.values())
    evaluation = record["before_evaluation"]
    if evaluation is not None:  # additions are scored from the evaluation part's baseline
        assert record["dim_fails_on_evaluation"] == (evaluation[dim] < record["threshold"])
    measured = record["measured"]
    assert measured and all(m["raise"] == m["changes"].get(dim, 0.0) for m in measured)
    assert {m["scored_against"] for m in measured} <= {"reference", "evaluation"}
    assert record["top"]["scored_against"] == measured[0]["scored_against"]
    top, best = record["top"], record["best"]
    # The top is the first measured recommendation, and the record says what it did.
    assert top["action"] == measured[0]["action"] and top["rank"] == measured[0]["rank"]
    assert [m["rank"] for m in measured] == sorted(m["rank"] for m in measured)
    assert top["raise"] == measured[0]["changes"].get(dim, 0.0)
    assert top["raised"] == (top["raise"] > 0)
    assert top["passes_after"] == measured[0]["passes_after"]
    assert top["gain"] == measured[0]["gain"] and top["share"] == measured[0]["share"]
    # The hindsight best has the largest raise; the top is it exactly when it matches.
    assert best["raise"] == max(m["raise"] for m in measured)
    assert best["action"] in {m["action"] for m in measured}
    assert record["top_is_best"] == (top["raise"] >= best["raise"])
    # Estimates are never the top: they are not applied.
    assert top["action"] not in {"regenerate_flagged", "regenerate_with_more_diversity"}


def test_report_renders(record: dict) -> None:
    results = {"config": {"datasets": ["penguins"], "seeds": [0], "severities": ["high"],
                          "families": ["duplicates"], "max_rows": 300, "threads": 1},
               "records": [{**record, "seconds": 1.0}], "wall_s": 1.0}
    text = rb.report(results)
    assert "| duplicates | 1 | 1 | 1 |" in text and "| **all** | 1 | 1 | 1 |" in text
    assert record["top"]["action"] in text


def test_failing_dimension_falls_back_and_passes() -> None:
    thresholds = {"coverage": 50.0, "novelty": 50.0}
    rec = {"before": {"coverage": 40.0, "novelty": 30.0}, "failing_dimensions": ["coverage"]}
    assert rb.failing_dimension(rec, thresholds) == ("novelty", "rescored")
    rec = {"before": {"coverage": 60.0, "novelty": 55.0},
           "failing_dimensions": ["coverage", "novelty"]}
    assert rb.failing_dimension(rec, thresholds) == ("novelty", "fallback")
    rec = {"before": None, "failing_dimensions": []}
    assert rb.failing_dimension(rec, thresholds) == (None, "passes_on_rescoring")
