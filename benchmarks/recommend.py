"""Recommendations on collapsed cases: does the top one, applied, raise the failing dimension?

    python -m benchmarks.recommend [--datasets NAME ...] [--seeds 0] [--severities low high]
        [--families FAMILY ...] [--max-rows 3000] [--threads 1] [--out results.json]

For every *collapsed* case of the collapse benchmark (:func:`benchmarks.collapse.cases.
generate_cases` on the chosen datasets, seeds, collapse families and severities; healthy cases
are not run; by default the HELD_OUT datasets but digits, see "Cost") this runs the three stages
in a row, as the pipeline would, with ``kinds`` from ``column_kinds(reference)``, the case's
seed, and ``target=TARGETS[dataset]`` only where that column is categorical or boolean (else
None), the same target for all three:

1. ``detect_collapse(synthetic, reference, kinds)``; a case it does not flag
   (``collapse_detected`` false) is a *miss*: counted, not recommended on;
2. ``localize(synthetic, reference, kinds)`` (the flagged rows and the missing categories and
   tails that the actions use);
3. ``recommend(synthetic, reference, kinds, collapse_doc, loc.summary, loc.table)``, which
   applies each candidate action to the synthetic table and re-scores the 8 dimensions. Actions
   that remove rows are scored against the whole reference, from ``rec["before"]`` (the collapse
   stage's own scores); actions that add real rows are scored against the 70 % of the reference
   kept for evaluation (the other 30 % is the donor pool they draw from), from
   ``rec["before_evaluation"]`` (the unchanged table against that 70 %). Each recommendation's
   ``changes`` are against its own base (``scored_against``).

The *failing dimension* of a case is the lowest-scoring dimension that fails in ``rec["before"]``
(score below its threshold); when none fails there, the lowest-scoring of the dimensions the
collapse stage failed (``rec["failing_dimensions"]``; the "fallback" count in the footer); when
that list is empty the case *passes on re-scoring* and is skipped (counted). With ``before``
being the collapse stage's scores, the first rule always applies; the others guard a library
that re-scores the baseline. The *top* recommendation is the first ``measured`` one of the
ranked list (estimates such as "regenerate the flagged rows" are never applied, so never
measured); its *raise* is the failing dimension's change, ``changes.get(dim, 0)`` (after -
before on the action's own base, in score points; moves under 0.01 are reported as 0). The
*hindsight best* is the measured recommendation with the largest raise of the failing
dimension; the top "is best" when its raise equals that maximum (ties count). The footer counts
the cases where the failing dimension does not fail against the evaluation part at all
(``before_evaluation``), where an addition's raise and ``passes_after`` say little, and those
whose top is an addition that "passes after" although the table already passed every threshold
against the evaluation part before it.

Printed, as markdown tables:

- per collapse family (both severities pooled) and overall: collapsed cases run, flagged by the
  collapse stage, recommended on; the share where the top raised the failing dimension
  (raise > 0), the mean and median raise in points, the share passing every threshold after the
  top is applied (``passes_after``), the most common top action (with its count), and the share
  where the top is the hindsight best; then, over the same cases, the mean raise of the
  hindsight best (what a perfect ranking would get) and the mean cost share of the top (rows
  removed + real rows added, over the synthetic rows);
- per action (the two ``mix_real`` ratios apart; "base": what it is scored against): how
  often it was measured, how often it was
  top, its mean ``gain`` (shortfall points recovered over all dimensions) when top and over all
  cases where it was measured, the share of those cases where it raised the failing dimension
  and its mean raise there, and how often it was the hindsight best;
- per failing dimension: cases, the share the top raised, its mean raise, the share passing
  after, and the most common top.

How to read it: a ranking that works puts an action that raises the failing dimension on top
(share near 100 %, mean raise well above 0, top = best most of the time, the top's mean raise
near the best's). An action that is measured often but never raises the failing dimension, or a
top with a negative mean raise, points at the ranking or the action. ``recommend`` ranks the
measured actions that pass every threshold after ("cures") first, then by ``gain_per_cost``
(gain over the percent of rows touched, at least 1); ``gain`` counts side effects on every
dimension, so a cheap action can rank first while the failing dimension itself moves little.

Cost: ``recommend`` calls ``detect_collapse`` once for the before and once per measured action
(up to 8), on top of one ``detect_collapse`` and one ``localize`` per case, so every case's
synthetic and reference tables are capped at ``--max-rows`` rows each by a seeded random
subsample (its own stream per dataset, family, severity, seed and side; original row order
kept); the footer says which were capped. digits is left out of the default datasets: its 62
columns make one ``detect_collapse`` call take ~12 s here whatever the cap, about 2 minutes a
case. Timings are wall-clock seconds on whatever else the machine runs, with native thread
pools (OpenMP, BLAS) held to ``--threads`` (default 1: on a shared 2-core machine boosted trees
with one thread per core thrash). ``--out`` writes every record (errors with their traces) as
JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
import traceback
import zlib
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from benchmarks.collapse.cases import COLLAPSE_FAMILIES, SEVERITIES, Case, generate_cases  # noqa: E402
from benchmarks.collapse.datasets import DATASETS, HELD_OUT, TARGETS, column_kinds  # noqa: E402
from synthos.collapse import detect_collapse  # noqa: E402
from synthos.localize import localize  # noqa: E402
from synthos.recommend import recommend  # noqa: E402
from synthos.recommend.actions import MIX_RATIOS  # noqa: E402

#: HELD_OUT without digits: its 62 columns make one ``detect_collapse`` call take ~12 s here
#: whatever the row cap (measured: 12.4 s at 899 rows, 12.1 s at 600), so ~2 min per case and
#: ~25 min for its 14 cases alone; ask for it with ``--datasets digits``.
DEFAULT_DATASETS: tuple[str, ...] = tuple(d for d in HELD_OUT if d != "digits")
DEFAULT_SEEDS: tuple[int, ...] = (0,)
#: Each case's synthetic and reference tables are capped at this many rows (None: no cap).
DEFAULT_MAX_ROWS: int | None = 3000


# ---------------------------------------------------------------------------------------------
# one case


def cap_rows(frame: pd.DataFrame, max_rows: int | None, case: Case, side: str) -> pd.DataFrame:
    """A seeded random subsample of at most ``max_rows`` rows (original order kept)."""
    if max_rows is None or len(frame) <= max_rows:
        return frame
    key = f"{case.dataset}/{case.family}/{case.severity}/{case.seed}/{side}"
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    keep = np.sort(rng.choice(len(frame), size=max_rows, replace=False))
    return frame.iloc[keep].reset_index(drop=True)


def label_target(dataset: str, kinds: dict[str, str]) -> str | None:
    """``TARGETS[dataset]`` where the reference holds it as categorical or boolean, else None."""
    target = TARGETS.get(dataset)
    return target if kinds.get(target) in ("categorical", "boolean") else None


def action_key(rec: dict) -> str:
    """The action's name; ``mix_real`` with its nominal ratio (the two are different actions)."""
    if rec["action"] != "mix_real" or "ratio" not in rec:
        return rec["action"]
    nominal = min(MIX_RATIOS, key=lambda r: abs(r - rec["ratio"]))
    return f"mix_real {nominal:.0%}"


