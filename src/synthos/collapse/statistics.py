"""The statistics behind the 8 dimensions, each comparing table X to reference table R.

Every function returns a :class:`Stat`: one number oriented so that larger is worse (further
from the reference), and per-column or per-pair parts on the same scale, so a report can name
the columns that cost the most. The same function computes the observed value (synthetic vs
reference half A) and the null value (reference half B vs A).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats as sps

from synthos.collapse.prepare import Encoded

# Tails: the reference's central 95% defines what a tail is.
_TAIL_Q = 0.025
# Categories holding less than this share of reference rows are "rare".
_RARE_SHARE = 0.05
# Numeric columns are cut into this many reference-quantile bins for entropy and MI.
_BINS = 10


@dataclass
class Stat:
    """A statistic's value (larger is worse), its parts, and the smallest change that counts.

    ``floor``, when set, is the statistic's own unit of change (one category of many, say):
    the null spread is never taken below it, because a spread estimated from a few halvings
    can come out near zero.
    """

    value: float
    parts: dict[str, float] = field(default_factory=dict)
    floor: float | None = None


@dataclass
class Context:
    """What the statistics need beyond the two tables."""

    numeric_names: list[str]
    categorical_names: list[str]
    narrow: np.ndarray  # categorical columns with few enough levels for pairwise use
    target: str | None = None


# --- marginals ------------------------------------------------------------------------------


def ks(x: np.ndarray, r: np.ndarray) -> float:
    """Two-sample Kolmogorov–Smirnov D on the non-missing values (0 when either is empty)."""
    x, r = x[~np.isnan(x)], r[~np.isnan(r)]
    if len(x) == 0 or len(r) == 0:
        return 1.0 if len(x) != len(r) else 0.0
    return float(sps.ks_2samp(x, r).statistic)


def tvd(x: np.ndarray, r: np.ndarray) -> float:
    """Total variation distance between the category shares (missing values dropped)."""
    x, r = x[x >= 0], r[r >= 0]
    if len(x) == 0 or len(r) == 0:
        return 1.0 if len(x) != len(r) else 0.0
    size = int(max(x.max(), r.max())) + 1
    px = np.bincount(x, minlength=size) / len(x)
    pr = np.bincount(r, minlength=size) / len(r)
    return float(0.5 * np.abs(px - pr).sum())


def marginal_distance(x: Encoded, r: Encoded, ctx: Context) -> Stat:
    """Mean KS (numeric, datetime) or TVD (categorical, boolean) over columns."""
    parts = {n: ks(x.numeric[:, i], r.numeric[:, i]) for i, n in enumerate(ctx.numeric_names)}
    parts.update({n: tvd(x.codes[:, j], r.codes[:, j])
                  for j, n in enumerate(ctx.categorical_names)})
    return Stat(float(np.mean(list(parts.values()))) if parts else 0.0, parts)


def missingness(x: Encoded, r: Encoded, ctx: Context) -> Stat:
    """Mean absolute change in the share of missing values per column."""
    parts = {n: abs(float(np.isnan(x.numeric[:, i]).mean() - np.isnan(r.numeric[:, i]).mean()))
             for i, n in enumerate(ctx.numeric_names)}
    parts.update({n: abs(float((x.codes[:, j] < 0).mean() - (r.codes[:, j] < 0).mean()))
                  for j, n in enumerate(ctx.categorical_names)})
    return Stat(float(np.mean(list(parts.values()))) if parts else 0.0, parts)


# --- dependence -----------------------------------------------------------------------------


def discretize(x: Encoded, r: Encoded, ctx: Context) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Numeric columns in reference-quantile bins, plus the narrow categorical codes.

    Missing values get a bin of their own so a change in missingness shows as dependence.
    """
    cols_x, cols_r, names = [], [], []
    for i, name in enumerate(ctx.numeric_names):
        edges = np.unique(np.nanquantile(r.numeric[:, i], np.linspace(0, 1, _BINS + 1)[1:-1]))
        for src, dst in ((x, cols_x), (r, cols_r)):
            v = src.numeric[:, i]
            binned = np.searchsorted(edges, v, side="right")
            dst.append(np.where(np.isnan(v), len(edges) + 1, binned))
        names.append(name)
    for j, name in enumerate(ctx.categorical_names):
        if ctx.narrow[j]:
            # Codes are shared by both tables and -1 (missing) is already a level of its own.
            cols_x.append(x.codes[:, j])
            cols_r.append(r.codes[:, j])
            names.append(name)
    shape = (len(x.row_hash), 0), (len(r.row_hash), 0)
    bx = np.column_stack(cols_x) if cols_x else np.empty(shape[0], int)
    br = np.column_stack(cols_r) if cols_r else np.empty(shape[1], int)
    return bx, br, names


