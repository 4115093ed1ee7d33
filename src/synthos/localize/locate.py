"""Score every synthetic row with each detector, combine, flag and explain."""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthos.collapse.detector import one_thread
from synthos.localize import detectors as det
from synthos.localize.conformal import bh_qvalues, conformal_scores, worst_of
from synthos.localize.explain import Explainer
from synthos.localize.inconsistency import inconsistency
from synthos.localize.space import build_space
from synthos.localize.uncovered import missing_categories, missing_tails, uncovered_rows

#: Detectors in the order their columns appear; a detector that cannot run is absent.
DETECTORS = ("detectability", "out_of_support", "inconsistency", "memorization", "duplicates",
             "label_issue")
#: A detector fires on a row more extreme than this share of real rows (label issues: and
#: flagged by cleanlab).
FIRE_AT = 0.99
#: A detector joins the combined score when its excess of extreme rows is this unlikely under
#: real rows, at one of these score levels or beyond every real row. The tests are exact, so
#: a detector that sees nothing joins about this often; one that sees something and is left
#: out costs more (when none joins, all of them make the score), hence not smaller.
ACTIVE_P = 1e-2
ACTIVE_LEVELS = (0.8, 0.9, 0.95, 0.99)
#: A detector scoring groups of rows joins when its own test of its groups says so at
#: :data:`ACTIVE_P`, or when its rows pass the level tests and its groups' test is below this.
GROUP_P = 0.05
#: A detector left out still gives its rows beyond every one of its real rows their due when
#: they are this unlikely in number (its groups' test for a detector scoring groups), shared
#: out over the detectors left out (Bonferroni).
EXTREMES_P = 0.05
#: Why the training-influence detector (TracIn over the cascade's checkpoints) is absent.
NO_INFLUENCE = "absent: needs the accuracy cascade's checkpoints, which this run has not made"
_TOP = 20


@dataclass
class LocalizationResult:
    """Per-row scores (``table``) and what they add up to (``summary``).

    ``table`` has one row per synthetic row scored: ``row`` (0-based position in the
    synthetic input), ``score`` (0-1, higher is worse: the share of real rows less extreme
    under the worst of the detectors that find more extreme rows than real rows give, all of
    them when none does; the others count their rows beyond every one of their real rows
    where those are more than chance gives: :func:`_combined_parts`,
    :func:`~synthos.localize.conformal.worst_of`), ``confidence``
    (1 - the Benjamini–Hochberg q-value; for a row that only a statistic of its group of
    equal rows scores, and whose group is less than 1 - ``fdr`` excess, that share: see
    :func:`_individual`), ``flagged``, ``fired`` (detectors that fired, worst first),
    ``score_<detector>`` for each detector that ran, ``nearest_reference_row`` and
    ``reasons``.
    """

    table: pd.DataFrame
    summary: dict

    def to_dict(self) -> dict:
        return self.summary


def localize(synthetic: pd.DataFrame, reference: pd.DataFrame, kinds: dict[str, str], *,
             target: str | None = None, seed: int = 0, max_reference_rows: int = 20_000,
             max_train_rows: int = 20_000, explain_rows: int = 2_000, fdr: float = 0.1
             ) -> LocalizationResult:
    """Find the synthetic rows that make the table unlike the reference, and say why.

    Parameters
    ----------
    synthetic, reference : pandas.DataFrame
        The tables (the load stage's normalized samples in the pipeline). A
        ``__synthos_row__`` column, when present, gives each row's position in its input.
    kinds : dict
        Column -> kind as the reference gives it (the alignment's ``kinds``).
    target : str, optional
        Target column; when it holds classes, adds the ``label_issue`` detector.
    seed : int, default 0
        Seed of every subsample, split and model: same inputs, same scores.
    max_reference_rows : int, default 20,000
        Real rows in the k-NN index and the null (a random subset beyond that). Exact copies
        are found against every reference row whatever this is.
    max_train_rows : int, default 20,000
        Rows of each side the classifiers are trained on (out of fold); the other rows are
        scored each by one of the fold models, which never saw them.
    explain_rows : int, default 2,000
        Flagged rows, worst first, that get written reasons; the 20 worst rows always do.
    fdr : float, default 0.1
        False discovery rate at which rows are flagged (Benjamini–Hochberg over the conformal
        p-values): of the rows flagged, about this share would be real-looking rows.
    """
    started = time.perf_counter()
    with warnings.catch_warnings(), one_thread():
        warnings.simplefilter("ignore", RuntimeWarning)
        rng = np.random.default_rng(seed)
        space = build_space(synthetic, reference, kinds, target, max_reference_rows, rng)
        found = [det.detectability(space, rng, seed, max_train_rows),
                 *(det.neighbours(space) or ()),
                 inconsistency(space.as_given(), rng, seed, max_train_rows),
                 det.duplicates(space, rng),
                 det.label_issue(space, rng, seed, max_train_rows)]
        detections = {d.name: d for d in found if d is not None}
        return _combine(space, synthetic, reference, kinds, detections, explain_rows, fdr,
                        max_train_rows, started)


