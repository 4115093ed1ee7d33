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
                  timings_s: dict[str, float]) -> dict[str, Any]:
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
    })
    return doc