def failing_dimension(rec: dict, thresholds: dict[str, float]) -> tuple[str | None, str]:
    """The dimension a case is judged on, and where it came from (see the module docstring)."""
    before = rec.get("before") or {}
    failed = [d for d, s in before.items() if d in thresholds and s < thresholds[d]]
    if failed:
        return min(failed, key=lambda d: (before[d], d)), "rescored"
    listed = [d for d in rec.get("failing_dimensions") or [] if d in before]
    if listed:
        return min(listed, key=lambda d: (before[d], d)), "fallback"
    return None, "passes_on_rescoring"


def run_case(case: Case, max_rows: int | None = DEFAULT_MAX_ROWS) -> dict:
    """Detect, localize and recommend on one case; return its record (see ``status``)."""
    synthetic = cap_rows(case.synthetic, max_rows, case, "synthetic")
    reference = cap_rows(case.reference, max_rows, case, "reference")
    kinds = column_kinds(reference)
    target = label_target(case.dataset, kinds)
    seed = case.seed
    out: dict = {"dataset": case.dataset, "family": case.family, "severity": case.severity,
                 "seed": seed, "target": target,
                 "rows": {"synthetic": len(case.synthetic), "reference": len(case.reference),
                          "synthetic_kept": len(synthetic), "reference_kept": len(reference)},
                 "capped": (len(synthetic), len(reference))
                 != (len(case.synthetic), len(case.reference))}
    t0 = time.perf_counter()
    collapse = detect_collapse(synthetic, reference, kinds, target=target, seed=seed).to_dict()
    out["detect_s"] = time.perf_counter() - t0
    thresholds = {d["name"]: d["threshold"] for d in collapse["dimensions"]}
    out["scores"] = {d["name"]: d["score"] for d in collapse["dimensions"]}
    out["thresholds"] = thresholds
    if not collapse["collapse_detected"]:
        out["status"] = "missed"
        return out
    t0 = time.perf_counter()
    loc = localize(synthetic, reference, kinds, target=target, seed=seed)
    out["localize_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    rec = recommend(synthetic, reference, kinds, collapse, loc.summary, loc.table,
                    target=target, seed=seed)
    out["recommend_s"] = time.perf_counter() - t0
    out["failing_dimensions"] = rec["failing_dimensions"]
    out["before"] = rec["before"]
    out["before_evaluation"] = rec.get("before_evaluation")
    dim, source = failing_dimension(rec, thresholds)
    out["dimension"], out["dimension_source"] = dim, source
    measured = [r for r in rec["recommendations"] if r["measured"]]
    out["measured"] = [{"action": action_key(r), "rank": r["rank"],
                        "scored_against": r.get("scored_against", "evaluation"), "gain": r["gain"],
                        "gain_per_cost": r["gain_per_cost"], "share": r["cost"]["share"],
                        "passes_after": r["passes_after"],
                        "raise": None if dim is None else r["changes"].get(dim, 0.0),
                        "changes": r["changes"]} for r in measured]
    out["estimates"] = [r["action"] for r in rec["recommendations"] if not r["measured"]]
    if dim is None:
        out["status"] = "passes_on_rescoring"
        return out
    if not measured:
        out["status"] = "no_measured"
        return out
    top = measured[0]
    best = max(measured, key=lambda r: r["changes"].get(dim, 0.0))
    top_raise = top["changes"].get(dim, 0.0)
    best_raise = best["changes"].get(dim, 0.0)
    evaluation = out["before_evaluation"]
    if evaluation is not None:
        out["dim_fails_on_evaluation"] = evaluation[dim] < thresholds[dim]
        out["passes_on_evaluation"] = all(evaluation[d] >= t for d, t in thresholds.items())
    out.update(status="ok", before_score=rec["before"][dim], threshold=thresholds[dim],
               top={"action": action_key(top), "title": top["title"], "rank": top["rank"],
                    "scored_against": top.get("scored_against", "evaluation"),
                    "raise": top_raise, "raised": top_raise > 0,
                    "passes_after": bool(top["passes_after"]), "gain": top["gain"],
                    "share": top["cost"]["share"]},
               best={"action": action_key(best), "raise": best_raise},
               top_is_best=top_raise >= best_raise)
    return out