def _active(names: list[str], scored: dict, detections: dict) -> list[str]:
    """The detectors that find more extreme rows than real rows would give them: at one of
    :data:`ACTIVE_LEVELS` (or beyond every real row) more synthetic rows than exchangeable
    rows of both sides would give (:func:`row_test_passed`), or scores higher overall
    (Mann–Whitney), at p < :data:`ACTIVE_P` (Bonferroni over the tests); all detectors when
    none does. A detector left out still speaks for its rows beyond every real row
    (:func:`_combined_parts`).

    The worst of several scores is diluted by every detector that sees nothing: on a table
    whose problem is copies, a row's detectability score is noise that ties it with them.
    Levels below :data:`FIRE_AT` let in a detector whose bad rows share their statistic with
    many real rows (a copy of a record real rows repeat scores well below 1); so does a
    one-sided Mann–Whitney test of the synthetic rows' scores against the real rows' own,
    for bad rows spread over tiers of tied scores that no fixed level separates (copies on a
    table of small counts, where most real rows repeat a record too).

    Rows sharing one group's score are not independent draws: one group of a few hundred
    equal rows, large by chance, passes the level tests on its own (a healthy half of randhie
    put 333 rows beyond every shuffled row). A detector with a test of its groups
    (``excess_pvalue``) joins when that test is below :data:`ACTIVE_P`, or below
    :data:`GROUP_P` with its rows passing the level tests: the groups' test alone misses a few
    planted pairs where other excess records of the same size (copies of real rows) raise
    what chance is expected to give.
    """

    def sees(nm: str) -> bool:
        scores, own = scored[nm][0], _real_own(scored, detections, nm)
        grouped = detections[nm].excess_pvalue
        if grouped is not None:
            return grouped < ACTIVE_P or (grouped < GROUP_P and
                                          row_test_passed(scores, own, rank=False) is not None)
        return row_test_passed(scores, own) is not None

    active = [nm for nm in names if sees(nm)]
    return active or list(names)


def _real_own(scored: dict, detections: dict, nm: str) -> np.ndarray:
    """The real rows' own scores of detector ``nm``, of those it has a value for."""
    return scored[nm][1][~np.isnan(detections[nm].null)]


def row_test_passed(scores: np.ndarray, own: np.ndarray, rank: bool = True) -> str | None:
    """The first of :func:`_active`'s tests of a detector's rows that passes, named ("level
    0.8", ..., "level 1" for beyond every real row, "Mann-Whitney"); None when none does.

    ``scores``: the synthetic rows' conformal scores; ``own``: the real rows' own scores
    (those the detector has a value for); ``rank``: whether the Mann–Whitney test is tried.

    Each level's test is two-sample: of the rows of both sides at or above the level, how
    many are synthetic, against the hypergeometric tail when the n + m rows are exchangeable
    (:func:`level_excess_pvalue`). The real rows are a sample: a binomial at their share as if it
    were exact let a detector drawn like them in 65% of the time at a million synthetic rows
    against 20,000 (benchmarks/active_null.py). A real row's own score never reaches 1, so
    beyond every real row the tail is that of the top c of n + m rows all being synthetic.
    """
    from scipy.stats import mannwhitneyu

    tests = len(ACTIVE_LEVELS) + 2
    for level in (*ACTIVE_LEVELS, 1.0):
        if level_excess_pvalue(scores, own, level) < ACTIVE_P / tests:
            return f"level {level:g}"
    if rank and len(own) > 1 and \
            mannwhitneyu(scores, own, alternative="greater").pvalue < ACTIVE_P / tests:
        return "Mann-Whitney"
    return None


