"""Multi-dimensional strata of the reference, and how the synthetic data covers them.

A stratum is a cell of a grid over a few columns: reference-quantile bins of numeric columns
crossed with the levels of categorical ones ("age in [30, 42) & kind=b"). The grid is chosen
greedily on the reference, categorical columns first, then numeric ones: each step adds the
column (and, for a numeric column, the number of bins) that most raises the entropy of the
strata, as long as the reference keeps at least ``min_rows`` rows per occupied stratum on
average, so every stratum's share is estimated from enough rows to mean something.

Coverage is the share of the reference's strata (and of its mass) where the synthetic data has
rows. Rare patterns are where it does not: strata holding reference mass that are empty or
starved in the synthetic data (far below their reference share, and unlikely to be so by
chance: a binomial test), and strata the synthetic data fills that the reference never shows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as sps

from synthos.collapse.prepare import _as_float
from synthos.collapse.statistics import entropy

NUMERIC = frozenset({"numeric", "integer", "datetime"})
CATEGORICAL = frozenset({"categorical", "boolean"})

#: Reference rows per occupied stratum, on average, that the grid keeps at least.
MIN_ROWS = 20
#: Columns in the grid at most: past four, a stratum's name stops being readable.
MAX_COLUMNS = 4
#: Quantile bins tried for a numeric column (most first).
MAX_BINS = 5
#: Categorical levels named in a grid; rarer ones share an "other" cell.
MAX_LEVELS = 8
#: A stratum is starved when its synthetic share is below this fraction of its reference share
#: (and a one-sided binomial test at :data:`ALPHA` says it is not chance).
STARVED_RATIO = 0.25
ALPHA = 0.01
#: Strata listed per kind of pattern in a report (counts and masses cover them all).
MAX_LISTED = 20


@dataclass
class Dimension:
    """One column of the grid and how its values map to cells.

    Attributes
    ----------
    column, kind : str
        Column name and kind.
    edges : list of float
        Numeric columns: the interior cut points (reference quantiles); bin ``i`` is
        ``[edges[i-1], edges[i])``, the first and last bins are open-ended.
    levels : list of str
        Categorical columns: the reference levels named; the rest of the reference's levels
        share an ``other`` cell, values the reference never shows an ``unseen`` cell.
    """

    column: str
    kind: str
    edges: list[float] = field(default_factory=list)
    levels: list[str] = field(default_factory=list)
    other_levels: int = 0

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC

    @property
    def cells(self) -> int:
        """Number of codes, the missing cell included."""
        return len(self.edges) + 2 if self.numeric else len(self.levels) + 3

    def codes(self, values: np.ndarray | pd.Series) -> np.ndarray:
        """The cell of each value (the missing cell is the last code)."""
        if self.numeric:
            v = np.asarray(values, dtype=float)
            out = np.searchsorted(np.asarray(self.edges, dtype=float), v, side="right")
            return np.where(np.isnan(v), self.cells - 1, out)
        s = pd.Series(values).astype("string")
        raw = s.to_numpy(dtype=object, na_value=None)
        named = pd.Index(self.levels, dtype=object).get_indexer(raw)
        known = pd.Index(self._reference_levels, dtype=object).get_indexer(raw) >= 0
        out = np.where(named >= 0, named,
                       np.where(known, len(self.levels), len(self.levels) + 1))
        return np.where(s.isna().to_numpy(), self.cells - 1, out).astype(np.int64)

    def label(self, code: int) -> str:
        """The cell in words: ``age in [30, 42)``, ``kind=b``, ``kind missing``."""
        name = self.column
        if code == self.cells - 1:
            return f"{name} missing"
        if self.numeric:
            e = [self._fmt(x) for x in self.edges]
            if not e:
                return f"{name} present"
            if code == 0:
                return f"{name} < {e[0]}"
            if code == len(e):
                return f"{name} >= {e[-1]}"
            return f"{name} in [{e[code - 1]}, {e[code]})"
        if code < len(self.levels):
            return f"{name}={self.levels[code]}"
        if code == len(self.levels):
            return f"{name}=other ({self.other_levels} rarer levels)"
        return f"{name}=a value the reference never shows"

    def _fmt(self, x: float) -> str:
        if self.kind == "datetime":
            ts = pd.Timestamp(x, unit="s")
            return str(ts.date()) if ts == ts.normalize() else str(ts)
        return f"{x:.4g}"

    _reference_levels: list[str] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("_reference_levels", None)
        return out


def _dimension_options(column: str, kind: str, ref: pd.Series) -> list[Dimension]:
    """The ways a column can enter the grid: several bin counts, or its named levels."""
    if kind in NUMERIC:
        v = _as_float(ref, kind)
        v = v[~np.isnan(v)]
        if len(np.unique(v)) < 2:
            return []
        out, seen = [], set()
        for bins in range(MAX_BINS, 1, -1):
            edges = np.unique(np.quantile(v, np.linspace(0, 1, bins + 1)[1:-1]))
            # A cut at the minimum leaves the first bin empty: drop it.
            edges = tuple(float(e) for e in edges if e > v.min())
            if edges and edges not in seen:
                seen.add(edges)
                out.append(Dimension(column, kind, edges=list(edges)))
        return out
    if kind in CATEGORICAL:
        counts = ref.astype("string").value_counts(dropna=True)
        if len(counts) < 2:
            return []
        levels = [str(v) for v in counts.index[:MAX_LEVELS]]
        dim = Dimension(column, kind, levels=levels, other_levels=max(len(counts) - len(levels),
                                                                      0))
        dim._reference_levels = [str(v) for v in counts.index]
        return [dim]
    return []


def choose_grid(reference: pd.DataFrame, kinds: dict[str, str], min_rows: int = MIN_ROWS,
                max_columns: int = MAX_COLUMNS) -> list[Dimension]:
    """The grid: columns and bins chosen greedily so strata stay populated.

    Parameters
    ----------
    reference : pandas.DataFrame
        The reference rows (a uniform sample).
    kinds : dict
        Column -> kind; numeric, integer, datetime, categorical and boolean columns take part.
    min_rows : int, default 20
        Reference rows per occupied stratum, on average, the grid keeps at least.
    max_columns : int, default 4
        Columns in the grid at most.
    """
    n = len(reference)
    options = {c: _dimension_options(c, k, reference[c]) for c, k in kinds.items()
               if c in reference.columns}
    options = {c: o for c, o in options.items() if o}
    chosen: list[Dimension] = []
    key = np.zeros(n, dtype=np.int64)
    # Categories first: they are the strata a reader thinks in, and a level that vanishes is
    # collapse's plainest sign. Left to entropy alone, numeric bins would crowd them out.
    for phase in (CATEGORICAL, NUMERIC):
        while len(chosen) < max_columns:
            best = None
            for column, dims in options.items():
                if dims[0].kind not in phase:
                    continue
                values = _values(reference[column], dims[0].kind)
                for dim in dims:
                    cand = key * dim.cells + dim.codes(values)
                    _, inverse = np.unique(cand, return_inverse=True)
                    if n / (inverse.max() + 1) < min_rows:
                        continue
                    score = entropy(inverse)
                    if best is None or score > best[0] + 1e-12:
                        best = (score, column, dim, cand)
            current = entropy(np.unique(key, return_inverse=True)[1])
            if best is None or best[0] <= current + 1e-12:
                break
            _, column, dim, key = best
            chosen.append(dim)
            del options[column]
    return chosen


def _values(series: pd.Series, kind: str) -> np.ndarray | pd.Series:
    return _as_float(series, kind) if kind in NUMERIC else series


def strata_keys(frame: pd.DataFrame, grid: list[Dimension]) -> np.ndarray:
    """Each row's stratum as a tuple of cell codes, shape (rows, len(grid))."""
    if not grid:
        return np.zeros((len(frame), 0), dtype=np.int64)
    return np.column_stack([d.codes(_values(frame[d.column], d.kind)) for d in grid])


