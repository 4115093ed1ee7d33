"""A uniform sample of N rows in one pass, mergeable across shards.

Each row gets a pseudo-random key computed from the seed and the row's position alone; the
sample is the N rows with the smallest keys (bottom-k sampling). That is a uniform sample
without replacement, it does not depend on how the file is cut into batches, and the bottom-k
of several shards' bottom-k samples is the bottom-k of the whole: shards merge exactly.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

#: Column added to samples: the row's 0-based position in the input file.
ROW_COLUMN = "__synthos_row__"

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def row_keys(rows: np.ndarray, seed: int) -> np.ndarray:
    """SplitMix64 of (seed, row): independent uniform 64-bit keys, one per row position."""
    with np.errstate(over="ignore"):
        z = rows.astype(np.uint64) * _GOLDEN + np.uint64(seed & 0xFFFFFFFFFFFFFFFF) * _M1
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


class ReservoirSampler:
    """Keep a uniform sample of ``size`` rows from a stream of record batches.

    Parameters
    ----------
    size : int
        Rows to keep (the whole input when it is shorter).
    seed : int, default 0
        Seed of the row keys; the same seed and input give the same sample.
    """

    def __init__(self, size: int, seed: int = 0) -> None:
        if size < 1:
            raise ValueError("sample size must be at least 1")
        self.size = size
        self.seed = seed
        self._table: pa.Table | None = None
        self._keys = np.empty(0, dtype=np.uint64)

    def update(self, batch: pa.RecordBatch, first_row: int) -> None:
        """Offer ``batch``, whose first row is at position ``first_row`` of the input."""
        rows = np.arange(first_row, first_row + batch.num_rows, dtype=np.int64)
        keys = row_keys(rows, self.seed)
        if self._table is not None and len(self._keys) >= self.size:
            # Only rows that beat the current worst key can enter: after the first few
            # batches that is a small fraction, so most batches cost one comparison pass.
            keep = np.flatnonzero(keys < self._keys.max())
            if keep.size == 0:
                return
            batch, rows, keys = batch.take(pa.array(keep)), rows[keep], keys[keep]
        table = pa.Table.from_batches([batch]).append_column(ROW_COLUMN, pa.array(rows))
        self._merge(table, keys)

    def merge(self, other: ReservoirSampler) -> None:
        """Fold in the sample of another shard of the same input (same seed and size)."""
        if other._table is not None:
            self._merge(other._table, other._keys)

    def _merge(self, table: pa.Table, keys: np.ndarray) -> None:
        if self._table is not None:
            table = pa.concat_tables([self._table, table], promote_options="permissive")
            keys = np.concatenate([self._keys, keys])
        if len(keys) > self.size:
            best = np.argpartition(keys, self.size - 1)[: self.size]
            table, keys = table.take(pa.array(best)), keys[best]
        self._table, self._keys = table, keys

    def result(self) -> pa.Table:
        """The sample, in input order, with :data:`ROW_COLUMN` giving each row's position."""
        if self._table is None:
            raise ValueError("no rows were offered")
        order = np.argsort(self._table.column(ROW_COLUMN).to_numpy(), kind="stable")
        return self._table.take(pa.array(order)).combine_chunks()
