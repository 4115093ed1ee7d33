"""Row-level localization: does ``synthos.localize`` find the bad rows planted in a good table?

    python -m benchmarks.localize [--datasets NAME ...] [--seeds 0 1] [--rates 0.01 0.05 0.10]
        [--kinds KIND ...] [--max-rows N] [--threads 1] [--no-cleanlab] [--per-dataset]
        [--out results.json]

For each dataset and seed the collapse benchmark's split (:func:`benchmarks.collapse.cases.halves`)
gives a *reference* half and the other half, which is a *healthy synthetic table*: what a perfect
generator would output. Known bad rows are then planted into a copy of the healthy table, one kind
at a time, at each rate (a share of the synthetic table's rows, at least 3 rows), by REPLACING
randomly chosen rows (:func:`plant`):

``copies``          the row becomes an exact copy of a random reference row (memorization).
``out_of_support``  the row's values in 1 or 2 random numeric columns are pushed outside the
                    reference range: max + U(0.5, 2) x std of that reference column, or
                    min - U(0.5, 2) x std (random side); integer columns rounded outward, so they
                    stay outside.
``label_flips``     the target value becomes a different class, drawn uniformly from the other
                    classes present in the reference. Only on datasets whose target in
                    ``TARGETS`` is categorical or boolean.
``duplicates``      the row becomes a copy of another, non-planted synthetic row (one that is not
                    already an exact duplicate in the healthy table where there are enough).
                    A duplicate pair has no "original": BOTH the planted copy and the row it
                    copies are positives, so a table holds about twice as many positives as
                    planted rows.
``mixed``           the row becomes a mix of two random rows of the healthy table: a random half
                    of the columns (at least one) from row i, the rest from row j (redrawn until
                    the mix differs from both).

Every planting draws from its own random stream, derived from (dataset, kind, rate, seed), so a
subset of datasets, kinds or rates gives the same tables. Each planted table then goes through
``synthos.localize.localize(synthetic, reference, kinds, target=..., seed=seed)`` with ``kinds``
from ``column_kinds(reference)`` and the target passed on every kind (not only label flips) for
datasets with a categorical or boolean target, as a user with a classification target would.

Printed, as markdown tables (means over datasets x seeds; "min" is the lowest per-dataset mean
over seeds, with that dataset named):

- per kind and rate: AUROC of the combined ``score`` (positives = planted rows); AUROC of the
  kind's own detector column (copies: ``score_memorization``, out_of_support:
  ``score_out_of_support``, label_flips: ``score_label_issue``, duplicates: ``score_duplicates``,
  mixed: the best on average of ``score_detectability``, ``score_out_of_support`` and
  ``score_inconsistency``, named); what the planted table allows: the content ceiling (any
  function of a row's values, :func:`content_ceiling`) and an oracle, the count oracle for
  copies and duplicates (:func:`count_oracle`, learned from further plantings) and for mixed
  rows a classifier trained on the planting recipe's own mixes of reference rows
  (:func:`process_oracle`);
  precision at k (k = the number of positives; ties at the k-th score shared out in expectation)
  of the combined score; the share of positives ``flagged`` (recall of the flags), the share of
  the other rows flagged, and the false discovery proportion of the flags (FDP: false flags over
  flags), to hold against the false discovery rate localize flags at;
- the false-flag rate on the *unplanted* healthy tables (rate 0): the share of rows flagged, per
  dataset, beside the share of healthy rows that already are exact duplicates of another healthy
  row or exact copies of a reference row (real data holds some; they stay negatives here);
- calibration on those healthy tables: the share of rows whose combined score and each
  detector's score is >= 0.95. Healthy rows are drawn like the reference rows, so a conformal
  score should be near uniform on them: about 5 %; far more means that detector's null is off;
- label flips, ours beside cleanlab's own recipe run on the same tables: features = the synthetic
  table's non-target columns (categoricals one-hot by ``pandas.get_dummies``, booleans 0/1,
  numerics median-filled and standardized), ``pred_probs`` from 5-fold ``cross_val_predict`` of
  ``LogisticRegression(max_iter=1000)``, flags from ``cleanlab.filter.find_label_issues`` and the
  ranking from ``cleanlab.rank.get_label_quality_scores`` (self-confidence, lower = worse);
  classes = the sorted labels present in the synthetic table. Ours: ``score`` and ``flagged``.
- with ``--per-dataset``: every (kind, rate, dataset) with both candidate detectors of mixed, the
  precision of the flags and the share of negatives flagged.

How to read it: an AUROC of 0.5 is a coin toss and 1.0 ranks every planted row above every healthy
one. The project's goal is AUROC >= 0.95 for every kind; the tables report, nothing is tuned to it.
Natural exact duplicates are common in some tables (randhie, fair: many rows of small counts), and
they stay negatives for ``duplicates`` and ``copies``: a detector that rightly scores them high
loses AUROC there; the healthy-table table shows how many there are.

Timings are wall-clock seconds on whatever else the machine runs. By default the whole run holds
native thread pools (OpenMP, BLAS) to one thread (``--threads``; 0 leaves the libraries' own
default): on a 2-core machine shared with another CPU-bound process, boosted trees with one
OpenMP thread per core thrash (a localize call measured at 1.3 s with one thread did not finish
in 600 s with the default pools while another such process ran). ``--max-rows`` caps each half by
a random subsample (its own stream, from dataset and seed) before planting; the footer says where.
``--out`` writes every raw number (one record per planted table and per healthy table, errors with
their traces) as JSON.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import sys
import time
import traceback
import warnings
import zlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from benchmarks.collapse.cases import conform, halves  # noqa: E402
from benchmarks.collapse.datasets import DATASETS, TARGETS, column_kinds  # noqa: E402

KINDS: tuple[str, ...] = ("copies", "out_of_support", "label_flips", "duplicates", "mixed")
RATES: tuple[float, ...] = (0.01, 0.05, 0.10)
MIN_PLANTED = 3
DEFAULT_DATASETS: tuple[str, ...] = ("breast_cancer", "digits", "anes96", "penguins", "fair",
                                     "randhie")
DEFAULT_SEEDS: tuple[int, ...] = (0, 1)
# Each half is capped at this many rows by a random subsample (None: no cap). Not needed by
# default: one localize call on randhie's full halves (10,095 rows each) took ~1 s here.
DEFAULT_MAX_ROWS: int | None = None
DETECTORS: tuple[str, ...] = ("detectability", "out_of_support", "inconsistency", "memorization",
                              "duplicates", "label_issue")
#: The detector column(s) meant to catch each kind; for mixed the best on average is reported.
KIND_DETECTORS: dict[str, tuple[str, ...]] = {
    "copies": ("memorization",),
    "out_of_support": ("out_of_support",),
    "label_flips": ("label_issue",),
    "duplicates": ("duplicates",),
    "mixed": ("detectability", "out_of_support", "inconsistency"),
}
GOAL_AUROC = 0.95
#: Further plantings of each kind and rate that :func:`count_oracle` learns its ranking from.
ORACLE_PLANTINGS = 8
#: Mixed rows per reference row that :func:`process_oracle` trains on.
ORACLE_MIXES_PER_ROW = 4
#: The healthy-table calibration check counts scores at or above this (expected share 1 - TAIL).
TAIL = 0.95
NUMERIC_KINDS = ("numeric", "integer")
LABEL_KINDS = ("categorical", "boolean")


# ---------------------------------------------------------------------------------------------
# planting


@dataclass(eq=False)
class Planted:
    """One planted table and its ground truth.

    Attributes
    ----------
    synthetic : pandas.DataFrame
        The healthy table with some rows replaced; same columns and dtypes, fresh ``RangeIndex``.
    positives : numpy.ndarray
        Boolean mask over the rows of ``synthetic``: the rows a localizer should find.
    rows : numpy.ndarray
        Positions of the replaced rows.
    sources : list
        Per replaced row, what it was made from: the reference row (copies), the columns pushed
        out (out_of_support), the old and new label (label_flips), the synthetic row copied
        (duplicates), or rows i, j and the columns taken from i (mixed).
    """

    synthetic: pd.DataFrame
    positives: np.ndarray
    rows: np.ndarray
    sources: list


def planting_rng(dataset: str, kind: str, rate: float, seed: int, draw: int = 0
                 ) -> np.random.Generator:
    """The random stream of one planting: a pure function of its names. ``draw`` 0 is the
    table the benchmark scores; draws 1, 2, ... are independent further plantings (the ones
    :func:`count_oracle` learns from)."""
    # crc32, not hash(): str hashes are salted per process, and tables must repeat across runs.
    names = (dataset, kind, f"{float(rate):g}")
    entropy = [int(seed), *(zlib.crc32(n.encode()) for n in names)]
    return np.random.default_rng([*entropy, int(draw)] if draw else entropy)


def n_planted(rows: int, rate: float) -> int:
    """Rows to replace: ``rate`` of the table rounded half up, at least :data:`MIN_PLANTED`."""
    return min(rows, max(MIN_PLANTED, math.floor(rate * rows + 0.5)))


def has_label_target(frame: pd.DataFrame, target: str | None) -> bool:
    """Whether ``target`` is a categorical or boolean column of ``frame``."""
    return target is not None and column_kinds(frame).get(target) in LABEL_KINDS


def _row_hashes(frame: pd.DataFrame) -> np.ndarray:
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def plant_detailed(healthy: pd.DataFrame, reference: pd.DataFrame, kind: str, rate: float,
                   rng: np.random.Generator, target: str | None = None) -> Planted:
    """Replace a share of a healthy table's rows by bad rows of one kind.

    Parameters
    ----------
    healthy : pandas.DataFrame
        The synthetic table to plant into (not modified).
    reference : pandas.DataFrame
        The real table: same columns and dtypes.
    kind : str
        One of :data:`KINDS`.
    rate : float
        Share of ``healthy``'s rows to replace (at least :data:`MIN_PLANTED` rows).
    rng : numpy.random.Generator
        Source of randomness (:func:`planting_rng`).
    target : str, optional
        The label column; required by ``label_flips``, which needs it categorical or boolean.

    Returns
    -------
    Planted
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
    n = len(healthy)
    k = n_planted(n, rate)
    base = healthy.reset_index(drop=True)
    out = base.copy()
    rows = np.sort(rng.choice(n, size=k, replace=False))
    positives = np.zeros(n, dtype=bool)
    positives[rows] = True
    sources: list = []

    if kind == "copies":
        picks = rng.choice(len(reference), size=k, replace=len(reference) < k)
        _put_rows(out, rows, reference, picks)
        sources.extend(int(pick) for pick in picks)

    elif kind == "out_of_support":
        kinds = column_kinds(reference)
        numeric = [c for c in reference.columns if kinds[c] in NUMERIC_KINDS]
        if not numeric:
            raise ValueError("out_of_support needs a numeric column")
        for name in numeric:  # floats while planting; conform() restores the dtypes
            out[name] = out[name].astype("float64")
        for row in rows:
            count = min(int(rng.integers(1, 3)), len(numeric))
            picked = [numeric[i] for i in rng.choice(len(numeric), size=count, replace=False)]
            pushed = {}
            for name in picked:
                values = reference[name].to_numpy(dtype="float64")
                lo, hi = np.nanmin(values), np.nanmax(values)
                std = np.nanstd(values, ddof=1)
                if not std > 0:
                    std = 1.0
                step = rng.uniform(0.5, 2.0) * std
                upper = bool(rng.random() < 0.5)
                value = hi + step if upper else lo - step
                if kinds[name] == "integer":  # round outward, never back inside the range
                    value = max(math.ceil(value), hi + 1) if upper else min(math.floor(value),
                                                                           lo - 1)
                out.iat[row, out.columns.get_loc(name)] = value
                pushed[name] = float(value)
            sources.append(pushed)
        out = conform(out, reference)

    elif kind == "label_flips":
        if not has_label_target(reference, target):
            raise ValueError("label_flips needs a categorical or boolean target")
        classes = list(pd.unique(reference[target].dropna()))
        if len(classes) < 2:
            raise ValueError(f"target {target!r} has fewer than two classes in the reference")
        col = out.columns.get_loc(target)
        for row in rows:
            old = out.iat[row, col]
            others = [c for c in classes if pd.isna(old) or c != old]
            new = others[int(rng.integers(len(others)))]
            out.iat[row, col] = new
            sources.append({"from": None if pd.isna(old) else _plain(old), "to": _plain(new)})

    elif kind == "duplicates":
        rest = np.setdiff1d(np.arange(n), rows)
        unique = rest[~base.duplicated(keep=False).to_numpy()[rest]]
        pool = unique if len(unique) >= k else rest
        picks = rng.choice(pool, size=k, replace=len(pool) < k)
        _put_rows(out, rows, base, picks)
        positives[picks] = True
        sources.extend(int(pick) for pick in picks)

    else:  # mixed
        columns = list(base.columns)
        half = max(1, len(columns) // 2)
        for row in rows:
            for _ in range(50):
                i, j = (int(x) for x in rng.choice(n, size=2, replace=False))
                take = sorted(rng.choice(len(columns), size=half, replace=False).tolist())
                mix = base.iloc[j].copy()
                mix.iloc[take] = base.iloc[i].iloc[take]
                mixed = pd.DataFrame([mix]).astype(base.dtypes.to_dict())
                if not (_same_row(mixed, base.iloc[[i]]) or _same_row(mixed, base.iloc[[j]])):
                    break
            out.iloc[row] = mix
            sources.append({"i": i, "j": j, "from_i": [columns[t] for t in take]})

    out = conform(out, reference)
    return Planted(out, positives, rows, sources)


def _put_rows(out: pd.DataFrame, rows: np.ndarray, source: pd.DataFrame, picks: np.ndarray
              ) -> None:
    """``out``'s rows at ``rows`` become ``source``'s at ``picks``, column by column (one
    vectorized assignment each: row by row took seconds on ten thousand rows)."""
    for j in range(out.shape[1]):
        out.iloc[rows, j] = source.iloc[picks, j].to_numpy()


def plant(healthy: pd.DataFrame, reference: pd.DataFrame, kind: str, rate: float,
          rng: np.random.Generator, target: str | None = None
          ) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`plant_detailed` without the details: ``(synthetic table, positives mask)``."""
    planted = plant_detailed(healthy, reference, kind, rate, rng, target)
    return planted.synthetic, planted.positives


def _same_row(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    return bool(_row_hashes(a)[0] == _row_hashes(b.reset_index(drop=True))[0])


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def cap_rows(frame: pd.DataFrame, max_rows: int | None, dataset: str, seed: int, half: str
             ) -> pd.DataFrame:
    """A random subsample of at most ``max_rows`` rows (original order kept), or the table."""
    if max_rows is None or len(frame) <= max_rows:
        return frame
    rng = planting_rng(dataset, f"cap/{half}", 0.0, seed)
    keep = np.sort(rng.choice(len(frame), size=max_rows, replace=False))
    return frame.iloc[keep].reset_index(drop=True)


def natural_ties(healthy: pd.DataFrame, reference: pd.DataFrame) -> dict[str, float]:
    """Shares of healthy rows that are exact duplicates within the table, or of a reference row."""
    hashes = _row_hashes(healthy)
    return {"duplicate_share": float(healthy.duplicated(keep=False).mean()),
            "reference_copy_share": float(np.isin(hashes, _row_hashes(reference)).mean())}


# ---------------------------------------------------------------------------------------------
# scoring


def auroc(positives: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC of ``scores`` (higher = worse) against the mask; NaN scores count as lowest."""
    if positives.all() or not positives.any():
        return math.nan
    scores = np.asarray(scores, dtype="float64")
    if np.isnan(scores).any():
        finite = scores[~np.isnan(scores)]
        scores = np.where(np.isnan(scores), (finite.min() - 1.0) if finite.size else 0.0, scores)
    return float(roc_auc_score(positives, scores))


def precision_at_k(positives: np.ndarray, scores: np.ndarray, k: int | None = None) -> float:
    """Share of positives among the k highest scores (k = positives), ties in expectation."""
    k = int(positives.sum()) if k is None else k
    if k == 0:
        return math.nan
    scores = np.nan_to_num(np.asarray(scores, dtype="float64"), nan=-np.inf)
    kth = np.sort(scores)[::-1][k - 1]
    above, tied = scores > kth, scores == kth
    need = k - int(above.sum())
    hits = positives[above].sum() + need * positives[tied].sum() / tied.sum()
    return float(hits / k)


def flag_rates(positives: np.ndarray, flagged: np.ndarray) -> dict[str, float]:
    """Recall and precision of a flag mask, the share of negatives flagged, and the false
    discovery proportion (false flags over flags, 0 when nothing is flagged)."""
    hits = int((positives & flagged).sum())
    return {"flagged_recall": hits / positives.sum() if positives.any() else math.nan,
            "flagged_precision": hits / flagged.sum() if flagged.any() else math.nan,
            "false_discovery": float((flagged & ~positives).sum() / max(int(flagged.sum()), 1)),
            "negatives_flagged": float(flagged[~positives].mean()) if (~positives).any()
            else math.nan,
            "n_flagged": int(flagged.sum())}


def natural_tie_mask(kind: str, synthetic: pd.DataFrame, reference: pd.DataFrame,
                     positives: np.ndarray) -> np.ndarray | None:
    """Negatives indistinguishable from the planted rows by content alone, or None.

    copies: unplanted rows equal to some reference row; duplicates: unplanted rows with an exact
    duplicate in the table. Real tables of small counts hold many (a perfect generator makes them
    too); :func:`measure` reports the AUROC with them left out beside the plain one.
    """
    if kind == "copies":
        tied = np.isin(_row_hashes(synthetic), _row_hashes(reference))
    elif kind == "duplicates":
        tied = synthetic.duplicated(keep=False).to_numpy()
    else:
        return None
    return tied & ~positives


def _group_best_auroc(groups: np.ndarray, positives: np.ndarray) -> float:
    """AUROC of the best score constant within ``groups``: each group ranked by its share of
    positives (the posterior given the group, which maximizes the empirical AUROC)."""
    codes = pd.factorize(groups)[0]
    share = np.bincount(codes, weights=positives.astype("float64")) / np.bincount(codes)
    return auroc(positives, share[codes])


def content_ceiling(synthetic: pd.DataFrame, positives: np.ndarray) -> float:
    """The highest AUROC any score that is a function of a row's values can reach here.

    Rows with equal values must share a score. 1.0 when no positive row equals a negative one;
    below it where planted copies or duplicates equal rows the healthy table holds anyway.
    A bound, not a target: it may use the ground truth to tell apart records that no statistic
    could.
    """
    return _group_best_auroc(_row_hashes(synthetic), positives)


def count_groups(synthetic: pd.DataFrame, reference: pd.DataFrame) -> np.ndarray:
    """Per synthetic row, one key for how many synthetic rows and how many reference rows equal
    it."""
    own = _row_hashes(synthetic)
    values, counts = np.unique(own, return_counts=True)
    in_synthetic = counts[np.searchsorted(values, own)]
    ref_values, ref_counts = np.unique(_row_hashes(reference), return_counts=True)
    pos = np.clip(np.searchsorted(ref_values, own), 0, len(ref_values) - 1)
    in_reference = np.where(ref_values[pos] == own, ref_counts[pos], 0)
    return in_synthetic.astype(np.int64) * (len(reference) + 1) + in_reference


def count_oracle(synthetic: pd.DataFrame, reference: pd.DataFrame, positives: np.ndarray,
                 plantings: list[Planted]) -> float:
    """AUROC of the best score that sees only how many synthetic and how many reference rows
    equal the row, as one learns it from the planting process: each group of rows sharing both
    counts ranked by its share of planted rows over ``plantings`` (further plantings of the same
    kind and rate into the same tables, :data:`ORACLE_PLANTINGS` of them), a group they never
    hold at their overall share. What exact-match evidence allows for copies and duplicates.

    Ranked by their share in the table scored, the groups would fit its ground truth: at 1%
    most groups hold one or two planted rows, and copies planted in randhie read 0.88-0.90
    that way against 0.68 when the share is learned from a random half of the same table.
    """
    keys = np.concatenate([count_groups(p.synthetic, reference) for p in plantings])
    planted = np.concatenate([p.positives for p in plantings]).astype("float64")
    share = pd.Series(planted).groupby(keys).mean()
    learned = share.reindex(count_groups(synthetic, reference)).fillna(planted.mean())
    return auroc(positives, learned.to_numpy())


def _codes(frames: list[pd.DataFrame]) -> tuple[list[np.ndarray], np.ndarray]:
    """The frames as float arrays on one coding: numbers as they are, any other column as the
    codes of its values over all frames; and which columns are such codes."""
    both = pd.concat(frames, ignore_index=True)
    columns, coded = [], []
    for name in both.columns:
        values = both[name]
        if values.dtype.kind in "biuf":
            columns.append(values.to_numpy(dtype="float64"))
            coded.append(False)
        else:
            codes = pd.factorize(values.astype(str))[0].astype("float64")
            columns.append(codes)
            coded.append(True)
    matrix = np.column_stack(columns)
    return np.split(matrix, np.cumsum([len(f) for f in frames[:-1]])), np.array(coded)


def process_oracle(synthetic: pd.DataFrame, reference: pd.DataFrame, positives: np.ndarray,
                   seed: int) -> float:
    """AUROC of a classifier that knows how the mixed rows were made: boosted trees trained to
    tell the reference rows from :data:`ORACLE_MIXES_PER_ROW` times as many rows mixed from
    two reference rows by the planting recipe itself (a random half of the columns from one,
    the rest from the other), scoring the planted table, whose rows it never saw.

    Not a bound (a better model could do better), but what a detector tuned to this one
    alternative reaches; localize's splice term draws a random share of the columns instead,
    since a generator does not mix half and half.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    (real, rows), coded = _codes([reference, synthetic])
    rng = np.random.default_rng(seed)
    m, d = real.shape
    count = ORACLE_MIXES_PER_ROW * m
    first = rng.integers(m, size=count)
    second = (first + rng.integers(1, m, size=count)) % m
    from_first = np.argsort(rng.random((count, d)), axis=1) < max(1, d // 2)
    mixes = np.where(from_first, real[first], real[second])
    model = HistGradientBoostingClassifier(
        categorical_features=coded if coded.any() else None, max_iter=300,
        early_stopping=True, random_state=seed)
    model.fit(np.vstack([real, mixes]), np.r_[np.zeros(m), np.ones(count)],
              sample_weight=np.r_[np.full(m, float(ORACLE_MIXES_PER_ROW)), np.ones(count)])
    return auroc(positives, model.predict_proba(rows)[:, 1])


def measure(table: pd.DataFrame, positives: np.ndarray, kind: str | None,
            ties: np.ndarray | None = None, ceilings: dict | None = None) -> dict:
    """Every number of one localize result against its ground truth.

    ``ties``: negatives to leave out of ``auroc_untied`` (:func:`natural_tie_mask`);
    ``ceilings``: :func:`content_ceiling` and :func:`count_oracle` of the planted table
    (``{"auroc_ceiling": ..., "auroc_oracle": ...}``; for mixed rows the oracle is
    :func:`process_oracle`), carried into the record.
    """
    score = table["score"].to_numpy(dtype="float64")
    flagged = table["flagged"].to_numpy(dtype=bool)
    out: dict = {"nan_scores": int(np.isnan(score).sum())}
    out.update(flag_rates(positives, flagged))
    out["fired"] = fired_counts(table["fired"], positives)
    if kind is None:
        out["flagged_share"] = float(flagged.mean())
        # On a healthy table every score should be near uniform: about 5 % of rows >= 0.95.
        out["tail_share"] = {name: float(np.mean(table[col].to_numpy(dtype="float64") >= TAIL))
                             for name, col in [("score", "score")]
                             + [(d, f"score_{d}") for d in DETECTORS
                                if f"score_{d}" in table.columns]}
        return out
    out["auroc"] = auroc(positives, score)
    out.update(ceilings or {})
    out["natural_ties"] = int(ties.sum()) if ties is not None else 0
    out["auroc_untied"] = auroc(positives[~ties], score[~ties]) if ties is not None \
        else out["auroc"]
    out["precision_at_k"] = precision_at_k(positives, score)
    out["detector_auroc"] = {d: auroc(positives, table[f"score_{d}"].to_numpy(dtype="float64"))
                             for d in DETECTORS if f"score_{d}" in table.columns}
    return out


def fired_counts(fired: pd.Series, positives: np.ndarray) -> dict[str, dict[str, int]]:
    """How often each detector fired on positive and on negative rows."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"positive": 0, "negative": 0})
    for names, pos in zip(fired.fillna("").astype(str), positives, strict=True):
        for name in filter(None, (s.strip() for s in names.split(","))):
            counts[name]["positive" if pos else "negative"] += 1
    return dict(counts)


def aligned(table: pd.DataFrame, n: int) -> pd.DataFrame:
    """The result table sorted by ``row``; an error unless it holds rows 0..n-1 once each."""
    table = table.sort_values("row", kind="stable").reset_index(drop=True)
    if len(table) != n or not np.array_equal(table["row"].to_numpy(), np.arange(n)):
        raise ValueError(f"localize returned {len(table)} rows for a table of {n}, or its 'row' "
                         "column is not 0..n-1")
    return table


# ---------------------------------------------------------------------------------------------
# cleanlab's recipe


def cleanlab_features(synthetic: pd.DataFrame, target: str) -> np.ndarray:
    """Non-target columns: categoricals one-hot, booleans 0/1, numerics median-filled, scaled."""
    kinds = column_kinds(synthetic)
    parts = []
    for name in synthetic.columns:
        if name == target:
            continue
        col = synthetic[name]
        if kinds[name] == "categorical":
            parts.append(pd.get_dummies(col.astype(object), prefix=name, dtype="float64"))
        elif kinds[name] == "boolean":
            parts.append(col.astype("float64").to_frame())
        else:
            values = col.astype("float64")
            values = values.fillna(values.median() if values.notna().any() else 0.0)
            std = values.std(ddof=0)
            parts.append(((values - values.mean()) / (std if std > 0 else 1.0)).to_frame())
    return pd.concat(parts, axis=1).to_numpy(dtype="float64")


def run_cleanlab(synthetic: pd.DataFrame, target: str, positives: np.ndarray, seed: int) -> dict:
    """cleanlab's find_label_issues and label-quality ranking on one table."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    started = time.perf_counter()
    labelled = synthetic[target].notna().to_numpy()
    x = cleanlab_features(synthetic, target)[labelled]
    values = synthetic[target][labelled].to_numpy(dtype=object)
    classes = sorted(pd.unique(values), key=str)
    labels = np.array([classes.index(v) for v in values])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)  # classes rarer than the 5 folds
        pred_probs = cross_val_predict(LogisticRegression(max_iter=1000), x, labels, cv=5,
                                       method="predict_proba")
        issues = find_label_issues(labels, pred_probs)
        quality = get_label_quality_scores(labels, pred_probs)
    flagged = np.zeros(len(synthetic), dtype=bool)
    flagged[labelled] = issues
    badness = np.zeros(len(synthetic))  # unlabelled rows: ranked as clean
    badness[labelled] = 1.0 - quality
    out = {"auroc": auroc(positives, badness), "precision_at_k": precision_at_k(positives, badness),
           "seconds": time.perf_counter() - started}
    out.update(flag_rates(positives, flagged))
    return out


# ---------------------------------------------------------------------------------------------
# the run


def _localize():
    from synthos.localize import localize

    return localize


def run(datasets: list[str], seeds: list[int], rates: list[float], kinds: list[str],
        max_rows: int | None, cleanlab: bool = True, threads: int | None = 1) -> dict:
    """Plant, localize and score every (dataset, seed, kind, rate); return every raw number.

    ``threads``: native thread pools held to this many threads for the whole run (None: the
    libraries' defaults).
    """
    if threads is None:
        return _run(datasets, seeds, rates, kinds, max_rows, cleanlab, threads)
    with threadpool_limits(threads):
        return _run(datasets, seeds, rates, kinds, max_rows, cleanlab, threads)


def _run(datasets: list[str], seeds: list[int], rates: list[float], kinds: list[str],
         max_rows: int | None, cleanlab: bool, threads: int | None) -> dict:
    localize = _localize()
    records: list[dict] = []
    healthy_records: list[dict] = []
    errors: list[dict] = []
    capped: dict[str, tuple[int, int, int, int]] = {}
    started = time.perf_counter()

    def call(synthetic: pd.DataFrame, reference: pd.DataFrame, target: str | None, seed: int,
             where: dict) -> tuple[pd.DataFrame | None, float]:
        t0 = time.perf_counter()
        try:
            result = localize(synthetic, reference, column_kinds(reference), target=target,
                              seed=seed)
            return aligned(result.table, len(synthetic)), time.perf_counter() - t0
        except Exception as exc:  # report and go on: one failure must not lose the run
            errors.append({**where, "error": f"{type(exc).__name__}: {exc}",
                           "trace": traceback.format_exc()})
            print(f"  ERROR {where}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            return None, time.perf_counter() - t0

    for dataset in datasets:
        target_name = TARGETS.get(dataset)
        for seed in seeds:
            reference, healthy = halves(dataset, seed)
            sizes = (len(reference), len(healthy))
            reference = cap_rows(reference, max_rows, dataset, seed, "reference")
            healthy = cap_rows(healthy, max_rows, dataset, seed, "synthetic")
            if (len(reference), len(healthy)) != sizes:
                capped[dataset] = (*sizes, len(reference), len(healthy))
            target = target_name if has_label_target(reference, target_name) else None
            where = {"dataset": dataset, "seed": seed, "kind": "healthy", "rate": 0.0}
            table, seconds = call(healthy, reference, target, seed, where)
            if table is not None:
                rec = {**where, "rows": len(healthy), "reference_rows": len(reference),
                       "target": target, "seconds": seconds, **natural_ties(healthy, reference)}
                rec.update(measure(table, np.zeros(len(healthy), dtype=bool), None))
                healthy_records.append(rec)
                print(f"{dataset} seed {seed} healthy: {rec['flagged_share']:.1%} flagged"
                      f" ({seconds:.1f}s)", file=sys.stderr, flush=True)
            for kind in kinds:
                if kind == "label_flips" and target is None:
                    continue
                for rate in rates:
                    where = {"dataset": dataset, "seed": seed, "kind": kind, "rate": rate}
                    rng = planting_rng(dataset, kind, rate, seed)
                    planted = plant_detailed(healthy, reference, kind, rate, rng, target_name)
                    table, seconds = call(planted.synthetic, reference, target, seed, where)
                    if table is None:
                        continue
                    rec = {**where, "rows": len(healthy), "reference_rows": len(reference),
                           "target": target, "planted": len(planted.rows),
                           "positives": int(planted.positives.sum()), "seconds": seconds}
                    ties = natural_tie_mask(kind, planted.synthetic, reference,
                                            planted.positives)
                    ceilings = {"auroc_ceiling": content_ceiling(planted.synthetic,
                                                                 planted.positives)}
                    if kind in ("copies", "duplicates"):
                        further = [plant_detailed(
                            healthy, reference, kind, rate,
                            planting_rng(dataset, kind, rate, seed, draw), target_name)
                            for draw in range(1, ORACLE_PLANTINGS + 1)]
                        ceilings["auroc_oracle"] = count_oracle(
                            planted.synthetic, reference, planted.positives, further)
                    elif kind == "mixed":
                        ceilings["auroc_oracle"] = process_oracle(
                            planted.synthetic, reference, planted.positives, seed)
                    rec.update(measure(table, planted.positives, kind, ties, ceilings))
                    if kind == "label_flips" and cleanlab:
                        rec["cleanlab"] = run_cleanlab(planted.synthetic, target,
                                                       planted.positives, seed)
                    records.append(rec)
                    print(f"{dataset} seed {seed} {kind} {rate:g}: AUROC {rec['auroc']:.3f}"
                          f" ({seconds:.1f}s)", file=sys.stderr, flush=True)
    fdr = inspect.signature(localize).parameters.get("fdr")
    return {"config": {"datasets": datasets, "seeds": seeds, "rates": rates, "kinds": kinds,
                       "fdr": fdr.default if fdr is not None else None,
                       "max_rows": max_rows, "min_planted": MIN_PLANTED, "threads": threads},
            "records": records, "healthy": healthy_records, "errors": errors,
            "capped": {d: dict(zip(("reference_rows", "synthetic_rows", "reference_kept",
                                    "synthetic_kept"), v, strict=True))
                       for d, v in capped.items()},
            "wall_s": time.perf_counter() - started}


# ---------------------------------------------------------------------------------------------
# printing


def _f(x: float, digits: int = 3) -> str:
    return "—" if x is None or x != x else f"{x:.{digits}f}"


def _pct(x: float) -> str:
    return "—" if x is None or x != x else f"{100 * x:.1f}%"


def _mean(values) -> float:
    values = [v for v in values if v is not None and v == v]
    return float(np.mean(values)) if values else math.nan


def _by_dataset(recs: list[dict], get) -> dict[str, float]:
    groups: dict[str, list[float]] = defaultdict(list)
    for r in recs:
        groups[r["dataset"]].append(get(r))
    return {d: _mean(v) for d, v in groups.items()}


def _min_cell(recs: list[dict], get, fmt=_f) -> str:
    means = {d: v for d, v in _by_dataset(recs, get).items() if v == v}
    if not means:
        return "—"
    worst = min(means, key=means.get)
    return f"{fmt(means[worst])} ({worst})"


def _markdown(head: list[str], rows: list[list[str]], right: int = 2) -> str:
    """A markdown table; columns from ``right`` on are right-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(head)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.rjust(w) if i >= right else c.ljust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths, strict=True))) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if i >= right else ("-" * (w + 2))
                          for i, w in enumerate(widths)) + "|"
    return "\n".join([line(head), rule, *(line(r) for r in rows)])


