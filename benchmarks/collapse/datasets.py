"""Real tables for the collapse benchmark, loaded offline from files that ship inside packages.

Every loader returns a clean :class:`pandas.DataFrame` with a fresh ``RangeIndex`` and one of four
dtypes per column:

``float64``  real-valued measurements (``numeric``)
``int64``    whole numbers: counts, ages, ordinal scales (``integer``)
``bool``     two-valued indicators (``boolean``)
``str``      labels (``categorical``): :data:`STRING`, whatever the pandas version

These are the kinds :mod:`synthos.io.schema` infers from the same data, so a table written to
Parquet and read back by the pipeline is seen the way the benchmark means it. Identifier columns
and columns that are arithmetic functions of others (logs, squares, re-codings) are dropped: a
generator cannot be blamed for breaking an identity that it was never shown. Columns that are
constant over the whole table are dropped too (they carry nothing to compare).

The sources are scikit-learn's bundled ``load_*`` data, :mod:`statsmodels.datasets`, data files in
the statsmodels 0.15.0 wheel's test folders (real data sets used to check its estimators against
Stata and R), and :mod:`palmerpenguins`. Nothing is downloaded.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "CALIBRATION",
    "DATASETS",
    "HELD_OUT",
    "SOURCES",
    "STRING",
    "TARGETS",
    "column_kinds",
    "load",
    "split",
]

#: The dtype of label columns: pandas 3's default ``str`` dtype, spelled so that pandas 2.3 uses
#: it too (there the default for strings is still ``object``).
STRING = pd.StringDtype(na_value=np.nan)


def _statsmodels_file(relative: str) -> Path:
    # Imported here so that importing this module stays cheap; statsmodels takes ~1 s to import.
    import statsmodels

    path = Path(statsmodels.__file__).parent / relative
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: these data files ship in the statsmodels 0.15.0 wheel's test "
            "folders; install statsmodels==0.15.0"
        )
    return path


def _clean(frame: pd.DataFrame, categorical: tuple[str, ...] = (), indicators: bool = True
           ) -> pd.DataFrame:
    """Unify dtypes, drop empty rows and constant columns, reset the index.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table as its package gives it.
    categorical : tuple of str
        Columns to hold as string labels whatever their stored type (coded categories).
    indicators : bool
        Hold numeric columns whose only values are 0 and 1 as booleans.

    Returns
    -------
    pandas.DataFrame
        A new frame whose columns are ``float64``, ``int64``, ``bool`` or ``str``.
    """
    frame = frame.dropna(how="all").copy()
    out: dict[str, pd.Series] = {}
    for name in frame.columns:
        col = frame[name]
        if col.dropna().nunique() <= 1:
            continue
        if name in categorical or not (
            pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)
        ):
            out[name] = col.astype(STRING)
            continue
        if pd.api.types.is_bool_dtype(col):
            out[name] = col.astype(bool)
            continue
        values = col.astype("float64")
        whole = values.notna().all() and bool(np.all(np.mod(values.to_numpy(), 1.0) == 0.0))
        if whole and indicators and set(np.unique(values)) <= {0.0, 1.0}:
            # 0/1 indicators are booleans, as synthos's schema inference reads them.
            out[name] = values.astype(bool)
        elif whole:
            out[name] = values.astype("int64")
        else:
            out[name] = values
    return pd.DataFrame(out).reset_index(drop=True)


def _labels(series: pd.Series, mapping: dict[float, str]) -> pd.Series:
    mapped = series.map(mapping)
    unknown = series.notna() & mapped.isna()
    if unknown.any():
        codes = sorted(series[unknown].unique())
        raise ValueError(f"{series.name}: codes without a label: {codes}")
    return mapped.astype(STRING)


# ---------------------------------------------------------------------------------------------
# scikit-learn


def breast_cancer() -> pd.DataFrame:
    """Wisconsin diagnostic breast cancer: 569 tumours, 30 cell-nucleus measurements."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.data.rename(columns=lambda c: c.replace(" ", "_"))
    # sklearn codes 0 = malignant, 1 = benign (bunch.target_names).
    frame["diagnosis"] = np.asarray(bunch.target_names)[bunch.target.to_numpy()]
    return _clean(frame, categorical=("diagnosis",))


def diabetes() -> pd.DataFrame:
    """Efron et al. (2004) diabetes: 442 patients, baseline measures and progression a year on."""
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(as_frame=True, scaled=False)
    frame = bunch.data.copy()
    # Sex is a two-level code (1, 2) whose meaning the source does not document: a label.
    frame["sex"] = frame["sex"].map(lambda v: f"{int(v)}")
    frame["progression"] = bunch.target
    return _clean(frame, categorical=("sex",))


def digits() -> pd.DataFrame:
    """UCI optical digits: 1,797 8x8 images, pixel intensities 0-16, and the digit shown."""
    from sklearn.datasets import load_digits

    bunch = load_digits(as_frame=True)
    frame = bunch.data.copy()
    frame["digit"] = bunch.target.map(lambda v: f"{int(v)}")
    # Pixels that are 0 in every image are dropped by _clean; pixels that happen to be only 0 or 1
    # are still intensities, not indicators.
    return _clean(frame, categorical=("digit",), indicators=False)


