"""One mixed test table with a known truth, and writers for every supported file format.

``build_table()`` returns the table; ``write_all(folder)`` writes it once per format and returns
``{format_id: path}``. The truth the tests check against lives in module constants: the kind
each column must be inferred as, and how many values each column is missing.
"""

from __future__ import annotations

import bz2
import gzip
import json
import random
import warnings
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import zstandard

ROWS = 500

#: Kind each column must be inferred as, in column order.
KINDS = {
    "id": "id",
    "value": "numeric",
    "count": "integer",
    "flag": "boolean",
    "color": "categorical",
    "ts": "datetime",
    "text": "text",
    "note": "categorical",
}

#: Rows whose ``value`` is NaN, and rows whose ``note`` is missing.
VALUE_MISSING = [i for i in range(ROWS) if i % 10 == 3]  # 50 rows
NOTE_MISSING = [i for i in range(ROWS) if i % 25 == 0]  # 20 rows

#: Exact share of missing values per column.
MISSING = {name: 0.0 for name in KINDS} | {
    "value": len(VALUE_MISSING) / ROWS,
    "note": len(NOTE_MISSING) / ROWS,
}

COLORS = ["red", "green", "blue", "black", "white"]
NOTES = ["alpha", "beta", "gamma"]
_WORDS = [
    "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "river", "stone", "cloud",
    "bright", "silent", "green", "window", "garden", "paper", "market", "yellow", "ocean",
    "winter", "summer", "candle", "forest", "mirror", "engine", "silver", "broken", "gentle",
    "hollow",
]

#: Format ids, each naming one file ``write_all`` writes.
FORMATS = [
    "csv", "tsv", "csv.gz", "csv.bz2", "csv.zst",
    "json-records", "json-split", "json-columns", "json-list",
    "jsonl", "jsonl.gz",
    "parquet", "arrow-file", "arrow-stream", "feather-v2", "feather-v1",
    "hdf5-group", "hdf5-compound", "xlsx",
]


def columns(rows: int = ROWS, seed: int = 7) -> dict[str, list]:
    """The table's columns as plain Python lists (None for missing strings, NaN for floats)."""
    rng = random.Random(seed)
    start = datetime(2021, 3, 1, 8, 0, 0)
    value_missing = set(i for i in range(rows) if i % 10 == 3)
    note_missing = set(i for i in range(rows) if i % 25 == 0)
    return {
        "id": list(range(rows)),
        "value": [float("nan") if i in value_missing else round(rng.gauss(50.0, 12.0), 3) + 0.001
                  for i in range(rows)],
        "count": [rng.randrange(10) for _ in range(rows)],
        "flag": [rng.random() < 0.4 for _ in range(rows)],
        "color": [COLORS[rng.randrange(5)] for _ in range(rows)],
        "ts": [(start + timedelta(seconds=rng.randrange(86400 * 365))).strftime("%Y-%m-%d %H:%M:%S")
               for _ in range(rows)],
        "text": [" ".join(rng.choice(_WORDS) for _ in range(6)) for _ in range(rows)],
        "note": [None if i in note_missing else NOTES[rng.randrange(3)] for i in range(rows)],
    }


def build_table(rows: int = ROWS, seed: int = 7) -> pa.Table:
    """The mixed table as Arrow: NaN floats stay NaN, missing strings are null."""
    return _arrow(columns(rows, seed))


def _arrow(cols: dict[str, list]) -> pa.Table:
    return pa.table({
        "id": pa.array(cols["id"], pa.int64()),
        "value": pa.array(cols["value"], pa.float64()),
        "count": pa.array(cols["count"], pa.int64()),
        "flag": pa.array(cols["flag"], pa.bool_()),
        "color": pa.array(cols["color"], pa.string()),
        "ts": pa.array(cols["ts"], pa.string()),
        "text": pa.array(cols["text"], pa.string()),
        "note": pa.array(cols["note"], pa.string()),
    })


def build_frame(rows: int = ROWS, seed: int = 7) -> pd.DataFrame:
    """The same table as a pandas DataFrame."""
    return pd.DataFrame(columns(rows, seed))


def _json_safe(values: list) -> list:
    return [None if isinstance(v, float) and np.isnan(v) else v for v in values]


def _write_hdf5_group(path: Path, cols: dict[str, list]) -> None:
    import h5py

    with h5py.File(path, "w") as h5:
        group = h5.create_group("table")
        for name, values in cols.items():
            if isinstance(values[0], str) or name == "note":
                # HDF5 strings cannot be null: a missing string is stored as "".
                data = [v if v is not None else "" for v in values]
                group.create_dataset(name, data=data, dtype=h5py.string_dtype())
            else:
                group.create_dataset(name, data=np.asarray(values))