def best_detector(kind: str, recs: list[dict]) -> str:
    """The kind's detector with the higher mean AUROC over ``recs``."""
    options = KIND_DETECTORS[kind]
    means = {d: _mean(r["detector_auroc"].get(d, math.nan) for r in recs) for d in options}
    return max(options, key=lambda d: -1.0 if means[d] != means[d] else means[d])


def main_table(results: dict) -> str:
    rows = []
    for kind in results["config"]["kinds"]:
        for rate in results["config"]["rates"]:
            recs = [r for r in results["records"] if r["kind"] == kind and r["rate"] == rate]
            if not recs:
                continue
            det = best_detector(kind, recs)

            def dget(r, det=det):
                return r["detector_auroc"].get(det, math.nan)

            rows.append([kind, f"{rate:g}", str(len(recs)),
                         f"{_mean(r['positives'] for r in recs):.1f}",
                         _f(_mean(r["auroc"] for r in recs)),
                         _min_cell(recs, lambda r: r["auroc"]),
                         _f(_mean(r["auroc_untied"] for r in recs))
                         if any(r["natural_ties"] for r in recs) else "same",
                         _f(_mean(r.get("auroc_ceiling", math.nan) for r in recs)),
                         _f(_mean(r.get("auroc_oracle", math.nan) for r in recs)),
                         _min_cell(recs, lambda r: r.get("auroc_oracle", math.nan)),
                         det, _f(_mean(dget(r) for r in recs)), _min_cell(recs, dget),
                         _f(_mean(r["precision_at_k"] for r in recs)),
                         _min_cell(recs, lambda r: r["precision_at_k"]),
                         _pct(_mean(r["flagged_recall"] for r in recs)),
                         _min_cell(recs, lambda r: r["flagged_recall"], _pct),
                         _pct(_mean(r["negatives_flagged"] for r in recs)),
                         _pct(_mean(r["false_discovery"] for r in recs))])
    head = ["kind", "rate", "runs", "positives", "AUROC score", "min (dataset)", "excl. ties",
            "ceiling", "oracle", "min (dataset)", "detector",
            "AUROC det.", "min (dataset)", "P@k", "min (dataset)", "flagged", "min (dataset)",
            "neg. flagged", "FDP"]
    return _markdown(head, rows)


