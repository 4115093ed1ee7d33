"""The fragments statistic: rows whose values are, piece by piece, other rows' exact values.

A generator that stitches records together (swapping blocks of columns between rows, or
recombining memorized pieces of its training rows) writes rows that hold one row's exact
values in some columns and another row's in the rest. Chance rarely makes a row share a
rare value with another, and all the more rarely several rare values with the same row,
which is what a stitched row does with its sources. Linking a record through a subset of its
columns is how privacy audits find a synthetic row's source (the linkability attack of
Giomi et al. 2023).

Over a pool of rows (every synthetic row and every real row of the index), a match of row x
with row y in column j weighs ``w_j(x) = -log(c_j(x_j) / N)``: how rare the value is, ``c_j``
the pool's rows holding it, N the pool's rows. Row x's cover by two rows is

    C(x) = W(x, y1) + max_z sum_{j not matched by y1, x_j = z_j} w_j(x),
    W(x, y) = sum_{j: x_j = y_j} w_j(x),   y1 = argmax_y W(x, y),

over the rows y, z that are not equal to x on every compared column (an exact copy or
repeat is the memorization and duplicates detectors' matter). A row spliced from two rows
the pool holds is covered whole; a fresh row only where chance puts its values in other
rows. Each source of a spliced row holds a piece of it too: a row y that gave one of its
pieces to a row covered in a larger share of its information than y (sum_j w_j over the
columns where its value could be matched) is covered again without that row (explaining
away), or every stitched row would bring two healthy rows with it. Missing values match
nothing. A value more than :data:`MAX_GROUP` rows hold is not matched: its weight is small
and it pairs every one of those rows with every other.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from synthos.collapse.prepare import hash_rows
from synthos.localize.detectors import Detection
from synthos.localize.space import Space
from synthos.localize.splice import MIN_REAL_ROWS, splices

#: Rows holding one value beyond which it is not matched (pairs grow as its square).
MAX_GROUP = 32
#: Pairs of rows matched per column, at most: beyond it only the rarest values are matched
#: (a million rows of values each held by a few rows would otherwise make tens of millions).
MAX_PAIRS_PER_COLUMN = 2_000_000


def value_codes(numeric: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Each column's values as integer codes shared by all rows (-1 for missing).

    Parameters
    ----------
    numeric : ndarray, shape (n, p)
        Numeric columns as the files hold them (NaN for missing).
    codes : ndarray, shape (n, q)
        Categorical codes (-1 for missing).

    Returns
    -------
    ndarray of int64, shape (n, p + q)
    """
    out = [pd.factorize(numeric[:, j], use_na_sentinel=True)[0]
           for j in range(numeric.shape[1])]
    out += [codes[:, j].astype(np.int64) for j in range(codes.shape[1])]
    return np.column_stack(out) if out else np.zeros((len(numeric), 0), dtype=np.int64)


def matched_counts(column: np.ndarray) -> np.ndarray:
    """Per row, how many rows hold its value in one column (codes, -1 missing), where the
    value is matched: held by at most :data:`MAX_GROUP` rows, and the commonest of those too
    beyond :data:`MAX_PAIRS_PER_COLUMN` pairs; else 0."""
    valid = column >= 0
    counts = np.bincount(column[valid]) if valid.any() else np.zeros(0, dtype=np.int64)
    held = np.where(valid, counts[np.maximum(column, 0)] if len(counts) else 0, 0)
    sizes = np.arange(2, MAX_GROUP + 1)
    pairs_at = np.bincount(held, minlength=MAX_GROUP + 1)[2:MAX_GROUP + 1] * (sizes - 1)
    allowed = sizes[np.cumsum(pairs_at) <= MAX_PAIRS_PER_COLUMN]
    largest = int(allowed.max()) if len(allowed) else 1
    return np.where(held <= largest, held, 0)