def level_excess_pvalue(scores: np.ndarray, own: np.ndarray, level: float) -> float:
    """One-sided p-value of the synthetic rows' excess at or above ``level``: of the rows of
    both sides there, how many are synthetic, against the hypergeometric tail when the rows
    are exchangeable (Fisher's exact test). 1 when no synthetic row reaches the level.

    ``scores``: the synthetic rows' conformal scores; ``own``: the real rows' own scores.
    """
    from scipy.stats import hypergeom

    n, m = len(scores), len(own)
    c, k = int((scores >= level).sum()), int((own >= level).sum())
    return float(hypergeom.sf(c - 1, n + m, c + k, n)) if c else 1.0


def _combined_parts(names: list[str], active: list[str], scored: dict, detections: dict
                    ) -> dict:
    """Detector -> (synthetic rows' scores, real rows' own, null size) of what the combined
    score takes: each detector in ``active`` as it is, and each other one for its rows beyond
    every one of its real rows only, when they are more than chance gives at
    :data:`EXTREMES_P` over the number of detectors left out (a detector scoring groups:
    when its groups' test says so).

    Leaving a detector out of the worst-of keeps its noise from tying with other detectors'
    extremes, but a row beyond every real row is seldom noise, and a detector needs ten
    such rows before its excess passes the join test at 800 rows a side: eight copies among
    800 rows with out-of-support rows beside them would otherwise be scored by the detectors
    that joined, which see nothing of them. So such a detector takes part as
    the indicator "beyond every real row" (1 or 0). Had the new row been one of the real
    rows, only the detector's top real row could reach that indicator: it keeps its own
    score (one step below 1, which :func:`worst_of` steps up to 1 for other detectors' rows),
    every other real row is 0. The indicator of a detector that sees nothing would put about
    one row in m + 1 at the top beside the planted ones (real-like rows on a table of 172
    real rows), hence the test. It is shared out over the detectors left out: each of them
    passes it by chance one time in 20, and each one let in puts its top real row beside
    the joined detectors' rows beyond every real row, which on a small table is their flags
    (penguins, 18 planted duplicates among 172 rows: with the top real rows of two detectors
    that saw nothing beside them, their p-value rose from 1/173 to 3/173 and none was flagged).
    """
    parts = {}
    left_out = max(1, len(names) - len(active))
    for nm in names:
        syn, own, size = scored[nm]
        if nm in active:
            parts[nm] = (syn, own, size)
            continue
        grouped = detections[nm].excess_pvalue
        evidence = grouped if grouped is not None else \
            level_excess_pvalue(syn, _real_own(scored, detections, nm), 1.0)
        if size > 0 and evidence < EXTREMES_P / left_out:
            top = np.rint(own * size) >= size - 1
            parts[nm] = ((syn >= 1.0).astype(float), np.where(top, own, 0.0), size)
    return parts


def _individual(parts: dict, detections: dict, raw: np.ndarray) -> np.ndarray:
    """How sure the detectors that give each row its score are that the row itself, not
    only a group it belongs to, is unlike real rows: 1 for a per-row detector.

    A detector scoring a whole group at once (equal rows) has a row at its score because its
    group holds too many rows; the row itself is one of the excess only with probability the
    group's share of excess (one minus a local false discovery rate, Efron 2010).
    """
    sure = np.zeros(len(raw))
    for nm, (syn, _, _) in parts.items():
        share = detections[nm].share
        sure = np.maximum(sure, np.where(syn >= raw, 1.0 if share is None else share, 0.0))
    return sure


