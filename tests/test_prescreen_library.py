"""The pre-screen's signature library: storage on disk and object stores, concurrency, lookup."""

from __future__ import annotations

import itertools
import json
import multiprocessing
import multiprocessing.pool
import os
import re
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from servers import GCSServer, S3Server, gcs_server, s3_server

from synthos.errors import SynthosInputError
from synthos.io.uri import Location
from synthos.prescreen import (
    CorruptLibraryWarning,
    EmptyLibraryError,
    SignatureLibrary,
    fit_platt,
)
from synthos.prescreen import store as store_module

DIM = 8
WRITERS = 4
ADDS_PER_WRITER = 25
_buckets = itertools.count()


# --------------------------------------------------------------------------- helpers


def _vector(writer: int, i: int, dim: int = DIM) -> np.ndarray:
    """A signature that says who wrote it: checked after the fact, value by value."""
    rng = np.random.default_rng(writer * 10_000 + i)
    vec = rng.normal(size=dim)
    vec[0], vec[1] = writer, i
    return vec


def _wait_until(start_at: float) -> None:
    # Every worker sleeps until the same wall-clock instant, so their writes overlap.
    time.sleep(max(0.0, start_at - time.time()))


def _warm(_: int) -> int:
    # Unpickling this function imports this module in the worker; the pause makes every
    # worker take one task.
    time.sleep(0.3)
    return os.getpid()


def _adder(uri: str, env: dict[str, str], writer: int, count: int, start_at: float,
           pause_s: float = 0.0) -> tuple[int, list[str]]:
    os.environ.update(env)
    lib = SignatureLibrary.open(uri, on_corrupt="raise")
    _wait_until(start_at)
    ids = []
    for i in range(count):
        kind = "healthy" if i % 2 else "mode_collapse"
        ids.append(lib.add(_vector(writer, i), kind, f"w{writer}-{i}", "pass",
                           {"writer": writer, "i": i}))
        time.sleep(pause_s)
    return os.getpid(), ids


def _compactor(uri: str, env: dict[str, str], start_at: float, until_rows: int,
               deadline_s: float) -> tuple[int, list[tuple[str, int]]]:
    os.environ.update(env)
    lib = SignatureLibrary.open(uri, on_corrupt="raise")
    _wait_until(start_at)
    done = []
    stop = time.monotonic() + deadline_s
    while time.monotonic() < stop:
        version = lib.compact()
        done.append((version, len(lib)))
        if len(lib) >= until_rows:
            break
    return os.getpid(), done


def _use(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)


@pytest.fixture(scope="module")
def pool() -> Iterator[multiprocessing.pool.Pool]:
    # spawn, not fork: the parent runs fsspec's event-loop thread, which fork does not copy.
    # One pool for the module: each spawned worker pays the imports once.
    with multiprocessing.get_context("spawn").Pool(WRITERS) as workers:
        # Every worker imports the test module before any test relies on a common start time.
        for _ in range(5):
            if len(set(workers.map(_warm, range(WRITERS), chunksize=1))) == WRITERS:
                break
        yield workers


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server(auth=True) as server:
        yield server


@pytest.fixture(scope="module")
def gcs() -> Iterator[GCSServer]:
    with gcs_server() as server:
        yield server


def _library_uri(kind: str, tmp_path: Path, request: pytest.FixtureRequest,
                 monkeypatch: pytest.MonkeyPatch) -> tuple[str, dict[str, str]]:
    """A fresh library location on local disk, S3 or GCS, and the environment to reach it."""
    if kind == "local":
        return str(tmp_path / "library"), {}
    bucket = f"prescreen-{next(_buckets)}"
    server = request.getfixturevalue("s3" if kind == "s3" else "gcs")
    server.create_bucket(bucket)
    _use(server.env, monkeypatch)
    return f"{'s3' if kind == 's3' else 'gs'}://{bucket}/signatures", server.env


