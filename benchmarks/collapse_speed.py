"""Cost of our quick collapse stage beside SDMetrics' QualityReport on the same 1M-row pair.

    .venv/bin/python benchmarks/collapse_speed.py [--rows 1000000] [--sample 100000]
        [--sdmetrics-timeout 900] [--fallback-rows 200000] [--threads N] [--keep DIR]

Writes a reference and a synthetic table (``--rows`` rows, 15 columns: 8 numeric, 3 integer,
3 categorical with a Zipf tail, 1 boolean; the synthetic one drawn from the same process with
a different seed and the spread of two numeric columns shrunk to 95 %) as Parquet, then times
in a fresh Python process each:

* ``synthos collapse stage``: what the pipeline does. ``synthos.io.profile`` each file (one
  streaming pass, uniform sample of ``--sample`` rows), ``normalize_table`` each sample, kinds
  from the reference profile, then ``detect_collapse`` (all 8 dimensions) on the two samples
  as pandas DataFrames.
* ``SDMetrics QualityReport``: ``pandas.read_parquet`` both files whole, metadata from the
  dtypes (numerical / categorical / boolean), then ``QualityReport().generate`` (its two
  properties, Column Shapes and Column Pair Trends, on every row; by its own default, pairs
  with a categorical or boolean column are scored on a random 50,000-row subsample, unseeded,
  so Column Pair Trends moves a little from run to run).

Each process reports wall and CPU seconds (``time.process_time``: every thread of the
process), its peak resident memory (VmHWM) and that peak above what it held after its
imports, plus the split between reading the data and the statistics. If SDMetrics does not
finish within ``--sdmetrics-timeout`` seconds at ``--rows``, it is measured again on the first
``--fallback-rows`` rows of both files, and its table row says so: nothing is extrapolated.
Prints the table, the ratios ours / theirs, our 8 dimension scores and verdict, and
SDMetrics' two property scores.

``--threads N`` sets ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and ``MKL_NUM_THREADS`` for
both processes (default: the environment as it is). It matters for us, not for SDMetrics: our
classifier (scikit-learn's HistGradientBoosting, OpenMP), Vendi eigenvalues (OpenBLAS) and
faiss searches run threaded, and threads that spin while they wait for a busy core cost CPU
seconds; SDMetrics' work is mostly single-threaded pandas and SciPy. The 1-minute load average
before and after (this run's own processes included) is printed: on a shared machine it moves
our figures most.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks.child import run_child  # noqa: E402

_OURS = (
    "import pandas as pd\n"
    "from synthos.collapse import detect_collapse\n"
    "from synthos.io import profile\n"
    "from synthos.io.normalize import normalize_table",
    "ref = profile(REF, sample_rows=SAMPLE)\n"
    "syn = profile(SYN, sample_rows=SAMPLE)\n"
    "ref_df = normalize_table(ref.sample, ref.columns).to_pandas()\n"
    "syn_df = normalize_table(syn.sample, syn.columns).to_pandas()\n"
    "kinds = {c.name: c.kind for c in ref.columns}\n"
    "mark('load')\n"
    "res = detect_collapse(syn_df, ref_df, kinds)\n"
    "mark('statistics')\n"
    "check = {'rows': [ref.rows, syn.rows], 'sample_rows': [len(ref_df), len(syn_df)],\n"
    "         'kinds': kinds, 'verdict': res.verdict, 'column_shapes': res.column_shapes,\n"
    "         'scores': {d.name: d.score for d in res.dimensions},\n"
    "         'passed': {d.name: d.passed for d in res.dimensions}}",
)

_THEIRS = (
    "import pandas as pd\n"
    "with warnings.catch_warnings():\n"
    "    warnings.simplefilter('ignore', FutureWarning)  # the single-table alias is deprecated\n"
    "    from sdmetrics.reports.single_table import QualityReport",
    "real = pd.read_parquet(REF)\n"
    "synthetic = pd.read_parquet(SYN)\n"
    "def sdtype(dtype):\n"
    "    if pd.api.types.is_bool_dtype(dtype):\n"
    "        return 'boolean'\n"
    "    return 'numerical' if pd.api.types.is_numeric_dtype(dtype) else 'categorical'\n"
    "metadata = {'columns': {c: {'sdtype': sdtype(t)} for c, t in real.dtypes.items()}}\n"
    "mark('load')\n"
    "report = QualityReport()\n"
    "report.generate(real, synthetic, metadata, verbose=False)\n"
    "mark('statistics')\n"
    "props = report.get_properties()\n"
    "check = {'rows': [len(real), len(synthetic)], 'score': float(report.get_score()),\n"
    "         'subsample': report.num_rows_subsample,\n"
    "         'sdtypes': {c: m['sdtype'] for c, m in metadata['columns'].items()},\n"
    "         'properties': dict(zip(props['Property'], props['Score'].astype(float)))}",
)


_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _table(rows: int, seed: int, shrink: float = 1.0) -> pa.Table:
    """15 columns with some dependence between them, a few missing values and heavy tails.

    ``shrink`` scales the spread of ``f3`` and ``f7`` about their means (1.0: unchanged).
    """
    rng = np.random.default_rng(seed)
    f0 = rng.normal(0.0, 1.0, rows)
    cols: dict[str, np.ndarray] = {
        "f0": f0,
        "f1": 0.7 * f0 + rng.normal(0.0, 0.7, rows),
        "f2": rng.lognormal(3.0, 0.8, rows),
        "f3": rng.normal(50.0, 12.0, rows),
        "f4": rng.exponential(2.0, rows),
        "f5": rng.uniform(-1.0, 1.0, rows),
        "f6": rng.gamma(2.0, 3.0, rows),
        "f7": rng.standard_t(4, rows) * 5.0 + 100.0,
    }
    cols["f5"] = cols["f5"] + 0.02 * cols["f3"]
    for name in ("f3", "f7"):
        x = cols[name]
        cols[name] = x.mean() + shrink * (x - x.mean())
    cols["f3"][rng.random(rows) < 0.02] = np.nan
    cols["f7"][rng.random(rows) < 0.01] = np.nan
    cols["n0"] = rng.poisson(3, rows)
    cols["n1"] = rng.poisson(30 + 5 * (f0 > 0), rows)
    cols["n2"] = rng.negative_binomial(2, 0.05, rows)
    for i, levels in enumerate((4, 30, 300)):
        names = np.array([f"level_{j}" for j in range(levels)], dtype=object)
        codes = rng.zipf(1.5, rows) - 1 + (i == 0) * (f0 > 1.0)
        cols[f"c{i}"] = names[codes % levels]
    cols["b0"] = (cols["f1"] + rng.normal(0.0, 1.0, rows)) > 0.5
    return pa.table(cols)


def make_pair(rows: int, seed: int = 0, shrink: float = 0.95) -> tuple[pa.Table, pa.Table]:
    """Reference, and a synthetic table from the same process (another seed), two spreads
    shrunk by ``shrink``."""
    return _table(rows, seed), _table(rows, seed + 1, shrink)


def measure(case: tuple[str, str], ref: str, syn: str, sample: int,
            timeout: float | None = None, threads: int | None = None) -> dict[str, Any]:
    """Run one case in a fresh interpreter; its JSON line. Raises TimeoutExpired."""
    imports, work = case
    work = (work.replace("REF", repr(ref)).replace("SYN", repr(syn))
            .replace("SAMPLE", str(sample)))
    env = dict(os.environ)
    if threads:
        env.update(dict.fromkeys(_THREAD_VARS, str(threads)))
    return run_child(imports, work, timeout=timeout, env=env)


def _write_prefix(src: str, dst: str, rows: int) -> None:
    pq.write_table(pq.read_table(src).slice(0, rows), dst)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=100_000,
                        help="rows of our uniform sample per table (the pipeline default)")
    parser.add_argument("--sdmetrics-timeout", type=float, default=900.0,
                        help="seconds SDMetrics may take at --rows before the fallback")
    parser.add_argument("--fallback-rows", type=int, default=200_000)
    parser.add_argument("--threads", type=int, default=None,
                        help="threads of OpenMP and BLAS in both processes (default: as set)")
    parser.add_argument("--keep", default=None, help="write the files here and keep them")
    args = parser.parse_args()

    folder = args.keep or tempfile.mkdtemp(prefix="synthos-collapse-bench-")
    os.makedirs(folder, exist_ok=True)
    try:
        run(args, folder)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


def run(args: argparse.Namespace, folder: str) -> None:
    """Write the pair into ``folder``, measure both sides, print the table."""
    paths = {"reference": os.path.join(folder, "reference.parquet"),
             "synthetic": os.path.join(folder, "synthetic.parquet")}
    for table, path in zip(make_pair(args.rows), paths.values(), strict=True):
        pq.write_table(table, path)
    size = sum(os.path.getsize(p) for p in paths.values()) / 2**20

    load_before = os.getloadavg()[0]
    ours = measure(_OURS, paths["reference"], paths["synthetic"], args.sample,
                   threads=args.threads)
    their_rows = args.rows
    try:
        theirs = measure(_THEIRS, paths["reference"], paths["synthetic"], args.sample,
                         args.sdmetrics_timeout, args.threads)
    except subprocess.TimeoutExpired:
        their_rows = min(args.fallback_rows, args.rows)
        small = {k: os.path.join(folder, f"{k}.{their_rows}.parquet") for k in paths}
        for k in paths:
            _write_prefix(paths[k], small[k], their_rows)
        theirs = measure(_THEIRS, small["reference"], small["synthetic"], args.sample,
                         threads=args.threads)
        for p in small.values():
            os.unlink(p)

    print(f"{args.rows:,} rows x 15 columns per table (reference + synthetic, Parquet "
          f"{size:.1f} MB together); our sample {args.sample:,} rows per table; "
          f"{os.cpu_count()} CPUs; one fresh process per row")
    threads = {v: os.environ.get(v, "unset") for v in _THREAD_VARS} if not args.threads \
        else dict.fromkeys(_THREAD_VARS, str(args.threads))
    print(f"threads: {' '.join(f'{k}={v}' for k, v in threads.items())}; 1-min load average "
          f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} after\n")
    label_theirs = "SDMetrics QualityReport (2 properties)"
    if their_rows != args.rows:
        label_theirs += f", AT {their_rows:,} ROWS"
    rows = (("synthos collapse stage (8 dimensions)", args.rows, ours),
            (label_theirs, their_rows, theirs))
    width = max(len(label) for label, _, _ in rows)
    header = (f"{'figure':<{width}} {'rows':>10} {'wall s':>8} {'cpu s':>8} {'peak MB':>8} "
              f"{'+MB':>7} {'cpu vs theirs':>14} {'peak vs theirs':>15}")
    print(header)
    print("-" * len(header))
    for label, n, r in rows:
        cpu = f"{r['cpu_s'] / theirs['cpu_s']:.3f}x"
        peak = f"{r['peak_mb'] / theirs['peak_mb']:.3f}x"
        print(f"{label:<{width}} {n:>10,} {r['wall_s']:>8.2f} {r['cpu_s']:>8.2f} "
              f"{r['peak_mb']:>8.0f} {r['above_base_mb']:>7.0f} {cpu:>14} {peak:>15}")
    plus = f"{ours['above_base_mb'] / theirs['above_base_mb']:.3f}x"
    print(f"{'  +MB, ours / theirs':<{width}} {'':>10} {'':>8} {'':>8} {'':>8} {plus:>7}")
    if their_rows != args.rows:
        print(f"\nNOTE: SDMetrics did not finish within {args.sdmetrics_timeout:.0f} s at "
              f"{args.rows:,} rows; its row is measured at {their_rows:,} rows, ours at "
              f"{args.rows:,}. The ratios compare those two runs as they are.")

    print("\nphases (wall s / cpu s / peak MB at the end of the phase)")
    for label, what, r in (("synthos", ("profile + normalize + to_pandas, both tables",
                                        "detect_collapse on the two samples"), ours),
                           ("SDMetrics", ("read_parquet, both tables, + metadata",
                                          "QualityReport.generate on all rows"), theirs)):
        for (phase, p), text in zip(r["phases"].items(), what, strict=True):
            print(f"  {label:<10} {phase:<11} {p['wall_s']:>8.2f} {p['cpu_s']:>8.2f} "
                  f"{p['peak_mb']:>8.0f}  {text}")

    o, t = ours["check"], theirs["check"]
    print(f"\nsynthos: rows read {o['rows']}, sample {o['sample_rows']}, verdict "
          f"{o['verdict']!r}, Column Shapes {o['column_shapes']:.4f}")
    for name, score in o["scores"].items():
        print(f"  {name:<26} {score:>7.2f}  {'pass' if o['passed'][name] else 'FAIL'}")
    print(f"SDMetrics: rows read {t['rows']}, overall score {t['score']:.4f}")
    if t["subsample"] and max(t["rows"]) > t["subsample"]:
        print(f"  (pairs with a categorical or boolean column, ContingencySimilarity: each on "
              f"a fresh unseeded {t['subsample']:,}-row subsample, its default)")
    for name, score in t["properties"].items():
        print(f"  {name:<26} {score:>7.4f}")
    kinds = sorted(f"{c}:{k}" for c, k in o["kinds"].items())
    print(f"\nour kinds: {' '.join(kinds)}")
    print(f"their sdtypes: {' '.join(sorted(f'{c}:{k}' for c, k in t['sdtypes'].items()))}")
    print("+MB: peak resident memory above the process's own after its imports.")


if __name__ == "__main__":
    main()