def healthy_table(results: dict) -> str:
    rows = []
    recs = results["healthy"]
    for dataset in results["config"]["datasets"]:
        mine = [r for r in recs if r["dataset"] == dataset]
        if not mine:
            continue
        rows.append([dataset, str(len(mine)), f"{mine[0]['rows']}/{mine[0]['reference_rows']}",
                     mine[0]["target"] or "—",
                     _pct(_mean(r["flagged_share"] for r in mine)),
                     _pct(max(r["flagged_share"] for r in mine)),
                     f"{sum(r['n_flagged'] > 0 for r in mine)}/{len(mine)}",
                     _pct(_mean(r["duplicate_share"] for r in mine)),
                     _pct(_mean(r["reference_copy_share"] for r in mine)),
                     f"{_mean(r['seconds'] for r in mine):.1f}"])
    if recs:
        rows.append(["all", str(len(recs)), "", "", _pct(_mean(r["flagged_share"] for r in recs)),
                     _pct(max(r["flagged_share"] for r in recs)),
                     f"{sum(r['n_flagged'] > 0 for r in recs)}/{len(recs)}", "", "", ""])
    head = ["dataset", "seeds", "syn/ref rows", "target passed", "flagged (mean)", "max",
            "tables flagging", "natural dup. rows", "= a ref. row", "localize s"]
    return _markdown(head, rows)


