"""Readers for every supported format, all yielding Arrow record batches of one schema.

Columnar formats (Parquet, Arrow IPC, Feather, HDF5) and CSV/TSV/JSON Lines stream with memory
bounded by the batch size. A JSON document (one array or object) and an Excel sheet have no
streaming form worth the name and are parsed whole; memory then grows with the file.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from synthos.errors import SynthosInputError
from synthos.io.compression import open_strict_zstd
from synthos.io.formats import (
    DECOMPRESSION_ERRORS,
    LABELS,
    FileFormat,
    check_content,
    from_extension,
)
from synthos.io.uri import Location, resolve, store_errors

#: Rows per record batch handed to consumers unless they ask otherwise.
BATCH_ROWS = 65_536
_HEAD_BYTES = 65_536
# Text is parsed in blocks this big: 1 MiB is as fast as larger blocks and keeps the reader's
# read-ahead small; a row longer than a block restarts the pass with bigger blocks.
_BLOCK_BYTES = 1 << 20
_MAX_BLOCK_BYTES = 1 << 30
# Each restart widens one column or enables quoted newlines: a few per column at most.
_MAX_RESTARTS = 256


@dataclass
class Source:
    """An input file whose location and format have been checked.

    Attributes
    ----------
    loc : Location
        Where it is.
    fmt : FileFormat
        Its format, from the extension and confirmed by its first bytes.
    size : int
        Its size in bytes (compressed size for compressed files).
    column_types : dict
        Arrow types forced for CSV columns whose type changed deep in the file; found by
        :func:`scan` and reused by later passes so they never restart.
    quoted_newlines : bool
        Whether CSV values may hold newlines inside quotes. Off by default because it forces
        single-threaded parsing; :func:`scan` turns it on when a row does not parse without.
    block_bytes : int
        Block size of the CSV and JSON Lines parsers; grown when one row does not fit.
    """

    loc: Location
    fmt: FileFormat
    size: int
    column_types: dict[str, pa.DataType] = field(default_factory=dict)
    quoted_newlines: bool = False
    block_bytes: int = _BLOCK_BYTES

    @property
    def uri(self) -> str:
        return self.loc.uri

    def open(self) -> IO[bytes]:
        """The raw bytes (decompressed for compressed text formats)."""
        fs = self.loc.filesystem()
        if self.fmt.compression == "zstd":
            return open_strict_zstd(fs.open(self.loc.path, "rb"))
        return fs.open(self.loc.path, "rb", compression=self.fmt.compression)


class _Restart(Exception):
    """Raised mid-stream when the pass must start again with other read options.

    ``column`` and ``dtype``: widen that column to that type. Neither: allow quoted newlines.
    ``bigger_blocks``: a row did not fit in one parser block.
    """

    def __init__(self, column: str | None, dtype: pa.DataType | None,
                 bigger_blocks: bool = False) -> None:
        super().__init__(column)
        self.column = column
        self.dtype = dtype
        self.bigger_blocks = bigger_blocks


def open_source(uri: str) -> Source:
    """Resolve ``uri``, check it exists and is not empty, and confirm its format.

    Raises
    ------
    SynthosInputError
        Unsupported scheme, unknown extension, missing file or bucket, denied access, empty
        file, or content that contradicts the extension.
    """
    loc = resolve(uri)
    fmt = from_extension(uri)
    fs = loc.filesystem()
    with store_errors(loc):
        info = fs.info(loc.path)
        if info.get("type") == "directory":
            raise SynthosInputError(uri, "is a directory, not a file")
        size = int(info.get("size") or 0)
        if size == 0:
            raise SynthosInputError(uri, "file is empty (0 bytes)")
        with fs.open(loc.path, "rb") as fh:
            head = fh.read(_HEAD_BYTES)
    src = Source(loc, fmt, size)

    def decompressed() -> bytes:
        # Only opening is a storage matter; what reading raises is the codec's complaint,
        # which check_content words as corrupt data.
        with store_errors(loc):
            fh = src.open()
        with fh:
            return fh.read(_HEAD_BYTES)

    check_content(uri, fmt, head, decompressed if fmt.compression else None)
    return src


def iter_batches(src: Source, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """Stream ``src`` as record batches of at most ``batch_rows`` rows and one schema.

    A CSV column whose type changes deep in the file (integers, then a decimal) cannot be
    fixed once earlier batches are out; call :func:`scan` first, which widens the type and
    records it in ``src.column_types``, or use :func:`scan` itself.
    """
    for _ in range(_MAX_RESTARTS):
        yielded = 0
        try:
            for batch in _checked(src, batch_rows):
                yielded += 1
                yield batch
            return
        except _Restart as err:
            if yielded:
                raise SynthosInputError(
                    src.uri, f"column '{err.column}' changes type deep in the file; "
                    "read it with scan()") from err
            _widen(src, err)
    raise SynthosInputError(src.uri, "column types kept changing while reading")


def scan(
    src: Source,
    visit: Callable[[pa.RecordBatch, int], None],
    restart: Callable[[], None],
    batch_rows: int = BATCH_ROWS,
) -> pa.Schema:
    """Feed every batch of ``src`` to ``visit(batch, first_row)`` in one pass.

    When a column's type must widen mid-stream, ``restart()`` is called and the pass starts
    over with the wider type (at most once per column and type); the returned schema is the
    one every visited batch had in the pass that completed.
    """
    for _ in range(_MAX_RESTARTS):
        restart()
        first_row, schema = 0, None
        try:
            for batch in _checked(src, batch_rows):
                schema = batch.schema
                visit(batch, first_row)
                first_row += batch.num_rows
        except _Restart as err:
            _widen(src, err)
            continue
        if schema is None:
            raise SynthosInputError(src.uri, _no_rows_message(src))
        return schema
    raise SynthosInputError(src.uri, "column types kept changing while reading")


def _widen(src: Source, err: _Restart) -> None:
    """Apply what a restart asks for: bigger blocks, quoted newlines, or a wider column type."""
    if err.bigger_blocks:
        if src.block_bytes >= _MAX_BLOCK_BYTES:
            raise SynthosInputError(src.uri, "a row is longer than 1 GiB") from err
        src.block_bytes *= 8
    elif err.column is None:
        src.quoted_newlines = True
    elif src.column_types.get(err.column) == err.dtype:
        raise SynthosInputError(src.uri, f"column '{err.column}' has inconsistent types") from err
    else:
        src.column_types[err.column] = err.dtype


def head_table(src: Source, rows: int) -> pa.Table:
    """The first ``rows`` rows (fewer if the file is shorter), read without a full pass."""
    batches, total = [], 0
    with contextlib.closing(iter_batches(src, batch_rows=min(rows, BATCH_ROWS))) as it:
        for batch in it:
            batches.append(batch)
            total += batch.num_rows
            if total >= rows:
                break
    if not batches:
        raise SynthosInputError(src.uri, _no_rows_message(src))
    return pa.Table.from_batches(batches).slice(0, rows)


def _no_rows_message(src: Source) -> str:
    if src.fmt.name in ("csv", "tsv", "xlsx"):
        return "has a header but no data rows"
    return "has no data rows"


def _checked(src: Source, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Batches of ``src`` with reader errors turned into one-line input errors."""
    reader = _READERS[src.fmt.name]
    label = LABELS[src.fmt.name]
    schema = None
    with store_errors(src.loc):
        try:
            for batch in reader(src, batch_rows):
                if batch.num_rows == 0:
                    continue
                if schema is None:
                    schema = batch.schema
                    _check_columns(src, schema)
                elif not batch.schema.equals(schema):
                    batch = _conform(src, batch, schema)
                yield batch
        except (_Restart, SynthosInputError):
            raise
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError,
                ValueError, KeyError, EOFError, UnicodeDecodeError) as err:
            raise SynthosInputError(src.uri, f"corrupt or unreadable {label} file: "
                                    f"{_short(err)}") from err
        except DECOMPRESSION_ERRORS as err:
            if isinstance(err, OSError) and ("Errno" in str(err) or "Access" in str(err)
                                             or isinstance(err, PermissionError)):
                raise  # a storage error: store_errors words it
            what = f"{LABELS[src.fmt.compression]} data" if src.fmt.compression else \
                f"{label} file"
            raise SynthosInputError(src.uri, f"corrupt or unreadable {what}: "
                                    f"{_short(err)}") from err


