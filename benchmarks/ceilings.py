"""How well can any detector find planted rows? Bayes ceilings on tables of known distribution.

    python -m benchmarks.ceilings [--seeds 0 1 2 3 4] [--rates 0.01 0.05 0.10] [--rows 2000]
        [--columns 6] [--threads 1] [--out results.json]

The localize benchmark (:mod:`benchmarks.localize`) plants bad rows into real tables, whose
distribution nobody knows, so it cannot say how well a detector *could* do. Here the healthy
synthetic table and the reference are drawn from a distribution written down, bad rows are
planted, and each row is also scored by the likelihood ratio of the planting process against
the healthy distribution, which no detector can beat in expectation (Neyman–Pearson): its
AUROC is the ceiling of the table. ``synthos.localize`` runs on the same tables.

Two families, for the two kinds whose AUROC in the localize benchmark stays below its goal:

``mixed``   Gaussian tables: ``--columns`` columns (default 6) from N(0, Σ), Σ equicorrelated
            at ρ. A planted row takes a random half of the columns (a set S of d // 2) from one
            row and the rest from another, both fresh draws that neither table holds
            (:func:`plant_fresh_mixes`; the localize benchmark mixes rows of the healthy table,
            which leaves a trace this ceiling does not count): it is N(0, Σ_S), Σ with its
            S-by-rest blocks zeroed, so the ratio is the mean over the sets S of
            N(x; 0, Σ_S) / N(x; 0, Σ) (:func:`mix_likelihood_ratio`). At ρ = 0 a mixed row is
            drawn like a healthy one (ceiling 0.5); the stronger the columns depend on each
            other, the more a mix breaks.
``copies``  Count tables: 5 independent Poisson(λ) integer columns (the shape of randhie's and
            fair's columns: small counts). A planted row is a copy of a random reference row, so
            given the reference a row holding record v is a copy with likelihood ratio
            c(v) / (m p(v)): its count among the m reference rows over its expected count
            (:func:`copy_likelihood_ratio`). Copies are planted by the localize benchmark's
            own recipe (:func:`benchmarks.localize.plant_detailed`). Small λ makes few
            records, most of them held by many reference rows, and a copy is then a draw much
            like a fresh one; the table prints the share of healthy rows that equal a
            reference row to place randhie (59.5 %) and fair (17.6 %) on the same axis.

The ceiling knows Σ and p, which localize must estimate from the reference: it is an upper
bound, not a target a detector reaches. It bounds the expected AUROC, not each table's: with
20 planted rows a table's AUROC scatters by several hundredths either way, hence the
population ceiling beside the table's (the ratio's AUROC on 20,000 fresh healthy rows against
20,000 fresh bad rows). Printed per family, parameter and rate (means over seeds): both
ceilings, the combined ``score`` and the kind's own detector column, and the share of the
population ceiling's distance from a coin toss that each reaches ((AUROC - 0.5) / (ceiling -
0.5)); more than 1 is a table's luck.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.special import logsumexp  # noqa: E402
from scipy.stats import multivariate_normal, poisson  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from benchmarks.collapse.datasets import column_kinds  # noqa: E402
from benchmarks.localize import (  # noqa: E402
    RATES,
    Planted,
    _localize,
    auroc,
    n_planted,
    natural_ties,
    plant_detailed,
    planting_rng,
)

DEFAULT_SEEDS: tuple[int, ...] = (0, 1, 2, 3, 4)
#: Equicorrelations of the Gaussian tables of mixed rows.
RHOS: tuple[float, ...] = (0.0, 0.3, 0.6, 0.9)
#: Poisson means of the count tables of copies.
LAMBDAS: tuple[float, ...] = (0.3, 1.0, 3.0, 10.0)
#: Columns of the Gaussian tables.
GAUSSIAN_COLUMNS = 6
#: Columns of the count tables.
COUNT_COLUMNS = 5
#: Rows of each side behind a population ceiling (its AUROC's standard error is under 0.003).
POPULATION_DRAWS = 20_000
#: The kind's own detector column in localize's table.
OWN_DETECTOR = {"mixed": "inconsistency", "copies": "memorization"}


def equicorrelation(columns: int, rho: float) -> np.ndarray:
    """The ``columns`` x ``columns`` correlation matrix with every off-diagonal entry ``rho``."""
    return np.full((columns, columns), rho) + (1.0 - rho) * np.eye(columns)


def gaussian_table(cov: np.ndarray, rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """``rows`` draws of N(0, cov) as float columns x0, x1, ..."""
    x = rng.multivariate_normal(np.zeros(len(cov)), cov, size=rows, method="cholesky")
    return pd.DataFrame(x, columns=[f"x{j}" for j in range(len(cov))])


def mix_likelihood_ratio(x: np.ndarray, cov: np.ndarray, taken: int) -> np.ndarray:
    """Density of a row mixed from two independent N(0, cov) rows (``taken`` columns, a set
    drawn uniformly, from one, the rest from the other) over the density of one such row.

    Parameters
    ----------
    x : ndarray, shape (n, d)
        Rows to score.
    cov : ndarray, shape (d, d)
        Covariance of the healthy rows.
    taken : int
        Columns taken from the first row (1 <= taken < d).
    """
    d = len(cov)
    logs = []
    for subset in itertools.combinations(range(d), taken):
        inside = np.zeros(d, dtype=bool)
        inside[list(subset)] = True
        blocked = np.where(inside[:, None] == inside[None, :], cov, 0.0)
        logs.append(multivariate_normal(np.zeros(d), blocked).logpdf(x))
    mixed = logsumexp(np.asarray(logs).reshape(len(logs), -1), axis=0) - np.log(len(logs))
    log_ratio = mixed - multivariate_normal(np.zeros(d), cov).logpdf(x).reshape(-1)
    # Rounding off the last bits keeps equal densities (every Σ_S = Σ when ρ = 0) tied
    # instead of ordered by rounding error.
    return np.exp(np.round(log_ratio, 9))


def plant_fresh_mixes(healthy: pd.DataFrame, cov: np.ndarray, rate: float,
                      rng: np.random.Generator) -> Planted:
    """Replace ``rate`` of ``healthy``'s rows (as :func:`benchmarks.localize.n_planted`
    counts) by mixes of two fresh N(0, ``cov``) rows: a random d // 2 of the columns from the
    first, the rest from the second.

    The localize benchmark mixes two rows of the healthy table, which stay in the table: a
    mixed row then shares its exact values with both, a trace the density ratio does not see.
    Fresh rows are what a generator splicing rows nobody holds would make, and leave the
    density ratio the whole of the evidence.
    """
    n, d = healthy.shape
    k = n_planted(n, rate)
    rows = np.sort(rng.choice(n, size=k, replace=False))
    pairs = rng.multivariate_normal(np.zeros(d), cov, size=(k, 2), method="cholesky")
    from_first = np.argsort(rng.random((k, d)), axis=1) < d // 2
    out = healthy.reset_index(drop=True).copy()
    out.iloc[rows] = np.where(from_first, pairs[:, 0], pairs[:, 1])
    positives = np.zeros(n, dtype=bool)
    positives[rows] = True
    return Planted(out, positives, rows, [{"from_first": np.flatnonzero(f).tolist()}
                                          for f in from_first])


def count_table(lam: float, columns: int, rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """``rows`` rows of ``columns`` independent Poisson(``lam``) int64 columns c0, c1, ..."""
    x = rng.poisson(lam, size=(rows, columns)).astype("int64")
    return pd.DataFrame(x, columns=[f"c{j}" for j in range(columns)])


def copy_likelihood_ratio(rows: pd.DataFrame, reference: pd.DataFrame, lam: float
                          ) -> np.ndarray:
    """Likelihood ratio that each row is a copy of a uniformly drawn reference row rather
    than a fresh draw of independent Poisson(``lam``) columns: c(v) / (m p(v)), c(v) the
    reference rows equal to the row, m the reference rows, p(v) the row's probability."""
    keys = pd.util.hash_pandas_object(reference, index=False)
    counts = keys.value_counts()
    held = counts.reindex(pd.util.hash_pandas_object(rows, index=False)).fillna(0.0).to_numpy()
    log_p = poisson.logpmf(rows.to_numpy(), lam).sum(axis=1)
    return held / len(reference) * np.exp(-log_p)