def calibration_table(results: dict) -> str:
    """Per dataset, the share of healthy rows scoring >= TAIL, combined and per detector."""
    recs = results["healthy"]
    names = ["score", *DETECTORS]
    names = [n for n in names if any(n in r["tail_share"] for r in recs)]
    rows = []
    for dataset in results["config"]["datasets"]:
        mine = [r for r in recs if r["dataset"] == dataset]
        if mine:
            rows.append([dataset, *(_pct(_mean(r["tail_share"].get(n, math.nan) for r in mine))
                                    for n in names)])
    if recs:
        rows.append(["all", *(_pct(_mean(r["tail_share"].get(n, math.nan) for r in recs))
                              for n in names)])
    return _markdown(["dataset", *(n if n == "score" else f"score_{n}" for n in names)], rows,
                     right=1)


def cleanlab_table(results: dict) -> str:
    rows = []
    for rate in results["config"]["rates"]:
        recs = [r for r in results["records"]
                if r["kind"] == "label_flips" and r["rate"] == rate and "cleanlab" in r]
        if not recs:
            continue
        cl = [r["cleanlab"] | {"dataset": r["dataset"]} for r in recs]
        rows.append([f"{rate:g}", str(len(recs)),
                     _f(_mean(r["auroc"] for r in recs)), _min_cell(recs, lambda r: r["auroc"]),
                     _f(_mean(r["precision_at_k"] for r in recs)),
                     _pct(_mean(r["flagged_recall"] for r in recs)),
                     _pct(_mean(r["flagged_precision"] for r in recs)),
                     _f(_mean(r["auroc"] for r in cl)), _min_cell(cl, lambda r: r["auroc"]),
                     _f(_mean(r["precision_at_k"] for r in cl)),
                     _pct(_mean(r["flagged_recall"] for r in cl)),
                     _pct(_mean(r["flagged_precision"] for r in cl))])
    head = ["rate", "runs", "ours AUROC", "min (dataset)", "ours P@k", "ours flag recall",
            "ours flag prec.", "cleanlab AUROC", "min (dataset)", "cleanlab P@k",
            "cleanlab flag recall", "cleanlab flag prec."]
    return _markdown(head, rows, right=1)