def _check_columns(src: Source, schema: pa.Schema) -> None:
    names = schema.names
    if not names:
        raise SynthosInputError(src.uri, "has no columns")
    seen: set[str] = set()
    dupes = sorted({n for n in names if n in seen or seen.add(n)})
    if dupes:
        raise SynthosInputError(src.uri, f"duplicate column names: {', '.join(dupes)}")


def _conform(src: Source, batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """Cast a batch to the stream's schema; columns that were all-null so far cannot be."""
    try:
        return batch.select(schema.names).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, KeyError) as err:
        raise SynthosInputError(src.uri, f"rows disagree on the columns or their types: "
                                f"{_short(err)}") from err


def _short(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:300] if text else type(err).__name__


# --- CSV and TSV --------------------------------------------------------------------------

_CSV_COLUMN = re.compile(
    r"In CSV column #(\d+): CSV conversion error to (\w+): invalid value '(.*)'"
)


def _read_csv(src: Source, batch_rows: int) -> Iterator[pa.RecordBatch]:
    delimiter = "\t" if src.fmt.name == "tsv" else ","
    read = pacsv.ReadOptions(block_size=src.block_bytes)
    parse = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=src.quoted_newlines)
    convert = pacsv.ConvertOptions(strings_can_be_null=True, column_types=src.column_types)
    with _local_or_open(src) as fh:
        try:
            reader = pacsv.open_csv(fh, read_options=read, parse_options=parse,
                                    convert_options=convert)
        except pa.ArrowInvalid as err:
            if "Empty CSV file" in str(err):
                raise SynthosInputError(src.uri, "file holds no header and no rows") from err
            _raise_if_block_too_small(err)
            raise
        names = reader.schema.names

        def restart_csv(err: pa.ArrowInvalid) -> None:
            _raise_if_block_too_small(err)
            text = str(err)
            match = _CSV_COLUMN.search(text)
            if match:
                column = names[int(match.group(1))]
                raise _Restart(column, _wider(match.group(2), match.group(3))) from err
            spans_lines = "newlines_in_values" in text or ("Expected" in text
                                                           and "columns" in text)
            if spans_lines and not src.quoted_newlines:
                # Maybe a quoted value spans lines: read again allowing that.
                raise _Restart(None, None) from err

        yield from _stream(reader, restart_csv, batch_rows)


