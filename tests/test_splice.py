"""The splice statistic of the inconsistency detector: rows assembled from pieces of two real
rows are found; real-like rows score like real rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from synthos.localize import localize
from synthos.localize.conformal import conformal_scores
from synthos.localize.explain import Explainer
from synthos.localize.inconsistency import inconsistency
from synthos.localize.space import build_space
from synthos.localize.splice import splice, splices

KINDS = {"plan": "categorical", "coinsurance": "integer", "deductible": "numeric",
         "age": "numeric", "visits": "integer"}


def _insurance(rows: int, seed: int) -> pd.DataFrame:
    """An experiment's plans fix the coinsurance and, with income, the deductible; visits
    fall with the share a patient pays and rise with age."""
    rng = np.random.default_rng(seed)
    plan = rng.integers(0, 4, rows)
    coinsurance = np.array([0, 25, 50, 95])[plan]
    income = rng.lognormal(10.0, 0.4, rows)
    deductible = np.round(np.array([0.0, 0.05, 0.10, 0.15])[plan] * income / 10) * 10
    age = rng.uniform(18, 64, rows)
    visits = rng.poisson(np.exp(1.6 - coinsurance / 60 + age / 80))
    return pd.DataFrame({"plan": np.array(["free", "p25", "p50", "p95"])[plan],
                         "coinsurance": coinsurance, "deductible": deductible, "age": age,
                         "visits": visits})


def test_splices_take_whole_columns_from_two_distinct_rows() -> None:
    rows, owners = 50, np.array([0, 0, 1, 2, 2, 2])
    # Every value names its row: row r holds r in each of its dimensions.
    points = np.repeat(np.arange(rows, dtype=float)[:, None], len(owners), axis=1)
    out = splices(points, owners, 4000, np.random.default_rng(0))
    taken = []
    for row in out:
        per_column = [np.unique(row[owners == c]) for c in range(3)]
        assert all(len(v) == 1 for v in per_column)  # a column's dimensions move together
        sources = np.unique(np.concatenate(per_column))
        assert len(sources) == 2  # two distinct rows, each giving at least one column
        taken.append(sum(v[0] == sources[0] for v in per_column))
    # Both splits of three columns (1 + 2 and 2 + 1) are drawn, about equally.
    assert set(taken) == {1, 2}
    assert 0.45 < np.mean(np.array(taken) == 1) < 0.55


def _stitched(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Reference, synthetic and its planted rows: each takes the plan and its coinsurance from
    a row of another plan and keeps the rest."""
    reference, synthetic = _insurance(1500, 1), _insurance(1500, 2)
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(synthetic), 40, replace=False)
    plans = synthetic["plan"].to_numpy()
    for r in rows:
        donor = int(rng.choice(np.flatnonzero(plans != plans[r])))
        synthetic.loc[r, ["plan", "coinsurance"]] = \
            synthetic.loc[donor, ["plan", "coinsurance"]].to_numpy()
    positive = np.zeros(len(synthetic), dtype=bool)
    positive[rows] = True
    return reference, synthetic, positive


def test_the_splice_probability_finds_stitched_rows_and_knows_how_well() -> None:
    reference, synthetic, positive = _stitched(3)
    space = build_space(synthetic, reference, KINDS, None, 20_000, np.random.default_rng(0))
    found = splice(space, np.random.default_rng(0), 0, 20_000)
    scores = conformal_scores(found.stat, found.null)
    # A deductible can suit the new plan at another income: some stitched rows are real-like.
    assert roc_auc_score(positive, scores) > 0.85
    # Drawn like the real rows, the healthy rows' scores are about uniform.
    assert 0.01 < np.mean(scores[~positive] >= 0.95) < 0.09
    # Splices of unseen rows are told from unseen real rows, so the term carries weight;
    # on columns drawn independently there is nothing to tell, and it carries none.
    assert found.extra["quality"] > 0.3
    rng = np.random.default_rng(1)
    independent = pd.DataFrame({c: rng.permutation(reference[c].to_numpy()) for c in KINDS})
    space = build_space(independent.iloc[:700], independent.iloc[700:], KINDS, None, 20_000,
                        np.random.default_rng(0))
    assert splice(space, np.random.default_rng(0), 0, 20_000).extra["quality"] < 0.1


def test_rows_stitched_from_two_real_rows_score_high_on_inconsistency() -> None:
    reference, synthetic, positive = _stitched(3)
    table = localize(synthetic, reference, KINDS, seed=0).table
    scores = table["score_inconsistency"].to_numpy()
    assert roc_auc_score(positive, scores) > 0.85
    assert 0.01 < np.mean(scores[~positive] >= 0.95) < 0.09


