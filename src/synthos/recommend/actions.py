"""Candidate actions: each a transformation of the synthetic table (measured by re-scoring) or
a change to the generator (an estimate, said to be one)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Dimensions each kind of action is meant to move.
TARGETS = {
    "drop_flagged": ("coverage", "distribution_fidelity", "correlation_preservation",
                     "mutual_information", "novelty", "diversity_entropy"),
    "drop_copies": ("novelty",),
    "deduplicate": ("diversity_entropy", "novelty"),
    "drop_out_of_support": ("coverage", "distribution_fidelity"),
    "rebalance_categories": ("distribution_fidelity", "tail_preservation", "diversity_entropy",
                             "coverage"),
    "restore_tails": ("tail_preservation", "structural_spectrum", "coverage"),
    "mix_real": ("distribution_fidelity", "correlation_preservation", "mutual_information",
                 "tail_preservation", "diversity_entropy", "coverage", "structural_spectrum"),
    "regenerate_flagged": ("coverage", "distribution_fidelity", "novelty", "diversity_entropy"),
    "regenerate_with_more_diversity": ("diversity_entropy", "tail_preservation", "coverage",
                                       "structural_spectrum"),
}
#: Shares of the synthetic table's size at which real rows are mixed in (Shumailov et al.
#: keep about 10% real data per generation; more is tried too).
MIX_RATIOS = (0.1, 0.3)


@dataclass
class Action:
    """One candidate: ``apply`` returns the transformed synthetic table (None: an estimate)."""

    name: str
    title: str
    targets: tuple[str, ...]
    rows_removed: int = 0
    real_rows_needed: int = 0
    apply: Callable[[], pd.DataFrame] | None = None
    basis: str = ""
    details: dict = field(default_factory=dict)


def _drop(frame: pd.DataFrame, mask: np.ndarray) -> Callable[[], pd.DataFrame]:
    return lambda: frame.loc[~mask].reset_index(drop=True)


def _add(frame: pd.DataFrame, rows: pd.DataFrame) -> Callable[[], pd.DataFrame]:
    return lambda: pd.concat([frame, rows], ignore_index=True)


def removal_actions(frame: pd.DataFrame, table: pd.DataFrame, columns: list[str]) -> list[Action]:
    """Drop flagged rows, copies of real rows, duplicates, out-of-support rows."""
    out = []
    fired = table["fired"].fillna("").to_numpy()
    flagged = table["flagged"].to_numpy(dtype=bool)
    if flagged.any():
        out.append(Action("drop_flagged", f"Drop the {flagged.sum():,} flagged rows",
                          TARGETS["drop_flagged"], rows_removed=int(flagged.sum()),
                          apply=_drop(frame, flagged)))
    for name, detector, title in (
            ("drop_copies", "memorization", "Drop the {n:,} rows that copy real rows"),
            ("drop_out_of_support", "out_of_support",
             "Drop the {n:,} rows outside the real rows' support")):
        mask = np.array([detector in f.split(",") for f in fired], dtype=bool)
        if mask.any():
            out.append(Action(name, title.format(n=int(mask.sum())), TARGETS[name],
                              rows_removed=int(mask.sum()), apply=_drop(frame, mask)))
    dup = frame.duplicated(subset=columns, keep="first").to_numpy()
    if dup.any():
        out.append(Action("deduplicate",
                          f"Deduplicate: drop {dup.sum():,} exact repeats (keep the first)",
                          TARGETS["deduplicate"], rows_removed=int(dup.sum()),
                          apply=_drop(frame, dup)))
    return out


def addition_actions(frame: pd.DataFrame, donor: pd.DataFrame, missing: dict,
                     rng: np.random.Generator) -> list[Action]:
    """Mix real rows in: for missing categories, for missing tails, and at fixed ratios."""
    out = []
    n = len(frame)
    # Each gap in the real side's missing mass: which donor rows fill it, and how to name it.
    for name, gaps, rows_of, label, title in (
            ("rebalance_categories", missing.get("categories", []),
             lambda c: (donor[c["column"]].astype("string") == c["value"]).fillna(False),
             lambda c: f"{c['column']}={c['value']}",
             "Rebalance categories: add {n:,} real rows of {which}"),
            ("restore_tails", missing.get("tails", []),
             lambda t: _beyond(donor[t["column"]], t), lambda t: f"{t['column']} {t['side']}",
             "Restore tails: add {n:,} real rows from the {which} tails")):
        rows = _draw(donor, [rows_of(g) for g in gaps], [g["missing_share"] * n for g in gaps],
                     rng)
        if rows is not None:
            which = ", ".join(label(g) for g in gaps[:3])
            out.append(Action(name, title.format(n=len(rows), which=which), TARGETS[name],
                              real_rows_needed=len(rows), apply=_add(frame, rows)))
    for ratio in MIX_RATIOS:
        k = min(round(ratio * n), len(donor))
        if k > 0:
            rows = donor.sample(k, random_state=_seed(rng))
            out.append(Action("mix_real", f"Mix in {k:,} real rows ({k / n:.0%} of the table)",
                              TARGETS["mix_real"], real_rows_needed=k,
                              apply=_add(frame, rows), details={"ratio": round(k / n, 4)}))
    return out


def _beyond(values: pd.Series, tail: dict) -> pd.Series:
    col = pd.to_numeric(values, errors="coerce")
    side = col < tail["bound_value"] if tail["side"] == "lower" else col > tail["bound_value"]
    return side.fillna(False)


def _draw(donor: pd.DataFrame, masks: list[pd.Series], needs: list[float],
          rng: np.random.Generator) -> pd.DataFrame | None:
    """Donor rows: up to ``need`` of each ``mask``'s rows (None when there are none)."""
    wanted = []
    for mask, need in zip(masks, needs, strict=True):
        pool = donor[mask.to_numpy(dtype=bool)]
        k = min(round(need), len(pool))
        if k > 0:
            wanted.append(pool.sample(k, random_state=_seed(rng)))
    return pd.concat(wanted).drop_duplicates() if wanted else None


def estimate_actions(failing: list[str], measured: dict[str, dict], diversity: dict | None,
                     flagged: int) -> list[Action]:
    """Changes to the generator: not applied here, so their gain is an estimate."""
    out = []
    drop = measured.get("drop_flagged")
    if drop is not None and flagged:
        out.append(Action(
            "regenerate_flagged", f"Regenerate the {flagged:,} flagged rows",
            TARGETS["regenerate_flagged"],
            basis=("estimate: the measured gain of dropping them (regenerating keeps the row "
                   f"count): {drop['gain']:+.1f} points"),
            details={"estimated_gain": drop["gain"]}))
    collapse_dims = set(TARGETS["regenerate_with_more_diversity"]) & set(failing)
    if collapse_dims:
        doc = diversity or {}
        dup = (doc.get("duplicates") or {}).get("synthetic", {}).get("value")
        vendi = (doc.get("vendi") or {}).get("ratio")
        note = f"; {dup:.1%} of synthetic rows repeat" if isinstance(dup, float) else ""
        if isinstance(vendi, float):
            note += f"; Vendi score {vendi:.2f}x the reference's"
        out.append(Action(
            "regenerate_with_more_diversity",
            "Regenerate with more diversity: sample at temperature 1 without truncation, keep "
            "real data in every generation",
            TARGETS["regenerate_with_more_diversity"],
            basis=("estimate, not measured: the failing dimensions "
                   f"({', '.join(sorted(collapse_dims))}) are those of recursive and mode "
                   "collapse, which accumulating real data keeps bounded (Gerstgrasser et al. "
                   f"2024){note}")))
    return out


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31 - 1))
