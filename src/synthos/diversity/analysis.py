"""Diversity of a synthetic table beside its reference: columns, rows, strata and texts.

One streaming pass over each table (:func:`synthos.diversity.sketches.sketch_state`) gives
exact counts (rows, missing values, exact duplicate rows) and sketches (distinct counts,
quantiles, frequent items) of the whole, and a uniform sample. Everything that needs rows side
by side is computed exactly on the samples, at equal sizes on both sides where a statistic
depends on the number of rows (entropy, unique ratio, near duplicates, Vendi, distinct-n).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import faiss
import numpy as np
import pandas as pd

from synthos.collapse.geometry import Embedding, VendiReference, vendi
from synthos.collapse.prepare import Prepared, prepare
from synthos.collapse.statistics import Context, discretize, entropy
from synthos.diversity.sketches import SAMPLE_ROWS, SketchState, sketch_state
from synthos.diversity.strata import MIN_ROWS, StrataResult, compare_strata
from synthos.diversity.text import TEXT_ROWS, TextDiversity, compare_texts, text_embedder
from synthos.errors import SynthosInputError
from synthos.io.profile import inspect
from synthos.io.readers import BATCH_ROWS
from synthos.io.sample import ROW_COLUMN

#: Near duplicates: rows whose nearest other row is within this root-mean-square difference
#: per numeric column, in reference standard deviations, with every category equal (a
#: different category alone puts two rows 1 apart, beyond any radius used here).
NEAR_RADIUS = 0.05
#: Rows per side searched for near duplicates (exact nearest neighbours: O(n^2 d)).
NEAR_ROWS = 10_000
#: Subsamples behind each Vendi score (each of the collapse stage's 300 rows: O(n^3)).
VENDI_REPEATS = 3
#: Near-duplicate pairs listed as examples.
_EXAMPLES = 5


@dataclass
class DiversityResult:
    """The diversity of a synthetic table beside its reference.

    Attributes
    ----------
    synthetic, reference : dict
        ``uri``, ``rows`` (exact), ``sample_rows`` for each side.
    compared_rows : int
        Rows per side in the equal-size samples behind entropy, unique ratio, near
        duplicates and Vendi.
    columns : list of dict
        Per column: ``entropy`` (nats), ``normalized_entropy`` (entropy over the log of the
        number of values or bins either side shows), ``unique_ratio`` (distinct over present
        values, equal-size samples), ``missing_rate`` (exact, whole table) and
        ``distinct_estimate`` (HLL, whole table), each as ``{"synthetic", "reference"}``.
    duplicates : dict
        Exact duplicate rate of each whole table (rows repeating an earlier row).
    near_duplicates : dict
        Share of sampled rows with another row within ``radius`` (exact duplicates
        included), both sides, and example pairs (0-based row positions in the input).
    vendi : dict
        Vendi scores (effective number of distinct rows among ``rows`` sampled rows) and
        their ratio, synthetic over reference.
    strata : StrataResult
        Coverage of the reference's strata and the rare patterns.
    text : list of TextDiversity
        distinct-1, distinct-2 and embedding diversity of each free-text column.
    embedding : str or None
        The text embedding used (None without text columns).
    excluded : dict
        Column -> why it was left out of some statistics.
    sketches : dict
        Whole-table sketch summaries of each side (quantiles, distinct counts, top values).
    settings : dict
        The parameters of the analysis.
    """

    synthetic: dict
    reference: dict
    compared_rows: int
    columns: list[dict]
    duplicates: dict
    near_duplicates: dict
    vendi: dict
    strata: StrataResult
    text: list[TextDiversity]
    embedding: str | None
    excluded: dict[str, str] = field(default_factory=dict)
    sketches: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)

    def metrics(self, prefix: str = "diversity.") -> dict[str, float]:
        """A few key numbers, flat, for MLflow and KFP ``Metrics``; undefined ones are left
        out.

        Parameters
        ----------
        prefix : str, default "diversity."
            Put before every key.
        """
        ratios = [c["normalized_entropy"]["synthetic"] / c["normalized_entropy"]["reference"]
                  for c in self.columns
                  if c.get("normalized_entropy") and c["normalized_entropy"]["reference"]]
        out = {
            "duplicate_rate": self.duplicates["synthetic"]["value"],
            "reference_duplicate_rate": self.duplicates["reference"]["value"],
            "near_duplicate_rate": self.near_duplicates.get("synthetic"),
            "reference_near_duplicate_rate": self.near_duplicates.get("reference"),
            "vendi_ratio": self.vendi.get("ratio"),
            "strata_coverage": self.strata.strata_coverage,
            "mass_coverage": self.strata.mass_coverage,
            "empty_strata": float(self.strata.empty_count),
            "normalized_entropy_ratio": float(np.mean(ratios)) if ratios else None,
        }
        for t in self.text:
            ref = t.distinct_2["reference"]
            if ref:
                out[f"distinct_2_ratio.{t.column}"] = t.distinct_2["synthetic"] / ref
        return {prefix + k: float(v) for k, v in out.items()
                if v is not None and math.isfinite(v)}

    def to_dict(self) -> dict:
        """A JSON-serializable document (NaN and infinities as null)."""
        return _json_safe({
            "synthetic": self.synthetic, "reference": self.reference,
            "compared_rows": self.compared_rows, "columns": self.columns,
            "duplicates": self.duplicates, "near_duplicates": self.near_duplicates,
            "vendi": self.vendi, "strata": self.strata.to_dict(),
            "text": [t.to_dict() for t in self.text], "embedding": self.embedding,
            "excluded": self.excluded, "sketches": self.sketches, "settings": self.settings,
            "metrics": self.metrics(prefix=""),
        })


def analyze_diversity(synthetic_uri: str, reference_uri: str,
                      kinds: dict[str, str] | None = None, *,
                      sample_rows: int = SAMPLE_ROWS, seed: int = 0, embedding: str = "auto",
                      min_stratum_rows: int = MIN_ROWS, near_radius: float = NEAR_RADIUS,
                      batch_rows: int = BATCH_ROWS) -> DiversityResult:
    """Read both tables once each and compare their diversity.

    Parameters
    ----------
    synthetic_uri, reference_uri : str
        Paths or URIs (``file://``, ``s3://``, ``gs://``) of any format synthos reads.
    kinds : dict, optional
        Column -> kind of the reference (see :data:`synthos.io.KINDS`); inferred from the
        reference's first rows when absent. Columns the synthetic table lacks are skipped.
    sample_rows : int, default 20_000
        Uniform sample kept from each table (rows).
    seed : int, default 0
        Seed of the samples and subsamples: same inputs and seed, same result.
    embedding : {"auto", "minilm", "hashing"}, default "auto"
        Text embedding (see :func:`synthos.diversity.text.text_embedder`).
    min_stratum_rows : int, default 20
        Reference rows per stratum, on average, that the strata keep at least.
    near_radius : float, default 0.05
        Near-duplicate radius: root-mean-square difference per numeric column, in reference
        standard deviations.
    batch_rows : int, default 65_536
        Rows per batch read.

    Raises
    ------
    SynthosInputError
        Unreadable input, no column in common, or kinds naming columns the reference lacks.
    """
    if kinds is None:
        kinds = {c.name: c.kind for c in inspect(reference_uri).columns}
    synthetic_names = {c.name for c in inspect(synthetic_uri).columns}
    common = {n: k for n, k in kinds.items() if n in synthetic_names}
    if not common:
        raise SynthosInputError(synthetic_uri, "shares no column with the reference "
                                f"({', '.join(list(kinds)[:5])}...)")
    ref = sketch_state(reference_uri, common, sample_rows=sample_rows, seed=seed,
                       batch_rows=batch_rows)
    syn = sketch_state(synthetic_uri, common, sample_rows=sample_rows, seed=seed,
                       batch_rows=batch_rows)
    result = analyze_states(syn, ref, seed=seed, embedding=embedding,
                            min_stratum_rows=min_stratum_rows, near_radius=near_radius)
    for name in kinds:
        if name not in common:
            result.excluded[name] = "not in the synthetic table"
    return result


def analyze_states(synthetic: SketchState, reference: SketchState, *, seed: int = 0,
                   embedding: str = "auto", min_stratum_rows: int = MIN_ROWS,
                   near_radius: float = NEAR_RADIUS, near_rows: int = NEAR_ROWS,
                   text_rows: int = TEXT_ROWS) -> DiversityResult:
    """Compare two sketch states (one pass each, or merged from shards).

    Parameters
    ----------
    synthetic, reference : SketchState
        From :func:`~synthos.diversity.sketches.sketch_state` or
        :func:`~synthos.diversity.sketches.merge_states`.
    seed : int, default 0
        Seed of the equal-size subsamples.
    embedding : {"auto", "minilm", "hashing"}, default "auto"
        Text embedding.
    min_stratum_rows : int, default 20
        Reference rows per stratum, on average, that the strata keep at least.
    near_radius : float, default 0.05
        Near-duplicate radius (see :data:`NEAR_RADIUS`).
    near_rows : int, default 10_000
        Rows per side searched for near duplicates.
    text_rows : int, default 512
        Texts embedded per side at most.
    """
    kinds = {n: k for n, k in reference.kinds.items() if n in synthetic.kinds}
    rng = np.random.default_rng(seed)
    syn_full, syn_rows = _frame(synthetic, kinds)
    ref_full, ref_rows = _frame(reference, kinds)
    for state, frame in ((synthetic, syn_full), (reference, ref_full)):
        if len(frame) < 2:
            raise SynthosInputError(state.uri, f"has {len(frame)} row(s); diversity needs "
                                    "at least 2")
    m = min(len(syn_full), len(ref_full))
    syn_pick = _pick(len(syn_full), m, rng)
    ref_pick = _pick(len(ref_full), m, rng)
    syn_eq = syn_full.iloc[syn_pick].reset_index(drop=True)
    ref_eq = ref_full.iloc[ref_pick].reset_index(drop=True)
    prep = prepare(syn_eq, ref_eq, kinds)
    ctx = Context(prep.numeric_names, prep.categorical_names, prep.narrow)
    columns = _columns(prep, ctx, syn_eq, ref_eq, synthetic, reference, kinds)
    near, vendi_part = _geometry(prep, ctx, syn_rows[syn_pick], ref_rows[ref_pick], rng,
                                 near_radius, near_rows)
    strata = compare_strata(syn_full, ref_full, kinds, min_rows=min_stratum_rows)
    text_cols = [n for n, k in kinds.items() if k == "text"]
    embedder = text_embedder(embedding) if text_cols else None
    texts = [compare_texts(n, _texts(syn_eq[n]), _texts(ref_eq[n]), embedder, rng, text_rows)
             for n in text_cols] if embedder is not None else []
    return DiversityResult(
        synthetic={"uri": synthetic.uri, "rows": synthetic.rows,
                   "sample_rows": len(syn_full)},
        reference={"uri": reference.uri, "rows": reference.rows,
                   "sample_rows": len(ref_full)},
        compared_rows=m, columns=columns,
        duplicates={"synthetic": synthetic.duplicate_rate(),
                    "reference": reference.duplicate_rate(),
                    "columns": [n for n, k in kinds.items() if k != "id"]},
        near_duplicates=near, vendi=vendi_part, strata=strata, text=texts,
        embedding=embedder.name if embedder is not None else None,
        excluded=dict(prep.excluded),
        sketches={"synthetic": synthetic.summary(), "reference": reference.summary()},
        settings={"seed": seed, "sample_rows": synthetic.sample_size,
                  "min_stratum_rows": min_stratum_rows, "near_radius": near_radius,
                  "near_rows": near_rows, "text_rows": text_rows,
                  "vendi_repeats": VENDI_REPEATS})


def _frame(state: SketchState, kinds: dict[str, str]) -> tuple[pd.DataFrame, np.ndarray]:
    """The sample as a DataFrame of the compared columns, and each row's input position."""
    sample = state.sample
    rows = sample.column(ROW_COLUMN).to_numpy() if sample.num_rows else np.empty(0, np.int64)
    return sample.select(list(kinds)).to_pandas(), np.asarray(rows)


def _pick(n: int, m: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n) if m >= n else np.sort(rng.choice(n, m, replace=False))


def _present(values: pd.Series) -> pd.Series:
    out = values.dropna()
    if out.dtype == object or isinstance(out.dtype, pd.StringDtype):
        out = out[out.astype(str).str.strip() != ""]
    return out


def _texts(values: pd.Series) -> list[str]:
    return [str(v) for v in _present(values)]


def _columns(prep: Prepared, ctx: Context, syn: pd.DataFrame, ref: pd.DataFrame,
             syn_state: SketchState, ref_state: SketchState, kinds: dict[str, str]
             ) -> list[dict]:
    """Per-column entropy, unique ratio, missing rate and distinct count, both sides."""
    bx, br, binned = discretize(prep.synthetic, prep.reference, ctx)
    codes = {n: (bx[:, i], br[:, i]) for i, n in enumerate(binned)}
    for j, n in enumerate(prep.categorical_names):
        if n not in codes:  # wide categoricals: the collapse binning leaves them out
            codes[n] = (prep.synthetic.codes[:, j], prep.reference.codes[:, j])
    out = []
    for name, kind in kinds.items():
        row: dict[str, Any] = {"column": name, "kind": kind}
        if name in codes:
            cx, cr = codes[name]
            hx, hr = entropy(cx), entropy(cr)
            support = len(np.union1d(cx, cr))
            scale = math.log(support) if support > 1 else math.nan
            row["entropy"] = {"synthetic": hx, "reference": hr}
            row["normalized_entropy"] = {"synthetic": hx / scale, "reference": hr / scale}
            row["support"] = support
        row["unique_ratio"] = {"synthetic": _unique_ratio(syn[name]),
                               "reference": _unique_ratio(ref[name])}
        sides = {"synthetic": syn_state.columns[name], "reference": ref_state.columns[name]}
        row["missing_rate"] = {k: c.missing / max(c.missing + c.present, 1)
                               for k, c in sides.items()}
        row["distinct_estimate"] = {k: c.hll.get_estimate() for k, c in sides.items()}
        row["distinct_bounds"] = {k: [c.hll.get_lower_bound(2), c.hll.get_upper_bound(2)]
                                  for k, c in sides.items()}
        out.append(row)
    return out


def _unique_ratio(values: pd.Series) -> float:
    present = _present(values)
    return float(present.nunique() / len(present)) if len(present) else 0.0


def _geometry(prep: Prepared, ctx: Context, syn_rows: np.ndarray, ref_rows: np.ndarray,
              rng: np.random.Generator, radius: float, near_rows: int) -> tuple[dict, dict]:
    """Near duplicates and Vendi scores in the collapse stage's standardized embedding."""
    if not prep.numeric_names and not ctx.narrow.any():
        why = "no numeric or narrow categorical column to embed rows by"
        return {"skipped": why}, {"skipped": why}
    embed = Embedding(prep.reference, ctx)
    ex, er = embed(prep.synthetic), embed(prep.reference)
    reach = radius * math.sqrt(max(len(prep.numeric_names), 1))
    k = min(near_rows, len(ex))
    sx, sr = _pick(len(ex), k, rng), _pick(len(er), k, rng)
    syn_nn, syn_idx = _nearest_other(ex[sx])
    ref_nn, _ = _nearest_other(er[sr])
    near = {"synthetic": float((syn_nn <= reach).mean()),
            "reference": float((ref_nn <= reach).mean()),
            "synthetic_exact": float((syn_nn == 0).mean()),
            "reference_exact": float((ref_nn == 0).mean()),
            "rows": int(k), "radius": radius, "distance": float(reach),
            "examples": _examples(syn_nn, syn_idx, syn_rows[sx], reach)}
    scores_r, scores_x, bandwidths = [], [], []
    for _ in range(VENDI_REPEATS):
        ref_side = VendiReference(er, rng, len(er))
        sub = ex[rng.choice(len(ex), min(ref_side.rows, len(ex)), replace=False)]
        scores_r.append(ref_side.score)
        scores_x.append(vendi(sub.astype(np.float64), ref_side.bandwidth))
        bandwidths.append(ref_side.bandwidth)
    vx, vr = float(np.mean(scores_x)), float(np.mean(scores_r))
    return near, {"synthetic": vx, "reference": vr, "ratio": vx / vr if vr else None,
                  "rows": int(ref_side.rows), "repeats": VENDI_REPEATS,
                  "bandwidth": float(np.mean(bandwidths))}


def _nearest_other(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance from each point to its nearest other point, and that point's index."""
    index = faiss.IndexFlatL2(points.shape[1])
    index.add(np.ascontiguousarray(points, dtype=np.float32))
    d2, idx = index.search(np.ascontiguousarray(points, dtype=np.float32), 2)
    # The point itself is among its two nearest: at 0, or tied with an exact copy at 0.
    own = idx[:, 0] == np.arange(len(points))
    other = np.where(own, idx[:, 1], idx[:, 0])
    dist = np.where(own, d2[:, 1], d2[:, 0])
    dist = np.sqrt(np.maximum(dist, 0.0))
    # A copy's squared distance comes out as float rounding noise, not 0: call it 0.
    exact = np.all(points == points[other], axis=1)
    return np.where(exact, 0.0, dist), other


def _examples(dist: np.ndarray, other: np.ndarray, rows: np.ndarray, reach: float
              ) -> list[dict]:
    """The closest near (not exact) duplicate pairs, as input row positions."""
    near = np.flatnonzero((dist > 0) & (dist <= reach))
    near = near[np.argsort(dist[near], kind="stable")]
    out, seen = [], set()
    for i in near:
        pair = tuple(sorted((int(rows[i]), int(rows[other[i]]))))
        if pair in seen:
            continue
        seen.add(pair)
        out.append({"rows": list(pair), "distance": float(dist[i])})
        if len(out) == _EXAMPLES:
            break
    return out


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_json_safe(v) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
