"""One streaming pass of mergeable sketches over a table, and their merge across shards.

The state of a pass is, per column: exact missing and present counts, an HLL sketch of its
distinct values, a KLL quantile sketch (numeric, integer and datetime columns) and a
frequent-items sketch (categorical, boolean and text columns), all from Apache DataSketches;
per table: the exact row count, a 64-bit hash of every row (sorted and deduplicated, so exact
duplicates are counted exactly; past ``exact_rows`` distinct rows only an HLL of the row
hashes is kept) and a uniform bottom-k sample (:class:`synthos.io.ReservoirSampler`).

Every part merges: counters add, sketches union, hash sets union, bottom-k samples merge to the
bottom-k of the whole. So the same state computed per Parquet row group or per file, in
separate processes, serialized with :meth:`SketchState.to_bytes` and merged with
:func:`merge_states`, equals one pass over everything: exactly for the counters, the duplicate
count and the sample, and within the sketches' documented error bounds for the rest.
"""

from __future__ import annotations

import contextlib
import json
import math
import struct
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import datasketches as ds
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from synthos.errors import SynthosInputError
from synthos.io.profile import inspect
from synthos.io.readers import BATCH_ROWS, Source, open_source, scan
from synthos.io.sample import ROW_COLUMN, ReservoirSampler, row_keys
from synthos.io.schema import KINDS, datetime_format, missing_counts
from synthos.io.uri import store_errors

#: log2 of the HLL register count: 2^14 registers give about 0.8% relative standard error
#: in 16 KiB per column.
HLL_LG_K = 14
#: KLL accuracy parameter: k = 200 gives a normalized rank error of about 1.3% (99th
#: percentile of the single-sided error) in a few KiB per column.
KLL_K = 200
#: log2 of the frequent-items map size: 1024 slots track 768 items; an item's count is known
#: to within 0.0034 x the column's row count.
FREQ_LG_MAX_K = 10
#: Distinct row hashes kept for the exact duplicate count (8 bytes each: 160 MB at the
#: default). Past it the duplicate rate comes from the HLL of row hashes, with bounds.
EXACT_ROWS = 20_000_000
#: Uniform sample kept for the exact statistics.
SAMPLE_ROWS = 20_000

NUMERIC_KINDS = frozenset({"numeric", "integer", "datetime"})
FREQUENT_KINDS = frozenset({"categorical", "boolean", "text"})
#: Kinds left out of the row hash: an identifier makes every row distinct and would hide the
#: copies a generator made.
UNHASHED_KINDS = frozenset({"id"})

_MAGIC = b"SYNTHOS-DIVERSITY-SKETCH\x01"
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
# Stands for a missing value in the row hash; any fixed value unlikely to be a real hash.
_MISSING_HASH = np.uint64(0x5EED0F00DDEADBEE)


def _sorted_unique(x: np.ndarray) -> np.ndarray:
    """Distinct values of ``x``, sorted, by sorting in place (``x`` is consumed).

    numpy's own unique hashes first: many times slower, and larger, than numpy's vectorized
    sort on tens of millions of 64-bit values.
    """
    if len(x) == 0:
        return x
    x.sort()
    keep = np.empty(len(x), dtype=bool)
    keep[0] = True
    np.not_equal(x[1:], x[:-1], out=keep[1:])
    return x[keep]


