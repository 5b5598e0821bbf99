"""Trace sources: every compression, standard input, and damaged input."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import sys
from pathlib import Path

import pytest
import zstandard

from kmemsim.trace.source import TraceError, TraceSource, detect_compression, read_lines

LINES = [
    "            task-4429    [001] .....  9255.582695: kmem_cache_free: "
    "call_site=__fput+0x141/0x2a0 ptr=00000000f5e7f7d4 name=lsm_file_cache",
    "            task-4429    [001] .....  9255.582785: kmalloc: "
    "call_site=alloc_pipe_info+0x5d/0x230 "
    "ptr=00000000cfe7026a bytes_req=176 bytes_alloc=192 gfp_flags=GFP_KERNEL_ACCOUNT|__GFP_ZERO "
    "node=-1 accounted=true",
]
TEXT = ("\n".join(LINES) + "\n").encode()

COMPRESSORS = {
    "plain": lambda b: b,
    "gz": gzip.compress,
    "xz": lzma.compress,
    "zst": lambda b: zstandard.ZstdCompressor().compress(b),
    "bz2": bz2.compress,
}


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_every_compression_reads_back_the_same_lines(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"trace.{kind}"
    path.write_bytes(COMPRESSORS[kind](TEXT))
    assert list(read_lines(str(path))) == LINES


def test_compression_is_recognised_by_content_not_name(tmp_path: Path) -> None:
    path = tmp_path / "trace.txt"  # an xz file with a misleading name
    path.write_bytes(lzma.compress(TEXT))
    assert list(read_lines(str(path))) == LINES
    assert detect_compression(lzma.compress(b"x")) == "xz"
    assert detect_compression(gzip.compress(b"x")) == "gzip"
    assert detect_compression(b"task-1 [000]") == "plain"


def test_concatenated_streams_are_one_trace(tmp_path: Path) -> None:
    path = tmp_path / "two.gz"
    path.write_bytes(gzip.compress(TEXT) + gzip.compress(TEXT))
    assert list(read_lines(str(path))) == LINES + LINES


def test_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = io.TextIOWrapper(io.BytesIO(lzma.compress(TEXT)))
    monkeypatch.setattr(sys, "stdin", fake)
    source = TraceSource("-")
    assert [line for block in source.blocks() for line in block] == LINES
    assert source.name == "<stdin>"


def test_a_file_cut_mid_line_is_flagged(tmp_path: Path) -> None:
    path = tmp_path / "cut.txt"
    path.write_bytes(TEXT[:-20])
    source = TraceSource(str(path))
    lines = [line for block in source.blocks() for line in block]
    assert lines[-1] == LINES[-1][:-19]
    assert source.missing_final_newline


@pytest.mark.parametrize("kind", ["gz", "xz", "zst", "bz2"])
def test_a_truncated_compressed_file_is_a_trace_error(tmp_path: Path, kind: str) -> None:
    data = COMPRESSORS[kind](TEXT * 50)
    path = tmp_path / f"cut.{kind}"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(TraceError, match=r"truncated|corrupt"):
        list(read_lines(str(path)))


def test_corrupt_xz_is_a_trace_error(tmp_path: Path) -> None:
    data = bytearray(lzma.compress(TEXT * 50))
    data[40:60] = b"\xff" * 20
    path = tmp_path / "bad.xz"
    path.write_bytes(bytes(data))
    with pytest.raises(TraceError, match="corrupt"):
        list(read_lines(str(path)))


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="No such file"):
        list(read_lines(str(tmp_path / "nope.txt")))
    with pytest.raises(TraceError, match="directory"):
        list(read_lines(str(tmp_path)))


def test_binary_garbage_decodes_with_replacement(tmp_path: Path) -> None:
    path = tmp_path / "garbage.bin"
    path.write_bytes(bytes(range(256)) * 4 + b"\n")
    lines = list(read_lines(str(path)))
    assert lines and all(isinstance(x, str) for x in lines)


def test_empty_file_has_no_lines(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    source = TraceSource(str(path))
    assert [x for b in source.blocks() for x in b] == []
    assert source.lines_read == 0
