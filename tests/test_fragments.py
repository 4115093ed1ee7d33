"""The fragments statistic of the inconsistency detector: rows made of other rows' exact
values, piece by piece, are found and explained by the rows they came from; common values and
whole-row copies are left to chance and to the other detectors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from synthos.localize import fragments as fr
from synthos.localize import localize


def _unique_codes(rows: int, columns: int) -> np.ndarray:
    """Every value held by one row only."""
    return np.arange(rows * columns).reshape(rows, columns)


def test_a_row_of_two_rows_pieces_is_covered_whole_by_those_two() -> None:
    codes = _unique_codes(6, 4)
    codes[5] = [codes[0, 0], codes[0, 1], codes[1, 2], codes[1, 3]]
    records = np.arange(6)
    cover, partners = fr.fragment_cover(codes, records)
    one = -np.log(2 / 6)  # a value two of the six rows hold
    assert cover[5] == pytest.approx(4 * one)
    assert set(partners[5]) == {0, 1}
    # Each source shares half its values with the stitched row, which is covered whole: the
    # share is explained by the source being a source. The others share nothing.
    assert np.all(cover[:5] == 0) and np.all(partners[:5] == -1)


def test_the_second_row_counts_only_columns_the_first_does_not_match() -> None:
    codes = _unique_codes(5, 4)
    codes[3] = [codes[0, 0], codes[0, 1], codes[0, 2], codes[3, 3]]
    codes[4] = [codes[0, 0], codes[0, 1], codes[0, 2], codes[1, 3]]
    cover, partners = fr.fragment_cover(codes, np.arange(5))
    # Row 4 holds row 0's first three values and row 1's last: covered whole by the two. Row
    # 3 holds row 0's three and a value of its own; row 4 repeats the same three, which add
    # nothing beyond row 0's.
    w3 = -np.log(np.array([3, 3, 3]) / 5).sum()
    assert cover[4] == pytest.approx(w3 - np.log(2 / 5))
    assert set(partners[4]) == {0, 1}
    assert cover[3] == pytest.approx(w3)
    assert partners[3, 0] in (0, 4) and partners[3, 1] == -1


def test_whole_row_copies_missing_values_and_common_values_match_nothing() -> None:
    codes = _unique_codes(40, 3)
    codes[1] = codes[0]  # the same record: the duplicates detector's matter
    codes[2, 0], codes[3, 0] = -1, -1  # missing values
    codes[:, 2] = 7  # one value every row holds, more than MAX_GROUP of them
    records = np.r_[0, 0, np.arange(2, 40)]
    cover, _ = fr.fragment_cover(codes, records)
    assert np.all(cover == 0)
    # Told apart, the two equal rows match each other on their two rare values.
    cover, partners = fr.fragment_cover(codes, np.arange(40))
    assert cover[0] == pytest.approx(-2 * np.log(2 / 40)) and partners[0, 0] == 1


def test_beyond_the_pair_budget_only_the_rarest_values_are_matched(monkeypatch) -> None:
    column = np.r_[[0, 0], [1, 1, 1], np.full(10, 2), np.arange(3, 20)]
    monkeypatch.setattr(fr, "MAX_PAIRS_PER_COLUMN", 8)
    x, y, w, info = fr._column_pairs(column, len(column))
    # Pairs: 2 of the value two rows hold, 6 of the one three hold; the ten-row value's 90
    # would pass the budget.
    assert len(x) == 8
    assert set(column[x]) == {0, 1}
    assert np.all(column[x] == column[y]) and np.all(x != y)
    np.testing.assert_allclose(w, -np.log(np.where(column[x] == 0, 2, 3) / len(column)))
    # What the column tells of a row counts the values it could match, not the ten-row one.
    held = np.r_[[2, 2], [3, 3, 3], np.zeros(10), np.ones(17)]
    np.testing.assert_allclose(info, np.where(held > 0, -np.log(np.maximum(held, 1) / 32), 0))


def _measurements(rows: int, seed: int) -> pd.DataFrame:
    """Four measured columns of one size factor, to a tenth, and a category."""
    rng = np.random.default_rng(seed)
    size = rng.normal(0, 1, rows)
    cols = {f"m{j}": np.round(50 + 10 * (0.6 * size + 0.8 * rng.normal(0, 1, rows)), 1)
            for j in range(4)}
    cols["site"] = rng.choice(["a", "b", "c"], rows)
    return pd.DataFrame(cols)


KINDS = {"m0": "numeric", "m1": "numeric", "m2": "numeric", "m3": "numeric",
         "site": "categorical"}


def _mixed(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, dict]:
    """Reference, synthetic, its planted rows and each one's two sources: each takes two
    columns from one synthetic row and the rest from another, both of which stay in the
    table."""
    reference, synthetic = _measurements(600, 1), _measurements(600, 2)
    rng = np.random.default_rng(seed)
    rows = rng.choice(600, 30, replace=False)
    others = np.setdiff1d(np.arange(600), rows)
    sources = {}
    for r in rows:
        i, j = rng.choice(others, 2, replace=False)
        take = rng.choice(5, 2, replace=False)
        mix = synthetic.iloc[j].copy()
        mix.iloc[take] = synthetic.iloc[i].iloc[take]
        synthetic.iloc[r] = mix
        sources[int(r)] = {int(i), int(j)}
    positives = np.zeros(600, dtype=bool)
    positives[rows] = True
    return reference, synthetic, positives, sources


def test_rows_made_of_other_rows_pieces_are_found_and_explained_by_them() -> None:
    reference, synthetic, positives, sources = _mixed(0)
    result = localize(synthetic, reference, KINDS, seed=0)
    table = result.table.set_index("row").sort_index()
    assert roc_auc_score(positives, table["score_inconsistency"]) > 0.95
    flagged = table.index[table["flagged"]]
    assert positives[flagged].sum() >= 25
    # Most other rows flagged gave a planted row its pieces, where it holds no value of its
    # own that another row does not; the rest are within the false discovery rate.
    given = set().union(*sources.values())
    others = [r for r in flagged if not positives[r] and r not in given]
    assert len(others) <= 0.1 * len(flagged)
    assert len(flagged) - len(others) - positives[flagged].sum() < positives[flagged].sum()
    # A planted row's reason names the rows its pieces came from.
    named = 0
    for row in flagged[positives[flagged]]:
        reason = table.loc[row, "reasons"]
        assert "piece by piece" in reason
        found = {int(t.split()[0].rstrip(";,)")) for t in reason.split("synthetic row ")[1:]}
        named += found == sources[row]
        # Only the values the cover matches: site's three values are each held by hundreds
        # of rows, beyond MAX_GROUP, and say nothing of where a row's values came from.
        assert "site" not in reason.split(" (only ")[0]
        assert "of the pool's 1,200 rows" in reason
    assert named >= 20
    # The rarest column comes first, and its count is the pool's (the 600 synthetic rows and
    # the 600 real ones).
    row = int(flagged[positives[flagged]][0])
    reason = table.loc[row, "reasons"]
    column = reason.split("on ")[1].split(",")[0].split(" ")[0]
    value = synthetic.loc[row, column]
    held = int((synthetic[column] == value).sum() + (reference[column] == value).sum())
    assert reason.split("held by ")[1].startswith(f"{held} ")


def test_on_a_table_of_common_values_exact_shares_weigh_nothing() -> None:
    rng = np.random.default_rng(3)
    counts = pd.DataFrame({f"c{j}": rng.poisson(1.0, 800) for j in range(4)})
    real = fr.value_codes(counts.to_numpy(float), np.zeros((800, 0), dtype=np.int64))
    assert fr._quality(real, rng) < 0.1
    measured = _measurements(800, 4)
    real = fr.value_codes(measured[["m0", "m1", "m2", "m3"]].to_numpy(),
                          pd.factorize(measured["site"])[0][:, None])
    assert fr._quality(real, rng) > 0.5
