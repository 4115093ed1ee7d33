"""Calibrate one threshold per collapse dimension on the CALIBRATION datasets' labelled cases.

    .venv/bin/python benchmarks/collapse/calibrate.py [--seeds 0 1 2] [--out PATH]
                                                      [--cache DIR] [--fresh]

Scores every case of :data:`~benchmarks.collapse.datasets.CALIBRATION` (4 healthy families, 7
collapsed families x 2 severities, per dataset and seed) with ``detect_collapse`` (kinds from
``synthos.io.schema.infer_schema`` on the reference, as the pipeline's alignment gives them; the
target from ``TARGETS``), then chooses the thresholds (:func:`calibrate`) and writes them, with
the procedure and the calibration rates, to ``thresholds.json`` beside this file.

Per-case scores (and every statistic's observed value, null mean, null spread, z and score) are
cached as JSON lines under ``--cache`` (default ``/tmp/synthos-collapse-bench``), in a file named
by a fingerprint of the detector's and the case generator's source, so that trying another
threshold procedure never recomputes ``detect_collapse``; a change to either source starts a
fresh file. ``run.py`` shares the cache.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
from scipy import stats as sps  # noqa: E402

from benchmarks.collapse.cases import (  # noqa: E402
    FAMILIES,
    HEALTHY_FAMILIES,
    SEVERITIES,
    Case,
    generate_cases,
)
from benchmarks.collapse.datasets import CALIBRATION, HELD_OUT, TARGETS  # noqa: E402
from synthos.collapse import DIMENSIONS, detect_collapse  # noqa: E402
from synthos.collapse.detector import score_from_z  # noqa: E402
from synthos.io.schema import infer_schema  # noqa: E402

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "thresholds.json"
DEFAULT_CACHE = Path("/tmp/synthos-collapse-bench")

# The procedure's knobs (see calibrate()).
FPR_BOUND = 0.025  # calibration false-positive rate allowed
GRID_STEP = 5.0  # thresholds are multiples of this many score points
START_MARGIN = 10.0  # start: this far below the lowest healthy score
SAFETY_STEPS = 1  # after the search, lower each threshold by this many grid steps, if free
CHANCE_FPR = 0.05  # the cap: chance alone may flag at most this share of healthy cases

# Sources whose change changes the scores (thresholds.* only say where scores fail).
_SCORE_SOURCES = [
    *sorted((ROOT / "src" / "synthos" / "collapse").glob("*.py")),
    HERE / "cases.py",
    HERE / "datasets.py",
    ROOT / "src" / "synthos" / "io" / "schema.py",
]


# ---------------------------------------------------------------------------------------------
# cases and their scores


def fingerprint(paths: Iterable[Path]) -> str:
    """Short hash of the given files' bytes (files named thresholds.py are left out)."""
    digest = hashlib.sha256()
    for path in paths:
        if path.name == "thresholds.py":
            continue
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def case_keys(datasets: Iterable[str], seeds: Iterable[int]
              ) -> Iterator[tuple[str, int, str, str]]:
    """(dataset, seed, family, severity) of every case, in generate_cases' order."""
    for dataset in datasets:
        for seed in seeds:
            for family in FAMILIES:
                for severity in (["none"] if family in HEALTHY_FAMILIES else SEVERITIES):
                    yield dataset, seed, family, severity


def case_name(key: tuple[str, int, str, str]) -> str:
    dataset, seed, family, severity = key
    return f"{dataset}/{family}/{severity}/{seed}"


def kinds_of(reference) -> dict[str, str]:
    """Column kinds as the pipeline's alignment infers them from the reference."""
    table = pa.Table.from_pandas(reference, preserve_index=False)
    return {c.name: c.kind for c in infer_schema(table)}


def score_ours(case: Case) -> dict:
    """detect_collapse on one case: every dimension's score and every statistic behind it."""
    kinds = kinds_of(case.reference)
    wall, cpu = time.perf_counter(), time.process_time()
    result = detect_collapse(case.synthetic, case.reference, kinds, target=TARGETS[case.dataset])
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    stats = {}
    for dim in result.dimensions:
        stats[dim.name] = [
            {k: s[k] for k in ("name", "observed", "null_mean", "null_sd", "z", "score")}
            | {"worst": s.get("worst", [])[:3]}
            for s in dim.details["statistics"]
        ]
    return {"scores": {d.name: d.score for d in result.dimensions}, "statistics": stats,
            "wall_s": round(wall, 4), "cpu_s": round(cpu, 4)}


