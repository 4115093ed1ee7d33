"""The signature library: known healthy and collapsed datasets, and k-NN lookup against them.

A *signature* is a fixed-length float vector summarizing a synthetic table against its
reference; its length is fixed per library. Every entry carries its signature and metadata:

========== ===============================================================================
id         unique entry id (UTC time stamp and uuid)
kind       ``healthy`` or a collapse family (``recursive``, ``tail_truncation``, ...)
label      ``healthy`` or ``collapsed``, derived from ``kind``
source     the dataset's name or URI
verdict    the verdict of the validation that produced the entry (``pass``, ``warn``, ...)
created_at UTC time, ISO 8601
details    free-form JSON text
========== ===============================================================================

Storage (append-only entry objects and immutable snapshots, safe for concurrent writers on
local disk and object stores alike) is described in :mod:`synthos.prescreen.store`.

Lookup
------
Signatures are compared after standardizing each feature by its mean and standard deviation
over the library, so that no feature dominates through its units; distances are Euclidean in
that space. The ``k`` nearest entries vote with weights ``w = 1 / (1 + (d / h)^2)``, where ``h``
is the library's typical spacing (median distance from an entry to its nearest other entry): a
neighbour at distance 0 counts as one observation, one at ``h`` as half of one.

The raw score is the weighted share of collapsed neighbours under a Beta prior centred on the
library's base rate of collapse (Laplace smoothed) with a strength of two observations::

    raw = (sum(w * collapsed) + 2 * base_rate) / (sum(w) + 2)

so a signature far from every entry scores near the base rate rather than at whatever its few
distant neighbours say. The raw score is then calibrated with Platt scaling on
``logit(raw)``, fitted on the library's own leave-one-out scores (each entry scored against
the others, up to 2,000 entries) with Platt's smoothed targets, which keep the fit finite
when the classes separate perfectly. The scaling is constrained to be non-decreasing: where
neighbours carry no information the probability is the base rate. Libraries with fewer than
5 entries of either label are not calibrated; their probability is the raw score. The risk
score is the probability times 100.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

import faiss
import numpy as np
import pyarrow as pa

from synthos.errors import SynthosInputError
from synthos.io.uri import resolve
from synthos.prescreen.store import COLUMNS, Problem, State, Store, new_object_name, row_schema

HEALTHY = "healthy"
COLLAPSED = "collapsed"
#: Collapse families the pre-screen knows; other snake_case names are accepted too.
COLLAPSE_KINDS = ("recursive", "tail_truncation", "variance_shrinkage", "mode_collapse",
                  "memorization", "broken_correlations", "duplicates")

#: Pseudo-observations of the prior on the collapsed share (2 = Laplace's rule).
PRIOR_STRENGTH = 2.0
#: Entries of each label a library needs before its scores are Platt-calibrated.
MIN_PER_LABEL_FOR_CALIBRATION = 5
#: Most entries scored leave-one-out to fit the calibration (a seeded random subset).
MAX_CALIBRATION_ENTRIES = 2000

_KIND = re.compile(r"^[a-z][a-z0-9_]*$")
_EPS = 1e-6

OnCorrupt = Literal["warn", "raise"]


class EmptyLibraryError(SynthosInputError):
    """A query against a library that holds no entries."""


class CorruptLibraryWarning(UserWarning):
    """An object of the library could not be read and was skipped."""


@dataclass(frozen=True)
class Neighbour:
    """One library entry near the queried signature.

    Attributes
    ----------
    id, kind, label, source : str
        The entry's metadata.
    verdict : str or None
        The entry's verdict.
    distance : float
        Euclidean distance to the query in standardized signature space (unitless: each
        feature in standard deviations over the library).
    weight : float
        The entry's vote, in (0, 1]: ``1 / (1 + (distance / distance_scale)^2)``.
    """

    id: str
    kind: str
    label: str
    source: str
    verdict: str | None
    distance: float
    weight: float


@dataclass(frozen=True)
class Lookup:
    """What the library says about one signature.

    Attributes
    ----------
    risk : float
        Risk of collapse, 0 to 100: ``probability * 100``.
    probability : float
        Calibrated probability that the dataset is collapsed, in [0, 1].
    raw : float
        Prior-smoothed, distance-weighted share of collapsed neighbours, before calibration.
    calibration : {"platt", "none"}
        ``platt`` when the library had enough entries of both labels to calibrate; ``none``
        when ``probability`` is the raw score.
    neighbours : tuple of Neighbour
        The nearest entries, nearest first.
    kinds : dict of str to float
        Weighted share of each kind among the neighbours, largest first; the collapse
        families among them are the patterns the signature matches.
    library_size : int
        Entries in the library at query time.
    distance_scale : float
        The library's typical spacing ``h`` (see the module docstring), in the units of
        ``Neighbour.distance``; a nearest distance many times larger means the signature is
        unlike anything in the library.
    """

    risk: float
    probability: float
    raw: float
    calibration: str
    neighbours: tuple[Neighbour, ...]
    kinds: dict[str, float]
    library_size: int
    distance_scale: float

    @property
    def matched_kinds(self) -> list[str]:
        """Collapse families among the neighbours, most weighted first."""
        return [kind for kind in self.kinds if kind != HEALTHY]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        doc = asdict(self)
        doc["neighbours"] = [asdict(n) for n in self.neighbours]
        return doc


@dataclass
class _Model:
    """What queries need, derived from the entries once and reused until they change."""

    mean: np.ndarray
    scale: np.ndarray
    index: faiss.IndexFlatL2
    collapsed: np.ndarray
    base_rate: float
    bandwidth: float
    platt: dict[int, tuple[float, float] | None] = field(default_factory=dict)


class SignatureLibrary:
    """A library of dataset signatures with their verdicts, at a local path or URI.

    Use :meth:`create` or :meth:`open`; the constructor is internal. The library is read
    when opened; :meth:`refresh` re-reads it to see what other writers added since. Writes
    (:meth:`add`, :meth:`add_many`, :meth:`compact`) are safe from any number of processes
    and machines at once.

    Parameters
    ----------
    store : Store
        The library's objects.
    root : dict
        Its parsed ``library.json``.
    on_corrupt : {"warn", "raise"}
        What to do with an object that cannot be read: skip it with a
        :class:`CorruptLibraryWarning` (it is also listed in :attr:`problems`), or raise
        :class:`~synthos.errors.SynthosInputError` naming it.
    """

    def __init__(self, store: Store, root: dict[str, Any], on_corrupt: OnCorrupt) -> None:
        if on_corrupt not in ("warn", "raise"):
            raise ValueError(f"on_corrupt must be 'warn' or 'raise', not {on_corrupt!r}")
        self._store = store
        self._root = root
        self._on_corrupt = on_corrupt
        self._state = State(row_schema(store.dim, with_vector=False).empty_table(),
                            np.empty((0, store.dim), np.float32))
        self._model: _Model | None = None

    # ------------------------------------------------------------------ opening

    @classmethod
    def create(cls, uri: str, dim: int, *, spec: Mapping[str, Any] | None = None,
               exist_ok: bool = False, on_corrupt: OnCorrupt = "warn") -> SignatureLibrary:
        """Create an empty library at ``uri``.

        Parameters
        ----------
        uri : str
            Local path, ``file://``, ``s3://`` or ``gs://`` folder.
        dim : int
            Length of every signature the library will hold.
        spec : mapping, optional
            JSON-ready description of the signature (its name, version, feature names...),
            stored with the library so that readers can check they compute the same one.
        exist_ok : bool, default=False
            Open an existing library of the same dimension instead of failing.
        on_corrupt : {"warn", "raise"}, default="warn"
            See :class:`SignatureLibrary`.

        Returns
        -------
        SignatureLibrary
        """
        if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or dim < 1:
            raise ValueError(f"dim must be a positive integer, not {dim!r}")
        if spec is not None:
            try:  # fail before writing anything
                json.dumps(spec, allow_nan=False)
            except (TypeError, ValueError) as err:
                raise ValueError(f"spec must be JSON-serializable: {err}") from err
        root = Store.create_root(uri, int(dim), spec, exist_ok)
        return cls(Store(resolve(uri), root["dim"]), root, on_corrupt).refresh()

    @classmethod
    def open(cls, uri: str, *, on_corrupt: OnCorrupt = "warn") -> SignatureLibrary:
        """Open the library at ``uri`` and read its entries.

        Parameters
        ----------
        uri : str
            Local path, ``file://``, ``s3://`` or ``gs://`` folder holding a library.
        on_corrupt : {"warn", "raise"}, default="warn"
            See :class:`SignatureLibrary`.

        Returns
        -------
        SignatureLibrary

        Raises
        ------
        SynthosInputError
            No library at ``uri``, a missing bucket, denied access, or (with
            ``on_corrupt="raise"``) an unreadable object.
        """
        root = Store.read_root(uri)
        assert root is not None
        return cls(Store(resolve(uri), root["dim"]), root, on_corrupt).refresh()

    def refresh(self) -> SignatureLibrary:
        """Re-read the library, taking in what every writer has added; returns ``self``."""
        self._state = self._store.read(self._report)
        self._model = None
        return self

    def _report(self, problem: Problem) -> None:
        if self._on_corrupt == "raise":
            raise SynthosInputError(problem.uri, problem.problem)
        warnings.warn(str(problem), CorruptLibraryWarning, stacklevel=4)

    # ------------------------------------------------------------------ properties

    @property
    def uri(self) -> str:
        """Where the library lives, as given."""
        return self._store.loc.uri

    @property
    def dim(self) -> int:
        """Length of the library's signatures."""
        return self._store.dim

    @property
    def spec(self) -> dict[str, Any] | None:
        """The signature description given at creation, if any."""
        return self._root.get("spec")

    @property
    def problems(self) -> tuple[Problem, ...]:
        """Objects skipped at the last read because they could not be read."""
        return tuple(self._state.problems)

    @property
    def snapshots(self) -> tuple[str, ...]:
        """Versions of the snapshots read (more than one after concurrent compactions)."""
        return self._state.heads

    @property
    def pending(self) -> int:
        """Entry objects not yet folded into a snapshot (what :meth:`compact` would fold)."""
        return len(self._state.loose)

    def __len__(self) -> int:
        return self._state.table.num_rows

    def __repr__(self) -> str:
        return f"SignatureLibrary({self.uri!r}, dim={self.dim}, entries={len(self)})"

    # ------------------------------------------------------------------ writing

    def add(self, vector: Sequence[float] | np.ndarray, kind: str, source: str,
            verdict: str | None = None, details: Mapping[str, Any] | None = None) -> str:
        """Add one signature as a new immutable entry.

        Parameters
        ----------
        vector : array-like of shape (dim,)
            The signature; finite values.
        kind : str
            ``"healthy"`` or a collapse family in snake_case (see :data:`COLLAPSE_KINDS`).
            The label is ``healthy`` for ``"healthy"`` and ``collapsed`` for any other kind.
        source : str
            The dataset's name or URI.
        verdict : str, optional
            Verdict of the validation that produced the signature.
        details : mapping, optional
            JSON-ready details (numpy scalars and arrays are converted).

        Returns
        -------
        str
            The new entry's id.
        """
        return self.add_many([vector], [kind], [source], [verdict], [details])[0]

    def add_many(self, vectors: Sequence[Sequence[float]] | np.ndarray, kinds: Sequence[str],
                 sources: Sequence[str], verdicts: Sequence[str | None] | None = None,
                 details: Sequence[Mapping[str, Any] | None] | None = None) -> list[str]:
        """Add several signatures as one immutable object: all of them appear, or none.

        Parameters
        ----------
        vectors : array-like of shape (n, dim)
            The signatures.
        kinds, sources : sequences of str, length n
            See :meth:`add`.
        verdicts, details : sequences of length n, optional
            See :meth:`add`; ``None`` gives every entry none.

        Returns
        -------
        list of str
            The new entries' ids, in input order.
        """
        matrix = self._check_vectors(vectors)
        n = len(matrix)
        verdicts = [None] * n if verdicts is None else list(verdicts)
        details = [None] * n if details is None else list(details)
        kinds, sources = list(kinds), list(sources)
        if not n or not len(kinds) == len(sources) == len(verdicts) == len(details) == n:
            raise ValueError(f"{n} signatures need as many kinds, sources, verdicts and"
                             f" details; got {len(kinds)}, {len(sources)}, {len(verdicts)}"
                             f" and {len(details)}")
        for kind in kinds:
            if not isinstance(kind, str) or not _KIND.match(kind):
                raise ValueError(f"kind must be 'healthy' or a snake_case collapse family such"
                                 f" as {', '.join(COLLAPSE_KINDS[:3])}; got {kind!r}")
        for source in sources:
            if not isinstance(source, str) or not source:
                raise ValueError(f"source must be a non-empty string, not {source!r}")
        for verdict in verdicts:
            if verdict is not None and not isinstance(verdict, str):
                raise ValueError(f"verdict must be a string or None, not {verdict!r}")
        texts = [_details_json(d) for d in details]
        name = new_object_name()
        ids = [name] if n == 1 else [f"{name}-{i:06d}" for i in range(n)]
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        columns = {
            "id": ids, "object": [name] * n, "kind": kinds,
            "label": [HEALTHY if k == HEALTHY else COLLAPSED for k in kinds],
            "source": sources, "verdict": verdicts, "created_at": [now] * n, "details": texts,
        }
        schema = row_schema(self.dim, with_vector=True)
        vector_column = pa.FixedSizeListArray.from_arrays(pa.array(matrix.ravel()), self.dim)
        table = pa.table({**columns, "vector": vector_column}, schema=schema)
        self._store.write_entry(name, table)
        merged = pa.concat_tables([self._state.table, table.drop_columns(["vector"])])
        self._state = State(merged, np.concatenate([self._state.vectors, matrix]),
                            self._state.heads, self._state.includes,
                            (*self._state.loose, name), self._state.problems)
        self._model = None
        return ids

    def _check_vectors(self, vectors: Any) -> np.ndarray:
        try:
            matrix = np.asarray(vectors, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f"signatures must be numbers: {err}") from err
        if matrix.ndim != 2:
            raise ValueError("each signature must be a flat sequence of numbers")
        if matrix.shape[1] != self.dim:
            raise SynthosInputError(self.uri, f"a signature has {matrix.shape[1]} values but"
                                    f" this library holds {self.dim}-dimensional signatures")
        if not np.isfinite(matrix).all():
            raise ValueError("signatures must be finite (no NaN or infinity)")
        if np.abs(matrix).max(initial=0.0) > np.finfo(np.float32).max:
            raise ValueError("signature values exceed the float32 range they are stored in")
        return matrix.astype(np.float32)

    def compact(self, *, cleanup_after_s: float = 3600.0) -> str:
        """Fold every entry into one new snapshot and remove what it supersedes.

        Safe while other processes add or compact: nothing is deleted before a complete
        snapshot holding it is published, and readers merge the snapshots of compactions
        that ran at the same time.

        Parameters
        ----------
        cleanup_after_s : float, default=3600.0
            Seconds after which a snapshot folder without a manifest, or a local temporary
            file, counts as abandoned by a writer that died and is removed. A compaction must
            finish within this time.

        Returns
        -------
        str
            The version of the snapshot now holding every entry (the existing one when
            there was nothing to fold).
        """
        state = self._store.read(self._report)
        if len(state.heads) == 1 and not state.loose:
            version = state.heads[0]
        else:
            version = self._store.publish(state)
            state = State(state.table, state.vectors, (version,), frozenset({version}), (),
                          state.problems)
        self._store.cleanup(cleanup_after_s)
        self._state = state
        self._model = None
        return version

    # ------------------------------------------------------------------ reading

    def entries(self, *, with_vectors: bool = False) -> pa.Table:
        """The entries' metadata, one row per entry, oldest first.

        Parameters
        ----------
        with_vectors : bool, default=False
            Add a ``vector`` column (fixed-size lists of float32).

        Returns
        -------
        pyarrow.Table
            Columns ``id, kind, label, source, verdict, created_at, details`` (all strings;
            ``details`` is JSON text).
        """
        table = self._state.table.select(list(COLUMNS))
        if with_vectors:
            flat = pa.array(self._state.vectors.ravel(), pa.float32())
            table = table.append_column(
                "vector", pa.FixedSizeListArray.from_arrays(flat, self.dim))
        return table

    def vectors(self) -> np.ndarray:
        """The signatures, row-aligned with :meth:`entries`; shape (entries, dim), float32."""
        return self._state.vectors.copy()

    def query(self, vector: Sequence[float] | np.ndarray, k: int = 5) -> Lookup:
        """The ``k`` nearest entries to a signature and the risk that it is collapsed.

        Parameters
        ----------
        vector : array-like of shape (dim,)
            The signature to look up.
        k : int, default=5
            Neighbours to consult (fewer when the library is smaller).

        Returns
        -------
        Lookup

        Raises
        ------
        EmptyLibraryError
            The library holds no entries.
        """
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ValueError(f"k must be a positive integer, not {k!r}")
        query = self._check_vectors(np.asarray(vector, dtype=np.float64)[None, :]
                                    if np.ndim(vector) == 1 else vector)
        if len(query) != 1:
            raise ValueError("query takes one signature")
        n = len(self)
        if n == 0:
            raise EmptyLibraryError(self.uri, "the signature library is empty; add healthy and"
                                    " collapsed signatures before querying it")
        model = self._fitted()
        k = min(int(k), n)
        distances, rows = _search(model, query, k)
        distances, rows = distances[0], rows[0]
        weights = 1.0 / (1.0 + (distances / model.bandwidth) ** 2)
        raw = _smoothed_share(weights, model.collapsed[rows].astype(float), model.base_rate)
        platt = self._platt(model, k)
        if platt is None:
            probability, calibration = raw, "none"
        else:
            probability, calibration = float(_apply_platt(platt, np.array([raw]))[0]), "platt"
        table = self._state.table
        picked = table.take(pa.array(rows, pa.int64())).to_pydict()
        neighbours = tuple(
            Neighbour(picked["id"][i], picked["kind"][i], picked["label"][i],
                      picked["source"][i], picked["verdict"][i], float(distances[i]),
                      float(weights[i]))
            for i in range(len(rows)))
        shares: dict[str, float] = {}
        for neighbour in neighbours:
            shares[neighbour.kind] = shares.get(neighbour.kind, 0.0) + neighbour.weight
        total = sum(shares.values())
        kinds = {kind: share / total for kind, share in
                 sorted(shares.items(), key=lambda item: (-item[1], item[0]))}
        return Lookup(risk=100.0 * probability, probability=probability, raw=raw,
                      calibration=calibration, neighbours=neighbours, kinds=kinds,
                      library_size=n, distance_scale=model.bandwidth)

    # ------------------------------------------------------------------ the model

    def _fitted(self) -> _Model:
        if self._model is not None:
            return self._model
        vectors = self._state.vectors.astype(np.float64)
        mean = vectors.mean(axis=0)
        scale = vectors.std(axis=0)
        # A feature constant over the library carries no information to scale by; leaving
        # it unscaled keeps a query that differs there at a finite, honest distance.
        scale = np.where(scale > 1e-12 * np.maximum(1.0, np.abs(mean)), scale, 1.0)
        standardized = ((vectors - mean) / scale).astype(np.float32)
        index = faiss.IndexFlatL2(self.dim)
        index.add(standardized)
        collapsed = np.array([label == COLLAPSED for label in
                              self._state.table.column("label").to_pylist()], dtype=bool)
        n = len(collapsed)
        base_rate = (collapsed.sum() + 1.0) / (n + 2.0)
        model = _Model(mean, scale, index, collapsed, float(base_rate), 1.0)
        if n > 1:
            sample = _calibration_rows(n)
            distances, rows = _search(model, vectors[sample], 2)
            nearest = _without_self(distances, rows, sample, 1)[0][:, 0]
            positive = nearest[nearest > 0]
            if len(positive):
                model.bandwidth = float(np.median(positive))
        self._model = model
        return model

    def _platt(self, model: _Model, k: int) -> tuple[float, float] | None:
        if k in model.platt:
            return model.platt[k]
        collapsed = model.collapsed
        n_collapsed = int(collapsed.sum())
        params = None
        if min(n_collapsed, len(collapsed) - n_collapsed) >= MIN_PER_LABEL_FOR_CALIBRATION:
            sample = _calibration_rows(len(collapsed))
            vectors = self._state.vectors[sample].astype(np.float64)
            distances, rows = _search(model, vectors, k + 1)
            distances, rows = _without_self(distances, rows, sample, k)
            weights = 1.0 / (1.0 + (distances / model.bandwidth) ** 2)
            y = collapsed[sample].astype(float)
            # Leave-one-out for the prior too: an entry must not vote for itself there.
            base = (n_collapsed - y + 1.0) / (len(collapsed) - 1.0 + 2.0)
            raw = np.array([_smoothed_share(weights[i], collapsed[rows[i]].astype(float),
                                            base[i]) for i in range(len(sample))])
            params = fit_platt(_logit(raw), y)
        model.platt[k] = params
        return params


