"""A zstd reader that fails on truncated data instead of returning a silent prefix.

fsspec's zstd codec returns whatever part of a cut frame it could decode and stops without an
error, so a half-uploaded ``.csv.zst`` would load as a shorter, valid-looking table. gzip and
bz2 readers already raise ``EOFError`` in that case; this one does the same for zstd.
"""

from __future__ import annotations

import io
from typing import IO

import zstandard

_CHUNK = 1 << 20


class StrictZstdReader(io.RawIOBase):
    """Decompress every zstd frame of ``raw``; raise ``EOFError`` if the last one is cut."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._dctx = zstandard.ZstdDecompressor()
        self._dobj = self._dctx.decompressobj()
        self._buffer = b""
        self._fed = False  # whether the current frame has received any bytes

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._buffer:
            chunk = self._raw.read(_CHUNK)
            if not chunk:
                if self._fed and not self._dobj.eof:
                    raise EOFError("zstd data ends before the end of its frame (truncated?)")
                return 0
            self._feed(chunk)
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n

    def _feed(self, chunk: bytes) -> None:
        while chunk:
            self._fed = True
            self._buffer += self._dobj.decompress(chunk)
            if not self._dobj.eof:
                return
            # A file may hold several frames back to back: start the next one.
            chunk = self._dobj.unused_data
            self._dobj = self._dctx.decompressobj()
            self._fed = False

    def close(self) -> None:
        self._raw.close()
        super().close()


def open_strict_zstd(raw: IO[bytes]) -> IO[bytes]:
    return io.BufferedReader(StrictZstdReader(raw))
