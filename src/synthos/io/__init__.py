"""Data loading: locations, formats, metadata, streaming, sampling, schema and alignment."""

from synthos.io.align import Alignment, align_schemas
from synthos.io.profile import Metadata, Profile, inspect, profile
from synthos.io.readers import Source, iter_batches, open_source, scan
from synthos.io.sample import ROW_COLUMN, ReservoirSampler
from synthos.io.schema import KINDS, ColumnSchema, infer_schema

__all__ = ["KINDS", "ROW_COLUMN", "Alignment", "ColumnSchema", "Metadata", "Profile",
           "ReservoirSampler", "Source", "align_schemas", "infer_schema", "inspect",
           "iter_batches", "open_source", "profile", "scan"]
