"""One streaming pass of the diversity sketches over a 10M-row, 20-column Parquet file, its
shard-and-merge, and pandas beside it.

    nice .venv/bin/python benchmarks/diversity.py [--rows 10000000] [--shards 8]
        [--peer-rows 2000000] [--sample 20000] [--keep DIR]

The file is written in row groups (never more than one row group in memory): 8 float columns
(some missing), 5 integer, 4 categorical (4 to 5,000 levels; two dictionary-encoded), 2
boolean and 1 date; 5% of each row group repeats earlier rows of it, so the duplicate count is
not trivially zero. Each measured job runs in a fresh Python process that reports wall and
CPU seconds and its peak resident memory (VmHWM) above what it held after its imports:

- synthos one pass: ``sketch_state`` over the whole file (KLL, HLL, frequent items, exact
  counters, exact duplicate count, 20k-row reservoir sample);
- synthos shards: ``sketch_state`` on each of ``--shards`` groups of row groups, one process
  each, run one after the other, written with ``to_bytes``; then ``merge_states`` in one more
  process. Then every merged statistic is compared with the one-pass state: exact counters
  must be equal, KLL ranks agree within twice the normalized rank error (one error per
  sketch), HLL estimates within the one-pass sketch's 3-sigma bounds;
- pandas: ``read_parquet`` of the first ``--peer-rows`` rows (the whole file holds several GB
  as pandas objects), then ``nunique``, 7 quantiles per numeric column, ``value_counts`` per
  categorical column and ``duplicated().sum()``: the same statistics, exact.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks.child import run_child  # noqa: E402

KINDS = {**{f"f{i}": "numeric" for i in range(8)}, **{f"n{i}": "integer" for i in range(5)},
         **{f"c{i}": "categorical" for i in range(4)}, "b0": "boolean", "b1": "boolean",
         "d0": "datetime"}
_LEVELS = (4, 30, 300, 5000)
_QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def make_file(path: str, rows: int, group_rows: int, seed: int = 0) -> None:
    """Write the benchmark table one row group at a time."""
    rng = np.random.default_rng(seed)
    names = [pa.array([f"level_{j}" for j in range(n)]) for n in _LEVELS]
    writer = None
    for start in range(0, rows, group_rows):
        n = min(group_rows, rows - start)
        cols: dict[str, pa.Array] = {}
        for i in range(8):
            x = rng.normal(i, 1 + i, n)
            x[rng.random(n) < 0.02 * (i % 3)] = np.nan
            cols[f"f{i}"] = pa.array(x)
        for i in range(5):
            cols[f"n{i}"] = pa.array(rng.poisson(3 + 10 * i, n))
        for i, levels in enumerate(_LEVELS):
            idx = pa.array((rng.zipf(1.5, n) - 1) % levels)
            # Two plain string columns, two dictionary-encoded (as pandas categoricals write).
            cols[f"c{i}"] = names[i].take(idx) if i % 2 == 0 else \
                pa.DictionaryArray.from_arrays(idx.cast(pa.int32()), names[i])
        for i in range(2):
            cols[f"b{i}"] = pa.array(rng.random(n) < 0.3 + 0.2 * i)
        days = rng.integers(0, 3650, n).astype("timedelta64[D]") + np.datetime64("2015-01-01")
        cols["d0"] = pa.array(days.astype("datetime64[D]"))
        table = pa.table(cols)
        # 5% of the group's rows repeat earlier rows of the group: a known duplicate load.
        k = n // 20
        if k:
            order = np.arange(n)
            order[n - k:] = rng.integers(0, n - k, k)
            table = table.take(pa.array(order))
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=group_rows)
    assert writer is not None
    writer.close()


def one_pass(path: str, sample: int, out: str) -> dict:
    return run_child(
        "from synthos.diversity import sketch_state",
        f"s = sketch_state({path!r}, {KINDS!r}, sample_rows={sample})\n"
        f"open({out!r}, 'wb').write(s.to_bytes())\n"
        "check = [s.rows, s.duplicate_rate()['value'], s.sample.num_rows]")


def shard(path: str, groups: list[int], sample: int, out: str) -> dict:
    return run_child(
        "from synthos.diversity import sketch_state",
        f"s = sketch_state({path!r}, {KINDS!r}, row_groups={groups!r}, sample_rows={sample})\n"
        f"open({out!r}, 'wb').write(s.to_bytes())\n"
        "check = [s.rows]")


def merge(parts: list[str], out: str) -> dict:
    return run_child(
        "from synthos.diversity import SketchState, merge_states",
        f"states = [SketchState.from_bytes(open(p, 'rb').read(), p) for p in {parts!r}]\n"
        f"m = merge_states(states)\nopen({out!r}, 'wb').write(m.to_bytes())\n"
        "check = [m.rows]")


def analyze_samples(state_path: str) -> dict:
    return run_child(
        "from synthos.diversity import SketchState, analyze_states",
        f"s = SketchState.from_bytes(open({state_path!r}, 'rb').read())\n"
        "r = analyze_states(s, s)\ncheck = [r.compared_rows]")


def pandas_peer(path: str, rows: int) -> dict:
    return run_child(
        "import pandas as pd\nimport pyarrow.parquet as pq",
        f"pf = pq.ParquetFile({path!r})\n"
        f"take, got = [], 0\n"
        f"for g in range(pf.num_row_groups):\n"
        f"    if got >= {rows}: break\n"
        f"    take.append(g); got += pf.metadata.row_group(g).num_rows\n"
        f"df = pf.read_row_groups(take).to_pandas().head({rows})\n"
        "nun = df.nunique()\n"
        f"qs = df[[c for c in df.columns if c[0] in 'fn']].quantile({list(_QUANTILES)!r})\n"
        "vc = {c: df[c].value_counts() for c in df.columns if c[0] == 'c'}\n"
        "dup = int(df.duplicated().sum())\n"
        "check = [len(df), dup / len(df), int(nun.sum())]")


def compare(one_path: str, merged_path: str) -> list[tuple[str, str, str, str]]:
    """Per statistic: the largest difference between merged and one pass, and its bound."""
    from synthos.diversity import SketchState

    with open(one_path, "rb") as fh:
        one = SketchState.from_bytes(fh.read(), one_path)
    with open(merged_path, "rb") as fh:
        mer = SketchState.from_bytes(fh.read(), merged_path)
    rows = [("rows", f"{abs(one.rows - mer.rows)}", "0 (exact)",
             _ok(one.rows == mer.rows))]
    miss = max(abs(one.columns[c].missing - mer.columns[c].missing) for c in KINDS)
    rows.append(("missing counts (20 columns)", f"{miss}", "0 (exact)", _ok(miss == 0)))
    d1, d2 = one.duplicate_rate(), mer.duplicate_rate()
    rows.append(("exact duplicate rows", f"{abs(d1.get('duplicates', 0) - d2.get('duplicates', 0))}"
                 f" (of {d1.get('duplicates')})", "0 (exact)", _ok(d1 == d2)))
    same = one.sample.column("__synthos_row__").equals(mer.sample.column("__synthos_row__"))
    rows.append(("reservoir sample rows", "identical" if same else "differ", "identical",
                 _ok(same)))
    worst, bound, within = 0.0, 0.0, True
    for c in KINDS:
        if one.columns[c].kll is None:
            continue
        ko, km = one.columns[c].kll, mer.columns[c].kll
        eps = ko.normalized_rank_error(False) + km.normalized_rank_error(False)
        for q in _QUANTILES:
            v = km.get_quantile(q)
            # For a value many rows share (an integer column), any rank between the rows
            # below it and the rows up to it is right: measure the distance to that range.
            diff = max(0.0, ko.get_rank(v, False) - q, q - ko.get_rank(v, True))
            worst, bound, within = max(worst, diff), max(bound, eps), within and diff <= eps
    rows.append(("KLL rank of merged quantiles (14 columns x 7 ranks)", f"{worst:.4f}",
                 f"{bound:.4f} (2 x normalized rank error)", _ok(within)))
    worst_rel, bound_rel, inside = 0.0, 0.0, True
    for c in KINDS:
        ho, hm = one.columns[c].hll, mer.columns[c].hll
        est = ho.get_estimate()
        worst_rel = max(worst_rel, abs(hm.get_estimate() - est) / est)
        bound_rel = max(bound_rel, (ho.get_upper_bound(3) - est) / est)
        inside &= ho.get_lower_bound(3) <= hm.get_estimate() <= ho.get_upper_bound(3)
    rows.append(("HLL distinct count, relative (20 columns)", f"{worst_rel:.4%}",
                 f"{bound_rel:.4%} (3-sigma bounds)", _ok(inside)))
    return rows


def _ok(flag: bool) -> str:
    return "ok" if flag else "OUTSIDE"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--group-rows", type=int, default=500_000, help="rows per row group")
    ap.add_argument("--peer-rows", type=int, default=2_000_000,
                    help="rows pandas reads (it holds them all in memory)")
    ap.add_argument("--sample", type=int, default=20_000)
    ap.add_argument("--keep", help="write the file and states here instead of a temp dir")
    args = ap.parse_args()
    from synthos.diversity import parquet_shards

    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or tmp
        os.makedirs(work, exist_ok=True)
        path = os.path.join(work, "diversity_bench.parquet")
        t = time.perf_counter()
        make_file(path, args.rows, min(args.group_rows, args.rows))
        made = time.perf_counter() - t
        size = os.path.getsize(path) / 2**20
        print(f"wrote {args.rows:,} rows x 20 columns ({size:.0f} MiB, "
              f"{pq.ParquetFile(path).num_row_groups} row groups) in {made:.0f} s", flush=True)

        results = []
        one_state = os.path.join(work, "one.bin")
        r = one_pass(path, args.sample, one_state)
        results.append(("synthos one pass (sketch_state)", args.rows, r))
        print(f"one pass done: {r['wall_s']:.1f} s", flush=True)
        parts, shard_runs = [], []
        for i, groups in enumerate(parquet_shards(path, args.shards)):
            out = os.path.join(work, f"shard{i}.bin")
            shard_runs.append(shard(path, groups, args.sample, out))
            parts.append(out)
        merged_state = os.path.join(work, "merged.bin")
        m = merge(parts, merged_state)
        total = {"wall_s": sum(s["wall_s"] for s in shard_runs),
                 "cpu_s": sum(s["cpu_s"] for s in shard_runs),
                 "above_base_mb": max(s["above_base_mb"] for s in shard_runs)}
        results.append((f"synthos {len(parts)} shards, one process each (sum; peak = max)",
                        args.rows, total))
        results.append((f"synthos merge of {len(parts)} states", args.rows, m))
        results.append(("synthos exact statistics on the 20k sample (analyze_states)",
                        args.sample, analyze_samples(one_state)))
        peer_rows = min(args.peer_rows, args.rows)
        results.append(("pandas read + nunique/quantile/value_counts/duplicated", peer_rows,
                        pandas_peer(path, peer_rows)))

        print()
        print("| job | rows | wall s | CPU s | peak MB above base | rows/s |")
        print("|---|---|---|---|---|---|")
        for label, rows, res in results:
            rate = rows / res["wall_s"] if res["wall_s"] else float("nan")
            print(f"| {label} | {rows:,} | {res['wall_s']:.1f} | {res['cpu_s']:.1f} | "
                  f"{res['above_base_mb']:.0f} | {rate:,.0f} |")
        one_rate = args.rows / results[0][2]["wall_s"]
        peer = results[-1][2]
        peer_rate = peer_rows / peer["wall_s"]
        print(f"\nrows/s, synthos one pass over pandas (at {peer_rows:,} rows): "
              f"{one_rate / peer_rate:.2f}x; memory per million rows: synthos "
              f"{results[0][2]['above_base_mb'] / (args.rows / 1e6):.0f} MB, pandas "
              f"{peer['above_base_mb'] / (peer_rows / 1e6):.0f} MB")
        print(f"duplicate rate: synthos (whole file, exact) {results[0][2]['check'][1]:.4f}; "
              f"pandas (first {peer_rows:,} rows) {peer['check'][1]:.4f}")
        print()
        print(f"| shard-and-merge vs one pass ({len(parts)} shards) | difference | bound | |")
        print("|---|---|---|---|")
        for stat, diff, bound, ok in compare(one_state, merged_state):
            print(f"| {stat} | {diff} | {bound} | {ok} |")


if __name__ == "__main__":
    main()
