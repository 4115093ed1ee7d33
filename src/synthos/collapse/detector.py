"""The 8 collapse dimensions: statistics, their real-vs-real nulls, scores and thresholds.

Scoring
-------
For each statistic, ``count`` random halvings of the reference give paired values: observed
(synthetic subsample vs half A) and null (half B vs half A), at equal sizes. With the null mean
``m0`` and spread ``s0`` (floored, and widened by the uncertainty of ``m0``), the excess is
``z = (mean(observed) - m0) / s0`` and the statistic's score is

    score = 100 * exp(-max(0, z - Z_FREE) / Z_SCALE)

so anything within ``Z_FREE`` null spreads of real data scores 100, and every further
``Z_SCALE`` spreads multiplies the score by 1/e. A dimension scores the minimum over its
statistics; it fails below its threshold.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

import faiss
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from synthos.collapse import geometry, statistics
from synthos.collapse.prepare import Encoded, Prepared, prepare, splits
from synthos.collapse.statistics import Context, Stat
from synthos.collapse.thresholds import load_thresholds

Z_FREE = 2.0
Z_SCALE = 6.0
#: Score below which a dimension fails, until calibration says otherwise (thresholds.py).
DEFAULT_THRESHOLD = 50.0
#: A verdict is ``warn`` when no dimension fails but one is within this many points.
WARN_MARGIN = 5.0

_CHEAP_ROWS = 25_000   # per side, for statistics linear in rows
_COSTLY_ROWS = 3_000   # per side, for pairwise and nearest-neighbour statistics
_C2ST_ROWS = 5_000
_CHEAP_SPLITS_FACTOR = 2

DIMENSIONS: dict[str, tuple[str, ...]] = {
    "distribution_fidelity": ("marginal_distance", "missingness"),
    "correlation_preservation": ("association_change",),
    "mutual_information": ("mutual_information_change", "target_signal_loss"),
    "tail_preservation": ("tail_mass_loss", "spread_loss", "rare_category_loss"),
    "diversity_entropy": ("entropy_loss", "duplicate_rate", "vendi_loss"),
    "coverage": ("coverage_loss", "precision_loss", "classifier_auc"),
    "structural_spectrum": ("effective_rank_loss", "spectrum_distance"),
    "novelty": ("copy_rate", "closeness"),
}

TableStat = Callable[[Encoded, Encoded, Context], Stat]
_TABLE_STATS: dict[str, tuple[TableStat, bool]] = {  # name -> (function, costly)
    "marginal_distance": (statistics.marginal_distance, False),
    "missingness": (statistics.missingness, False),
    "association_change": (statistics.association_change, True),
    "mutual_information_change": (statistics.mutual_information_change, True),
    "target_signal_loss": (statistics.target_signal_loss, True),
    "tail_mass_loss": (statistics.tail_mass_loss, False),
    "spread_loss": (statistics.spread_loss, False),
    "rare_category_loss": (statistics.rare_category_loss, False),
    "entropy_loss": (statistics.entropy_loss, False),
    "duplicate_rate": (statistics.duplicate_rate, False),
    "copy_rate": (statistics.copy_rate, False),
    "effective_rank_loss": (geometry.effective_rank_loss, True),
    "spectrum_distance": (geometry.spectrum_distance, True),
}

# Statistics that are shares of rows: their null spread is floored at about one row.
_RATES = {"duplicate_rate", "copy_rate", "coverage_loss", "precision_loss",
          "rare_category_loss", "missingness"}

STAT_HELP = {
    "marginal_distance": "mean KS (numeric) / TVD (categorical) distance per column",
    "missingness": "mean change in the share of missing values per column",
    "association_change": "mean change of pairwise Spearman / Cramér's V / correlation ratio",
    "mutual_information_change": "mean change of pairwise mutual information (binned)",
    "target_signal_loss": "mean loss of mutual information with the target",
    "tail_mass_loss": "share of the reference's outer 5% tail mass that is missing",
    "spread_loss": "mean shrinkage of standard deviations",
    "rare_category_loss": "share of the mass of rare reference categories (<5% of rows) absent",
    "entropy_loss": "mean relative loss of per-column entropy",
    "duplicate_rate": "share of rows repeating another row",
    "vendi_loss": "relative loss of Vendi score (effective number of distinct rows)",
    "coverage_loss": "share of reference k-NN balls with no synthetic row (1 - coverage)",
    "precision_loss": "share of synthetic rows outside every reference k-NN ball",
    "classifier_auc": "out-of-fold AUC of boosted trees telling synthetic from real rows",
    "effective_rank_loss": "relative loss of effective rank of the numeric correlations",
    "spectrum_distance": "L1 distance between normalized correlation spectra",
    "copy_rate": "share of rows that are exact copies of reference rows",
    "closeness": "1 - median distance to the closest reference row / real-to-real median",
}


@dataclass
class StatResult:
    """One statistic: observed against its null, and what that scores."""

    name: str
    observed: float
    null_mean: float
    null_sd: float
    z: float
    score: float
    worst: list[dict] = field(default_factory=list)  # parts costing the most, worst first


@dataclass
class DimensionResult:
    """One dimension, as ``summary.json`` carries it (``details`` hold the statistics)."""

    name: str
    score: float
    threshold: float
    passed: bool
    details: dict

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class CollapseResult:
    dimensions: list[DimensionResult]
    collapse_detected: bool
    verdict: str
    column_shapes: float | None
    seconds: float
    thresholds_source: str = ""
    synthetic_rows: np.ndarray | None = None  # rows scored by the classifier (positions)
    synthetic_proba: np.ndarray | None = None  # their out-of-fold p(synthetic)

    def to_dict(self) -> dict:
        return {"collapse_detected": self.collapse_detected, "verdict": self.verdict,
                "dimensions": [d.to_dict() for d in self.dimensions],
                "column_shapes": self.column_shapes, "seconds": round(self.seconds, 3),
                "thresholds_source": self.thresholds_source}


def score_from_z(z: float) -> float:
    return float(100.0 * math.exp(-max(0.0, z - Z_FREE) / Z_SCALE))


def _summarize(observed: list[float], null: list[float], floor: float
               ) -> tuple[float, float, float, float]:
    m0 = float(np.mean(null))
    sd = float(np.std(null, ddof=1)) if len(null) > 1 else 0.0
    # The null mean itself is an estimate from len(null) values: widen by its error.
    s0 = max(sd, floor) * math.sqrt(1.0 + 1.0 / max(len(null), 1))
    obs = float(np.mean(observed))
    return obs, m0, s0, (obs - m0) / s0


def _worst_parts(obs_parts: list[dict[str, float]], null_parts: list[dict[str, float]],
                 floor: float, limit: int = 5) -> list[dict]:
    rows = []
    for key in obs_parts[0]:
        o = [p[key] for p in obs_parts if key in p]
        n = [p[key] for p in null_parts if key in p]
        if not o or not n:
            continue
        obs, m0, _, z = _summarize(o, n, floor)
        rows.append({"part": key, "observed": round(obs, 4), "null_mean": round(m0, 4),
                     "z": round(z, 2), "score": round(score_from_z(z), 1)})
    rows.sort(key=lambda r: -r["z"])
    return [r for r in rows if r["z"] > Z_FREE][:limit]


def detect_collapse(synthetic: pd.DataFrame, reference: pd.DataFrame, kinds: dict[str, str],
                    *, target: str | None = None, thresholds: dict[str, float] | None = None,
                    splits_count: int = 5, seed: int = 0) -> CollapseResult:
    """Score the 8 collapse dimensions of ``synthetic`` against ``reference``.

    Parameters
    ----------
    synthetic, reference : pandas.DataFrame
        The two tables (normalized samples of the load stage are what the pipeline passes).
        A ``__synthos_row__`` column, when present, names each synthetic row's position.
    kinds : dict
        Column -> kind as the reference gives it (the alignment's ``kinds``).
    target : str, optional
        Target column: adds the loss of feature-target dependence to mutual_information.
    thresholds : dict, optional
        Dimension -> score below which it fails; the calibrated thresholds (or
        :data:`DEFAULT_THRESHOLD`) for the others.
    splits_count : int, default 5
        Real-vs-real halvings of the reference behind each null of the costly (pairwise,
        nearest-neighbour) statistics; the cheap ones get twice as many.
    seed : int, default 0
        Seed of the splits, subsamples and classifier: same inputs, same scores.
    """
    with warnings.catch_warnings(), one_thread():
        # Columns that are all missing in a subsample make numpy warn on empty slices; the
        # statistics already treat them (NaN-aware reductions, zero parts).
        warnings.simplefilter("ignore", RuntimeWarning)
        return _detect(synthetic, reference, kinds, target, thresholds, splits_count, seed)


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run the statistics on one thread (OpenMP, BLAS and faiss alike).

    They work on capped samples, where threads buy little; on a busy 2-core machine the
    boosted trees' and BLAS's spinning threads cost 4 to 20 times the CPU of one thread
    (benchmarks/collapse_speed.py, default threads against --threads 1).
    """
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        faiss.omp_set_num_threads(previous)


def _detect(synthetic: pd.DataFrame, reference: pd.DataFrame, kinds: dict[str, str],
            target: str | None, thresholds: dict[str, float] | None, splits_count: int,
            seed: int) -> CollapseResult:
    started = time.perf_counter()
    calibrated, provenance = load_thresholds()
    thresholds = {**dict.fromkeys(DIMENSIONS, DEFAULT_THRESHOLD), **calibrated,
                  **(thresholds or {})}
    prep = prepare(synthetic, reference, kinds)
    ctx = Context(prep.numeric_names, prep.categorical_names, prep.narrow,
                  target if target in prep.compared_names else None)
    results = _split_statistics(prep, ctx, splits_count, seed)
    auc_result, rows, proba = _classifier(prep, ctx, synthetic, seed)
    results["classifier_auc"] = auc_result
    dims = []
    for dim, names in DIMENSIONS.items():
        stats = [results[n] for n in names if n in results]
        score = min((s.score for s in stats), default=100.0)
        details = {"statistics": [asdict(s) for s in stats],
                   "help": {n: STAT_HELP[n] for n in names},
                   "excluded_columns": prep.excluded}
        dims.append(DimensionResult(dim, round(score, 2), thresholds[dim],
                                    score >= thresholds[dim], details))
    shapes = column_shapes(prep)
    dims[0].details["column_shapes"] = shapes
    failed = [d for d in dims if not d.passed]
    near = [d for d in dims if d.passed and d.score < d.threshold + WARN_MARGIN]
    verdict = "collapse" if failed else ("warn" if near else "pass")
    return CollapseResult(dims, bool(failed), verdict, shapes["score"],
                          time.perf_counter() - started, provenance, rows, proba)


def _split_statistics(prep: Prepared, ctx: Context, count: int, seed: int
                      ) -> dict[str, StatResult]:
    syn, ref = prep.synthetic, prep.reference
    # Cheap statistics get twice the halvings: a spread from 5 values is a rough estimate.
    tiers = {False: splits(syn.n, ref.n, _CHEAP_SPLITS_FACTOR * count, seed, _CHEAP_ROWS),
             True: splits(syn.n, ref.n, count, seed + 1, _COSTLY_ROWS)}
    obs: dict[str, list[Stat]] = {}
    null: dict[str, list[Stat]] = {}
    sizes: dict[bool, int] = {}
    for costly, tier in tiers.items():
        for k, sp in enumerate(tier):
            s, a, b = syn.take(sp.s), ref.take(sp.a), ref.take(sp.b)
            sizes[costly] = len(sp.s)
            for name, (func, is_costly) in _TABLE_STATS.items():
                if is_costly == costly:
                    obs.setdefault(name, []).append(func(s, a, ctx))
                    null.setdefault(name, []).append(func(b, a, ctx))
            if costly:
                embed = geometry.Embedding(a, ctx)
                es, ea, eb = embed(s), embed(a), embed(b)
                for side, points in ((obs, es), (null, eb)):
                    for name, stat in geometry.manifold_losses(points, ea).items():
                        side.setdefault(name, []).append(stat)
                    side.setdefault("closeness", []).append(geometry.closeness(points, ea))
                vendi_ref = geometry.VendiReference(ea, np.random.default_rng(seed + 100 + k),
                                                    len(sp.s))
                obs.setdefault("vendi_loss", []).append(vendi_ref.loss(es))
                null.setdefault("vendi_loss", []).append(vendi_ref.loss(eb))
    out = {}
    for name in obs:
        costly = _TABLE_STATS.get(name, (None, True))[1]
        floor = 1.0 / max(sizes[costly], 1) if name in _RATES else 1e-3
        floor = max([floor] + [st.floor for st in obs[name] + null[name] if st.floor])
        o = [s.value for s in obs[name]]
        n = [s.value for s in null[name]]
        value, m0, s0, z = _summarize(o, n, floor)
        worst = _worst_parts([s.parts for s in obs[name]], [s.parts for s in null[name]],
                             floor) if obs[name][0].parts else []
        out[name] = StatResult(name, round(value, 5), round(m0, 5), round(s0, 5), round(z, 2),
                               round(score_from_z(z), 2), worst)
    return out


def _classifier(prep: Prepared, ctx: Context, synthetic: pd.DataFrame, seed: int
                ) -> tuple[StatResult, np.ndarray, np.ndarray]:
    """The classifier two-sample test on capped samples; its null is analytic (AUC 0.5)."""
    rng = np.random.default_rng(seed + 7)
    syn, ref = prep.synthetic, prep.reference
    s_rows = np.sort(rng.choice(syn.n, min(syn.n, _C2ST_ROWS), replace=False))
    r_rows = np.sort(rng.choice(ref.n, min(ref.n, _C2ST_ROWS), replace=False))
    embed = geometry.Embedding(ref, ctx)
    auc, proba = geometry.classifier_auc(embed(syn.take(s_rows)), embed(ref.take(r_rows)), seed)
    sd = geometry.auc_null_sd(len(s_rows), len(r_rows))
    z = (auc - 0.5) / sd
    positions = synthetic["__synthos_row__"].to_numpy()[s_rows] \
        if "__synthos_row__" in synthetic.columns else s_rows
    return (StatResult("classifier_auc", round(auc, 5), 0.5, round(sd, 5), round(z, 2),
                       round(score_from_z(z), 2)), positions, proba)


def column_shapes(prep: Prepared) -> dict:
    """SDMetrics' Column Shapes: mean of KSComplement (numeric, datetime) and TVComplement
    (categorical, boolean) over columns, on the whole samples and the values as given."""
    syn, ref = prep.synthetic, prep.reference
    syn_num, ref_num = prep.numeric_as_given
    per = {n: 1.0 - statistics.ks(np.round(syn_num[:, i], 14), np.round(ref_num[:, i], 14))
           for i, n in enumerate(prep.numeric_names)}
    per.update({n: 1.0 - statistics.tvd(syn.codes[:, j], ref.codes[:, j])
                for j, n in enumerate(prep.categorical_names)})
    score = float(np.mean(list(per.values()))) if per else None
    return {"score": score, "columns": {k: round(v, 6) for k, v in per.items()}}
