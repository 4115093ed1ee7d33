"""A real/synthetic pair from scikit-learn's bundled breast-cancer data (no download).

The real rows are split in two halves. One half is the reference. A simple generator, a
multivariate Gaussian per diagnosis fitted to the other half, samples the synthetic table: a
plausible generator with the flaws such generators have (no skew, no hard bounds).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.datasets import load_breast_cancer


def real_table() -> pd.DataFrame:
    data = load_breast_cancer(as_frame=True)
    frame = data.frame.drop(columns="target")
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    frame["diagnosis"] = np.asarray(data.target_names)[data.target.to_numpy()]
    return frame


def gaussian_synthesize(train: pd.DataFrame, rows: int, label: str, seed: int) -> pd.DataFrame:
    """Sample ``rows`` rows from a Gaussian per value of ``label`` fitted to ``train``."""
    rng = np.random.default_rng(seed)
    shares = train[label].value_counts(normalize=True).sort_index()
    parts = []
    for value, count in zip(shares.index, rng.multinomial(rows, shares.to_numpy()), strict=True):
        group = train[train[label] == value].drop(columns=label)
        drawn = rng.multivariate_normal(group.mean().to_numpy(), group.cov().to_numpy(),
                                        size=count)
        part = pd.DataFrame(drawn, columns=group.columns)
        part[label] = value
        parts.append(part)
    return pd.concat(parts, ignore_index=True).sample(frac=1.0, random_state=seed)


def write_demo_pair(folder: str, seed: int = 0) -> tuple[str, str]:
    """Write ``synthetic.csv`` and ``reference.parquet`` into ``folder``; return their paths."""
    os.makedirs(folder, exist_ok=True)
    real = real_table().sample(frac=1.0, random_state=seed).reset_index(drop=True)
    half = len(real) // 2
    reference, train = real.iloc[:half], real.iloc[half:]
    synthetic = gaussian_synthesize(train, len(train), "diagnosis", seed)
    syn_path = os.path.join(folder, "synthetic.csv")
    ref_path = os.path.join(folder, "reference.parquet")
    synthetic.to_csv(syn_path + ".tmp", index=False)
    os.replace(syn_path + ".tmp", syn_path)
    pq.write_table(pa.Table.from_pandas(reference, preserve_index=False), ref_path + ".tmp")
    os.replace(ref_path + ".tmp", ref_path)
    return syn_path, ref_path
