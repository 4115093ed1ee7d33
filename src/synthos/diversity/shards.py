"""Shards of the diversity pass: which parts of an input each task reads, and their states.

A Parquet input with more row groups than ``row_groups_per_shard`` is cut into shards of
about that many row groups (:func:`synthos.diversity.sketches.split_row_groups`); any other input
is one shard. Each shard's :class:`~synthos.diversity.sketches.SketchState` is written with
the role it belongs to, so one merge step can take every shard of both inputs at once.
"""

from __future__ import annotations

import math

from synthos.diversity.sketches import SketchState, row_group_sizes, split_row_groups
from synthos.errors import SynthosInputError

_MAGIC = b"SYNTHOS-SHARD-STATE 1 "


def plan_shards(uri: str, role: str, row_groups_per_shard: int) -> list[dict]:
    """The shards of one input, as flat dicts for a pipeline's ParallelFor.

    Parameters
    ----------
    uri : str
        The input (any format synthos reads).
    role : str
        ``synthetic`` or ``reference``: carried to the merge step.
    row_groups_per_shard : int
        A Parquet file with more row groups than this is split into shards of about this
        many; 0 or less never splits.

    Returns
    -------
    list of dict
        ``{"role", "uri", "row_groups", "part", "parts"}`` per shard; ``row_groups`` is a
        comma-separated list of row-group numbers, empty for the whole input.
    """
    sizes = row_group_sizes(uri)  # the footer is read once, here
    if sizes is None or row_groups_per_shard <= 0 or len(sizes) <= row_groups_per_shard:
        return [{"role": role, "uri": uri, "row_groups": "", "part": 0, "parts": 1}]
    cuts = split_row_groups(sizes, math.ceil(len(sizes) / row_groups_per_shard))
    return [{"role": role, "uri": uri, "row_groups": ",".join(map(str, cut)), "part": i,
             "parts": len(cuts)} for i, cut in enumerate(cuts)]


def row_group_list(text: str) -> list[int] | None:
    """``"0,1,2"`` -> ``[0, 1, 2]``; an empty string (the whole input) -> None."""
    return [int(float(g)) for g in text.split(",")] if text else None


def state_bytes(role: str, state: SketchState) -> bytes:
    """A shard's state with its role in front: ``MAGIC role\\n`` then the state."""
    return _MAGIC + role.encode() + b"\n" + state.to_bytes()


def read_state(data: bytes, source: str) -> tuple[str, SketchState]:
    """The role and state of :func:`state_bytes`' output."""
    if not data.startswith(_MAGIC) or b"\n" not in data:
        raise SynthosInputError(source, "not a synthos shard state")
    head, body = data[len(_MAGIC):].split(b"\n", 1)
    return head.decode(), SketchState.from_bytes(body, source)
