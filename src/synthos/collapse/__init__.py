"""Collapse detection: 8 dimensions, each scored against real-vs-real sampling noise."""

from synthos.collapse.detector import (
    DIMENSIONS,
    CollapseResult,
    DimensionResult,
    detect_collapse,
)

__all__ = ["DIMENSIONS", "CollapseResult", "DimensionResult", "detect_collapse"]