@dataclass
class Stratum:
    """One stratum and its shares on both sides."""

    label: str
    reference_rows: int
    reference_share: float
    synthetic_rows: int
    synthetic_share: float
    expected_synthetic_rows: float
    p_value: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class StrataResult:
    """Coverage of the reference's strata and the rare patterns.

    Attributes
    ----------
    grid : list of Dimension
        The columns and cuts behind the strata.
    reference_strata, synthetic_strata : int
        Occupied strata on each side.
    strata_coverage : float
        Share of the reference's strata where the synthetic data has at least one row.
    mass_coverage : float
        Share of the reference's rows that lie in such strata.
    expected_strata_coverage, expected_mass_coverage : float
        The same two for a sample of the synthetic size drawn from the reference itself: the
        values sampling alone would give, so a coverage below them is a real loss.
    empty, starved, novel : list of Stratum
        The largest reference strata with no synthetic row; those far below their reference
        share; synthetic strata the reference never shows (at most :data:`MAX_LISTED` each,
        largest first).
    empty_cells, starved_cells : list of Stratum
        The same tests on one grid column at a time ("kind=d" rather than every stratum
        holding it): the coarsest statement of what is missing.
    empty_count, starved_count, novel_count : int
        How many of each in all.
    empty_mass, starved_mass : float
        Reference share in empty strata; reference share minus synthetic share summed over
        starved strata.
    novel_mass : float
        Synthetic share in strata the reference never shows.
    """

    grid: list[Dimension]
    reference_rows: int
    synthetic_rows: int
    reference_strata: int
    synthetic_strata: int
    strata_coverage: float
    mass_coverage: float
    expected_strata_coverage: float
    expected_mass_coverage: float
    empty: list[Stratum]
    starved: list[Stratum]
    novel: list[Stratum]
    empty_count: int
    starved_count: int
    novel_count: int
    empty_mass: float
    starved_mass: float
    novel_mass: float
    empty_cells: list[Stratum] = field(default_factory=list)
    starved_cells: list[Stratum] = field(default_factory=list)

    def to_dict(self) -> dict:
        lists = ("grid", "empty", "starved", "novel", "empty_cells", "starved_cells")
        out = {k: v for k, v in asdict(self).items() if k not in lists}
        out["grid"] = [d.to_dict() for d in self.grid]
        out["columns"] = [d.column for d in self.grid]
        for k in lists[1:]:
            out[k] = [s.to_dict() for s in getattr(self, k)]
        return out


