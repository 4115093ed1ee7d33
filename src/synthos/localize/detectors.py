"""The row detectors. Each returns a :class:`Detection`: a statistic per synthetic row and the
same statistic for the real rows of the index (the null), which
:mod:`synthos.localize.conformal` turns into scores on one scale.

- ``detectability``: out-of-fold p(synthetic | row) from boosted trees telling synthetic rows
  from real ones; the real rows' own out-of-fold p is the null.
- ``out_of_support``: the worse (as conformal scores) of two, ties broken by their sum: mean
  distance to the k nearest real rows over those rows' own k-th neighbour distance (a local
  outlier factor, Breunig et al. 2000; k-NN support after Kuan and Mueller 2022), and how far
  the row's most extreme value lies beyond the real range of its column; real rows leave
  themselves out, and a row beyond every real row stays there only where no real row would
  reach it had the row been one of them
  (:func:`~synthos.localize.conformal.composite_statistic`).
- ``inconsistency`` (its own module, :mod:`synthos.localize.inconsistency`): values the row's
  other columns do not predict, the probability that the row was spliced from two real rows
  (:mod:`synthos.localize.splice`), and how much of it two other rows hold exactly, piece by
  piece (:mod:`synthos.localize.fragments`).
- ``memorization``: distance to the closest real record over the distance to the second
  closest (the nearest-neighbour distance ratio of privacy audits); below every ratio for an
  exact copy of a reference row (equal on the values as the files hold them, not snapped to
  the reference's atoms), the lower the likelier a copy over a fresh draw of that record
  (:func:`exact_copy_tiers`).
- ``duplicates``: for a row the synthetic table repeats (exactly, or on a grid of
  :data:`NEAR_SD` reference standard deviations: the worse of the two), the excess of
  records split between the tables as the row's record is over what a random split gives
  (:func:`split_excess`); the null is the same statistic with the rows of both tables
  shuffled between them.
- ``label_issue``: confident learning (Northcutt et al. 2021) on out-of-fold predicted
  probabilities of the target (boosted trees' and a logistic regression's, pooled
  geometrically), via cleanlab's ``find_label_issues``; the statistic is one minus the
  probability of the given label.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import partial

import faiss
import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from synthos.localize.conformal import composite_statistic, conformal_scores, worse_then_sum
from synthos.localize.pooling import LogPoolClassifier
from synthos.localize.space import Space

#: Neighbours behind the out-of-support statistic (Naeem et al. 2020 use 5 for k-NN balls).
K_NEIGHBOURS = 5
#: Grid of the near-duplicate key, in reference standard deviations (the snapping tolerance
#: of the collapse stage: rows closer than that are the same row at the reference's
#: resolution).
NEAR_SD = 0.05
#: Counts below which the memorization statistic takes a record's frequency from the
#: Good–Turing estimate; the counts of counts grow too thin above (Katz 1987 uses 5).
GOOD_TURING_BELOW = 5
#: Shuffles of both tables' rows behind the duplicates detector's null.
SHUFFLES = 8
#: A target with at most this many distinct values is a class label.
MAX_CLASSES = 20
_FOLDS = 5
_PREDICT_CHUNK = 200_000


@dataclass
class Detection:
    """One detector's statistic on the synthetic rows and on the real rows of the index.

    ``null`` may hold NaN for real rows the detector cannot score (a missing label); ``fired``
    is the detector's own decision where it has one (cleanlab's mask), else None. ``share``,
    for a detector whose statistic is shared by every row of a group (a count of equal rows),
    is the share of the row's group that real rows do not explain, else None: its extreme
    score says the group holds too many rows, not that this row is one of them.
    ``excess_pvalue``, for such a detector, is its own p-value that the table holds more than
    chance puts in its groups: rows of one group are not independent draws, so counting them
    as such (the combination's test of whether a detector sees anything) overstates the
    evidence of one group that is large by chance.
    """

    name: str
    stat: np.ndarray
    null: np.ndarray
    higher_is_worse: bool = True
    fired: np.ndarray | None = None
    share: np.ndarray | None = None
    extra: dict = field(default_factory=dict)
    excess_pvalue: float | None = None
    #: Per synthetic row, real rows of the null that count as tied with it whatever their
    #: statistic (see :func:`same_record_ties`); None for none.
    ties: np.ndarray | None = None


def boosted_trees(seed: int) -> HistGradientBoostingClassifier:
    """The detectors' classifier: 100 rounds of boosted trees, seeded."""
    return HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, random_state=seed)


