"""Apply each action to the data, re-score the collapse dimensions, rank by gain over cost."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from synthos.collapse import detect_collapse
from synthos.collapse.detector import WARN_MARGIN
from synthos.recommend.actions import (
    Action,
    addition_actions,
    estimate_actions,
    removal_actions,
)

#: Share of the reference set aside as the pool real rows are mixed in from. Actions that add
#: real rows are scored (before and after) against the rest only, so a mixed-in row is never a
#: copy of a row it is scored against; actions that remove rows are scored against the whole
#: reference, from the collapse stage's own scores.
DONOR_SHARE = 0.3
#: References smaller than this are not split: no real rows are mixed in.
MIN_REFERENCE_FOR_DONOR = 100
#: A removal must keep this share of the rows, and :data:`MIN_KEEP_ROWS` rows: a table cut
#: to a handful of rows scores near 100 on every dimension for want of power, not because it
#: is fixed.
MIN_KEEP_SHARE = 0.25
MIN_KEEP_ROWS = 30
#: Changes below this share of the rows are costed at it: below that, a gain divided by a tiny
#: cost ranks a cheap nudge above a real fix.
MIN_COST_SHARE = 0.10


def recommend(synthetic: pd.DataFrame, reference: pd.DataFrame, kinds: dict[str, str],
              collapse: dict, localization: dict, table: pd.DataFrame, *,
              diversity: dict | None = None, target: str | None = None, seed: int = 0,
              donor_share: float = DONOR_SHARE) -> dict:
    """Actions for the failed and weak dimensions, each with its measured (or estimated) gain.

    Parameters
    ----------
    synthetic, reference : pandas.DataFrame
        The samples the collapse and localize stages scored (same rows, same order as
        ``table``).
    kinds : dict
        Column -> kind (the alignment's ``kinds``).
    collapse : dict
        The collapse stage's document: which dimensions fail or are weak (within the warn
        margin of their threshold).
    localization, table : dict, pandas.DataFrame
        The localize stage's summary and per-row table (flagged rows, fired detectors,
        missing categories and tails).
    diversity : dict, optional
        The diversity stage's document (quoted in estimates).
    target : str, optional
        Target column, as given to the collapse stage.
    seed : int, default 0
        Seed of the donor split, the rows drawn and the re-scoring.
    donor_share : float, default 0.3
        Share of the reference kept apart to draw real rows from.

    Returns
    -------
    dict
        ``recommendations`` ranked: measured ones first, those that clear every threshold
        before the rest, then by gain over cost (changes under :data:`MIN_COST_SHARE` of the
        rows costed at it); each with the reference part it was scored against
        (``reference``: all of it, for removals; ``evaluation``: the part no mixed-in row
        comes from, whose measured change is carried over to the collapse stage's scores and
        kept under ``evaluation``); ``before`` (the collapse stage's scores),
        ``before_evaluation``, ``scored_against`` (row counts) and ``seconds``. Removals that
        would leave too few rows to score are listed, not applied.
    """
    started = time.perf_counter()
    dims = {d["name"]: d for d in collapse["dimensions"]}
    weak = [n for n, d in dims.items() if d["score"] < d["threshold"] + WARN_MARGIN]
    failing = [n for n in weak if not dims[n]["passed"]]
    doc: dict = {"weak_dimensions": weak, "failing_dimensions": failing,
                 "recommendations": [], "before": None, "scored_against": None}
    if not weak:
        doc["note"] = "no dimension fails or is within the warn margin: nothing to fix"
        doc["seconds"] = round(time.perf_counter() - started, 3)
        return doc
    columns = [c for c in kinds if c in synthetic.columns and c in reference.columns]
    frame = synthetic[columns].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    evaluation, donor = _split(reference[columns], donor_share, rng)
    thresholds = {n: d["threshold"] for n, d in dims.items()}

    def scores(data: pd.DataFrame, against: pd.DataFrame) -> dict[str, float]:
        result = detect_collapse(data, against, kinds, target=target,
                                 thresholds=thresholds, seed=seed)
        return {d.name: d.score for d in result.dimensions}

    # The collapse stage scored these very samples with this seed: its scores are the baseline.
    before = {n: d["score"] for n, d in dims.items()}
    removals = removal_actions(frame, table, columns)
    keep = max(MIN_KEEP_SHARE * len(frame), min(MIN_KEEP_ROWS, len(frame)))
    too_far = [a for a in removals if len(frame) - a.rows_removed < keep]
    plans = [(a, reference[columns], "reference", None) for a in removals if a not in too_far]
    before_eval = None
    if donor is not None:
        added = addition_actions(frame, donor, localization.get("missing_mass", {}), rng)
        if added:
            before_eval = scores(frame, evaluation)
            plans += [(a, evaluation, "evaluation", before_eval) for a in added]
    measured: dict[str, dict] = {}
    records = []
    for action, against, label, base in plans:
        after = scores(action.apply(), against)
        if base is not None:
            # Scored on the evaluation part: carry its change over to the collapse stage's
            # scores, so every action is ranked from one baseline.
            moved = {d: after[d] - base[d] for d in after}
            after = {d: round(float(np.clip(before[d] + moved[d], 0.0, 100.0)), 2)
                     for d in after}
        rec = _record(action, before, after, thresholds, weak, len(frame))
        rec["scored_against"] = label
        if base is not None:
            rec["evaluation"] = {"before": {d: base[d] for d in rec["targets"]},
                                 "after": {d: round(base[d] + moved[d], 2)
                                           for d in rec["targets"]}}
        records.append(rec)
        measured.setdefault(action.name, rec)
    for action in too_far:
        action.basis = (f"not applied: it would leave {len(frame) - action.rows_removed:,} of "
                        f"{len(frame):,} rows, too few to score (the collapse dimensions need "
                        f"at least {MIN_KEEP_SHARE:.0%} of the rows and {MIN_KEEP_ROWS})")
        records.append(_record(action, before, None, thresholds, weak, len(frame)))
    for action in estimate_actions(failing, measured, diversity, int(table["flagged"].sum())):
        records.append(_record(action, before, None, thresholds, weak, len(frame)))
    # A measured action that clears every threshold comes first (a team wants a fix); then by
    # gain over cost, which alone would put a cheap nudge above a complete cure.
    records.sort(key=lambda r: (not r["measured"], not r["passes_after"],
                                -(r["gain_per_cost"] or 0.0)))
    for i, rec in enumerate(records, 1):
        rec["rank"] = i
    doc.update(recommendations=records, before=before, before_evaluation=before_eval,
               scored_against={"reference_rows": len(reference),
                               "evaluation_rows": len(evaluation),
                               "donor_rows": 0 if donor is None else len(donor),
                               "synthetic_rows": len(frame)})
    doc["seconds"] = round(time.perf_counter() - started, 3)
    return doc


def _split(reference: pd.DataFrame, share: float, rng: np.random.Generator
           ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    if len(reference) < MIN_REFERENCE_FOR_DONOR or share <= 0:
        return reference.reset_index(drop=True), None
    donor = rng.random(len(reference)) < share
    return (reference.loc[~donor].reset_index(drop=True),
            reference.loc[donor].reset_index(drop=True))


def shortfall(scores: dict[str, float], thresholds: dict[str, float], dims: list[str]) -> float:
    """Points the ``dims`` lack to clear their thresholds by the warn margin."""
    return float(sum(max(0.0, thresholds[d] + WARN_MARGIN - scores[d]) for d in dims))


def _record(action: Action, before: dict[str, float], after: dict[str, float] | None,
            thresholds: dict[str, float], weak: list[str], rows: int) -> dict:
    cost_rows = action.rows_removed + action.real_rows_needed
    rec = {"action": action.name, "title": action.title,
           "targets": [t for t in action.targets if t in weak] or list(action.targets),
           "measured": after is not None,
           "cost": {"rows_removed": action.rows_removed,
                    "real_rows_needed": action.real_rows_needed,
                    "share": round(cost_rows / max(rows, 1), 5)},
           **action.details}
    if after is None:
        rec.update(before=None, after=None, gain=None, gain_per_cost=None, passes_after=None,
                   basis=action.basis)
        return rec
    # Gain: points recovered toward every dimension's safe zone (threshold + warn margin),
    # side effects on the others included.
    everything = list(thresholds)
    gain = shortfall(before, thresholds, everything) - shortfall(after, thresholds, everything)
    rec.update(before={d: before[d] for d in rec["targets"]},
               after={d: after[d] for d in rec["targets"]},
               changes={d: round(after[d] - before[d], 2) for d in everything
                        if abs(after[d] - before[d]) >= 0.01},
               gain=round(gain, 2),
               gain_per_cost=round(gain / max(100.0 * cost_rows / max(rows, 1),
                                              100.0 * MIN_COST_SHARE), 3),
               passes_after=all(after[d] >= thresholds[d] for d in everything),
               basis="measured: applied to the synthetic sample and re-scored")
    return rec
