"""Are localize's scores calibrated at the very top when the synthetic rows are real rows?

    .venv/bin/python -m benchmarks.tail_null [--datasets penguins breast_cancer] [--draws 40]
        [--threads 1]

For each dataset and draw, its rows are split at random into two equal halves, one the
reference and one the synthetic table, so the synthetic rows are exchangeable with the real
ones; ``synthos.localize.localize`` scores them (with the dataset's class target where it has
one). A row beyond every real row scores 1 (:func:`synthos.localize.conformal.conformal_scores`).
For a statistic whose synthetic and real values are exchangeable, the number of synthetic rows
beyond every one of m real rows is the number of the n + m rows' top places that synthetic
rows hold before the first real one: its mean is n / (m + 1), and P(at least k) is
C(n, k) / C(n + m, k), about 2^-k for equal halves.

Printed, per dataset and score column (``score`` and each ``score_<detector>``): the mean
number of synthetic rows at 1 against n / (m + 1), the share of draws with at least
:data:`AT_LEAST` of them against C(n, k) / C(n + m, k), and the largest; and the share of
draws in which any row was flagged. A mean or a share well above the exchangeable one says
that detector's null is less extreme than its synthetic rows' when nothing is wrong: its
conformal p-values at the top are too small, and flags that rest on them exceed the false
discovery rate once that detector joins the combined score. Draws are seeded (the collapse
benchmark's ``split`` with seed 1000 + draw; the draw is localize's seed).
"""

from __future__ import annotations

import argparse
import sys
import time
from math import comb
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from benchmarks.collapse.datasets import TARGETS, column_kinds, load, split  # noqa: E402
from benchmarks.localize import _localize, has_label_target  # noqa: E402

DEFAULT_DATASETS: tuple[str, ...] = ("penguins", "breast_cancer")
#: Seed of draw 0's split (the collapse benchmark's :func:`split`); draw d uses this + d.
SPLIT_SEED = 1000
#: The tail the table reports: draws with at least this many synthetic rows beyond every real row.
AT_LEAST = 5


def exchangeable_tail(n: int, m: int, k: int) -> float:
    """P(at least ``k`` of ``n`` synthetic rows beyond every one of ``m`` real rows) when the
    n + m rows' statistics are exchangeable: the top k places all synthetic."""
    return comb(n, k) / comb(n + m, k) if k <= n else 0.0


def run(datasets: list[str], draws: int) -> list[dict]:
    """One record per dataset: per score column the counts of rows at 1 in each draw, the
    halves' sizes, and the rows flagged in each draw."""
    localize = _localize()
    out = []
    for dataset in datasets:
        frame = load(dataset)
        started = time.perf_counter()
        beyond: dict[str, list[int]] = {}
        flagged = []
        for draw in range(draws):
            reference, synthetic = split(frame, SPLIT_SEED + draw)
            target = TARGETS.get(dataset)
            target = target if has_label_target(reference, target) else None
            table = localize(synthetic, reference, column_kinds(reference), target=target,
                             seed=draw).table
            for column in table.columns:
                if column == "score" or column.startswith("score_"):
                    beyond.setdefault(column, []).append(int((table[column] >= 1.0).sum()))
            flagged.append(int(table["flagged"].sum()))
        out.append({"dataset": dataset, "draws": draws, "synthetic": len(synthetic),
                    "real": len(reference), "beyond": beyond, "flagged": flagged,
                    "seconds": time.perf_counter() - started})
    return out


def report(records: list[dict]) -> str:
    lines = [f"| dataset | rows a side | score | mean at 1 | exchangeable | P(>= {AT_LEAST}) | "
             "exchangeable | max |", "|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in records:
        n, m = r["synthetic"], r["real"]
        for column, counts in r["beyond"].items():
            counts = np.asarray(counts)
            lines.append(f"| {r['dataset']} | {n}/{m} | {column} | {counts.mean():.2f} | "
                         f"{n / (m + 1):.2f} | {np.mean(counts >= AT_LEAST):.3f} | "
                         f"{exchangeable_tail(n, m, AT_LEAST):.3f} | {counts.max()} |")
    lines.append("")
    for r in records:
        flagged = np.asarray(r["flagged"])
        lines.append(f"- {r['dataset']}: {r['draws']} draws, {np.mean(flagged > 0):.1%} of them "
                     f"flag any row ({flagged.sum()} rows in all); {r['seconds']:.0f} s.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DEFAULT_DATASETS))
    parser.add_argument("--draws", type=int, default=40, help="random splits per dataset")
    parser.add_argument("--threads", type=int, default=1,
                        help="native threads (0: the libraries' default)")
    args = parser.parse_args(argv)
    if args.threads:
        with threadpool_limits(args.threads):
            print(report(run(args.datasets, args.draws)))
    else:
        print(report(run(args.datasets, args.draws)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
