"""The splice statistic: rows that look assembled from pieces of different real rows.

A generator that keeps each column's values real but loses how they go together (one that
samples blocks of columns apart, or stitches two records) writes rows a per-column check passes
and a distance check finds near real rows. Such rows are drawn from a known alternative: take
two real rows and swap a random set of their columns. A classifier trained to tell real rows
from rows spliced that way estimates the density ratio of spliced to real rows (unsupervised
learning as supervised learning, Hastie, Tibshirani and Friedman 2009, 14.2.4, with splices
instead of the product of the marginals as the reference: a splice keeps the dependence within
each piece, so the classifier learns the dependence between pieces, which is what a stitched
row breaks). The statistic is its probability that a row is spliced; the null is the same
probability of real rows the fold's model never saw, and whose pieces none of its splices
holds.

It is one term of the ``inconsistency`` detector (:mod:`synthos.localize.inconsistency`),
whose other terms ask the same of one column at a time.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from synthos.localize.detectors import Detection, boosted_trees, class_proba, column_owners
from synthos.localize.space import Space

#: Folds of the real rows: each fold's rows are the null of a model fitted on the others.
FOLDS = 5
#: Spliced rows per real training row: the alternative is drawn at will, so more of it than of
#: the real rows, the classes weighted to balance. The splice probability's AUROC on the mixed
#: rows of benchmarks/localize.py at 5% and 10% (anes96, penguins, breast_cancer, digits; two
#: seeds, three draws of the splices each): 0.830 with 2, 0.852 with 4, 0.845 with 8, and the
#: spread over draws halves from 2 to 4; on randhie and fair (3,000 to 10,000 real rows) 2, 4,
#: 8 and 16 are within 0.01 of each other.
SPLICES_PER_ROW = 4
#: Real rows the folds need before the models mean anything.
MIN_REAL_ROWS = 20


def splices(points: np.ndarray, owners: np.ndarray, count: int, rng: np.random.Generator
            ) -> np.ndarray:
    """``count`` rows, each two distinct rows of ``points`` with a random set of columns swapped.

    Parameters
    ----------
    points : ndarray, shape (n, d)
        Embedded real rows, n >= 2.
    owners : ndarray of int, shape (d,)
        The column (0 to k - 1, k >= 2) each embedding dimension encodes: a column's dimensions
        (a category's one-hot levels, a value and its missing flag) move together.
    count : int
        Rows to make.
    rng : numpy.random.Generator
        Draws the pairs, how many columns come from the first row (uniform on 1 to k - 1, so
        every split of the columns is tried) and which.

    Returns
    -------
    ndarray, shape (count, d)
    """
    n = len(points)
    k = int(owners.max()) + 1
    first = rng.integers(n, size=count)
    second = (first + rng.integers(1, n, size=count)) % n
    taken = rng.integers(1, k, size=count)
    # A random permutation's first `taken` columns: a uniform subset of that size.
    from_first = np.argsort(rng.random((count, k)), axis=1).argsort(axis=1) < taken[:, None]
    return np.where(from_first[:, owners], points[first], points[second])


def splice(space: Space, rng: np.random.Generator, seed: int, max_train_rows: int
           ) -> Detection | None:
    """The probability that each row was spliced from two real rows, against real rows'.

    Parameters
    ----------
    space : Space
        Both tables embedded; the real rows of the index are the models' rows.
    rng : numpy.random.Generator
        Draws the folds, the splices and training subsamples beyond ``max_train_rows``.
    seed : int
        Seed of the boosted trees.
    max_train_rows : int
        Real rows each fold's model is fitted on, at most (with :data:`SPLICES_PER_ROW`
        times as many splices).

    Returns
    -------
    Detection or None
        None with fewer than two columns or :data:`MIN_REAL_ROWS` real rows. Each synthetic
        row is scored by one fold's model, drawn at random, as each real row is by the model
        that did not see it. ``extra["quality"]``: max(0, 2 AUROC - 1) of the models'
        probabilities on splices of the rows each never saw against those rows.
    """
    names = column_owners(space)
    owners = np.unique(names, return_inverse=True)[1]
    real, synthetic = space.real_points, space.points
    if owners.max(initial=0) < 1 or len(real) < MIN_REAL_ROWS:
        return None
    folds = rng.permutation(len(real)) % FOLDS
    syn_folds = rng.permutation(len(synthetic)) % FOLDS
    stat, null = np.zeros(len(synthetic)), np.zeros(len(real))
    unseen = []  # each fold's model on splices of the real rows it never saw
    for f in range(FOLDS):
        train = np.flatnonzero(folds != f)
        if len(train) > max_train_rows:
            train = np.sort(rng.choice(train, max_train_rows, replace=False))
        fake = splices(real[train], owners, SPLICES_PER_ROW * len(train), rng)
        x = np.vstack([real[train], fake])
        y = np.r_[np.zeros(len(train), dtype=int), np.ones(len(fake), dtype=int)]
        weight = np.r_[np.full(len(train), float(SPLICES_PER_ROW)), np.ones(len(fake))]
        model = boosted_trees(seed).fit(x, y, sample_weight=weight)
        held, mine = np.flatnonzero(folds == f), np.flatnonzero(syn_folds == f)
        null[held] = class_proba(model, real[held], 2)[:, 1]
        stat[mine] = class_proba(model, synthetic[mine], 2)[:, 1]
        # A fold holds at least MIN_REAL_ROWS // FOLDS >= 2 rows, as a splice needs.
        fresh = splices(real[held], owners, len(held), rng)
        unseen.append(class_proba(model, fresh, 2)[:, 1])
    quality = _quality(null, np.concatenate(unseen))
    return Detection("splice", stat, null, extra={"quality": quality})


def _quality(real: np.ndarray, spliced: np.ndarray) -> float:
    """How well the models tell splices they never saw from real rows they never saw:
    max(0, 2 AUROC - 1), 0 for a coin toss, 1 for a perfect split."""
    labels = np.r_[np.zeros(len(real)), np.ones(len(spliced))]
    return max(0.0, 2.0 * float(roc_auc_score(labels, np.r_[real, spliced])) - 1.0)
