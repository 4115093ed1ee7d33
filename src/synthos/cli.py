"""The ``synthos`` command.

Exit codes: 0 the command ran (whatever the verdict); 2 bad input or bad usage, with one line
on stderr naming the file and the problem; 3 ``--fail-on-collapse`` was given and collapse was
detected; 1 an internal failure (a bug: the log says where).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, NoReturn

from synthos.defaults import ROW_GROUPS_PER_SHARD, SAMPLE_ROWS
from synthos.errors import SynthosInputError

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_COLLAPSE = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad usage in one line, as every other input error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INPUT, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="synthos", description="Validate synthetic training data against a "
                     "real reference before you train on it.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    v = sub.add_parser("validate", help="run the validation pipeline on this machine")
    v.add_argument("synthetic", help="synthetic dataset: path, file://, s3:// or gs:// URI")
    v.add_argument("--reference", required=True, help="real reference dataset (path or URI)")
    v.add_argument("--target", default="", help="column a model would predict")
    v.add_argument("--out", default="synthos-out",
                   help="output folder: path, s3:// or gs:// (default: ./synthos-out)")
    v.add_argument("--profile", choices=("quick", "full"), default="quick",
                   help="quick runs every stage but the cascade and NeuroGraph (default)")
    v.add_argument("--fail-on-collapse", action="store_true",
                   help="exit with code 3 when collapse is detected")
    v.add_argument("--sample-rows", type=_positive, default=SAMPLE_ROWS,
                   help=f"rows kept in each input's uniform sample (default {SAMPLE_ROWS})")
    v.add_argument("--seed", type=int, default=0, help="seed of the samples (default 0)")
    v.add_argument("--row-groups-per-shard", type=int, default=ROW_GROUPS_PER_SHARD,
                   help="the diversity pass fans out over shards of about this many row "
                   f"groups when a Parquet input has more (default {ROW_GROUPS_PER_SHARD}; "
                   "0: never)")
    v.add_argument("--library", default="",
                   help="pre-screen signature library: path, s3:// or gs:// folder (default: "
                   "$SYNTHOS_HOME/signatures); --profile full adds this dataset to it")
    v.add_argument("--experiment", default="synthos-validation", help="MLflow experiment")
    v.add_argument("--work-dir", default=None,
                   help="keep KFP's local pipeline root here (default: temporary, removed)")
    v.add_argument("--quiet", action="store_true", help="no progress lines (CI logs)")

    i = sub.add_parser("inspect", help="metadata and schema of a dataset, without a full read")
    i.add_argument("uri", help="path or URI")
    i.add_argument("--json", action="store_true", help="print JSON")

    c = sub.add_parser("compile", help="compile the KFP pipelines to YAML")
    c.add_argument("--out", default=None, help="folder (default: the package's compiled/)")

    d = sub.add_parser("demo", help="build the bundled demo pair and validate it")
    d.add_argument("--out", default="synthos-demo", help="output folder (default: ./synthos-demo)")
    d.add_argument("--quiet", action="store_true", help="no progress lines")

    p = sub.add_parser("prescreen", help="the pre-screen's signature library")
    psub = p.add_subparsers(dest="prescreen_command", required=True, parser_class=_Parser)
    b = psub.add_parser("build-library", help="seed a signature library from the collapse "
                        "benchmark's labelled cases (needs a checkout of the repository)")
    b.add_argument("--library", default=None,
                   help="library: path, s3:// or gs:// folder (default: $SYNTHOS_HOME/signatures)")
    b.add_argument("--datasets", nargs="+", default=["calibration"], metavar="NAME",
                   help="benchmark datasets: calibration, held_out, all, or dataset names "
                   "(default: calibration)")
    b.add_argument("--seeds", type=_non_negative, nargs="+", default=[0, 1, 2],
                   help="seeds of the cases, each its own split and corruptions (default: 0 1 2)")
    b.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"validate": cmd_validate, "inspect": cmd_inspect, "compile": cmd_compile,
                "demo": cmd_demo, "prescreen": cmd_prescreen}[args.command](args)
    except SynthosInputError as err:
        print(f"synthos: {err}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("synthos: interrupted", file=sys.stderr)
        return 130


def cmd_validate(args: argparse.Namespace) -> int:
    from synthos.validate import validate

    progress = None if args.quiet else _Progress()
    summary = validate(args.synthetic, args.reference, target=args.target, out=args.out,
                       profile=args.profile, sample_rows=args.sample_rows, seed=args.seed,
                       experiment=args.experiment, work_dir=args.work_dir,
                       row_groups_per_shard=args.row_groups_per_shard, library=args.library,
                       on_event=progress.event if progress else None)
    if summary is None:
        return EXIT_FAILED
    _print_outcome(summary, args.out)
    if args.fail_on_collapse and summary.get("collapse_detected"):
        return EXIT_COLLAPSE
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from synthos.demo.pair import write_demo_pair

    syn, ref = write_demo_pair(os.path.join(args.out, "inputs"))
    print(f"demo pair: {syn} (synthetic), {ref} (reference)")
    # Through the parser, so the demo takes every other option's default from one place.
    return cmd_validate(build_parser().parse_args(
        ["validate", syn, "--reference", ref, "--target", "diagnosis", "--out", args.out,
         "--experiment", "synthos-demo"] + (["--quiet"] if args.quiet else [])))


def cmd_inspect(args: argparse.Namespace) -> int:
    from synthos.io.profile import inspect

    started = time.perf_counter()
    meta = inspect(args.uri)
    if args.json:
        print(json.dumps(meta.to_dict(), indent=2))
        return EXIT_OK
    if meta.rows is None:
        rows = "unknown without a full read"
    else:
        rows = f"{meta.rows:,}" if meta.rows_exact else f"~{meta.rows:,} (estimated)"
    print(f"{meta.uri}\n  format   {meta.format}\n  size     {meta.bytes:,} bytes\n"
          f"  rows     {rows}\n  columns  {len(meta.columns)} (kinds from the {meta.basis})")
    width = max(len(c.name) for c in meta.columns)
    for c in meta.columns:
        print(f"    {c.name:<{width}}  {c.kind:<11}  {c.arrow_type:<14}  "
              f"missing {100 * c.missing_rate:5.1f}%  distinct {c.distinct:,}")
    print(f"  ({time.perf_counter() - started:.2f}s)")
    return EXIT_OK


def cmd_prescreen(args: argparse.Namespace) -> int:
    from synthos.prescreen.seed import build_library, default_library_uri

    uri = args.library or default_library_uri()
    counts: dict[str, int] = {}

    def progress(case: Any, sig: Any) -> None:
        counts[case.dataset] = counts.get(case.dataset, 0) + 1
        if not args.quiet and case.family == "duplicates" and case.severity == "high":
            print(f"{case.dataset} seed {case.seed}: {counts[case.dataset]} cases",
                  file=sys.stderr, flush=True)

    report = build_library(uri, args.datasets, args.seeds, on_case=progress)
    healthy = report.kinds.get("healthy", 0)
    print(f"added {report.added} entries ({healthy} healthy, {report.added - healthy} "
          f"collapsed) to {report.uri}; it now holds {report.entries} "
          f"({report.seconds:.1f}s)")
    return EXIT_OK


def cmd_compile(args: argparse.Namespace) -> int:
    from synthos_pipelines.compile import COMPILED_DIR, compile_all

    for path in compile_all(args.out or COMPILED_DIR):
        print(path)
    return EXIT_OK


class _Progress:
    """One line per stage as it starts and ends, with elapsed times, on stderr."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        # Bound now: while the pipeline runs, sys.stderr is redirected to capture kfp's noise.
        self.stream = sys.stderr

    def event(self, ev: Any) -> None:
        clock = time.perf_counter() - self.started
        if ev.status == "running":
            line = f"[{clock:6.1f}s] ▶ {ev.label}"
        else:
            mark = "✓" if ev.status == "SUCCESS" else "✗"
            word = "done" if ev.status == "SUCCESS" else "FAILED"
            line = f"[{clock:6.1f}s] {mark} {ev.label}: {word} in {ev.elapsed_s:.1f}s"
        # One write, not print: kfp.local swaps builtins.print while tasks run, and parallel
        # tasks would interleave a print's text and its newline.
        self.stream.write(line + "\n")
        self.stream.flush()


def _print_outcome(summary: dict, out: str) -> None:
    syn, ref = summary["inputs"]["synthetic"], summary["inputs"]["reference"]
    align = summary["alignment"]
    failed = [d["name"] for d in summary["dimensions"] if not d["passed"]]
    verdict = summary["verdict"] + (f" (failed: {', '.join(failed)})" if failed else "")
    print(f"synthetic {syn['rows']:,} rows x {syn['columns']} columns; reference "
          f"{ref['rows']:,} x {ref['columns']}; {len(align['common'])} columns in common, "
          f"{len(align['missing'])} missing, {len(align['extra'])} extra, "
          f"{len(align['mismatched'])} retyped")
    print(f"verdict: {verdict}")
    sep = "/" if "://" in out else os.sep
    print(f"summary: {out.rstrip('/')}{sep}summary.json")
    print(f"report:  {out.rstrip('/')}{sep}report.html")
    print(f"mlflow:  run {summary['mlflow']['run_id']} at {summary['mlflow']['tracking_uri']}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
