"""Collapse detection on labelled cases: synthos' calibrated dimensions beside SDMetrics.

    .venv/bin/python benchmarks/collapse/run.py [--datasets held_out|calibration|all]
        [--seeds 0] [--thresholds PATH] [--cache DIR] [--fresh] [--json PATH]

On every case of the chosen datasets (4 healthy families, 7 collapsed families x 2 severities,
per dataset and seed) this runs, in the same process:

- ours: ``detect_collapse`` (kinds from ``synthos.io.schema.infer_schema`` on the reference, as
  the pipeline's alignment gives them; target from ``TARGETS``), flagged when any dimension
  scores below the threshold of ``--thresholds`` (written by ``calibrate.py``, tuned on the
  CALIBRATION datasets only);
- SDMetrics: ``sdmetrics.reports.single_table.QualityReport`` on the same two tables (metadata
  from the same kinds: numeric/integer -> numerical, datetime, categorical, boolean, id; text
  columns left out), flagged when its overall score is below a threshold chosen *in hindsight*
  on these very cases to maximize balanced accuracy: the best any fixed threshold could do,
  which flatters SDMetrics.

Prints one table (per family and severity, then overall): cases, the share flagged (false-
positive rate on healthy rows, detection rate on collapsed rows), the false-negative rate and the
balanced accuracy (a collapsed row's is against all healthy cases of the run); then which
dimension flagged each family most often, per-dataset rates, every false alarm and miss with the
statistic behind it, and the CPU and wall seconds of both. Scores are cached like calibrate.py's
(``--cache``), so a re-run with other thresholds is immediate; timings are those measured when
each case was scored.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.collapse.calibrate import (  # noqa: E402
    DEFAULT_CACHE,
    DEFAULT_OUT,
    HERE,
    ScoreCache,
    collect,
    fingerprint,
    flags_of,
    kinds_of,
    ours_cache,
    rates,
    score_matrix,
    score_ours,
)
from benchmarks.collapse.cases import COLLAPSE_FAMILIES, HEALTHY_FAMILIES, SEVERITIES, Case  # noqa: E402
from benchmarks.collapse.datasets import CALIBRATION, HELD_OUT  # noqa: E402
from synthos.collapse import DIMENSIONS  # noqa: E402

GROUPS = {"held_out": HELD_OUT, "calibration": CALIBRATION, "all": CALIBRATION + HELD_OUT}

_SDTYPES = {"numeric": "numerical", "integer": "numerical", "datetime": "datetime",
            "categorical": "categorical", "boolean": "boolean", "id": "id"}


def _quality_report():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # the single-table alias is deprecated
        from sdmetrics.reports.single_table import QualityReport
    return QualityReport


def sdmetrics_metadata(kinds: dict[str, str]) -> dict:
    """SDMetrics metadata from our kinds (text columns, which it cannot score, left out)."""
    return {"columns": {c: {"sdtype": _SDTYPES[k]} for c, k in kinds.items() if k in _SDTYPES}}


def score_sdmetrics(case: Case) -> dict:
    """SDMetrics' QualityReport on one case: its overall score and its two properties."""
    report_cls = _quality_report()
    kinds = kinds_of(case.reference)
    metadata = sdmetrics_metadata(kinds)
    cols = list(metadata["columns"])
    wall, cpu = time.perf_counter(), time.process_time()
    report = report_cls()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report.generate(case.reference[cols], case.synthetic[cols], metadata, verbose=False)
        props = report.get_properties()
        score = float(report.get_score())
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    return {"score": score,
            "properties": dict(zip(props["Property"], props["Score"].astype(float),
                                   strict=True)),
            "wall_s": round(wall, 4), "cpu_s": round(cpu, 4)}


def sdmetrics_cache(cache_dir: Path, fresh: bool = False) -> ScoreCache:
    import sdmetrics

    sources = [HERE / "cases.py", HERE / "datasets.py",
               ROOT / "src" / "synthos" / "io" / "schema.py"]
    return ScoreCache(cache_dir / f"sdmetrics-{sdmetrics.__version__}-{fingerprint(sources)}"
                                  ".jsonl", fresh)


def hindsight_threshold(scores: np.ndarray, collapsed: np.ndarray) -> tuple[float, dict]:
    """The threshold t (flag when score < t) with the best balanced accuracy on these cases."""
    values = np.unique(scores)
    candidates = np.concatenate([[values[0] - 1e-9], (values[:-1] + values[1:]) / 2,
                                 [values[-1] + 1e-9]])
    best_t, best = float(candidates[0]), rates(scores < candidates[0], collapsed)
    for t in candidates[1:]:
        r = rates(scores < t, collapsed)
        if r["balanced_accuracy"] > best["balanced_accuracy"] + 1e-12:
            best_t, best = float(t), r
    return best_t, best


