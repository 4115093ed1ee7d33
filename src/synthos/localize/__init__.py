"""Row-level localization: which synthetic rows are the problem, and why.

Each detector scores every synthetic row against real rows (conformal scores, 0-1); the worst
of them, calibrated again against real rows, is the row's score; rows are flagged at a false
discovery rate and explained in their columns' units.
"""

from synthos.localize.locate import DETECTORS, LocalizationResult, localize

__all__ = ["DETECTORS", "LocalizationResult", "localize"]
