"""Collapse is mostly missing mass: the real rows, categories and tails that no synthetic row
stands for. Localized on the real side, they say what to restore."""

from __future__ import annotations

import faiss
import numpy as np

from synthos.localize.detectors import Detection
from synthos.localize.explain import Explainer, fmt
from synthos.localize.space import Space

#: A category or tail counts as missing when the synthetic share is below this fraction of
#: the real share.
SHORTFALL = 0.5
#: Categories holding less than this share of real rows are too small to report.
MIN_SHARE = 0.01
_TAIL_Q = 0.025  # the collapse stage's tails: outside the reference's central 95%
_LIMIT = 10


def _shares(codes: np.ndarray, levels: int) -> np.ndarray:
    valid = codes[codes >= 0]
    return np.bincount(valid, minlength=levels) / max(len(valid), 1)


def missing_categories(space: Space, explainer: Explainer) -> list[dict]:
    """Categories of real rows that the synthetic table under-represents, most mass first."""
    prep = space.prep
    out = []
    for j, name in enumerate(prep.categorical_names):
        if not prep.narrow[j]:
            continue
        ref = _shares(prep.reference.codes[:, j], prep.levels[j])
        syn = _shares(prep.synthetic.codes[:, j], prep.levels[j])
        for code in np.flatnonzero((ref >= MIN_SHARE) & (syn < SHORTFALL * ref)):
            out.append({"column": name, "value": explainer.labels[j].get(int(code), "?"),
                        "reference_share": round(float(ref[code]), 5),
                        "synthetic_share": round(float(syn[code]), 5),
                        "missing_share": round(float(ref[code] - syn[code]), 5)})
    out.sort(key=lambda e: -e["missing_share"])
    return out[:_LIMIT]


def missing_tails(space: Space, kinds: dict[str, str]) -> list[dict]:
    """Outer tails (beyond the real 2.5% and 97.5% quantiles) the synthetic rows leave empty."""
    prep = space.prep
    out = []
    for i, name in enumerate(prep.numeric_names):
        r = prep.reference.numeric[:, i]
        x = prep.synthetic.numeric[:, i]
        r, x = r[~np.isnan(r)], x[~np.isnan(x)]
        if len(r) == 0 or len(x) == 0:
            continue
        lo, hi = np.quantile(r, [_TAIL_Q, 1 - _TAIL_Q])
        for side, bound, ref_share, syn_share in (
                ("lower", lo, (r < lo).mean(), (x < lo).mean()),
                ("upper", hi, (r > hi).mean(), (x > hi).mean())):
            if ref_share > 0 and syn_share < SHORTFALL * ref_share:
                out.append({"column": name, "side": side,
                            "bound": fmt(float(bound), kinds.get(name, "numeric")),
                            "bound_value": float(bound),
                            "reference_share": round(float(ref_share), 5),
                            "synthetic_share": round(float(syn_share), 5),
                            "missing_share": round(float(ref_share - syn_share), 5)})
    out.sort(key=lambda e: -e["missing_share"])
    return out[:_LIMIT]


def uncovered_rows(space: Space, oos: Detection | None, explainer: Explainer) -> dict:
    """Share of real rows whose k-NN ball (k-th neighbour distance among real rows) holds no
    synthetic row: Naeem et al.'s coverage, seen from the rows it misses."""
    if oos is None or len(space.points) == 0:
        return {"share": None, "rows": 0}
    radius = oos.extra["real_radius_k"]
    ids, dist = oos.extra["neighbours"], oos.extra["neighbour_distances"]
    # A real row is covered by any synthetic row that has it among its k nearest real rows
    # within its ball; only the rest need a search of every synthetic row (on a healthy
    # table few: on a million synthetic rows that search was a fifth of the stage).
    covered = np.zeros(len(radius), dtype=bool)
    covered[ids[dist <= radius[ids]]] = True
    rest = np.flatnonzero(~covered)
    uncovered = np.zeros(len(radius), dtype=bool)
    if len(rest):
        index = faiss.IndexFlatL2(space.points.shape[1])
        index.add(space.points)
        d2, _ = index.search(space.real_points[rest], 1)
        uncovered[rest] = np.sqrt(np.maximum(d2[:, 0], 0.0)) > radius[rest]
    overall = float(uncovered.mean())
    by_category = []
    real = space.real
    for j, name in enumerate(space.prep.categorical_names):
        if not space.prep.narrow[j]:
            continue
        codes = real.codes[:, j]
        for code in np.unique(codes[codes >= 0]):
            held = codes == code
            share = float(uncovered[held].mean())
            if held.sum() >= 20 and share >= max(0.5, 2 * overall):
                by_category.append({"column": name,
                                    "value": explainer.labels[j].get(int(code), "?"),
                                    "real_rows": int(held.sum()),
                                    "uncovered_share": round(share, 5)})
    by_category.sort(key=lambda e: -e["uncovered_share"] * e["real_rows"])
    return {"share": round(overall, 5), "rows": len(uncovered),
            "by_category": by_category[:_LIMIT]}
