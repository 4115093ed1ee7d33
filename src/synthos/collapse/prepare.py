"""Inputs of the collapse statistics: columns encoded by kind, and real-vs-real splits.

Every statistic is computed twice per split of the reference into halves A and B: once for
the synthetic rows against A (observed), once for B against A (null: what real data shows
against itself). Both sides of a comparison have the same sizes, so a statistic's bias at small
samples cancels out, and its score says how much worse than sampling noise the synthetic data
is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Kinds compared as numbers (datetimes as epoch seconds) and as labels.
NUMERIC = frozenset({"numeric", "integer", "datetime"})
CATEGORICAL = frozenset({"categorical", "boolean"})
#: Categorical columns with more levels than this are kept for marginals but left out of
#: pairwise statistics and embeddings, where each level would add noise and width.
MAX_LEVELS = 50
#: A synthetic value within this many reference standard deviations of a value the reference
#: repeats (an atom: a zero of a zero-inflated column, a step of a grid) is compared as that
#: value. A generator's rounding noise is not collapse; without this, KS counts a displaced
#: atom in full and a classifier separates 34.02 from 34 at once.
SNAP_SD = 0.05


@dataclass
class Encoded:
    """One table's compared columns, encoded.

    Attributes
    ----------
    numeric : ndarray, shape (n, p)
        Numeric, integer and datetime columns as float (NaN for missing).
    codes : ndarray, shape (n, q)
        Categorical and boolean columns as integer codes shared with the other table
        (-1 for missing).
    row_hash : ndarray, shape (n,)
        A hash of each row's compared values, for exact-copy and duplicate counts.
    """

    numeric: np.ndarray
    codes: np.ndarray
    row_hash: np.ndarray

    @property
    def n(self) -> int:
        return len(self.row_hash)

    def take(self, rows: np.ndarray) -> Encoded:
        return Encoded(self.numeric[rows], self.codes[rows], self.row_hash[rows])


@dataclass
class Prepared:
    """Both tables encoded in one space, with what was compared and what was left out.

    Attributes
    ----------
    synthetic, reference : Encoded
        The two tables.
    numeric_names, categorical_names : list of str
        Column names behind ``numeric`` and ``codes``.
    levels : list of int
        Number of distinct codes per categorical column.
    excluded : dict
        Column -> why it is not compared (identifiers, free text, all missing).
    raw_numeric : tuple of ndarray
        The synthetic and reference numeric columns as given, before
        :func:`snap_to_atoms`: for scores defined on the values themselves (Column Shapes).
    narrow : ndarray of bool
        Which categorical columns have at most :data:`MAX_LEVELS` levels.
    """

    synthetic: Encoded
    reference: Encoded
    numeric_names: list[str]
    categorical_names: list[str]
    levels: list[int]
    excluded: dict[str, str] = field(default_factory=dict)
    raw_numeric: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def narrow(self) -> np.ndarray:
        return np.array([lv <= MAX_LEVELS for lv in self.levels], dtype=bool)

    @property
    def compared_names(self) -> list[str]:
        """Every compared column: the numeric ones, then the categorical ones."""
        return self.numeric_names + self.categorical_names

    @property
    def numeric_as_given(self) -> tuple[np.ndarray, np.ndarray]:
        """The synthetic and reference numeric columns as given (``raw_numeric``), or as
        encoded when they were not kept."""
        return self.raw_numeric or (self.synthetic.numeric, self.reference.numeric)


def prepare(synthetic: pd.DataFrame, reference: pd.DataFrame, kinds: dict[str, str]
            ) -> Prepared:
    """Encode the columns of ``kinds`` (name -> reference kind) found in both tables.

    Identifier and free-text columns are excluded: every value is new, so comparing them
    would only add noise. Columns all missing in the reference are excluded too.
    """
    excluded: dict[str, str] = {}
    num_names: list[str] = []
    cat_names: list[str] = []
    for name, kind in kinds.items():
        if name not in synthetic.columns or name not in reference.columns:
            continue
        if kind == "id":
            excluded[name] = "identifier: one distinct value per row"
        elif kind == "text":
            excluded[name] = "free text: compared by the diversity stage"
        elif reference[name].isna().all():
            excluded[name] = "all missing in the reference"
        elif kind in NUMERIC:
            num_names.append(name)
        else:
            cat_names.append(name)
    raw_syn = np.column_stack([_as_float(synthetic[c], kinds[c]) for c in num_names]) \
        if num_names else np.empty((len(synthetic), 0))
    raw_ref = np.column_stack([_as_float(reference[c], kinds[c]) for c in num_names]) \
        if num_names else np.empty((len(reference), 0))
    # One resolution for both tables: the reference is snapped to its own atoms too.
    syn_num, ref_num = raw_syn.copy(), raw_ref.copy()
    for i in range(len(num_names)):
        syn_num[:, i] = snap_to_atoms(raw_syn[:, i], raw_ref[:, i])
        ref_num[:, i] = snap_to_atoms(raw_ref[:, i], raw_ref[:, i])
    syn_codes, ref_codes, levels = [], [], []
    for name in cat_names:
        s, r, k = _shared_codes(synthetic[name], reference[name])
        syn_codes.append(s)
        ref_codes.append(r)
        levels.append(k)
    syn_cat = np.column_stack(syn_codes) if cat_names else np.empty((len(synthetic), 0), int)
    ref_cat = np.column_stack(ref_codes) if cat_names else np.empty((len(reference), 0), int)
    return Prepared(
        Encoded(syn_num, syn_cat, hash_rows(syn_num, syn_cat)),
        Encoded(ref_num, ref_cat, hash_rows(ref_num, ref_cat)),
        num_names, cat_names, levels, excluded, (raw_syn, raw_ref))


def _as_float(values: pd.Series, kind: str) -> np.ndarray:
    if kind == "datetime" and not pd.api.types.is_datetime64_any_dtype(values):
        # Strings or dates as objects (a table not normalized by the load stage).
        values = pd.to_datetime(values, errors="coerce", format="mixed")
    if pd.api.types.is_datetime64_any_dtype(values):
        as_ns = values.dt.tz_localize(None) if getattr(values.dt, "tz", None) else values
        out = as_ns.astype("int64").astype(float) / 1e9
        out[values.isna().to_numpy()] = np.nan
        return out.to_numpy()
    if pd.api.types.is_bool_dtype(values):
        return values.astype(float).to_numpy()
    return pd.to_numeric(values, errors="coerce").astype(float).to_numpy()


def snap_to_atoms(values: np.ndarray, reference: np.ndarray, tolerance: float = SNAP_SD
                  ) -> np.ndarray:
    """Compare ``values`` at the resolution of ``reference``'s atoms (values it holds more
    than once).

    Each value within ``tolerance`` reference standard deviations of an atom goes to that
    atom's representative: the heaviest atom within ``tolerance`` of it. Where atoms crowd
    (a grid of log prices), noise around a heavy atom lands nearer its light neighbours; going
    through the representative sends both the noisy value and the neighbour's own rows to the
    same place, so the reference (snapped the same way) and the synthetic table agree. Values
    with no atom in reach, and NaN, are left as they are.
    """
    ref = reference[~np.isnan(reference)]
    atoms, counts = np.unique(ref, return_counts=True)
    keep = counts > 1
    atoms, counts = atoms[keep], counts[keep]
    reach = tolerance * (float(np.std(ref)) if len(ref) else 0.0)
    if len(atoms) == 0 or reach == 0:
        return values
    representative = atoms[_range_argmax(
        counts, np.searchsorted(atoms, atoms - reach, side="left"),
        np.searchsorted(atoms, atoms + reach, side="right"))]
    pos = np.clip(np.searchsorted(atoms, values), 1, len(atoms)) if len(atoms) > 1 \
        else np.ones(len(values), dtype=np.int64)
    left = pos - 1
    right = np.minimum(pos, len(atoms) - 1)
    nearest = np.where(np.abs(values - atoms[left]) <= np.abs(atoms[right] - values), left, right)
    with np.errstate(invalid="ignore"):
        close = np.abs(values - atoms[nearest]) <= reach
    return np.where(close, representative[nearest], values)


def _range_argmax(weights: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Index of the largest weight in each non-empty ``[lo, hi)``: a sparse table, so every
    query is two lookups however wide the range."""
    tables = [np.arange(len(weights))]
    width = 1
    while 2 * width <= len(weights):
        prev = tables[-1]
        left, right = prev[: len(prev) - width], prev[width:]
        tables.append(np.where(weights[left] >= weights[right], left, right))
        width *= 2
    level = np.floor(np.log2(np.maximum(hi - lo, 1))).astype(int)
    out = np.empty(len(lo), dtype=np.int64)
    for k in np.unique(level):
        sel = level == k
        a = tables[k][lo[sel]]
        b = tables[k][hi[sel] - (1 << k)]
        out[sel] = np.where(weights[a] >= weights[b], a, b)
    return out


