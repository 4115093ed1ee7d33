"""Metadata without reading the data, and the one-pass profile of a whole dataset."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from synthos.errors import SynthosInputError
from synthos.io.readers import (
    Source,
    _local_or_open,
    hdf5_table,
    head_table,
    iter_batches,
    open_source,
    scan,
)
from synthos.io.sample import ROW_COLUMN, ReservoirSampler
from synthos.io.schema import ColumnSchema, infer_schema, missing_counts
from synthos.io.uri import store_errors

#: Rows read from the head of a file to infer column kinds when nothing more is read.
HEAD_ROWS = 10_000


@dataclass
class Metadata:
    """What a file holds, learned from its footer, header or first rows.

    Attributes
    ----------
    uri, format : str
        The input and its format label.
    bytes : int
        Size on storage.
    rows : int or None
        Row count: exact for every format but CSV, TSV and JSON Lines, whose count is
        estimated from the line length of the first MiB (None when they are compressed and
        longer than the rows read). Parquet, Arrow IPC files, Feather v2 and HDF5 are counted
        from metadata; JSON, Excel, Feather v1 and Arrow IPC streams by a pass over data the
        reader holds anyway.
    rows_exact : bool
        Whether ``rows`` is exact.
    columns : list of ColumnSchema
        Columns; kinds and missing rates from the first :data:`HEAD_ROWS` rows.
    basis : str
        What the kinds were inferred from.
    """

    uri: str
    format: str
    bytes: int
    rows: int | None
    rows_exact: bool
    columns: list[ColumnSchema]
    basis: str

    def to_dict(self) -> dict:
        return {"uri": self.uri, "format": self.format, "bytes": self.bytes, "rows": self.rows,
                "rows_exact": self.rows_exact, "basis": self.basis,
                "columns": [c.to_dict() for c in self.columns]}


def inspect(uri: str) -> Metadata:
    """Metadata and schema of ``uri`` from its footer and first rows, without a full pass."""
    src = open_source(uri)
    head = head_table(src, HEAD_ROWS)
    rows, exact = _row_count(src, head)
    basis = f"first {head.num_rows:,} rows"
    return Metadata(uri, src.fmt.label, src.size, rows, exact, infer_schema(head), basis)


def _row_count(src: Source, head: pa.Table) -> tuple[int | None, bool]:
    name = src.fmt.name
    with store_errors(src.loc):
        if name == "parquet":
            with _local_or_open(src) as fh:
                return pq.ParquetFile(fh).metadata.num_rows, True
        if name in ("arrow", "feather"):
            with _local_or_open(src, memory_map=True) as fh:
                if fh.read(6) == b"ARROW1":
                    fh.seek(0)
                    reader = pa.ipc.open_file(fh)
                    # Batch headers only: with a memory map no column data is touched.
                    return sum(reader.get_batch(i).num_rows
                               for i in range(reader.num_record_batches)), True
    if head.num_rows < HEAD_ROWS:
        return head.num_rows, True
    if name == "hdf5":
        return _hdf5_rows(src), True
    if name in ("json", "xlsx", "arrow", "feather"):
        # These readers parse (or memory-map) the whole file anyway: counting costs no I/O.
        return sum(b.num_rows for b in iter_batches(src)), True
    if name in ("csv", "tsv", "jsonl") and not src.fmt.compression:
        return _estimate_lines(src), False
    return None, False


def _hdf5_rows(src: Source) -> int:
    import h5py

    with contextlib.ExitStack() as stack:
        target = src.loc.path if src.loc.is_local else stack.enter_context(src.open())
        table = hdf5_table(src.uri, stack.enter_context(h5py.File(target, "r")))
        return len(next(iter(table.values()))) if isinstance(table, dict) else len(table)


def _estimate_lines(src: Source, probe_bytes: int = 1 << 20) -> int:
    """Rows of a line-oriented text file from the line length of its first MiB."""
    with store_errors(src.loc), src.open() as fh:
        head = fh.read(probe_bytes)
    lines = head.count(b"\n")
    header = 1 if src.fmt.name in ("csv", "tsv") else 0
    if len(head) >= src.size:
        return max(lines + (not head.endswith(b"\n")) - header, 0)
    return int(src.size / (len(head) / max(lines, 1))) - header


@dataclass
class Profile:
    """The result of one streaming pass over a dataset.

    Attributes
    ----------
    uri, format : str
        The input and its format label.
    bytes : int
        Size on storage.
    rows : int
        Exact row count.
    columns : list of ColumnSchema
        Kinds from the sample, missing rates exact over every row.
    sample : pyarrow.Table
        Uniform sample (all rows when the input is smaller), in input order, with
        ``__synthos_row__`` holding each row's 0-based position in the input.
    column_types : dict
        Arrow types that had to be widened while reading (CSV), for later passes.
    seconds : float
        Wall time of the pass.
    """

    uri: str
    format: str
    bytes: int
    rows: int
    columns: list[ColumnSchema]
    sample: pa.Table
    column_types: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def sampled(self) -> bool:
        return self.sample.num_rows < self.rows

    def schema_document(self) -> dict:
        """The schema JSON of the load stage: everything but the sample itself."""
        return {"uri": self.uri, "format": self.format, "bytes": self.bytes, "rows": self.rows,
                "sample_rows": self.sample.num_rows, "sampled": self.sampled,
                "column_types": self.column_types, "seconds": round(self.seconds, 3),
                "columns": [c.to_dict() for c in self.columns]}


def profile(uri: str, sample_rows: int = 100_000, seed: int = 0,
            batch_rows: int = 65_536) -> Profile:
    """Read ``uri`` once: exact row count and missing rates, a uniform sample, column kinds.

    Parameters
    ----------
    uri : str
        Local path, ``file://``, ``s3://`` or ``gs://`` URI of a supported format.
    sample_rows : int, default 100_000
        Size of the uniform sample kept (rows).
    seed : int, default 0
        Seed of the sample; the same seed gives the same rows.
    batch_rows : int, default 65_536
        Rows per batch read; memory is bounded by this and ``sample_rows``.
    """
    start = time.perf_counter()
    src = open_source(uri)
    state: dict = {}

    def restart() -> None:
        state["sampler"] = ReservoirSampler(sample_rows, seed)
        state["missing"] = None
        state["rows"] = 0

    def visit(batch: pa.RecordBatch, first_row: int) -> None:
        state["sampler"].update(batch, first_row)
        counts = missing_counts(batch)
        state["missing"] = counts if state["missing"] is None else state["missing"] + counts
        state["rows"] += batch.num_rows

    schema = scan(src, visit, restart, batch_rows)
    rows = state["rows"]
    if ROW_COLUMN in schema.names:
        raise SynthosInputError(uri, f"column name '{ROW_COLUMN}' is reserved")
    missing = {n: float(c) / rows for n, c in zip(schema.names, state["missing"], strict=True)}
    sample = state["sampler"].result()
    columns = infer_schema(sample.drop_columns([ROW_COLUMN]), missing)
    return Profile(uri, src.fmt.label, src.size, rows, columns, sample,
                   {k: str(v) for k, v in src.column_types.items()},
                   time.perf_counter() - start)