def _pct(x: float) -> str:
    return "—" if x != x else f"{100 * x:5.1f}%"


def _ba(x: float) -> str:
    return "—" if x != x else f"{x:.3f}"


def _row_groups(frame: pd.DataFrame) -> list[tuple[str, str, np.ndarray]]:
    groups = []
    for fam in HEALTHY_FAMILIES:
        groups.append((fam, "none", (frame.family == fam).to_numpy()))
    for fam in COLLAPSE_FAMILIES:
        for sev in SEVERITIES:
            groups.append((fam, sev, ((frame.family == fam) & (frame.severity == sev)).to_numpy()))
    return groups


def table(frame: pd.DataFrame, ours: np.ndarray, peer: np.ndarray, peer_t: float) -> str:
    """The per family x severity table, then the totals."""
    collapsed = (frame.label == "collapsed").to_numpy()
    healthy = ~collapsed
    fpr_ours, fpr_peer = ours[healthy].mean(), peer[healthy].mean()
    head = (f"{'family':<20} {'severity':<8} {'cases':>5} │ {'ours: flagged':>13} {'FNR':>6} "
            f"{'bal.acc':>7} │ {'SDMetrics: flagged':>18} {'FNR':>6} {'bal.acc':>7}")
    lines = [f"{'':<36}│ {'synthos (calibrated)':^29}│ SDMetrics QualityReport, "
             f"flag if score < {peer_t:.4f}", head, "─" * len(head)]

    def line(fam: str, sev: str, mask: np.ndarray) -> str:
        n = int(mask.sum())
        cells = []
        for flags, fpr_all in ((ours, fpr_ours), (peer, fpr_peer)):
            flagged = flags[mask].mean() if n else float("nan")
            if sev == "none":
                cells.append((flagged, float("nan"), float("nan")))
            else:
                fnr = 1.0 - flagged
                cells.append((flagged, fnr, 1.0 - (fpr_all + fnr) / 2))
        (a, b, c), (d, e, f) = cells
        return (f"{fam:<20} {sev:<8} {n:>5} │ {_pct(a):>13} {_pct(b):>6} {_ba(c):>7} │ "
                f"{_pct(d):>18} {_pct(e):>6} {_ba(f):>7}")

    for fam, sev, mask in _row_groups(frame):
        if fam == COLLAPSE_FAMILIES[0] and sev == SEVERITIES[0]:
            lines.append("─" * len(head))
        lines.append(line(fam, sev, mask))
    lines.append("─" * len(head))
    lines.append(line("all healthy (FPR)", "none", healthy))
    for sev in SEVERITIES:
        lines.append(line("all collapsed", sev, (frame.severity == sev).to_numpy()))
    lines.append(line("all collapsed", "both", collapsed))
    ro, rp = rates(ours, collapsed), rates(peer, collapsed)
    lines.append(f"{'overall':<20} {'':<8} {len(frame):>5} │ FPR {_pct(ro['fpr'])} FNR "
                 f"{_pct(ro['fnr'])} BA {ro['balanced_accuracy']:.3f} │ FPR {_pct(rp['fpr'])}"
                 f" FNR {_pct(rp['fnr'])} BA {rp['balanced_accuracy']:.3f}")
    return "\n".join(lines)


def _trigger(record: dict, thresholds: dict[str, float]) -> str:
    """The failing dimensions of a case, each with its lowest-scoring statistic."""
    parts = []
    for d in DIMENSIONS:
        if record["scores"][d] < thresholds[d]:
            s = min(record["statistics"][d], key=lambda s: s["score"])
            worst = s["worst"][0]["part"] if s.get("worst") else ""
            parts.append(f"{d}={record['scores'][d]:.1f} via {s['name']}"
                         f"{f'[{worst}]' if worst else ''} (obs {s['observed']:.4g}, null "
                         f"{s['null_mean']:.4g}±{s['null_sd']:.2g}, z {s['z']:.1f})")
    return "; ".join(parts)


