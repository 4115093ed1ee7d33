"""The versioned object layout of a signature library: append-only entries, immutable snapshots.

A library lives under one root (a local folder, ``file://``, ``s3://`` or ``gs://``)::

    ROOT/library.json                       format, signature dimension, spec (written by create)
    ROOT/entries/<stamp>-<uuid32>.parquet   one immutable object per add (one or more rows)
    ROOT/snapshots/<version>/index.faiss    a faiss IndexFlatL2 holding every row's raw vector
    ROOT/snapshots/<version>/entries.parquet  the rows' metadata, in index order
    ROOT/manifests/<version>.json           written last: its presence publishes the snapshot

``<stamp>`` is the UTC time as ``YYYYMMDDTHHMMSSffffffZ`` and ``<version>`` is
``<stamp>-<hex8>``, so names sort by time; nothing depends on clocks agreeing, the order only
decides which snapshot is read first.

Writers never rely on locks or compare-and-swap:

- ``add`` writes one new, uniquely named entry object, whole or not at all (on local disk
  through :func:`synthos.io.atomic.write_bytes`: a temporary name, then a rename; on object
  stores a single PUT); no object is ever rewritten, so concurrent writers cannot lose or
  corrupt one another's entries.
- ``compact`` writes a new snapshot holding every row it read: the data files first, the
  manifest last, so a snapshot is complete or invisible. Each row records the entry object it
  came from, and the manifest records every older snapshot the new one contains
  (``includes``). Only then does it delete what the new snapshot contains: the manifests of the
  snapshots it includes (manifest first, then their data) and the entry objects whose rows it
  holds. Nothing else is ever deleted, apart from data folders without a manifest and local
  temporary files older than ``cleanup_after_s`` (left by writers that died).

Readers list the entry objects *first*, then the manifests; they read every *head* (a
snapshot no other listed snapshot includes) and every listed entry object no head contains.
Two compactions that ran at the same time leave two heads, and readers take their union, so a
compaction working from a stale view can never hide entries that another one folded in. The
listing order makes every entry visible: an entry object missing from the listing was deleted
after a snapshot containing it was published, hence before the manifests were listed. A file
that vanishes between listing and reading (a compaction finished meanwhile) makes the reader
start over.

Anything that does not parse, fails its checksum or holds vectors of the wrong length is a
:class:`Problem`: reported (as a warning or an error, the caller's choice), never partly read,
and never deleted, unless it is an old snapshot that a readable newer one includes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import posixpath
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import faiss
import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.spec import has_magic

from synthos.errors import SynthosInputError
from synthos.io import atomic
from synthos.io.uri import Location, resolve, store_errors

FORMAT = "synthos-signature-library"
FORMAT_VERSION = 1
ROOT_FILE = "library.json"
ENTRIES = "entries"
SNAPSHOTS = "snapshots"
MANIFESTS = "manifests"
INDEX_FILE = "index.faiss"
TABLE_FILE = "entries.parquet"

#: Metadata columns of every row, in this order (``object`` is internal: the entry object a
#: row came from, which tells compaction what it may delete).
COLUMNS = ("id", "kind", "label", "source", "verdict", "created_at", "details")

_STAMP = r"\d{8}T\d{12}Z"
_ENTRY_NAME = re.compile(rf"^({_STAMP}-[0-9a-f]{{32}})\.parquet$")
_MANIFEST_NAME = re.compile(rf"^({_STAMP}-[0-9a-f]{{8}})\.json$")
_VERSION = re.compile(rf"^{_STAMP}-[0-9a-f]{{8}}$")
# How often a read starts over when compactions keep deleting what it listed; each restart
# needs a compaction to finish inside the read, so running out means something is wrong.
_READ_ATTEMPTS = 8


def _stamp(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%S%fZ")


def _stamp_time(name: str) -> datetime:
    return datetime.strptime(name[:22], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)


def new_object_name() -> str:
    """A fresh entry object stem: UTC time stamp and a random uuid, unique across writers."""
    return f"{_stamp(datetime.now(UTC))}-{uuid.uuid4().hex}"


def new_version() -> str:
    """A fresh snapshot version: sortable by UTC time, with a random suffix against ties."""
    return f"{_stamp(datetime.now(UTC))}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Problem:
    """An object of the library that could not be read as written.

    Attributes
    ----------
    uri : str
        The object.
    problem : str
        What is wrong with it, in one line.
    """

    uri: str
    problem: str

    def __str__(self) -> str:
        return f"{self.uri}: {self.problem}"


class CorruptObjectError(Exception):
    """Raised inside the store when an object is unreadable; becomes a :class:`Problem`."""


class _Vanished(Exception):
    """A listed object disappeared before it was read: a compaction finished meanwhile."""


@dataclass
class State:
    """Everything a reader found, already merged.

    Attributes
    ----------
    table : pyarrow.Table
        One row per entry: :data:`COLUMNS` plus ``object``; ids are unique.
    vectors : numpy.ndarray of shape (rows, dim), float32
        The signatures, row-aligned with ``table``.
    heads : tuple of str
        Versions of the snapshots read.
    includes : frozenset of str
        The heads and every snapshot they include.
    loose : tuple of str
        Entry objects read on their own (not yet in a snapshot).
    problems : list of Problem
        Objects skipped because they could not be read.
    """

    table: pa.Table
    vectors: np.ndarray
    heads: tuple[str, ...] = ()
    includes: frozenset[str] = frozenset()
    loose: tuple[str, ...] = ()
    problems: list[Problem] = field(default_factory=list)


def row_schema(dim: int, *, with_vector: bool) -> pa.Schema:
    fields = [pa.field("id", pa.string(), nullable=False),
              pa.field("object", pa.string(), nullable=False)]
    fields += [pa.field(name, pa.string(), nullable=name == "verdict") for name in COLUMNS[1:]]
    if with_vector:
        fields.append(pa.field("vector", pa.list_(pa.float32(), dim), nullable=False))
    return pa.schema(fields)


def _parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    # Page checksums: a flipped bit in an entry or snapshot is detected on read instead of
    # turning into a wrong signature.
    pq.write_table(table, buf, compression="zstd", write_page_checksum=True)
    return buf.getvalue()


def _read_parquet(data: bytes) -> pa.Table:
    try:
        return pq.read_table(io.BytesIO(data), page_checksum_verification=True)
    except (pa.ArrowException, OSError, ValueError) as err:
        raise CorruptObjectError(f"not a readable Parquet file ({_first_line(err)})") from err


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


class Store:
    """Reads and writes the objects of one library; knows nothing of queries.

    Parameters
    ----------
    loc : Location
        The library's root.
    dim : int
        Signature length of this library.
    """

    def __init__(self, loc: Location, dim: int) -> None:
        self.loc = loc
        self.dim = dim
        self.fs: fsspec.AbstractFileSystem = loc.filesystem()

    # ------------------------------------------------------------------ root document

    @staticmethod
    def create_root(uri: str, dim: int, spec: Mapping[str, Any] | None,
                    exist_ok: bool) -> dict[str, Any]:
        """Write ``library.json`` at ``uri`` unless a library is already there."""
        loc = resolve(uri)
        existing = Store.read_root(uri, missing_ok=True)
        if existing is not None:
            if not exist_ok:
                raise SynthosInputError(uri, "a signature library already exists here")
            if existing["dim"] != dim:
                raise SynthosInputError(
                    uri, f"the library here holds {existing['dim']}-dimensional signatures,"
                    f" not {dim}")
            return existing
        doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "dim": dim,
               "created_at": datetime.now(UTC).isoformat(timespec="microseconds"),
               "spec": dict(spec) if spec is not None else None}
        # Creating is not meant to race; two creators at once would both write this file, and
        # the later one wins, which is harmless when they agree on the dimension.
        atomic.write_json(loc.child(ROOT_FILE).uri, doc)
        return doc

    @staticmethod
    def read_root(uri: str, *, missing_ok: bool = False) -> dict[str, Any] | None:
        """The parsed ``library.json``; a missing one is an input error unless ``missing_ok``."""
        loc = resolve(uri)
        target = loc.child(ROOT_FILE)
        fs = loc.filesystem()
        with store_errors(target):
            try:
                data = fs.cat_file(target.path)
            except FileNotFoundError:
                if not loc.is_local and not fs.exists(loc.bucket):
                    raise SynthosInputError(
                        uri, f"bucket '{loc.bucket}' does not exist") from None
                if missing_ok:
                    return None
                raise SynthosInputError(
                    uri, f"no signature library here ({ROOT_FILE} is missing); create one"
                    " with SignatureLibrary.create(uri, dim)") from None
        try:
            doc = json.loads(data)
            ok = (isinstance(doc, dict) and doc.get("format") == FORMAT
                  and isinstance(doc.get("dim"), int) and doc["dim"] > 0)
        except (ValueError, UnicodeDecodeError):
            ok = False
        if not ok:
            raise SynthosInputError(target.uri, "not a signature library description"
                                    " (corrupt or foreign file)")
        if doc.get("format_version", 0) > FORMAT_VERSION:
            raise SynthosInputError(
                target.uri, f"written by a newer synthos (format {doc['format_version']},"
                f" this one reads up to {FORMAT_VERSION})")
        return doc

    # ------------------------------------------------------------------ writing

    def put(self, target: Location, data: bytes) -> None:
        """Write one object whole or not at all.

        Local files go through :func:`synthos.io.atomic.write_bytes` (a temporary name, then
        a rename). On object stores that function is a single PUT on a new client; the same
        PUT goes here through the library's own client, because setting up a client costs
        about 0.25 s per write (measured against the S3 test server), ten times the PUT.
        """
        if target.is_local:
            atomic.write_bytes(target.uri, data)
            return
        with store_errors(target, "write"):
            self.fs.pipe_file(target.path, data)

    # ------------------------------------------------------------------ entries

    def write_entry(self, object_name: str, table: pa.Table) -> str:
        """Write one entry object (rows with vectors) under a name nobody else uses."""
        target = self.loc.child(ENTRIES).child(f"{object_name}.parquet")
        meta = {b"synthos": json.dumps({"format": FORMAT, "dim": self.dim}).encode()}
        self.put(target, _parquet_bytes(table.replace_schema_metadata(meta)))
        return target.uri

    def _list(self, folder: str, pattern: re.Pattern[str]) -> list[str]:
        loc = self.loc.child(folder)
        # Listings are cached per filesystem instance; a stale one would hide new objects.
        self.fs.invalidate_cache()
        with store_errors(loc, "list"):
            try:
                paths = self.fs.ls(loc.path, detail=False)
            except FileNotFoundError:
                return []
        names = []
        for path in paths:
            match = pattern.match(posixpath.basename(str(path).rstrip("/")))
            if match:
                names.append(match.group(1))
        return sorted(names)

    def _fetch(self, folder: str, names: Sequence[str], suffix: str) -> dict[str, bytes]:
        """Bytes of many objects of one folder; a vanished one makes the read start over."""
        targets = {name: self.loc.child(folder).child(name + suffix) for name in names}
        return {name: data for name, data in
                zip(targets, self._cat(list(targets.values())), strict=True)}

    def _cat(self, targets: Sequence[Location]) -> list[bytes]:
        paths = [t.path for t in targets]
        # A list cat fetches concurrently on object stores, but it expands glob patterns:
        # a root whose path holds [, * or ? is read one object at a time instead.
        if not paths or len(paths) == 1 or any(has_magic(p) for p in paths):
            got = {}
            for target in targets:
                with store_errors(target):
                    try:
                        got[target.path] = self.fs.cat_file(target.path)
                    except FileNotFoundError:
                        raise _Vanished(target.path) from None
        else:
            with store_errors(targets[0]):
                got = self.fs.cat(paths, on_error="return")
        out = []
        for target in targets:
            value = got.get(target.path)
            if value is None or isinstance(value, FileNotFoundError):
                raise _Vanished(target.path)
            if isinstance(value, BaseException):
                with store_errors(target):
                    raise value
            out.append(value)
        return out

    def _parse_entry(self, name: str, data: bytes) -> tuple[pa.Table, np.ndarray]:
        table = _read_parquet(data)
        schema = row_schema(self.dim, with_vector=True)
        missing = [f.name for f in schema if f.name not in table.column_names]
        if missing:
            raise CorruptObjectError(f"missing columns {missing}")
        vec_type = table.schema.field("vector").type
        if not (pa.types.is_fixed_size_list(vec_type) and vec_type.list_size == self.dim):
            raise CorruptObjectError(f"vectors are {vec_type}, the library holds"
                                     f" {self.dim}-dimensional signatures")
        try:
            table = table.select(schema.names).cast(schema)
        except (pa.ArrowException, ValueError) as err:
            raise CorruptObjectError(f"unexpected column types ({_first_line(err)})") from err
        if table.num_rows == 0:
            raise CorruptObjectError("holds no rows")
        if any(table.column(c).null_count for c in schema.names if not schema.field(c).nullable):
            raise CorruptObjectError("has empty required fields")
        if set(table.column("object").to_pylist()) != {name}:
            raise CorruptObjectError("its rows name another entry object (renamed or copied?)")
        vectors = _vectors(table.column("vector"), self.dim)
        if not np.isfinite(vectors).all():
            raise CorruptObjectError("holds non-finite signature values")
        return table.drop_columns(["vector"]), vectors

    # ------------------------------------------------------------------ snapshots

    def _read_manifests(self, problems: list[Problem]
                        ) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """The parsed manifests, and the versions of every manifest listed (parsed or not)."""
        versions = self._list(MANIFESTS, _MANIFEST_NAME)
        raw = self._fetch(MANIFESTS, versions, ".json")
        manifests = {}
        for version in versions:
            uri = self.loc.child(MANIFESTS).child(f"{version}.json").uri
            try:
                doc = json.loads(raw[version])
                ok = (isinstance(doc, dict) and doc.get("format") == FORMAT
                      and doc.get("version") == version and doc.get("dim") == self.dim
                      and isinstance(doc.get("rows"), int)
                      and isinstance(doc.get("includes"), list)
                      and all(isinstance(v, str) and _VERSION.match(v) for v in doc["includes"])
                      and isinstance(doc.get("files"), dict)
                      and set(doc["files"]) == {INDEX_FILE, TABLE_FILE})
            except (ValueError, UnicodeDecodeError, KeyError):
                ok = False
            if not ok:
                problems.append(Problem(uri, "not a valid snapshot manifest (corrupt, or written"
                                        " for another signature dimension); snapshot ignored,"
                                        " entries only it holds are not visible until it is"
                                        " restored"))
                continue
            manifests[version] = doc
        return manifests, versions

    def _read_snapshot(self, manifest: dict[str, Any]) -> tuple[pa.Table, np.ndarray]:
        version = manifest["version"]
        folder = f"{SNAPSHOTS}/{version}"
        names = [INDEX_FILE, TABLE_FILE]
        loc = self.loc.child(SNAPSHOTS).child(version)
        try:
            fetched = self._cat([loc.child(n) for n in names])
        except _Vanished as gone:
            if not self._exists(f"{MANIFESTS}/{version}.json"):
                raise  # superseded and removed while we read
            name = posixpath.basename(str(gone))
            raise CorruptObjectError(f"{folder}/{name} is missing") from None
        blobs = {}
        for name, value in zip(names, fetched, strict=True):
            expected = manifest["files"][name]
            if (len(value) != expected.get("bytes")
                    or hashlib.sha256(value).hexdigest() != expected.get("sha256")):
                raise CorruptObjectError(f"{folder}/{name} does not match its manifest checksum")
            blobs[name] = value
        table = _read_parquet(blobs[TABLE_FILE])
        schema = row_schema(self.dim, with_vector=False)
        try:
            table = table.select(schema.names).cast(schema)
        except (KeyError, pa.ArrowException, ValueError) as err:
            raise CorruptObjectError(f"{folder}/{TABLE_FILE} has unexpected columns") from err
        if any(table.column(c).null_count for c in schema.names if not schema.field(c).nullable):
            raise CorruptObjectError(f"{folder}/{TABLE_FILE} has empty required fields")
        try:
            index = faiss.deserialize_index(np.frombuffer(blobs[INDEX_FILE], dtype=np.uint8))
        except RuntimeError as err:
            raise CorruptObjectError(f"{folder}/{INDEX_FILE} is not a faiss index") from err
        if not (index.d == self.dim and index.ntotal == table.num_rows == manifest["rows"]):
            raise CorruptObjectError(f"{folder} holds {index.ntotal} vectors of length {index.d}"
                                     f" and {table.num_rows} rows; the manifest says"
                                     f" {manifest['rows']} of length {self.dim}")
        vectors = index.reconstruct_n(0, index.ntotal) if index.ntotal else \
            np.empty((0, self.dim), np.float32)
        return table, np.ascontiguousarray(vectors, dtype=np.float32)

    def _exists(self, relative: str) -> bool:
        target = self.loc
        for part in relative.split("/"):
            target = target.child(part)
        self.fs.invalidate_cache()
        with store_errors(target):
            return bool(self.fs.exists(target.path))

    # ------------------------------------------------------------------ reading

    def read(self, on_problem: Callable[[Problem], None]) -> State:
        """Read the whole library, starting over when a compaction removes what was listed.

        Parameters
        ----------
        on_problem : callable
            Called with each :class:`Problem`; it may raise to stop the read.
        """
        for _attempt in range(_READ_ATTEMPTS):
            try:
                state = self._read_once()
            except _Vanished:
                continue
            for problem in state.problems:
                on_problem(problem)
            return state
        raise SynthosInputError(self.loc.uri, f"the library changed under {_READ_ATTEMPTS}"
                                " reads in a row (compactions running back to back?); try again")

    def _read_once(self) -> State:
        problems: list[Problem] = []
        # Entries first, manifests second: see the module docstring for why this order
        # leaves no entry unseen.
        objects = self._list(ENTRIES, _ENTRY_NAME)
        manifests, listed = self._read_manifests(problems)
        included = {v for doc in manifests.values() for v in doc["includes"]}
        heads = [v for v in sorted(manifests, reverse=True) if v not in included]
        tables: list[pa.Table] = []
        vectors: list[np.ndarray] = []
        read_heads = []
        for version in heads:
            try:
                table, vecs = self._read_snapshot(manifests[version])
            except CorruptObjectError as err:
                uri = self.loc.child(MANIFESTS).child(f"{version}.json").uri
                problems.append(Problem(uri, f"snapshot unreadable: {err}; its entries that"
                                        " were compacted are not visible until it is restored"))
                continue
            tables.append(table)
            vectors.append(vecs)
            read_heads.append(version)
        contained = set()
        for table in tables:
            contained.update(table.column("object").to_pylist())
        loose = [name for name in objects if name not in contained]
        raw = self._fetch(ENTRIES, loose, ".parquet")
        read_loose = []
        for name in loose:
            try:
                table, vecs = self._parse_entry(name, raw[name])
            except CorruptObjectError as err:
                uri = self.loc.child(ENTRIES).child(f"{name}.parquet").uri
                problems.append(Problem(uri, f"entry unreadable ({err}); skipped"))
                continue
            tables.append(table)
            vectors.append(vecs)
            read_loose.append(name)
        table, matrix = _merge(tables, vectors, self.dim)
        # Older versions whose manifests are gone can never come back (a version is published
        # once, and only after its snapshot was read can anyone include it), so only the
        # listed ones need recording: this keeps manifests from growing with every compaction.
        listed_set = set(listed)
        includes = set(read_heads)
        for version in read_heads:
            includes.update(v for v in manifests[version]["includes"] if v in listed_set)
        return State(table, matrix, tuple(read_heads), frozenset(includes), tuple(read_loose),
                     problems)

    # ------------------------------------------------------------------ compaction

    def publish(self, state: State) -> str:
        """Write ``state`` as a new snapshot, then delete what it supersedes."""
        version = new_version()
        folder = self.loc.child(SNAPSHOTS).child(version)
        index = faiss.IndexFlatL2(self.dim)
        if len(state.vectors):
            index.add(np.ascontiguousarray(state.vectors, dtype=np.float32))
        blobs = {INDEX_FILE: faiss.serialize_index(index).tobytes(),
                 TABLE_FILE: _parquet_bytes(state.table)}
        for name, data in blobs.items():
            self.put(folder.child(name), data)
        manifest = {
            "format": FORMAT, "version": version, "dim": self.dim,
            "created_at": datetime.now(UTC).isoformat(timespec="microseconds"),
            "rows": state.table.num_rows,
            "includes": sorted(state.includes),
            "files": {name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                      for name, data in blobs.items()},
        }
        self.put(self.loc.child(MANIFESTS).child(f"{version}.json"),
                 (json.dumps(manifest, indent=2) + "\n").encode())
        # Only now, with the new snapshot visible, may what it holds go.
        for old in sorted(state.includes):
            self._remove_snapshot(old)
        contained = set(state.table.column("object").to_pylist())
        self._remove([self.loc.child(ENTRIES).child(f"{n}.parquet")
                      for n in state.loose if n in contained])
        return version

    def _remove_snapshot(self, version: str) -> None:
        # Manifest first: a snapshot stays complete or invisible while it goes away too.
        self._remove([self.loc.child(MANIFESTS).child(f"{version}.json")])
        folder = self.loc.child(SNAPSHOTS).child(version)
        self._remove([folder.child(INDEX_FILE), folder.child(TABLE_FILE)])
        if folder.is_local:
            with contextlib.suppress(OSError):
                self.fs.rmdir(folder.path)

    def _remove(self, targets: Iterable[Location]) -> None:
        for target in targets:
            with store_errors(target, "delete"), contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(target.path)

    def cleanup(self, older_than_s: float) -> list[str]:
        """Remove leftovers of writers that died: data without a manifest, temporary files.

        A snapshot folder counts as abandoned when no manifest names it and its version is
        older than ``older_than_s`` seconds; a compaction must finish within that time.
        """
        removed = []
        now = datetime.now(UTC)
        listed = set(self._list(MANIFESTS, _MANIFEST_NAME))
        # Manifests that fail to parse still count: never delete what could not be read.
        self.fs.invalidate_cache()
        snap = self.loc.child(SNAPSHOTS)
        with store_errors(snap, "list"):
            try:
                folders = [posixpath.basename(str(p).rstrip("/"))
                           for p in self.fs.ls(snap.path, detail=False)]
            except FileNotFoundError:
                folders = []
        for version in folders:
            if not _VERSION.match(version) or version in listed:
                continue
            if (now - _stamp_time(version)).total_seconds() < older_than_s:
                continue
            folder = snap.child(version)
            self._remove([folder.child(INDEX_FILE), folder.child(TABLE_FILE)])
            if folder.is_local:
                with contextlib.suppress(OSError):
                    self.fs.rmdir(folder.path)
            removed.append(folder.uri)
        if self.loc.is_local:
            removed += self._cleanup_local_temporaries(older_than_s)
        return removed

    def _cleanup_local_temporaries(self, older_than_s: float) -> list[str]:
        removed = []
        roots = [self.loc.path, self.loc.child(ENTRIES).path, self.loc.child(MANIFESTS).path]
        snap = self.loc.child(SNAPSHOTS).path
        if os.path.isdir(snap):
            roots += [os.path.join(snap, d) for d in os.listdir(snap)]
        for root in roots:
            if not os.path.isdir(root):
                continue
            for name in os.listdir(root):
                path = os.path.join(root, name)
                with contextlib.suppress(FileNotFoundError):
                    if name.startswith(".tmp-") and \
                            time.time() - os.path.getmtime(path) >= older_than_s:
                        os.unlink(path)
                        removed.append(path)
        return removed


def _vectors(column: pa.ChunkedArray, dim: int) -> np.ndarray:
    flat = column.combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return np.ascontiguousarray(flat.reshape(-1, dim), dtype=np.float32)


def _merge(tables: list[pa.Table], vectors: list[np.ndarray],
           dim: int) -> tuple[pa.Table, np.ndarray]:
    schema = row_schema(dim, with_vector=False)
    if not tables:
        return schema.empty_table(), np.empty((0, dim), np.float32)
    table = pa.concat_tables([t.select(schema.names).cast(schema) for t in tables])
    matrix = np.concatenate(vectors).astype(np.float32, copy=False)
    # Two heads from compactions that ran at once can both hold a row; keep its first copy.
    ids = table.column("id").to_pylist()
    seen: set[str] = set()
    keep = []
    for i, entry_id in enumerate(ids):
        if entry_id not in seen:
            seen.add(entry_id)
            keep.append(i)
    if len(keep) != len(ids):
        table = table.take(pa.array(keep))
        matrix = matrix[keep]
    # A stable order (by time, then id) whatever the mix of snapshots and loose objects.
    keys = list(zip(table.column("created_at").to_pylist(), table.column("id").to_pylist(),
                    strict=True))
    order = sorted(range(len(keys)), key=keys.__getitem__)
    return table.take(pa.array(order, pa.int64())), np.ascontiguousarray(matrix[order])