# ---------------------------------------------------------------------- helpers


def _search(model: _Model, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    standardized = ((np.asarray(vectors, dtype=np.float64) - model.mean) / model.scale)
    squared, rows = model.index.search(standardized.astype(np.float32), k)
    # faiss returns squared L2, and rounding can make an exact match slightly negative.
    return np.sqrt(np.maximum(squared.astype(np.float64), 0.0)), rows


def _without_self(distances: np.ndarray, rows: np.ndarray, sample: np.ndarray,
                  k: int) -> tuple[np.ndarray, np.ndarray]:
    """Drop each query's own row from its k + 1 neighbours (by row, not by distance, so that
    an exact duplicate of the entry still counts as a neighbour)."""
    out_d = np.empty((len(sample), k))
    out_r = np.empty((len(sample), k), dtype=np.int64)
    for i, own in enumerate(sample):
        keep = rows[i] != own
        if keep.all():
            keep[-1] = False
        out_d[i] = distances[i][keep][:k]
        out_r[i] = rows[i][keep][:k]
    return out_d, out_r


def _calibration_rows(n: int) -> np.ndarray:
    if n <= MAX_CALIBRATION_ENTRIES:
        return np.arange(n)
    # Seeded: the same library always gets the same calibration.
    return np.sort(np.random.default_rng(0).choice(n, MAX_CALIBRATION_ENTRIES, replace=False))


def _smoothed_share(weights: np.ndarray, collapsed: np.ndarray, base_rate: float) -> float:
    return float((weights @ collapsed + PRIOR_STRENGTH * base_rate)
                 / (weights.sum() + PRIOR_STRENGTH))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1.0 - _EPS)
    return np.log(p / (1.0 - p))


