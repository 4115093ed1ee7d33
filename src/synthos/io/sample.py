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
        # Candidates not yet compacted, and the key a row must beat to be one (None until
        # ``size`` rows have been seen). Compacting only when candidates reach twice the
        # sample size keeps the costly row gathers to a handful per pass.
        self._parts: list[tuple[pa.Table, np.ndarray]] = []
        self._held = 0
        self._threshold: np.uint64 | None = None

    def update(self, batch: pa.RecordBatch, first_row: int) -> None:
        """Offer ``batch``, whose first row is at position ``first_row`` of the input."""
        rows = np.arange(first_row, first_row + batch.num_rows, dtype=np.int64)
        keys = row_keys(rows, self.seed)
        table = pa.Table.from_batches([batch])
        if self._threshold is not None:
            keep = np.flatnonzero(keys < self._threshold)
            if keep.size == 0:
                return
            table, rows, keys = table.take(pa.array(keep)), rows[keep], keys[keep]
        self._add(table.append_column(ROW_COLUMN, pa.array(rows)), keys)

    def merge(self, other: ReservoirSampler) -> None:
        """Fold in the sample of another shard of the same input (same seed and size)."""
        for table, keys in other._parts:
            self._add(table, keys)

    def _add(self, table: pa.Table, keys: np.ndarray) -> None:
        self._parts.append((table, keys))
        self._held += len(keys)
        if self._held >= 2 * self.size:
            self._compact()

    def _compact(self) -> None:
        if not self._parts:
            return
        table = pa.concat_tables([t for t, _ in self._parts], promote_options="permissive")
        keys = np.concatenate([k for _, k in self._parts])
        if len(keys) > self.size:
            best = np.argpartition(keys, self.size - 1)[: self.size]
            table, keys = table.take(pa.array(best)), keys[best]
        if len(keys) >= self.size:
            self._threshold = keys.max()
        self._parts, self._held = [(table, keys)], len(keys)

    def result(self) -> pa.Table:
        """The sample, in input order, with :data:`ROW_COLUMN` giving each row's position."""
        self._compact()
        if not self._parts:
            raise ValueError("no rows were offered")
        table = self._parts[0][0]
        order = np.argsort(table.column(ROW_COLUMN).to_numpy(), kind="stable")
        return table.take(pa.array(order)).combine_chunks()