def _scores(d: det.Detection) -> tuple[np.ndarray, np.ndarray, int]:
    """Conformal scores of the synthetic rows (less the real rows the detector counts as tied
    with a row: ``Detection.ties``) and of the real rows themselves, and how many real rows
    the null holds."""
    valid = ~np.isnan(d.null)
    null = d.null[valid]
    if len(null) == 0:
        return np.zeros(len(d.stat)), np.zeros(len(d.null)), 0
    own = np.zeros(len(d.null))
    own[valid] = conformal_scores(null, null, d.higher_is_worse)
    scores = conformal_scores(d.stat, null, d.higher_is_worse)
    if d.ties is not None:
        scores = np.maximum(scores - d.ties / len(null), 0.0)
    return scores, own, len(null)


def _combine(space, synthetic, reference, kinds, detections, explain_rows, fdr,
             max_train_rows, started) -> LocalizationResult:
    n = len(space.points)
    names = [name for name in DETECTORS if name in detections]
    scored = {name: _scores(detections[name]) for name in names}
    active = _active(names, scored, detections)
    parts = _combined_parts(names, active, scored, detections)
    syn, own, sizes = ([part[i] for part in parts.values()] for i in range(3))
    raw = np.max(syn, axis=0) if parts else np.zeros(n)
    score, pvalue = worst_of(syn, own, sizes) if parts else (np.zeros(n), np.ones(n))
    # A row only a group statistic scores is a discovery only where its group is mostly
    # excess; left among the tests, it would lower the bar for every other row.
    sure = _individual(parts, detections, raw)
    backed = sure >= 1.0 - fdr
    q = bh_qvalues(np.where(backed, pvalue, 1.0))
    flagged = q <= fdr
    fired = {nm: scored[nm][0] >= FIRE_AT for nm in names}
    for nm in names:
        own = detections[nm].fired
        if own is not None:
            # The detector's own decision, where real rows' labels are rarely as unsupported:
            # with a weak model cleanlab flags real and synthetic rows alike.
            fired[nm] = own & fired[nm]
    table = pd.DataFrame({"row": space.synthetic_positions, "score": score,
                          "confidence": np.where(backed, 1.0 - q, sure), "flagged": flagged})
    fired_text = np.full(n, "", dtype=object)
    for i in np.flatnonzero(np.any([fired[nm] for nm in names], axis=0)) if names else []:
        ranked = sorted((nm for nm in names if fired[nm][i]), key=lambda nm: -scored[nm][0][i])
        fired_text[i] = ",".join(ranked)
    table["fired"] = fired_text
    for nm in names:
        table[f"score_{nm}"] = scored[nm][0]
    oos = detections.get("out_of_support")
    table["nearest_reference_row"] = (
        space.reference_positions[space.real_rows[oos.extra["nearest"]]] if oos is not None
        else np.full(n, -1, dtype=np.int64))
    order = np.lexsort((-raw, -score))
    explainer = Explainer(space, synthetic, reference, kinds, detections)
    explain = list(order[flagged[order]][:explain_rows])
    explain += [i for i in order[:_TOP] if not flagged[i]]
    reasons = np.full(n, "", dtype=object)
    for i in explain:
        ranked = fired_text[i].split(",") if fired_text[i] else \
            sorted(names, key=lambda nm: -scored[nm][0][i])[:1]
        reasons[i] = explainer.reasons(int(i), ranked)
    table["reasons"] = reasons
    summary = _summary(space, kinds, detections, names, fired, flagged, table, order,
                       explainer, fdr, max_train_rows, explain_rows)
    _add_values(summary["top"], order, space, synthetic, reference, oos)
    summary["combined_detectors"] = active
    summary["extremes_only_detectors"] = [nm for nm in parts if nm not in active]
    summary["seconds"] = round(time.perf_counter() - started, 3)
    return LocalizationResult(table, summary)