def _clustered_library(uri: str) -> tuple[SignatureLibrary, dict[str, np.ndarray]]:
    """30 healthy signatures around 0 and 10 of each of three collapse families elsewhere."""
    rng = np.random.default_rng(7)
    centres = {"healthy": np.zeros(DIM), "tail_truncation": np.r_[4.0, np.zeros(DIM - 1)],
               "variance_shrinkage": np.r_[0.0, 4.0, np.zeros(DIM - 2)],
               "memorization": np.r_[0.0, 0.0, -4.0, np.zeros(DIM - 3)]}
    vectors, kinds = [], []
    for kind, centre in centres.items():
        count = 30 if kind == "healthy" else 10
        vectors.append(centre + 0.5 * rng.normal(size=(count, DIM)))
        kinds += [kind] * count
    lib = SignatureLibrary.create(uri, DIM)
    lib.add_many(np.vstack(vectors), kinds, [f"{k}-{i}" for i, k in enumerate(kinds)])
    return lib, centres


# --------------------------------------------------------------------------- round trip


def test_round_trip_add_query_compact_on_disk(tmp_path: Path) -> None:
    uri = str(tmp_path / "lib")
    lib = SignatureLibrary.create(uri, DIM, spec={"name": "sig", "version": 1})
    first = lib.add(_vector(0, 0), "healthy", "s3://data/a.parquet", "pass",
                    {"rows": np.int64(1200), "scores": np.array([0.5, 1.0])})
    second = lib.add(_vector(0, 1), "tail_truncation", "b.csv", "collapse")
    batch = lib.add_many([_vector(1, 0), _vector(1, 1)], ["healthy", "duplicates"],
                         ["c", "d"], verdicts=["warn", None])
    assert len(set([first, second, *batch])) == 4
    before = lib.query(_vector(1, 1), k=3)

    table = lib.entries()
    assert table.column_names == ["id", "kind", "label", "source", "verdict", "created_at",
                                  "details"]
    rows = {r["id"]: r for r in table.to_pylist()}
    assert rows[first]["kind"] == "healthy" and rows[first]["label"] == "healthy"
    assert rows[second]["label"] == "collapsed" and rows[second]["verdict"] == "collapse"
    assert rows[batch[1]]["verdict"] is None and rows[batch[0]]["verdict"] == "warn"
    assert json.loads(rows[first]["details"]) == {"rows": 1200, "scores": [0.5, 1.0]}
    assert json.loads(rows[second]["details"]) == {}
    created = datetime.fromisoformat(rows[first]["created_at"])
    assert created.utcoffset().total_seconds() == 0
    assert abs((datetime.now(UTC) - created).total_seconds()) < 60

    reopened = SignatureLibrary.open(f"file://{uri}")
    assert reopened.spec == {"name": "sig", "version": 1} and reopened.dim == DIM
    assert reopened.pending == 3 and reopened.snapshots == ()
    assert reopened.entries().equals(table)
    np.testing.assert_array_equal(reopened.vectors(), lib.vectors())

    version = reopened.compact()
    assert reopened.snapshots == (version,) and reopened.pending == 0
    assert os.listdir(tmp_path / "lib" / "entries") == []
    assert os.listdir(tmp_path / "lib" / "manifests") == [f"{version}.json"]
    compacted = SignatureLibrary.open(uri)
    assert compacted.snapshots == (version,) and compacted.pending == 0
    assert compacted.entries().equals(table)
    expected = np.vstack([_vector(0, 0), _vector(0, 1), _vector(1, 0), _vector(1, 1)])
    np.testing.assert_array_equal(compacted.vectors(), expected.astype(np.float32))
    after = compacted.query(_vector(1, 1), k=3)
    assert after == before
    assert after.neighbours[0].id == batch[1] and after.neighbours[0].distance < 1e-5

    # Compacting again with nothing new writes nothing; adding after a snapshot reads both.
    assert compacted.compact() == version
    newest = compacted.add(_vector(2, 0), "healthy", "e")
    merged = SignatureLibrary.open(uri)
    assert merged.pending == 1 and len(merged) == 5
    assert merged.entries().column("id").to_pylist()[-1] == newest
    assert SignatureLibrary.open(uri).compact() != version


# --------------------------------------------------------------------------- lookup


