"""Collapse-detection benchmark: real tables and labelled healthy/collapsed synthetic cases.

``datasets`` loads twelve real tables that ship inside packages (no download); ``cases`` turns
each into healthy look-alikes and collapsed corruptions at two severities. See README.md here.
"""

from .cases import (
    COLLAPSE_FAMILIES,
    FAMILIES,
    HEALTHY_FAMILIES,
    SEVERITIES,
    SEVERITY_PARAMS,
    Case,
    GaussianCopula,
    generate_cases,
    halves,
)
from .datasets import CALIBRATION, DATASETS, HELD_OUT, SOURCES, TARGETS, column_kinds, load, split

__all__ = [
    "CALIBRATION",
    "COLLAPSE_FAMILIES",
    "DATASETS",
    "FAMILIES",
    "HEALTHY_FAMILIES",
    "HELD_OUT",
    "SEVERITIES",
    "SEVERITY_PARAMS",
    "SOURCES",
    "TARGETS",
    "Case",
    "GaussianCopula",
    "column_kinds",
    "generate_cases",
    "halves",
    "load",
    "split",
]