def _stream(reader: Any, restart: Callable[[pa.ArrowInvalid], None], batch_rows: int
            ) -> Iterator[pa.RecordBatch]:
    """Batches of a streaming Arrow reader; ``restart`` may turn a parse error into a
    :class:`_Restart`, other errors propagate."""
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except pa.ArrowInvalid as err:
            restart(err)
            raise
        yield from _split(batch, batch_rows)


def _raise_if_block_too_small(err: pa.ArrowInvalid) -> None:
    if "straddl" in str(err):
        raise _Restart(None, None, bigger_blocks=True) from err


def _wider(current: str, value: str) -> pa.DataType:
    """The narrowest type that holds both what the column was and the value that broke it."""
    if current.startswith(("int", "uint")):
        try:
            float(value)
        except ValueError:
            return pa.string()
        return pa.float64()
    return pa.string()


# --- JSON Lines and JSON --------------------------------------------------------------------


def _read_jsonl(src: Source, batch_rows: int) -> Iterator[pa.RecordBatch]:
    if src.column_types.get("*") == pa.string():
        # A field appeared or changed type deep in the file: parse whole, typing each column.
        with src.open() as fh:
            records = [json.loads(line) for line in io.TextIOWrapper(fh, "utf-8") if line.strip()]
        yield from _split_table(_table_from_records(src, records), batch_rows)
        return
    with _local_or_open(src) as fh:
        try:
            reader = pajson.open_json(fh, read_options=pajson.ReadOptions(
                block_size=src.block_bytes))
        except pa.ArrowInvalid as err:
            _restart_jsonl(err)
            raise
        yield from _stream(reader, _restart_jsonl, batch_rows)


def _restart_jsonl(err: pa.ArrowInvalid) -> None:
    """Restart for a row bigger than a block, or a field that appears or changes type late.

    pyarrow fixes the schema from the first block; malformed JSON is left to raise.
    """
    _raise_if_block_too_small(err)
    text = str(err)
    if "parse error" not in text.lower() or "changed" in text or "unexpected field" in text:
        raise _Restart("*", pa.string()) from err


