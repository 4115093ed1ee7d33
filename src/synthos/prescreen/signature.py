"""Dataset signatures: a fixed-length vector summarizing a synthetic table against its reference.

A signature is what the pre-screen looks up in a :class:`~synthos.prescreen.SignatureLibrary`:
table-level aggregates of the collapse statistics (:mod:`synthos.collapse.statistics` and
:mod:`synthos.collapse.geometry`), computed in seconds on the samples, with no model trained.
Its length never depends on the columns, so signatures of any two tables can be compared.

Every feature is scale-free, and built so that a synthetic table drawn from the reference's
own distribution scores its *null value* (:data:`NULL_VALUES`) whatever the tables' sizes: the
library mixes tables of 300 to 20,000 rows, and a feature whose healthy value moved with the
row count would tell sizes apart instead of collapse. Three devices do this:

- a closed-form noise scale where one exists (KS, TVD, standard deviations, missing shares):
  the statistic is divided by its typical value between two samples of the same distribution
  at the same sizes;
- a real-vs-real comparison at equal sizes where the statistic has a size-dependent bias and
  no closed form (associations, effective rank, k-NN coverage and precision, duplicates): the
  reference is cut in halves A and B, and the synthetic sample (as many rows as B) is compared
  with A exactly as B is (:func:`synthos.collapse.prepare.splits`);
- an expectation under sampling for counts of things that can be absent by chance (rare
  categories, exact copies).

The smallest or largest value over columns (``*_min``, ``*_max``) sits a little beyond its
null value under the null, by more for tables with more columns: the extreme of many noisy
values. The ratio of the two tables' sizes is deliberately not a feature: generators of the
seed cases make every collapsed table as large as its reference and only healthy ones of other
sizes, so a library would learn sizes rather than collapse (``benchmarks/prescreen.py``
measures that ablation).

Features (in :data:`FEATURES` order; "columns" are the columns :func:`~synthos.collapse.prepare.
prepare` compares: numeric, integer and datetime ones as numbers, categorical and boolean ones
as labels; identifiers and free text are left out):

========================== =================================================================
ks_mean, ks_max            ``log((1 + K) / (1 + 0.8687))`` of the mean and the largest
                           noise-scaled KS statistic ``K = D * sqrt(n m / (n + m))`` over
                           numeric columns; ``K`` follows Kolmogorov's law, mean 0.8687, when
                           both samples share a distribution, whatever ``n`` and ``m``.
tvd_mean, tvd_max          ``log((1 + T) / 2)`` of the mean and largest TVD over categorical
                           columns divided by its expected value between two samples of the
                           reference's shares at these sizes (``T`` is about 1 under the null).
std_ratio_min, _mean       ``sign(z) * log(1 + |z|)`` of the smallest and the mean z-score of
                           ``log(std_synthetic / std_reference)`` per numeric column; the
                           noise scale is the delta method's ``sqrt((kurtosis - 1) / 4 *
                           (1/n + 1/m))``.
tail_mass_kept             share of the reference's outer tail mass (values outside its 2.5 %
                           and 97.5 % quantiles, pooled over numeric columns) that the
                           synthetic table holds; 1 when nothing is lost (capped at 3).
rare_mass_kept             share of the mass of rare reference categories (under 5 % of rows)
                           present in the synthetic table, minus its expectation when the
                           synthetic rows were drawn from the reference (a level of share p is
                           present in n rows with probability ``1 - (1 - p)^n``).
entropy_ratio_min, _mean   smallest and mean ``log(H_synthetic / H_reference)`` over columns
                           (numerics in 10 reference-quantile bins), both entropies with the
                           Miller-Madow correction of the plug-in estimator's bias at n rows.
duplicate_excess           share of rows repeating another row in a synthetic subsample minus
                           the same share in a reference subsample of equal size.
copy_excess                share of synthetic rows that are exact copies of a reference row
                           minus the reference's own self-overlap (the share of its rows that
                           equal another of its rows: what a fresh real row matches by chance).
association_change_mean,   ``log`` of the mean (largest) change of pairwise associations
association_change_max     (Spearman, Cramér's V, correlation ratio) of the synthetic sample
                           against half A, over the same for half B against A.
effective_rank_ratio       ``log`` of the effective rank of the numeric correlation spectrum
                           of the synthetic sample over that of half B, at equal sizes.
coverage_change,           k-NN coverage and precision (Naeem et al. 2020) of the synthetic
precision_change           sample against half A, minus those of half B, at equal sizes.
missing_change             ``log((1 + M) / 2)``, ``M`` the summed change of the per-column
                           missing shares over its expected value under sampling.
========================== =================================================================

Sizes: statistics linear in rows use at most :data:`MARGINAL_ROWS` rows a side (exact
copies and duplicates use every row: hashing is cheap); the pairwise and nearest-neighbour
ones use halvings of at most :data:`PAIRWISE_ROWS` rows, :data:`HALVINGS` times, and the
associations at most :data:`PAIRWISE_NUMERIC` numeric and :data:`PAIRWISE_CATEGORICAL`
categorical columns. Subsamples are drawn from ``seed``: the same inputs and seed give the
same signature.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from synthos.collapse import geometry, statistics
from synthos.collapse.detector import one_thread
from synthos.collapse.prepare import Encoded, Prepared, prepare, splits
from synthos.collapse.statistics import Context
from synthos.errors import SynthosInputError

#: Version of the feature definitions; a library built with another version is not comparable.
SIGNATURE_VERSION = 1

#: The features, in vector order.
FEATURES: tuple[str, ...] = (
    "ks_mean", "ks_max", "tvd_mean", "tvd_max",
    "std_ratio_min", "std_ratio_mean",
    "tail_mass_kept", "rare_mass_kept",
    "entropy_ratio_min", "entropy_ratio_mean",
    "duplicate_excess", "copy_excess",
    "association_change_mean", "association_change_max",
    "effective_rank_ratio",
    "coverage_change", "precision_change",
    "missing_change",
)

#: What each feature is, in expectation, for a synthetic table drawn from the reference's own
#: distribution; also the value a feature takes when the tables have nothing it applies to
#: (``tvd_*`` without categorical columns, say), so that absence does not read as collapse.
NULL_VALUES: dict[str, float] = {**dict.fromkeys(FEATURES, 0.0), "tail_mass_kept": 1.0}

#: Rows a side for the statistics linear in rows (marginals, tails, entropy, missing shares).
MARGINAL_ROWS = 20_000
#: Rows of each half for the pairwise and nearest-neighbour statistics.
PAIRWISE_ROWS = 2_000
#: Real-vs-real halvings averaged for the pairwise and nearest-neighbour statistics.
HALVINGS = 4
#: Columns entering the pairwise associations at most (a seeded subset of wider tables):
#: numeric ones, and categorical ones with at most ``prepare.MAX_LEVELS`` levels. Pairs grow
#: with the product, and a mean or a maximum over a few hundred pairs is already stable.
PAIRWISE_NUMERIC = 40
PAIRWISE_CATEGORICAL = 10
#: The smallest tables a signature is computed for.
MIN_REFERENCE_ROWS = 10
MIN_SYNTHETIC_ROWS = 5

# Mean of Kolmogorov's distribution: E[sqrt(nm/(n+m)) D] under the null, for large n and m.
_KS_NULL_MEAN = math.sqrt(math.pi / 2.0) * math.log(2.0)
_TAIL_CAP = 3.0
# Kurtosis bounds for the std noise scale: a binary-like column has kurtosis near 1, where
# the delta method's scale vanishes; a column with a few huge outliers can have thousands.
_KURTOSIS_RANGE = (1.5, 100.0)
_EPS = 1e-3


@dataclass(frozen=True)
class Signature:
    """One synthetic table's signature against its reference.

    Attributes
    ----------
    vector : ndarray of shape (len(FEATURES),), float32
        The feature values, in :data:`FEATURES` order.
    names : tuple of str
        The feature names (:data:`FEATURES`).
    seconds : float
        Wall-clock seconds it took to compute.
    rows : tuple of int
        Rows of the synthetic and the reference table as given.
    """

    vector: np.ndarray
    names: tuple[str, ...]
    seconds: float
    rows: tuple[int, int]

    def as_dict(self) -> dict[str, float]:
        """Feature name -> value."""
        return {n: float(v) for n, v in zip(self.names, self.vector, strict=True)}


def signature_spec() -> dict[str, object]:
    """The JSON-ready description of the signature, stored with a library at creation.

    Returns
    -------
    dict
        ``name``, ``version`` and the ordered ``features``.
    """
    return {"name": "synthos-signature", "version": SIGNATURE_VERSION,
            "features": list(FEATURES)}


def kinds_of(frame: pd.DataFrame) -> dict[str, str]:
    """Column kinds as the pipeline's alignment infers them (:func:`synthos.io.schema.
    infer_schema`), for callers that have a reference table but no alignment.

    Parameters
    ----------
    frame : pandas.DataFrame
        The reference table.

    Returns
    -------
    dict of str to str
        Column -> kind (``numeric``, ``integer``, ``boolean``, ``categorical``, ``datetime``,
        ``text`` or ``id``).
    """
    from synthos.io.schema import infer_schema

    table = pa.Table.from_pandas(frame, preserve_index=False)
    return {c.name: c.kind for c in infer_schema(table)}


def signature(synthetic: pd.DataFrame, reference: pd.DataFrame, kinds: Mapping[str, str], *,
              seed: int = 0) -> Signature:
    """Compute the signature of ``synthetic`` against ``reference``.

    Parameters
    ----------
    synthetic, reference : pandas.DataFrame
        The two tables (their samples, for large data); columns are matched by name.
    kinds : mapping of str to str
        Column -> kind as the reference gives it (the alignment's kinds, or
        :func:`kinds_of`); columns absent from either table are ignored.
    seed : int, default=0
        Seed of the subsamples and halvings.

    Returns
    -------
    Signature

    Raises
    ------
    SynthosInputError
        The reference has fewer than :data:`MIN_REFERENCE_ROWS` rows or the synthetic table
        fewer than :data:`MIN_SYNTHETIC_ROWS`.
    """
    started = time.perf_counter()
    if len(reference) < MIN_REFERENCE_ROWS:
        raise SynthosInputError("reference", f"{len(reference)} rows; a signature needs at"
                                f" least {MIN_REFERENCE_ROWS}")
    if len(synthetic) < MIN_SYNTHETIC_ROWS:
        raise SynthosInputError("synthetic", f"{len(synthetic)} rows; a signature needs at"
                                f" least {MIN_SYNTHETIC_ROWS}")
    with warnings.catch_warnings(), one_thread():
        # All-missing columns in a subsample make numpy warn on empty slices; every
        # statistic below treats them (NaN-aware reductions, skipped columns).
        warnings.simplefilter("ignore", RuntimeWarning)
        values = _features(synthetic, reference, dict(kinds), seed)
    # A feature with nothing to measure (no categorical column for tvd_*, say) takes its
    # null value: absence must not read as collapse.
    vector = np.array([values.get(name, math.nan) for name in FEATURES], dtype=np.float64)
    vector = np.where(np.isfinite(vector), vector,
                      np.array([NULL_VALUES[n] for n in FEATURES])).astype(np.float32)
    return Signature(vector, FEATURES, time.perf_counter() - started,
                     (len(synthetic), len(reference)))


def _features(synthetic: pd.DataFrame, reference: pd.DataFrame, kinds: dict[str, str],
              seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    prep = prepare(synthetic, reference, kinds)
    ctx = Context(prep.numeric_names, prep.categorical_names, prep.narrow)
    syn, ref = prep.synthetic, prep.reference
    out: dict[str, float] = {}
    out.update(_rows(syn.row_hash, ref.row_hash, rng))
    # Linear statistics on capped subsamples: the noise scales below use the capped sizes.
    s = syn.take(_subsample(syn.n, MARGINAL_ROWS, rng))
    r = ref.take(_subsample(ref.n, MARGINAL_ROWS, rng))
    out.update(_marginals(s, r))
    out.update(_spreads(s, r))
    out["tail_mass_kept"] = _tail_mass_kept(s, r)
    out["rare_mass_kept"] = _rare_mass_kept(s, r)
    out.update(_entropies(s, r, ctx))
    out["missing_change"] = _missing_change(s, r)
    out.update(_halved(prep, ctx, seed, rng))
    return out


def _subsample(n: int, cap: int, rng: np.random.Generator) -> np.ndarray:
    if n <= cap:
        return np.arange(n)
    return np.sort(rng.choice(n, cap, replace=False))


# ---------------------------------------------------------------------- rows


def _duplicate_share(hashes: np.ndarray) -> float:
    return 1.0 - len(np.unique(hashes)) / max(len(hashes), 1)


def _rows(syn_hash: np.ndarray, ref_hash: np.ndarray, rng: np.random.Generator
          ) -> dict[str, float]:
    """``duplicate_excess`` and ``copy_excess`` from the row hashes of every row."""
    # Repeats grow with the number of rows drawn (the birthday problem): compare equal sizes.
    m = min(len(syn_hash), len(ref_hash))
    dup = (_duplicate_share(syn_hash[_subsample(len(syn_hash), m, rng)])
           - _duplicate_share(ref_hash[_subsample(len(ref_hash), m, rng)]))
    copies = float(np.isin(syn_hash, ref_hash).mean())
    # A fresh real row equals some reference row about as often as a reference row equals
    # another one of them (leave-one-out): panels and coarse tables repeat rows naturally.
    _, inverse, counts = np.unique(ref_hash, return_inverse=True, return_counts=True)
    self_overlap = float((counts[inverse] > 1).mean())
    return {"duplicate_excess": dup, "copy_excess": copies - self_overlap}


# ---------------------------------------------------------------------- marginals


def _noise_scaled_ks(x: np.ndarray, r: np.ndarray) -> float | None:
    x, r = x[~np.isnan(x)], r[~np.isnan(r)]
    if len(x) == 0 or len(r) == 0:
        return None
    return statistics.ks(x, r) * math.sqrt(len(x) * len(r) / (len(x) + len(r)))


def _tvd_ratio(x: np.ndarray, r: np.ndarray) -> float | None:
    x, r = x[x >= 0], r[r >= 0]
    if len(x) == 0 or len(r) == 0:
        return None
    size = int(max(x.max(), r.max())) + 1
    p = np.bincount(r, minlength=size) / len(r)
    # E|p_hat - q_hat| = sqrt(2/pi) * sd for each level (normal approximation), halved.
    expected = 0.5 * math.sqrt(2.0 / math.pi) * math.sqrt(1.0 / len(x) + 1.0 / len(r)) \
        * float(np.sqrt(p * (1.0 - p)).sum())
    # A reference with a single level has no sampling noise; one row's worth is the unit.
    return statistics.tvd(x, r) / max(expected, 1.0 / len(r))


def _marginals(s: Encoded, r: Encoded) -> dict[str, float]:
    ks = [k for i in range(s.numeric.shape[1])
          if (k := _noise_scaled_ks(s.numeric[:, i], r.numeric[:, i])) is not None]
    tv = [t for j in range(s.codes.shape[1])
          if (t := _tvd_ratio(s.codes[:, j], r.codes[:, j])) is not None]
    out = {}
    if ks:
        out["ks_mean"] = math.log((1.0 + float(np.mean(ks))) / (1.0 + _KS_NULL_MEAN))
        out["ks_max"] = math.log((1.0 + max(ks)) / (1.0 + _KS_NULL_MEAN))
    if tv:
        out["tvd_mean"] = math.log((1.0 + float(np.mean(tv))) / 2.0)
        out["tvd_max"] = math.log((1.0 + max(tv)) / 2.0)
    return out


def _signed_log(z: float) -> float:
    return math.copysign(math.log1p(abs(z)), z)


def _spreads(s: Encoded, r: Encoded) -> dict[str, float]:
    zs = []
    for i in range(s.numeric.shape[1]):
        xv, rv = s.numeric[:, i], r.numeric[:, i]
        xv, rv = xv[~np.isnan(xv)], rv[~np.isnan(rv)]
        if len(xv) < 2 or len(rv) < 2:
            continue
        sd_r, sd_x = float(rv.std()), float(xv.std())
        if not sd_r > 0:
            continue
        # A synthetic column collapsed to one value: as small as a ratio gets at these sizes.
        ratio = max(sd_x / sd_r, 1.0 / len(xv))
        centred = (rv - rv.mean()) / sd_r
        kurtosis = float(np.clip(np.mean(centred**4), *_KURTOSIS_RANGE))
        scale = math.sqrt((kurtosis - 1.0) / 4.0 * (1.0 / len(xv) + 1.0 / len(rv)))
        zs.append(math.log(ratio) / scale)
    if not zs:
        return {}
    return {"std_ratio_min": _signed_log(min(zs)),
            "std_ratio_mean": _signed_log(float(np.mean(zs)))}


def _tail_mass_kept(s: Encoded, r: Encoded) -> float:
    expected = seen = 0.0
    for i in range(s.numeric.shape[1]):
        # Pooled over columns, so a column with more tail mass weighs more and a column
        # with none (few distinct values) adds nothing.
        column_expected, column_seen = statistics.outer_tail_shares(s.numeric[:, i],
                                                                    r.numeric[:, i])
        expected += column_expected
        seen += column_seen
    if expected == 0:
        return float("nan")
    return min(seen / expected, _TAIL_CAP)


def _rare_mass_kept(s: Encoded, r: Encoded) -> float:
    kept = expected = 0.0
    columns = 0
    for j in range(s.codes.shape[1]):
        levels = statistics.rare_levels(r.codes[:, j], s.codes[:, j])
        if levels is None:
            continue
        weight, present, absent = levels
        kept += float(weight[present].sum())
        expected += float((weight * (1.0 - absent)).sum())
        columns += 1
    if not columns:
        return float("nan")
    return (kept - expected) / columns


def _miller_madow(codes: np.ndarray) -> float:
    _, counts = np.unique(codes, return_counts=True)
    return statistics.entropy(codes) + (len(counts) - 1) / (2.0 * len(codes))


def _entropies(s: Encoded, r: Encoded, ctx: Context) -> dict[str, float]:
    bx, br, _ = statistics.discretize(s, r, ctx)
    ratios = []
    for i in range(br.shape[1]):
        hr = _miller_madow(br[:, i])
        if hr > 0:
            ratios.append(math.log(max(_miller_madow(bx[:, i]) / hr, _EPS)))
    if not ratios:
        return {}
    return {"entropy_ratio_min": min(ratios), "entropy_ratio_mean": float(np.mean(ratios))}


def _missing_change(s: Encoded, r: Encoded) -> float:
    change = expected = 0.0
    missing = [(np.isnan(s.numeric[:, i]), np.isnan(r.numeric[:, i]))
               for i in range(s.numeric.shape[1])]
    missing += [(s.codes[:, j] < 0, r.codes[:, j] < 0) for j in range(s.codes.shape[1])]
    for xm, rm in missing:
        pooled = (xm.sum() + rm.sum()) / (len(xm) + len(rm))
        change += abs(float(xm.mean() - rm.mean()))
        expected += math.sqrt(2.0 / math.pi * pooled * (1.0 - pooled)
                              * (1.0 / len(xm) + 1.0 / len(rm)))
    if expected == 0:
        return float("nan")
    return math.log((1.0 + change / expected) / 2.0)


# ---------------------------------------------------------------------- halvings


def _pairwise_columns(ctx: Context, rng: np.random.Generator
                      ) -> tuple[Context, np.ndarray, np.ndarray]:
    numeric = np.arange(len(ctx.numeric_names))
    narrow = np.flatnonzero(ctx.narrow)
    if len(numeric) > PAIRWISE_NUMERIC:
        numeric = np.sort(rng.choice(numeric, PAIRWISE_NUMERIC, replace=False))
    if len(narrow) > PAIRWISE_CATEGORICAL:
        narrow = np.sort(rng.choice(narrow, PAIRWISE_CATEGORICAL, replace=False))
    sub = Context([ctx.numeric_names[i] for i in numeric],
                  [ctx.categorical_names[j] for j in narrow], np.ones(len(narrow), bool))
    return sub, numeric, narrow


def _halved(prep: Prepared, ctx: Context, seed: int, rng: np.random.Generator
            ) -> dict[str, float]:
    """The statistics compared at equal sizes: synthetic vs half A against half B vs A."""
    syn, ref = prep.synthetic, prep.reference
    pair_ctx, numeric, narrow = _pairwise_columns(ctx, rng)

    def pairwise(e: Encoded) -> dict[tuple[str, str], float]:
        return statistics.associations(
            Encoded(e.numeric[:, numeric], e.codes[:, narrow], e.row_hash), pair_ctx)

    obs_mean, null_mean, obs_max, null_max = [], [], [], []
    rank, coverage, precision = [], [], []
    for sp in splits(syn.n, ref.n, HALVINGS, seed, PAIRWISE_ROWS):
        s, a, b = syn.take(sp.s), ref.take(sp.a), ref.take(sp.b)
        assoc_a = pairwise(a)
        if assoc_a:
            keys = list(assoc_a)
            base = np.array([assoc_a[k] for k in keys])
            for side, means, maxes in ((s, obs_mean, obs_max), (b, null_mean, null_max)):
                other = pairwise(side)
                change = np.abs(np.array([other[k] for k in keys]) - base)
                means.append(float(change.mean()))
                maxes.append(float(change.max()))
        if len(ctx.numeric_names) > 1:
            rank.append(math.log(geometry.effective_rank(geometry.spectrum(s.numeric))
                                 / geometry.effective_rank(geometry.spectrum(b.numeric))))
        embed = geometry.Embedding(a, ctx)
        ea = embed(a)
        cov_s, prec_s = geometry.coverage_and_precision(embed(s), ea)
        cov_b, prec_b = geometry.coverage_and_precision(embed(b), ea)
        coverage.append(cov_s - cov_b)
        precision.append(prec_s - prec_b)
    out = {"coverage_change": float(np.mean(coverage)),
           "precision_change": float(np.mean(precision))}
    if obs_mean:
        out["association_change_mean"] = math.log((np.mean(obs_mean) + _EPS)
                                                  / (np.mean(null_mean) + _EPS))
        out["association_change_max"] = math.log((np.mean(obs_max) + _EPS)
                                                 / (np.mean(null_max) + _EPS))
    if rank:
        out["effective_rank_ratio"] = float(np.mean(rank))
    return out