def compare_strata(synthetic: pd.DataFrame, reference: pd.DataFrame, kinds: dict[str, str],
                   min_rows: int = MIN_ROWS, max_columns: int = MAX_COLUMNS,
                   starved_ratio: float = STARVED_RATIO, alpha: float = ALPHA) -> StrataResult:
    """Stratify the reference and measure how the synthetic rows cover its strata.

    Parameters
    ----------
    synthetic, reference : pandas.DataFrame
        Rows of each side (uniform samples); shares are compared, so sizes may differ.
    kinds : dict
        Column -> kind (the reference's).
    min_rows : int, default 20
        Reference rows per occupied stratum, on average, that the grid keeps at least.
    max_columns : int, default 4
        Columns in the grid at most.
    starved_ratio : float, default 0.25
        A stratum is starved when its synthetic share is below this fraction of its reference
        share.
    alpha : float, default 0.01
        Significance of the one-sided binomial test a starved stratum must also pass.
    """
    grid = choose_grid(reference, kinds, min_rows, max_columns)
    rk, sk = strata_keys(reference, grid), strata_keys(synthetic, grid)
    t = _tally(rk, sk, grid, starved_ratio, alpha)
    cells_empty: list[Stratum] = []
    cells_starved: list[Stratum] = []
    for j, dim in enumerate(grid):
        one = _tally(rk[:, j:j + 1], sk[:, j:j + 1], [dim], starved_ratio, alpha)
        cells_empty += one["empty"]
        cells_starved += one["starved"]
    return StrataResult(
        grid=grid, reference_rows=len(reference), synthetic_rows=len(synthetic),
        reference_strata=t["reference_strata"], synthetic_strata=t["synthetic_strata"],
        strata_coverage=t["strata_coverage"], mass_coverage=t["mass_coverage"],
        expected_strata_coverage=t["expected_strata_coverage"],
        expected_mass_coverage=t["expected_mass_coverage"],
        empty=t["empty"][:MAX_LISTED], starved=t["starved"][:MAX_LISTED],
        novel=t["novel"][:MAX_LISTED], empty_count=len(t["empty"]),
        starved_count=len(t["starved"]), novel_count=len(t["novel"]),
        empty_mass=t["empty_mass"], starved_mass=t["starved_mass"], novel_mass=t["novel_mass"],
        empty_cells=sorted(cells_empty, key=lambda x: -x.reference_share)[:MAX_LISTED],
        starved_cells=sorted(cells_starved, key=lambda x: -x.reference_share)[:MAX_LISTED])


