"""Pre-screen: dataset signatures looked up in a library of known healthy and collapsed ones.

The function computing a signature is :func:`synthos.prescreen.signature.signature`; it is not
re-exported here, where its name would hide the module of the same name.
"""

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
from synthos.prescreen.seed import (
    BuildReport,
    build_library,
    default_library_uri,
    open_default_library,
)
from synthos.prescreen.signature import FEATURES, NULL_VALUES, Signature, kinds_of
from synthos.prescreen.store import Problem

__all__ = ["COLLAPSED", "COLLAPSE_KINDS", "FEATURES", "HEALTHY", "NULL_VALUES", "BuildReport",
           "CorruptLibraryWarning", "EmptyLibraryError", "Lookup", "Neighbour", "Problem",
           "Signature", "SignatureLibrary", "build_library", "default_library_uri",
           "fit_platt", "kinds_of", "open_default_library"]
