"""Recommendations: transformations are applied and re-scored, estimates say so, ranking
follows gain over cost."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthos.collapse import detect_collapse
from synthos.localize import localize
from synthos.recommend import recommend
from tests.test_localize import KINDS, _table


def _run(synthetic: pd.DataFrame, reference: pd.DataFrame) -> tuple[dict, dict]:
    collapse = detect_collapse(synthetic, reference, KINDS, target="label").to_dict()
    loc = localize(synthetic, reference, KINDS, target="label")
    return collapse, recommend(synthetic, reference, KINDS, collapse, loc.summary, loc.table,
                               target="label")


@pytest.fixture(scope="module")
def duplicated() -> tuple[dict, dict, pd.DataFrame, pd.DataFrame]:
    reference, synthetic = _table(800, 1), _table(800, 2)
    rng = np.random.default_rng(0)
    synthetic.iloc[rng.choice(800, 400, replace=False)] = synthetic.iloc[:20].sample(
        400, replace=True, random_state=0).to_numpy()
    synthetic = synthetic.astype({"x0": float, "x1": float, "x2": float, "n": int})
    return (*_run(synthetic, reference), synthetic, reference)


def test_deduplicating_is_measured_and_ranked_first(duplicated) -> None:
    collapse, doc, synthetic, reference = duplicated
    assert "diversity_entropy" in doc["failing_dimensions"]
    top = doc["recommendations"][0]
    assert top["measured"] and top["rank"] == 1
    assert top["action"] in ("deduplicate", "drop_flagged") and top["passes_after"]
    dedupe = next(r for r in doc["recommendations"] if r["action"] == "deduplicate")
    removed = int(synthetic.duplicated(subset=list(KINDS)).sum())
    assert dedupe["cost"]["rows_removed"] == removed
    # The measured "after" is the collapse stage's own score of the deduplicated table.
    again = detect_collapse(synthetic.drop_duplicates(subset=list(KINDS)).reset_index(
        drop=True), reference, KINDS, target="label",
        thresholds={d["name"]: d["threshold"] for d in collapse["dimensions"]})
    rescored = {d.name: d.score for d in again.dimensions}
    assert dedupe["after"]["diversity_entropy"] == rescored["diversity_entropy"]
    assert dedupe["after"]["diversity_entropy"] > dedupe["before"]["diversity_entropy"]
    assert dedupe["before"]["diversity_entropy"] == next(
        d["score"] for d in collapse["dimensions"] if d["name"] == "diversity_entropy")


def test_ranking_puts_measured_first_by_gain_over_cost(duplicated) -> None:
    doc = duplicated[1]
    recs = doc["recommendations"]
    measured = [r for r in recs if r["measured"]]
    assert recs[: len(measured)] == measured
    for group in (True, False):  # cures first, then the rest, each by gain over cost
        ratios = [r["gain_per_cost"] for r in measured if r["passes_after"] is group]
        assert ratios == sorted(ratios, reverse=True)
    passes = [r["passes_after"] for r in measured]
    assert passes == sorted(passes, reverse=True)
    for r in recs[len(measured):]:
        assert r["gain"] is None and r["basis"].startswith("estimate")
    mixes = [r for r in measured if r["action"] == "mix_real"]
    assert mixes and all(r["scored_against"] == "evaluation" for r in mixes)
    assert doc["scored_against"]["evaluation_rows"] + doc["scored_against"]["donor_rows"] \
        == 800


def test_healthy_table_gets_no_recommendation() -> None:
    _, doc = _run(_table(800, 2), _table(800, 1))
    assert doc["recommendations"] == [] and "nothing to fix" in doc["note"]


def test_rebalance_and_restore_tails_add_the_real_rows_each_gap_lacks() -> None:
    from synthos.recommend.actions import addition_actions

    donor = _table(800, 1)
    frame = _table(400, 2)
    frame = frame[frame["colour"] != "blue"].reset_index(drop=True)
    bound = float(donor["x2"].quantile(0.95))
    missing = {"categories": [{"column": "colour", "value": "blue", "missing_share": 0.1}],
               "tails": [{"column": "x2", "side": "upper", "bound_value": bound,
                          "missing_share": 0.05}]}
    actions = {a.name: a for a in addition_actions(frame, donor, missing,
                                                   np.random.default_rng(0))}
    n = len(frame)

    blue = actions["rebalance_categories"]
    added = blue.apply().iloc[n:]
    assert len(added) == blue.real_rows_needed == round(0.1 * n)
    assert (added["colour"] == "blue").all()
    assert blue.title == f"Rebalance categories: add {round(0.1 * n)} real rows of colour=blue"

    tails = actions["restore_tails"]
    added = tails.apply().iloc[n:]
    assert len(added) == tails.real_rows_needed == round(0.05 * n)
    assert (added["x2"] > bound).all()
    # Every added row is a donor row, drawn without repeats.
    keys = list(KINDS)
    assert added.merge(donor, on=keys).shape[0] == len(added)
    assert not added.duplicated(subset=keys).any()