def _splitmix(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer: a bijective 64-bit mix, so distinct inputs stay distinct."""
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


# --- per column -------------------------------------------------------------------------------


@dataclass
class ColumnSketch:
    """Sketches and exact counters of one column.

    Attributes
    ----------
    name, kind : str
        Column name and kind (one of :data:`synthos.io.KINDS`).
    missing : int
        Rows where the value is null, NaN or a blank string (exact).
    present : int
        Rows with a value (exact).
    hll : datasketches.hll_sketch
        Distinct non-missing values.
    kll : datasketches.kll_doubles_sketch or None
        Quantiles of the values (numeric, integer; datetimes as epoch seconds).
    freq : datasketches.frequent_strings_sketch or None
        Heavy hitters (categorical, boolean, text), values as strings.
    """

    name: str
    kind: str
    missing: int = 0
    present: int = 0
    hll: Any = None
    kll: Any = None
    freq: Any = None
    _date_format: str | None = field(default=None, repr=False)

    @classmethod
    def empty(cls, name: str, kind: str) -> ColumnSketch:
        return cls(name, kind, hll=ds.hll_sketch(HLL_LG_K, ds.HLL_8),
                   kll=ds.kll_doubles_sketch(KLL_K) if kind in NUMERIC_KINDS else None,
                   freq=ds.frequent_strings_sketch(FREQ_LG_MAX_K)
                   if kind in FREQUENT_KINDS else None)

    def update(self, col: pa.Array, missing: int) -> None:
        """Fold in one batch's values of this column; ``missing`` is its missing count."""
        self.missing += missing
        self.present += len(col) - missing
        if self.kind in NUMERIC_KINDS:
            values = self._as_float(col)
            values = values[np.isfinite(values)]
            if len(values):
                self.kll.update(values)
                # HLL is idempotent, so feeding each batch's distinct values once is the
                # same sketch as feeding every row, at a fraction of the calls.
                _feed(self.hll, _sorted_unique(values).tolist())
            return
        strings = _present_strings(col)
        if self.freq is not None:
            counts = pc.value_counts(strings)
            values = counts.field("values").to_pylist()
            deque(map(self.freq.update, values, counts.field("counts").to_pylist()), maxlen=0)
            _feed(self.hll, values)
        elif pa.types.is_integer(col.type):
            _feed(self.hll, [float(v) for v in pc.unique(col.drop_null()).to_pylist()])
        else:
            _feed(self.hll, pc.unique(strings).to_pylist())

    def _as_float(self, col: pa.Array) -> np.ndarray:
        """Values as float64, NaN where missing or unparsable; datetimes as epoch seconds."""
        if pa.types.is_dictionary(col.type):
            col = col.dictionary_decode()
        t = col.type
        if self.kind == "datetime":
            if pa.types.is_temporal(t):
                micros = pc.cast(pc.cast(col, pa.timestamp("us", getattr(t, "tz", None))),
                                 pa.int64())
                return pc.fill_null(pc.cast(micros, pa.float64()), np.nan).to_numpy() / 1e6
            if pa.types.is_string(t) or pa.types.is_large_string(t):
                return _parse_dates(self, col)
        if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) \
                or pa.types.is_decimal(t):
            return pc.fill_null(pc.cast(col, pa.float64()), np.nan).to_numpy(
                zero_copy_only=False)
        # Numbers written as text: what does not parse counts as no value.
        return pd.to_numeric(pd.Series(col.to_pylist(), dtype=object), errors="coerce") \
            .astype(float).to_numpy()

    def merge(self, other: ColumnSketch) -> None:
        """Fold in the same column's sketch from another shard."""
        self.missing += other.missing
        self.present += other.present
        union = ds.hll_union(HLL_LG_K)
        union.update(self.hll)
        union.update(other.hll)
        self.hll = union.get_result(ds.HLL_8)
        if self.kll is not None:
            self.kll.merge(other.kll)
        if self.freq is not None:
            self.freq.merge(other.freq)

    def summary(self, quantiles: Sequence[float] = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99),
                top: int = 10) -> dict:
        """What the sketches say about the whole column, with their error bounds."""
        rows = self.missing + self.present
        out: dict[str, Any] = {
            "kind": self.kind, "rows": rows, "missing": self.missing,
            "missing_rate": self.missing / rows if rows else 0.0,
            "distinct_estimate": self.hll.get_estimate(),
            "distinct_lower": self.hll.get_lower_bound(2),
            "distinct_upper": self.hll.get_upper_bound(2),
            "unique_ratio_estimate": min(self.hll.get_estimate() / self.present, 1.0)
            if self.present else 0.0,
        }
        if self.kll is not None and not self.kll.is_empty():
            out["quantiles"] = dict(zip([str(q) for q in quantiles],
                                        self.kll.get_quantiles(list(quantiles)), strict=True))
            out["min"], out["max"] = self.kll.get_min_value(), self.kll.get_max_value()
            if self.kind == "datetime":
                out["quantiles_iso"] = {q: _iso(v) for q, v in out["quantiles"].items()}
                out["min_iso"], out["max_iso"] = _iso(out["min"]), _iso(out["max"])
            out["rank_error"] = self.kll.normalized_rank_error(False)
        if self.freq is not None and not self.freq.is_empty():
            items = self.freq.get_frequent_items(ds.frequent_items_error_type.NO_FALSE_POSITIVES)
            out["top"] = [{"value": v, "count": int(est), "lower": int(lo), "upper": int(hi)}
                          for v, est, lo, hi in items[:top]]
            out["count_error"] = self.freq.epsilon * self.freq.total_weight
        return out