# ---------------------------------------------------------------------------------------------
# the run


def run(datasets: list[str], seeds: list[int], severities: list[str], families: list[str],
        max_rows: int | None, threads: int | None = 1) -> dict:
    """Every collapsed case of the choice, one record each (errors with their traces)."""
    if threads is None:
        return _run(datasets, seeds, severities, families, max_rows, threads)
    with threadpool_limits(threads):
        return _run(datasets, seeds, severities, families, max_rows, threads)


def _run(datasets: list[str], seeds: list[int], severities: list[str], families: list[str],
         max_rows: int | None, threads: int | None) -> dict:
    records: list[dict] = []
    started = time.perf_counter()
    for case in generate_cases(datasets, seeds, families=families, severities=severities):
        if case.label != "collapsed":
            continue
        t0 = time.perf_counter()
        try:
            record = run_case(case, max_rows)
        except Exception as exc:  # report and go on: one failure must not lose the run
            record = {"dataset": case.dataset, "family": case.family,
                      "severity": case.severity, "seed": case.seed, "status": "error",
                      "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
            print(f"  ERROR {case.name}: {record['error']}", file=sys.stderr, flush=True)
        record["seconds"] = time.perf_counter() - t0
        records.append(record)
        top = record.get("top")
        what = (f"{record['dimension']} {record['before_score']:.1f} -> top {top['action']}"
                f" {top['raise']:+.2f}, best {record['best']['action']}"
                f" {record['best']['raise']:+.2f}") if top else record["status"]
        print(f"{case.dataset} seed {case.seed} {case.family} {case.severity}: {what}"
              f" ({record['seconds']:.1f}s)", file=sys.stderr, flush=True)
    return {"config": {"datasets": datasets, "seeds": seeds, "severities": severities,
                       "families": families, "max_rows": max_rows, "threads": threads},
            "records": records, "wall_s": time.perf_counter() - started}


# ---------------------------------------------------------------------------------------------
# printing


def _pct(x: float) -> str:
    return "—" if x is None or x != x else f"{100 * x:.0f}%"


def _f(x: float, digits: int = 2) -> str:
    return "—" if x is None or x != x else f"{x:+.{digits}f}"


def _mean(values) -> float:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else math.nan


def _markdown(head: list[str], rows: list[list[str]], left: int = 1) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cells) + " |"

    rule = ["---" if i < left else "---:" for i in range(len(head))]
    return "\n".join([line(head), line(rule), *(line(r) for r in rows)])