def test_query_finds_planted_neighbour_and_scores_risk(tmp_path: Path) -> None:
    lib, centres = _clustered_library(str(tmp_path / "lib"))
    planted_vector = np.r_[9.0, 9.0, np.zeros(DIM - 2)]
    planted = lib.add(planted_vector, "recursive", "gen-7", "collapse", {"generation": 7})

    found = lib.query(planted_vector + 0.01, k=5)
    top = found.neighbours[0]
    assert (top.id, top.kind, top.label, top.source) == (planted, "recursive", "collapsed",
                                                         "gen-7")
    assert top.distance < 0.1 * found.neighbours[1].distance
    assert [n.distance for n in found.neighbours] == sorted(n.distance for n in found.neighbours)

    collapsed = lib.query(centres["tail_truncation"] + 0.1, k=5)
    assert collapsed.calibration == "platt" and collapsed.library_size == 61
    assert collapsed.risk > 80, collapsed
    assert {n.kind for n in collapsed.neighbours} == {"tail_truncation"}
    assert collapsed.matched_kinds == ["tail_truncation"]
    assert collapsed.risk == pytest.approx(100 * collapsed.probability)

    healthy = lib.query(centres["healthy"] - 0.1, k=5)
    assert healthy.risk < 20, healthy
    assert healthy.kinds == {"healthy": 1.0} and healthy.matched_kinds == []

    # Between the two, the risk sits between, and both kinds are reported.
    mixed = lib.query((centres["healthy"] + centres["variance_shrinkage"]) / 2, k=10)
    assert healthy.risk < mixed.risk < collapsed.risk
    assert set(mixed.kinds) == {"healthy", "variance_shrinkage"}
    assert sum(mixed.kinds.values()) == pytest.approx(1.0)
    doc = json.loads(json.dumps(mixed.to_dict()))
    assert len(doc["neighbours"]) == 10 and doc["risk"] == pytest.approx(mixed.risk)


def test_raw_score_follows_the_documented_formula(tmp_path: Path) -> None:
    # Two entries: standardized, healthy sits at (-1, -1) and collapsed at (1, 1), so the
    # library's spacing h is 2*sqrt(2). Querying at the collapsed entry with k=2: weights
    # 1 and 1/(1+1) = 0.5; base rate (1+1)/(2+2) = 0.5; raw = (1 + 2*0.5) / (1.5 + 2).
    lib = SignatureLibrary.create(str(tmp_path / "lib"), 2)
    lib.add([0.0, 0.0], "healthy", "h")
    lib.add([2.0, 4.0], "duplicates", "c")
    found = lib.query([2.0, 4.0], k=2)
    assert found.distance_scale == pytest.approx(2 * np.sqrt(2))
    assert [n.weight for n in found.neighbours] == pytest.approx([1.0, 0.5])
    assert found.raw == pytest.approx(2.0 / 3.5)
    # Too few entries of each label to calibrate: the probability is the raw score.
    assert found.calibration == "none" and found.probability == found.raw
    # Far from both, the prior dominates: the score tends to the base rate.
    far = lib.query([1000.0, -1000.0], k=2)
    assert far.raw == pytest.approx(0.5, abs=0.01)


