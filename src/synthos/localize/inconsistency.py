"""The ``inconsistency`` detector: rows whose columns do not go together as in real rows.

A row can hold only real-looking values and still be unlike every real row, when its columns
do not go together (a generator stitching the features of two records, a broken correlation).
After ALSO (attribute-wise learning for scoring outliers; Paulheim and Meusel 2015): one
model per column predicts that column from the others, fitted on real rows (ridge regression
and boosted trees on its residuals for a numeric column, boosted trees for a categorical one);
a row's error in each column is ranked against the errors of real rows the model did not see
(a conformal score per column), and the row's statistic adds those up, each column weighted by
how well the other columns predict it (an unpredictable column says nothing about
consistency). One more term asks of all columns at once whether the row was spliced from two
real rows (:mod:`synthos.localize.splice`), weighted by how well that classifier tells splices
it never saw from real rows it never saw, and a third how much of the row two other rows hold
exactly, piece by piece (:mod:`synthos.localize.fragments`), weighted by how well that tells
splices whose sources are at hand from real rows:

    T(x) = sum_j q_j * -log(1 - u_j(x) + 1 / (m_j + 1)) + q_s * -log(1 - u_s(x) + 1 / (m + 1))
           + q_f * -log(1 - u_f(x) + 1 / (m + 1))

where u_j is the share of the m_j held-out real rows with a smaller error in column j and q_j
= max(0, 1 - RMSE_j / sd_j) for a numeric column (1 - mean log loss over the entropy of the
column's classes for a categorical one), measured on those held-out rows; u_s is the share of
the m real rows with a smaller probability of being spliced and q_s = max(0, 2 AUROC - 1) of
that probability on unseen splices against unseen real rows; u_f and q_f are the same of the
fragments cover. A real row's u counts the other real rows; a synthetic row beyond every real
row stays there only where no real row's T would reach it had the row been one of them
(:func:`~synthos.localize.conformal.composite_statistic`): a synthetic row at the top of one
term would otherwise gain log 2 over that term's top real row.

The column models see a value the others do not explain; the splice classifier sees pieces
that do not go together where each column alone is explained well enough by some of the
others (randhie's plan terms). ``benchmarks/localize.py --kinds mixed`` measures it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import RidgeCV

from synthos.collapse.prepare import Encoded
from synthos.localize.conformal import composite_statistic, conformal_scores
from synthos.localize.detectors import Detection, feature_mask
from synthos.localize.fragments import fragments
from synthos.localize.space import Space
from synthos.localize.splice import splice

#: Boosting rounds per column model: the columns' dependence, not a fine fit, is the point,
#: and a wide table fits two models per column.
ROUNDS = 30
#: Ridge penalties tried for a numeric column's linear part (on standardized features).
RIDGE_ALPHAS = np.logspace(-3, 3, 13)
#: Real rows the two folds need before the models mean anything.
MIN_REAL_ROWS = 20
_FLOOR = 1e-6  # probability floor of a class the model gives nothing


class _LinearThenTrees:
    """Ridge regression (penalty chosen by generalized cross-validation), then boosted trees
    on its residuals.

    The linear part of a column's dependence on the others is what trees learn worst from a
    few hundred rows (a step per split, 20 rows a leaf), and tables hold many near-linear
    columns (a cell's radius, perimeter and area); the trees add what is not linear.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def fit(self, x: np.ndarray, y: np.ndarray) -> _LinearThenTrees:
        self.linear_ = RidgeCV(alphas=RIDGE_ALPHAS).fit(x, y)
        self.trees_ = HistGradientBoostingRegressor(max_iter=ROUNDS, random_state=self.seed)
        self.trees_.fit(x, y - self.linear_.predict(x))
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.linear_.predict(x) + self.trees_.predict(x)


@dataclass
class _Column:
    name: str
    numeric: bool
    index: int  # into prep.numeric_names or prep.categorical_names


def _columns(space: Space, real: Encoded) -> list[_Column]:
    """Numeric columns with two or more real values, narrow categoricals with two classes."""
    prep = space.prep
    out = []
    for i, name in enumerate(prep.numeric_names):
        values = real.numeric[:, i]
        if np.unique(values[~np.isnan(values)]).size >= 2:
            out.append(_Column(name, True, i))
    for j, name in enumerate(prep.categorical_names):
        codes = real.codes[:, j]
        if space.ctx.narrow[j] and np.unique(codes[codes >= 0]).size >= 2:
            out.append(_Column(name, False, j))
    return out


def _targets(space: Space, real: Encoded, col: _Column
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The column on the real rows and on the synthetic rows, and which real rows hold it."""
    prep = space.prep
    if col.numeric:
        y_real, y_syn = real.numeric[:, col.index], prep.synthetic.numeric[:, col.index]
        return y_real, y_syn, ~np.isnan(y_real)
    y_real, y_syn = real.codes[:, col.index], prep.synthetic.codes[:, col.index]
    return y_real, y_syn, y_real >= 0


def _given(proba: np.ndarray, classes: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each row's probability of its own class ``y``; 0 for a class the model never saw (or a
    missing value)."""
    pos = np.clip(np.searchsorted(classes, y), 0, len(classes) - 1)
    return np.where(classes[pos] == y, proba[np.arange(len(y)), pos], 0.0)


def _nll(p: np.ndarray) -> np.ndarray:
    """-log p, with p floored at :data:`_FLOOR`."""
    return -np.log(np.maximum(p, _FLOOR))


def _surprise(u: np.ndarray, m: int | np.ndarray) -> np.ndarray:
    """-log(1 - u + 1 / (m + 1)): a column's term of T(x) for conformal scores ``u`` against
    ``m`` held-out real rows."""
    return -np.log(1.0 - u + 1.0 / (m + 1))


def _column_errors(space: Space, real: Encoded, col: _Column, folds: np.ndarray,
                   syn_folds: np.ndarray, seed: int, max_train_rows: int,
                   rng: np.random.Generator):
    """Held-out errors of the real rows, errors of the synthetic rows, the column's
    predictability, and the synthetic rows' predictions.

    ``folds`` gives each real row its fold and ``syn_folds`` each synthetic row one: a
    synthetic row is predicted by the model that did not see that fold, just as a held-out
    real row is. The two models' mean would be another predictor, whose errors on columns of
    few values fall off the real rows' ties (a 17 % excess of extreme rows on a healthy table
    of counts, randhie).
    """
    keep = feature_mask(space, col.name)
    xr, xs = space.real_points[:, keep], space.points[:, keep]
    y_real, y_syn, held = _targets(space, real, col)
    err_real = np.full(len(y_real), np.nan)
    pred_syn = np.zeros(len(y_syn)) if col.numeric else None
    p_syn = np.zeros(len(y_syn))  # the probability of the given class
    top_syn = np.zeros(len(y_syn))
    for f in (0, 1):
        train = np.flatnonzero((folds != f) & held)
        test = np.flatnonzero((folds == f) & held)
        mine = syn_folds == f
        if len(train) > max_train_rows:
            train = np.sort(rng.choice(train, max_train_rows, replace=False))
        if len(train) < 2 or len(test) == 0 or (
                not col.numeric and np.unique(y_real[train]).size < 2):
            return None
        if col.numeric:
            model = _LinearThenTrees(seed).fit(xr[train], y_real[train])
            err_real[test] = np.abs(y_real[test] - model.predict(xr[test]))
            pred_syn[mine] = model.predict(xs[mine])
        else:
            model = HistGradientBoostingClassifier(max_iter=ROUNDS, random_state=seed)
            model.fit(xr[train], y_real[train])
            err_real[test] = _nll(_given(model.predict_proba(xr[test]), model.classes_,
                                         y_real[test]))
            proba = model.predict_proba(xs[mine])
            p_syn[mine] = _given(proba, model.classes_, y_syn[mine])
            top_syn[mine] = model.classes_[proba.argmax(axis=1)]
    held_err = err_real[~np.isnan(err_real)]
    if col.numeric:
        err_syn = np.abs(y_syn - pred_syn)
        sd = np.nanstd(y_real[held])
        quality = max(0.0, 1.0 - float(np.sqrt(np.mean(held_err ** 2))) / sd) if sd > 0 else 0.0
        return err_real, err_syn, quality, pred_syn
    err_syn = np.where(y_syn >= 0, _nll(p_syn), np.nan)
    counts = np.bincount(y_real[held])
    prior = counts[counts > 0] / counts.sum()
    entropy = float(-(prior * np.log(prior)).sum())
    quality = max(0.0, 1.0 - float(held_err.mean()) / entropy) if entropy > 0 else 0.0
    return err_real, err_syn, quality, top_syn


def inconsistency(space: Space, rng: np.random.Generator, seed: int, max_train_rows: int
                  ) -> Detection | None:
    """Rows whose columns do not go together as in real rows: :func:`column_inconsistency`'s
    terms plus the splice term ``q_s * -log(1 - u_s(x) + 1 / (m + 1))``, u_s the share of
    real rows with a smaller probability of being spliced (:func:`~synthos.localize.splice.
    splice`), q_s how well that probability tells unseen splices from unseen real rows, plus
    the same term of the fragments cover (:func:`~synthos.localize.fragments.fragments`).

    Parameters are those of :func:`column_inconsistency`. Returns None when neither part can
    score; ``extra`` holds :func:`column_inconsistency`'s (``column`` -1 for every row when it
    could not score) and, per synthetic row, ``splice`` (the probability that it was spliced,
    NaN when that part could not score), ``splice_share`` (the share of real rows with a
    smaller one, u_s), ``fragments``, ``fragment_share`` and ``partners`` (the fragments cover,
    u_f, and the two rows giving it: :func:`~synthos.localize.fragments.fragments`), and
    ``spliced`` and ``fragmented`` (whether that term is the row's largest).
    """
    columns = column_inconsistency(space, rng, seed, max_train_rows)
    spliced = splice(space, rng, seed, max_train_rows)
    pieces = fragments(space, rng.spawn(1)[0])  # its own stream: other draws stay as they were
    if columns is None and spliced is None and pieces is None:
        return None
    n, n_real = len(space.points), len(space.real_rows)
    terms, extra = columns if columns is not None else (_Terms([], [], [], []), {
        "column": np.full(n, -1, dtype=np.int64), "expected": np.full(n, np.nan),
        "given": np.full(n, np.nan), "worst_term": np.zeros(n), "columns": []})
    extra["splice"], extra["splice_share"] = np.full(n, np.nan), np.full(n, np.nan)
    splice_term = np.zeros(n)
    if spliced is not None:
        splice_term, extra["splice_share"] = _term(spliced, n_real, terms)
        extra["splice"] = spliced.stat
    extra["fragments"], extra["fragment_share"] = np.full(n, np.nan), np.full(n, np.nan)
    extra["partners"] = np.full((n, 2), -1, dtype=np.int64)
    fragment_term = np.zeros(n)
    if pieces is not None:
        fragment_term, extra["fragment_share"] = _term(pieces, n_real, terms)
        extra["fragments"], extra["partners"] = pieces.stat, pieces.extra["partners"]
        extra["held"], extra["pool"] = pieces.extra["held"], pieces.extra["pool"]
    extra["spliced"] = (splice_term > extra["worst_term"]) & (splice_term >= fragment_term)
    extra["fragmented"] = (fragment_term > extra["worst_term"]) & (fragment_term > splice_term)
    stat, null = terms.composite()
    return Detection("inconsistency", stat, null, extra=extra)


@dataclass
class _Terms:
    """T(x)'s terms: per term the synthetic rows' conformal scores u, the real rows' own
    (NaN where the term has no value: the term is 0 there), its weight q and its real rows
    m."""

    syn: list[np.ndarray]
    real: list[np.ndarray]
    weights: list[float]
    sizes: list[int]

    def add(self, u_syn: np.ndarray, u_real: np.ndarray, weight: float, size: int) -> None:
        # float32 holds a share of 20,000 rows to 1e-7 at half the memory of a million rows.
        self.syn.append(u_syn.astype(np.float32))
        self.real.append(u_real.astype(np.float32))
        self.weights.append(weight)
        self.sizes.append(size)

    def statistic(self, u: np.ndarray) -> np.ndarray:
        """T of scores ``u`` of shape (terms, rows), term by term (no (terms, rows) float64
        temporaries on a million rows)."""
        out = np.zeros(u.shape[1])
        for part, q, m in zip(u, self.weights, self.sizes, strict=True):
            term = q * _surprise(part.astype(float), m)
            out += np.where(np.isnan(term), 0.0, term)
        return out

    def composite(self) -> tuple[np.ndarray, np.ndarray]:
        """T(x) of the synthetic rows and of the real rows, held to full conformal at the top
        (:func:`~synthos.localize.conformal.composite_statistic`)."""
        return composite_statistic(np.array(self.syn), np.array(self.real),
                                   np.array(self.sizes), self.statistic)


def _term(part: Detection, n_real: int, terms: _Terms) -> tuple[np.ndarray, np.ndarray]:
    """Add a whole-row term of T(x), ``q * -log(1 - u + 1 / (m + 1))``, to ``terms``: u the
    share of real rows with a smaller statistic, q the part's ``extra["quality"]``. Returns
    the synthetic rows' term and u."""
    quality = part.extra["quality"]
    share = conformal_scores(part.stat, part.null)
    terms.add(share, conformal_scores(part.null, part.null), quality, n_real)
    return quality * _surprise(share, n_real), share


def column_inconsistency(space: Space, rng: np.random.Generator, seed: int,
                         max_train_rows: int) -> tuple[_Terms, dict] | None:
    """Rows whose columns the other columns do not predict, against held-out real rows.

    Parameters
    ----------
    space : Space
        Both tables embedded; the real rows of the index are the models' rows.
    rng : numpy.random.Generator
        Draws the two folds of the real rows (and training subsamples beyond
        ``max_train_rows``).
    seed : int
        Seed of the boosted trees.
    max_train_rows : int
        Real rows each column model is fitted on, at most.

    Returns
    -------
    (terms, extra) or None
        None when fewer than two columns can be modelled, the real rows are fewer than
        :data:`MIN_REAL_ROWS`, or no column is predictable from the others. ``terms`` are
        T(x)'s column terms (:func:`inconsistency` adds the whole-row ones before summing
        them); ``extra`` holds, per synthetic row, the worst column (``column``, -1 when
        none) and what the model gave there (``expected``: the predicted value of a numeric
        column, the most likely class code of a categorical one; ``given``: the probability
        of the row's own class there, NaN for a numeric column) and that column's term
        (``worst_term``), and per column its name, kind and ``quality``.
    """
    real = space.real  # a copy of the index rows: taken once, not per column
    columns = _columns(space, real)
    n_real = len(space.real_rows)
    if len(columns) < 2 or n_real < MIN_REAL_ROWS:
        return None
    folds = rng.permutation(n_real) % 2
    syn_folds = rng.permutation(len(space.points)) % 2
    worst = np.zeros(len(space.points))
    worst_col = np.full(len(space.points), -1, dtype=np.int64)
    expected = np.full(len(space.points), np.nan)
    given = np.full(len(space.points), np.nan)
    kept: list[dict] = []
    terms = _Terms([], [], [], [])
    for col in columns:
        found = _column_errors(space, real, col, folds, syn_folds, seed, max_train_rows, rng)
        if found is None:
            continue
        err_real, err_syn, quality, predicted = found
        if quality <= 0:
            continue
        held = ~np.isnan(err_real)
        ref = err_real[held]
        m = len(ref)
        u_syn = np.where(np.isnan(err_syn), 0.0, conformal_scores(np.nan_to_num(err_syn), ref))
        term_syn = quality * _surprise(u_syn, m)
        u_real = np.full(n_real, np.nan)
        u_real[held] = conformal_scores(ref, ref)
        terms.add(u_syn, u_real, quality, m)
        better = term_syn > worst
        worst = np.where(better, term_syn, worst)
        worst_col = np.where(better, len(kept), worst_col)
        expected = np.where(better, predicted, expected)
        given = np.where(better, np.nan if col.numeric else np.exp(-err_syn), given)
        kept.append({"name": col.name, "numeric": col.numeric, "index": col.index,
                     "quality": round(quality, 4),
                     "typical_error": float(np.median(ref))})
    if not kept:
        return None
    return terms, {"column": worst_col, "expected": expected, "given": given,
                   "worst_term": worst, "columns": kept}
