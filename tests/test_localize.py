"""Row localization: planted bad rows are found, named and explained; healthy rows are not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from synthos.io.sample import ROW_COLUMN
from synthos.localize import localize
from synthos.localize.conformal import bh_qvalues, conformal_pvalues, conformal_scores

KINDS = {"x0": "numeric", "x1": "numeric", "x2": "numeric", "n": "integer",
         "colour": "categorical", "label": "categorical"}


def _table(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x0 = rng.normal(10.0, 2.0, rows)
    colour = rng.choice(["red", "green", "blue"], rows, p=[0.5, 0.3, 0.2])
    x1 = 0.8 * x0 + rng.normal(0, 1.0, rows) + np.where(colour == "red", 3.0, 0.0)
    return pd.DataFrame({
        "x0": x0, "x1": x1, "x2": rng.gamma(2.0, 1.5, rows),
        "n": rng.poisson(4, rows), "colour": colour,
        "label": np.where(x0 + rng.normal(0, 0.3, rows) > 10.0, "yes", "no")})


@pytest.fixture(scope="module")
def planted() -> dict:
    reference, synthetic = _table(800, 1), _table(800, 2)
    copies, outside, dups, flips = (np.arange(0, 10), np.arange(10, 20), np.arange(20, 30),
                                    np.arange(30, 40))
    synthetic.iloc[copies] = reference.iloc[100:110].to_numpy()
    # Each its own value: ten rows sharing one rare value would be a shared fragment too.
    synthetic.loc[outside, "x2"] = 60.0 + np.arange(10)
    synthetic.iloc[dups] = synthetic.iloc[dups + 100].to_numpy()
    synthetic.loc[flips, "label"] = np.where(synthetic.loc[flips, "x0"] > 11, "no", "yes")
    keep = synthetic.loc[flips, "x0"].sub(10).abs() > 1.0  # flips a model can tell
    flips = flips[keep.to_numpy()]
    synthetic = synthetic.astype({"x0": float, "x1": float, "x2": float, "n": int})
    result = localize(synthetic, reference, KINDS, target="label", seed=0)
    return {"result": result, "copies": copies, "outside": outside, "dups": dups,
            "flips": flips, "synthetic": synthetic}


def _auroc(score: np.ndarray, positive: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score
    return float(roc_auc_score(positive, score))


def test_table_has_the_contract_columns(planted: dict) -> None:
    table = planted["result"].table
    assert list(table.columns[:5]) == ["row", "score", "confidence", "flagged", "fired"]
    for name in ("detectability", "out_of_support", "inconsistency", "memorization", "duplicates",
                 "label_issue"):
        assert f"score_{name}" in table.columns
    assert "reasons" in table.columns and "nearest_reference_row" in table.columns
    assert table["row"].tolist() == list(range(800))
    assert table["score"].between(0, 1).all() and table["confidence"].between(0, 1).all()


@pytest.mark.parametrize(("kind", "detector"), [("copies", "memorization"),
                                                ("outside", "out_of_support"),
                                                ("dups", "duplicates"),
                                                ("flips", "label_issue")])
def test_each_planted_kind_is_ranked_first_by_its_detector(planted: dict, kind: str,
                                                            detector: str) -> None:
    table = planted["result"].table
    positive = np.zeros(len(table), dtype=bool)
    positive[planted[kind]] = True
    if kind == "dups":
        positive[planted["dups"] + 100] = True  # a pair has no original: both are positives
    assert _auroc(table[f"score_{detector}"].to_numpy(), positive) > 0.95
    assert _auroc(table["score"].to_numpy(), positive) > 0.9


def test_planted_rows_are_flagged_and_explained_in_units(planted: dict) -> None:
    table = planted["result"].table
    for i, row in table.iloc[planted["copies"]].iterrows():
        assert row["flagged"] and "memorization" in row["fired"]
        assert f"identical to reference row {100 + i}" in row["reasons"]
        assert row["nearest_reference_row"] == 100 + i
    hi = _table(800, 1)["x2"].max()
    for k, (_, row) in enumerate(table.iloc[planted["outside"]].iterrows()):
        assert row["flagged"] and "out_of_support" in row["fired"]
        assert f"x2 {60 + k} where real rows stop at {hi:.4g}" in row["reasons"]
    for i, row in table.iloc[planted["dups"]].iterrows():
        assert "duplicates" in row["fired"]
        assert f"repeats row {i + 100} exactly" in row["reasons"]


def test_summary_counts_flags_per_reason(planted: dict) -> None:
    summary = planted["result"].summary
    table = planted["result"].table
    assert summary["flagged"] == int(table["flagged"].sum())
    for name, count in summary["flagged_per_reason"].items():
        fired = table["fired"].str.split(",").apply(lambda f, n=name: n in f)
        assert count == int((fired & table["flagged"]).sum()), name
    assert summary["flagged_per_reason"]["memorization"] >= 10
    assert "training_influence" in summary["absent"]
    assert summary["top"][0]["values"].keys() == summary["top"][0]["nearest_values"].keys()
    # 800 rows against 800 real ones: BH at 10% needs 10 rows beyond every real row.
    assert summary["flag_floor"]["rows_needed"] == 10


@pytest.mark.parametrize(("n", "m"), [(172, 172), (285, 284), (1000, 200), (50_000, 2_000)])
def test_the_flag_floor_is_where_benjamini_hochberg_starts_to_flag(n: int, m: int) -> None:
    from synthos.localize.conformal import bh_qvalues
    from synthos.localize.locate import flag_floor

    floor = flag_floor(n, m, 0.1)
    assert floor["smallest_pvalue"] == pytest.approx(1 / (m + 1))
    k = floor["rows_needed"]
    for beyond, flags in ((k - 1, 0), (k, k)):
        p = np.r_[np.full(beyond, 1 / (m + 1)), np.full(n - beyond, 0.5)]
        assert int((bh_qvalues(p) <= 0.1).sum()) == flags, (beyond, flags)


def test_healthy_table_flags_few_rows() -> None:
    result = localize(_table(800, 2), _table(800, 1), KINDS, target="label", seed=0)
    assert result.summary["flagged_share"] <= 0.02
    # Each detector fires on about 1% of rows drawn like the real ones, by construction.
    for name, counts in result.summary["detectors"].items():
        assert counts["fired"] <= 0.04 * 800, name


def test_rows_keep_their_input_positions_and_no_target_means_no_label_detector() -> None:
    synthetic = _table(300, 2)
    synthetic[ROW_COLUMN] = np.arange(300) * 7 + 3
    result = localize(synthetic, _table(300, 1), KINDS, seed=0)
    assert result.table["row"].tolist() == (np.arange(300) * 7 + 3).tolist()
    assert "score_label_issue" not in result.table.columns
    assert result.summary["absent"]["label_issue"] == "absent: no target column given"


def test_missing_categories_and_tails_are_named() -> None:
    reference, synthetic = _table(800, 1), _table(800, 2)
    synthetic = synthetic[(synthetic["colour"] != "blue") & (synthetic["x2"] < 6)]
    mass = localize(synthetic.reset_index(drop=True), reference, KINDS, seed=0
                    ).summary["missing_mass"]
    assert [(c["column"], c["value"], c["synthetic_share"]) for c in mass["categories"]] == [
        ("colour", "blue", 0.0)]
    assert ("x2", "upper") in {(t["column"], t["side"]) for t in mass["tails"]}


def test_conformal_scores_and_bh_match_definitions() -> None:
    null = np.array([1.0, 2.0, 3.0, 4.0])
    assert conformal_scores(np.array([0.5, 2.0, 9.0]), null).tolist() == [0.0, 0.25, 1.0]
    assert conformal_scores(np.array([0.5, 2.0, 9.0]), null, higher_is_worse=False
                            ).tolist() == [1.0, 0.5, 0.0]
    assert conformal_pvalues(np.array([9.0, 2.0]), null).tolist() == [0.2, 0.8]
    p = np.random.default_rng(0).uniform(size=50) ** 3
    assert np.allclose(bh_qvalues(p), multipletests(p, method="fdr_bh")[1])


def test_rows_whose_columns_do_not_go_together_are_found_by_inconsistency() -> None:
    # x1 follows x0 (and colour); give 15 rows the x1 of a row whose x0 is far from theirs.
    reference, synthetic = _table(800, 1), _table(800, 2)
    rows = np.flatnonzero(synthetic["x0"].between(11.5, 13.0).to_numpy())[:15]
    donors = np.flatnonzero(synthetic["x0"].lt(7.5).to_numpy())[:15]
    synthetic.loc[rows, "x1"] = synthetic.loc[donors, "x1"].to_numpy()
    table = localize(synthetic, reference, KINDS, seed=0).table
    positive = np.zeros(len(table), dtype=bool)
    positive[rows] = True
    # 0.945 at seed 0, 0.967-0.971 at seeds 1-4: each synthetic row is predicted by one fold's
    # model, as a held-out real row is, not by the two models' mean.
    assert _auroc(table["score_inconsistency"].to_numpy(), positive) > 0.93
    worst = table.iloc[rows].sort_values("score_inconsistency").iloc[-1]
    assert "x1 " in worst["reasons"] and "where real rows with its other values hold about" \
        in worst["reasons"]


def _common_record_tables() -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    rng = np.random.default_rng(0)
    kinds = {"a": "integer", "b": "integer", "c": "numeric"}

    def table(rows: int) -> pd.DataFrame:
        return pd.DataFrame({"a": rng.integers(0, 3, rows), "b": rng.integers(0, 3, rows),
                             "c": rng.normal(0, 1, rows)})

    reference, synthetic = table(600), table(600)
    reference.iloc[:40] = [1, 1, 8.0]  # a record 40 real rows hold (far from the rest:
    # noise around an atom at 0 would snap to it, and the tables hold other small records)
    synthetic.iloc[:40] = [1, 1, 8.0]  # ... and 40 synthetic rows, as a fresh sample would
    synthetic.iloc[40] = reference.iloc[300].to_numpy()  # a record only one real row holds
    return (synthetic.astype({"a": int, "b": int}), reference.astype({"a": int, "b": int}),
            kinds)


def test_a_copy_of_a_record_few_real_rows_hold_is_worse_than_one_many_hold() -> None:
    synthetic, reference, kinds = _common_record_tables()
    result = localize(synthetic, reference, kinds, seed=0)
    memo = result.table["score_memorization"].to_numpy()
    assert memo[40] == memo.max() == 1.0
    # 39 other synthetic rows: a fresh draw, as the real rows are. Each counts one more
    # reference row than they do, and would be beyond all of them unless they count as ties.
    assert memo[:40].max() < 0.95
    assert "(a record no other real row holds)" in \
        result.summary["top"][[t["row"] for t in result.summary["top"]].index(40)]["reasons"]


def test_the_reasons_of_a_copy_name_the_synthetic_rows_of_its_record() -> None:
    synthetic, reference, kinds = _common_record_tables()
    synthetic.iloc[41] = synthetic.iloc[40].to_numpy()  # the unique record's copy, twice
    result = localize(synthetic, reference, kinds, seed=0)
    top = {t["row"]: t["reasons"] for t in result.summary["top"]}
    assert "(a record no other real row holds and 1 other synthetic row holds)" in top[41]


def test_copies_and_repeats_are_equal_on_the_values_as_given_not_as_snapped() -> None:
    from synthos.localize.detectors import duplicates, exact_copy_tiers
    from synthos.localize.space import build_space

    rng = np.random.default_rng(0)
    kinds = {"a": "integer", "c": "numeric"}
    reference = pd.DataFrame({"a": rng.integers(0, 3, 600), "c": rng.normal(0, 1, 600)})
    reference.loc[:49, "c"] = 0.0  # an atom: values within a twentieth of a SD snap onto it
    synthetic = pd.DataFrame({"a": rng.integers(0, 3, 600), "c": rng.normal(0, 1, 600)})
    a0 = int(reference.loc[0, "a"])
    synthetic.loc[0] = [a0, 0.01]  # snaps onto reference row 0's record, equals no real row
    synthetic.loc[1] = [a0, 0.0]  # equals reference row 0 and its record's other rows
    synthetic.loc[[2, 3]] = [[1, 0.5], [1, 0.5]]  # an exact pair
    synthetic.loc[[4, 5]] = [[2, 0.011], [2, 0.012]]  # a pair on the snapped grid only
    space = build_space(synthetic, reference, kinds, None, 20_000, np.random.default_rng(0))
    # Snapped, rows 0 and 1 are one record and rows 4 and 5 another.
    assert space.prep.synthetic.row_hash[0] == space.prep.synthetic.row_hash[1]
    assert space.prep.synthetic.row_hash[4] == space.prep.synthetic.row_hash[5]
    ratio = np.full(len(synthetic), 0.5), np.full(len(space.real_rows), 0.5)
    copies = exact_copy_tiers(space, *ratio)[2]
    assert copies[0] == 0
    assert copies[1] == int((reference["a"][:50] == a0).sum()) > 5
    extra = duplicates(space, np.random.default_rng(0)).extra
    assert extra["exact"][2] == 1 and extra["partner"][2] == 3
    assert extra["exact"][4] == 0 and extra["near"][4] >= 1


def test_good_turing_frequency_of_a_record() -> None:
    from synthos.localize.detectors import GOOD_TURING_BELOW, record_frequency

    per_count = np.zeros(12)
    per_count[[1, 2, 3, 4, 8]] = [100, 10, 4, 2, 1]
    theta = record_frequency(np.array([1, 2, 3, 7]), per_count, seen=1_000)
    assert GOOD_TURING_BELOW == 5
    # (r + 1)(N_{r+1} + 1/2) / (seen N_r) below the cut, r / seen from it on, the counts of
    # counts without the scored row: its record moves from N_{r+1} to N_r.
    np.testing.assert_allclose(theta, [2 * 9.5 / (1_000 * 101), 3 * 3.5 / (1_000 * 11),
                                       4 * 1.5 / (1_000 * 5), 7 / 1_000])


def test_a_copy_of_a_record_seen_once_is_beyond_a_record_both_tables_hold() -> None:
    from synthos.localize.detectors import exact_copy_tiers
    from synthos.localize.space import build_space

    synthetic, reference, kinds = _common_record_tables()
    synthetic.iloc[1:40] = synthetic.iloc[41:80].to_numpy()  # only row 0 keeps the record
    space = build_space(synthetic, reference, kinds, None, 20_000, np.random.default_rng(0))
    ratio = np.full(len(synthetic), 0.5), np.full(len(space.real_rows), 0.5)
    stat, null, copies, repeats = exact_copy_tiers(space, *ratio)
    assert copies[0] == 40 and copies[40] == 1
    assert repeats[0] == 0 and repeats[40] == 0 and repeats[1] == 1
    # Each real row of the record: 39 other reference rows against a frequency of 40 in the
    # 1,199 other rows; row 0 counts all 40 reference rows.
    np.testing.assert_allclose(null[:40], -(1 + (39 / 600) / (40 / 1_199)))
    np.testing.assert_allclose(stat[0], -(1 + (40 / 600) / (40 / 1_199)))
    # A record seen once, where few records are seen twice (here the 39 rows repeated
    # above), is seldom redrawn: a ratio over 10.
    assert stat[40] < -11
    assert stat[40] < null[:40].min()


def test_memorization_scores_exchangeable_tables_of_small_counts_alike() -> None:
    from scipy.stats import mannwhitneyu

    from synthos.localize.detectors import neighbours
    from synthos.localize.locate import _scores
    from synthos.localize.space import build_space

    # Both tables drawn from one population of few records: most rows repeat a record, and a
    # synthetic row counts every reference row of its record where a real row counts the
    # others. With its record's real rows counted as ties, the two sides' scores match (held
    # to their ratio, the synthetic rows scored 0.40 on average against 0.49).
    rng = np.random.default_rng(0)

    def table(rows: int) -> pd.DataFrame:
        return pd.DataFrame({"a": rng.geometric(0.5, rows), "b": rng.geometric(0.3, rows),
                             "c": rng.geometric(0.2, rows)})

    reference, synthetic = table(2_000), table(2_000)
    space = build_space(synthetic, reference, dict.fromkeys("abc", "integer"), None, 20_000,
                        np.random.default_rng(0))
    _, memo = neighbours(space)
    assert (memo.stat < 0).mean() > 0.8  # most rows are exact copies of a reference row
    syn, own, _ = _scores(memo)
    assert abs(syn.mean() - own.mean()) < 0.03
    assert mannwhitneyu(syn, own).pvalue > 0.05


def test_a_detector_whose_bad_rows_score_below_its_fire_level_still_joins_the_score() -> None:
    from synthos.localize.detectors import Detection
    from synthos.localize.locate import _active

    rng = np.random.default_rng(0)
    plain = rng.uniform(size=1000)
    tied = rng.uniform(size=1000)
    tied[:100] = 0.9  # copies of records real rows repeat: extreme, but never above 0.99
    scored = {"a": (plain, plain, 1000), "b": (tied, plain, 1000)}
    detections = {nm: Detection(nm, plain, plain) for nm in scored}
    assert _active(["a", "b"], scored, detections) == ["b"]
    # None stands out: all of them.
    assert _active(["a"], {"a": scored["a"]}, detections) == ["a"]


def test_bad_rows_spread_over_tied_tiers_below_every_level_still_join_the_score() -> None:
    from synthos.localize.detectors import Detection
    from synthos.localize.locate import _active

    # Tiers of tied scores as copies of records real rows repeat give them: the top tier
    # holds 16% of real rows (all at 0.84), so no row reaches 0.9 and 0.8 sees the tier's
    # usual share. A tenth of the synthetic rows moved into the upper tiers is there all the
    # same.
    rng = np.random.default_rng(2)
    tiers = np.array([0.0, 0.2, 0.4, 0.6, 0.84])
    share = np.array([0.3, 0.2, 0.2, 0.14, 0.16])
    own = rng.choice(tiers, 10_000, p=share)
    synthetic = rng.choice(tiers, 10_000, p=share)
    synthetic[:1000] = rng.choice(tiers[3:], 1000, p=[0.5, 0.5])
    scored = {"memorization": (synthetic, own, 10_000), "other": (own[::-1], own, 10_000)}
    detections = {nm: Detection(nm, own, own) for nm in scored}
    assert (synthetic >= 0.8).mean() < 0.2
    assert _active(["memorization", "other"], scored, detections) == ["memorization"]
    scored["memorization"] = (rng.permutation(own), own, 10_000)  # the same tiers as real rows
    assert _active(["memorization", "other"], scored, detections) == \
        ["memorization", "other"]


def test_level_tests_hold_their_rate_when_the_real_rows_are_a_sample() -> None:
    from synthos.localize.detectors import Detection
    from synthos.localize.locate import _scores, row_test_passed

    # 200,000 synthetic rows against 5,000 real ones, all drawn alike: the real rows' share
    # at 0.8 misses the population's by about six binomial standard deviations of 200,000
    # rows, so a test that took it as exact would let the detector in on most draws.
    rng = np.random.default_rng(0)
    passed = []
    for _ in range(20):
        scores, own, _ = _scores(Detection("noise", rng.normal(size=200_000),
                                           rng.normal(size=5_000)))
        passed.append(row_test_passed(scores, own))
    assert passed.count(None) >= 19


def test_rows_beyond_every_real_row_pass_when_exchangeable_rows_would_rarely_give_as_many(
        ) -> None:
    from synthos.localize.locate import row_test_passed

    # Beyond all m real rows, c of n synthetic rows: the top c of n + m exchangeable rows all
    # synthetic, C(n, c) / C(n + m, c), against 0.01 / 6. 800 a side needs 10 rows; 800
    # against 2,000 needs 6.
    for n, m, needed in ((800, 800, 10), (800, 2000, 6)):
        own = np.arange(m) / m
        for c, expected in ((needed - 1, None), (needed, "level 1")):
            scores = np.r_[np.ones(c), np.linspace(0.0, 0.5, n - c)]
            assert row_test_passed(scores, own, rank=False) == expected, (n, m, c)


def test_a_detector_left_out_still_ranks_its_rows_beyond_every_real_row_first() -> None:
    from synthos.localize.conformal import worst_of
    from synthos.localize.detectors import Detection
    from synthos.localize.locate import _active, _combined_parts

    rng = np.random.default_rng(3)
    m, n = 1000, 1000
    own = np.arange(m) / m  # each real row's score against the others: the top one (m-1)/m

    def drawn(low: float = 0.0, high: float = 1.0, size: int = n) -> np.ndarray:
        return np.floor(rng.uniform(low, high, size) * m) / m  # shares of real rows, < 1

    seen = drawn()
    seen[:200] = drawn(0.9, 0.99, 200)  # a detector that sees an excess below 1
    lone = drawn()
    lone[200:207] = 1.0  # seven rows beyond every real row: p 0.008, too few to join
    noise = drawn()
    noise[207] = 1.0  # one, as chance gives one in m + 1
    grouped, split = drawn(), drawn()
    grouped[208:212] = split[212:216] = 1.0
    # Each detector orders the real rows its own way.
    scored = {"seen": (seen, own, m), **{nm: (v, rng.permutation(own), m) for nm, v in (
        ("lone", lone), ("noise", noise), ("dup", grouped), ("pairs", split))}}
    detections = {nm: Detection(nm, own, own) for nm in ("seen", "lone", "noise")}
    # Groups of equal rows: by their own test, chance (dup) or an excess (pairs).
    detections["dup"] = Detection("dup", own, own, share=np.ones(n), excess_pvalue=0.5)
    # (pairs: too weak to join, below EXTREMES_P over the four detectors left out)
    detections["pairs"] = Detection("pairs", own, own, share=np.ones(n), excess_pvalue=0.011)
    names = list(scored)
    active = _active(names, scored, detections)
    assert active == ["seen"]
    parts = _combined_parts(names, active, scored, detections)
    assert list(parts) == ["seen", "lone", "pairs"]
    assert parts["lone"][0].tolist() == (lone >= 1.0).astype(float).tolist()
    assert np.count_nonzero(parts["lone"][1]) == 1  # its top real row alone can reach 1
    score, pvalue = worst_of(*([part[i] for part in parts.values()] for i in range(3)))
    extremes = np.r_[200:207, 212:216]
    assert score[extremes].min() > np.delete(score, extremes).max()
    # The noise of a detector left out does not tie with the first detector's excess.
    assert score[207:212].max() < 0.99
    # As extreme as they: the top real rows of the two other parts, a step up there.
    assert pvalue[200:207].max() == pytest.approx(3 / (m + 1))
    # Five such rows (p 0.031) are let in when theirs is the only detector left out, not when
    # it is one of five: each detector left out passes by chance one time in 20.
    five = drawn()
    five[200:205] = 1.0
    scored["five"] = (five, rng.permutation(own), m)
    detections["five"] = Detection("five", own, own)
    assert list(_combined_parts(["seen", "five"], active, scored, detections)) == ["seen", "five"]
    assert "five" not in _combined_parts([*names, "five"], active, scored, detections)


def test_a_few_copies_beside_rows_another_detector_finds_still_rank_first() -> None:
    reference, synthetic = _table(800, 1), _table(800, 2)
    synthetic.iloc[:8] = reference.iloc[100:108].to_numpy()  # 8 copies: 10 would join
    synthetic.loc[8:17, "x2"] = 60.0 + np.arange(10)  # 10 rows out of support, each its own
    synthetic = synthetic.astype({"x0": float, "x1": float, "x2": float, "n": int})
    result = localize(synthetic, reference, KINDS, target="label", seed=0)
    assert "memorization" not in result.summary["combined_detectors"]
    assert "memorization" in result.summary["extremes_only_detectors"]
    positive = np.zeros(800, dtype=bool)
    positive[:8] = True
    # The detectors that joined see nothing of the copies: their scores alone would rank them
    # among real-like rows.
    assert _auroc(result.table["score"].to_numpy(), positive) > 0.99
    assert result.table["score"].iloc[:18].min() >= result.table["score"].iloc[18:].max()


def test_a_group_of_equal_rows_large_by_chance_does_not_make_its_detector_join() -> None:
    from synthos.localize.detectors import Detection
    from synthos.localize.locate import _active

    rng = np.random.default_rng(1)
    plain = rng.uniform(size=1000)
    grouped = plain.copy()
    grouped[:300] = 0.96  # one cell of 300 equal rows: the level tests of rows alone say excess
    scored = {"a": (plain, plain, 1000), "dup": (grouped, plain, 1000)}

    def active(pvalue: float) -> list[str]:
        detections = {"a": Detection("a", plain, plain),
                      "dup": Detection("dup", grouped, plain, share=np.zeros(1000),
                                       excess_pvalue=pvalue)}
        return _active(["a", "dup"], scored, detections)

    assert active(0.3) == ["a", "dup"]  # neither sees anything: all of them, undiluted by none
    assert active(1e-5) == ["dup"]
    assert active(0.01) == ["dup"]  # its rows, and its groups' test at GROUP_P
    unremarkable = {"a": (plain, plain, 1000), "dup": (plain, plain, 1000)}
    detections = {"a": Detection("a", plain, plain),
                  "dup": Detection("dup", plain, plain, share=np.zeros(1000),
                                   excess_pvalue=1e-5)}
    assert _active(["a", "dup"], unremarkable, detections) == ["dup"]  # its groups alone


def test_repeats_beyond_a_random_split_get_a_small_pvalue_and_random_splits_do_not() -> None:
    from synthos.localize.detectors import repeat_excess_pvalue

    # A population of records of small counts (a table of counts repeats most of its rows),
    # split at random in halves many times: the p-value is at most as small as chance allows.
    rng = np.random.default_rng(0)
    population = np.repeat(np.arange(3000), rng.geometric(0.9, 3000))
    pvalues = []
    for _ in range(200):
        shuffled = rng.permutation(population)
        own, other = np.split(shuffled, [len(shuffled) // 2])
        pvalues.append(repeat_excess_pvalue(own, other))
    pvalues = np.array(pvalues)
    assert (pvalues < 0.05).mean() <= 0.08 and (pvalues < 0.001).mean() <= 0.01
    # 50 rows of the synthetic half, records held nowhere else, copied onto 50 other rows of
    # it: 50 pairs (2 of 2) where a split makes about 70 of the table's 270 natural pairs.
    own, other = np.split(rng.permutation(population), [len(population) // 2])
    singles = np.flatnonzero(np.bincount(population)[own] == 1)
    planted = own.copy()
    planted[singles[50:100]] = own[singles[:50]]
    assert repeat_excess_pvalue(planted, other) < 1e-4
    assert repeat_excess_pvalue(np.arange(10), np.arange(5, 15)) == 1.0  # nothing repeated


def test_split_excess_counts_records_split_more_unevenly_than_chance() -> None:
    from scipy.stats import binom

    from synthos.localize.detectors import split_excess

    # 100 singletons and 3 planted pairs on the synthetic side, 100 other rows on the real one.
    own = np.r_[np.arange(100), [200, 200, 201, 201, 202, 202]]
    other = np.arange(1000, 1100)
    z, share = split_excess(own, other)
    rho = len(own) / (len(own) + len(other))
    # Records with t = 2: none held only by the real side, so half a record over the chance
    # of that cell, (1 - rho)^2; of them a share rho^2 lands both rows on the synthetic side.
    expected = 0.5 / (1 - rho) ** 2 * rho ** 2
    assert np.allclose(z[100:], (3 - expected) / np.sqrt(expected + 1))
    assert np.allclose(share[100:], 1 - expected / 3)
    assert np.isneginf(z[:100]).all() and (share[:100] == 0).all()
    # A common record merely split unevenly (30 here, 25 there, among 40 such records that
    # split as chance does) is no excess; a pair held nowhere else still is.
    rng = np.random.default_rng(0)
    split = rng.binomial(55, 0.5, 40)
    common = np.repeat(np.arange(40), split)
    common_other = np.repeat(np.arange(40), 55 - split)
    own = np.r_[common, np.repeat(500, 30), [600, 600]]
    other = np.r_[common_other, np.repeat(500, 25), np.arange(700, 740)]
    z, share = split_excess(own, other)
    assert z[own == 500].max() < 1.0 and z[own == 600].min() > z[own == 500].max()
    assert binom.sf(29, 55, len(own) / (len(own) + len(other))) > 0.1


def test_a_row_a_group_statistic_scores_is_as_sure_as_its_group_is_excess() -> None:
    from synthos.localize.detectors import Detection
    from synthos.localize.locate import _individual

    scores = np.array([1.0, 1.0, 1.0, 0.5])
    scored = {"duplicates": (scores, scores, 4), "memorization": (np.array([0, 0, 1.0, 1.0]),
                                                                   scores, 4)}
    detections = {"duplicates": Detection("duplicates", scores, scores,
                                          share=np.array([0.95, 0.5, 0.5, 0.0])),
                  "memorization": Detection("memorization", scores, scores)}
    raw = np.array([1.0, 1.0, 1.0, 1.0])
    # Row 0: 95% of its group is excess; row 1: half; row 2: half, but a per-row detector
    # gives it the same score; row 3: the per-row detector alone.
    assert _individual(scored, detections, raw).tolist() == [0.95, 0.5, 1.0, 1.0]


def test_planted_pairs_outrank_the_repeats_of_a_table_of_small_counts() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)

    def table(rows: int) -> pd.DataFrame:
        return pd.DataFrame({"a": rng.poisson(3.0, rows), "b": rng.integers(0, 5, rows),
                             "c": rng.poisson(4.0, rows),
                             "d": rng.choice(["x", "y", "z"], rows, p=[0.5, 0.3, 0.2])})

    kinds = {"a": "integer", "b": "integer", "c": "integer", "d": "categorical"}
    reference, synthetic = table(3000), table(3000)
    keys = pd.Series(pd.util.hash_pandas_object(synthetic, index=False).to_numpy())
    repeats = keys.map(keys.value_counts()).to_numpy()
    assert (repeats > 1).mean() > 0.9  # real rows repeat too: most records are shared
    source = rng.choice(np.flatnonzero(repeats == 1), 60, replace=False)
    target = rng.choice(np.setdiff1d(np.arange(3000), source), 60, replace=False)
    synthetic.iloc[target] = synthetic.iloc[source].to_numpy()
    synthetic = synthetic.astype({"a": int, "b": int, "c": int})
    positive = np.zeros(3000, dtype=bool)
    positive[source] = positive[target] = True
    table_ = localize(synthetic, reference, kinds, seed=0).table
    # The share of the synthetic table repeating a row beyond the reference's share gave
    # 0.52 here: common records whose split is merely uneven tie with the pairs.
    assert roc_auc_score(positive, table_["score_duplicates"]) > 0.85
    # Where most records are shared, chance lands both rows of a quarter of the records of
    # two rows on one side: a pair is likely planted but never surely, so none is flagged.
    assert not (table_["flagged"] & ~positive).any()
    assert table_["confidence"][positive].max() < 0.9


def test_a_row_far_from_every_real_row_is_explained_by_its_distance_ratio() -> None:
    """Rows inside every column's range but in an empty corner of the cloud: the reason
    gives the mean distance to the 5 nearest real rows over those rows' own distance to
    their 5th nearest, computed here on the reference-standardized columns (the score
    itself, a share of real rows, can never read above 1)."""
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(0)
    reference = pd.DataFrame(rng.normal(size=(400, 3)), columns=list("abc"))
    synthetic = pd.DataFrame(rng.normal(size=(400, 3)), columns=list("abc"))
    synthetic.iloc[:12] = np.array([2.2, -2.2, 2.2]) + rng.normal(scale=0.01, size=(12, 3))
    result = localize(synthetic, reference, {c: "numeric" for c in "abc"})
    z = lambda f: ((f - reference.mean()) / reference.std(ddof=0)).to_numpy()  # noqa: E731
    own = NearestNeighbors(n_neighbors=6).fit(z(reference))
    radius = own.kneighbors(z(reference))[0][:, 5]  # the 5th other than the row itself
    dist, ids = own.kneighbors(z(synthetic.iloc[:1]), n_neighbors=5)
    ratio = dist.mean() / radius[ids[0]].mean()
    assert ratio > 1.5
    reasons = result.table.set_index("row").loc[0, "reasons"]
    assert (f"its 5 nearest real rows are on average {ratio:.1f}x as far from it as from "
            "their own 5th nearest real row; the nearest (reference row") in reasons


def test_uncovered_real_rows_are_those_no_synthetic_row_comes_within_their_ball() -> None:
    from synthos.localize import detectors as det
    from synthos.localize.explain import Explainer
    from synthos.localize.space import build_space
    from synthos.localize.uncovered import uncovered_rows

    reference, synthetic = _table(800, 1), _table(800, 2)
    synthetic = synthetic[synthetic["colour"] != "blue"].reset_index(drop=True)
    space = build_space(synthetic, reference, KINDS, None, 20_000, np.random.default_rng(0))
    oos, _ = det.neighbours(space)
    explainer = Explainer(space, synthetic, reference, KINDS, {"out_of_support": oos})
    got = uncovered_rows(space, oos, explainer)
    gaps = space.real_points[:, None, :] - space.points[None, :, :]
    nearest = np.sqrt((gaps.astype(np.float64) ** 2).sum(axis=2)).min(axis=1)
    want = nearest > oos.extra["real_radius_k"]
    assert 0.1 < want.mean() < 0.5  # both the neighbours' pass and the full search decide
    assert got["share"] == round(float(want.mean()), 5)
    assert [(c["column"], c["value"]) for c in got["by_category"]] == [("colour", "blue")]


def test_rows_no_fold_model_saw_get_one_fold_models_probabilities() -> None:
    from synthos.localize import detectors as det

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3))
    y = (x[:, 0] + rng.normal(0, 0.5, 300) > 0).astype(int)
    rest = rng.normal(size=(200, 3))
    _, (probs,) = det._out_of_fold(x, y, [(rest, np.arange(200))], 2, 0,
                                   np.random.default_rng(1))
    models = [det.boosted_trees(0).fit(x[train], y[train]) for train, _ in det._folds(y, 0)]
    each = np.stack([m.predict_proba(rest)[:, 1] for m in models])  # (folds, rows)
    which = np.abs(each - probs[:, 1]).argmin(axis=0)
    assert np.allclose(each[which, np.arange(200)], probs[:, 1])
    assert not np.allclose(each.mean(axis=0), probs[:, 1])
    assert np.bincount(which, minlength=5).tolist() == [40] * 5


def test_the_worst_of_several_scores_is_as_extreme_as_chance_allows_on_real_like_rows() -> None:
    from synthos.localize import detectors as det
    from synthos.localize.conformal import conformal_pvalues, conformal_scores, worst_of
    from synthos.localize.locate import _scores

    rng = np.random.default_rng(0)
    m, n, detectors = 200, 40_000, 6
    scored = [_scores(det.Detection(f"d{k}", rng.normal(size=n), rng.normal(size=m)))
              for k in range(detectors)]
    _, p = worst_of(*(list(part) for part in zip(*scored, strict=True)))
    # Rows drawn like the real ones: p <= k / (m + 1) for a share k / (m + 1) of them. The
    # real rows' worst scores taken as they are would put the worst of six at the smallest
    # p-value for six times that share (3.5% at k = 1).
    for k in (1, 3, 7, 20):
        assert (p <= k / (m + 1)).mean() <= 1.3 * k / (m + 1), k
    # One detector: the plain conformal p-value. A row beyond every real row in one of K
    # detectors: K real rows (each detector's most extreme) are as extreme as it.
    stat, null = rng.normal(size=50), rng.normal(size=m)
    one, own = conformal_scores(stat, null), conformal_scores(null, null)
    assert np.allclose(worst_of([one], [own], [m])[1], conformal_pvalues(stat, null))
    beyond = [np.r_[1.0, 1.0, 1.0, 0.5], np.r_[0.2, 1.0, 1.0, 0.5], np.r_[0.2, 0.2, 1.0, 0.5]]
    owns = [conformal_scores(v, v) for v in rng.normal(size=(3, m))]
    # Beyond every real row in one, two, three detectors: the top real row of each other
    # detector reaches it with the row among the real rows; of its own detectors none does.
    assert worst_of(beyond, owns, [m] * 3)[1][:3].tolist() == [3 / (m + 1), 2 / (m + 1),
                                                             1 / (m + 1)]


@pytest.mark.parametrize("statistic", ["worse then sum", "sum of surprises"])
def test_a_statistic_of_several_scores_puts_real_like_rows_beyond_every_real_row_by_chance(
        statistic: str) -> None:
    """New rows drawn like the real ones, scored on three parts: as many beyond every real
    row as exchangeable rows give, n / (m + 1) a draw; with the real rows' parts counted over
    the others only, 3.4 and 1.9 times as many."""
    from functools import partial

    from synthos.localize.conformal import composite_statistic, worse_then_sum
    from synthos.localize.inconsistency import _surprise

    rng = np.random.default_rng(0)
    m, n, parts_n, draws = 30, 30, 3, 400
    combine = partial(worse_then_sum, m=m) if statistic == "worse then sum" else \
        (lambda u: _surprise(u, m).sum(axis=0))
    held = plain = 0
    for _ in range(draws):
        new, real = rng.normal(size=(parts_n, n)), rng.normal(size=(parts_n, m))
        parts = np.array([conformal_scores(a, b) for a, b in zip(new, real, strict=True)])
        own = np.array([conformal_scores(b, b) for b in real])
        stat, null = composite_statistic(parts, own, np.full(parts_n, m), combine)
        held += int((stat > null.max()).sum())
        plain += int((combine(parts) > combine(own).max()).sum())
    expected = draws * n / (m + 1)  # 387; a draw's count has variance about 2
    assert abs(held - expected) < 3.5 * np.sqrt(2 * draws), held
    assert plain > 1.5 * expected, plain


def test_a_row_beyond_every_real_row_in_each_part_stays_beyond_and_one_part_ties() -> None:
    from functools import partial

    from synthos.localize.conformal import composite_statistic, worse_then_sum

    rng = np.random.default_rng(1)
    m = 50
    real = rng.normal(size=(2, m))
    real[:, 0] = 3.0  # one real row at the top of both parts
    own = np.array([conformal_scores(b, b) for b in real])
    new = np.array([[9.0, 9.0, 0.0], [9.0, 0.0, 0.0]])  # both parts; the first only; neither
    parts = np.array([conformal_scores(a, b) for a, b in zip(new, real, strict=True)])
    combine = partial(worse_then_sum, m=m)
    stat, null = composite_statistic(parts, own, np.array([m, m]), combine)
    assert combine(parts)[1] > null.max()  # the first part alone puts it beyond, as counted
    # With the second row among the real rows, real row 0 is the top of the second part
    # (1) and second in the first, against the new row's middling second part.
    assert stat[0] > null.max() and stat[1] == null.max() and stat[2] < null.max()


def test_a_close_pair_is_below_every_real_ratio_only_as_often_as_chance_allows() -> None:
    """Memorization's nearest-over-second ratio on rows drawn like the real ones: as many
    below every real row's ratio as exchangeable rows give once a real neighbour that would
    pair with the row counts; counted over the other real rows alone, 1.5 times as many."""
    from sklearn.neighbors import NearestNeighbors

    from synthos.localize.detectors import mutual_pairs

    rng = np.random.default_rng(0)
    m = n = 60
    draws, held, plain = 300, 0, 0
    for _ in range(draws):
        real, new = rng.normal(size=(m, 3)), rng.normal(size=(n, 3))
        index = NearestNeighbors(n_neighbors=6).fit(real)
        dr = index.kneighbors(real)[0][:, 1:]
        ds, ids = index.kneighbors(new, n_neighbors=5)
        ratio_real, ratio_syn = dr[:, 0] / dr[:, 1], ds[:, 0] / ds[:, 1]
        plain += int((ratio_syn < ratio_real.min()).sum())
        held += int((mutual_pairs(ratio_syn, ratio_real, ds, ids, dr) < ratio_real.min()).sum())
    expected = draws * n / (m + 1)  # 295
    assert abs(held - expected) < 3.5 * np.sqrt(2 * draws), held
    assert plain > 1.3 * expected, plain


def test_a_column_linear_in_another_is_held_to_it_from_a_few_hundred_rows() -> None:
    # A cell's perimeter is 2 pi its radius; 10 of 150 rows get a perimeter 13-15% off theirs,
    # every value in range. Trees alone, 75 rows a fold, predict steps (AUROC 0.80 here).
    rng = np.random.default_rng(0)

    def cells(rows: int) -> pd.DataFrame:
        radius = rng.gamma(8.0, 1.7, rows)
        return pd.DataFrame({"radius": radius,
                             "perimeter": 6.28 * radius + rng.normal(0, 0.3, rows),
                             "texture": rng.normal(20, 4, rows)})

    reference, synthetic = cells(150), cells(150)
    rows = np.arange(10)
    synthetic.loc[rows, "perimeter"] *= np.where(rows % 2, 1.15, 0.87)
    kinds = dict.fromkeys(reference.columns, "numeric")
    table = localize(synthetic, reference, kinds, seed=0).table
    positive = np.zeros(len(table), dtype=bool)
    positive[rows] = True
    assert _auroc(table["score_inconsistency"].to_numpy(), positive) > 0.95


@pytest.mark.parametrize("seed", [1, 2])
def test_flipped_labels_of_a_linear_boundary_stand_out_from_a_few_hundred_rows(
        seed: int) -> None:
    # The label is the sign of the sum of 8 columns: boosted trees alone learn that boundary
    # in steps from 240 rows a fold (AUROC 0.92 / 0.94 of the 15 flipped labels here), the
    # mean with a logistic regression holds the flips to it.
    def table(n: int, at: int) -> pd.DataFrame:
        rng = np.random.default_rng(at)
        x = rng.normal(size=(n, 8))
        return pd.DataFrame({**{f"x{i}": x[:, i] for i in range(8)},
                             "label": np.where(x.sum(axis=1) > 0, "yes", "no")})

    kinds = {**{f"x{i}": "numeric" for i in range(8)}, "label": "categorical"}
    reference, synthetic = table(300, 10 + seed), table(300, 20 + seed)
    flips = np.arange(0, 300, 20)
    synthetic.loc[flips, "label"] = np.where(synthetic.loc[flips, "label"] == "yes", "no",
                                             "yes")
    positive = np.zeros(300, dtype=bool)
    positive[flips] = True
    result = localize(synthetic, reference, kinds, target="label", seed=seed)
    assert _auroc(result.table["score_label_issue"].to_numpy(), positive) > 0.96


def test_pooled_probabilities_are_the_normalized_geometric_mean_of_the_members() -> None:
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression

    from synthos.localize.pooling import LogPoolClassifier

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = np.digitize(x[:, 0] + rng.normal(0, 0.5, 200), [-0.5, 0.5])  # three classes
    members = [("model", LogisticRegression(C=100.0)), ("prior", DummyClassifier())]
    pool = LogPoolClassifier(members).fit(x, y)
    a = LogisticRegression(C=100.0).fit(x, y).predict_proba(x)
    b = DummyClassifier().fit(x, y).predict_proba(x)
    want = np.sqrt(a * b) / np.sqrt(a * b).sum(axis=1, keepdims=True)
    assert np.allclose(pool.predict_proba(x), want)
    assert pool.classes_.tolist() == [0, 1, 2]
    assert (pool.predict(x) == want.argmax(axis=1)).all()
    # Where the model all but rules a class out, the pool keeps it far less likely than the
    # arithmetic mean (soft voting) with the prior does.
    doubted = a < 0.001
    assert doubted.sum() > 50
    assert (pool.predict_proba(x)[doubted] < 0.2 * ((a + b) / 2)[doubted]).all()