def per_dataset_table(results: dict) -> str:
    rows = []
    for kind in results["config"]["kinds"]:
        for rate in results["config"]["rates"]:
            for dataset in results["config"]["datasets"]:
                recs = [r for r in results["records"] if r["kind"] == kind
                        and r["rate"] == rate and r["dataset"] == dataset]
                if not recs:
                    continue
                dets = " / ".join(
                    f"{d} {_f(_mean(r['detector_auroc'].get(d, math.nan) for r in recs))}"
                    for d in KIND_DETECTORS[kind])
                rows.append([kind, f"{rate:g}", dataset, str(len(recs)),
                             f"{_mean(r['positives'] for r in recs):.1f}",
                             _f(_mean(r["auroc"] for r in recs)),
                             _f(_mean(r["auroc_untied"] for r in recs)), dets,
                             _f(_mean(r["precision_at_k"] for r in recs)),
                             _pct(_mean(r["flagged_recall"] for r in recs)),
                             _pct(_mean(r["flagged_precision"] for r in recs)),
                             _pct(_mean(r["negatives_flagged"] for r in recs)),
                             _pct(_mean(r["false_discovery"] for r in recs))])
    head = ["kind", "rate", "dataset", "seeds", "positives", "AUROC score", "excl. ties",
            "AUROC detector(s)",
            "P@k", "flagged", "flag prec.", "neg. flagged", "FDP"]
    return _markdown(head, rows, right=3)