def _read_json(src: Source, batch_rows: int) -> Iterator[pa.RecordBatch]:
    with src.open() as fh:
        try:
            doc = json.load(io.TextIOWrapper(fh, "utf-8"))
        except json.JSONDecodeError as err:
            raise SynthosInputError(src.uri, f"invalid JSON: {err}") from err
    yield from _split_table(_table_from_json(src, doc), batch_rows)


def _table_from_json(src: Source, doc: Any) -> pa.Table:
    """Records (a list of objects) and pandas' ``split``, ``columns`` and ``list`` layouts."""
    if isinstance(doc, list):
        if doc and not all(isinstance(r, dict) for r in doc):
            raise SynthosInputError(src.uri, "JSON array must hold one object per row")
        return _table_from_records(src, doc)
    if isinstance(doc, dict):
        if {"columns", "data"} <= doc.keys():
            rows = [dict(zip(doc["columns"], row, strict=False)) for row in doc["data"]]
            return _table_from_records(src, rows)
        if doc and all(isinstance(v, list) for v in doc.values()):
            return _table_from_columns(src, {k: list(v) for k, v in doc.items()})
        if doc and all(isinstance(v, dict) for v in doc.values()):
            index = list(next(iter(doc.values())).keys())
            return _table_from_columns(src, {k: [v.get(i) for i in index] for k, v in doc.items()})
    raise SynthosInputError(
        src.uri, "JSON layout not recognized: expected an array of row objects, or pandas' "
        "'split', 'columns' or 'list' layout")


def _table_from_records(src: Source, records: list[dict]) -> pa.Table:
    names: dict[str, None] = {}
    for record in records:
        if not isinstance(record, dict):
            raise SynthosInputError(src.uri, "every line must be one JSON object")
        names.update(dict.fromkeys(record))
    return _table_from_columns(src, {n: [r.get(n) for r in records] for n in names})


def _table_from_columns(src: Source, columns: dict[str, list]) -> pa.Table:
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise SynthosInputError(src.uri, "columns have different lengths")
    return pa.table({str(k): _column_array(v) for k, v in columns.items()})


def _column_array(values: list) -> pa.Array:
    """An Arrow array for a list of Python values; a column of mixed types becomes text."""
    try:
        return pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())


# --- Parquet, Arrow IPC, Feather ----------------------------------------------------------


def _read_parquet(src: Source, batch_rows: int) -> Iterator[pa.RecordBatch]:
    with _local_or_open(src) as fh:
        # Buffered page-by-page decoding: without it pyarrow loads whole column chunks, and
        # a row group (1M rows by default) then sets the memory floor.
        reader = pq.ParquetFile(fh, buffer_size=1 << 20, pre_buffer=False)
        yield from reader.iter_batches(batch_size=batch_rows)


def _read_arrow(src: Source, batch_rows: int) -> Iterator[pa.RecordBatch]:
    with _local_or_open(src, memory_map=True) as fh:
        magic = fh.read(6)
        fh.seek(0)
        if magic.startswith(b"FEA1"):
            import pyarrow.feather as feather  # Feather V1 has no streaming reader.

            yield from _split_table(feather.read_table(fh), batch_rows)
            return
        if magic.startswith(b"ARROW1"):
            reader = pa.ipc.open_file(fh)
            for i in range(reader.num_record_batches):
                yield from _split(reader.get_batch(i), batch_rows)
        else:
            for batch in pa.ipc.open_stream(fh):
                yield from _split(batch, batch_rows)


# --- HDF5 -----------------------------------------------------------------------------------


def _read_hdf5(src: Source, batch_rows: int) -> Iterator[pa.RecordBatch]:
    import h5py

    with contextlib.ExitStack() as stack:
        target = src.loc.path if src.loc.is_local else stack.enter_context(src.open())
        try:
            h5 = stack.enter_context(h5py.File(target, "r"))
        except OSError as err:
            raise SynthosInputError(src.uri, f"corrupt or unreadable HDF5 file: {_short(err)}") \
                from err
        table = hdf5_table(src.uri, h5)
        n = len(table) if not isinstance(table, dict) else len(next(iter(table.values())))
        for start in range(0, n, batch_rows):
            if isinstance(table, dict):
                arrays = {k: _h5_array(ds[start:start + batch_rows]) for k, ds in table.items()}
            else:
                rows = table[start:start + batch_rows]
                arrays = {k: _h5_array(rows[k]) for k in rows.dtype.names if k != "index"}
            yield pa.RecordBatch.from_pydict(arrays)