def _mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """Plug-in mutual information (nats) of two discrete code vectors."""
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    table = np.zeros((ai.max() + 1, bi.max() + 1))
    np.add.at(table, (ai, bi), 1)
    p = table / table.sum()
    pa, pb = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
    nz = p > 0
    return float((p[nz] * np.log(p[nz] / (pa @ pb)[nz])).sum())


def _cramers_v(a: np.ndarray, b: np.ndarray) -> float:
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    table = np.zeros((ai.max() + 1, bi.max() + 1))
    np.add.at(table, (ai, bi), 1)
    k = min(table.shape) - 1
    if k == 0:
        return 0.0
    expected = table.sum(1, keepdims=True) @ table.sum(0, keepdims=True) / table.sum()
    chi2 = float(((table - expected) ** 2 / np.where(expected > 0, expected, 1)).sum())
    return float(np.sqrt(chi2 / table.sum() / k))


def _correlation_ratio(codes: np.ndarray, values: np.ndarray) -> float:
    """η: the share of a numeric column's spread explained by a categorical column."""
    ok = ~np.isnan(values) & (codes >= 0)
    codes, values = codes[ok], values[ok]
    if len(values) < 3 or values.var() == 0:
        return 0.0
    _, inv = np.unique(codes, return_inverse=True)
    sums = np.bincount(inv, weights=values)
    counts = np.bincount(inv)
    between = float((counts * (sums / counts - values.mean()) ** 2).sum())
    return float(np.sqrt(between / (values.var() * len(values))))


def _spearman_matrix(numeric: np.ndarray) -> np.ndarray:
    """Spearman correlations, missing values imputed by the median rank (pairwise-free)."""
    ranks = np.column_stack([sps.rankdata(np.nan_to_num(c, nan=np.nanmedian(c)))
                             if np.isfinite(c).any() else np.zeros(len(c))
                             for c in numeric.T])
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(ranks, rowvar=False) if ranks.shape[1] > 1 else np.ones((1, 1))
    return np.nan_to_num(np.atleast_2d(corr))


def associations(e: Encoded, ctx: Context) -> dict[tuple[str, str], float]:
    """Association of every column pair: Spearman ρ, Cramér's V, or correlation ratio η."""
    out: dict[tuple[str, str], float] = {}
    nn = ctx.numeric_names
    if len(nn) > 1:
        rho = _spearman_matrix(e.numeric)
        for i in range(len(nn)):
            for j in range(i + 1, len(nn)):
                out[(nn[i], nn[j])] = float(rho[i, j])
    cats = [j for j in range(len(ctx.categorical_names)) if ctx.narrow[j]]
    for a_pos, a in enumerate(cats):
        for b in cats[a_pos + 1:]:
            out[(ctx.categorical_names[a], ctx.categorical_names[b])] = _cramers_v(
                e.codes[:, a], e.codes[:, b])
        for i, name in enumerate(nn):
            out[(ctx.categorical_names[a], name)] = _correlation_ratio(e.codes[:, a],
                                                                       e.numeric[:, i])
    return out


def association_change(x: Encoded, r: Encoded, ctx: Context) -> Stat:
    """Mean absolute change of pairwise associations."""
    ax, ar = associations(x, ctx), associations(r, ctx)
    parts = {f"{a} ~ {b}": abs(ax[(a, b)] - ar[(a, b)]) for (a, b) in ar}
    return Stat(float(np.mean(list(parts.values()))) if parts else 0.0, parts)


def mutual_information_change(x: Encoded, r: Encoded, ctx: Context) -> Stat:
    """Mean absolute change of pairwise mutual information on binned columns."""
    bx, br, names = discretize(x, r, ctx)
    parts = {}
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            parts[f"{names[i]} ~ {names[j]}"] = abs(
                _mutual_information(bx[:, i], bx[:, j]) - _mutual_information(br[:, i], br[:, j]))
    return Stat(float(np.mean(list(parts.values()))) if parts else 0.0, parts)


def target_signal_loss(x: Encoded, r: Encoded, ctx: Context) -> Stat:
    """Mean loss of mutual information between each feature and the target (gains are free)."""
    bx, br, names = discretize(x, r, ctx)
    if ctx.target not in names:
        return Stat(0.0)
    t = names.index(ctx.target)
    parts = {names[i]: max(0.0, _mutual_information(br[:, i], br[:, t])
                           - _mutual_information(bx[:, i], bx[:, t]))
             for i in range(len(names)) if i != t}
    return Stat(float(np.mean(list(parts.values()))) if parts else 0.0, parts)


# --- tails ----------------------------------------------------------------------------------


