"""Scores on one scale for every detector: how a row compares with real rows.

Each detector gives a statistic per synthetic row and the same statistic for real rows that
were not used to fit it (the null). A row's score is the share of real rows strictly less
extreme than it: a conformal score (Vovk et al. 2005; Bates et al. 2023), near uniform on
[0, 1] for rows drawn like the real ones, 1 for a row more extreme than every real row.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def conformal_scores(stat: np.ndarray, null: np.ndarray, higher_is_worse: bool = True
                     ) -> np.ndarray:
    """Share of ``null`` strictly less extreme than each value of ``stat`` (0 to 1).

    Parameters
    ----------
    stat : ndarray, shape (n,)
        The statistic of the rows to score.
    null : ndarray, shape (m,)
        The same statistic of real rows; m >= 1.
    higher_is_worse : bool, default True
        Direction of the statistic; False for a distance where small is suspicious.
    """
    ordered = np.sort(null)
    if higher_is_worse:
        below = np.searchsorted(ordered, stat, side="left")
    else:
        below = len(ordered) - np.searchsorted(ordered, stat, side="right")
    return below / len(ordered)


def full_conformal_top(stat: np.ndarray, null: np.ndarray, parts: np.ndarray, own: np.ndarray,
                       sizes: np.ndarray, combine: Callable[[np.ndarray], np.ndarray]
                       ) -> np.ndarray:
    """Which new rows that a statistic made of several conformal scores puts beyond every
    real row would still be beyond every one had they been one of the real rows.

    Parameters
    ----------
    stat, null : ndarray, shapes (n,) and (m,)
        ``combine(parts)`` and ``combine(own)``.
    parts : ndarray, shape (P, n)
        Per part, the new rows' conformal scores (:func:`conformal_scores`: the share of
        that part's real rows strictly less extreme).
    own : ndarray, shape (P, m)
        Per part, each real row's score against the real rows (``conformal_scores(null,
        null)``); NaN where the real row has no value there.
    sizes : ndarray, shape (P,)
        Per part, how many real rows its scores count over.
    combine : callable
        The statistic: scores of shape (P, k) to k values, non-decreasing in every part.

    Returns
    -------
    ndarray of bool, shape (n,)
        True where ``combine(parts)`` exceeds every real row's ``combine`` of its scores as
        they would be with the new row among the real rows.

    A real row's scores count the other real rows; with the new row among them, a part where
    the new row lies below the real row counts one row more (full conformal; Vovk et al.
    2005). Left out, a real row's part stops at (m - 1) / m where a new row's reaches 1, and
    a statistic of several parts puts a new row at the top of one part beyond every real row,
    though the top real row of another part ties it there: more new rows beyond every real
    row than exchangeable rows give (``benchmarks/tail_null.py``: 1.3-1.8 for 1.0). The step
    is taken where the real row's count reaches the new row's (ties counted above:
    conservative), only for the real rows a step in every part would bring to a new row
    beyond every real row.
    """
    parts, own = np.asarray(parts), np.asarray(own)
    if not null.size:
        return np.ones(parts.shape[1], dtype=bool)
    size = np.asarray(sizes, dtype=float)[:, None]
    out = np.zeros(parts.shape[1], dtype=bool)
    top = np.flatnonzero(stat > null.max())
    if not len(top):
        return out
    reach = own[:, combine(own + 1.0 / size) >= stat[top].min()]  # (P, R)
    chunk = max(1, 4_000_000 // max(1, reach.size))
    for start in range(0, len(top), chunk):
        rows = top[start:start + chunk]
        # A real row's count reaches the new row's where own >= part (counts over one size).
        step = reach[:, :, None] >= parts[:, None, rows] - 0.5 / size[:, :, None]
        moved = reach[:, :, None] + np.where(step, 1.0, 0.0) / size[:, :, None]
        real_stat = combine(moved.reshape(len(size), -1)).reshape(reach.shape[1], len(rows))
        out[rows] = ~(real_stat >= stat[rows]).any(axis=0)
    return out


def composite_statistic(parts: np.ndarray, own: np.ndarray, sizes: np.ndarray,
                        combine: Callable[[np.ndarray], np.ndarray]
                        ) -> tuple[np.ndarray, np.ndarray]:
    """A statistic of several conformal scores for the new rows and the real rows: ``combine``
    of each, a new row beyond every real row held to the real rows' top where, had it been
    one of them, a real row would have reached it (:func:`full_conformal_top`, whose
    ``parts``, ``own``, ``sizes`` and ``combine`` these are)."""
    stat, null = combine(np.asarray(parts)), combine(np.asarray(own))
    if null.size:
        ties = (stat > null.max()) & ~full_conformal_top(stat, null, parts, own, sizes, combine)
        stat = np.where(ties, null.max(), stat)
    return stat, null


def worse_then_sum(scores: np.ndarray, m: int) -> np.ndarray:
    """The worst of several conformal scores over ``m`` real rows (shape (P, k)), ties broken
    by their sum: a new row at the top of one part and high in the other outranks the real
    row at the top of the other part and low in the first. Scores are multiples of 1 / m, so
    a sum over at most P is scaled below that step."""
    scores = np.asarray(scores, dtype=float)
    return scores.max(axis=0) + scores.sum(axis=0) / (2.0 * len(scores) * (m + 1.0))


def conformal_pvalues(stat: np.ndarray, null: np.ndarray) -> np.ndarray:
    """Conformal p-values (1 + #null >= stat) / (m + 1) for a higher-is-worse statistic."""
    ordered = np.sort(null)
    at_least = len(ordered) - np.searchsorted(ordered, stat, side="left")
    return (1.0 + at_least) / (len(ordered) + 1.0)


def bh_qvalues(pvalues: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values), in the input order.

    Conformal p-values sharing one null are positively dependent (PRDS), under which the
    procedure keeps the false discovery rate (Bates et al. 2023).
    """
    n = len(pvalues)
    if n == 0:
        return pvalues.astype(float)
    order = np.argsort(pvalues, kind="stable")
    ranked = pvalues[order] * n / np.arange(1, n + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(q, 1.0)
    return out


def worst_of(scores: list[np.ndarray], own: list[np.ndarray], sizes: list[int]
             ) -> tuple[np.ndarray, np.ndarray]:
    """Conformal score and p-value of each new row's worst score over several detectors.

    Parameters
    ----------
    scores : list of ndarray, each shape (n,)
        Per detector, the new rows' conformal scores (:func:`conformal_scores`: the share of
        that detector's real rows strictly less extreme).
    own : list of ndarray, each shape (m,)
        Per detector, each real row's score against the real rows (``conformal_scores(null,
        null)``): the same m rows in every detector, scored 0 where it has no value.
    sizes : list of int
        Per detector, how many real rows its scores count over.

    Returns
    -------
    score, pvalue : ndarray, shape (n,)
        ``1 - k / m`` and ``(1 + k) / (m + 1)``, k the real rows at least as extreme as the row.

    A real row ``i`` is at least as extreme as a new row ``x`` when, had ``x`` been one of the
    real rows, one of ``i``'s scores would reach ``x``'s worst (full conformal; Vovk et al.
    2005): in the detectors where ``x`` is at its worst as it is, in every other one a step
    ``1 / m_d`` higher, ``x`` being below ``i`` there where ``i`` can reach ``x``'s worst
    (exact where the detectors count the same real rows; where their sizes differ, a step
    is taken wherever ``x`` is below its worst: conservative). A row beyond every real row
    in two detectors is beyond the top real row of each. Taking a real row's scores as they
    are, against the others only, the worst of several detectors' scores of a row drawn like
    the real ones is beyond every real row's for about as many times the share the p-value
    allows as there are detectors; a step up everywhere would tie the real rows' top with
    rows beyond every real row in one detector.
    """
    stacked = np.asarray(scores)
    raw = stacked.max(axis=0)
    own_ = np.asarray(own)
    size = np.asarray(sizes, dtype=float)[:, None]
    counts = np.rint(own_ * size)
    # A detector without real rows to compare with has no step to take.
    up = np.where(size > 0, (counts + 1.0) / np.maximum(size, 1.0), -np.inf)
    hi = own_.max(axis=0)
    # The detectors where the row is at its worst take no step: there it lies above every
    # real row below its worst. Rows are grouped by that set (bits of one integer).
    at_worst = (stacked == raw) * (1 << np.arange(len(stacked)))[:, None]
    groups = at_worst.sum(axis=0)
    at_least = np.zeros(len(raw))
    for group in np.unique(groups):
        rows = np.flatnonzero(groups == group)
        stepped = [d for d in range(len(stacked)) if not group >> d & 1]
        null = np.maximum(hi, up[stepped].max(axis=0)) if stepped else hi
        at_least[rows] = len(null) - np.searchsorted(np.sort(null), raw[rows], side="left")
    m = own_.shape[1]
    return 1.0 - at_least / m, (1.0 + at_least) / (m + 1.0)
