"""Writes that never leave a half-written file: a temporary name, then a rename.

On object stores a single PUT is already atomic (the object appears whole or not at all), so
there the bytes go straight to their key.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from synthos.io.uri import resolve, store_errors


def write_bytes(uri: str, data: bytes) -> None:
    """Write ``data`` to ``uri`` atomically, creating parent folders of local paths."""
    loc = resolve(uri)
    with store_errors(loc, "write"):
        if loc.is_local:
            folder = os.path.dirname(loc.path) or "."
            os.makedirs(folder, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, loc.path)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
        else:
            loc.filesystem().pipe_file(loc.path, data)


def write_json(uri: str, doc: Any) -> None:
    """Write ``doc`` as indented JSON."""
    write_bytes(uri, (json.dumps(doc, indent=2, default=str) + "\n").encode("utf-8"))


def write_parquet(uri: str, table: pa.Table) -> None:
    """Write ``table`` as one Parquet file (zstd)."""
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    write_bytes(uri, buf.getvalue())


def read_json(uri: str) -> Any:
    loc = resolve(uri)
    with store_errors(loc), loc.filesystem().open(loc.path, "rb") as fh:
        return json.load(fh)