def test_calibration_beats_the_raw_share_on_held_out_data(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    dim, n = 4, 300
    shift = np.r_[1.5, np.zeros(dim - 1)]
    lib = SignatureLibrary.create(str(tmp_path / "lib"), dim)
    lib.add_many(np.vstack([rng.normal(size=(n, dim)), rng.normal(size=(n, dim)) + shift]),
                 ["healthy"] * n + ["mode_collapse"] * n, ["s"] * (2 * n))
    truth = rng.random(1000) < 0.5
    points = rng.normal(size=(1000, dim)) + np.outer(truth, shift)
    found = [lib.query(p, k=10) for p in points]
    assert {f.calibration for f in found} == {"platt"}
    calibrated = np.array([f.probability for f in found])
    raw = np.array([f.raw for f in found])

    def expected_calibration_error(p: np.ndarray) -> float:
        bins = np.minimum((p * 10).astype(int), 9)
        return sum(abs(p[bins == b].mean() - truth[bins == b].mean()) * (bins == b).mean()
                   for b in range(10) if (bins == b).any())

    assert expected_calibration_error(calibrated) < 0.06
    assert expected_calibration_error(calibrated) < expected_calibration_error(raw) - 0.02
    assert ((calibrated - truth) ** 2).mean() < ((raw - truth) ** 2).mean()


def test_fit_platt_recovers_known_parameters() -> None:
    rng = np.random.default_rng(3)
    scores = rng.normal(scale=2.0, size=20_000)
    labels = rng.random(20_000) < 1 / (1 + np.exp(-1.5 * scores + 0.3))
    a, b = fit_platt(scores, labels)
    assert a == pytest.approx(-1.5, abs=0.08) and b == pytest.approx(0.3, abs=0.08)
    # Scores that point the wrong way: the slope is clamped to 0 and b gives the base rate.
    a, b = fit_platt(-scores, labels)
    assert a == 0.0
    assert 1 / (1 + np.exp(b)) == pytest.approx(labels.mean(), abs=0.01)
    # Perfectly separated classes stay finite, capped by Platt's smoothed targets.
    a, b = fit_platt(np.r_[-np.ones(10), np.ones(10)], np.r_[np.zeros(10), np.ones(10)])
    top = 1 / (1 + np.exp(a + b))
    assert np.isfinite([a, b]).all() and top == pytest.approx(11 / 12, abs=1e-3)


def test_empty_library_and_bad_signatures(tmp_path: Path) -> None:
    uri = str(tmp_path / "lib")
    lib = SignatureLibrary.create(uri, DIM)
    with pytest.raises(EmptyLibraryError, match="signature library is empty") as err:
        lib.query(np.zeros(DIM))
    assert str(err.value).startswith(uri)
    with pytest.raises(SynthosInputError, match="has 7 values but this library holds"
                       " 8-dimensional signatures") as err:
        lib.add(np.zeros(7), "healthy", "x")
    assert str(err.value).startswith(uri) and "\n" not in str(err.value)
    with pytest.raises(SynthosInputError, match="has 9 values"):
        lib.query(np.zeros(9))
    with pytest.raises(ValueError, match="finite"):
        lib.add(np.r_[np.nan, np.zeros(DIM - 1)], "healthy", "x")
    with pytest.raises(ValueError, match="snake_case"):
        lib.add(np.zeros(DIM), "Mode Collapse", "x")
    with pytest.raises(ValueError, match="JSON-serializable"):
        lib.add(np.zeros(DIM), "healthy", "x", details={"f": object()})
    with pytest.raises(ValueError, match="k must be"):
        lib.query(np.zeros(DIM), k=0)
    assert not (tmp_path / "lib" / "entries").exists()  # nothing was written
    assert SignatureLibrary.open(uri).pending == 0
    with pytest.raises(SynthosInputError, match="already exists"):
        SignatureLibrary.create(uri, DIM)
    with pytest.raises(SynthosInputError, match="holds 8-dimensional signatures, not 4"):
        SignatureLibrary.create(uri, 4, exist_ok=True)
    assert len(SignatureLibrary.create(uri, DIM, exist_ok=True)) == 0
    # An empty library compacts to an empty snapshot, and stays queryable-with-an-error.
    version = lib.compact()
    assert SignatureLibrary.open(uri).snapshots == (version,)


def test_open_errors_are_one_line_input_errors(tmp_path: Path, s3: S3Server,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    missing = str(tmp_path / "nowhere")
    with pytest.raises(SynthosInputError, match="no signature library here") as err:
        SignatureLibrary.open(missing)
    assert str(err.value).startswith(missing) and "\n" not in str(err.value)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "library.json").write_text('{"format": "synthos-signature-lib')
    with pytest.raises(SynthosInputError, match="not a signature library description"):
        SignatureLibrary.open(str(tmp_path / "bad"))

    s3.create_bucket("present")
    _use(s3.env, monkeypatch)
    with pytest.raises(SynthosInputError, match="bucket 'absent' does not exist") as err:
        SignatureLibrary.open("s3://absent/lib")
    assert str(err.value).startswith("s3://absent/lib")
    with pytest.raises(SynthosInputError, match="no signature library here"):
        SignatureLibrary.open("s3://present/lib")
    SignatureLibrary.create("s3://present/lib", DIM).add(np.zeros(DIM), "healthy", "x")
    _use(s3.denied_env, monkeypatch)
    with pytest.raises(SynthosInputError, match="access denied") as err:
        SignatureLibrary.open("s3://present/lib")
    assert "\n" not in str(err.value)


# --------------------------------------------------------------------------- concurrency


@pytest.mark.parametrize("where", ["local", "s3", "gcs"])
def test_concurrent_writers_lose_nothing(where: str, pool: multiprocessing.pool.Pool,
                                         tmp_path: Path, request: pytest.FixtureRequest,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    uri, env = _library_uri(where, tmp_path, request, monkeypatch)
    SignatureLibrary.create(uri, DIM)
    start_at = time.time() + 1.0
    results = pool.starmap(_adder, [(uri, env, w, ADDS_PER_WRITER, start_at)
                                    for w in range(WRITERS)])
    assert len({pid for pid, _ in results}) == WRITERS  # really four processes at once
    written = [entry_id for _, ids in results for entry_id in ids]
    assert len(set(written)) == WRITERS * ADDS_PER_WRITER

    lib = SignatureLibrary.open(uri, on_corrupt="raise")
    ids = lib.entries().column("id").to_pylist()
    assert sorted(ids) == sorted(written)  # every entry exactly once
    assert lib.pending == WRITERS * ADDS_PER_WRITER
    # Each entry holds what its writer wrote, not a neighbour's bytes.
    sources = lib.entries().column("source").to_pylist()
    for source, vector in zip(sources, lib.vectors(), strict=True):
        writer, i = (int(part) for part in source[1:].split("-"))
        np.testing.assert_array_equal(vector, _vector(writer, i).astype(np.float32))

    version = lib.compact()
    compacted = SignatureLibrary.open(uri, on_corrupt="raise")
    assert compacted.snapshots == (version,) and compacted.pending == 0
    assert sorted(compacted.entries().column("id").to_pylist()) == sorted(written)


@pytest.mark.parametrize("where", ["local", "s3", "gcs"])
def test_compaction_racing_with_adds_loses_nothing(where: str,
                                                   pool: multiprocessing.pool.Pool,
                                                   tmp_path: Path,
                                                   request: pytest.FixtureRequest,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    uri, env = _library_uri(where, tmp_path, request, monkeypatch)
    SignatureLibrary.create(uri, DIM)
    adders, per_adder = 3, 30
    total = adders * per_adder
    start_at = time.time() + 1.0
    compaction = pool.apply_async(_compactor, (uri, env, start_at, total, 45.0))
    # A pause between adds leaves the compactors room to interleave on a busy machine: at
    # 0.01 s the 90 adds were over before one compaction ended under a full CPU load.
    adds = pool.starmap_async(_adder, [(uri, env, w, per_adder, start_at, 0.05)
                                       for w in range(adders)])
    # Meanwhile this process reads and compacts too: two compactors race the adders, and
    # no read may ever miss an entry an earlier read saw.
    seen: set[str] = set()
    reads = main_compactions = 0
    while not (adds.ready() and compaction.ready()):
        lib = SignatureLibrary.open(uri, on_corrupt="raise")
        ids = lib.entries().column("id").to_pylist()
        assert len(ids) == len(set(ids))
        assert seen <= set(ids), f"lost {sorted(seen - set(ids))[:3]}"
        seen = set(ids)
        reads += 1
        if time.time() > start_at and reads % 2 == 0:
            lib.compact()
            main_compactions += 1
    written = [entry_id for _, ids in adds.get() for entry_id in ids]
    _, compactions = compaction.get()
    assert reads >= 2 and main_compactions >= 1
    # The worker's compactions really ran while adds were still arriving.
    assert any(0 < rows < total for _, rows in compactions), compactions

    final = SignatureLibrary.open(uri, on_corrupt="raise")
    ids = final.entries().column("id").to_pylist()
    assert sorted(ids) == sorted(written) and len(ids) == total
    version = final.compact()
    settled = SignatureLibrary.open(uri, on_corrupt="raise")
    assert settled.snapshots == (version,) and settled.pending == 0
    assert sorted(settled.entries().column("id").to_pylist()) == sorted(written)


def test_compaction_from_a_stale_view_cannot_hide_entries(tmp_path: Path) -> None:
    """The interleaving that loses data when readers trust only the newest snapshot."""
    uri = str(tmp_path / "lib")
    lib = SignatureLibrary.create(uri, DIM)
    a = lib.add(_vector(0, 0), "healthy", "a")
    b = lib.add(_vector(0, 1), "healthy", "b")
    stale = lib._store.read(lambda problem: None)  # compactor A reads: a, b
    c = lib.add(_vector(0, 2), "duplicates", "c")
    first = SignatureLibrary.open(uri).compact()  # compactor B folds a, b, c; deletes them
    second = lib._store.publish(stale)  # A finishes last: a newer snapshot without c
    assert second > first
    merged = SignatureLibrary.open(uri, on_corrupt="raise")
    assert set(merged.snapshots) == {first, second}
    assert sorted(merged.entries().column("id").to_pylist()) == sorted([a, b, c])
    # The next compaction folds both heads into one and removes them.
    third = merged.compact()
    assert sorted(os.listdir(tmp_path / "lib" / "manifests")) == [f"{third}.json"]
    assert sorted(os.listdir(tmp_path / "lib" / "snapshots")) == [third]
    assert len(SignatureLibrary.open(uri)) == 3


@pytest.mark.parametrize("moment", ["after listing entries", "after listing manifests"])
def test_reader_survives_a_compaction_mid_read(moment: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    uri = str(tmp_path / "lib")
    lib = SignatureLibrary.create(uri, DIM)
    ids = lib.add_many([_vector(0, i) for i in range(5)], ["healthy"] * 5, ["s"] * 5)
    trigger = store_module.ENTRIES if moment == "after listing entries" else \
        store_module.MANIFESTS
    original = store_module.Store._list
    fired = []

    def list_then_compact(self: store_module.Store, folder: str,
                          pattern: re.Pattern[str]) -> list[str]:
        names = original(self, folder, pattern)
        if folder == trigger and not fired:
            fired.append(folder)
            other = store_module.Store(self.loc, self.dim)
            other.publish(other._read_once())  # deletes the entry objects just listed
        return names

    monkeypatch.setattr(store_module.Store, "_list", list_then_compact)
    reader = SignatureLibrary.open(uri, on_corrupt="raise")
    assert fired == [trigger]
    assert sorted(reader.entries().column("id").to_pylist()) == sorted(ids)
    assert os.listdir(tmp_path / "lib" / "entries") == []


# --------------------------------------------------------------------------- corruption


def test_truncated_or_foreign_entries_are_reported_and_kept(tmp_path: Path) -> None:
    uri = str(tmp_path / "lib")
    lib = SignatureLibrary.create(uri, DIM)
    good = lib.add(_vector(0, 0), "healthy", "good")
    entries = tmp_path / "lib" / "entries"
    data = (entries / f"{good}.parquet").read_bytes()
    truncated = entries / f"{store_module.new_object_name()}.parquet"
    truncated.write_bytes(data[: len(data) // 2])
    # A well-formed entry of the wrong signature length, as an older signature would write.
    other = SignatureLibrary.create(str(tmp_path / "other"), DIM - 1)
    foreign_id = other.add(np.zeros(DIM - 1), "healthy", "foreign")
    foreign = entries / f"{foreign_id}.parquet"
    foreign.write_bytes((tmp_path / "other" / "entries" / f"{foreign_id}.parquet").read_bytes())
    (entries / ".tmp-abc123").write_bytes(b"half a write")  # a writer died mid-rename

    with pytest.warns(CorruptLibraryWarning) as caught:
        opened = SignatureLibrary.open(uri)
    messages = sorted(str(w.message) for w in caught)
    assert len(messages) == 2
    assert any(m.startswith(str(truncated)) and "not a readable Parquet file" in m
               for m in messages)
    assert any(m.startswith(str(foreign)) and "the library holds 8-dimensional" in m
               for m in messages)
    assert opened.entries().column("id").to_pylist() == [good]
    assert {p.uri for p in opened.problems} == {str(truncated), str(foreign)}

    with pytest.raises(SynthosInputError, match="entry unreadable") as err:
        SignatureLibrary.open(uri, on_corrupt="raise")
    assert err.value.source in {str(truncated), str(foreign)}

    # Compaction folds the good entry, never deletes what it could not read, and removes
    # the dead writer's temporary file once it is old enough.
    with pytest.warns(CorruptLibraryWarning):
        opened.compact(cleanup_after_s=0)
    assert sorted(p.name for p in entries.iterdir()) == sorted([truncated.name, foreign.name])


def test_snapshot_without_manifest_is_invisible(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    uri = str(tmp_path / "lib")
    lib = SignatureLibrary.create(uri, DIM)
    ids = [lib.add(_vector(0, i), "healthy", f"s{i}") for i in range(3)]
    real_put = store_module.Store.put

    def crash_on_manifest(self: store_module.Store, target: Location, data: bytes) -> None:
        if "/manifests/" in target.uri:
            raise KeyboardInterrupt  # the compactor dies before publishing
        real_put(self, target, data)

    monkeypatch.setattr(store_module.Store, "put", crash_on_manifest)
    with pytest.raises(KeyboardInterrupt):
        lib.compact()
    monkeypatch.undo()
    [orphan] = os.listdir(tmp_path / "lib" / "snapshots")
    assert sorted(os.listdir(tmp_path / "lib" / "snapshots" / orphan)) == [
        "entries.parquet", "index.faiss"]

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # invisible means no warning either
        reader = SignatureLibrary.open(uri)
    assert reader.snapshots == () and reader.pending == 3
    assert sorted(reader.entries().column("id").to_pylist()) == sorted(ids)

    # A young orphan may be a compaction in progress: kept. An old one is removed.
    version = reader.compact()
    assert orphan in os.listdir(tmp_path / "lib" / "snapshots")
    reader.add(_vector(1, 0), "healthy", "late")
    assert reader.compact(cleanup_after_s=0) != version
    assert orphan not in os.listdir(tmp_path / "lib" / "snapshots")
    assert len(SignatureLibrary.open(uri, on_corrupt="raise")) == 4


def test_damaged_snapshot_is_reported_never_misread(tmp_path: Path) -> None:
    uri = str(tmp_path / "lib")
    lib = SignatureLibrary.create(uri, DIM)
    lib.add_many([_vector(0, i) for i in range(4)], ["healthy"] * 4, ["s"] * 4)
    version = lib.compact()
    late = lib.add(_vector(1, 0), "recursive", "late")
    index = tmp_path / "lib" / "snapshots" / version / "index.faiss"
    pristine = index.read_bytes()
    damaged = bytearray(pristine)
    damaged[-5] ^= 0xFF  # one flipped bit of one stored vector
    index.write_bytes(bytes(damaged))

    with pytest.warns(CorruptLibraryWarning, match="does not match its manifest checksum"):
        opened = SignatureLibrary.open(uri)
    # The four compacted entries are unreachable, and the warning says so; the rest reads.
    assert opened.entries().column("id").to_pylist() == [late]
    assert "not visible until it is restored" in opened.problems[0].problem
    with pytest.raises(SynthosInputError, match="manifest checksum") as err:
        SignatureLibrary.open(uri, on_corrupt="raise")
    assert err.value.source.endswith(f"manifests/{version}.json")

    index.write_bytes(pristine)  # restored: everything is back
    assert len(SignatureLibrary.open(uri, on_corrupt="raise")) == 5

    manifest = tmp_path / "lib" / "manifests" / f"{version}.json"
    manifest.write_text(manifest.read_text()[:40])
    with pytest.warns(CorruptLibraryWarning, match="not a valid snapshot manifest"):
        opened = SignatureLibrary.open(uri)
    assert opened.entries().column("id").to_pylist() == [late]
