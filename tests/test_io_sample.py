"""ReservoirSampler: a uniform bottom-k sample, independent of batching, mergeable by shard."""

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from synthos.io.sample import ROW_COLUMN, ReservoirSampler, row_keys

_MASK = (1 << 64) - 1


def _table(n):
    """n rows whose values encode their position, so misplaced rows are caught."""
    rows = np.arange(n)
    return pa.table({"v": pa.array(rows * 3, pa.int64()),
                     "s": pa.array([f"row{i}" for i in range(n)], pa.string())})


def _sample(table, size, seed, batch_rows, first_row=0):
    sampler = ReservoirSampler(size, seed)
    offset = first_row
    for batch in table.to_batches(max_chunksize=batch_rows):
        sampler.update(batch, offset)
        offset += batch.num_rows
    return sampler


def _rows(result):
    return result.column(ROW_COLUMN).to_pylist()


def _splitmix(row, seed):
    """Pure-Python SplitMix64 of (seed, row), the key function the module documents."""
    z = (row * 0x9E3779B97F4A7C15 + (seed & _MASK) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def test_row_keys_match_reference_splitmix():
    """row_keys is SplitMix64 of (seed, row): samples stay the same across versions."""
    rows = np.array([0, 1, 2, 12345, 2**40 + 7], dtype=np.int64)
    for seed in (0, 1, 42, -1):
        got = row_keys(rows, seed).tolist()
        assert got == [_splitmix(int(r), seed) for r in rows]


@pytest.mark.parametrize("seed", [0, 5])
def test_same_sample_whatever_the_batch_size(seed):
    """Batches of 7, 1000 or the whole table at once give the identical sample."""
    table = _table(5000)
    results = [_sample(table, 100, seed, b).result() for b in (7, 1000, 5000)]
    assert _rows(results[0]) == _rows(results[1]) == _rows(results[2])
    assert results[0].equals(results[1])
    assert results[0].equals(results[2])


def test_sample_is_the_bottom_k_of_row_keys():
    """The sample is exactly the k rows with the smallest keys, with their own values."""
    n, k, seed = 3000, 50, 11
    result = _sample(_table(n), k, seed, 64).result()
    expected = sorted(np.argsort(row_keys(np.arange(n), seed))[:k].tolist())
    assert _rows(result) == expected
    assert result.column("v").to_pylist() == [3 * r for r in expected]
    assert result.column("s").to_pylist() == [f"row{r}" for r in expected]
    assert result.column_names == ["v", "s", ROW_COLUMN]


def test_merged_shards_equal_one_pass():
    """Three shards sampled apart (right first_row offsets) and merged equal one pass."""
    n, k, seed = 4000, 120, 9
    table = _table(n)
    whole = _sample(table, k, seed, 256).result()
    cuts = [(0, 1300), (1300, 1350), (2650, 1350)]
    shards = [_sample(table.slice(start, length), k, seed, 100, first_row=start)
              for start, length in cuts]
    merged = shards[0]
    merged.merge(shards[1])
    merged.merge(shards[2])
    result = merged.result()
    assert _rows(result) == _rows(whole)
    assert result.equals(whole)


def test_merge_order_does_not_matter_and_empty_shard_is_neutral():
    """Merging shards in another order, or merging an untouched sampler, changes nothing."""
    n, k, seed = 1000, 40, 2
    table = _table(n)
    whole = _sample(table, k, seed, 1000).result()
    a = _sample(table.slice(0, 400), k, seed, 33, first_row=0)
    b = _sample(table.slice(400), k, seed, 33, first_row=400)
    b.merge(ReservoirSampler(k, seed))
    b.merge(a)
    assert b.result().equals(whole)


def test_shard_offsets_matter():
    """Feeding a shard with the wrong first_row gives a different sample (offsets are used)."""
    table = _table(2000)
    right = _sample(table.slice(1000), 30, 0, 100, first_row=1000).result()
    wrong = _sample(table.slice(1000), 30, 0, 100, first_row=0).result()
    assert _rows(right) != [r + 1000 for r in _rows(wrong)]
    assert min(_rows(right)) >= 1000
    assert max(_rows(wrong)) < 1000


def test_inclusion_is_uniform_over_positions():
    """Over 2000 seeds (n=100, k=10) each row is kept about k/n of the time (chi-square)."""
    n, k, seeds = 100, 10, 2000
    table = _table(n)
    batch = table.to_batches()[0]
    counts = np.zeros(n, dtype=np.int64)
    for seed in range(seeds):
        sampler = ReservoirSampler(k, seed)
        sampler.update(batch, 0)
        rows = _rows(sampler.result())
        assert len(rows) == k
        counts[rows] += 1
    assert counts.sum() / (seeds * n) == k / n
    assert stats.chisquare(counts).pvalue > 0.001
    # A sampler that kept the first k rows would put all mass on them.
    assert counts[:k].sum() < 3 * seeds * k * k / n


def test_inclusion_is_uniform_across_batches():
    """Rows late in the stream are kept as often as early ones (streaming is unbiased)."""
    n, k, seeds = 200, 10, 600
    table = _table(n)
    early = late = 0
    for seed in range(seeds):
        rows = np.array(_rows(_sample(table, k, seed, 16).result()))
        early += int((rows < n // 2).sum())
        late += int((rows >= n // 2).sum())
    assert early + late == seeds * k
    assert stats.binomtest(early, early + late, 0.5).pvalue > 0.001


def test_same_seed_same_sample_other_seed_other_sample():
    """The seed alone fixes the sample: equal seeds agree, different seeds differ."""
    table = _table(1000)
    first = _sample(table, 25, 123, 50).result()
    again = _sample(table, 25, 123, 333).result()
    other = _sample(table, 25, 124, 50).result()
    assert first.equals(again)
    assert _rows(first) != _rows(other)
    assert len(set(_rows(first)) & set(_rows(other))) < 25


@pytest.mark.parametrize(("n", "k"), [(5, 10), (10, 10), (11, 10), (1000, 10), (1, 1)])
def test_result_sorted_with_min_k_n_rows(n, k):
    """The result has exactly min(k, n) distinct rows, sorted by position."""
    result = _sample(_table(n), k, 1, 3).result()
    rows = _rows(result)
    assert len(rows) == min(k, n) == result.num_rows
    assert rows == sorted(set(rows))
    assert all(0 <= r < n for r in rows)
    if n <= k:
        assert rows == list(range(n))


def test_result_can_be_taken_twice_and_sampling_continues():
    """result() does not consume the sampler: later updates extend the same stream."""
    table = _table(600)
    sampler = _sample(table.slice(0, 300), 20, 4, 50)
    mid = sampler.result()
    assert sampler.result().equals(mid)
    for start in range(300, 600, 50):
        sampler.update(table.slice(start, 50).to_batches()[0], start)
    assert sampler.result().equals(_sample(table, 20, 4, 600).result())


def test_huge_row_offsets():
    """Positions beyond 2**32 are kept exactly in the row column."""
    start = 2**40
    result = _sample(_table(50), 10, 0, 7, first_row=start).result()
    expected = sorted((np.argsort(row_keys(np.arange(start, start + 50), 0))[:10] + start).tolist())
    assert _rows(result) == expected


def test_invalid_use():
    """Size below 1 and result() before any row are usage errors."""
    with pytest.raises(ValueError, match="sample size must be at least 1"):
        ReservoirSampler(0)
    with pytest.raises(ValueError, match="no rows were offered"):
        ReservoirSampler(5).result()