def _shared_codes(syn: pd.Series, ref: pd.Series) -> tuple[np.ndarray, np.ndarray, int]:
    """Codes over the union of both columns' values, reference values first."""
    both = pd.concat([ref.astype("string"), syn.astype("string")], ignore_index=True)
    codes, uniques = pd.factorize(both, use_na_sentinel=True)
    return codes[len(ref):].astype(np.int64), codes[: len(ref)].astype(np.int64), len(uniques)


def hash_rows(numeric: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row of ``numeric`` (floats) and ``codes`` (integer codes) together."""
    frame = pd.DataFrame(np.column_stack([numeric, codes.astype(float)]))
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


@dataclass
class Split:
    """One real-vs-real split: rows of the reference (A and B) and of the synthetic table."""

    a: np.ndarray
    b: np.ndarray
    s: np.ndarray


def splits(n_synthetic: int, n_reference: int, count: int, seed: int,
           max_rows: int | None = None) -> list[Split]:
    """``count`` random halvings of the reference, each with a synthetic subsample.

    The synthetic subsample and B have the same size, ``min(n_synthetic, n_reference // 2,
    max_rows)``, so observed and null statistics are computed at equal sizes.
    """
    rng = np.random.default_rng(seed)
    half = n_reference // 2
    m = min(n_synthetic, half, max_rows or half)
    out = []
    for _ in range(count):
        perm = rng.permutation(n_reference)
        a = np.sort(perm[:half][: max_rows or half])
        b = np.sort(perm[half:][:m])
        s = np.sort(rng.choice(n_synthetic, size=m, replace=False))
        out.append(Split(a, b, s))
    return out