def family_table(records: list[dict], families: list[str]) -> str:
    head = ["family", "cases", "flagged", "recommended", "top raised dim", "mean raise",
            "median raise", "passes after", "most common top", "top = best", "best's raise",
            "top cost"]
    rows = []
    for label, group in [(f, [r for r in records if r["family"] == f]) for f in families] + [
            ("**all**", records)]:
        done = [r for r in group if r["status"] == "ok"]
        raises = [r["top"]["raise"] for r in done]
        common = Counter(r["top"]["action"] for r in done).most_common(1)
        rows.append([
            label, str(len(group)),
            str(sum(r["status"] not in ("missed", "error") for r in group)), str(len(done)),
            _pct(_mean(r["top"]["raised"] for r in done)), _f(_mean(raises)),
            _f(statistics.median(raises)) if raises else "—",
            _pct(_mean(r["top"]["passes_after"] for r in done)),
            f"{common[0][0]} ({common[0][1]})" if common else "—",
            _pct(_mean(r["top_is_best"] for r in done)),
            _f(_mean(r["best"]["raise"] for r in done)),
            _pct(_mean(r["top"]["share"] for r in done)),
        ])
    return _markdown(head, rows)


def action_table(records: list[dict]) -> str:
    done = [r for r in records if r["status"] == "ok"]
    stats: dict[str, dict] = defaultdict(lambda: {"measured": [], "top": [], "best": 0})
    for r in done:
        for m in r["measured"]:
            stats[m["action"]]["measured"].append(m)
        stats[r["top"]["action"]]["top"].append(r["top"])
        stats[r["best"]["action"]]["best"] += 1
    head = ["action", "base", "measured", "top", "mean gain as top", "mean gain", "raised dim",
            "mean raise", "hindsight best"]
    rows = []
    for name, s in sorted(stats.items(), key=lambda kv: (-len(kv[1]["top"]),
                                                         -len(kv[1]["measured"]), kv[0])):
        ms = s["measured"]
        base = "/".join(sorted({m["scored_against"] for m in ms}))
        rows.append([name, base, str(len(ms)), str(len(s["top"])),
                     _f(_mean(t["gain"] for t in s["top"])), _f(_mean(m["gain"] for m in ms)),
                     _pct(_mean(m["raise"] > 0 for m in ms)), _f(_mean(m["raise"] for m in ms)),
                     str(s["best"])])
    return _markdown(head, rows, left=2)