def mixed_population_ceiling(cov: np.ndarray, rng: np.random.Generator,
                             draws: int = POPULATION_DRAWS) -> float:
    """AUROC of the mix likelihood ratio on ``draws`` fresh healthy rows against as many fresh
    mixes: the ceiling a table's AUROC scatters around."""
    healthy = gaussian_table(cov, draws, rng)
    mixes = plant_fresh_mixes(healthy, cov, 0.5, rng)
    ratio = mix_likelihood_ratio(mixes.synthetic.to_numpy(), cov, len(cov) // 2)
    return auroc(mixes.positives, ratio)


def copy_population_ceiling(reference: pd.DataFrame, lam: float, rng: np.random.Generator,
                            draws: int = POPULATION_DRAWS) -> float:
    """AUROC of the copy likelihood ratio on ``draws`` fresh rows against as many copies of
    uniformly drawn ``reference`` rows, given that reference."""
    fresh = count_table(lam, reference.shape[1], draws, rng)
    copies = reference.iloc[rng.integers(len(reference), size=draws)]
    rows = pd.concat([fresh, copies], ignore_index=True)
    positives = np.r_[np.zeros(draws, bool), np.ones(draws, bool)]
    return auroc(positives, copy_likelihood_ratio(rows, reference, lam))


def one_table(kind: str, param: float, rate: float, seed: int, rows: int,
              columns: int = GAUSSIAN_COLUMNS) -> dict:
    """Draw a reference and a healthy table, plant ``kind`` at ``rate``, and measure the
    ceiling and localize on it."""
    rng = np.random.default_rng([seed, zlib.crc32(f"{kind} {param:g}".encode())])
    if kind == "mixed":
        cov = equicorrelation(columns, param)
        reference, healthy = (gaussian_table(cov, rows, rng) for _ in range(2))
    else:
        reference, healthy = (count_table(param, COUNT_COLUMNS, rows, rng) for _ in range(2))
    stream = planting_rng(f"{kind}-{param:g}", kind, rate, seed)
    if kind == "mixed":
        planted = plant_fresh_mixes(healthy, cov, rate, stream)
        ratio = mix_likelihood_ratio(planted.synthetic.to_numpy(), cov, columns // 2)
        population = mixed_population_ceiling(cov, rng)
        repeated = float("nan")
    else:
        planted = plant_detailed(healthy, reference, kind, rate, stream)
        ratio = copy_likelihood_ratio(planted.synthetic, reference, param)
        population = copy_population_ceiling(reference, param, rng)
        repeated = natural_ties(healthy, reference)["reference_copy_share"]
    started = time.perf_counter()
    table = _localize()(planted.synthetic, reference, column_kinds(reference), seed=seed).table
    seconds = time.perf_counter() - started
    table = table.set_index("row").reindex(range(len(planted.synthetic)))
    own = f"score_{OWN_DETECTOR[kind]}"
    positives = planted.positives
    return {"kind": kind, "param": param, "rate": rate, "seed": seed, "rows": rows,
            "positives": int(positives.sum()), "healthy_equal_reference": repeated,
            "ceiling": auroc(positives, ratio), "population_ceiling": population,
            "score": auroc(positives, table["score"].to_numpy()),
            "own": auroc(positives, table[own].to_numpy()) if own in table else float("nan"),
            "seconds": seconds}


def run(seeds: list[int], rates: list[float], rows: int, columns: int = GAUSSIAN_COLUMNS,
        threads: int | None = 1) -> dict:
    """Every (family, parameter, rate, seed); every raw number."""
    started = time.perf_counter()
    records = []
    with threadpool_limits(threads):
        for kind, params in (("mixed", RHOS), ("copies", LAMBDAS)):
            for param, rate, seed in itertools.product(params, rates, seeds):
                rec = one_table(kind, param, rate, seed, rows, columns)
                records.append(rec)
                print(f"{kind} {param:g} {rate:g} seed {seed}: ceiling {rec['ceiling']:.3f},"
                      f" score {rec['score']:.3f} ({rec['seconds']:.1f}s)", file=sys.stderr,
                      flush=True)
    return {"config": {"seeds": seeds, "rates": rates, "rows": rows, "threads": threads,
                       "gaussian_columns": columns, "count_columns": COUNT_COLUMNS},
            "records": records, "wall_s": time.perf_counter() - started}


def reached(value: float, ceiling: float) -> float:
    """Share of the ceiling's distance from a coin toss that ``value`` covers (NaN when the
    ceiling is within 0.05 of a coin toss, where the share is mostly noise)."""
    return (value - 0.5) / (ceiling - 0.5) if ceiling - 0.5 >= 0.05 else float("nan")


def _f(x: float) -> str:
    return "—" if x != x else f"{x:.3f}"


def report(results: dict) -> str:
    """The two markdown tables."""
    frame = pd.DataFrame(results["records"])
    cfg = results["config"]
    out = [f"# Bayes ceilings: {cfg['rows']} reference and {cfg['rows']} synthetic rows, "
           f"seeds {' '.join(map(str, cfg['seeds']))}", ""]
    titles = {"mixed": (f"## Mixed rows in Gaussian tables ({cfg['gaussian_columns']} columns,"
                        " equicorrelated)", "rho"),
              "copies": (f"## Copies in count tables ({cfg['count_columns']} Poisson columns)",
                         "lambda")}
    for kind, (title, label) in titles.items():
        part = frame[frame["kind"] == kind]
        if part.empty:
            continue
        means = part.groupby(["param", "rate"], sort=True).mean(numeric_only=True)
        own = OWN_DETECTOR[kind]
        head = [label, "rate", "runs", "positives", "ceiling (table)", "ceiling (population)",
                "score", own, "score reaches", f"{own} reaches"]
        if kind == "copies":
            head.insert(2, "healthy = a ref. row")
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        for (param, rate), row in means.iterrows():
            runs = int((part["param"].eq(param) & part["rate"].eq(rate)).sum())
            cells = [f"{param:g}", f"{rate:g}", str(runs), f"{row['positives']:.1f}",
                     _f(row["ceiling"]), _f(row["population_ceiling"]), _f(row["score"]),
                     _f(row["own"]), _f(reached(row["score"], row["population_ceiling"])),
                     _f(reached(row["own"], row["population_ceiling"]))]
            if kind == "copies":
                cells.insert(2, f"{row['healthy_equal_reference']:.1%}")
            lines.append("| " + " | ".join(cells) + " |")
        out += [title, "", *lines, ""]
    out.append(f"wall {results['wall_s']:.0f} s, {cfg['threads']} thread(s)")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(DEFAULT_SEEDS))
    parser.add_argument("--rates", type=float, nargs="+", default=list(RATES))
    parser.add_argument("--rows", type=int, default=2000,
                        help="rows of the reference and of the synthetic table (default 2000)")
    parser.add_argument("--columns", type=int, default=GAUSSIAN_COLUMNS,
                        help=f"columns of the Gaussian tables (default {GAUSSIAN_COLUMNS})")
    parser.add_argument("--threads", type=int, default=1,
                        help="native (OpenMP, BLAS) threads (default 1; 0: the libraries')")
    parser.add_argument("--out", type=Path, help="write every raw number here as JSON")
    args = parser.parse_args(argv)
    if any(not 0 < r < 1 for r in args.rates):
        parser.error("rates must lie in (0, 1)")
    if args.columns < 2:
        parser.error("--columns must be at least 2")
    results = run(args.seeds, args.rates, args.rows, args.columns, args.threads or None)
    print(report(results))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
