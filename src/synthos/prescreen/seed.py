"""Seeding signature libraries from the collapse benchmark, and the default library.

:func:`build_library` computes the signature of every labelled case the collapse benchmark's
generator makes (``benchmarks/collapse``: real tables turned into healthy look-alikes and
collapsed corruptions) and adds them to a library. The generator is not part of the installed
package, so building needs a checkout of the repository.

:func:`open_default_library` opens the library at ``$SYNTHOS_HOME/signatures``; on a machine
where there is none yet it first copies the seed library shipped with the package (built by
``synthos prescreen build-library --datasets calibration --seeds 0 1 2``), so that a risk score
needs no setup.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from types import ModuleType
from typing import Any

from synthos.errors import SynthosInputError
from synthos.io.uri import resolve
from synthos.prescreen.library import HEALTHY, SignatureLibrary
from synthos.prescreen.signature import Signature, kinds_of, signature, signature_spec
from synthos.prescreen.store import MANIFESTS, ROOT_FILE, SNAPSHOTS, Store
from synthos.tracking.mlflow_run import synthos_home

#: Dataset groups of the collapse benchmark that :func:`build_library` accepts by name.
DATASET_GROUPS = ("calibration", "held_out", "all")
#: Folder of the packaged seed library, inside :mod:`synthos.prescreen`.
SEED_LIBRARY = "seed_library"

# src/synthos/prescreen/seed.py -> the repository root, where benchmarks/ lives in a checkout.
_CHECKOUT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class BuildReport:
    """What :func:`build_library` did.

    Attributes
    ----------
    uri : str
        The library.
    added : int
        Entries added by this call.
    entries : int
        Entries in the library afterwards.
    kinds : dict of str to int
        Entries added, per kind (``healthy`` or a collapse family).
    seconds : float
        Wall-clock seconds, generating the cases included.
    signature_seconds : list of float
        Seconds each signature took, in the order the cases were made.
    """

    uri: str
    added: int
    entries: int
    kinds: dict[str, int]
    seconds: float
    signature_seconds: list[float] = field(default_factory=list)


def default_library_uri() -> str:
    """The default library's location: ``$SYNTHOS_HOME/signatures``.

    Returns
    -------
    str
        A local path; ``SYNTHOS_HOME`` defaults to ``~/.synthos``.
    """
    return str(synthos_home() / "signatures")


def collapse_benchmark() -> ModuleType:
    """Import the collapse benchmark's package (``benchmarks.collapse``) from a checkout.

    Tried as it stands on ``sys.path`` first, then from the repository this module lives in
    (the ``synthos`` command does not run with the checkout on its path); in the second case
    the checkout's root is added to ``sys.path``.

    Returns
    -------
    module
        ``benchmarks.collapse``.

    Raises
    ------
    SynthosInputError
        Outside a checkout of the repository, or when the benchmark's own dependencies
        (``statsmodels``, ``palmerpenguins``) are missing.
    """
    try:
        return importlib.import_module("benchmarks.collapse")
    except ModuleNotFoundError as err:
        if not _is_missing_benchmarks(err):
            raise _missing_dependency(err) from None
    if not (_CHECKOUT / "benchmarks" / "collapse" / "cases.py").is_file():
        raise SynthosInputError(
            "benchmarks.collapse", "the collapse benchmark's case generator is not installed"
            " with the package; run this from a checkout of the synthos repository") from None
    sys.path.insert(0, str(_CHECKOUT))
    try:
        return importlib.import_module("benchmarks.collapse")
    except ModuleNotFoundError as err:
        raise _missing_dependency(err) from None


def _is_missing_benchmarks(err: ModuleNotFoundError) -> bool:
    return (err.name or "").split(".")[0] == "benchmarks"


def _missing_dependency(err: ModuleNotFoundError) -> SynthosInputError:
    return SynthosInputError("benchmarks.collapse", f"needs the module '{err.name}'; install"
                             " the test extras (pip install -e '.[test]')")


def resolve_datasets(datasets: str | Iterable[str]) -> list[str]:
    """Dataset names of the collapse benchmark from group names and dataset names.

    Parameters
    ----------
    datasets : str or iterable of str
        Each item ``"calibration"``, ``"held_out"`` or ``"all"`` (see
        :data:`DATASET_GROUPS`) or a dataset name (``"breast_cancer"``, ...); a single
        string is one item.

    Returns
    -------
    list of str
        Without repeats, in the order given (a group in the benchmark's order).

    Raises
    ------
    SynthosInputError
        An unknown group or dataset name, none at all, or no checkout (see
        :func:`collapse_benchmark`).
    """
    bench = collapse_benchmark()
    groups = {"calibration": list(bench.CALIBRATION), "held_out": list(bench.HELD_OUT),
              "all": list(bench.CALIBRATION) + list(bench.HELD_OUT)}
    tokens = [datasets] if isinstance(datasets, str) else list(datasets)
    names: list[str] = []
    unknown = []
    for token in tokens:
        for name in groups.get(token, [token]):
            if name not in bench.DATASETS:
                unknown.append(name)
            elif name not in names:
                names.append(name)
    if unknown or not names:
        raise SynthosInputError("--datasets", f"unknown dataset {', '.join(unknown) or '(none)'};"
                                f" use {', '.join(DATASET_GROUPS)} or dataset names"
                                f" ({', '.join(bench.DATASETS)})")
    return names


def build_library(uri: str, datasets: str | Iterable[str], seeds: Sequence[int] = (0, 1, 2), *,
                  signature_seed: int = 0,
                  on_case: Callable[[Any, Signature], None] | None = None) -> BuildReport:
    """Add the signature of every case of the collapse benchmark to a library, then compact.

    Each dataset and seed gives 18 cases (4 healthy, 7 collapse families at 2 severities;
    ``benchmarks/collapse/README.md``). Entries get kind ``healthy`` for healthy cases and
    the collapse family otherwise, the case's name (``dataset/family/severity/seed``) as
    source, and its label (``healthy`` or ``collapsed``) as verdict. Column kinds come from
    the reference as the pipeline's alignment infers them (:func:`~.signature.kinds_of`).

    Parameters
    ----------
    uri : str
        The library: local path, ``file://``, ``s3://`` or ``gs://`` folder. Created when
        absent; an existing one must hold signatures of this version
        (:func:`~.signature.signature_spec`).
    datasets : str or iterable of str
        Groups (``"calibration"``, ``"held_out"``, ``"all"``) and dataset names, as
        :func:`resolve_datasets` takes them.
    seeds : sequence of int, default=(0, 1, 2)
        Seeds of the cases: each gives its own split and corruptions.
    signature_seed : int, default=0
        Seed of the signatures' subsamples.
    on_case : callable, optional
        Called with each case and its signature, as they are computed (progress).

    Returns
    -------
    BuildReport

    Raises
    ------
    SynthosInputError
        No checkout of the repository, unknown datasets, bad seeds, or a library of another
        signature version at ``uri``.
    """
    started = time.perf_counter()
    seeds = list(seeds)
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
        raise SynthosInputError("--seeds", f"need one or more non-negative integers, got {seeds}")
    names = resolve_datasets(datasets)
    bench = collapse_benchmark()
    library = _create_or_open(uri)
    kinds: Counter[str] = Counter()
    timings: list[float] = []
    for dataset in names:
        vectors, entry_kinds, sources, verdicts, details = [], [], [], [], []
        for case in bench.generate_cases([dataset], seeds):
            sig = signature(case.synthetic, case.reference, kinds_of(case.reference),
                            seed=signature_seed)
            kind = HEALTHY if case.label == HEALTHY else case.family
            vectors.append(sig.vector)
            entry_kinds.append(kind)
            sources.append(case.name)
            verdicts.append(case.label)
            details.append({"dataset": case.dataset, "family": case.family,
                            "severity": case.severity, "seed": case.seed,
                            "rows": list(sig.rows)})
            kinds[kind] += 1
            timings.append(sig.seconds)
            if on_case is not None:
                on_case(case, sig)
        # One object per dataset: a build that stops half-way keeps whole datasets only.
        library.add_many(vectors, entry_kinds, sources, verdicts, details)
    library.compact()
    return BuildReport(library.uri, sum(kinds.values()), len(library), dict(kinds),
                       time.perf_counter() - started, timings)


def _create_or_open(uri: str) -> SignatureLibrary:
    spec = signature_spec()
    library = SignatureLibrary.create(uri, len(spec["features"]), spec=spec, exist_ok=True)
    check_spec(library)
    return library


def check_spec(library: SignatureLibrary) -> None:
    """Fail unless ``library`` holds signatures of the version this package computes.

    Parameters
    ----------
    library : SignatureLibrary

    Raises
    ------
    SynthosInputError
        The library's spec names other features or another version.
    """
    spec, expected = library.spec or {}, signature_spec()
    if {k: spec.get(k) for k in expected} != expected:
        raise SynthosInputError(library.uri, "holds signatures of another kind or version"
                                f" ({spec.get('name')} v{spec.get('version')}, this synthos"
                                f" computes {expected['name']} v{expected['version']}); move it"
                                " away or use another --library")


def seed_library_files() -> Traversable:
    """The packaged seed library's folder (a library as :class:`SignatureLibrary` writes it).

    Returns
    -------
    importlib.abc.Traversable
    """
    return resources.files("synthos.prescreen").joinpath(SEED_LIBRARY)


def open_default_library(uri: str | None = None) -> SignatureLibrary:
    """Open the default signature library, creating it from the packaged seed when absent.

    Parameters
    ----------
    uri : str, optional
        Where the library lives; :func:`default_library_uri` when not given.

    Returns
    -------
    SignatureLibrary

    Raises
    ------
    SynthosInputError
        The library there is of another signature version, the location cannot be read or
        written, or the package lacks its seed library.
    """
    uri = uri or default_library_uri()
    if Store.read_root(uri, missing_ok=True) is None:
        _copy_seed(uri)
    library = SignatureLibrary.open(uri)
    check_spec(library)
    return library


def _copy_seed(uri: str) -> None:
    seed = seed_library_files()
    root_file = seed.joinpath(ROOT_FILE)
    if not root_file.is_file():
        raise SynthosInputError(str(seed), "the packaged seed library is missing (package data"
                                " not installed); build one with synthos prescreen"
                                " build-library")
    root_bytes = root_file.read_bytes()
    store = Store(resolve(uri), int(json.loads(root_bytes)["dim"]))
    # Snapshot data first, manifests next, library.json last: until that appears nobody
    # opens the library, so a reader never sees a half-copied one, and a second process
    # that copies at the same time writes the very same bytes under the very same names.
    for folder in (SNAPSHOTS, MANIFESTS):
        for relative, data in _walk(seed.joinpath(folder), folder):
            target = store.loc
            for part in relative.split("/"):
                target = target.child(part)
            store.put(target, data)
    store.put(store.loc.child(ROOT_FILE), root_bytes)


def _walk(folder: Traversable, prefix: str) -> list[tuple[str, bytes]]:
    if not folder.is_dir():
        return []
    out = []
    for item in sorted(folder.iterdir(), key=lambda t: t.name):
        name = f"{prefix}/{item.name}"
        if item.is_dir():
            out += _walk(item, name)
        elif item.is_file() and not item.name.startswith("."):
            out.append((name, item.read_bytes()))
    return out
