"""Labelled (reference, synthetic) pairs: healthy look-alikes and collapsed corruptions.

For each dataset and seed the table is split into two random halves (:func:`~.datasets.split`).
The first half is the *reference*. Every case builds its synthetic table from the *other* half,
so that a healthy case and a collapsed one differ by the corruption alone:

healthy (severity ``none``)
    ``holdout``     the other half as it is: a perfect generator's output.
    ``subsample``   a random 0.3x-size subset of the other half: small, but not collapsed.
    ``enlarged``    3x the reference size: a fresh split into 25 % reference, 75 % synthetic
                    (the only honest way to get 3x as many real rows; this case's reference is
                    that 25 %, not the shared half).
    ``jitter``      numeric columns plus Gaussian noise of 1 % of their std (integer columns
                    rounded back); labels and booleans untouched: what a good generator's small
                    errors look like.

collapsed (severity ``low`` and ``high``; parameters in :data:`SEVERITY_PARAMS`)
    ``recursive``            fit a Gaussian copula, sample, refit on the sample, for 5 or 20
                             generations (:class:`GaussianCopula`).
    ``tail_truncation``      drop rows outside the [q, 1-q] quantiles of any numeric column
                             (q = 0.025 or 0.10), refill to size from the survivors.
    ``variance_shrinkage``   pull numeric columns toward their median by a factor 0.85 or 0.5.
    ``mode_collapse``        drop the rarest 20 % or 50 % of levels of each categorical column
                             with 3+ levels (tables without one: 1 or 3 of 5 k-means clusters),
                             refill to size from the survivors.
    ``memorization``         20 % or 60 % of rows replaced by exact copies of reference rows.
    ``broken_correlations``  30 % or 100 % of columns each shuffled on its own.
    ``duplicates``           30 % or 70 % of rows replaced by copies of other synthetic rows.

Every synthetic table has the reference's columns, in its order, with its dtypes. Every case is
a pure function of (dataset, family, severity, seed): its random stream is derived from those four,
so asking for a subset of families or datasets gives the same tables as asking for all.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats
from threadpoolctl import threadpool_limits

from .datasets import DATASETS, column_kinds, load, split

__all__ = [
    "COLLAPSE_FAMILIES",
    "FAMILIES",
    "HEALTHY_FAMILIES",
    "SEVERITIES",
    "SEVERITY_PARAMS",
    "Case",
    "GaussianCopula",
    "cluster_labels",
    "conform",
    "generate_cases",
    "halves",
    "recursive_sample",
    "resample_to",
]

HEALTHY_FAMILIES: tuple[str, ...] = ("holdout", "subsample", "enlarged", "jitter")
COLLAPSE_FAMILIES: tuple[str, ...] = (
    "recursive",
    "tail_truncation",
    "variance_shrinkage",
    "mode_collapse",
    "memorization",
    "broken_correlations",
    "duplicates",
)
FAMILIES: tuple[str, ...] = HEALTHY_FAMILIES + COLLAPSE_FAMILIES
SEVERITIES: tuple[str, ...] = ("low", "high")

#: The knob of each collapsed family at each severity.
SEVERITY_PARAMS: dict[str, dict[str, float]] = {
    "recursive": {"low": 5, "high": 20},  # generations
    "tail_truncation": {"low": 0.025, "high": 0.10},  # q: keep [q, 1 - q] of every numeric
    "variance_shrinkage": {"low": 0.85, "high": 0.5},  # factor toward the median
    "mode_collapse": {"low": 0.2, "high": 0.5},  # share of levels dropped
    "memorization": {"low": 0.2, "high": 0.6},  # share of rows copied from the reference
    "broken_correlations": {"low": 0.3, "high": 1.0},  # share of columns shuffled
    "duplicates": {"low": 0.3, "high": 0.7},  # share of rows that repeat other rows
}

#: k-means clusters dropped by mode_collapse on tables without a categorical of 3+ levels.
CLUSTERS_DROPPED: dict[str, int] = {"low": 1, "high": 3}
N_CLUSTERS = 5

SUBSAMPLE_RATIO = 0.3
ENLARGED_REFERENCE_SHARE = 0.25
JITTER_STD_SHARE = 0.01
# mode_collapse stops dropping levels in further columns once fewer rows than this survive, so a
# table with many categorical columns is not cut down to a handful of rows at "high".
MIN_SURVIVOR_SHARE = 0.10


@dataclass(eq=False)
class Case:
    """One labelled (reference, synthetic) pair.

    Attributes
    ----------
    dataset : str
        Name in :data:`~.datasets.DATASETS`.
    family : str
        One of :data:`FAMILIES`.
    severity : str
        ``"none"`` for healthy cases, else ``"low"`` or ``"high"``.
    label : str
        ``"healthy"`` or ``"collapsed"``.
    reference : pandas.DataFrame
        The real data the synthetic table is judged against.
    synthetic : pandas.DataFrame
        Same columns and dtypes as ``reference``.
    seed : int
        The seed of the split and of the corruption.
    description : str
        One sentence saying what was done.
    details : dict
        What the corruption did, for tests and for reading results: rows replaced, columns
        shuffled, levels or clusters dropped, survivor shares, parameters.
    """

    dataset: str
    family: str
    severity: str
    label: str
    reference: pd.DataFrame
    synthetic: pd.DataFrame
    seed: int
    description: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """``dataset/family/severity/seed``: unique within one run."""
        return f"{self.dataset}/{self.family}/{self.severity}/{self.seed}"


# ---------------------------------------------------------------------------------------------
# helpers


def _rng(seed: int, *names: str) -> np.random.Generator:
    # crc32, not hash(): str hashes are salted per process, and cases must repeat across runs.
    entropy = [int(seed)] + [zlib.crc32(n.encode()) for n in names]
    return np.random.default_rng(np.random.SeedSequence(entropy))


def _round_half_up(x: float) -> int:
    # Python's round() rounds 2.5 to 2; shares of small counts need the schoolbook rule.
    return math.floor(x + 0.5)


def _numeric_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c, k in column_kinds(frame).items() if k in ("numeric", "integer")]


def halves(dataset: str, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The reference half and the other half of a dataset for a seed.

    Parameters
    ----------
    dataset : str
        Name in :data:`~.datasets.DATASETS`.
    seed : int
        Seed of the split.

    Returns
    -------
    reference, other : pandas.DataFrame
        As :func:`~.datasets.split` gives them.
    """
    return split(load(dataset), seed)