# ---------------------------------------------------------------------------------------------
# statsmodels.datasets

_PID = {0: "strong_democrat", 1: "weak_democrat", 2: "independent_democrat",
        3: "independent", 4: "independent_republican", 5: "weak_republican",
        6: "strong_republican"}
_EDUC = {1: "grades_1_8", 2: "some_high_school", 3: "high_school", 4: "some_college",
         5: "college", 6: "masters", 7: "phd"}
_OCCUPATION = {1: "student", 2: "unskilled", 3: "white_collar", 4: "skilled",
               5: "managerial", 6: "professional"}


def anes96() -> pd.DataFrame:
    """1996 American National Election Study: 944 respondents, party identification and vote."""
    from statsmodels.datasets import anes96 as source

    frame = source.load_pandas().data.drop(columns=["logpopul"])  # log(popul + 0.1)
    frame["PID"] = _labels(frame["PID"], _PID)
    frame["educ"] = _labels(frame["educ"], _EDUC)
    frame["vote"] = _labels(frame["vote"], {0: "clinton", 1: "dole"})
    return _clean(frame, categorical=("PID", "educ", "vote"))


def fair() -> pd.DataFrame:
    """Fair (1978) Redbook survey of married women: 6,366 respondents, time in affairs."""
    from statsmodels.datasets import fair as source

    frame = source.load_pandas().data
    frame["occupation"] = _labels(frame["occupation"], _OCCUPATION)
    frame["occupation_husb"] = _labels(frame["occupation_husb"], _OCCUPATION)
    return _clean(frame, categorical=("occupation", "occupation_husb"))


def modechoice() -> pd.DataFrame:
    """Greene's travel mode choice (Sydney-Melbourne): 210 travellers x 4 modes, 840 rows."""
    from statsmodels.datasets import modechoice as source

    frame = source.load_pandas().data.drop(columns=["individual"])
    frame["mode"] = _labels(frame["mode"], {1: "air", 2: "train", 3: "bus", 4: "car"})
    return _clean(frame, categorical=("mode",))


def randhie() -> pd.DataFrame:
    """RAND Health Insurance Experiment: 20,190 person-years, outpatient doctor visits."""
    from statsmodels.datasets import randhie as source

    frame = source.load_pandas().data
    dummies = frame[["hlthg", "hlthf", "hlthp"]].to_numpy()
    if (dummies.sum(axis=1) > 1).any():
        raise ValueError("randhie: self-rated health dummies overlap")
    # Three dummies with "excellent" omitted are one four-level label.
    health = pd.Series(np.select(
        [dummies[:, 0] == 1, dummies[:, 1] == 1, dummies[:, 2] == 1],
        ["good", "fair", "poor"],
        default="excellent",
    ), index=frame.index)
    frame = frame.drop(columns=["hlthg", "hlthf", "hlthp"])
    frame["health"] = health
    return _clean(frame, categorical=("health",))


def star98() -> pd.DataFrame:
    """California STAR 1998 math results: 303 school districts, pupils above/below median."""
    from statsmodels.datasets import star98 as source

    frame = source.load_pandas().data
    # The last eight columns are products of the others (interaction terms of the GLM example).
    interactions = [c for c in frame.columns if "_" in c]
    return _clean(frame.drop(columns=interactions))


# ---------------------------------------------------------------------------------------------
# statsmodels test data (real data sets in the wheel's test folders)


def dietox() -> pd.DataFrame:
    """Danish pig growth trial (Lauridsen et al. 1999): 72 pigs x 12 weeks, 861 rows."""
    frame = pd.read_csv(_statsmodels_file("regression/tests/results/dietox.csv"))
    # Pig and Litter are animal and litter identifiers.
    frame = frame.drop(columns=["Pig", "Litter"])
    # Factor codes as in R's doBy::dietox: vitamin E and copper doses (mg per kg feed).
    frame["Evit"] = _labels(frame["Evit"], {1: "Evit000", 2: "Evit100", 3: "Evit200"})
    frame["Cu"] = _labels(frame["Cu"], {1: "Cu000", 2: "Cu035", 3: "Cu175"})
    return _clean(frame, categorical=("Evit", "Cu"))


def docvis() -> pd.DataFrame:
    """Cameron and Trivedi's Medicare doctor-visit counts: 3,629 people aged 65 and over."""
    frame = pd.read_csv(
        _statsmodels_file("sandbox/regression/tests/racd10data_with_transformed.csv")
    )
    derived = ["age2", "linc", "ldocvis", "ldocvisa", "docbin", "aget", "aget2", "incomet",
               # equal to docvis in every row
               "physician"]
    return _clean(frame.drop(columns=derived))


