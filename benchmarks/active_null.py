"""How often does a detector that sees nothing join localize's combined score?

    .venv/bin/python -m benchmarks.active_null [--draws 40] [--seed 0]

For each (synthetic rows, real rows) size, ``--draws`` times: a detector's statistic on the
synthetic rows and on the real rows (its null) drawn from one standard normal, so the synthetic
rows are drawn like the real ones and the detector should stay out of the score; then
:func:`synthos.localize.locate._active` (the stage's own rule) is asked about it beside a
detector that scores every row 0. Printed: the share of draws in which it joined, per size, and
which test let it in (the first that passed, in the order the rule tries them). The rule's
nominal rate is at most its ``ACTIVE_P`` (Bonferroni over its tests): a higher share means
the rule's tests are not valid at that size. Sizes: a million synthetic rows against the
stage's 20,000-row null (the largest table the stage scores), the pipeline's default sample of
100,000 against 20,000, and equal halves of 10,000, 800 and 172 rows (the localize benchmark's
randhie, digits-like and penguins tables).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

SIZES = ((1_000_000, 20_000), (100_000, 20_000), (10_000, 10_000), (800, 800), (172, 172))


def which_test(scores: np.ndarray, own: np.ndarray) -> str:
    """Name of the first of the rule's tests that passes ("none" when none does)."""
    from synthos.localize.locate import row_test_passed

    return row_test_passed(scores, own) or "none"


def run(draws: int, seed: int, sizes: tuple = SIZES) -> list[dict]:
    """One record per (synthetic rows, real rows) of ``sizes``: draws, the share of them in
    which the detector joined, and the tests that let it in."""
    from synthos.localize.detectors import Detection
    from synthos.localize.locate import _active, _scores

    rng = np.random.default_rng(seed)
    out = []
    for n, m in sizes:
        joined, by_test = 0, {}
        started = time.perf_counter()
        for _ in range(draws):
            null, stat = rng.normal(size=m), rng.normal(size=n)
            detections = {"noise": Detection("noise", stat, null),
                          "zero": Detection("zero", np.zeros(n), np.zeros(m))}
            scored = {nm: _scores(d) for nm, d in detections.items()}
            if _active(["noise", "zero"], scored, detections) == ["noise"]:
                joined += 1
                name = which_test(scored["noise"][0], scored["noise"][1])
                by_test[name] = by_test.get(name, 0) + 1
        out.append({"synthetic": n, "real": m, "draws": draws, "joined": joined / draws,
                    "by_test": by_test, "seconds": time.perf_counter() - started})
    return out


def report(records: list[dict]) -> str:
    lines = ["| synthetic rows | real rows (null) | draws | joined | let in by | s |",
             "|---:|---:|---:|---:|---|---:|"]
    for r in records:
        tests = ", ".join(f"{k} {v}" for k, v in sorted(r["by_test"].items())) or "—"
        lines.append(f"| {r['synthetic']:,} | {r['real']:,} | {r['draws']} | "
                     f"{r['joined']:.1%} | {tests} | {r['seconds']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--draws", type=int, default=40, help="draws per size (default 40)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the draws (default 0)")
    args = parser.parse_args(argv)
    print(report(run(args.draws, args.seed)))
    from synthos.localize.locate import ACTIVE_P

    print("\n- A detector whose rows are drawn like the real ones; the rule's nominal rate is "
          f"at most ACTIVE_P = {ACTIVE_P:.1%}. 'let in by': the first of the rule's tests "
          "that passed.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
