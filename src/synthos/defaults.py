"""Defaults of a validation that the CLI, :func:`synthos.validate.validate` and the pipeline's
parameters share (kept here, with no imports, so the CLI can read them at no cost)."""

#: Rows kept in each input's uniform sample.
SAMPLE_ROWS = 100_000
#: A Parquet input with more row groups than this fans the diversity pass out over several
#: sketch tasks of about this many row groups each.
ROW_GROUPS_PER_SHARD = 32
