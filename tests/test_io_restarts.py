"""Passes that restart with other read options: rows longer than a parser block, quoted
newlines found deep in a CSV."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from synthos.io import readers
from synthos.io.profile import profile


def _count(src: readers.Source) -> int:
    seen: list[int] = []
    readers.scan(src, lambda batch, first: seen.append(batch.num_rows), seen.clear)
    return sum(seen)


def test_csv_row_longer_than_a_block_grows_the_block(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text("a,b\n" + "1,x\n" * 10 + "2," + "y" * 30_000 + "\n" + "3,z\n")
    src = readers.open_source(str(path))
    src.block_bytes = 1000
    assert _count(src) == 12
    assert src.block_bytes == 64_000  # 1000 -> 8000 -> 64000: the first that holds the row


def test_jsonl_row_longer_than_a_block_grows_the_block(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    path.write_text("\n".join(['{"a": "x"}'] * 10 + ['{"a": "%s"}' % ("y" * 30_000)]) + "\n")
    src = readers.open_source(str(path))
    src.block_bytes = 1000
    assert _count(src) == 11
    assert src.block_bytes == 64_000
    assert src.column_types == {}


def test_quoted_newline_across_a_block_boundary(tmp_path: Path) -> None:
    """Parallel parsing splits blocks at newlines and cannot see quotes; when a quoted newline
    falls on a block boundary the pass restarts allowing them, and the values come out whole."""
    lines = ["a,b"] + [f'{i},"line {i}\nnext {i}"' for i in range(2000)]
    path = tmp_path / "quoted.csv"
    path.write_text("\n".join(lines) + "\n")
    src = readers.open_source(str(path))
    src.block_bytes = 1000
    assert _count(src) == 2000
    assert src.quoted_newlines is True
    table = pa.Table.from_batches(list(readers.iter_batches(src)))
    assert table.column("b").to_pylist() == [f"line {i}\nnext {i}" for i in range(2000)]
    assert profile(str(path), sample_rows=10).rows == 2000