def _iso(seconds: float) -> str:
    return pd.Timestamp(seconds, unit="s").isoformat()


def _feed(hll: Any, values: list) -> None:
    # deque(map(...), maxlen=0) runs the calls at C speed: ~85 ns each instead of a loop's ~150.
    deque(map(hll.update, values), maxlen=0)


def _present_strings(col: pa.Array) -> pa.Array:
    """The column's present values as strings (nulls and blank strings dropped)."""
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        if pa.types.is_floating(col.type):
            col = pc.if_else(pc.is_nan(col), None, col)
        try:
            col = pc.cast(col, pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            col = pa.array([None if v is None else str(v) for v in col.to_pylist()], pa.string())
    col = col.drop_null()
    return col.filter(pc.not_equal(pc.utf8_trim_whitespace(col), ""))


def _parse_dates(sketch: ColumnSketch, col: pa.Array) -> np.ndarray:
    if sketch._date_format is None:
        sketch._date_format = datetime_format(_present_strings(col)) or "ISO8601"
    fmt = sketch._date_format
    if fmt == "ISO8601":
        parsed = pd.to_datetime(pd.Series(col.to_pylist(), dtype=object), errors="coerce",
                                format="ISO8601", utc=True)
        out = parsed.astype("int64").to_numpy().astype(float) / 1e9
        out[parsed.isna().to_numpy()] = np.nan
        return out
    ts = pc.strptime(col, format=fmt, unit="us", error_is_null=True)
    micros = pc.cast(pc.cast(ts, pa.timestamp("us", ts.type.tz)), pa.int64())
    return pc.fill_null(pc.cast(micros, pa.float64()), np.nan).to_numpy() / 1e6


# --- row hashes -------------------------------------------------------------------------------


def row_hashes(batch: pa.RecordBatch | pa.Table, names: Sequence[str]) -> np.ndarray:
    """A 64-bit hash of each row's values in the columns ``names`` (in that order).

    Equal rows hash equal whatever batch or shard they are read in; a missing value (null,
    NaN) hashes as one value per column. Floats hash by value (-0.0 as 0.0), strings by
    pandas' SipHash (fixed key: the same in every process).
    """
    h = np.full(batch.num_rows, _GOLDEN, dtype=np.uint64)
    for j, name in enumerate(names):
        col = batch.column(name)
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        v = _column_hash(col)
        with np.errstate(over="ignore"):
            h = _splitmix(h * _M2 + v + np.uint64(j + 1) * _GOLDEN)
    return h


def _column_hash(col: pa.Array) -> np.ndarray:
    t = col.type
    if pa.types.is_dictionary(t):
        codes = pc.fill_null(col.indices, 0).to_numpy(zero_copy_only=False).astype(np.int64)
        out = _column_hash(col.dictionary)[codes] if len(col.dictionary) else \
            np.zeros(len(col), np.uint64)
        return np.where(col.is_null().to_numpy(zero_copy_only=False), _MISSING_HASH, out)
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        x = pc.cast(col, pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False) + 0.0
        out = _splitmix(x.view(np.uint64) ^ _M1)  # + 0.0 turns -0.0 into 0.0
        return np.where(np.isnan(x), _MISSING_HASH, out)
    if pa.types.is_integer(t) or pa.types.is_boolean(t) or pa.types.is_temporal(t):
        if pa.types.is_temporal(t):
            col = col.view(pa.int64() if t.bit_width == 64 else pa.int32())
        filled = pc.fill_null(col, False if pa.types.is_boolean(t) else 0)
        # astype wraps negative integers into uint64: a bijection, which is all a hash needs.
        x = filled.to_numpy(zero_copy_only=False).astype(np.uint64)
        out = _splitmix(x ^ _M2)
        return np.where(col.is_null().to_numpy(zero_copy_only=False), _MISSING_HASH, out)
    if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        col = pa.array([None if v is None else repr(v) for v in col.to_pylist()], pa.string())
    # Hash each distinct string once: categorical columns repeat a few values many times.
    encoded = pc.dictionary_encode(col)
    uniques = encoded.dictionary.to_numpy(zero_copy_only=False).astype(object)
    values = pd.util.hash_array(uniques, categorize=False) if len(uniques) else \
        np.zeros(1, np.uint64)
    codes = pc.fill_null(encoded.indices, 0).to_numpy(zero_copy_only=False).astype(np.int64)
    return np.where(col.is_null().to_numpy(zero_copy_only=False), _MISSING_HASH,
                    values[codes])


class RowHashes:
    """The distinct row hashes seen so far, and how many rows were hashed.

    Hashes arrive in batches and are deduplicated lazily: a compaction (sort and deduplicate
    everything held) runs when the pending hashes outnumber the distinct ones, so each hash is
    sorted O(log n) times in all and memory stays within a small multiple of the distinct set.

    Parameters
    ----------
    limit : int
        Distinct hashes kept at most. Past it the set is dropped (``exact`` turns False) and
        only ``rows`` goes on counting.
    """

    def __init__(self, limit: int = EXACT_ROWS) -> None:
        self.limit = limit
        self.rows = 0
        self._exact = True
        self._unique = np.empty(0, np.uint64)
        self._pending: list[np.ndarray] = []
        self._pending_n = 0

    def add(self, hashes: np.ndarray) -> None:
        self.rows += len(hashes)
        if not self._exact:
            return
        self._pending.append(hashes)
        self._pending_n += len(hashes)
        if self._pending_n >= max(1 << 20, len(self._unique)):
            self._compact()

    def _compact(self) -> None:
        if self._pending:
            self._unique = _sorted_unique(np.concatenate([self._unique, *self._pending]))
            self._pending, self._pending_n = [], 0
        if len(self._unique) > self.limit:
            self._exact = False
            self._unique = np.empty(0, np.uint64)

    @property
    def exact(self) -> bool:
        """Whether the distinct hashes are all still held (so counts are exact)."""
        if self._exact and self._pending:
            self._compact()
        return self._exact

    @property
    def unique(self) -> np.ndarray:
        """Sorted distinct hashes (empty once ``exact`` is False)."""
        self._compact()
        return self._unique

    @property
    def distinct(self) -> int:
        return len(self.unique)

    def merge(self, other: RowHashes) -> None:
        self.rows += other.rows
        self._exact = self.exact and other.exact
        if self._exact:
            self._unique = _sorted_unique(np.concatenate([self.unique, other.unique]))
            self._compact()
        else:
            self._unique, self._pending, self._pending_n = np.empty(0, np.uint64), [], 0


# --- the state of a pass ----------------------------------------------------------------------


@dataclass
class SketchState:
    """Everything one pass keeps about a table; merge shards with :func:`merge_states`.

    Attributes
    ----------
    uri : str
        The input (the first shard's, after a merge).
    kinds : dict
        Column -> kind, in column order; only these columns are read.
    rows : int
        Rows read (exact).
    row_ranges : list of (int, int)
        The ``[start, stop)`` row positions this state covers; shards of one input must not
        overlap.
    columns : dict
        Column -> :class:`ColumnSketch`.
    row_hashes : RowHashes
        Distinct hashes of the rows over the hashed columns (all but identifiers).
    row_hll : datasketches.hll_sketch
        HLL of the row hashes: the distinct-row estimate once the exact set is dropped.
    sample : pyarrow.Table
        Uniform sample of at most ``sample_size`` rows, in input order, with
        ``__synthos_row__`` holding each row's position.
    sample_size, seed : int
        Parameters of the sample (shards must agree on them).
    """

    uri: str
    kinds: dict[str, str]
    rows: int
    row_ranges: list[tuple[int, int]]
    columns: dict[str, ColumnSketch]
    row_hashes: RowHashes
    row_hll: Any
    sample: pa.Table
    sample_size: int
    seed: int

    @property
    def hashed_columns(self) -> list[str]:
        return [n for n, k in self.kinds.items() if k not in UNHASHED_KINDS]

    def duplicate_rate(self) -> dict:
        """Share of rows that repeat an earlier row (over all columns but identifiers).

        Exact while the distinct rows fit ``exact_rows``; otherwise estimated from the HLL of
        row hashes, with its 2-standard-deviation bounds.
        """
        n = self.row_hashes.rows
        if n == 0:
            return {"value": 0.0, "exact": True, "duplicates": 0}
        if self.row_hashes.exact:
            dup = n - self.row_hashes.distinct
            return {"value": dup / n, "exact": True, "duplicates": int(dup)}
        est = self.row_hll.get_estimate()
        lo, hi = self.row_hll.get_lower_bound(2), self.row_hll.get_upper_bound(2)
        return {"value": max(0.0, 1.0 - est / n), "exact": False,
                "low": max(0.0, 1.0 - hi / n), "high": max(0.0, 1.0 - lo / n)}

    def summary(self) -> dict:
        """A JSON-serializable account of the whole table from the sketches."""
        return {"uri": self.uri, "rows": self.rows, "sample_rows": self.sample.num_rows,
                "duplicate_rate": self.duplicate_rate(),
                "distinct_rows_estimate": self.row_hll.get_estimate(),
                "columns": {n: c.summary() for n, c in self.columns.items()}}

    # --- serialization --------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The state as one document: a JSON header and binary blobs (sketches, hashes,
        the sample as Arrow IPC); read it back with :meth:`from_bytes`."""
        blobs: list[tuple[str, bytes]] = []
        cols = {}
        for name, c in self.columns.items():
            cols[name] = {"kind": c.kind, "missing": c.missing, "present": c.present,
                          "date_format": c._date_format}
            blobs.append((f"hll:{name}", c.hll.serialize_compact()))
            if c.kll is not None:
                blobs.append((f"kll:{name}", c.kll.serialize()))
            if c.freq is not None:
                blobs.append((f"freq:{name}", c.freq.serialize()))
        blobs.append(("row_hll", self.row_hll.serialize_compact()))
        blobs.append(("row_hashes", self.row_hashes.unique.astype("<u8").tobytes()))
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, self.sample.schema) as writer:
            writer.write_table(self.sample)
        blobs.append(("sample", sink.getvalue().to_pybytes()))
        offsets, pos = {}, 0
        for key, blob in blobs:
            offsets[key] = [pos, len(blob)]
            pos += len(blob)
        header = json.dumps({
            "uri": self.uri, "kinds": self.kinds, "rows": self.rows,
            "row_ranges": self.row_ranges, "columns": cols, "sample_size": self.sample_size,
            "seed": self.seed, "hashed_rows": self.row_hashes.rows,
            "hashes_exact": self.row_hashes.exact, "hash_limit": self.row_hashes.limit,
            "sketch_params": _params(), "blobs": offsets}).encode()
        return b"".join([_MAGIC, struct.pack("<Q", len(header)), header,
                         *(b for _, b in blobs)])

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "sketch state") -> SketchState:
        """Read a state written by :meth:`to_bytes`; ``source`` names it in errors."""
        if not data.startswith(_MAGIC):
            raise SynthosInputError(source, "not a synthos diversity sketch state")
        try:
            start = len(_MAGIC) + 8
            (size,) = struct.unpack("<Q", data[len(_MAGIC):start])
            head = json.loads(data[start:start + size])
            body = memoryview(data)[start + size:]

            def blob(key: str) -> bytes:
                off, n = head["blobs"][key]
                if off + n > len(body):
                    raise ValueError(f"blob {key} is cut short")
                return bytes(body[off:off + n])

            if head["sketch_params"] != _params():
                raise SynthosInputError(source, f"sketch parameters {head['sketch_params']} "
                                        f"differ from this version's {_params()}")
            columns = {}
            for name, c in head["columns"].items():
                sk = ColumnSketch(name, c["kind"], c["missing"], c["present"],
                                  ds.hll_sketch.deserialize(blob(f"hll:{name}")))
                if f"kll:{name}" in head["blobs"]:
                    sk.kll = ds.kll_doubles_sketch.deserialize(blob(f"kll:{name}"))
                if f"freq:{name}" in head["blobs"]:
                    sk.freq = ds.frequent_strings_sketch.deserialize(blob(f"freq:{name}"))
                sk._date_format = c.get("date_format")
                columns[name] = sk
            hashes = RowHashes(head["hash_limit"])
            hashes.rows, hashes._exact = head["hashed_rows"], head["hashes_exact"]
            hashes._unique = np.frombuffer(blob("row_hashes"), dtype="<u8").astype(np.uint64)
            sample = pa.ipc.open_stream(pa.py_buffer(blob("sample"))).read_all()
            return cls(head["uri"], head["kinds"], head["rows"],
                       [tuple(r) for r in head["row_ranges"]], columns, hashes,
                       ds.hll_sketch.deserialize(blob("row_hll")), sample,
                       head["sample_size"], head["seed"])
        except SynthosInputError:
            raise
        except (ValueError, KeyError, TypeError, struct.error, pa.ArrowInvalid,
                RuntimeError) as err:
            raise SynthosInputError(source, f"corrupt sketch state: {err}") from err


def _params() -> dict:
    return {"hll_lg_k": HLL_LG_K, "kll_k": KLL_K, "freq_lg_max_k": FREQ_LG_MAX_K}


# --- one pass ---------------------------------------------------------------------------------


class _Pass:
    """The mutable state of one pass (reset when a CSV pass restarts with wider types)."""

    def __init__(self, kinds: dict[str, str], sample_rows: int, seed: int,
                 exact_rows: int) -> None:
        self.kinds = kinds
        self.names = list(kinds)
        self.hashed = [n for n, k in kinds.items() if k not in UNHASHED_KINDS]
        self.columns = {n: ColumnSketch.empty(n, k) for n, k in kinds.items()}
        self.sampler = ReservoirSampler(sample_rows, seed)
        self.hashes = RowHashes(exact_rows)
        self.row_hll = ds.hll_sketch(HLL_LG_K, ds.HLL_8)
        self.rows = 0

    def visit(self, batch: pa.RecordBatch, first_row: int) -> None:
        batch = batch.select(self.names)
        missing = missing_counts(batch)
        for j, name in enumerate(self.names):
            self.columns[name].update(batch.column(j), int(missing[j]))
        if self.hashed:
            h = row_hashes(batch, self.hashed)
            self.hashes.add(h)
            _feed(self.row_hll, _sorted_unique(h.copy()).view(np.int64).tolist())
        self.sampler.update(batch, first_row)
        self.rows += batch.num_rows


def sketch_state(uri: str, kinds: dict[str, str] | None = None, *,
                 row_groups: Sequence[int] | None = None, first_row: int = 0,
                 sample_rows: int = SAMPLE_ROWS, seed: int = 0,
                 batch_rows: int = BATCH_ROWS, exact_rows: int = EXACT_ROWS) -> SketchState:
    """Read ``uri`` once (or only some of its Parquet row groups) into a mergeable state.

    Parameters
    ----------
    uri : str
        Local path, ``file://``, ``s3://`` or ``gs://`` URI of any format synthos reads.
    kinds : dict, optional
        Column -> kind (see :data:`synthos.io.KINDS`); only these columns are read, in this
        order. Inferred from the file's first rows (:func:`synthos.io.inspect`) when absent.
        Give the same kinds to every shard.
    row_groups : sequence of int, optional
        Read only these row groups of a Parquet file (a shard); row positions stay those of
        the whole file, so the shards' samples merge into the whole file's sample.
    first_row : int, default 0
        Position of the input's first row in a dataset made of several files: give each
        file the number of rows before it, so their row ranges and sample keys never collide.
    sample_rows : int, default 20_000
        Size of the uniform sample kept (rows).
    seed : int, default 0
        Seed of the sample; shards to be merged must share it.
    batch_rows : int, default 65_536
        Rows per batch read; memory grows with it.
    exact_rows : int, default 20_000_000
        Distinct row hashes kept for the exact duplicate count (8 bytes each).

    Raises
    ------
    SynthosInputError
        Unreadable input, a kind outside :data:`synthos.io.KINDS`, a column in ``kinds`` the
        file lacks, ``row_groups`` on a non-Parquet file or out of range.
    """
    src = open_source(uri)
    if kinds is None:
        kinds = {c.name: c.kind for c in inspect(uri).columns}
    kinds = dict(kinds)
    bad = sorted({k for k in kinds.values() if k not in KINDS})
    if bad:
        raise SynthosInputError(uri, f"unknown column kind(s) {', '.join(bad)}; "
                                f"expected one of {', '.join(KINDS)}")
    if ROW_COLUMN in kinds:
        raise SynthosInputError(uri, f"column name '{ROW_COLUMN}' is reserved")
    if not kinds:
        raise SynthosInputError(uri, "no columns to analyze")
    if sample_rows < 1:
        raise SynthosInputError("sample_rows", f"must be at least 1, got {sample_rows}")
    state: dict[str, _Pass] = {}

    def restart() -> None:
        state["pass"] = _Pass(kinds, sample_rows, seed, exact_rows)

    def visit(batch: pa.RecordBatch, position: int) -> None:
        if not state:
            restart()
        missing = sorted(set(kinds) - set(batch.schema.names))
        if missing:
            raise SynthosInputError(uri, f"column(s) {', '.join(missing)} not in the file")
        state["pass"].visit(batch, first_row + position)

    if row_groups is None:
        scan(src, visit, restart, batch_rows)
        ranges = [(first_row, first_row + state["pass"].rows)]
    else:
        restart()
        ranges = []
        for start, position, batch in _row_group_batches(src, row_groups, batch_rows):
            visit(batch, position)
            if ranges and ranges[-1][0] == first_row + start:
                ranges[-1] = (ranges[-1][0], first_row + position + batch.num_rows)
            else:
                ranges.append((first_row + start, first_row + position + batch.num_rows))
    p = state["pass"]
    return SketchState(uri, kinds, p.rows, _join_ranges(ranges), p.columns, p.hashes,
                       p.row_hll, _sample(p.sampler, kinds), sample_rows, seed)


def _sample(sampler: ReservoirSampler, kinds: dict[str, str]) -> pa.Table:
    try:
        return sampler.result()
    except ValueError:  # no rows were offered: an empty shard
        return pa.table({**{n: pa.array([], pa.null()) for n in kinds},
                         ROW_COLUMN: pa.array([], pa.int64())})


def _row_group_batches(src: Source, row_groups: Sequence[int], batch_rows: int
                       ) -> Iterator[tuple[int, int, pa.RecordBatch]]:
    """(first row of the group, first row of the batch, batch) for the requested row groups,
    with reader errors worded as one-line input errors."""
    if src.fmt.name != "parquet":
        raise SynthosInputError(src.uri, f"row groups are a Parquet notion; this is "
                                f"{src.fmt.label}: shard it by files instead")
    with store_errors(src.loc), contextlib.ExitStack() as stack:
        fh = stack.enter_context(src.open())
        try:
            pf = pq.ParquetFile(fh, buffer_size=1 << 20, pre_buffer=False)
            sizes = [pf.metadata.row_group(i).num_rows for i in range(pf.num_row_groups)]
            starts = np.concatenate([[0], np.cumsum(sizes)]).astype(int).tolist()
            for g in row_groups:
                if not 0 <= g < len(sizes):
                    raise SynthosInputError(src.uri, f"row group {g} out of range: the file "
                                            f"has {len(sizes)} (0 to {len(sizes) - 1})")
                position = starts[g]
                for batch in pf.iter_batches(batch_size=batch_rows, row_groups=[g]):
                    yield starts[g], position, batch
                    position += batch.num_rows
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, EOFError) as err:
            raise SynthosInputError(src.uri, f"corrupt or unreadable Parquet file: "
                                    f"{str(err).strip().splitlines()[0][:300]}") from err


def row_group_sizes(uri: str) -> list[int] | None:
    """Rows in each row group of a Parquet file, from its footer; None for other formats."""
    src = open_source(uri)
    if src.fmt.name != "parquet":
        return None
    with store_errors(src.loc), src.open() as fh:
        md = pq.ParquetFile(fh).metadata
        return [md.row_group(i).num_rows for i in range(md.num_row_groups)]


def split_row_groups(sizes: Sequence[int], shards: int) -> list[list[int]]:
    """Cut row groups of these sizes into at most ``shards`` contiguous lists of about equal
    row counts."""
    if shards < 1:
        raise SynthosInputError("shards", f"must be at least 1, got {shards}")
    total = max(sum(sizes), 1)
    out: list[list[int]] = [[] for _ in range(min(shards, len(sizes)))]
    seen = 0
    for g, n in enumerate(sizes):
        # Cut by cumulative rows, so shards get about equal work even if row groups do not.
        out[min(int(seen * len(out) / total), len(out) - 1)].append(g)
        seen += n
    return [s for s in out if s]


def parquet_shards(uri: str, shards: int) -> list[list[int]]:
    """Split a Parquet file's row groups into at most ``shards`` contiguous lists of about
    equal row counts, for :func:`sketch_state`'s ``row_groups``."""
    sizes = row_group_sizes(uri)
    if sizes is None:
        raise SynthosInputError(uri, "parquet_shards needs a Parquet file")
    return split_row_groups(sizes, shards)