def _write_hdf5_compound(path: Path, cols: dict[str, list]) -> None:
    """One compound dataset with an ``index`` field first, the layout pandas/PyTables write."""
    import h5py

    n = len(cols["id"])
    dtype = np.dtype([
        ("index", "<i8"), ("id", "<i8"), ("value", "<f8"), ("count", "<i8"), ("flag", "?"),
        ("color", "S8"), ("ts", "S19"), ("text", h5py.string_dtype()), ("note", "S8"),
    ])
    data = np.empty(n, dtype=dtype)
    data["index"] = np.arange(n) + 1000
    for name in ("id", "value", "count", "flag"):
        data[name] = cols[name]
    for name in ("color", "ts", "note"):
        data[name] = [(v or "").encode() for v in cols[name]]
    data["text"] = cols["text"]
    with h5py.File(path, "w") as h5:
        h5.create_group("df").create_dataset("table", data=data)


def write_format(fmt: str, folder: Path, rows: int = ROWS, seed: int = 7) -> Path:
    """Write the table in format ``fmt`` (one of :data:`FORMATS`) under ``folder``."""
    return write_formats([fmt], folder, rows, seed)[fmt]


def write_formats(fmts: list[str], folder: Path, rows: int = ROWS, seed: int = 7
                  ) -> dict[str, Path]:
    """Write the table once per format in ``fmts`` under ``folder``; ``{format_id: path}``."""
    cols = columns(rows, seed)
    frame = pd.DataFrame(cols)
    table = _arrow(cols)
    return {fmt: _write(fmt, Path(folder), cols, frame, table) for fmt in fmts}


def _write(fmt: str, folder: Path, cols: dict[str, list], frame: pd.DataFrame,
           table: pa.Table) -> Path:
    path = folder / {
        "json-records": "records.json", "json-split": "split.json",
        "json-columns": "columns.json", "json-list": "list.json",
        "arrow-file": "table.arrow", "arrow-stream": "table.arrows",
        "feather-v2": "v2.feather", "feather-v1": "v1.feather",
        "hdf5-group": "group.h5", "hdf5-compound": "compound.hdf5",
    }.get(fmt, f"table.{fmt}")
    if fmt.startswith("csv"):
        csv_text = frame.to_csv(index=False)
    if fmt == "csv":
        path.write_text(csv_text)
    elif fmt == "tsv":
        frame.to_csv(path, sep="\t", index=False)
    elif fmt == "csv.gz":
        path.write_bytes(gzip.compress(csv_text.encode()))
    elif fmt == "csv.bz2":
        path.write_bytes(bz2.compress(csv_text.encode()))
    elif fmt == "csv.zst":
        path.write_bytes(zstandard.ZstdCompressor().compress(csv_text.encode()))
    elif fmt in ("json-records", "json-split", "json-columns"):
        frame.to_json(path, orient=fmt.split("-")[1])
    elif fmt == "json-list":
        path.write_text(json.dumps({k: _json_safe(v) for k, v in cols.items()}))
    elif fmt == "jsonl":
        frame.to_json(path, orient="records", lines=True)
    elif fmt == "jsonl.gz":
        path.write_bytes(gzip.compress(frame.to_json(orient="records", lines=True).encode()))
    elif fmt == "parquet":
        pq.write_table(table, path)
    elif fmt == "arrow-file":
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
            for batch in table.to_batches(max_chunksize=128):
                w.write_batch(batch)
    elif fmt == "arrow-stream":
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as w:
            for batch in table.to_batches(max_chunksize=128):
                w.write_batch(batch)
    elif fmt == "feather-v2":
        feather.write_feather(table, str(path), version=2)
    elif fmt == "feather-v1":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # V1 is deprecated; still read
            feather.write_feather(table, str(path), version=1)
    elif fmt == "hdf5-group":
        _write_hdf5_group(path, cols)
    elif fmt == "hdf5-compound":
        try:
            import tables  # noqa: F401
        except ImportError:
            _write_hdf5_compound(path, cols)
        else:
            frame.to_hdf(path, key="df", format="table")
    elif fmt == "xlsx":
        frame.to_excel(path, index=False)
    else:
        raise ValueError(f"unknown format id {fmt!r}")
    return path


def write_all(folder: Path, rows: int = ROWS, seed: int = 7) -> dict[str, Path]:
    """Write the table once in every format of :data:`FORMATS`; ``{format_id: path}``."""
    return write_formats(FORMATS, folder, rows, seed)