def test_a_row_whose_splice_term_is_largest_is_explained_by_it() -> None:
    reference, synthetic, _ = _stitched(3)
    space = build_space(synthetic, reference, KINDS, None, 20_000, np.random.default_rng(0))
    found = inconsistency(space, np.random.default_rng(0), 0, 20_000)
    explain = Explainer(space, synthetic, reference, KINDS, {"inconsistency": found})
    spliced = np.flatnonzero(found.extra["spliced"])  # 245 of the 1,500 rows here
    assert len(spliced) > 0
    row = int(spliced[np.argmax(found.extra["splice"][spliced])])
    text = explain.reasons(row, ["inconsistency"])
    assert text.startswith("its columns go together as in rows spliced from two real rows "
                           f"(p(spliced) {found.extra['splice'][row]:.2f} from a classifier")
    share = found.extra["splice_share"][row]
    assert share > 0.95  # the row most likely spliced is beyond most real rows
    assert f"against real rows, above {share:.1%} of real rows)" in text
    # A row the column terms explain better keeps the column's reason.
    plain = int(np.flatnonzero(~found.extra["spliced"] & (found.extra["column"] >= 0))[0])
    assert "spliced" not in explain.reasons(plain, ["inconsistency"])



def _bands(rows: int, seed: int) -> pd.DataFrame:
    """A band that the reading fixes, beside a column of noise."""
    rng = np.random.default_rng(seed)
    reading = rng.uniform(0, 9, rows)
    band = np.array(["low", "mid", "high"])[(reading // 3).astype(int)]
    return pd.DataFrame({"reading": reading, "band": band, "noise": rng.normal(0, 1, rows)})


def test_a_categorical_reason_names_how_unlikely_the_rows_class_is() -> None:
    kinds = {"reading": "numeric", "band": "categorical", "noise": "numeric"}
    reference, synthetic = _bands(800, 1), _bands(800, 2)
    wrong = np.flatnonzero(synthetic["band"].eq("low").to_numpy())[:20]
    synthetic.loc[wrong, "band"] = "high"  # readings below 3 filed as high
    space = build_space(synthetic, reference, kinds, None, 20_000, np.random.default_rng(0))
    found = inconsistency(space, np.random.default_rng(0), 0, 20_000)
    explain = Explainer(space, synthetic, reference, kinds, {"inconsistency": found})
    ex = found.extra
    names = [c["name"] for c in ex["columns"]]
    on_band = [r for r in wrong if ex["column"][r] >= 0 and names[ex["column"][r]] == "band"
               and not ex["spliced"][r]]
    assert len(on_band) >= 10
    for r in on_band:
        assert ex["given"][r] < 0.05  # no real row of such a reading is filed as high
        assert explain.inconsistency(r) == (
            f"band=high (probability {ex['given'][r]:.2g}) where real rows with its other "
            "values hold low")
    # When the row's own class is the likeliest, the reason says how likely, not that real
    # rows hold the class the row holds.
    r = on_band[0]
    ex["expected"][r] = space.prep.synthetic.codes[r, ex["columns"][names.index("band")]["index"]]
    ex["given"][r] = 0.41
    assert explain.inconsistency(r) == ("band=high, which real rows with its other values "
                                        "hold with probability 0.41")



def _two_settings(rows: int, seed: int) -> pd.DataFrame:
    """A dial read anywhere on 0-100, its band low below 50 and high above; half the rows
    sit at two settings either side of 50, 0.2 apart, under a twentieth of the dial's spread:
    snapped to the reference's atoms they are one value, and their bands one mix."""
    rng = np.random.default_rng(seed)
    dial = np.where(rng.random(rows) < 0.5, rng.uniform(0, 100, rows),
                    rng.choice([49.9, 50.1], rows))
    return pd.DataFrame({"dial": dial, "band": np.where(dial < 50, "low", "high"),
                         "noise": rng.normal(0, 1, rows)})


def test_the_inconsistency_models_see_the_values_as_given_not_snapped() -> None:
    kinds = {"dial": "numeric", "band": "categorical", "noise": "numeric"}
    reference, synthetic = _two_settings(1500, 0), _two_settings(1000, 1)
    flipped = np.flatnonzero(np.isin(synthetic["dial"], [49.9, 50.1]))[:40]
    synthetic.loc[flipped, "band"] = np.where(synthetic.loc[flipped, "band"] == "low",
                                              "high", "low")
    positive = np.isin(np.arange(1000), flipped)
    space = build_space(synthetic, reference, kinds, None, 20_000, np.random.default_rng(0))
    at_settings = np.isin(reference["dial"], [49.9, 50.1])
    assert np.unique(space.prep.reference.numeric[at_settings, 0]).size == 1
    given = inconsistency(space.as_given(), np.random.default_rng(0), 0, 20_000)
    blurred = inconsistency(space, np.random.default_rng(0), 0, 20_000)
    assert roc_auc_score(positive, given.stat) > 0.95
    assert roc_auc_score(positive, blurred.stat) < 0.8
    table = localize(synthetic, reference, kinds, seed=0).table
    assert roc_auc_score(positive, table["score_inconsistency"]) > 0.95