def dimension_table(records: list[dict]) -> str:
    done = [r for r in records if r["status"] == "ok"]
    head = ["failing dimension", "cases", "top raised dim", "mean raise", "passes after",
            "most common top"]
    rows = []
    for dim, n in Counter(r["dimension"] for r in done).most_common():
        group = [r for r in done if r["dimension"] == dim]
        common = Counter(r["top"]["action"] for r in group).most_common(1)[0]
        rows.append([dim, str(n), _pct(_mean(r["top"]["raised"] for r in group)),
                     _f(_mean(r["top"]["raise"] for r in group)),
                     _pct(_mean(r["top"]["passes_after"] for r in group)),
                     f"{common[0]} ({common[1]})"])
    return _markdown(head, rows)


def footer(results: dict) -> list[str]:
    cfg = results["config"]
    records = results["records"]
    status = Counter(r["status"] for r in records)
    lines = [
        f"Collapsed cases run: {len(records)} ({status['ok']} recommended on;"
        f" {status['missed']} not flagged by the collapse stage; {status['passes_on_rescoring']}"
        f" with no failing dimension left in the baseline; {status['no_measured']} with no"
        f" measured recommendation; {status['error']} errors).",
        f"Failing dimension from rec['before'] (the collapse stage's scores) in"
        f" {sum(r.get('dimension_source') == 'rescored' for r in records if r['status'] == 'ok')}"
        f" case(s), from the collapse stage's failing list (fallback) in"
        f" {sum(r.get('dimension_source') == 'fallback' for r in records if r['status'] == 'ok')}.",
        "Raise: the failing dimension's change in score points after the top measured"
        " recommendation is applied (moves under 0.01 count as 0). 'passes after': every"
        " dimension at or above its threshold after it. 'top = best': the top's raise equals the"
        " largest raise of any measured recommendation (ties count). 'best's raise': that"
        " largest raise. 'top cost': rows removed + real rows added, over the synthetic rows.",
        "Target passed to all three stages only where TARGETS names a categorical/boolean column.",
    ]
    done = [r for r in records if r["status"] == "ok"]
    split = [r for r in done if "dim_fails_on_evaluation" in r]
    if split:
        not_failing = [r for r in split if not r["dim_fails_on_evaluation"]]
        hollow = [r for r in split if r["passes_on_evaluation"]
                  and r["top"]["scored_against"] == "evaluation" and r["top"]["passes_after"]]
        lines.append(
            f"Base of additions (the evaluation part, 70 % of the reference): the failing"
            f" dimension does not fail there in {len(not_failing)} of {len(split)} cases;"
            f" every dimension already passes there in"
            f" {sum(r['passes_on_evaluation'] for r in split)}; in {len(hollow)} of these the top"
            f" is an addition ranked as a cure ('passes after') on that base"
            + (": " + ", ".join(f"{r['dataset']} {r['family']} {r['severity']}"
                                 f" ({r['top']['action']})" for r in hollow) if hollow else "")
            + ".")
    capped = sorted({(r["dataset"], r["rows"]["reference"], r["rows"]["reference_kept"])
                     for r in records if r.get("capped")})
    if cfg["max_rows"] is None:
        lines.append("No row cap.")
    elif capped:
        syn = [r for r in records if r.get("capped")]
        lines.append(
            f"Capped at {cfg['max_rows']} rows per table by a seeded random subsample:"
            f" {len(syn)} case{'s' if len(syn) != 1 else ''} of "
            + ", ".join(sorted({f"{d} (reference {a} -> {b})" for d, a, b in capped}))
            + "; synthetic tables over the cap subsampled the same way.")
    else:
        lines.append(f"Row cap {cfg['max_rows']} per table: no case reached it.")
    seconds = [r["seconds"] for r in records]
    rec_s = [r["recommend_s"] for r in records if "recommend_s" in r]
    lines.append(
        f"Wall time: {results['wall_s']:.0f}s for the whole run ({cfg['threads'] or 'default'}"
        f" native thread{'s' if cfg['threads'] != 1 else ''}); {_mean(seconds):.1f}s per case"
        f" (mean of {len(seconds)}, max {max(seconds) if seconds else math.nan:.1f}s), of which"
        f" recommend {_mean(rec_s):.1f}s, localize"
        f" {_mean(r.get('localize_s') for r in records):.1f}s, detect"
        f" {_mean(r.get('detect_s') for r in records):.1f}s.")
    per = {d: _mean(r["seconds"] for r in records if r["dataset"] == d)
           for d in cfg["datasets"]}
    lines.append("Seconds per case by dataset: "
                 + ", ".join(f"{d} {v:.1f}" for d, v in per.items() if v == v) + ".")
    errors = [r for r in records if r["status"] == "error"]
    if errors:
        lines.append(f"ERRORS: {len(errors)} cases failed:")
        lines.extend(f"  {r['dataset']} seed {r['seed']} {r['family']} {r['severity']}:"
                     f" {r['error']}" for r in errors)
    return lines