def _kind_means(results: dict, field: str) -> dict[str, float]:
    """Per planted kind, the mean of a record field over rates, datasets and seeds (NaN where
    no record holds it)."""
    return {k: _mean(r.get(field, math.nan) for r in results["records"] if r["kind"] == k)
            for k in results["config"]["kinds"]}


def footer(results: dict) -> list[str]:
    cfg = results["config"]
    calls = [r["seconds"] for r in results["records"] + results["healthy"]]
    lines = [
        "Positives: the planted rows; for duplicates BOTH rows of each duplicate pair (the planted"
        " copy and the row it copies), so about twice the planted count. Natural exact"
        " duplicates/copies already in a healthy table stay negatives.",
        f"Planted rows per table: rate x synthetic rows, rounded half up, at least {MIN_PLANTED}."
        " 'flagged' = share of positives flagged; 'neg. flagged' = share of the other rows of the"
        " same tables flagged. 'min' = lowest per-dataset mean over seeds.",
        "'excl. ties': AUROC of the combined score with the negatives that equal a reference row"
        " (copies) or have an exact duplicate in the table (duplicates) left out: rows no"
        " content-based detector can tell from the planted ones ('same' where there are none).",
        "'ceiling': the highest AUROC any function of a row's values reaches on the planted"
        " table (groups of equal rows ranked by their share of planted rows): below 1 where"
        " planted copies or duplicates equal rows the healthy table holds anyway. 'oracle':"
        " for copies and duplicates the count oracle, the best AUROC of a score that depends"
        " only on how many synthetic and how many reference rows equal the row, each such group"
        f" ranked by its share of planted rows over {ORACLE_PLANTINGS} further plantings of the"
        " same kind and rate (what exact-match evidence allows); for"
        " mixed the process oracle, boosted trees trained on the reference rows against"
        f" {ORACLE_MIXES_PER_ROW} times as many rows mixed from them by the planting recipe"
        " itself (what knowing the alternative gives; not a bound).",
        "Detector column: copies -> score_memorization, out_of_support -> score_out_of_support,"
        " label_flips -> score_label_issue, duplicates -> score_duplicates, mixed -> the best on"
        " average of score_detectability, score_out_of_support and score_inconsistency (named).",
        "Target passed to localize (every kind) only where TARGETS names a categorical/boolean"
        " column; label_flips run only there.",
    ]
    fdp = [r["false_discovery"] for r in results["records"]] + \
        [float(r["n_flagged"] > 0) for r in results["healthy"]]
    lines.append(f"FDP: false flags over flags (0 when none), the false discovery proportion;"
                 f" localize flags at fdr={cfg.get('fdr')}. Mean over every planted and healthy"
                 f" table: {_pct(_mean(fdp))} (a healthy table that flags anything counts 100%).")
    for dataset, c in results["capped"].items():
        lines.append(f"{dataset}: halves capped at {cfg['max_rows']} rows by random subsample"
                     f" (reference {c['reference_rows']} -> {c['reference_kept']}, synthetic"
                     f" {c['synthetic_rows']} -> {c['synthetic_kept']}).")
    kind_means = _kind_means(results, "auroc")
    ceilings = _kind_means(results, "auroc_ceiling")
    oracles = _kind_means(results, "auroc_oracle")
    oracle_name = {"mixed": "process oracle"}
    missed = [f"{k} ({_f(v)}; ceiling {_f(ceilings[k])}"
              + (f", {oracle_name.get(k, 'count oracle')} {_f(oracles[k])}"
                 if oracles[k] == oracles[k] else "") + ")"
              for k, v in kind_means.items() if v == v and v < GOAL_AUROC]
    verdict = "met" if not missed else "not met by " + ", ".join(missed)
    lines.append(f"Goal AUROC >= {GOAL_AUROC} for every kind (combined score, mean over rates,"
                 f" datasets, seeds): {verdict}.")
    nan = sum(r.get("nan_scores", 0) for r in results["records"] + results["healthy"])
    if nan:
        lines.append(f"WARNING: {nan} NaN scores returned by localize (ranked lowest here).")
    if results["errors"]:
        lines.append(f"ERRORS: {len(results['errors'])} localize calls failed:")
        lines.extend(f"  {e['dataset']} seed {e['seed']} {e['kind']} {e['rate']:g}: {e['error']}"
                     for e in results["errors"])
    cl = [r["cleanlab"]["seconds"] for r in results["records"] if "cleanlab" in r]
    threads = cfg.get("threads")
    lines.append(f"Wall time: {results['wall_s']:.0f}s for the whole run"
                 f" ({threads or 'default'} native thread{'s' if threads != 1 else ''}); localize"
                 f" {_mean(calls):.2f}s per call (mean of {len(calls)}, max"
                 f" {max(calls) if calls else math.nan:.2f}s)"
                 + (f"; cleanlab recipe {_mean(cl):.2f}s per table" if cl else "") + ".")
    per = {d: _mean(r["seconds"] for r in results["records"] + results["healthy"]
                    if r["dataset"] == d) for d in cfg["datasets"]}
    lines.append("localize s per call by dataset: "
                 + ", ".join(f"{d} {v:.2f}" for d, v in per.items() if v == v) + ".")
    return lines


