"""Normalized types: each column cast to the Arrow type its kind implies."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from synthos.io.schema import _FALSE, _TRUE, ColumnSchema

_KIND_TYPES = {"numeric": pa.float64(), "integer": pa.int64(), "categorical": pa.string(),
               "text": pa.string(), "id": pa.string()}


def normalize_column(values: pa.ChunkedArray, col: ColumnSchema) -> pa.Array:
    """``values`` as the type of ``col.kind``; values that do not convert become null."""
    values = values.combine_chunks()
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if col.kind == "boolean":
        return _to_bool(values)
    if col.kind == "datetime":
        return _to_timestamp(values, col.datetime_format)
    target = _KIND_TYPES[col.kind]
    if col.kind == "integer" and pa.types.is_integer(values.type):
        return values.cast(pa.int64())
    if pa.types.is_string(target) and pa.types.is_string(values.type):
        # Empty strings are missing values, as in the missing-rate counts.
        return pc.if_else(pc.equal(pc.utf8_trim_whitespace(values), ""), None, values)
    try:
        return values.cast(target, safe=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([None if v is None else str(v) for v in values.to_pylist()], target)


def normalize_table(table: pa.Table, columns: list[ColumnSchema]) -> pa.Table:
    """Cast every column in ``columns`` to its kind's type; other columns pass unchanged."""
    by_name = {c.name: c for c in columns}
    arrays = [normalize_column(table.column(n), by_name[n]) if n in by_name else table.column(n)
              for n in table.column_names]
    return pa.table(arrays, names=table.column_names)


def _to_bool(values: pa.Array) -> pa.Array:
    if pa.types.is_boolean(values.type):
        return values
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        return pc.not_equal(values, 0)
    lowered = pc.utf8_lower(pc.utf8_trim_whitespace(values.cast(pa.string())))
    true = pc.is_in(lowered, pa.array(sorted(_TRUE)))
    false = pc.is_in(lowered, pa.array(sorted(_FALSE)))
    return pc.if_else(true, True, pc.if_else(false, False, pa.scalar(None, pa.bool_())))


def _to_timestamp(values: pa.Array, fmt: str | None) -> pa.Array:
    if pa.types.is_timestamp(values.type):
        return values
    if pa.types.is_temporal(values.type):
        return values.cast(pa.timestamp("us"))
    strings = values.cast(pa.string())
    if fmt and fmt != "ISO8601":
        return pc.strptime(strings, format=fmt, unit="us", error_is_null=True)
    try:
        return strings.cast(pa.timestamp("us"))
    except pa.ArrowInvalid:
        return pa.array([None] * len(strings), pa.timestamp("us"))