def birthweight() -> pd.DataFrame:
    """Cattaneo (2010) Pennsylvania births: 4,642 singletons, birth weight and mother's smoking."""
    frame = pd.read_csv(_statsmodels_file("treatment/tests/results/cataneo2.csv"))
    # lbweight is bweight < 2500; the trailing-underscore columns and mage2 re-code others.
    derived = ["lbweight", "mbsmoke_", "mmarried_", "fbaby_", "prenatal1_", "mage2"]
    frame = frame.drop(columns=derived)
    frame["mmarried"] = frame["mmarried"].eq("married")
    frame["mbsmoke"] = frame["mbsmoke"].eq("smoker")
    frame["fbaby"] = frame["fbaby"].eq("Yes")
    frame["prenatal1"] = frame["prenatal1"].eq("Yes")
    return _clean(frame, categorical=("msmoke",))


# ---------------------------------------------------------------------------------------------
# palmerpenguins


def penguins() -> pd.DataFrame:
    """Palmer Station penguins (Gorman et al. 2014): 344 birds, 3 species on 3 islands."""
    from palmerpenguins import load_penguins

    return _clean(load_penguins(), categorical=("species", "island", "sex"))


DATASETS: dict[str, Callable[[], pd.DataFrame]] = {
    "breast_cancer": breast_cancer,
    "diabetes": diabetes,
    "digits": digits,
    "anes96": anes96,
    "fair": fair,
    "modechoice": modechoice,
    "randhie": randhie,
    "star98": star98,
    "dietox": dietox,
    "docvis": docvis,
    "birthweight": birthweight,
    "penguins": penguins,
}

#: The column a model would be trained to predict; None where the table has no single one.
TARGETS: dict[str, str | None] = {
    "breast_cancer": "diagnosis",
    "diabetes": "progression",
    "digits": "digit",
    "anes96": "vote",
    "fair": "affairs",
    "modechoice": "choice",
    "randhie": "mdvis",
    "star98": None,
    "dietox": "Weight",
    "docvis": "docvis",
    "birthweight": "bweight",
    "penguins": "species",
}

SOURCES: dict[str, str] = {
    "breast_cancer": "sklearn.datasets.load_breast_cancer",
    "diabetes": "sklearn.datasets.load_diabetes(scaled=False)",
    "digits": "sklearn.datasets.load_digits",
    "anes96": "statsmodels.datasets.anes96",
    "fair": "statsmodels.datasets.fair",
    "modechoice": "statsmodels.datasets.modechoice",
    "randhie": "statsmodels.datasets.randhie",
    "star98": "statsmodels.datasets.star98",
    "dietox": "statsmodels: regression/tests/results/dietox.csv",
    "docvis": "statsmodels: sandbox/regression/tests/racd10data_with_transformed.csv",
    "birthweight": "statsmodels: treatment/tests/results/cataneo2.csv",
    "penguins": "palmerpenguins.load_penguins",
}

# Thresholds are tuned on CALIBRATION only and judged on HELD_OUT only. Each group holds two small
# tables (< 600 rows), one of 5,000+ rows, mostly-numeric and mixed-type tables, and a table with
# rare categorical levels, so neither group is easier in size or kind.
CALIBRATION: tuple[str, ...] = ("breast_cancer", "star98", "anes96", "fair", "dietox",
                                "birthweight")
HELD_OUT: tuple[str, ...] = ("diabetes", "penguins", "digits", "modechoice", "randhie", "docvis")


@functools.cache
def _cached(name: str) -> pd.DataFrame:
    return DATASETS[name]()


def load(name: str) -> pd.DataFrame:
    """Load one dataset by name (cached per process; each call returns a fresh copy).

    Parameters
    ----------
    name : str
        A key of :data:`DATASETS`.

    Returns
    -------
    pandas.DataFrame
        The cleaned table.
    """
    if name not in DATASETS:
        raise KeyError(f"unknown dataset {name!r} (known: {', '.join(DATASETS)})")
    return _cached(name).copy()


def column_kinds(frame: pd.DataFrame) -> dict[str, str]:
    """Each column's kind from its dtype: numeric, integer, boolean or categorical.

    Parameters
    ----------
    frame : pandas.DataFrame
        A table whose dtypes follow this module's convention.

    Returns
    -------
    dict of str to str
        Column name to kind.
    """
    kinds: dict[str, str] = {}
    for name, dtype in frame.dtypes.items():
        if pd.api.types.is_bool_dtype(dtype):
            kinds[name] = "boolean"
        elif pd.api.types.is_integer_dtype(dtype):
            kinds[name] = "integer"
        elif pd.api.types.is_float_dtype(dtype):
            kinds[name] = "numeric"
        else:
            kinds[name] = "categorical"
    return kinds


def split(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a table into two random halves.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table to split.
    seed : int
        Seed of the permutation; the same seed gives the same halves.

    Returns
    -------
    reference, other : pandas.DataFrame
        ``len(frame) // 2`` rows and the remaining rows, each with a fresh ``RangeIndex``. Together
        they hold every row once.
    """
    order = np.random.default_rng(seed).permutation(len(frame))
    half = len(frame) // 2
    reference = frame.iloc[order[:half]].reset_index(drop=True)
    other = frame.iloc[order[half:]].reset_index(drop=True)
    return reference, other
