"""Wall time and peak memory of `synthos validate --profile quick` on a large pair.

    .venv/bin/python benchmarks/validate_speed.py [--rows 1000000] [--format parquet|csv]

Writes a synthetic/reference pair of ``--rows`` rows each (20 mixed columns, the synthetic one
with two columns' spread shrunk) in a separate process, then runs the real command, as a user
would, with MLflow in a temporary SQLite store. Reports the command's wall time, the time of
each stage from its summary.json, and the peak resident memory of the largest process it ran
(the command or one of its stage subprocesses). Prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_WRITE = """
import sys
sys.path.insert(0, {root!r})
import pyarrow.parquet as pq, pyarrow.compute as pc, pyarrow as pa
from benchmarks.load import make_table
ref = make_table({rows}, seed=1)
syn = make_table({rows}, seed=2)
for name in ("f0", "f3"):  # a generator that narrows two columns: collapse to find
    col = syn.column(name)
    mean = pc.mean(col).as_py()
    syn = syn.set_column(syn.schema.get_field_index(name), name,
                         pc.add(pc.multiply(pc.subtract(col, mean), 0.7), mean))
for table, path in ((ref, {ref!r}), (syn, {syn!r})):
    if path.endswith(".parquet"):
        pq.write_table(table, path)
    else:
        table.to_pandas().to_csv(path, index=False)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    args = parser.parse_args()
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory(prefix="synthos-validate-bench-") as tmp:
        ref, syn = os.path.join(tmp, f"real.{args.format}"), os.path.join(tmp, f"syn.{args.format}")
        # Written by another process: Linux carries a parent's peak memory into the children
        # it execs, and this process must stay small for the measurement to be the command's.
        subprocess.run([sys.executable, "-c", _WRITE.format(root=str(root), rows=args.rows,
                                                            ref=ref, syn=syn)], check=True)
        out = os.path.join(tmp, "out")
        env = {**os.environ, "SYNTHOS_HOME": os.path.join(tmp, "home")}
        env.pop("MLFLOW_TRACKING_URI", None)
        synthos = str(Path(sys.executable).with_name("synthos"))
        started = time.perf_counter()
        done = subprocess.run([synthos, "validate", syn, "--reference", ref, "--out", out,
                               "--profile", "quick", "--quiet"], env=env, capture_output=True,
                              text=True)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"synthos validate failed ({done.returncode}):\n{done.stderr[-3000:]}")
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        summary = json.loads(Path(out, "summary.json").read_text())
        sizes = {p: os.path.getsize(p) / 2**20 for p in (syn, ref)}

    print(f"synthos validate --profile quick: {args.rows:,} + {args.rows:,} rows x 20 columns, "
          f"{args.format} ({sizes[syn]:.0f} + {sizes[ref]:.0f} MB), {os.cpu_count()} CPUs\n")
    print(f"{'figure':<42} {'value':>10}")
    print("-" * 53)
    print(f"{'wall time of the command (s)':<42} {wall:>10.1f}")
    for stage, seconds in summary["timings_s"].items():
        print(f"{'  stage ' + stage + ' (s, inside its process)':<42} {seconds:>10.1f}")
    print(f"{'peak memory of the largest process (MB)':<42} {peak_mb:>10.0f}")
    print(f"\nverdict: {summary['verdict']}; failed: "
          f"{[d['name'] for d in summary['dimensions'] if not d['passed']]}")
    print("scores: " + ", ".join(f"{d['name']} {d['score']:.0f}" for d in summary["dimensions"]))
    print("The stage times exclude each task's process start (about 3 s: Python, kfp and mlflow "
          "imports).")


if __name__ == "__main__":
    main()
