"""Aligning the synthetic schema to the reference: what is missing, extra or retyped."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from synthos.errors import SynthosInputError
from synthos.io.schema import NUMERIC_KINDS

# Kinds a generator commonly swaps without changing meaning: an integer column sampled as
# floats, a 0/1 flag written as integers. Compared after casting; reported, not fatal.
_COMPATIBLE = [NUMERIC_KINDS, frozenset({"boolean", "integer"}),
               frozenset({"categorical", "text", "id"})]
_TARGET_KINDS = {"boolean": "classification", "categorical": "classification",
                 "integer": "classification or regression", "numeric": "regression"}


@dataclass
class Mismatch:
    column: str
    reference_kind: str
    synthetic_kind: str
    compatible: bool


@dataclass
class Alignment:
    """How the synthetic table's columns line up with the reference's.

    Attributes
    ----------
    common : list of str
        Columns in both, in reference order; later stages compare these.
    missing : list of str
        Reference columns absent from the synthetic data.
    extra : list of str
        Synthetic columns the reference does not have (ignored downstream).
    mismatched : list of Mismatch
        Common columns whose kinds differ; ``compatible`` ones are compared after casting to
        the reference kind, incompatible ones are compared as text.
    kinds : dict
        The kind each common column is compared as (the reference's).
    target : str or None
        The validated target column.
    task : str or None
        ``classification`` or ``regression`` as the target's kind implies.
    """

    common: list[str]
    missing: list[str]
    extra: list[str]
    mismatched: list[Mismatch] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    task: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def issues(self) -> int:
        return len(self.missing) + len(self.extra) + len(self.mismatched)


def align_schemas(synthetic: dict, reference: dict, target: str | None = None) -> Alignment:
    """Align two schema documents (as written by the load stage).

    Parameters
    ----------
    synthetic, reference : dict
        Schema documents: ``uri`` and ``columns`` (each with ``name`` and ``kind``).
    target : str, optional
        Column a model would predict; must exist in both and be predictable.

    Raises
    ------
    SynthosInputError
        No column in common, or a target that is unknown, absent from the synthetic data, or
        of a kind no model predicts (free text, identifiers, all missing).
    """
    ref_cols = {c["name"]: c for c in reference["columns"]}
    syn_cols = {c["name"]: c for c in synthetic["columns"]}
    common = [n for n in ref_cols if n in syn_cols]
    if not common:
        raise SynthosInputError(
            synthetic["uri"],
            f"no column in common with the reference {reference['uri']} "
            f"(synthetic: {_few(syn_cols)}; reference: {_few(ref_cols)})")
    missing = [n for n in ref_cols if n not in syn_cols]
    extra = [n for n in syn_cols if n not in ref_cols]
    mismatched = []
    for name in common:
        rk, sk = ref_cols[name]["kind"], syn_cols[name]["kind"]
        if rk != sk:
            ok = any(rk in group and sk in group for group in _COMPATIBLE)
            mismatched.append(Mismatch(name, rk, sk, ok))
    alignment = Alignment(common, missing, extra, mismatched,
                          {n: ref_cols[n]["kind"] for n in common})
    if target:
        alignment.target, alignment.task = target, _check_target(target, synthetic, reference,
                                                                 ref_cols, syn_cols)
    return alignment


def _check_target(target: str, synthetic: dict, reference: dict, ref_cols: dict,
                  syn_cols: dict) -> str:
    if target not in ref_cols:
        raise SynthosInputError(
            reference["uri"], f"target column '{target}' not found (columns: {_few(ref_cols)})")
    if target not in syn_cols:
        raise SynthosInputError(
            synthetic["uri"], f"target column '{target}' is missing from the synthetic data")
    col = ref_cols[target]
    if col["missing_rate"] >= 1.0:
        raise SynthosInputError(reference["uri"], f"target column '{target}' is all missing")
    if col["kind"] not in _TARGET_KINDS:
        raise SynthosInputError(
            reference["uri"], f"target column '{target}' holds {col['kind']} values; a target "
            "must be categorical, boolean, integer or numeric")
    return _TARGET_KINDS[col["kind"]]


def _few(cols: dict, limit: int = 8) -> str:
    names = list(cols)
    shown = ", ".join(names[:limit])
    return shown + (f", … ({len(names)} in all)" if len(names) > limit else "")
