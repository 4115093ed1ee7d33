"""Diversity analysis: per-column and per-table diversity, strata coverage and text
diversity of a synthetic table beside its reference, from one streaming pass per table whose
sketch state merges across shards."""

from synthos.diversity.analysis import DiversityResult, analyze_diversity, analyze_states
from synthos.diversity.sketches import (
    ColumnSketch,
    SketchState,
    merge_states,
    parquet_shards,
    row_hashes,
    sketch_state,
)
from synthos.diversity.strata import Dimension, StrataResult, Stratum, compare_strata
from synthos.diversity.text import (
    HashingEmbedder,
    MiniLMEmbedder,
    TextDiversity,
    distinct_n,
    mean_cosine_distance,
    text_embedder,
)

__all__ = ["ColumnSketch", "Dimension", "DiversityResult", "HashingEmbedder", "MiniLMEmbedder",
           "SketchState", "StrataResult", "Stratum", "TextDiversity", "analyze_diversity",
           "analyze_states", "compare_strata", "distinct_n", "mean_cosine_distance",
           "merge_states", "parquet_shards", "row_hashes", "sketch_state", "text_embedder"]