def _join_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(ranges):
        if out and a < out[-1][1]:
            raise SynthosInputError("shards", f"row ranges overlap at rows {a}-"
                                    f"{min(b, out[-1][1])}: a row was read twice; give each "
                                    "file its own first_row")
        if out and a == out[-1][1]:
            out[-1] = (out[-1][0], b)
        elif b > a:
            out.append((a, b))
    return out


# --- merge ------------------------------------------------------------------------------------


def merge_states(states: Sequence[SketchState]) -> SketchState:
    """Merge the states of disjoint shards of one dataset into the state of the whole.

    Counters and the duplicate count are exact; the bottom-k samples merge to the sample one
    pass would draw; HLL, KLL and frequent-items sketches merge within their error bounds.
    The inputs are left unchanged.

    Raises
    ------
    SynthosInputError
        No states, shards that disagree on columns, kinds, sample size or seed, or shards
        whose row ranges overlap.
    """
    if not states:
        raise SynthosInputError("shards", "no sketch states to merge")
    first = states[0]
    for s in states[1:]:
        for what, a, b in (("columns and kinds", s.kinds, first.kinds),
                           ("sample size", s.sample_size, first.sample_size),
                           ("seed", s.seed, first.seed)):
            if a != b:
                raise SynthosInputError(s.uri, f"cannot merge with {first.uri}: {what} differ "
                                        f"({a} vs {b})")
    ranges = _join_ranges(r for s in states for r in s.row_ranges)
    columns = {n: ColumnSketch.empty(n, k) for n, k in first.kinds.items()}
    hashes = RowHashes(min(s.row_hashes.limit for s in states))
    row_union = ds.hll_union(HLL_LG_K)
    sampler = ReservoirSampler(first.sample_size, first.seed)
    for s in states:
        for n, c in s.columns.items():
            columns[n].merge(c)
            columns[n]._date_format = columns[n]._date_format or c._date_format
        hashes.merge(s.row_hashes)
        row_union.update(s.row_hll)
        if s.sample.num_rows:
            rows = s.sample.column(ROW_COLUMN).to_numpy()
            # The sampler's own merge step, fed a deserialized sample with its keys: the
            # keys depend on the seed and row position only, so they are recomputed exactly.
            sampler._add(s.sample, row_keys(rows, s.seed))
    return SketchState(first.uri, dict(first.kinds), sum(s.rows for s in states), ranges,
                       columns, hashes, row_union.get_result(ds.HLL_8),
                       _sample(sampler, first.kinds), first.sample_size, first.seed)


def hll_error_bounds(state: SketchState, column: str, std_devs: int = 2) -> tuple[float, float]:
    """(lower, upper) bounds on a column's distinct count at ``std_devs`` standard deviations."""
    h = state.columns[column].hll
    return h.get_lower_bound(std_devs), h.get_upper_bound(std_devs)


def kll_rank_error(state: SketchState, column: str) -> float:
    """The column's KLL normalized rank error (single-sided, 99th percentile)."""
    kll = state.columns[column].kll
    return kll.normalized_rank_error(False) if kll is not None else math.nan
