"""Statistics of rows as points: coverage, memorization distance, Vendi diversity, spectrum,
and the classifier two-sample test.

Rows are embedded in one space: numeric columns standardized by the reference (missing values
at the mean, plus a missing flag where any are missing), narrow categorical columns one-hot
scaled so that two different categories are at distance 1, like one standard deviation.
Nearest neighbours are exact (faiss ``IndexFlatL2``).
"""

from __future__ import annotations

import faiss
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from synthos.collapse.prepare import Encoded
from synthos.collapse.statistics import Context, Stat

_K = 5  # neighbours for the k-NN balls (Naeem et al. 2020 use k=5)
# Vendi is O(n^3) in rows: 300 rows keep a split under a tenth of a second.
_VENDI_ROWS = 300


class Embedding:
    """Maps encoded rows to points, with scales fitted on a reference table."""

    def __init__(self, reference: Encoded, ctx: Context) -> None:
        num = reference.numeric
        self.mean = np.nanmean(num, axis=0) if num.shape[1] else np.empty(0)
        std = np.nanstd(num, axis=0) if num.shape[1] else np.empty(0)
        self.std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
        self.mean = np.where(np.isfinite(self.mean), self.mean, 0.0)
        self.flags = np.isnan(num).any(axis=0) if num.shape[1] else np.empty(0, bool)
        self.cats = [j for j in range(reference.codes.shape[1]) if ctx.narrow[j]]
        self.levels = {j: int(max(reference.codes[:, j].max(initial=-1), 0)) + 1
                       for j in self.cats}

    def __call__(self, e: Encoded) -> np.ndarray:
        parts = []
        if e.numeric.shape[1]:
            z = (e.numeric - self.mean) / self.std
            missing = np.isnan(z)
            parts.append(np.where(missing, 0.0, z))
            parts.append(missing[:, self.flags].astype(float))
        for j in self.cats:
            codes = e.codes[:, j]
            onehot = np.zeros((len(codes), self.levels[j] + 1))
            # Codes unseen in the reference share one extra slot; missing values another.
            slot = np.where(codes < 0, self.levels[j], np.minimum(codes, self.levels[j]))
            onehot[np.arange(len(codes)), slot] = np.sqrt(0.5)
            parts.append(onehot)
        out = np.hstack(parts) if parts else np.zeros((e.n, 1))
        return np.ascontiguousarray(out, dtype=np.float32)


