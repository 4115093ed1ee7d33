"""The thresholds each dimension's score is judged against, and where they came from.

``thresholds.json`` beside this module is written by the collapse benchmark's calibration
(``benchmarks/collapse/calibrate.py``); without it every dimension uses
:data:`~synthos.collapse.detector.DEFAULT_THRESHOLD` and the provenance says so.
"""

from __future__ import annotations

import json
from importlib import resources


def load_thresholds() -> tuple[dict[str, float], str]:
    """Calibrated thresholds (dimension -> score) and a one-line provenance."""
    try:
        text = resources.files("synthos.collapse").joinpath("thresholds.json").read_text()
    except FileNotFoundError:
        return {}, "uncalibrated: every dimension fails below the default score of 50"
    doc = json.loads(text)
    sets = ", ".join(doc.get("calibration_datasets", []))
    return ({k: float(v) for k, v in doc["thresholds"].items()},
            f"calibrated on {sets} ({doc.get('date', 'undated')})")
