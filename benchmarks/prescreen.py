"""Pre-screen quality and latency on benchmark datasets the signature library never saw.

    .venv/bin/python benchmarks/prescreen.py [--seeds 0 1 2] [--k 5]

Builds a signature library from the collapse benchmark's CALIBRATION datasets (every case of
every seed given: 4 healthy families, 7 collapse families x 2 severities; ``build_library``) in
a temporary folder, then, for every case of the HELD_OUT datasets with the same seeds, computes
the signature and looks it up (``SignatureLibrary.query``). Prints:

- AUROC of the risk score, collapsed against healthy: overall, per severity, and per collapse
  family (that family's collapsed cases against all healthy cases), with the false-alarm and
  miss rates of the 50 % risk line;
- two baselines scored in the same run: ``1 - Column Shapes`` (the mean raw KS / TVD over
  columns, SDMetrics' Column Shapes complement, computed by ``synthos.collapse``), and the
  signature's own noise-scaled ``ks_mean`` feature alone (what the library adds over it);
- the same library with ``log(synthetic rows / reference rows)`` appended to every signature:
  the collapse benchmark makes every collapsed case as large as its reference and only
  healthy ones of other sizes, so that feature would tell the generator's cases apart rather
  than collapse, which is why the signature leaves it out;
- latency per held-out dataset: signature and lookup seconds, mean and max, with the rows.

Timings are wall-clock on whatever else the machine runs; the signature uses one thread.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from benchmarks.collapse import CALIBRATION, COLLAPSE_FAMILIES, HELD_OUT, generate_cases  # noqa: E402
from synthos.collapse.detector import column_shapes  # noqa: E402
from synthos.collapse.prepare import prepare  # noqa: E402
from synthos.prescreen import FEATURES, SignatureLibrary, build_library, kinds_of  # noqa: E402
from synthos.prescreen.signature import signature  # noqa: E402


def _auroc(positive: list[float], negative: list[float]) -> float:
    if not positive or not negative:
        return math.nan
    labels = np.r_[np.ones(len(positive)), np.zeros(len(negative))]
    return float(roc_auc_score(labels, np.r_[positive, negative]))


def _with_size(vectors: np.ndarray, rows: list[tuple[int, int]]) -> np.ndarray:
    ratio = np.array([[math.log(s / r)] for s, r in rows])
    return np.hstack([vectors.astype(np.float64), ratio])


def run(seeds: list[int], k: int) -> None:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="synthos-prescreen-") as tmp:
        built = build_library(f"{tmp}/library", "calibration", seeds)
        library = SignatureLibrary.open(f"{tmp}/library")
        # The ablation library: same entries, each with its log size ratio appended.
        entries = library.entries().to_pylist()
        sized = SignatureLibrary.create(f"{tmp}/sized", library.dim + 1)
        sized.add_many(_with_size(library.vectors(),
                                  [tuple(json.loads(e["details"])["rows"]) for e in entries]),
                       [e["kind"] for e in entries], [e["source"] for e in entries])
        print(f"library: {built.added} cases of {len(CALIBRATION)} calibration datasets"
              f" ({', '.join(CALIBRATION)}), seeds {' '.join(map(str, seeds))};"
              f" built in {built.seconds:.1f}s (signatures: mean"
              f" {np.mean(built.signature_seconds):.3f}s, max"
              f" {max(built.signature_seconds):.3f}s)", flush=True)

        records = []
        for case in generate_cases(HELD_OUT, seeds):
            kinds = kinds_of(case.reference)
            sig = signature(case.synthetic, case.reference, kinds)
            t0 = time.perf_counter()
            lookup = library.query(sig.vector, k=k)
            query_s = time.perf_counter() - t0
            sized_risk = sized.query(_with_size(sig.vector[None, :], [sig.rows])[0], k=k).risk
            shapes = column_shapes(prepare(case.synthetic, case.reference, kinds))["score"]
            records.append({
                "dataset": case.dataset, "family": case.family, "severity": case.severity,
                "collapsed": case.label == "collapsed", "risk": lookup.risk,
                "sized_risk": sized_risk, "ks_mean": float(sig.vector[FEATURES.index("ks_mean")]),
                "shapes": 1.0 - (shapes if shapes is not None else 1.0),
                "signature_s": sig.seconds, "query_s": query_s, "rows": sig.rows,
            })
    _print_quality(records, k)
    _print_latency(records)
    print(f"\ntotal {time.perf_counter() - started:.0f}s wall")


def _print_quality(records: list[dict], k: int) -> None:
    scores = ("risk", "ks_mean", "shapes", "sized_risk")
    healthy = [r for r in records if not r["collapsed"]]
    print(f"\nheld-out datasets: {', '.join(HELD_OUT)}; {len(records)} cases"
          f" ({len(healthy)} healthy); k = {k}")
    print("AUROC, collapsed against all healthy cases; 'rate' columns: the risk >= 50 line"
          " (false alarms on healthy, misses on collapsed)")
    head = (f"{'family':<20} {'severity':<8} {'n':>4} │ {'risk':>6} {'rate':>6} │"
            f" {'ks_mean':>7} {'1-shapes':>8} │ {'+size':>6}")
    print(head)
    print("─" * len(head))

    def row(label: str, severity: str, cases: list[dict]) -> None:
        values = [_auroc([c[s] for c in cases], [h[s] for h in healthy]) for s in scores]
        miss = np.mean([c["risk"] < 50 for c in cases])
        print(f"{label:<20} {severity:<8} {len(cases):>4} │ {values[0]:6.3f} {miss:6.1%} │"
              f" {values[1]:7.3f} {values[2]:8.3f} │ {values[3]:6.3f}")

    for family in COLLAPSE_FAMILIES:
        for severity in ("low", "high"):
            row(family, severity, [r for r in records if r["family"] == family
                                   and r["severity"] == severity])
        row(family, "both", [r for r in records if r["family"] == family])
    print("─" * len(head))
    for severity in ("low", "high"):
        row("all collapsed", severity, [r for r in records if r["severity"] == severity])
    row("all collapsed", "both", [r for r in records if r["collapsed"]])
    alarms = np.mean([h["risk"] >= 50 for h in healthy])
    print(f"{'all healthy':<20} {'none':<8} {len(healthy):>4} │ {'—':>6} {alarms:6.1%} │"
          f" {'':>7} {'':>8} │")
    for family in sorted({h["family"] for h in healthy}):
        cases = [h for h in healthy if h["family"] == family]
        print(f"  {family:<18} {'none':<8} {len(cases):>4} │ {'':>6}"
              f" {np.mean([h['risk'] >= 50 for h in cases]):6.1%} │ (risk mean"
              f" {np.mean([h['risk'] for h in cases]):.1f})")


def _print_latency(records: list[dict]) -> None:
    print("\nlatency per held-out dataset (seconds; signature + lookup, one thread)")
    head = (f"{'dataset':<12} {'cases':>5} {'ref rows':>11} {'syn rows':>13} │"
            f" {'signature':>15} {'lookup':>15} │ {'total mean':>10} {'max':>7}")
    print(head)
    print(f"{'':<12} {'':>5} {'':>11} {'':>13} │ {'mean':>7} {'max':>7} {'mean':>7} {'max':>7} │")
    print("─" * len(head))
    by: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by[r["dataset"]].append(r)
    for dataset, cases in by.items():
        sig = np.array([c["signature_s"] for c in cases])
        query = np.array([c["query_s"] for c in cases])
        total = sig + query
        ref_rows = sorted({c["rows"][1] for c in cases})
        syn_rows = [c["rows"][0] for c in cases]
        print(f"{dataset:<12} {len(cases):>5} {'/'.join(map(str, ref_rows)):>11}"
              f" {f'{min(syn_rows)}-{max(syn_rows)}':>13} │ {sig.mean():7.3f} {sig.max():7.3f}"
              f" {query.mean():7.4f} {query.max():7.4f} │ {total.mean():10.3f}"
              f" {total.max():7.3f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                        help="seeds of the cases, for the library and the held-out cases alike")
    parser.add_argument("--k", type=int, default=5, help="neighbours consulted (default 5)")
    args = parser.parse_args(argv)
    run(args.seeds, args.k)


if __name__ == "__main__":
    main()