def report(results: dict) -> str:
    cfg = results["config"]
    records = results["records"]
    parts = [
        f"# Recommendations on collapsed cases: {', '.join(cfg['datasets'])}; seeds"
        f" {' '.join(map(str, cfg['seeds']))}; severities {' '.join(cfg['severities'])}",
        "",
        "## Top measured recommendation, per collapse family",
        "",
        family_table(records, cfg["families"]),
        "",
        "## Per action",
        "",
        action_table(records),
        "",
        "## Per failing dimension",
        "",
        dimension_table(records),
        "",
        *(f"- {line}" for line in footer(results)),
    ]
    return "\n".join(parts)


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", choices=sorted(DATASETS),
                        default=list(DEFAULT_DATASETS), metavar="NAME")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(DEFAULT_SEEDS))
    parser.add_argument("--severities", nargs="+", choices=SEVERITIES, default=list(SEVERITIES))
    parser.add_argument("--families", nargs="+", choices=COLLAPSE_FAMILIES,
                        default=list(COLLAPSE_FAMILIES))
    parser.add_argument("--max-rows", type=int, default=DEFAULT_MAX_ROWS,
                        help=f"cap each table at this many rows by a seeded random subsample"
                             f" (default {DEFAULT_MAX_ROWS}; 0: no cap)")
    parser.add_argument("--threads", type=int, default=1,
                        help="native (OpenMP, BLAS) threads for the run (default 1; 0: the"
                             " libraries' defaults)")
    parser.add_argument("--out", type=Path, help="write every record here as JSON")
    args = parser.parse_args(argv)
    families = [f for f in COLLAPSE_FAMILIES if f in args.families]
    severities = [s for s in SEVERITIES if s in args.severities]
    results = run(args.datasets, args.seeds, severities, families, args.max_rows or None,
                  threads=args.threads or None)
    print(report(results))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1, default=_plain))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