def report(results: dict, per_dataset: bool = False) -> str:
    cfg = results["config"]
    parts = [
        f"# Row localization: {', '.join(cfg['datasets'])}; seeds"
        f" {' '.join(map(str, cfg['seeds']))}; rates {' '.join(f'{r:g}' for r in cfg['rates'])}",
        "",
        "## Planted bad rows (means over datasets x seeds)",
        "",
        main_table(results),
        "",
        "## False flags on the unplanted healthy tables (rate 0)",
        "",
        healthy_table(results),
        "",
        f"## Calibration on the healthy tables: share of rows scoring >= {TAIL:g}"
        f" (about {1 - TAIL:.0%} if the scores are uniform on real-like rows)",
        "",
        calibration_table(results),
    ]
    if any("cleanlab" in r for r in results["records"]):
        parts += ["", "## Label flips: ours beside cleanlab (find_label_issues, self-confidence)",
                  "", cleanlab_table(results)]
    if per_dataset:
        parts += ["", "## Per dataset (means over seeds)", "", per_dataset_table(results)]
    parts += ["", *(f"- {line}" for line in footer(results))]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", choices=sorted(DATASETS),
                        default=list(DEFAULT_DATASETS), metavar="NAME")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(DEFAULT_SEEDS))
    parser.add_argument("--rates", type=float, nargs="+", default=list(RATES))
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--max-rows", type=int, default=DEFAULT_MAX_ROWS,
                        help="cap each half at this many rows by a random subsample"
                             " (default: no cap)")
    parser.add_argument("--threads", type=int, default=1,
                        help="native (OpenMP, BLAS) threads for the run (default 1; 0: the"
                             " libraries' defaults)")
    parser.add_argument("--no-cleanlab", action="store_true",
                        help="skip cleanlab's recipe on label flips")
    parser.add_argument("--per-dataset", action="store_true",
                        help="also print every (kind, rate, dataset)")
    parser.add_argument("--out", type=Path, help="write every raw number here as JSON")
    args = parser.parse_args(argv)
    if any(not 0 < r < 1 for r in args.rates):
        parser.error("rates must lie in (0, 1)")
    results = run(args.datasets, args.seeds, args.rates, args.kinds, args.max_rows or None,
                  cleanlab=not args.no_cleanlab, threads=args.threads or None)
    print(report(results, args.per_dataset))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1, default=_plain))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