def _column_pairs(column: np.ndarray, pool: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every ordered pair (x, y), x != y, of rows holding the same value in one column, and
    the weight of the match, -log(c / N); values held by more than :data:`MAX_GROUP` rows are
    left out, and the commonest kept values too beyond :data:`MAX_PAIRS_PER_COLUMN` pairs.
    Last, each row's -log(c / N) where its value could be matched (held by one row, or kept),
    else 0: what the column tells of the row."""
    held = matched_counts(column)
    matchable = held >= 1
    info = np.where(matchable, -np.log(np.maximum(held, 1) / pool), 0.0)
    rows = np.flatnonzero(matchable & (held >= 2))
    if len(rows) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0), info
    rows = rows[np.argsort(column[rows], kind="stable")]
    values = column[rows]
    start = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    size = np.diff(np.r_[start, len(rows)])
    group = np.repeat(np.arange(len(start)), size)
    reps = size[group]  # each row pairs with every row of its group, itself dropped below
    x = np.repeat(rows, reps)
    offset = np.arange(len(x)) - np.repeat(np.cumsum(reps) - reps, reps)
    y = rows[np.repeat(start[group], reps) + offset]
    weight = -np.log(np.repeat(reps, reps) / pool)
    keep = x != y
    return x[keep], y[keep], weight[keep], info


def _sum_by_pair(x: np.ndarray, y: np.ndarray, weight: np.ndarray, pool: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """W(x, y) for every pair that matches somewhere."""
    if len(x) == 0:
        return x, y, weight
    key = x * pool + y
    order = np.argsort(key, kind="stable")
    key = key[order]
    start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    return key[start] // pool, key[start] % pool, np.add.reduceat(weight[order], start)


def _best(x: np.ndarray, y: np.ndarray, weight: np.ndarray, pool: int
          ) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the largest W and the row giving it (0 and -1 for a row matching none)."""
    best, partner = np.zeros(pool), np.full(pool, -1, dtype=np.int64)
    if len(x):
        order = np.lexsort((-weight, x))
        first = order[np.r_[True, x[order][1:] != x[order][:-1]]]
        best[x[first]], partner[x[first]] = weight[first], y[first]
    return best, partner


def fragment_cover(codes: np.ndarray, records: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """C(x) for every row of a pool, and the two rows that give it.

    Parameters
    ----------
    codes : ndarray of int, shape (N, k)
        The pool's values as per-column codes (:func:`value_codes`; -1 missing).
    records : ndarray, shape (N,)
        A hash of each row's compared values: rows with the same hash are not each other's
        partners.

    Returns
    -------
    cover : ndarray, shape (N,)
        C(x); 0 for a row that shares no kept value with another row.
    partners : ndarray of int, shape (N, 2)
        y1 and z (pool positions; -1 where none).
    """
    pool, k = codes.shape
    found = [_column_pairs(codes[:, j], pool) for j in range(k)]
    x = np.concatenate([f[0] for f in found]) if found else np.zeros(0, dtype=np.int64)
    y = np.concatenate([f[1] for f in found]) if found else np.zeros(0, dtype=np.int64)
    w = np.concatenate([f[2] for f in found]) if found else np.zeros(0)
    column = np.repeat(np.arange(k), [len(f[0]) for f in found])
    distinct = records[x] != records[y]
    x, y, w, column = x[distinct], y[distinct], w[distinct], column[distinct]
    cover, partners = _two_rows(x, y, w, column, pool, k)
    # Explaining away: a row that gave a row covered in a larger share of what its columns
    # tell one of its pieces is that row's source, and the piece they share says nothing of
    # the source itself.
    told = np.sum([f[3] for f in found], axis=0) if found else np.zeros(pool)
    share = cover / np.maximum(told, 1e-12)
    stitched = np.repeat(np.arange(pool), 2)
    source = partners.ravel()
    gave = (source >= 0) & (share[stitched] > share[np.maximum(source, 0)])
    keep = ~np.isin(x * pool + y, source[gave] * pool + stitched[gave])
    return _two_rows(x[keep], y[keep], w[keep], column[keep], pool, k)


def _two_rows(x: np.ndarray, y: np.ndarray, w: np.ndarray, column: np.ndarray, pool: int,
              k: int) -> tuple[np.ndarray, np.ndarray]:
    """C(x) and (y1, z) from the matches (x, y, weight, column)."""
    first, partner = _best(*_sum_by_pair(x, y, w, pool), pool)
    # The second row counts only the columns the first does not match.
    by_first = y == partner[x]
    matched = np.unique(x[by_first] * k + column[by_first])
    rest = ~np.isin(x * k + column, matched) & ~by_first
    second, other = _best(*_sum_by_pair(x[rest], y[rest], w[rest], pool), pool)
    return first + second, np.column_stack([partner, other])


def fragments(space: Space, rng: np.random.Generator) -> Detection | None:
    """C(x) of every synthetic row in the pool of the synthetic rows and the real rows of the
    index, against the real rows' own C in that pool.

    Returns
    -------
    Detection or None
        None with fewer than two columns or :data:`MIN_REAL_ROWS` real rows.
        ``extra["partners"]``: per synthetic row, y1 and z as pool positions (below the
        synthetic rows' count a synthetic row, from it on the real row of the index at that
        offset; -1 where none). ``extra["held"]``: per synthetic row and column (numeric
        columns, then categorical), the pool's rows holding its value where the value is
        matched, else 0 (:func:`matched_counts`); ``extra["pool"]``: the pool's rows.
        ``extra["quality"]``: max(0, 2 AUROC - 1) of C on splices of
        two real rows (:func:`~synthos.localize.splice.splices`, with both rows in the pool)
        against real rows that are no splice's source: how much exact shares say on this
        table (next to nothing where every value is common).
    """
    prep = space.prep
    n, m = prep.synthetic.n, len(space.real_rows)
    if prep.synthetic.numeric.shape[1] + prep.synthetic.codes.shape[1] < 2 or \
            m < MIN_REAL_ROWS:
        return None
    raw_syn, raw_ref = prep.numeric_as_given
    codes = value_codes(np.vstack([raw_syn, raw_ref[space.real_rows]]),
                        np.vstack([prep.synthetic.codes, prep.reference.codes[space.real_rows]]))
    records = np.r_[space.synthetic_records, space.reference_records[space.real_rows]]
    cover, partners = fragment_cover(codes, records)
    held = np.column_stack([matched_counts(codes[:, j])[:n] for j in range(codes.shape[1])])
    return Detection("fragments", cover[:n], cover[n:],
                     extra={"partners": partners[:n], "held": held.astype(np.int32),
                            "pool": len(codes), "quality": _quality(codes[n:], rng)})


def _quality(real: np.ndarray, rng: np.random.Generator) -> float:
    """max(0, 2 AUROC - 1) of C on splices of two real rows of one half, in the pool of the
    real rows and the splices, against the real rows of the other half (a splice's sources
    share its pieces, so they are no null)."""
    half = rng.permutation(len(real)) % 2 == 0
    sources, null = real[half], np.flatnonzero(~half)
    fake = splices(sources, np.arange(real.shape[1]), len(null), rng)
    pool = np.vstack([real, fake])
    cover = fragment_cover(pool, hash_rows(np.zeros((len(pool), 0)), pool))[0]
    labels = np.r_[np.zeros(len(null)), np.ones(len(fake))]
    return max(0.0, 2.0 * float(roc_auc_score(labels, np.r_[cover[null], cover[len(real):]]))
               - 1.0)
