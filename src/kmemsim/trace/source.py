"""Trace sources: plain, gzip, xz and zstd files and standard input, streamed.

A kernel trace is read line by line in constant memory, whatever its size:
the compression is recognised by the file's magic bytes (not its name), the
decompressor runs on blocks as they are read, and text is decoded as UTF-8
with replacement, so binary garbage becomes lines the parser rejects rather
than an exception. A damaged compressed stream (a file cut short, a corrupt
block) is the user's input problem: it raises TraceError naming the file and
the last good line.
"""

from __future__ import annotations

import bz2
import codecs
import lzma
import os
import sys
import zlib
from collections.abc import Iterator
from typing import Any, BinaryIO

from kmemsim.errors import KmemsimError

# Magic numbers at the start of a compressed stream.
_GZIP_MAGIC = b"\x1f\x8b"
_XZ_MAGIC = b"\xfd7zXZ\x00"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_BZIP2_MAGIC = b"BZh"

READ_SIZE = 1 << 20
# Compressed input is read in smaller pieces: text traces compress 20-30 times,
# and each piece's output is a block of lines held in memory at once.
COMPRESSED_READ_SIZE = 1 << 15


class TraceError(KmemsimError):
    """A trace that cannot be read: missing, empty, truncated or corrupt."""


def _describe(path: str) -> str:
    return "<stdin>" if path == "-" else path


def detect_compression(head: bytes) -> str:
    """'gzip', 'xz', 'zstd', 'bzip2' or 'plain' from the first bytes of a stream."""
    if head.startswith(_XZ_MAGIC):
        return "xz"
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    if head.startswith(_ZSTD_MAGIC):
        return "zstd"
    if head.startswith(_BZIP2_MAGIC) and len(head) >= 4 and head[3:4].isdigit():
        return "bzip2"
    return "plain"


def _open_binary(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    if os.path.isdir(path):
        raise TraceError(f"{path}: is a directory, not a trace file")
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise TraceError(f"{path}: No such file") from None
    except OSError as e:
        raise TraceError(f"{path}: {e.strerror}") from None


def _decompressed_blocks(raw: BinaryIO, path: str) -> Iterator[bytes]:
    """Blocks of the decompressed stream; raises TraceError if it is damaged."""
    first = raw.read(COMPRESSED_READ_SIZE)
    kind = detect_compression(first)
    if kind == "plain":
        if first:
            yield first
        while block := raw.read(READ_SIZE):
            yield block
        return
    decompressor = _decompressor(kind)
    data = first
    try:
        while True:
            while data:
                out = decompressor.decompress(data)
                if out:
                    yield out
                if decompressor.eof:
                    # Concatenated streams (xz -c a b, cat x.gz y.gz) go on.
                    data = decompressor.unused_data
                    if not data:
                        data = raw.read(COMPRESSED_READ_SIZE)
                        if not data:
                            return
                    decompressor = _decompressor(kind)
                else:
                    data = b""
            data = raw.read(COMPRESSED_READ_SIZE)
            if not data:
                break
    except (lzma.LZMAError, OSError, zlib.error, EOFError, _zstd_error()) as e:
        raise TraceError(f"{_describe(path)}: corrupt {kind} data ({e})") from None
    if not decompressor.eof:
        raise TraceError(f"{_describe(path)}: truncated {kind} file (the stream ends early)")


def _decompressor(kind: str) -> Any:
    """A decompressor object with decompress(), eof and unused_data."""
    if kind == "xz":
        return lzma.LZMADecompressor()
    if kind == "bzip2":
        return bz2.BZ2Decompressor()
    if kind == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj()
    return _GzipStream()


def _zstd_error() -> type[Exception]:
    import zstandard

    return zstandard.ZstdError


class _GzipStream:
    """zlib in gzip mode with the decompressor protocol of lzma/bz2 (eof, unused_data)."""

    def __init__(self) -> None:
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def decompress(self, data: bytes) -> bytes:
        return self._z.decompress(data)

    @property
    def eof(self) -> bool:
        return self._z.eof

    @property
    def unused_data(self) -> bytes:
        return self._z.unused_data


def _in_background(blocks: Iterator[bytes], depth: int = 8) -> Iterator[bytes]:
    """The same blocks, produced by a thread: decompressors release the GIL, so
    decompression runs on another core while the caller parses. Errors are
    raised in the caller, in order, after the blocks before them."""
    import queue
    import threading

    q: queue.Queue[tuple[int, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: tuple[int, Any]) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for block in blocks:
                if not put((0, block)):
                    return
            put((1, None))
        except BaseException as e:  # handed to the consumer
            put((2, e))

    thread = threading.Thread(target=produce, name="kmemsim-trace-reader", daemon=True)
    thread.start()
    try:
        while True:
            kind, item = q.get()
            if kind == 0:
                yield item
            elif kind == 1:
                return
            else:
                raise item
    finally:
        stop.set()
        thread.join()


class TraceSource:
    """One trace to read: a file (plain, .gz, .xz, .zst or .bz2, recognised by
    content) or "-" for standard input.

    `blocks()` yields the lines (without their newline) in lists of a few
    thousand, streamed in constant memory; afterwards `lines_read` is the
    number of lines and `missing_final_newline` says whether the last line
    was cut off before its newline (a file truncated mid-line). Raises
    TraceError for a missing file or a damaged compressed stream, after
    yielding every line before the damage.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.name = _describe(path)
        self.lines_read = 0
        self.missing_final_newline = False

    def blocks(self) -> Iterator[list[str]]:
        raw = _open_binary(self.path)
        try:
            rest = ""
            decode = codecs.getincrementaldecoder("utf-8")("replace").decode
            for block in _in_background(_decompressed_blocks(raw, self.path)):
                lines = (rest + decode(block)).split("\n")
                rest = lines.pop()
                self.lines_read += len(lines)
                yield lines
            rest += decode(b"", True)
            if rest:
                self.missing_final_newline = True
                self.lines_read += 1
                yield [rest]
        finally:
            if raw is not sys.stdin.buffer:
                raw.close()


def decompressed_blocks(path: str) -> Iterator[bytes]:
    """The bytes of a trace, decompressed as TraceSource reads them, in blocks
    (for measuring decompression alone); raises TraceError as TraceSource does."""
    raw = _open_binary(path)
    try:
        yield from _decompressed_blocks(raw, path)
    finally:
        if raw is not sys.stdin.buffer:
            raw.close()


def read_line_blocks(path: str) -> Iterator[list[str]]:
    """The lines of a trace in lists (see TraceSource)."""
    return TraceSource(path).blocks()


def read_lines(path: str) -> Iterator[str]:
    """The lines of a trace one by one (see TraceSource)."""
    for lines in TraceSource(path).blocks():
        yield from lines


__all__ = [
    "TraceError",
    "TraceSource",
    "decompressed_blocks",
    "detect_compression",
    "read_line_blocks",
    "read_lines",
]