def _knn(points: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Distances from each query to its k nearest points (ascending)."""
    index = faiss.IndexFlatL2(points.shape[1])
    index.add(points)
    d2, _ = index.search(queries, k)
    return np.sqrt(np.maximum(d2, 0.0))


def coverage_and_precision(x: np.ndarray, r: np.ndarray) -> tuple[float, float]:
    """Coverage (share of reference k-NN balls holding an X point) and precision (share of X
    points inside some reference ball), after Naeem et al. (2020)."""
    k = min(_K, len(r) - 1)
    radii = _knn(r, r, k + 1)[:, -1]  # the first neighbour of a reference point is itself
    d_rx = _knn(x, r, 1)[:, 0]
    coverage = float((d_rx <= radii).mean())
    # Precision: is the nearest reference point's ball reaching X's point? Checking the few
    # nearest reference points is enough: a far point's ball rarely reaches past a near one's.
    index = faiss.IndexFlatL2(r.shape[1])
    index.add(r)
    d2, idx = index.search(x, min(k, len(r)))
    inside = (np.sqrt(np.maximum(d2, 0)) <= radii[idx]).any(axis=1)
    return coverage, float(inside.mean())


def manifold_losses(ex: np.ndarray, er: np.ndarray) -> dict[str, Stat]:
    """``coverage_loss`` (1 - coverage) and ``precision_loss`` (1 - precision)."""
    cov, prec = coverage_and_precision(ex, er)
    return {"coverage_loss": Stat(1.0 - cov), "precision_loss": Stat(1.0 - prec)}


def closeness(ex: np.ndarray, er: np.ndarray) -> Stat:
    """How much closer X's rows sit to R than is usual: 1 - median DCR(X->R) / median
    nearest-neighbour distance within R; near 1 means copies."""
    dcr = _knn(er, ex, 1)[:, 0]
    within = _knn(er, er, 2)[:, 1]
    base = float(np.median(within))
    if base == 0:
        return Stat(0.0)
    return Stat(float(1.0 - np.median(dcr) / base))


def vendi(points: np.ndarray, bandwidth: float) -> float:
    """Vendi score (Friedman and Dieng 2023): exp of the entropy of the eigenvalues of K/n,
    with an RBF kernel; the effective number of distinct rows."""
    d2 = ((points[:, None, :] - points[None, :, :]) ** 2).sum(-1)
    kernel = np.exp(-d2 / (2 * bandwidth**2)) / len(points)
    eig = np.clip(np.linalg.eigvalsh(kernel), 0, None)
    eig = eig[eig > 1e-12]
    eig = eig / eig.sum()
    return float(np.exp(-(eig * np.log(eig)).sum()))


class VendiReference:
    """The reference side of the Vendi comparison: a subsample, its bandwidth and score."""

    def __init__(self, er: np.ndarray, rng: np.random.Generator, rows: int) -> None:
        self.rows = min(_VENDI_ROWS, rows, len(er))
        self.rng = rng
        sub = er[rng.choice(len(er), self.rows, replace=False)].astype(np.float64)
        d = np.sqrt(((sub[:, None, :] - sub[None, :, :]) ** 2).sum(-1))
        self.bandwidth = float(np.median(d[np.triu_indices(self.rows, 1)])) or 1.0
        self.score = vendi(sub, self.bandwidth)

    def loss(self, ex: np.ndarray) -> Stat:
        """1 - Vendi(X) / Vendi(R) on equal-size subsamples, with R's bandwidth.

        Signed (a gain of diversity is negative), so that its null has the spread of real
        data on both sides: clipped at 0, halves more diverse than the reference all give 0
        and the null spread collapses to its floor.
        """
        sub = ex[self.rng.choice(len(ex), min(self.rows, len(ex)), replace=False)]
        return Stat(1.0 - vendi(sub.astype(np.float64), self.bandwidth) / self.score)


def spectrum(numeric: np.ndarray) -> np.ndarray:
    """Eigenvalues of the correlation matrix of the numeric columns, normalized to sum 1."""
    cols = [c for c in numeric.T if np.nanstd(c) > 0]
    if len(cols) < 2:
        return np.ones(1)
    z = np.column_stack([np.nan_to_num((c - np.nanmean(c)) / np.nanstd(c)) for c in cols])
    eig = np.clip(np.linalg.eigvalsh(np.corrcoef(z, rowvar=False)), 0, None)[::-1]
    return eig / eig.sum()


def effective_rank(eig: np.ndarray) -> float:
    """exp of the entropy of a normalized spectrum (Roy and Vetterli 2007)."""
    p = eig[eig > 1e-12]
    return float(np.exp(-(p * np.log(p)).sum()))


def effective_rank_loss(x: Encoded, r: Encoded, ctx: Context) -> Stat:
    """1 - effective rank of X's numeric correlations over R's: variance in fewer directions.

    Signed, like :meth:`VendiReference.loss`, so the null keeps its spread.
    """
    er = effective_rank(spectrum(r.numeric))
    return Stat(1.0 - effective_rank(spectrum(x.numeric)) / er if er else 0.0)


def spectrum_distance(x: Encoded, r: Encoded, ctx: Context) -> Stat:
    """L1 distance between the normalized correlation spectra of X and R."""
    sx, sr = spectrum(x.numeric), spectrum(r.numeric)
    size = max(len(sx), len(sr))
    return Stat(float(np.abs(np.pad(sx, (0, size - len(sx)))
                             - np.pad(sr, (0, size - len(sr)))).sum()))


def classifier_auc(ex: np.ndarray, er: np.ndarray, seed: int, folds: int = 3
                   ) -> tuple[float, np.ndarray]:
    """Out-of-fold AUC of gradient-boosted trees telling X's rows (label 1) from R's.

    Returns the AUC and each X row's out-of-fold probability of being from X.
    """
    data = np.vstack([ex, er])
    labels = np.r_[np.ones(len(ex)), np.zeros(len(er))]
    proba = np.zeros(len(labels))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in cv.split(data, labels):
        model = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1,
                                               random_state=seed)
        model.fit(data[train], labels[train])
        proba[test] = model.predict_proba(data[test])[:, 1]
    return float(roc_auc_score(labels, proba)), proba[: len(ex)]


def auc_null_sd(n1: int, n2: int) -> float:
    """Standard error of the AUC when the two samples come from one distribution."""
    return float(np.sqrt((n1 + n2 + 1) / (12 * n1 * n2)))