def _tally(rk: np.ndarray, sk: np.ndarray, grid: list[Dimension], starved_ratio: float,
           alpha: float) -> dict:
    """Coverage and the empty, starved and novel strata of one grid (all of them, sorted)."""
    n, m = rk.shape[0], sk.shape[0]
    ref_cells, ref_counts = _count(rk)
    syn_cells, syn_counts = _count(sk)
    syn_of = dict(zip(syn_cells, syn_counts, strict=True))
    ref_of = set(ref_cells)
    p = ref_counts / max(n, 1)
    c = np.array([syn_of.get(cell, 0) for cell in ref_cells], dtype=np.int64)
    present = c > 0
    # P(a stratum of share p gets no row in m draws) = (1 - p)^m.
    absent_by_chance = (1.0 - p) ** m

    def stratum(cell: tuple, ref_rows: int, syn_rows: int, pval: float | None) -> Stratum:
        return Stratum(" & ".join(d.label(int(code)) for d, code in zip(grid, cell, strict=True))
                       or "all rows", int(ref_rows), ref_rows / max(n, 1), int(syn_rows),
                       syn_rows / max(m, 1), ref_rows / max(n, 1) * m, pval)

    empty_idx = np.flatnonzero(~present)
    empty_idx = empty_idx[np.argsort(-p[empty_idx], kind="stable")]
    q = c / max(m, 1)
    # One-sided binomial test: P(X <= c) for X ~ Binomial(m, p).
    pvals = sps.binom.cdf(c, m, p)
    starved_mask = present & (q < starved_ratio * p) & (pvals < alpha)
    starved_idx = np.flatnonzero(starved_mask)
    starved_idx = starved_idx[np.argsort(-(p - q)[starved_idx], kind="stable")]
    novel = [(cell, cnt) for cell, cnt in zip(syn_cells, syn_counts, strict=True)
             if cell not in ref_of]
    novel.sort(key=lambda x: -x[1])
    return {
        "reference_strata": len(ref_cells), "synthetic_strata": len(syn_cells),
        "strata_coverage": float(present.mean()) if len(p) else 1.0,
        "mass_coverage": float(p[present].sum()),
        "expected_strata_coverage": float((1.0 - absent_by_chance).mean()) if len(p) else 1.0,
        "expected_mass_coverage": float((p * (1.0 - absent_by_chance)).sum()),
        "empty": [stratum(ref_cells[i], ref_counts[i], 0, float(absent_by_chance[i]))
                  for i in empty_idx],
        "starved": [stratum(ref_cells[i], ref_counts[i], c[i], float(pvals[i]))
                    for i in starved_idx],
        "novel": [stratum(cell, 0, cnt, None) for cell, cnt in novel],
        "empty_mass": float(p[~present].sum()),
        "starved_mass": float((p - q)[starved_mask].sum()),
        "novel_mass": float(sum(cnt for _, cnt in novel) / max(m, 1)),
    }


def _count(keys: np.ndarray) -> tuple[list[tuple], np.ndarray]:
    """Occupied strata (as tuples of codes, sorted) and their row counts."""
    if keys.shape[0] == 0:
        return [], np.zeros(0, dtype=np.int64)
    cells, counts = np.unique(keys, axis=0, return_counts=True)
    return [tuple(int(x) for x in row) for row in cells], counts