def _summary(space, kinds, detections, names, fired, flagged, table, order, explainer, fdr,
             max_train_rows, explain_rows) -> dict:
    prep = space.prep
    per_detector = {nm: {"fired": int(fired[nm].sum()),
                         "flagged": int((fired[nm] & flagged).sum())} for nm in names}
    absent = {nm: _why_absent(nm, space) for nm in DETECTORS if nm not in names}
    absent["training_influence"] = NO_INFLUENCE
    top_cols = ["row", "score", "confidence", "fired", "nearest_reference_row", "reasons"]
    top = [{k: (v.item() if hasattr(v, "item") else v) for k, v in rec.items()}
           for rec in table.iloc[order[:_TOP]][top_cols].to_dict("records")]
    uncovered = uncovered_rows(space, detections.get("out_of_support"), explainer)
    return {
        "rows_scored": len(table),
        "flagged": int(flagged.sum()),
        "flagged_share": round(float(flagged.mean()), 6) if len(table) else 0.0,
        "fdr": fdr,
        "flag_floor": flag_floor(len(table), len(space.real_rows), fdr),
        "flagged_per_reason": {nm: v["flagged"] for nm, v in per_detector.items()},
        "detectors": per_detector,
        "absent": absent,
        "sampled": {
            "synthetic_rows": int(prep.synthetic.n),
            "reference_rows": int(prep.reference.n),
            "reference_rows_in_index": len(space.real_rows),
            "classifier_train_rows_per_side": int(min(prep.synthetic.n, len(space.real_rows),
                                                      max_train_rows)),
            "explained_rows": int((table["reasons"] != "").sum()),
            "explain_limit": explain_rows,
        },
        "columns": {"numeric": prep.numeric_names, "categorical": prep.categorical_names,
                    "excluded": prep.excluded},
        "top": top,
        "missing_mass": {"categories": missing_categories(space, explainer),
                         "tails": missing_tails(space, kinds),
                         "uncovered_real_rows": uncovered},
    }


def flag_floor(n: int, m: int, fdr: float) -> dict:
    """The fewest rows the flags can name at all: ``smallest_pvalue`` 1 / (m + 1), the
    conformal p-value of a row beyond every one of the ``m`` real rows of the null, and
    ``rows_needed``, how many of the ``n`` rows scored must reach it before
    Benjamini–Hochberg at ``fdr`` flags any (k / n * fdr >= 1 / (m + 1)).

    Fewer such rows are ranked first by ``score`` but not flagged, however extreme: 10 on a
    table of 172 rows against 172 real ones, 500 among a million against the 20,000-row null.
    """
    smallest = 1.0 / (m + 1)
    return {"smallest_pvalue": smallest,
            "rows_needed": max(1, math.ceil(n * smallest / fdr - 1e-9)) if n else 0}


def _add_values(top: list[dict], order: np.ndarray, space, synthetic: pd.DataFrame,
                reference: pd.DataFrame, oos) -> None:
    """The worst rows' values beside their nearest real row's, for the report."""
    columns = space.prep.compared_names
    columns = [c for c in synthetic.columns if c in columns]
    for rec, i in zip(top, order, strict=False):
        rec["values"] = {c: _plain(synthetic[c].iloc[i]) for c in columns}
        if oos is not None:
            j = int(space.real_rows[oos.extra["nearest"][i]])
            rec["nearest_values"] = {c: _plain(reference[c].iloc[j]) for c in columns}


def _plain(value) -> object:
    """A cell as JSON can hold it."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value if isinstance(value, (int, float, bool, str)) else str(value)


def _why_absent(name: str, space) -> str:
    if name == "label_issue":
        if space.ctx.target is None:
            return "absent: no target column given"
        return "absent: the target is not a class label (more than 20 values, or one class)"
    if name == "inconsistency":
        return ("absent: fewer than two columns, too few real rows, or no column that the "
                "others predict")
    return "absent: too few rows"
