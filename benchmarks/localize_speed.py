"""Wall time, CPU time and peak memory of the localize stage on a large synthetic table.

    .venv/bin/python -m benchmarks.localize_speed [--rows 1000000] [--reference-rows 100000]

The pair is collapse_speed's 15 mixed columns (8 real-valued with tails and missing values,
3 counts, 3 categoricals of 4, 30 and 300 levels, 1 boolean; the synthetic table another draw
of the same process with two spreads shrunk), with the 4-level categorical ``c0`` as the
target. Every synthetic row is scored; what each detector samples is printed from the
result's ``sampled`` field. Each run is one fresh process (benchmarks/child.py); peak memory
is above the process's size after its imports, and includes the two input frames.
"""

from __future__ import annotations

import argparse

from benchmarks.child import run_child

_IMPORTS = """
import sys
sys.path.insert(0, {root!r})
from benchmarks.collapse_speed import make_pair
from benchmarks.collapse.datasets import column_kinds
from synthos.localize import localize
ref, syn = make_pair(max({rows}, {ref_rows}))
ref = ref.slice(0, {ref_rows}).to_pandas()
syn = syn.slice(0, {rows}).to_pandas()
kinds = column_kinds(ref)
"""

_WORK = """
result = localize(syn, ref, kinds, target="c0", seed=0)
s = result.summary
check = {"rows_scored": s["rows_scored"], "flagged": s["flagged"], "sampled": s["sampled"],
         "per_reason": s["flagged_per_reason"]}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--reference-rows", type=int, default=100_000)
    args = parser.parse_args(argv)
    import pathlib
    root = str(pathlib.Path(__file__).resolve().parents[1])
    print("| synthetic rows | reference rows | wall s | CPU s | peak MB above base | flagged |"
          " sampled |")
    print("|---:|---:|---:|---:|---:|---:|---|")
    for rows in args.rows:
        out = run_child(_IMPORTS.format(root=root, rows=rows, ref_rows=args.reference_rows),
                        _WORK)
        chk = out["check"]
        assert chk["rows_scored"] == rows, chk
        s = chk["sampled"]
        sampled = (f"all {rows:,} scored; k-NN index/null {s['reference_rows_in_index']:,} "
                   f"real rows; classifiers {s['classifier_train_rows_per_side']:,} rows a "
                   f"side; {s['explained_rows']:,} rows explained")
        print(f"| {rows:,} | {args.reference_rows:,} | {out['wall_s']:.1f} | {out['cpu_s']:.1f}"
              f" | {out['above_base_mb']:.0f} | {chk['flagged']:,} | {sampled} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
