"""Scores on one scale for every detector: how a row compares with real rows.

Each detector gives a statistic per synthetic row and the same statistic for real rows that
were not used to fit it (the null). A row's score is the share of real rows strictly less
extreme than it: a conformal score (Vovk et al. 2005; Bates et al. 2023), near uniform on
[0, 1] for rows drawn like the real ones, 1 for a row more extreme than every real row.
"""

from __future__ import annotations

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