def conform(synthetic: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Give a synthetic table the reference's columns, order and dtypes.

    Integer columns are rounded to the nearest whole number before the cast, so arithmetic on
    them (shrinking, noise, interpolation) never leaves a float behind.

    Parameters
    ----------
    synthetic : pandas.DataFrame
        Must hold every reference column.
    reference : pandas.DataFrame
        The table whose schema to copy.

    Returns
    -------
    pandas.DataFrame
        A new frame with a fresh ``RangeIndex``.
    """
    missing = [c for c in reference.columns if c not in synthetic.columns]
    if missing:
        raise ValueError(f"synthetic table lacks reference columns {missing}")
    out: dict[str, pd.Series] = {}
    for name, dtype in reference.dtypes.items():
        col = synthetic[name].reset_index(drop=True)
        if pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_integer_dtype(col.dtype):
            values = col.to_numpy(dtype="float64")
            if np.isnan(values).any():
                raise ValueError(f"integer column {name!r} would hold missing values")
            col = pd.Series(np.rint(values), name=name)
        out[name] = col.astype(dtype)
    return pd.DataFrame(out)


def resample_to(frame: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Bring a table to ``n`` rows, repeating as few rows as possible.

    With at least ``n`` rows, ``n`` of them are drawn without replacement. With fewer, every row is
    kept once and the shortfall is drawn with replacement: a truncated or mode-collapsed table then
    carries only the duplicates its size forces, so it does not look like the ``duplicates`` family.

    Parameters
    ----------
    frame : pandas.DataFrame
        The rows to draw from; at least one.
    n : int
        Rows wanted.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    pandas.DataFrame
        ``n`` rows in random order with a fresh ``RangeIndex``.
    """
    m = len(frame)
    if m == 0:
        raise ValueError("nothing to resample from: no rows survived")
    if m >= n:
        take = rng.choice(m, size=n, replace=False)
    else:
        take = np.concatenate([np.arange(m), rng.choice(m, size=n - m, replace=True)])
        take = take[rng.permutation(n)]
    return frame.iloc[take].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# the generator of the recursive family


class GaussianCopula:
    """Empirical marginals joined by a Gaussian copula: the simple generator of ``recursive``.

    Fitting keeps, for each numeric or integer column, its sorted observed values and its missing
    share; for each boolean or categorical column, its frequency table (missing as one more level).
    Every column is mapped to normal scores (numbers: average ranks; labels: the middle of each
    level's interval on the cumulative frequency scale, levels in sorted order) and the
    correlation matrix of the scores joins the marginals.

    Sampling draws correlated normals, maps them to uniforms, and reads each column's marginal at
    those uniforms: numbers through the linearly interpolated empirical quantile function (so
    values stay inside the fitted sample's [min, max]), labels through the cumulative frequency
    table (so a level absent from the fitted sample is never produced). Missing values of numeric
    columns are drawn independently at the fitted share.

    Refitting on its own sample is then the collapse mechanism that Shumailov et al. (2024)
    describe: a level seen c times is drawn a Binomial number of times, and once it draws zero it
    is gone for good; the sample's extremes sit inside the previous sample's, so tails recede a
    little each generation. Nominal levels get an arbitrary order on the copula scale: the
    generator is meant to be simple and to collapse in the documented way, not to be good.
    """

    def __init__(self) -> None:
        self._columns: list[str] = []
        self._kinds: dict[str, str] = {}
        self._marginals: dict[str, dict[str, Any]] = {}
        self._factor: np.ndarray | None = None
        self._template: pd.DataFrame | None = None

    def fit(self, frame: pd.DataFrame) -> GaussianCopula:
        """Fit marginals and the copula correlation to a table.

        Parameters
        ----------
        frame : pandas.DataFrame
            At least two rows; dtypes follow :mod:`~.datasets`.

        Returns
        -------
        GaussianCopula
            ``self``.
        """
        n = len(frame)
        if n < 2:
            raise ValueError("need at least two rows to fit")
        self._columns = list(frame.columns)
        self._kinds = column_kinds(frame)
        self._template = frame.iloc[:0]
        scores = np.zeros((n, len(self._columns)))
        for j, name in enumerate(self._columns):
            col = frame[name]
            missing = col.isna().to_numpy()
            if self._kinds[name] in ("numeric", "integer"):
                values = col.to_numpy(dtype="float64")
                observed = np.sort(values[~missing])
                self._marginals[name] = {"sorted": observed, "missing": missing.mean()}
                if observed.size:
                    ranks = stats.rankdata(values[~missing])
                    scores[~missing, j] = special.ndtri(ranks / (observed.size + 1))
            else:
                counts = col[~missing].value_counts(sort=False).sort_index()
                levels = counts.index.to_numpy(dtype=object)
                freq = counts.to_numpy(dtype="float64")
                if missing.any():
                    levels = np.append(levels, None)
                    freq = np.append(freq, missing.sum())
                cum = np.cumsum(freq) / n
                self._marginals[name] = {"levels": levels, "cum": cum}
                # Row codes: position of each row's level (missing is the last level).
                codes = np.full(n, len(levels) - 1)
                codes[~missing] = np.searchsorted(counts.index.to_numpy(dtype=object),
                                                  col[~missing].to_numpy(dtype=object))
                lower = np.concatenate([[0.0], cum[:-1]])
                mid = (lower + cum) / 2
                scores[:, j] = special.ndtri(np.clip(mid[codes], 1e-9, 1 - 1e-9))
        self._factor = _correlation_factor(scores)
        return self

    def sample(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        """Draw ``n`` rows.

        Parameters
        ----------
        n : int
            Rows to draw.
        rng : numpy.random.Generator
            Source of randomness.

        Returns
        -------
        pandas.DataFrame
            Same columns and dtypes as the fitted table.
        """
        if self._factor is None or self._template is None:
            raise RuntimeError("fit before sampling")
        z = rng.standard_normal((n, len(self._columns))) @ self._factor.T
        u = special.ndtr(z)
        out: dict[str, Any] = {}
        for j, name in enumerate(self._columns):
            m = self._marginals[name]
            if "sorted" in m:
                observed = m["sorted"]
                if observed.size == 0:
                    out[name] = np.full(n, np.nan)
                    continue
                positions = u[:, j] * (observed.size - 1)
                values = np.interp(positions, np.arange(observed.size), observed)
                if m["missing"] > 0:
                    values[rng.random(n) < m["missing"]] = np.nan
                out[name] = values
            else:
                codes = np.searchsorted(m["cum"], u[:, j], side="right")
                codes = np.minimum(codes, len(m["levels"]) - 1)
                values = m["levels"][codes]
                out[name] = pd.Series(values, dtype=object).where(pd.notna(values), np.nan)
        return conform(pd.DataFrame(out), self._template)


def _correlation_factor(scores: np.ndarray) -> np.ndarray:
    """A matrix ``F`` with ``F @ F.T`` the (repaired) correlation matrix of the score columns."""
    d = scores.shape[1]
    std = scores.std(axis=0)
    live = std > 0
    corr = np.eye(d)
    if live.sum() > 1:
        corr[np.ix_(live, live)] = np.corrcoef(scores[:, live], rowvar=False)
    # Ranks of tied, discrete columns can make the matrix slightly indefinite: clip eigenvalues
    # and rescale back to a unit diagonal.
    w, v = np.linalg.eigh(corr)
    w = np.clip(w, 1e-6, None)
    corr = (v * w) @ v.T
    scale = np.sqrt(np.diag(corr))
    corr = corr / np.outer(scale, scale)
    w, v = np.linalg.eigh(corr)
    return v * np.sqrt(np.clip(w, 0.0, None))


def recursive_sample(frame: pd.DataFrame, generations: int, rng: np.random.Generator,
                     n: int | None = None) -> pd.DataFrame:
    """Fit, sample and refit on the sample, ``generations`` times.

    Each generation replaces the previous one (no real data is mixed back in: accumulation is what
    prevents collapse, Gerstgrasser et al. 2024 and RESEARCH.md).

    Parameters
    ----------
    frame : pandas.DataFrame
        Generation 0: the real data.
    generations : int
        Number of fit-and-sample rounds, at least 1.
    rng : numpy.random.Generator
        Source of randomness.
    n : int, optional
        Rows per generation; ``len(frame)`` when not given.

    Returns
    -------
    pandas.DataFrame
        The last generation's sample.
    """
    if generations < 1:
        raise ValueError("generations must be at least 1")
    n = len(frame) if n is None else n
    current = frame
    # The matrices are tiny (columns x columns): BLAS threads only add hand-off latency, which on
    # a busy 2-core machine grew a 0.3 ms correlation to 80 ms.
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(generations):
            current = GaussianCopula().fit(current).sample(n, rng)
    return current


# ---------------------------------------------------------------------------------------------
# healthy cases

# What a builder returns: the case's reference, its synthetic table, what was done (one clause)
# and the details a test or a reader needs to check it.
_Built = tuple[pd.DataFrame, pd.DataFrame, str, dict[str, Any]]


def _holdout(reference: pd.DataFrame, other: pd.DataFrame, frame: pd.DataFrame,
             rng: np.random.Generator, param: float | None) -> _Built:
    return reference, other.copy(), "the other half of the real data, untouched", {}


def _subsample(reference: pd.DataFrame, other: pd.DataFrame, frame: pd.DataFrame,
               rng: np.random.Generator, param: float | None) -> _Built:
    size = _round_half_up(SUBSAMPLE_RATIO * len(reference))
    take = np.sort(rng.choice(len(other), size=size, replace=False))
    synthetic = other.iloc[take].reset_index(drop=True)
    text = f"a random {size}-row subset of the other half ({SUBSAMPLE_RATIO}x the reference)"
    return reference, synthetic, text, {"rows": take}


def _enlarged(reference: pd.DataFrame, other: pd.DataFrame, frame: pd.DataFrame,
              rng: np.random.Generator, param: float | None) -> _Built:
    order = rng.permutation(len(frame))
    cut = _round_half_up(ENLARGED_REFERENCE_SHARE * len(frame))
    ref = frame.iloc[order[:cut]].reset_index(drop=True)
    synthetic = frame.iloc[order[cut:]].reset_index(drop=True)
    text = (f"a fresh split: {len(ref)}-row reference ({ENLARGED_REFERENCE_SHARE:.0%}), "
            f"the other {len(synthetic)} real rows as synthetic ({len(synthetic) / len(ref):.1f}x)")
    return ref, synthetic, text, {"reference_rows": order[:cut], "synthetic_rows": order[cut:]}


def _jitter(reference: pd.DataFrame, other: pd.DataFrame, frame: pd.DataFrame,
            rng: np.random.Generator, param: float | None) -> _Built:
    synthetic = other.copy()
    for name in _numeric_columns(other):
        values = other[name].to_numpy(dtype="float64")
        sd = np.nanstd(values, ddof=1)
        synthetic[name] = values + rng.normal(0.0, JITTER_STD_SHARE * sd, size=len(values))
    text = (f"the other half with Gaussian noise of {JITTER_STD_SHARE:.0%} of each numeric "
            "column's std (integers rounded back); labels untouched")
    return reference, conform(synthetic, reference), text, {}


# ---------------------------------------------------------------------------------------------
# collapsed cases


def _recursive(reference: pd.DataFrame, other: pd.DataFrame, frame: pd.DataFrame,
               rng: np.random.Generator, param: float | None) -> _Built:
    generations = int(param)
    synthetic = recursive_sample(other, generations, rng)
    lost = {}
    for name, kind in column_kinds(other).items():
        if kind in ("categorical", "boolean"):
            gone = sorted(set(other[name].dropna()) - set(synthetic[name].dropna()), key=str)
            if gone:
                lost[name] = gone
    text = (f"{generations} generations of fit-sample-refit with a Gaussian copula on empirical "
            f"marginals, starting from the other half (labels lost: "
            f"{sum(map(len, lost.values()))})")
    return reference, synthetic, text, {"generations": generations, "levels_lost": lost}


def _tail_truncation(reference: pd.DataFrame, other: pd.DataFrame, frame: pd.DataFrame,
                     rng: np.random.Generator, param: float | None) -> _Built:
    q = float(param)
    keep = np.ones(len(other), dtype=bool)
    bounds = {}
    for name in _numeric_columns(other):
        values = other[name].to_numpy(dtype="float64")
        lo, hi = np.nanquantile(values, [q, 1 - q])
        bounds[name] = (float(lo), float(hi))
        inside = (values >= lo) & (values <= hi)
        keep &= inside | np.isnan(values)
    survivors = other[keep]
    synthetic = resample_to(survivors, len(other), rng)
    share = keep.mean()
    text = (f"rows outside the [{q:g}, {1 - q:g}] quantiles of any numeric column dropped "
            f"({share:.0%} survive), refilled to {len(other)} rows from the survivors")
    return reference, synthetic, text, {"q": q, "bounds": bounds, "survivor_share": float(share)}


def _variance_shrinkage(reference: pd.DataFrame, other: pd.DataFrame, frame: pd.DataFrame,
                        rng: np.random.Generator, param: float | None) -> _Built:
    factor = float(param)
    synthetic = other.copy()
    for name in _numeric_columns(other):
        values = other[name].to_numpy(dtype="float64")
        median = np.nanmedian(values)
        synthetic[name] = median + factor * (values - median)
    text = (f"numeric columns pulled toward their median by a factor {factor:g} "
            "(integer columns rounded back)")
    return reference, conform(synthetic, reference), text, {"factor": factor}


def _mode_collapse(reference: pd.DataFrame, other: pd.DataFrame, frame: pd.DataFrame,
                   rng: np.random.Generator, param: float | None, severity: str) -> _Built:
    share = float(param)
    kinds = column_kinds(other)
    eligible = [c for c, k in kinds.items() if k == "categorical" and other[c].nunique() >= 3]
    n = len(other)
    keep = np.ones(n, dtype=bool)
    details: dict[str, Any] = {"share": share}
    if eligible:
        dropped: dict[str, list[str]] = {}
        skipped: list[str] = []
        for name in eligible:
            counts = other[name].value_counts()
            # Rarest first; ties broken by label so the choice does not depend on hash order.
            ordered = sorted(counts.items(), key=lambda kv: (kv[1], str(kv[0])))
            k = min(max(_round_half_up(share * len(ordered)), 1), len(ordered) - 1)
            gone = [level for level, _ in ordered[:k]]
            trial = keep & ~other[name].isin(gone).to_numpy()
            if dropped and trial.sum() < MIN_SURVIVOR_SHARE * n:
                skipped.append(name)
                continue
            keep = trial
            dropped[name] = gone
        details.update(dropped_levels=dropped, skipped_columns=skipped)
        what = "; ".join(f"{c}: {len(v)} of {other[c].nunique()}" for c, v in dropped.items())
        text = f"rarest categorical levels dropped ({what})"
    else:
        from sklearn.cluster import KMeans

        columns = [c for c, k in kinds.items() if k in ("numeric", "integer", "boolean")]
        x = other[columns].to_numpy(dtype="float64")
        fill = np.nanmedian(x, axis=0)
        center = fill
        scale = np.nanstd(x, axis=0)
        scale[scale == 0] = 1.0
        model = KMeans(n_clusters=N_CLUSTERS, n_init=4,
                       random_state=int(rng.integers(2**31 - 1))).fit(
            _standardize(x, fill, center, scale))
        sizes = np.bincount(model.labels_, minlength=N_CLUSTERS)
        k = CLUSTERS_DROPPED[severity]
        # Smallest first: rare modes vanish before common ones (Shumailov et al. 2024).
        gone = [int(c) for c in np.argsort(sizes, kind="stable")[:k]]
        keep = ~np.isin(model.labels_, gone)
        details.update(dropped_clusters=gone, cluster_sizes=sizes.tolist(), kmeans=model,
                       cluster_columns=columns, fill=fill, center=center, scale=scale)
        text = (f"the {k} smallest of {N_CLUSTERS} k-means clusters (standardized numerics) "
                f"dropped")
    synthetic = resample_to(other[keep], n, rng)
    details["survivor_share"] = float(keep.mean())
    text += f", {keep.mean():.0%} of rows survive, refilled to {n} rows from the survivors"
    return reference, synthetic, text, details


def _standardize(x: np.ndarray, fill: np.ndarray, center: np.ndarray, scale: np.ndarray
                 ) -> np.ndarray:
    x = np.where(np.isnan(x), fill, x)
    return (x - center) / scale


def cluster_labels(frame: pd.DataFrame, details: dict[str, Any]) -> np.ndarray:
    """Assign rows to the k-means clusters of a ``mode_collapse`` case.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows to assign (for example the case's synthetic table).
    details : dict
        The case's ``details``; must come from the k-means branch.

    Returns
    -------
    numpy.ndarray
        Cluster number of each row.
    """
    x = frame[details["cluster_columns"]].to_numpy(dtype="float64")
    return details["kmeans"].predict(
        _standardize(x, details["fill"], details["center"], details["scale"]))


def _memorization(reference: pd.DataFrame, other: pd.DataFrame, frame: pd.DataFrame,
                  rng: np.random.Generator, param: float | None) -> _Built:
    share = float(param)
    n = len(other)
    k = _round_half_up(share * n)
    rows = np.sort(rng.choice(n, size=k, replace=False))
    # Distinct reference rows where there are enough, so memorized rows are not also duplicates.
    sources = rng.choice(len(reference), size=k, replace=k > len(reference))
    combined = pd.concat([other, reference.iloc[sources]], ignore_index=True)
    take = np.arange(n)
    take[rows] = n + np.arange(k)
    synthetic = combined.iloc[take].reset_index(drop=True)
    text = f"{k} of {n} rows ({share:.0%}) replaced by exact copies of reference rows"
    return reference, conform(synthetic, reference), text, {
        "share": share, "rows": rows, "reference_rows": sources}


def _broken_correlations(reference: pd.DataFrame, other: pd.DataFrame, frame: pd.DataFrame,
                         rng: np.random.Generator, param: float | None) -> _Built:
    share = float(param)
    columns = list(other.columns)
    k = min(max(_round_half_up(share * len(columns)), 1), len(columns))
    chosen = sorted(rng.choice(len(columns), size=k, replace=False))
    permuted = [columns[i] for i in chosen]
    synthetic = other.copy()
    for name in permuted:
        synthetic[name] = other[name].to_numpy()[rng.permutation(len(other))]
    text = (f"{k} of {len(columns)} columns ({share:.0%}) each shuffled on its own: marginals "
            "kept, their relations to every other column broken")
    return reference, conform(synthetic, reference), text, {
        "share": share, "permuted_columns": permuted}


def _duplicates(reference: pd.DataFrame, other: pd.DataFrame, frame: pd.DataFrame,
                rng: np.random.Generator, param: float | None) -> _Built:
    share = float(param)
    n = len(other)
    k = _round_half_up(share * n)
    rows = np.sort(rng.choice(n, size=k, replace=False))
    kept = np.setdiff1d(np.arange(n), rows)
    sources = rng.choice(kept, size=k, replace=True)
    take = np.arange(n)
    take[rows] = sources
    synthetic = other.iloc[take].reset_index(drop=True)
    text = f"{k} of {n} rows ({share:.0%}) replaced by copies of other synthetic rows"
    return reference, synthetic, text, {"share": share, "rows": rows, "source_rows": sources}


_BUILDERS = {
    "holdout": _holdout,
    "subsample": _subsample,
    "enlarged": _enlarged,
    "jitter": _jitter,
    "recursive": _recursive,
    "tail_truncation": _tail_truncation,
    "variance_shrinkage": _variance_shrinkage,
    "memorization": _memorization,
    "broken_correlations": _broken_correlations,
    "duplicates": _duplicates,
}


def _build(dataset: str, family: str, severity: str, seed: int, frame: pd.DataFrame,
           reference: pd.DataFrame, other: pd.DataFrame) -> Case:
    rng = _rng(seed, dataset, family, severity)
    param = None if family in HEALTHY_FAMILIES else SEVERITY_PARAMS[family][severity]
    # Every table here is small: BLAS and OpenMP threads (k-means) only add hand-off latency, which
    # on a busy 2-core machine made a 50 ms k-means take 1.5 s.
    with threadpool_limits(limits=1):
        if family == "mode_collapse":
            ref, synthetic, text, details = _mode_collapse(reference, other, frame, rng, param,
                                                           severity)
        else:
            ref, synthetic, text, details = _BUILDERS[family](reference, other, frame, rng,
                                                              param)
    synthetic = conform(synthetic, ref)
    label = "healthy" if family in HEALTHY_FAMILIES else "collapsed"
    if param is not None:
        details.setdefault("param", param)
    prefix = f"{family}" if severity == "none" else f"{family} ({severity})"
    return Case(dataset=dataset, family=family, severity=severity, label=label, reference=ref,
                synthetic=synthetic, seed=int(seed), description=f"{prefix}: {text}",
                details=details)


def generate_cases(
    dataset_names: Iterable[str],
    seeds: Iterable[int] = (0,),
    families: Iterable[str] | None = None,
    severities: Iterable[str] = SEVERITIES,
) -> Iterator[Case]:
    """Yield labelled cases, one dataset and seed at a time.

    Per dataset and seed: the four healthy families once (severity ``"none"``) and each collapsed
    family once per severity, 18 cases with the defaults.

    Parameters
    ----------
    dataset_names : iterable of str
        Names in :data:`~.datasets.DATASETS`.
    seeds : iterable of int
        Each seed gives its own split and its own corruptions.
    families : iterable of str, optional
        A subset of :data:`FAMILIES`; all when not given.
    severities : iterable of str
        Severities of the collapsed families: a subset of :data:`SEVERITIES`.

    Yields
    ------
    Case
        In the order dataset, seed, family (as in :data:`FAMILIES`), severity.
    """
    names = list(dataset_names)
    seeds = list(seeds)
    chosen = list(FAMILIES) if families is None else list(families)
    levels = list(severities)
    for bad, known, what in ((names, DATASETS, "dataset"), (chosen, FAMILIES, "family"),
                             (levels, SEVERITIES, "severity")):
        unknown = [x for x in bad if x not in known]
        if unknown:
            raise ValueError(f"unknown {what} {unknown} (known: {', '.join(known)})")
    ordered = [f for f in FAMILIES if f in chosen]
    for dataset in names:
        frame = load(dataset)
        for seed in seeds:
            reference, other = split(frame, seed)
            for family in ordered:
                for severity in (["none"] if family in HEALTHY_FAMILIES else levels):
                    yield _build(dataset, family, severity, seed, frame, reference, other)
