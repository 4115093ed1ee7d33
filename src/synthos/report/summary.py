"""``summary.json``: the versioned contract other tools read (add fields, never rename)."""

from __future__ import annotations

from typing import Any

import synthos

SCHEMA_VERSION = 1

#: Fields filled by stages that later versions add; null until their stage runs.
STAGE_FIELDS = ("collapse_detected", "verdict", "dimensions", "risk_score",
                "predicted_accuracy", "diversity", "localization", "recommendations")


def input_summary(schema: dict) -> dict[str, Any]:
    """The ``inputs.<role>`` entry from a load stage's schema document."""
    return {"uri": schema["uri"], "rows": schema["rows"],
            "columns": len(schema["columns"]), "format": schema["format"],
            "bytes": schema["bytes"], "sample_rows": schema["sample_rows"]}


def build_summary(synthetic: dict, reference: dict, alignment: dict, collapse: dict, *,
                  profile: str,
                  target: str | None, mlflow: dict[str, str | None],
                  timings_s: dict[str, float], diversity: dict,
                  prescreen: dict, localization: dict, recommendations: dict
                  ) -> dict[str, Any]:
    """Assemble ``summary.json``.

    Parameters
    ----------
    synthetic, reference : dict
        Schema documents of the load stages.
    alignment : dict
        The align stage's document.
    collapse : dict
        The collapse stage's document: fills ``collapse_detected``, ``verdict`` and
        ``dimensions``.
    profile : str
        ``quick`` or ``full``.
    target : str or None
        The target column, if one was given.
    mlflow : dict
        ``tracking_uri``, ``experiment`` and ``run_id``.
    timings_s : dict
        Stage name -> wall seconds.
    diversity : dict
        The diversity stage's document; ``diversity`` holds :func:`diversity_summary` of it.
    prescreen : dict
        The pre-screen stage's document: fills ``risk_score`` and ``prescreen`` (the known
        cases it resembles).
    """
    doc: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
    doc.update(dict.fromkeys(STAGE_FIELDS))
    doc.update({
        "collapse_detected": collapse["collapse_detected"],
        "verdict": collapse["verdict"],
        "dimensions": collapse["dimensions"],
        "column_shapes": collapse["column_shapes"],
        "thresholds_source": collapse["thresholds_source"],
        "inputs": {"synthetic": input_summary(synthetic),
                   "reference": input_summary(reference)},
        "mlflow": mlflow,
        "timings_s": {k: round(float(v), 3) for k, v in timings_s.items()},
        "profile": profile,
        "target": target or None,
        "alignment": alignment,
        "synthos_version": synthos.__version__,
        "diversity": diversity_summary(diversity),
        "risk_score": prescreen["risk_score"],
        "prescreen": {
            "risk_score": prescreen["risk_score"], "probability": prescreen["probability"],
            "matched_kinds": prescreen["matched_kinds"],
            "neighbours": [{k: n[k] for k in ("kind", "source", "distance")}
                           for n in prescreen["lookup"]["neighbours"]],
            "calibration": prescreen["lookup"]["calibration"],
            "library": prescreen["library"], "added_to_library": None},
        "localization": localization_summary(localization),
        "recommendations": recommendations["recommendations"],
        "recommendations_scored_against": recommendations["scored_against"],
    })
    return doc


def localization_summary(doc: dict, listed: int = 5) -> dict[str, Any]:
    """The ``localization`` field: rows flagged per reason, what was sampled, the missing
    mass and the worst rows with their reasons (``localization.parquet`` holds every row)."""
    keep = ("rows_scored", "flagged", "flagged_share", "fdr", "flag_floor", "flagged_per_reason",
            "detectors", "absent", "sampled", "missing_mass")
    top = [{k: r[k] for k in ("row", "score", "confidence", "fired", "nearest_reference_row",
                              "reasons")} for r in doc["top"][:listed]]
    return {**{k: doc[k] for k in keep}, "top": top}


def diversity_summary(doc: dict, listed: int = 5) -> dict[str, Any]:
    """The ``diversity`` field: the key numbers and the rarest missing patterns of a
    diversity document (``diversity.json`` holds all of it, sketches included)."""
    strata = doc["strata"]
    keep = ("strata_coverage", "mass_coverage", "expected_strata_coverage",
            "expected_mass_coverage", "reference_strata", "synthetic_strata", "empty_count",
            "starved_count", "novel_count", "empty_mass", "starved_mass", "novel_mass",
            "columns")
    near = {k: v for k, v in doc["near_duplicates"].items() if k != "examples"}
    return {
        "metrics": doc["metrics"],
        "duplicates": doc["duplicates"],
        "near_duplicates": near,
        "vendi": doc["vendi"],
        "strata": {**{k: strata[k] for k in keep if k in strata},
                   **{k: strata[k][:listed] for k in ("empty", "starved", "novel",
                                                       "empty_cells", "starved_cells")}},
        "columns": [{k: c.get(k) for k in ("column", "kind", "normalized_entropy",
                                            "unique_ratio", "missing_rate")}
                    for c in doc["columns"]],
        "text": doc["text"],
        "embedding": doc["embedding"],
        "shards": doc.get("shards"),
    }
