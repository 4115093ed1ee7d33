"""The rows every detector looks at: both tables encoded and embedded, and the real rows that
serve as the index and the null."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from synthos.collapse.geometry import Embedding
from synthos.collapse.prepare import Encoded, Prepared, hash_rows, prepare
from synthos.collapse.statistics import Context
from synthos.io.sample import ROW_COLUMN


@dataclass
class Space:
    """Both tables, encoded (:mod:`synthos.collapse.prepare`) and embedded in one space.

    Attributes
    ----------
    prep : Prepared
        The encoded tables; values snapped to the reference's atoms.
    ctx : Context
        Column roles (numeric, categorical, narrow, target).
    points : ndarray, shape (n_synthetic, d)
        Every synthetic row embedded (float32).
    real_rows : ndarray of int
        Reference rows (positions in the reference frame) that form the k-NN index and the
        null: a random subset of at most ``max_reference_rows``.
    real_points : ndarray, shape (len(real_rows), d)
        Those rows embedded.
    synthetic_positions, reference_positions : ndarray of int
        Each frame row's 0-based position in its input file (the sample's row column, or the
        frame's order when it has none).
    synthetic_records, reference_records : ndarray of uint64
        A hash of each row's compared values as its file holds them, not snapped to the
        reference's atoms: what an exact copy and an exact repeat are equal on. Snapping
        merges values that differ within a twentieth of a standard deviation; randhie's lpi
        holds 601 distinct values, and snapped rows that differ there read as one record
        held by many rows, which a fresh draw repeats (copies of reference rows planted in
        randhie: AUROC 0.73-0.77 snapped, 0.77-0.81 as given).
    """

    prep: Prepared
    ctx: Context
    embedding: Embedding
    points: np.ndarray
    real_rows: np.ndarray
    real_points: np.ndarray
    synthetic_positions: np.ndarray
    reference_positions: np.ndarray
    synthetic_records: np.ndarray
    reference_records: np.ndarray

    @property
    def real(self) -> Encoded:
        return self.prep.reference.take(self.real_rows)

    def as_given(self) -> Space:
        """The same space with every row embedded from its values as the file holds them, not
        snapped to the reference's atoms (``prep`` stays snapped).

        Snapping keeps a generator's rounding noise from reading as a difference where a
        model contrasts synthetic rows with real ones. A model fitted on real rows alone (how
        their columns go together) never sees that contrast, and snapping only takes from it
        distinctions real rows make: the inconsistency detector on rows mixing two real rows
        of randhie, whose lpi holds 601 distinct values, AUROC 0.825-0.832 snapped and
        0.846-0.848 as given (benchmarks/localize.py's plantings at 5% and 10%, two seeds).
        """
        raw = self.prep.raw_numeric
        if raw is None:
            return self
        synthetic = Encoded(raw[0], self.prep.synthetic.codes, self.synthetic_records)
        reference = Encoded(raw[1], self.prep.reference.codes, self.reference_records)
        embedding = Embedding(reference, self.ctx)
        return replace(self, embedding=embedding, points=embedding(synthetic),
                       real_points=embedding(reference.take(self.real_rows)))


def build_space(synthetic: pd.DataFrame, reference: pd.DataFrame, kinds: dict[str, str],
                target: str | None, max_reference_rows: int, rng: np.random.Generator
                ) -> Space:
    """Encode and embed both tables; draw the real rows of the index."""
    prep = prepare(synthetic, reference, kinds)
    ctx = Context(prep.numeric_names, prep.categorical_names, prep.narrow,
                  target if target in prep.compared_names else None)
    embedding = Embedding(prep.reference, ctx)
    n_ref = prep.reference.n
    real_rows = np.sort(rng.choice(n_ref, min(n_ref, max_reference_rows), replace=False))
    raw_syn, raw_ref = prep.numeric_as_given
    return Space(prep, ctx, embedding, embedding(prep.synthetic),
                 real_rows, embedding(prep.reference.take(real_rows)),
                 _positions(synthetic), _positions(reference),
                 hash_rows(raw_syn, prep.synthetic.codes),
                 hash_rows(raw_ref, prep.reference.codes))


def _positions(frame: pd.DataFrame) -> np.ndarray:
    if ROW_COLUMN in frame.columns:
        return frame[ROW_COLUMN].to_numpy(dtype=np.int64)
    return np.arange(len(frame), dtype=np.int64)