def hdf5_table(uri: str, h5: Any) -> Any:
    """The table in an HDF5 file: a compound dataset, or a dict of column datasets.

    Two layouts hold a table: one compound-typed 1-D dataset (PyTables and pandas'
    ``format='table'`` write ``/key/table``; its ``index`` field is dropped), or a group of
    equal-length 1-D datasets, one per column. The first found in depth-first order is used.
    """
    import h5py

    found: list[Any] = []

    def visit(name: str, obj: Any) -> None:
        if found:
            return
        if isinstance(obj, h5py.Dataset) and obj.dtype.names and obj.ndim == 1:
            found.append(obj)
        elif isinstance(obj, h5py.Group) and len(obj):
            cols = {k: v for k, v in obj.items()
                    if isinstance(v, h5py.Dataset) and v.ndim == 1 and not v.dtype.names}
            if len(cols) == len(obj) and len({len(v) for v in cols.values()}) == 1:
                found.append(cols)

    visit("/", h5)
    if not found:
        h5.visititems(visit)
    if not found:
        raise SynthosInputError(
            uri, "HDF5 layout not recognized: expected a compound-typed table dataset or a group "
            "of equal-length 1-D column datasets (pandas: to_hdf(..., format='table'))")
    table = found[0]
    n = len(next(iter(table.values()))) if isinstance(table, dict) else len(table)
    if n == 0:
        raise SynthosInputError(uri, "has no data rows")
    return table


def _h5_array(values: np.ndarray) -> pa.Array:
    if values.dtype.kind == "S":
        return pa.array([v.decode("utf-8", "replace") for v in values.tolist()], pa.string())
    if values.dtype.kind == "O":
        return _column_array([v.decode("utf-8", "replace") if isinstance(v, bytes) else v
                              for v in values.tolist()])
    return pa.array(values)


# --- Excel ----------------------------------------------------------------------------------


def _read_xlsx(src: Source, batch_rows: int) -> Iterator[pa.RecordBatch]:
    import openpyxl

    with src.open() as fh:
        data = io.BytesIO(fh.read())
    try:
        book = openpyxl.load_workbook(data, read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises zipfile, KeyError and its own types alike
        raise SynthosInputError(src.uri, f"corrupt or unreadable Excel file: {_short(err)}") \
            from err
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = next(rows, None)
        if header is None or all(h is None for h in header):
            raise SynthosInputError(src.uri, "first sheet is empty")
        names = [str(h) if h is not None else f"column_{i}" for i, h in enumerate(header)]
        columns: list[list] = [[] for _ in names]
        for row in rows:
            if row is None or all(v is None for v in row):
                continue
            for i in range(len(names)):
                columns[i].append(row[i] if i < len(row) else None)
    finally:
        book.close()
    table = _table_from_columns(src, dict(zip(names, columns, strict=True)))
    yield from _split_table(table, batch_rows)


# --- helpers ------------------------------------------------------------------------------


@contextlib.contextmanager
def _local_or_open(src: Source, memory_map: bool = False) -> Iterator[Any]:
    """A native Arrow file for local uncompressed files (fast), else an fsspec file object."""
    if src.loc.is_local and not src.fmt.compression:
        handle = pa.memory_map(src.loc.path) if memory_map else pa.OSFile(src.loc.path)
        with handle:
            yield handle
    else:
        with src.open() as fh:
            yield fh


def _split(batch: pa.RecordBatch, rows: int) -> Iterator[pa.RecordBatch]:
    for start in range(0, batch.num_rows, rows):
        yield batch.slice(start, rows)


def _split_table(table: pa.Table, rows: int) -> Iterator[pa.RecordBatch]:
    yield from table.to_batches(max_chunksize=rows)


_READERS: dict[str, Callable[[Source, int], Iterator[pa.RecordBatch]]] = {
    "csv": _read_csv,
    "tsv": _read_csv,
    "jsonl": _read_jsonl,
    "json": _read_json,
    "parquet": _read_parquet,
    "arrow": _read_arrow,
    "feather": _read_arrow,
    "hdf5": _read_hdf5,
    "xlsx": _read_xlsx,
}

__all__ = ["BATCH_ROWS", "Source", "from_extension", "head_table", "iter_batches", "open_source",
           "scan"]