def _apply_platt(params: tuple[float, float], raw: np.ndarray) -> np.ndarray:
    a, b = params
    return 1.0 / (1.0 + np.exp(a * _logit(raw) + b))


def fit_platt(scores: np.ndarray, labels: np.ndarray, *,
              max_iter: int = 100) -> tuple[float, float]:
    """Fit Platt scaling ``P(y=1 | s) = 1 / (1 + exp(a * s + b))``.

    Newton's method with backtracking on Platt's smoothed targets
    (``(N+ + 1) / (N+ + 2)`` for positives, ``1 / (N- + 2)`` for negatives), following Lin,
    Lin and Weng (2007), "A note on Platt's probabilistic outputs for support vector
    machines". The slope is constrained to ``a <= 0`` (probability non-decreasing in the
    score): if the unconstrained fit slopes the other way, ``a = 0`` and ``b`` alone is fitted.

    Parameters
    ----------
    scores : ndarray of shape (n,)
        Uncalibrated scores, higher meaning more likely positive.
    labels : ndarray of shape (n,)
        1 for positive, 0 for negative.
    max_iter : int, default=100
        Newton iterations at most.

    Returns
    -------
    (a, b) : tuple of float
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    n_pos = float(y.sum())
    n_neg = float(len(y) - n_pos)
    target = np.where(y > 0, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
    a, b = _newton(s, target, 0.0, math.log((n_neg + 1.0) / (n_pos + 1.0)), max_iter,
                   fit_slope=True)
    if a > 0:
        a, b = _newton(s, target, 0.0, b, max_iter, fit_slope=False)
    return a, b


def _newton(s: np.ndarray, t: np.ndarray, a: float, b: float, max_iter: int,
            fit_slope: bool) -> tuple[float, float]:
    def loss(a: float, b: float) -> float:
        z = a * s + b
        # -[t log p + (1 - t) log(1 - p)] with p = 1 / (1 + e^z), written to never overflow.
        return float(np.sum(np.logaddexp(0.0, z) - (1.0 - t) * z))

    value = loss(a, b)
    for _ in range(max_iter):
        z = a * s + b
        p = 0.5 * (1.0 - np.tanh(0.5 * z))  # 1 / (1 + e^z) without overflow
        grad_z = t - p
        curv = p * (1.0 - p)
        g = np.array([s @ grad_z, grad_z.sum()])
        # Platt's ridge keeps the Hessian invertible on separable data.
        h = np.array([[s * s @ curv + 1e-12, s @ curv], [s @ curv, curv.sum() + 1e-12]])
        if not fit_slope:
            g[0], h[0, 0], h[0, 1], h[1, 0] = 0.0, 1.0, 0.0, 0.0
        if np.abs(g).max() < 1e-6:
            break
        step = -np.linalg.solve(h, g)
        size = 1.0
        while size >= 1e-10:
            trial = loss(a + size * step[0], b + size * step[1])
            if trial < value + 1e-4 * size * (g @ step):
                a, b, value = a + size * step[0], b + size * step[1], trial
                break
            size /= 2.0
        else:
            break
    return float(a), float(b)


def _details_json(details: Mapping[str, Any] | None) -> str:
    if details is None:
        return "{}"
    if not isinstance(details, Mapping):
        raise ValueError(f"details must be a mapping, not {type(details).__name__}")
    try:
        return json.dumps(details, sort_keys=True, allow_nan=False, default=_json_default)
    except (TypeError, ValueError) as err:
        raise ValueError(f"details must be JSON-serializable: {err}") from err


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON-serializable")
