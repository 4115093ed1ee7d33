"""Column kinds: what each column means, inferred from its Arrow type and its values.

Kinds
-----
numeric      real-valued measurements
integer      whole-number quantities (counts, ages, codes with an order)
boolean      two-valued (true/false, yes/no, 0/1)
categorical  a limited set of labels
datetime     dates and timestamps (typed, or strings in a common date format)
text         free text (several words per value, most values distinct)
id           one distinct value per row (keys, UUIDs): excluded from statistics later
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

KINDS = ("numeric", "integer", "boolean", "categorical", "datetime", "text", "id")

#: Kinds whose values can be compared as numbers once normalized.
NUMERIC_KINDS = frozenset({"numeric", "integer"})

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}
_DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d",
                 "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M",
                 "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z")
_ID_NAME = re.compile(r"(^|[_\-\s])(id|uuid|guid|key)$|^index$", re.IGNORECASE)
# camelCase ids (customerId) only with a capital I: "valid" and "paid" are not ids.
_CAMEL_ID = re.compile(r"[a-z](Id|ID|Uuid|UUID|Key)$")
# Below this many values, "every value distinct" says little about a column.
_MIN_ROWS_FOR_ID = 30
_TEXT_MIN_TOKENS = 4.0


@dataclass
class ColumnSchema:
    """What one column holds.

    Attributes
    ----------
    name : str
        Column name.
    kind : str
        One of :data:`KINDS`.
    arrow_type : str
        The Arrow type as read from the file.
    missing_rate : float
        Share of rows (0–1) that are null, NaN or an empty string; exact over the whole file
        when it comes from a full pass.
    distinct : int
        Distinct non-missing values in the sample.
    unique_ratio : float
        ``distinct`` divided by non-missing values in the sample.
    datetime_format : str or None
        The strptime format that parses a string datetime column.
    """

    name: str
    kind: str
    arrow_type: str
    missing_rate: float
    distinct: int
    unique_ratio: float
    datetime_format: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def missing_counts(batch: pa.RecordBatch | pa.Table) -> np.ndarray:
    """Missing values per column: nulls, NaN in float columns, blank strings."""
    counts = np.zeros(batch.num_columns, dtype=np.int64)
    for i, col in enumerate(batch.columns):
        counts[i] = col.null_count
        if pa.types.is_floating(col.type):
            counts[i] += int(pc.sum(pc.is_nan(col)).as_py() or 0)
        elif pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            blank = pc.equal(pc.utf8_trim_whitespace(col), "")
            counts[i] += int(pc.sum(blank).as_py() or 0)
    return counts


def infer_column(
    name: str, values: pa.Array | pa.ChunkedArray, missing_rate: float
) -> ColumnSchema:
    """Infer the :class:`ColumnSchema` of one column from a sample of its values."""
    values = _drop_missing(values)
    n = len(values)
    distinct = int(pc.count_distinct(values).as_py()) if n else 0
    ratio = distinct / n if n else 0.0
    kind, fmt = _kind(name, values, n, distinct)
    return ColumnSchema(name, kind, str(values.type), float(missing_rate), distinct, ratio, fmt)


def infer_schema(sample: pa.Table, missing_rates: dict[str, float] | None = None
                 ) -> list[ColumnSchema]:
    """Infer every column's schema from ``sample``.

    Parameters
    ----------
    sample : pyarrow.Table
        Rows to infer from (the reservoir sample of a full pass, or the head of the file).
    missing_rates : dict, optional
        Exact missing rates from a full pass; computed on ``sample`` when absent.
    """
    if missing_rates is None:
        counts = missing_counts(sample)
        missing_rates = {n: c / max(sample.num_rows, 1)
                         for n, c in zip(sample.column_names, counts, strict=True)}
    return [infer_column(name, sample.column(name), missing_rates[name])
            for name in sample.column_names]


def _drop_missing(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    mask = pc.is_valid(values)
    if pa.types.is_floating(values.type):
        mask = pc.and_(mask, pc.invert(pc.is_nan(values)))
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        mask = pc.and_(mask, pc.not_equal(pc.utf8_trim_whitespace(values), ""))
    return values.filter(mask)


def _kind(name: str, values: pa.Array, n: int, distinct: int) -> tuple[str, str | None]:
    t = values.type
    all_distinct = n >= _MIN_ROWS_FOR_ID and distinct == n
    if pa.types.is_boolean(t):
        return "boolean", None
    if pa.types.is_temporal(t):
        return "datetime", None
    if pa.types.is_integer(t):
        if n and distinct <= 2 and set(pc.unique(values).to_pylist()) <= {0, 1}:
            return "boolean", None
        if all_distinct and (_is_id_name(name) or _monotonic(values)):
            return "id", None
        return "integer", None
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "numeric", None
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return _string_kind(name, values, n, distinct, all_distinct)
    if pa.types.is_null(t):
        return "categorical", None
    # Binary, nested and other exotic types are only ever compared as opaque labels.
    return "categorical", None


def _string_kind(name: str, values: pa.Array, n: int, distinct: int, all_distinct: bool
                 ) -> tuple[str, str | None]:
    if n == 0:
        return "categorical", None
    if distinct <= 16:
        # Case and spacing vary in hand-made data: Yes, yes and YES are one value.
        folded = {str(v).strip().lower() for v in pc.unique(values).to_pylist()}
        if len(folded) <= 2 and folded <= _TRUE | _FALSE and \
                (len(folded) == 1 or (folded & _TRUE and folded & _FALSE)):
            return "boolean", None
    fmt = datetime_format(values)
    if fmt is not None:
        return "datetime", fmt
    tokens = pc.mean(pc.list_value_length(pc.utf8_split_whitespace(values))).as_py() or 0.0
    if tokens >= _TEXT_MIN_TOKENS and distinct / n > 0.5:
        return "text", None
    if all_distinct or (_is_id_name(name) and distinct / n > 0.95):
        return "id", None
    return "categorical", None


def datetime_format(values: pa.Array, min_share: float = 0.95) -> str | None:
    """The first of the common date formats that parses at least ``min_share`` of ``values``."""
    probe = values.slice(0, 2000)
    if len(probe) == 0:
        return None
    lengths = pc.utf8_length(probe)
    # Dates are 6 to 32 characters: when too few values are, parsing is not worth trying.
    plausible = pc.sum(pc.and_(pc.greater_equal(lengths, 6), pc.less_equal(lengths, 32)))
    if (plausible.as_py() or 0) < min_share * len(probe):
        return None
    for fmt in _DATE_FORMATS:
        parsed = pc.strptime(probe, format=fmt, unit="us", error_is_null=True)
        if parsed.null_count <= (1 - min_share) * len(probe):
            return fmt
    try:
        pc.cast(probe, pa.timestamp("us"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return "ISO8601"


def _is_id_name(name: str) -> bool:
    return bool(_ID_NAME.search(name) or _CAMEL_ID.search(name))


def _monotonic(values: pa.Array) -> bool:
    arr = values.to_numpy(zero_copy_only=False)
    diffs = np.diff(arr)
    return bool(np.all(diffs > 0) or np.all(diffs < 0))