def _label_model(seed: int) -> LogPoolClassifier:
    """Boosted trees and a logistic regression, their probabilities pooled geometrically.

    ``benchmarks/localize.py --kinds label_flips`` (2026-12-07), the label_issue score's mean
    AUROC at 1 / 5 / 10%: trees alone 0.969 / 0.972 / 0.969 (they learn a linear boundary in
    steps from a few hundred rows); the arithmetic mean with a logistic regression 0.971 /
    0.984 / 0.982, but with fewer flags (a flip both doubt, one of them strongly, is averaged
    back toward real rows: digits at 1% flagged none of its flips); the geometric mean 0.970
    / 0.982 / 0.981, flag recall 12.5 / 23.1 / 45.6% where the trees' was 12.5 / 21.1 / 42.2%.
    """
    linear = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    return LogPoolClassifier([("trees", boosted_trees(seed)), ("linear", linear)])


def _folds(labels: np.ndarray, seed: int):
    counts = np.unique(labels, return_counts=True)[1]
    n = min(_FOLDS, len(labels))
    if counts.min() >= n:
        return StratifiedKFold(n_splits=n, shuffle=True, random_state=seed).split(labels, labels)
    return KFold(n_splits=n, shuffle=True, random_state=seed).split(labels)


def class_proba(model, x: np.ndarray, classes: int) -> np.ndarray:
    """Class probabilities over all ``classes`` (a fold may lack some), predicted in chunks."""
    out = np.zeros((len(x), classes))
    for start in range(0, len(x), _PREDICT_CHUNK):
        part = model.predict_proba(x[start:start + _PREDICT_CHUNK])
        out[start:start + _PREDICT_CHUNK][:, model.classes_.astype(int)] = part
    return out


