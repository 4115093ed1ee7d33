"""Time and peak memory to profile and sample a 1M-row, 20-column table, beside pandas.

    .venv/bin/python benchmarks/load.py [--rows 1000000] [--sample 100000] [--keep DIR]

For each file format (Parquet, CSV) and each reader, a fresh Python process does the same
work: count rows, missing share per column, infer column types, and draw a uniform sample of
``--sample`` rows. synthos does it in one streaming pass (``synthos.io.profile``); pandas reads
the whole file into a DataFrame first (``read_parquet``/``read_csv``, then ``isna().mean()``
and ``sample``). Also timed: ``synthos.io.inspect`` (metadata and schema without a full
read). Each process reports wall and CPU seconds and its peak resident memory above what it
held after its imports. Prints a table.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks.child import run_child  # noqa: E402

_CASES = {
    "synthos profile": ("from synthos.io import profile",
                        "p = profile(PATH, sample_rows=SAMPLE)\n"
                        "check = [p.rows, p.sample.num_rows, len(p.columns)]"),
    "synthos inspect": ("from synthos.io import inspect",
                        "m = inspect(PATH)\ncheck = [m.rows, m.rows_exact, len(m.columns)]"),
    "pandas": ("import pandas as pd",
               "df = pd.read_parquet(PATH) if PATH.endswith('.parquet') else pd.read_csv(PATH)\n"
               "miss = df.isna().mean()\n"
               "kinds = df.dtypes.astype(str).to_dict()\n"
               "s = df.sample(n=min(SAMPLE, len(df)), random_state=0)\n"
               "check = [len(df), len(s), len(kinds)]"),
}


def make_table(rows: int, seed: int = 0) -> pa.Table:
    """20 columns: 8 float (some missing), 5 integer, 3 categorical, 2 boolean, 1 date, 1 id."""
    rng = np.random.default_rng(seed)
    cols: dict[str, np.ndarray | pa.Array] = {"id": np.arange(rows)}
    for i in range(8):
        x = rng.normal(i, 1 + i, rows)
        x[rng.random(rows) < 0.02 * (i % 3)] = np.nan
        cols[f"f{i}"] = x
    for i in range(5):
        cols[f"n{i}"] = rng.poisson(3 + 10 * i, rows)
    for i, levels in enumerate((4, 30, 300)):
        names = np.array([f"level_{j}" for j in range(levels)])
        cols[f"c{i}"] = names[rng.zipf(1.5, rows) % levels]
    for i in range(2):
        cols[f"b{i}"] = rng.random(rows) < 0.3 + 0.2 * i
    days = rng.integers(0, 3650, rows).astype("timedelta64[D]") + np.datetime64("2015-01-01")
    cols["d0"] = days.astype(str)
    return pa.table(cols)


def measure(case: str, path: str, sample: int) -> dict:
    imports, work = _CASES[case]
    work = work.replace("PATH", repr(path)).replace("SAMPLE", str(sample))
    # Each case in its own process: peak memory is a process-wide high-water mark.
    return run_child(imports, work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=100_000)
    parser.add_argument("--keep", default=None, help="write the files here and keep them")
    args = parser.parse_args()

    folder = args.keep or tempfile.mkdtemp(prefix="synthos-bench-")
    os.makedirs(folder, exist_ok=True)
    table = make_table(args.rows)
    paths = {"parquet": os.path.join(folder, "table.parquet"),
             "csv": os.path.join(folder, "table.csv")}
    pq.write_table(table, paths["parquet"])
    table.to_pandas().to_csv(paths["csv"], index=False)
    del table

    print(f"{args.rows:,} rows x 20 columns; sample {args.sample:,}; "
          f"{os.cpu_count()} CPUs; one fresh process per row\n")
    header = (f"{'format':<8} {'size MB':>8} {'reader':<16} {'wall s':>7} {'cpu s':>7} "
              f"{'peak MB':>8} {'+MB':>7} {'wall vs pandas':>15}")
    print(header)
    print("-" * len(header))
    for fmt, path in paths.items():
        size = os.path.getsize(path) / 2**20
        results = {case: measure(case, path, args.sample) for case in _CASES}
        peer = results["pandas"]["wall_s"]
        for case, r in results.items():
            ratio = f"{r['wall_s'] / peer:.2f}x" if case != "pandas" else "1.00x"
            print(f"{fmt:<8} {size:>8.1f} {case:<16} {r['wall_s']:>7.2f} {r['cpu_s']:>7.2f} "
                  f"{r['peak_mb']:>8.0f} {r['above_base_mb']:>7.0f} {ratio:>15}")
        rows = {case: r["check"][0] for case, r in results.items()}
        print(f"{'':<8} rows seen: {rows}")
    print("\n+MB: peak resident memory above the process's own after its imports.")
    print("synthos inspect reads the footer/header and first rows only (CSV rows estimated).")
    if not args.keep:
        for path in paths.values():
            os.unlink(path)
        os.rmdir(folder)


if __name__ == "__main__":
    pd.set_option("display.width", 120)
    main()