def outer_tail_shares(x: np.ndarray, r: np.ndarray) -> tuple[float, float]:
    """Shares of ``r``'s and of ``x``'s values outside ``r``'s central 95% (its 2.5% and 97.5%
    quantiles), missing values dropped; ``(0, 0)`` when either side has no values."""
    r, x = r[~np.isnan(r)], x[~np.isnan(x)]
    if len(r) == 0 or len(x) == 0:
        return 0.0, 0.0
    lo, hi = np.quantile(r, [_TAIL_Q, 1 - _TAIL_Q])
    return float(((r < lo) | (r > hi)).mean()), float(((x < lo) | (x > hi)).mean())


def tail_mass_loss(x: Encoded, r: Encoded, ctx: Context) -> Stat:
    """Share of the reference's 5% tail mass (outside its 2.5–97.5% range) that is missing."""
    parts = {}
    for i, name in enumerate(ctx.numeric_names):
        expected, seen = outer_tail_shares(x.numeric[:, i], r.numeric[:, i])
        if expected == 0:
            continue  # a column with no tails (few distinct values) has none to lose
        parts[name] = max(0.0, expected - seen) / expected
    return Stat(float(np.mean(list(parts.values()))) if parts else 0.0, parts)


def spread_loss(x: Encoded, r: Encoded, ctx: Context) -> Stat:
    """Mean loss of spread: 1 - IQR-or-std ratio, counted only when it shrinks."""
    parts = {}
    for i, name in enumerate(ctx.numeric_names):
        rs, xs = np.nanstd(r.numeric[:, i]), np.nanstd(x.numeric[:, i])
        if np.isfinite(rs) and rs > 0 and np.isfinite(xs):
            parts[name] = max(0.0, 1.0 - xs / rs)
    return Stat(float(np.mean(list(parts.values()))) if parts else 0.0, parts)


def rare_levels(r_codes: np.ndarray, x_codes: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The rare levels (under 5% of rows) of one categorical reference column, against X.

    Returns each rare level's weight (its share of the column's rare mass), whether X holds
    it, and the probability q = (1 - p)^n that a level of share p is absent from X's n rows
    had they been drawn from the reference; None when the column has no rare level.
    """
    rc = r_codes[r_codes >= 0]
    if len(rc) == 0:
        return None
    values, counts = np.unique(rc, return_counts=True)
    share = counts / len(rc)
    rare = share < _RARE_SHARE
    if not rare.any():
        return None
    weight = share[rare] / share[rare].sum()
    return weight, np.isin(values[rare], x_codes), (1.0 - share[rare]) ** len(x_codes)


def rare_category_loss(x: Encoded, r: Encoded, ctx: Context) -> Stat:
    """Share of the reference's rare-category mass (levels under 5% of rows) absent from X.

    Weighted by mass, so a level seen once counts for one row, not for a whole category. Its
    floor is the spread sampling alone gives: each level is absent by chance with the
    probability :func:`rare_levels` gives, independently of the others.
    """
    parts, variance = {}, 0.0
    for j, name in enumerate(ctx.categorical_names):
        levels = rare_levels(r.codes[:, j], x.codes[:, j])
        if levels is None:
            continue
        weight, present, absent = levels
        parts[name] = float(weight[~present].sum())
        variance += float((weight**2 * absent * (1.0 - absent)).sum())
    if not parts:
        return Stat(0.0)
    return Stat(float(np.mean(list(parts.values()))), parts,
                floor=float(np.sqrt(variance)) / len(parts))


# --- diversity ------------------------------------------------------------------------------


def entropy(codes: np.ndarray) -> float:
    """Plug-in Shannon entropy (nats) of a vector of discrete codes."""
    _, counts = np.unique(codes, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def entropy_loss(x: Encoded, r: Encoded, ctx: Context) -> Stat:
    """Mean loss of per-column entropy (binned numerics, categories), relative to R's."""
    bx, br, names = discretize(x, r, ctx)
    parts = {}
    for i, name in enumerate(names):
        hr = entropy(br[:, i])
        if hr > 0:
            parts[name] = max(0.0, hr - entropy(bx[:, i])) / hr
    return Stat(float(np.mean(list(parts.values()))) if parts else 0.0, parts)


def duplicate_rate(x: Encoded, r: Encoded, ctx: Context) -> Stat:
    """Share of X's rows that repeat an earlier row of X (R is not used)."""
    return Stat(float(1.0 - len(np.unique(x.row_hash)) / max(len(x.row_hash), 1)))


def copy_rate(x: Encoded, r: Encoded, ctx: Context) -> Stat:
    """Share of X's rows that are exact copies of some row of R."""
    return Stat(float(np.isin(x.row_hash, r.row_hash).mean()))