def _out_of_fold(x_train: np.ndarray, y_train: np.ndarray,
                 rest: list[tuple[np.ndarray, np.ndarray]], classes: int, seed: int,
                 rng: np.random.Generator, make_model=boosted_trees
                 ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Out-of-fold probabilities of the training rows, and for each ``(points, rows)`` of
    ``rest`` (``rows`` of ``points`` that none of the models saw) those of one fold model
    drawn at random per row. ``make_model(seed)`` gives each fold's unfitted classifier.

    One model per row, as a training row gets: the fold models' mean is a smoother predictor,
    whose probabilities are not drawn like the out-of-fold ones they are ranked against, and
    costs a model per fold on every row (on a million rows, most of the stage's trees).
    """
    oof = np.zeros((len(x_train), classes))
    out = [np.zeros((len(rows), classes)) for _, rows in rest]
    folds = list(_folds(y_train, seed))
    picks = [rng.permutation(len(rows)) % len(folds) for _, rows in rest]
    for f, (train, test) in enumerate(folds):
        model = make_model(seed).fit(x_train[train], y_train[train])
        oof[test] = class_proba(model, x_train[test], classes)
        for o, (points, rows), pick in zip(out, rest, picks, strict=True):
            mine = np.flatnonzero(pick == f)
            o[mine] = class_proba(model, points[rows[mine]], classes)
    return oof, out


def detectability(space: Space, rng: np.random.Generator, seed: int, max_train_rows: int
                  ) -> Detection | None:
    """Out-of-fold probability that a row is synthetic, from equal numbers of rows of each."""
    es, er = space.points, space.real_points
    m = min(len(es), len(er), max_train_rows)
    if m < 2:
        return None
    t = rng.choice(len(es), m, replace=False)
    c = rng.choice(len(er), m, replace=False)
    x = np.vstack([es[t], er[c]])
    y = np.r_[np.ones(m, dtype=int), np.zeros(m, dtype=int)]
    unseen_s = np.setdiff1d(np.arange(len(es)), t)
    unseen_r = np.setdiff1d(np.arange(len(er)), c)
    oof, (rest_s, rest_r) = _out_of_fold(x, y, [(es, unseen_s), (er, unseen_r)], 2, seed, rng)
    p_syn, p_real = np.zeros(len(es)), np.zeros(len(er))
    p_syn[t], p_syn[unseen_s] = oof[:m, 1], rest_s[:, 1]
    p_real[c], p_real[unseen_r] = oof[m:, 1], rest_r[:, 1]
    return Detection("detectability", p_syn, p_real)


def _drop_self(d2: np.ndarray, ids: np.ndarray, self_ids: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """Remove each query's own entry from k+1 neighbours (the last one when a tie hid it)."""
    is_self = ids == self_ids[:, None]
    missing = ~is_self.any(axis=1)
    is_self[missing, -1] = True
    keep = ~is_self
    k = ids.shape[1] - 1
    return d2[keep].reshape(-1, k), ids[keep].reshape(-1, k)


def neighbours(space: Space) -> tuple[Detection, Detection] | None:
    """``out_of_support`` and ``memorization`` from one exact k-NN search (faiss)."""
    er, es = space.real_points, space.points
    if len(er) < 2:
        return None
    k = min(K_NEIGHBOURS, len(er) - 1)
    index = faiss.IndexFlatL2(er.shape[1])
    index.add(er)
    d2, ids = index.search(er, k + 1)
    d2, ids = _drop_self(d2, ids, np.arange(len(er)))
    dr = np.sqrt(np.maximum(d2, 0.0))
    d2s, ids_s = index.search(es, k)
    ds = np.sqrt(np.maximum(d2s, 0.0))
    radius_k = dr[:, -1]

    def local_ratio(dist: np.ndarray, nb: np.ndarray) -> np.ndarray:
        scale = radius_k[nb].mean(axis=1)
        return np.divide(dist.mean(axis=1), scale, out=np.zeros(len(dist)), where=scale > 0)

    def copy_ratio(dist: np.ndarray) -> np.ndarray:
        # Nearest over second-nearest distance: both from the query's own neighbours, so a
        # real row left out of the index and a synthetic row are measured alike.
        if dist.shape[1] < 2:
            return dist[:, 0].copy()
        ratio = np.zeros(len(dist))
        np.divide(dist[:, 0], dist[:, 1], out=ratio, where=dist[:, 1] > 0)
        return ratio

    ratio_real = copy_ratio(dr)
    ratio_syn = mutual_pairs(copy_ratio(ds), ratio_real, ds, ids_s, dr)
    mem, mem_null, copies, repeats = exact_copy_tiers(space, ratio_syn, ratio_real)
    extra = {"nearest": ids_s[:, 0], "distance": ds[:, 0], "neighbours": ids_s,
             "neighbour_distances": ds,
             "second": ds[:, 1] if k > 1 else ds[:, 0],
             "radius_k": radius_k[ids_s].mean(axis=1), "real_radius_k": radius_k,
             "copies": copies, "repeats": repeats}
    # Distance alone dilutes one impossible value among many ordinary columns: the row is
    # also as far out of support as its worst column is beyond the real range.
    knn_syn, knn_real = local_ratio(ds, ids_s), local_ratio(dr, ids)
    range_syn, range_real = range_excess(space)
    # The reason's distance ratio: the statistic is a conformal score, which never reads above 1.
    extra["ratio"] = knn_syn
    m = len(knn_real)
    stat, null = composite_statistic(
        [conformal_scores(knn_syn, knn_real), conformal_scores(range_syn, range_real)],
        [conformal_scores(knn_real, knn_real), conformal_scores(range_real, range_real)],
        np.array([m, m]), partial(worse_then_sum, m=m))
    oos = Detection("out_of_support", stat, null, extra=extra)
    memo = Detection("memorization", mem, mem_null, higher_is_worse=False, extra=extra,
                     ties=same_record_ties(space, copies))
    return oos, memo


def mutual_pairs(ratio_syn: np.ndarray, ratio_real: np.ndarray, ds: np.ndarray,
                 ids_s: np.ndarray, dr: np.ndarray) -> np.ndarray:
    """The synthetic rows' nearest-over-second distance ratios, those below every real row's
    held to the real rows' lowest where a real neighbour would reach them had the row been
    one of the real rows.

    ``ds``, ``ids_s``: each synthetic row's distances to its nearest real rows and which
    rows they are; ``dr``: each real row's distances to its nearest other real rows.

    A row close to one real row is a close pair with it: with the row among the real rows,
    that real row's nearest would be the row, and its ratio as small (full conformal; Vovk
    et al. 2005). Counted over the other real rows alone, a real row never has such a
    partner, and a synthetic row below every real row is twice as likely as exchangeable
    rows give (``benchmarks/tail_null.py``: 1.5-1.8 rows for 1.0 on penguins and anes96).
    The real rows checked are the row's own nearest.
    """
    low = ratio_real.min() if len(ratio_real) else np.inf
    top = np.flatnonzero(ratio_syn < low)
    if not len(top) or ds.shape[1] < 2:
        return ratio_syn
    near = ids_s[top]
    # A real neighbour's two nearest with the row among the real rows.
    three = np.sort(np.stack([ds[top], dr[near, 0], dr[near, 1]], axis=-1), axis=-1)
    theirs = np.divide(three[..., 0], three[..., 1], out=np.zeros(three.shape[:-1]),
                       where=three[..., 1] > 0)
    reached = (theirs <= ratio_syn[top, None]).any(axis=1)
    out = ratio_syn.copy()
    out[top[reached]] = low
    return out


def exact_copy_tiers(space: Space, ratio_syn: np.ndarray, ratio_real: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The memorization statistic (lower is worse) with exact copies below every ratio.

    A row equal to ``c`` of the m reference rows scores ``-(1 + (c / m) / theta)``: the
    likelihood ratio of "copied from a random reference row" (probability c / m) over "drawn
    afresh" (probability theta, the Good–Turing estimate of the frequency of a record that
    the other rows of both tables hold r = c + s times, s in the synthetic table:
    :func:`record_frequency`). A copy of a record that no other row holds is the strongest
    evidence where records seen once are rarely seen twice; a record common in both tables is
    what a fresh sample repeats (tables of small counts are full of them); a record many real
    rows hold and no other synthetic row does is a record the synthetic table lacks, not
    one it copied. A real row of the null is counted the same way, against the *other*
    reference rows and every synthetic row. Exact equality is over every reference row, in
    the index or not. Returns the synthetic statistic, the null, each synthetic row's count of
    equal reference rows (c) and of other synthetic rows equal to it (s).
    """
    ref_hash = space.reference_records
    syn_hash = space.synthetic_records
    real_hash = ref_hash[space.real_rows]
    # One count of both sides' rows against the reference, whose unique records are sorted once.
    held = _count_in(np.r_[syn_hash, real_hash], ref_hash)
    copies, others = held[:len(syn_hash)], held[len(syn_hash):] - 1
    records = np.unique(np.r_[ref_hash, syn_hash], return_counts=True)[1]
    per_count = np.bincount(records)
    seen = len(ref_hash) + len(syn_hash) - 1  # the rows of both tables but the one scored
    m = len(ref_hash)

    def tier(c: np.ndarray, s: np.ndarray, ratio: np.ndarray) -> np.ndarray:
        theta = record_frequency(c + s, per_count, seen)
        return np.where(c > 0, -(1.0 + (c / m) / theta), ratio)

    repeats = _others(syn_hash)
    stat = tier(copies, repeats, ratio_syn)
    null = tier(others, _count_in(real_hash, syn_hash), ratio_real)
    return stat, null, copies, repeats


def same_record_ties(space: Space, copies: np.ndarray) -> np.ndarray:
    """Per synthetic row, the real rows of the null that hold its record, where two or more
    reference rows hold it: the memorization score counts them as tied with the row, not
    below it.

    A synthetic row counts every reference row of its record, a real row the others: the
    synthetic row's ratio is one step beyond its record's real rows. Had it been a real row,
    they would have counted it too and tied with it (full conformal: Vovk et al. 2005); taken
    as below it, a record two tables hold alike puts its synthetic rows above every real row
    of that record (one record of 40 rows a side in a table of unique rows: its 40 synthetic
    rows beyond every real row). Holding a synthetic row to its real rows' ratio instead
    makes it less extreme than every record whose ratio lies between the two: the healthy
    synthetic rows of randhie scored 0.44 on average against the real rows' own 0.49, and
    the copies planted there never passed the join tests. A copy of a record one reference
    row holds keeps its step (that row counts 1 in m): it is beyond every real row, which
    is what a detector speaks for when its rows are too few to join the score.
    """
    real_hash = space.reference_records[space.real_rows]
    return np.where(copies >= 2, _count_in(space.synthetic_records, real_hash), 0)


def record_frequency(r: np.ndarray, per_count: np.ndarray, seen: int) -> np.ndarray:
    """Good–Turing estimate of the frequency of a record that the ``seen`` other rows hold
    ``r`` times: ``(r + 1) N_{r+1} / (seen N_r)`` for r below :data:`GOOD_TURING_BELOW`,
    ``r / seen`` above (Katz 1987). ``per_count[k]`` counts the records both tables hold k
    times, the scored row among them; ``N_k`` counts them without it (its record, held
    ``r + 1`` times with it, is held r times without), so a row does not vouch for its own
    record. Half a record is added to ``N_{r+1}``: a table with no record seen twice still
    leaves a record seen once a small chance to be drawn again."""
    r = np.asarray(r, dtype=np.int64)
    counts = np.r_[per_count, 0, 0].astype(float)
    at = np.minimum(r, len(counts) - 2)
    n_r = counts[at] + 1.0
    n_next = np.maximum(counts[at + 1] - 1.0, 0.0)
    good_turing = (r + 1) * (n_next + 0.5) / (seen * n_r)
    return np.where(r < GOOD_TURING_BELOW, good_turing, np.maximum(r, 1) / seen)


def range_excess(space: Space) -> tuple[np.ndarray, np.ndarray]:
    """How far each row's most extreme numeric value lies beyond the real rows' range, in
    reference standard deviations (0 inside it); real rows of the index are measured
    against the range of the others (the second-largest value when they hold the largest)."""
    real = space.prep.reference.numeric[space.real_rows]
    syn = space.prep.synthetic.numeric
    if real.shape[1] == 0 or len(real) < 2:
        return np.zeros(len(syn)), np.zeros(len(real))
    filled = np.where(np.isnan(real), -np.inf, real)
    top2 = -np.sort(-filled, axis=0)[:2]
    filled = np.where(np.isnan(real), np.inf, real)
    low2 = np.sort(filled, axis=0)[:2]
    std = space.embedding.std

    def excess(values: np.ndarray, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            out = np.maximum(values - hi, lo - values) / std
        return np.nan_to_num(np.maximum(out, 0.0), nan=0.0, posinf=0.0).max(axis=1)

    hi_loo = np.where(real >= top2[0], top2[1], top2[0])
    lo_loo = np.where(real <= low2[0], low2[1], low2[0])
    return excess(syn, top2[0], low2[0]), excess(real, hi_loo, lo_loo)


def _near_keys(space: Space, rows_numeric: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """A hash of each row on a grid of :data:`NEAR_SD` reference standard deviations."""
    z = (rows_numeric - space.embedding.mean) / space.embedding.std
    grid = np.where(np.isnan(z), np.iinfo(np.int64).min, np.round(z / NEAR_SD)).astype(np.int64)
    frame = pd.DataFrame(np.column_stack([grid, codes]).astype(np.int64))
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def _others(keys: np.ndarray) -> np.ndarray:
    """How many other rows share each row's key."""
    codes, uniques = pd.factorize(keys)
    return np.bincount(codes, minlength=len(uniques))[codes] - 1


def _count_in(keys: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """How many rows of ``pool`` hold each key."""
    values, counts = np.unique(pool, return_counts=True)
    pos = np.clip(np.searchsorted(values, keys), 0, max(len(values) - 1, 0))
    found = (values[pos] == keys) if len(values) else np.zeros(len(keys), bool)
    return np.where(found, counts[pos] if len(values) else 0, 0)


def _records(own: np.ndarray, other: np.ndarray) -> tuple:
    """Each record's rows in ``own`` and in both tables, and the records per cell (total t,
    rows in ``own`` s), sorted by (t, s)."""
    codes, uniques = pd.factorize(np.r_[own, other])
    in_own = np.bincount(codes[:len(own)], minlength=len(uniques))
    total = in_own + np.bincount(codes[len(own):], minlength=len(uniques))
    records = pd.DataFrame({"t": total, "s": in_own}).groupby(["t", "s"]).size()
    return codes[:len(own)], in_own, total, records


def _at_or_above(records: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Per cell: records of its total t holding at least its s rows in ``own``, and records
    of its total t."""
    count = records.to_numpy().astype(float)
    by_t = records.groupby(level="t")
    per_t = by_t.transform("sum").to_numpy().astype(float)
    return per_t - by_t.cumsum().to_numpy() + count, per_t  # cells come sorted by (t, s)


def repeat_excess_pvalue(own: np.ndarray, other: np.ndarray) -> float:
    """P-value that ``own`` (row keys) repeats records more than a random split of both
    tables' rows gives: the smallest, over the cells (t, s >= 2) of records ``own`` repeats,
    of the exact binomial tail of the records of total t holding s or more rows in ``own``,
    Bonferroni over those cells.

    Given t, a record's s is Binomial(t, len(own) / (len(own) + len(other))) under a random
    split (a little wider than the hypergeometric of a split at fixed sizes: conservative),
    independently across records; conditioning on the records of each total, the test needs
    no model of how often records occur.
    """
    from scipy.stats import binom

    rho = len(own) / max(len(own) + len(other), 1)
    records = _records(own, other)[3]
    repeated = records.index.get_level_values("s").to_numpy() >= 2
    if not repeated.any():
        return 1.0
    at_or_above, per_t = (a[repeated] for a in _at_or_above(records))
    t = records.index.get_level_values("t").to_numpy()[repeated]
    s_ = records.index.get_level_values("s").to_numpy()[repeated]
    tails = binom.sf(at_or_above - 1, per_t, binom.sf(s_ - 1, t, rho))
    return float(min(1.0, tails.min() * repeated.sum()))


def split_excess(own: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row of ``own`` (row keys) that ``own`` repeats: how many more records are split
    between the tables at least as unevenly toward ``own`` as the row's record is than a
    random split of each record's rows gives, in Poisson standard deviations, and the share
    of those records the random split does not explain; -inf and 0 for a row ``own`` holds
    once.

    Given a record's total t over both tables, the number s in ``own`` is Binomial(t,
    len(own) / (len(own) + len(other))) when both tables are samples of one population: a
    test that needs no model of how often records occur. Counting records per cell (t, s and
    above) rather than testing each record alone is what tells a planted pair (2 of 2), of
    which real data holds a quarter of its records with t = 2, from one of the many common
    records whose split is merely uneven.
    """
    from scipy.stats import binom

    rho = len(own) / max(len(own) + len(other), 1)
    rows, in_own, total, records = _records(own, other)
    t = records.index.get_level_values("t").to_numpy()
    s_ = records.index.get_level_values("s").to_numpy()
    count = records.to_numpy().astype(float)
    at_or_above, per_t = _at_or_above(records)
    # Records with total t, from those ``own`` holds none of: rows repeated in ``own`` (or
    # copied into it) move records up in s and never reach that cell. Half a record when it
    # is empty; never more records than there are.
    none_in_own = pd.Series(np.where(s_ == 0, count, 0.0), index=records.index)
    empty_share = np.power(1.0 - rho, t.astype(float))
    per_total = np.minimum(
        (none_in_own.groupby(level="t").transform("sum").to_numpy() + 0.5)
        / np.maximum(empty_share, 1e-300), per_t)
    expected = per_total * binom.sf(s_ - 1, t, rho)
    z = pd.Series((at_or_above - expected) / np.sqrt(expected + 1.0), index=records.index)
    share = pd.Series(np.clip(1.0 - expected / at_or_above, 0.0, 1.0), index=records.index)
    cell = pd.MultiIndex.from_arrays([total, in_own])
    repeated = in_own[rows] > 1
    return (np.where(repeated, z.reindex(cell).to_numpy()[rows], -np.inf),
            np.where(repeated, share.reindex(cell).to_numpy()[rows], 0.0))


def _partner(keys: np.ndarray) -> np.ndarray:
    """For each row, the first other row with its key (-1 when none)."""
    codes, uniques = pd.factorize(keys)
    order = np.argsort(codes, kind="stable")  # by key, then by position
    sorted_codes = codes[order]
    start = np.r_[True, sorted_codes[1:] != sorted_codes[:-1]]
    first = np.empty(len(uniques), dtype=np.int64)
    first[sorted_codes[start]] = order[start]
    second = np.full(len(uniques), -1, dtype=np.int64)
    pairs = np.flatnonzero(start & np.r_[sorted_codes[1:] == sorted_codes[:-1], False])
    second[sorted_codes[pairs]] = order[pairs + 1]
    own_first = first[codes] == np.arange(len(codes))
    return np.where(own_first, second[codes], first[codes])


def duplicates(space: Space, rng: np.random.Generator) -> Detection:
    """Rows the synthetic table repeats more often than shuffling both tables' rows gives.

    A row is held to the worse of two keys: its exact record (:attr:`Space.synthetic_records`)
    and its cell on a grid of :data:`NEAR_SD` reference standard deviations. The grid finds
    near-duplicates; alone, it merges records a table of many similar rows keeps apart, and
    the excess of one repeated record drowns among the records it is merged with (the
    statistic's AUROC on the pairs ``benchmarks/localize.py`` plants in randhie at 1-10%, two
    seeds: 0.74-0.87 on the grid, 0.81-0.93 on the exact record, 0.81-0.92 for the worse of
    both).
    """
    syn, ref = space.prep.synthetic, space.prep.reference
    keys = [(space.synthetic_records, space.reference_records),
            (_near_keys(space, syn.numeric, syn.codes), _near_keys(space, ref.numeric, ref.codes))]
    found = [split_excess(own, other) for own, other in keys]
    worse = found[1][0] > found[0][0]
    stat = np.where(worse, found[1][0], found[0][0])
    share = np.where(worse, found[1][1], found[0][1])
    # Null: the same statistic once the rows of both tables are shuffled between them, at the
    # tables' own sizes (near collisions grow with a table's size: halves of the reference
    # would be a null of fewer repeats). A random split leaves no cell in excess, whatever the
    # synthetic rows hold. Its rows are not the other detectors' real rows: paired with them,
    # the combined null is a little more extreme than real rows' (conservative). One
    # permutation moves a row's two keys together.
    pools = [np.r_[own, other] for own, other in keys]
    shuffled = []
    for _ in range(SHUFFLES):  # one shuffle is one draw of which cells happen to be in excess
        order = rng.permutation(len(pools[0]))
        shuffled.append(np.maximum(*(split_excess(*np.split(pool[order], [syn.n]))[0]
                                     for pool in pools)))
    shuffled = np.concatenate(shuffled)
    m = len(space.real_rows)
    null = shuffled[rng.choice(len(shuffled), m, replace=m > len(shuffled))]
    exact = _others(keys[0][0])
    # The row a reason names: an exact repeat where there is one, not merely a near one.
    partner = np.where(exact > 0, _partner(keys[0][0]), _partner(keys[1][0]))
    extra = {"near": _others(keys[1][0]), "exact": exact, "partner": partner}
    # Two tests, one per key: Bonferroni.
    pvalue = min(1.0, 2.0 * min(repeat_excess_pvalue(own, other) for own, other in keys))
    return Detection("duplicates", stat, null, share=share, extra=extra, excess_pvalue=pvalue)


def target_labels(space: Space
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
    """The target as integer class labels on both tables (-1 missing), when it is a class,
    and for a numeric target the value each class stands for (None for a categorical one,
    whose codes are the columns' own)."""
    ctx, prep = space.ctx, space.prep
    if ctx.target is None:
        return None
    if ctx.target in prep.categorical_names:
        j = prep.categorical_names.index(ctx.target)
        return prep.synthetic.codes[:, j].copy(), prep.reference.codes[:, j].copy(), None
    i = prep.numeric_names.index(ctx.target)
    ref_values = prep.reference.numeric[:, i]
    values = np.unique(ref_values[~np.isnan(ref_values)])
    if len(values) > MAX_CLASSES or not np.all(values == np.round(values)):
        return None
    syn_values = prep.synthetic.numeric[:, i]

    def as_class(v: np.ndarray) -> np.ndarray:
        pos = np.clip(np.searchsorted(values, v), 0, len(values) - 1)
        ok = ~np.isnan(v) & (values[pos] == v)
        # A value the reference never holds is a class of its own (len(values)).
        return np.where(ok, pos, np.where(np.isnan(v), -1, len(values)))

    return as_class(syn_values), as_class(ref_values), values


def column_owners(space: Space) -> list[str]:
    """The column each embedding dimension encodes, in the embedding's order."""
    emb, prep = space.embedding, space.prep
    owner = list(prep.numeric_names)
    owner += [n for n, f in zip(prep.numeric_names, emb.flags, strict=True) if f]
    for j in emb.cats:
        owner += [prep.categorical_names[j]] * (emb.levels[j] + 1)
    return owner or ["_"]  # an embedding of nothing is one zero column


def feature_mask(space: Space, column: str) -> np.ndarray:
    """Embedding dimensions that do not encode ``column``."""
    return np.array([o != column for o in column_owners(space)], dtype=bool)


def label_issue(space: Space, rng: np.random.Generator, seed: int, max_train_rows: int
                ) -> Detection | None:
    """Confident learning on the target: rows whose label the other rows do not support."""
    from cleanlab.filter import find_label_issues

    labels = target_labels(space)
    if labels is None:
        return None
    y_syn, y_ref, class_values = labels
    valid = np.flatnonzero(y_syn >= 0)
    classes, compact = np.unique(y_syn[valid], return_inverse=True)
    if len(classes) < 2:
        return None
    keep = feature_mask(space, space.ctx.target)
    xs, xr = space.points[:, keep], space.real_points[:, keep]
    train = np.sort(rng.choice(len(valid), min(len(valid), max_train_rows), replace=False))
    others = np.setdiff1d(np.arange(len(valid)), train)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        oof, (p_rest, p_real) = _out_of_fold(
            xs[valid[train]], compact[train],
            [(xs, valid[others]), (xr, np.arange(len(xr)))], len(classes), seed, rng,
            make_model=_label_model)
    probs = np.zeros((len(valid), len(classes)))
    probs[train], probs[others] = oof, p_rest
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mask = find_label_issues(compact, probs, filter_by="prune_by_noise_rate", n_jobs=1)
    stat = np.zeros(len(y_syn))
    stat[valid] = 1.0 - probs[np.arange(len(valid)), compact]
    fired = np.zeros(len(y_syn), dtype=bool)
    fired[valid] = mask
    real_y = y_ref[space.real_rows]
    pos = np.clip(np.searchsorted(classes, real_y), 0, len(classes) - 1)
    known = (real_y >= 0) & (classes[pos] == real_y)
    null = np.full(len(real_y), np.nan)
    null[known] = 1.0 - p_real[np.flatnonzero(known), pos[known]]
    predicted = np.full(len(y_syn), -1)
    predicted[valid] = classes[probs.argmax(axis=1)]
    given_p = np.zeros(len(y_syn))
    given_p[valid] = 1.0 - stat[valid]
    top_p = np.zeros(len(y_syn))
    top_p[valid] = probs.max(axis=1)
    extra = {"label": y_syn, "predicted": predicted, "given_p": given_p, "predicted_p": top_p,
             "class_values": class_values}
    return Detection("label_issue", stat, null, fired=fired, extra=extra)
