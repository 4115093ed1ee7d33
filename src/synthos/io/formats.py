"""File formats: what the extension says, checked against what the bytes say."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import zstandard

from synthos.errors import SynthosInputError

#: Extension (lower case, without compression suffix) -> format name.
EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".arrow": "arrow",
    ".ipc": "arrow",
    ".arrows": "arrow",
    ".feather": "feather",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".hdf": "hdf5",
    ".xlsx": "xlsx",
}
COMPRESSIONS = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bz2", ".zst": "zstd", ".zstd": "zstd"}
TEXT_FORMATS = frozenset({"csv", "tsv", "json", "jsonl"})

LABELS = {
    "csv": "CSV", "tsv": "TSV", "json": "JSON", "jsonl": "JSON Lines", "parquet": "Parquet",
    "arrow": "Arrow IPC", "feather": "Feather", "hdf5": "HDF5", "xlsx": "Excel (.xlsx)",
    "gzip": "gzip", "bz2": "bzip2", "zstd": "zstd",
}

# Leading bytes of the binary formats we know, used to name what a mislabelled file really is.
_MAGIC = [
    (b"PAR1", "parquet"),
    (b"ARROW1", "arrow"),
    (b"FEA1", "feather"),
    (b"\x89HDF\r\n\x1a\n", "hdf5"),
    (b"PK\x03\x04", "xlsx"),
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\xff\xff\xff\xff", "arrow"),  # IPC stream continuation marker
]


#: What gzip, bz2 and zstd readers raise on damaged data (zlib.error is no OSError).
DECOMPRESSION_ERRORS = (OSError, EOFError, ValueError, zlib.error, zstandard.ZstdError)


@dataclass(frozen=True)
class FileFormat:
    """A file's format and, for text formats, its compression (or None)."""

    name: str
    compression: str | None = None

    @property
    def label(self) -> str:
        base = LABELS[self.name]
        return f"{base} ({LABELS[self.compression]})" if self.compression else base


def from_extension(uri: str) -> FileFormat:
    """The format that the name of ``uri`` announces."""
    name = uri.rstrip("/").rsplit("/", 1)[-1].lower()
    stem, compression = name, None
    for suffix, comp in COMPRESSIONS.items():
        if stem.endswith(suffix):
            stem, compression = stem[: -len(suffix)], comp
            break
    ext = "." + stem.rsplit(".", 1)[-1] if "." in stem else ""
    if ext not in EXTENSIONS:
        known = ", ".join(sorted(set(EXTENSIONS) | set(COMPRESSIONS)))
        shown = ext or "(none)"
        raise SynthosInputError(uri, f"unknown file extension {shown}; supported: {known}")
    fmt = EXTENSIONS[ext]
    if compression and fmt not in TEXT_FORMATS:
        raise SynthosInputError(
            uri, f"{LABELS[compression]} compression is supported for CSV, TSV and JSON only"
        )
    return FileFormat(fmt, compression)


def sniff(head: bytes) -> str | None:
    """Name the binary format whose magic bytes start ``head``; None for anything else."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return None


def check_content(
    uri: str, fmt: FileFormat, head: bytes, decompressed_head: Callable[[], bytes] | None = None
) -> None:
    """Raise an input error when the first bytes of the file contradict its extension.

    Parameters
    ----------
    uri : str
        The file, named in the message.
    fmt : FileFormat
        What the extension says.
    head : bytes
        The file's first bytes (a few KiB is plenty).
    decompressed_head : callable, optional
        Returns the first decompressed bytes; needed when ``fmt`` is compressed.
    """
    if not head:
        raise SynthosInputError(uri, "file is empty (0 bytes)")
    found = sniff(head)
    if fmt.compression:
        if found != fmt.compression:
            raise SynthosInputError(uri, _lie(fmt.compression, found, head))
        try:
            head = decompressed_head() if decompressed_head else b""
        except DECOMPRESSION_ERRORS as err:
            raise SynthosInputError(uri, f"corrupt {LABELS[fmt.compression]} data: {err}") from err
        if not head.strip():
            raise SynthosInputError(uri, "file is empty once decompressed")
        found = sniff(head)
    expected = {"feather": ("arrow", "feather")}.get(fmt.name, (fmt.name,))
    if fmt.name in TEXT_FORMATS:
        if found is not None or b"\x00" in head[:4096]:
            raise SynthosInputError(uri, _lie(fmt.name, found, head))
        if not head.strip():
            raise SynthosInputError(uri, "file holds only whitespace")
        if fmt.name in ("json", "jsonl") and head.lstrip()[:1] not in (b"[", b"{"):
            raise SynthosInputError(
                uri, f"extension says {LABELS[fmt.name]} but the content does not start with "
                "'[' or '{' (is it CSV?)")
        if fmt.name == "jsonl" and head.lstrip()[:1] == b"[":
            raise SynthosInputError(
                uri, "extension says JSON Lines but the content is one JSON array; name it .json")
    elif found not in expected:
        raise SynthosInputError(uri, _lie(fmt.name, found, head))


def _lie(expected: str, found: str | None, head: bytes) -> str:
    what = LABELS[found] if found else ("text" if _looks_text(head) else "unrecognized binary data")
    return f"extension says {LABELS[expected]} but the content is {what}"


def _looks_text(head: bytes) -> bool:
    if b"\x00" in head[:4096]:
        return False
    try:
        head[:4096].decode("utf-8")
    except UnicodeDecodeError as err:
        # A multi-byte character cut at the end of the window is still text.
        return err.start >= min(len(head), 4096) - 3
    return True
