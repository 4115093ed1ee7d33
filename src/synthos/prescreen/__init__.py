"""Pre-screen: dataset signatures looked up in a library of known healthy and collapsed ones."""

from synthos.prescreen.library import (
    COLLAPSE_KINDS,
    COLLAPSED,
    HEALTHY,
    CorruptLibraryWarning,
    EmptyLibraryError,
    Lookup,
    Neighbour,
    SignatureLibrary,
    fit_platt,
)
from synthos.prescreen.store import Problem

__all__ = ["COLLAPSED", "COLLAPSE_KINDS", "HEALTHY", "CorruptLibraryWarning",
           "EmptyLibraryError", "Lookup", "Neighbour", "Problem", "SignatureLibrary",
           "fit_platt"]