def _lowest(record: dict, thresholds: dict[str, float], k: int = 2) -> str:
    """A missed case's dimensions closest to failing (score minus threshold)."""
    gaps = sorted(DIMENSIONS, key=lambda d: record["scores"][d] - thresholds[d])[:k]
    out = []
    for d in gaps:
        s = min(record["statistics"][d], key=lambda s: s["score"])
        out.append(f"{d}={record['scores'][d]:.1f} (thr {thresholds[d]:g}; {s['name']} z "
                   f"{s['z']:.1f})")
    return ", ".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", choices=sorted(GROUPS), default="held_out")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--thresholds", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--fresh", action="store_true", help="recompute every case's scores")
    parser.add_argument("--json", type=Path, help="also write the per-case results here")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    doc = json.loads(args.thresholds.read_text())
    thresholds = {d: float(doc["thresholds"][d]) for d in DIMENSIONS}
    names = GROUPS[args.datasets]
    ours_c, peer_c = ours_cache(args.cache, args.fresh), sdmetrics_cache(args.cache, args.fresh)
    rows = collect(names, args.seeds, {"ours": (ours_c, score_ours),
                                       "sdmetrics": (peer_c, score_sdmetrics)})
    frame = pd.DataFrame([{k: r[k] for k in ("case", "dataset", "seed", "family", "severity",
                                             "label")} for r in rows])
    collapsed = (frame.label == "collapsed").to_numpy()
    scores = score_matrix(rows)
    ours = flags_of(scores, thresholds)
    peer_scores = np.array([r["sdmetrics"]["score"] for r in rows])
    peer_t, _ = hindsight_threshold(peer_scores, collapsed)
    peer = peer_scores < peer_t

    print(f"Collapse detection on {args.datasets} datasets ({', '.join(names)}), seeds "
          f"{' '.join(map(str, args.seeds))}: {len(rows)} cases "
          f"({int((~collapsed).sum())} healthy, {int(collapsed.sum())} collapsed)")
    print(f"thresholds: {args.thresholds} (calibrated on "
          f"{', '.join(doc.get('calibration_datasets', []))})")
    print("flagged = false-positive rate on healthy rows, detection rate on collapsed rows; "
          "a collapsed row's balanced accuracy is against all healthy cases of the run\n")
    print(table(frame, ours, peer, peer_t))

    print("\nDimension flagging each family most often (cases below threshold / cases):")
    below = scores < np.array([thresholds[d] for d in DIMENSIONS])
    for fam in HEALTHY_FAMILIES + COLLAPSE_FAMILIES:
        mask = (frame.family == fam).to_numpy()
        counts = Counter({d: int(below[mask, j].sum()) for j, d in enumerate(DIMENSIONS)})
        top = [f"{d} {c}/{int(mask.sum())}" for d, c in counts.most_common(3) if c]
        print(f"  {fam:<20} {', '.join(top) if top else 'none'}")

    print("\nPer dataset (ours | SDMetrics at its hindsight threshold):")
    for name in names:
        m = (frame.dataset == name).to_numpy()
        ro, rp = rates(ours[m], collapsed[m]), rates(peer[m], collapsed[m])
        print(f"  {name:<14} FPR {_pct(ro['fpr'])} FNR {_pct(ro['fnr'])} | "
              f"FPR {_pct(rp['fpr'])} FNR {_pct(rp['fnr'])}")

    fps = [i for i in range(len(rows)) if ours[i] and not collapsed[i]]
    fns = [i for i in range(len(rows)) if not ours[i] and collapsed[i]]
    print(f"\nFalse alarms of ours ({len(fps)}):")
    for i in fps:
        print(f"  {rows[i]['case']}: {_trigger(rows[i]['ours'], thresholds)}")
    print(f"Misses of ours ({len(fns)}), dimensions closest to their thresholds:")
    for i in fns:
        print(f"  {rows[i]['case']}: {_lowest(rows[i]['ours'], thresholds)}")

    ours_cpu = sum(r["ours"]["cpu_s"] for r in rows)
    ours_wall = sum(r["ours"]["wall_s"] for r in rows)
    peer_cpu = sum(r["sdmetrics"]["cpu_s"] for r in rows)
    peer_wall = sum(r["sdmetrics"]["wall_s"] for r in rows)
    print(f"\nTime over {len(rows)} cases (measured when each was scored; "
          f"{ours_c.computed} ours and {peer_c.computed} SDMetrics scored in this run): "
          f"ours {ours_cpu:.0f} CPU s ({ours_wall:.0f} s wall), SDMetrics {peer_cpu:.0f} CPU s "
          f"({peer_wall:.0f} s wall), ratio {ours_cpu / max(peer_cpu, 1e-9):.1f}x CPU; "
          f"this run took {time.perf_counter() - started:.0f} s wall")
    if args.json:
        out = [{**{k: r[k] for k in ("case", "dataset", "seed", "family", "severity", "label")},
                "ours_flagged": bool(ours[i]), "sdmetrics_flagged": bool(peer[i]),
                "scores": r["ours"]["scores"], "sdmetrics_score": r["sdmetrics"]["score"]}
               for i, r in enumerate(rows)]
        args.json.write_text(json.dumps({"thresholds": thresholds, "sdmetrics_threshold": peer_t,
                                         "cases": out}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