class ScoreCache:
    """Records by case name, appended to a JSON-lines file as they are computed."""

    def __init__(self, path: Path, fresh: bool = False):
        self.path = path
        self.records: dict[str, dict] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        if fresh and path.exists():
            path.unlink()
        if path.exists():
            with path.open() as fh:
                for line in fh:
                    if line.strip():
                        rec = json.loads(line)
                        self.records[rec["case"]] = rec
        self.computed = 0

    def __contains__(self, name: str) -> bool:
        return name in self.records

    def __getitem__(self, name: str) -> dict:
        return self.records[name]

    def put(self, name: str, record: dict) -> None:
        record = {"case": name, **record}
        self.records[name] = record
        self.computed += 1
        with self.path.open("a") as fh:
            fh.write(json.dumps(record) + "\n")


def ours_cache(cache_dir: Path, fresh: bool = False) -> ScoreCache:
    return ScoreCache(cache_dir / f"synthos-{fingerprint(_SCORE_SOURCES)}.jsonl", fresh)


Scorer = Callable[[Case], dict]


def collect(datasets: Iterable[str], seeds: Iterable[int],
            scorers: dict[str, tuple[ScoreCache, Scorer]], progress: bool = True
            ) -> list[dict]:
    """Score every case with every scorer, reading the caches and filling what they lack.

    Returns one row per case: dataset, seed, family, severity, label, and each scorer's record
    under its name.
    """
    keys = list(case_keys(datasets, seeds))
    rows = []
    started = time.perf_counter()
    for i, key in enumerate(keys, 1):
        name = case_name(key)
        missing = [s for s, (cache, _) in scorers.items() if name not in cache]
        if missing:
            dataset, seed, family, severity = key
            (case,) = generate_cases([dataset], [seed], [family],
                                     SEVERITIES if severity == "none" else [severity])
            for s in missing:
                cache, func = scorers[s]
                cache.put(name, func(case))
            if progress:
                print(f"  [{i}/{len(keys)}] {name} scored ({', '.join(missing)}), "
                      f"{time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        dataset, seed, family, severity = key
        rows.append({"case": name, "dataset": dataset, "seed": seed, "family": family,
                     "severity": severity,
                     "label": "healthy" if family in HEALTHY_FAMILIES else "collapsed",
                     **{s: cache[name] for s, (cache, _) in scorers.items()}})
    return rows


# ---------------------------------------------------------------------------------------------
# rates and the threshold search


def score_matrix(rows: list[dict]) -> np.ndarray:
    """Cases x dimensions (in DIMENSIONS' order) of our scores."""
    return np.array([[r["ours"]["scores"][d] for d in DIMENSIONS] for r in rows], dtype=float)


def flags_of(scores: np.ndarray, thresholds: dict[str, float]) -> np.ndarray:
    """A case is flagged when any dimension scores below its threshold."""
    t = np.array([thresholds[d] for d in DIMENSIONS])
    return (scores < t).any(axis=1)


def rates(flagged: np.ndarray, collapsed: np.ndarray) -> dict[str, float]:
    """False-positive and false-negative rates and balanced accuracy of a flag vector."""
    healthy = ~collapsed
    fpr = float(flagged[healthy].mean()) if healthy.any() else float("nan")
    fnr = float((~flagged[collapsed]).mean()) if collapsed.any() else float("nan")
    return {"fpr": fpr, "fnr": fnr, "balanced_accuracy": 1.0 - (fpr + fnr) / 2.0}


def chance_cap(chance_fpr: float = CHANCE_FPR, splits_count: int = 5,
               step: float = GRID_STEP) -> float:
    """The highest threshold that chance alone would cross in at most ``chance_fpr`` of cases.

    A statistic's z divides by a null spread estimated from ``splits_count`` halvings, so on
    healthy data it is Student-t distributed with ``splits_count - 1`` degrees of freedom
    (heavy-tailed: 4 by default), not normal; a case is flagged by any of the statistics
    (Bonferroni over all of them). The score of that z, rounded down to the grid, is the cap.
    """
    count = sum(len(names) for names in DIMENSIONS.values())
    z = float(sps.t.ppf(1.0 - chance_fpr / count, splits_count - 1))
    return float(np.floor(score_from_z(z) / step) * step)


def calibrate(scores: np.ndarray, collapsed: np.ndarray, fpr_bound: float = FPR_BOUND,
              step: float = GRID_STEP, start_margin: float = START_MARGIN,
              safety_steps: int = SAFETY_STEPS, cap: float | None = None
              ) -> dict[str, float]:
    """Choose one threshold per dimension (see the module's README section for the why).

    1. Start each dimension at the lowest score any healthy case got on it, minus
       ``start_margin``, rounded down to the grid: no healthy case is flagged.
    2. Coordinate ascent over the grid 0, step, ..., 100: for each dimension in turn, take the
       threshold that maximizes balanced accuracy while the calibration false-positive rate
       stays at most ``fpr_bound``; a dimension moves only when that strictly raises balanced
       accuracy. Repeat until a pass changes nothing.
       No threshold goes above ``cap`` (:func:`chance_cap` by default): above it, chance
       alone would flag more healthy cases than the goal allows, whatever the calibration
       cases say.
    3. Safety: lower each threshold by ``safety_steps`` grid steps where that loses no
       calibration detection (the lost margin would only have bought false alarms elsewhere).
    """
    cap = chance_cap(step=step) if cap is None else cap
    grid = np.arange(0.0, cap + step / 2, step)
    healthy = ~collapsed
    t = {}
    for j, d in enumerate(DIMENSIONS):
        low = scores[healthy, j].min() - start_margin
        t[d] = float(min(cap, max(0.0, np.floor(low / step) * step)))

    def objective(th: dict[str, float]) -> tuple[bool, float]:
        r = rates(flags_of(scores, th), collapsed)
        return r["fpr"] <= fpr_bound + 1e-12, r["balanced_accuracy"]

    for _ in range(20):
        changed = False
        for d in DIMENSIONS:
            best_t, best_b = t[d], objective(t)[1]
            for g in grid:
                ok, b = objective({**t, d: float(g)})
                # Strict improvement only: a dimension that adds nothing on these cases keeps
                # its safe start, and still guards against failures they do not show.
                if ok and b > best_b + 1e-12:
                    best_t, best_b = float(g), b
            if best_t != t[d]:
                t[d], changed = best_t, True
        if not changed:
            break
    for _ in range(safety_steps):
        for d in DIMENSIONS:
            lower = max(0.0, t[d] - step)
            before = flags_of(scores, t)[collapsed].sum()
            if flags_of(scores, {**t, d: lower})[collapsed].sum() == before:
                t[d] = lower
    return t


def leave_one_dataset_out(rows: list[dict], **kwargs) -> dict[str, dict[str, float]]:
    """Calibrate on all but one dataset, rate on that one: how the procedure generalizes."""
    scores = score_matrix(rows)
    collapsed = np.array([r["label"] == "collapsed" for r in rows])
    names = np.array([r["dataset"] for r in rows])
    out = {}
    for name in dict.fromkeys(names):
        keep = names != name
        th = calibrate(scores[keep], collapsed[keep], **kwargs)
        out[str(name)] = rates(flags_of(scores[~keep], th), collapsed[~keep]) | {
            "healthy_flagged": int(flags_of(scores[~keep], th)[~collapsed[~keep]].sum()),
            "collapsed_missed": int((~flags_of(scores[~keep], th))[collapsed[~keep]].sum())}
    return out


PROCEDURE = (
    "A case is flagged when any dimension scores below its threshold. Thresholds are multiples "
    "of {step:g} points, at most {cap:g}, chosen on the CALIBRATION datasets' cases only (4 "
    "healthy families, 7 collapsed families x 2 severities, seeds {seeds}): each dimension "
    "starts at the lowest score any healthy case got on it minus {margin:g} points (rounded "
    "down to the grid, so no healthy case is flagged); coordinate ascent then moves one "
    "dimension at a time to the grid value that maximizes balanced accuracy subject to a "
    "calibration false-positive rate of at most {bound:.1%}, moving only when that strictly "
    "raises it (a dimension redundant on these cases keeps its safe start, to guard against "
    "failures they do not show), until a full pass changes nothing; finally each threshold "
    "is lowered by {safety} grid step(s) wherever that loses no calibration detection, as a "
    "margin for unseen data. The "
    "cap of {cap:g} is where chance alone would flag {chance:.0%} of healthy cases: each "
    "statistic's z divides by a null spread from 5 halvings, so it is Student-t with 4 degrees "
    "of freedom on healthy data, and any of the {count} statistics flags (Bonferroni); higher "
    "thresholds fit the calibration cases, not the next dataset. Leave-one-dataset-out over "
    "the calibration datasets (calibrate on five, rate the sixth) gave FPR {lodo_fpr:.1%} and "
    "FNR {lodo_fnr:.1%} pooled."
)


# ---------------------------------------------------------------------------------------------
# command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help="folder of the per-case score cache (JSON lines)")
    parser.add_argument("--fresh", action="store_true", help="recompute every case's scores")
    parser.add_argument("--fpr-bound", type=float, default=FPR_BOUND)
    args = parser.parse_args(argv)

    cache = ours_cache(args.cache, args.fresh)
    print(f"scoring {len(CALIBRATION)} calibration datasets x seeds {args.seeds} "
          f"(cache {cache.path})", file=sys.stderr)
    rows = collect(CALIBRATION, args.seeds, {"ours": (cache, score_ours)})
    scores = score_matrix(rows)
    collapsed = np.array([r["label"] == "collapsed" for r in rows])
    thresholds = calibrate(scores, collapsed, fpr_bound=args.fpr_bound)
    r = rates(flags_of(scores, thresholds), collapsed)
    lodo = leave_one_dataset_out(rows, fpr_bound=args.fpr_bound)
    healthy_n = int((~collapsed).sum())
    collapsed_n = int(collapsed.sum())
    lodo_fpr = sum(v["healthy_flagged"] for v in lodo.values()) / healthy_n
    lodo_fnr = sum(v["collapsed_missed"] for v in lodo.values()) / collapsed_n
    doc = {
        "thresholds": thresholds,
        "procedure": PROCEDURE.format(step=GRID_STEP, seeds=", ".join(map(str, args.seeds)),
                                      margin=START_MARGIN, bound=args.fpr_bound,
                                      safety=SAFETY_STEPS, lodo_fpr=lodo_fpr,
                                      cap=chance_cap(), chance=CHANCE_FPR,
                                      count=sum(len(v) for v in DIMENSIONS.values()),
                                      lodo_fnr=lodo_fnr),
        "calibration_datasets": list(CALIBRATION),
        "seeds": list(args.seeds),
        "calibration": {"fpr": round(r["fpr"], 4), "fnr": round(r["fnr"], 4),
                        "balanced_accuracy": round(r["balanced_accuracy"], 4),
                        "cases": len(rows)},
        "held_out_datasets": list(HELD_OUT),
        "leave_one_dataset_out": {k: {m: round(v, 4) if isinstance(v, float) else v
                                      for m, v in val.items()} for k, val in lodo.items()},
        "date": dt.date.today().isoformat(),
        "score_fingerprint": fingerprint(_SCORE_SOURCES),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")

    print(f"\ncalibration: {len(rows)} cases ({healthy_n} healthy, {collapsed_n} collapsed), "
          f"{cache.computed} scored now, the rest from the cache")
    print(f"{'dimension':<26} {'threshold':>9} {'min healthy':>11} {'flags healthy':>13} "
          f"{'flags collapsed':>15}")
    for j, d in enumerate(DIMENSIONS):
        below = scores[:, j] < thresholds[d]
        print(f"{d:<26} {thresholds[d]:>9.1f} {scores[~collapsed, j].min():>11.2f} "
              f"{int(below[~collapsed].sum()):>13} {int(below[collapsed].sum()):>15}")
    print(f"\ncalibration FPR {r['fpr']:.1%}  FNR {r['fnr']:.1%}  "
          f"balanced accuracy {r['balanced_accuracy']:.3f}")
    print("leave one dataset out (calibrate on the others):")
    for name, v in lodo.items():
        print(f"  {name:<14} FPR {v['fpr']:6.1%}  FNR {v['fnr']:6.1%}  "
              f"({v['healthy_flagged']} healthy flagged, {v['collapsed_missed']} missed)")
    print(f"  {'pooled':<14} FPR {lodo_fpr:6.1%}  FNR {lodo_fnr:6.1%}")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
