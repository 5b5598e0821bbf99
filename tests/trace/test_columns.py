"""The columnar front end: the integer columns hold exactly what the text path
reads, lines in doubt travel as text, and the decoding process behaves as a
trace source (order, errors, standard input, no process left behind)."""

from __future__ import annotations

import lzma
import os
from pathlib import Path
from typing import Any

import pytest

import kmemsim
from kmemsim.trace import columns as col
from kmemsim.trace import events as ev
from kmemsim.trace.columns import DecodedTrace, LineDecoder, pointer_value
from kmemsim.trace.replay import Replay
from kmemsim.trace.report import build_report
from kmemsim.trace.source import TraceError, TraceSource

HEAD = "            task-4429    [001] .....  9255.582785: "
KMALLOC = (
    "kmalloc: call_site=alloc_pipe_info+0x5d/0x230 ptr=00000000cfe7026a bytes_req=176 "
    "bytes_alloc=192 gfp_flags=GFP_KERNEL_ACCOUNT|__GFP_ZERO node=-1 accounted=true"
)
CACHE = (
    "kmem_cache_alloc: call_site=vm_area_alloc+0x1e/0xb0 ptr=0000000079a1e8b0 "
    "name=vm_area_struct bytes_req=176 bytes_alloc=176 gfp_flags=GFP_KERNEL node=-1 "
    "accounted=false"
)
PAGE = (
    "mm_page_alloc: page=0000000008e3026d pfn=0x114c6c order=0 migratetype=1 "
    "gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP"
)
PERF_HEAD = "            task 12256 [000] 10641.976447:              kmem:"


def rows(chunk: col.Chunk) -> list[tuple[Any, ...]]:
    return list(zip(*chunk.columns, chunk.timestamps, strict=True))


def expected_values(name: str, text: str) -> tuple[Any, ...]:
    """What the text path reads from an event's fields, as the columns hold it."""
    v = ev.DECODERS[name](text)
    canonical = ev.EVENT_ALIASES[name]
    if canonical == ev.KMALLOC:
        return (pointer_value(v[1]), v[0], v[2], v[3], v[4], None)
    if canonical == ev.KMEM_CACHE_ALLOC:
        return (pointer_value(v[1]), v[0], v[3], v[4], v[5], v[2])
    if canonical == ev.KFREE:
        return (pointer_value(v[1]), None, 0, 0, None, None)
    if canonical == ev.KMEM_CACHE_FREE:
        return (pointer_value(v[1]), None, 0, 0, None, v[2])
    if canonical == ev.MM_PAGE_ALLOC:
        return (v[0], None, v[1], v[2], v[3], None)
    if canonical == ev.MM_PAGE_FREE:
        return (v[0], None, v[1], 0, None, None)
    return (v[0], None, 0, 0, None, None)


def decoded_values(kind: int, row: tuple[Any, ...], tables: list[list[str]]) -> tuple[Any, ...]:
    _, _, a, b, c, d, e, f, _ = row
    sites, names, gfps, _ = tables
    with_site = kind in (col.K_KMALLOC, col.K_KMEM_CACHE_ALLOC)
    with_gfp = kind in (col.K_KMALLOC, col.K_KMEM_CACHE_ALLOC, col.K_MM_PAGE_ALLOC)
    with_name = kind in (col.K_KMEM_CACHE_ALLOC, col.K_KMEM_CACHE_FREE)
    return (
        a,
        sites[b] if with_site else None,
        c,
        d,
        gfps[e] if with_gfp else None,
        names[f] if with_name else None,
    )


@pytest.mark.parametrize(
    "trace",
    [
        "trace-python-import.txt.xz",
        "perf-python-import.script.txt.xz",
        "trace-tar-extract.txt.xz",
        "trace-gcc-build.txt.xz",
    ],
)
def test_every_event_row_holds_what_the_text_path_reads(shared_data: Path, trace: str) -> None:
    """Each line of the shared traces, decoded into columns, against the text
    decoders of trace/events.py (split_line and DECODERS) on the same line."""
    decoder = LineDecoder()
    tables: list[list[str]] = [[], [], [], []]
    lineno = 0
    checked = raw_rows = 0
    for block in TraceSource(str(shared_data / trace)).blocks():
        chunk = decoder.decode(block, lineno)
        for table, new in zip(tables, chunk.new_strings, strict=True):
            table += new
        assert chunk.first_lineno == lineno
        for line, row in zip(block, rows(chunk), strict=True):
            kind = row[0]
            if kind == col.RAW:
                # Only lines the fast path must not read: traced failures here.
                assert chunk.raw[row[2]] == line
                cpu, ts, name, text = ev.split_line(line)
                values = ev.DECODERS[name](text)
                assert values[0] == -1 or ev.NULL_POINTERS.intersection(values), line
                raw_rows += 1
                continue
            cpu, ts, name, text = ev.split_line(line)
            assert col.KIND_OF_EVENT[ev.EVENT_ALIASES[name]] == kind, line
            assert (row[1], row[8]) == (cpu, ts), line
            assert decoded_values(kind, row, tables) == expected_values(name, text), line
            checked += 1
        lineno += len(block)
    assert checked > 100_000
    assert raw_rows < checked // 1000


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (HEAD + KMALLOC.replace("ptr=00000000cfe7026a", "ptr=0000000000000000"), "traced failure"),
        (HEAD + KMALLOC.replace("cfe7026a", "CFE7026A"), "not how %p prints"),
        (HEAD + KMALLOC.replace("ptr=00000000cfe7026a", "ptr=0x00cfe7026a"), "padded 0x"),
        (HEAD + KMALLOC.replace("ptr=00000000cfe7026a", "ptr=cfe7026a"), "8 digits"),
        (HEAD + KMALLOC.replace("bytes_req=176", "bytes_req=-1"), "negative size"),
        (HEAD + KMALLOC.replace("bytes_req=176", "bytes_req=4194305"), "beyond KMALLOC_MAX_SIZE"),
        (HEAD + KMALLOC.replace("bytes_alloc=", "bytes_alloc_="), "field name"),
        (HEAD + KMALLOC.replace("gfp_flags=GFP_KERNEL_ACCOUNT|__GFP_ZERO", "gfp_flags="), "gfp"),
        (HEAD + CACHE.replace("name=vm_area_struct", "name="), "empty name"),
        (HEAD + CACHE.replace(" name=vm_area_struct", ""), "pre-6.0 layout"),
        (HEAD + PAGE.replace("order=0", "order=11"), "order beyond MAX_PAGE_ORDER"),
        (HEAD + PAGE.replace("migratetype=1", "migratetype=5"), "no such migratetype"),
        (HEAD + PAGE.replace("pfn=0x114c6c", "pfn=0x0"), "pfn 0"),
        (HEAD + PAGE.replace("pfn=0x114c6c", "pfn=0x-5"), "negative pfn"),
        (HEAD + "kfree: call_site=f+0x1/0x2 ptr=0000000000cb3ea8 extra=1", "extra field"),
        (HEAD + "mm_page_free_batched: page=0000000008e3026d pfn=0x114c6c order=1", "order"),
        (HEAD.replace("[001]", "[1x]") + KMALLOC, "CPU"),
        (HEAD.replace("9255.582785", "9255.58.2785") + KMALLOC, "timestamp"),
        (HEAD + "kmalloc!: call_site=f", "event name"),
        ("# tracer: nop", "header"),
        ("CPU:0 [LOST 12 EVENTS]", "lost events"),
        ("", "blank"),
    ],
)
def test_lines_in_doubt_go_as_text(line: str, why: str) -> None:
    chunk = LineDecoder().decode([line], 41)
    # A line with a header keeps its timestamp word (last_timestamp may be it).
    parts = line.split(": ", 2)
    stamp = parts[0][parts[0].rfind(" ") + 1 :] if len(parts) == 3 else None
    assert rows(chunk) == [(col.RAW, 0, 0, 0, 0, 0, 0, 0, stamp)], why
    assert chunk.raw == [line]


def test_other_rows() -> None:
    decoder = LineDecoder()
    chunk = decoder.decode(
        [
            HEAD + "sched_switch: prev_comm=a prev_pid=1",
            PERF_HEAD.replace(" [000]", "") + "kfree: call_site=g+0x2 ptr=0xffff888102415300",
            PERF_HEAD + "kmem_cache_free: call_site=g+0x2 ptr=0x0 name=filp",
            HEAD + "kfree: call_site=f+0x1/0x2 ptr=0000000000000000",
        ],
        0,
    )
    assert rows(chunk) == [
        (col.K_UNKNOWN, 1, 0, 0, 0, 0, 0, 0, "9255.582785"),
        (col.K_KFREE, col.NO_CPU_COLUMN, 0xFFFF888102415300, 0, 0, 0, 0, 0, "10641.976447"),
        (col.K_KMEM_CACHE_FREE, 0, 0, 0, 0, 0, 0, 0, "10641.976447"),
        (col.K_KFREE, 1, 0, 0, 0, 0, 0, 0, "9255.582785"),
    ]
    assert chunk.new_strings == ([], ["filp"], [], ["sched_switch"])
    # The tables go on from one chunk to the next: only new strings are sent.
    again = decoder.decode([PERF_HEAD + "kmem_cache_free: call_site=g ptr=0x0 name=filp"], 4)
    assert again.new_strings == ([], [], [], []) and list(again.columns[7]) == [0]
    cut = decoder.decode([HEAD + "kmal"], 5, truncated=True)
    assert rows(cut) == [(col.TRUNCATED, 0, 0, 0, 0, 0, 0, 0, None)]


def test_pointer_keys() -> None:
    assert pointer_value("00000000cfe7026a") == 0xCFE7026A
    assert pointer_value("0xffff888102415300") == 0xFFFF888102415300
    assert [pointer_value(p) for p in ("0000000000000000", "0x0", "(null)")] == [0, 0, 0]
    assert [pointer_value(p) for p in ("0x0012", "CFE7026A", "zz", "", "+000000000000001")] == [
        -1
    ] * 5
    # A spelling the columns do not hold keeps its text: never equal to a value.
    assert col.pointer_key("000000000000001A") == "000000000000001A"


def test_a_chunk_survives_the_pipe_format() -> None:
    chunk = LineDecoder().decode([HEAD + KMALLOC, HEAD + CACHE, "junk", HEAD + PAGE], 7)
    back = col.unpack_chunk(col.pack_chunk(chunk))
    assert back.first_lineno == 7
    assert [list(c) for c in back.columns] == [list(c) for c in chunk.columns]
    assert list(back.timestamps) == list(chunk.timestamps)
    assert (back.raw, back.new_strings) == (chunk.raw, chunk.new_strings)


def _chunks(path: str, process: bool) -> tuple[list[tuple[Any, ...]], int]:
    trace = DecodedTrace(path, process=process)
    out = [r for chunk in trace.chunks() for r in rows(chunk)]
    return out, trace.lines_read


def test_the_process_gives_what_decoding_here_gives(tmp_path: Path) -> None:
    lines = [HEAD + KMALLOC, "# header", HEAD + CACHE, HEAD + PAGE] * 5000
    path = tmp_path / "t.txt.xz"
    path.write_bytes(lzma.compress(("\n".join(lines) + "\n").encode()))
    here, n_here = _chunks(str(path), process=False)
    there, n_there = _chunks(str(path), process=True)
    assert here == there and n_here == n_there == 20_000


def test_a_damaged_stream_is_a_trace_error_after_the_lines_before_it(tmp_path: Path) -> None:
    data = lzma.compress(("\n".join([HEAD + KMALLOC] * 50_000) + "\n").encode())
    path = tmp_path / "cut.xz"
    path.write_bytes(data[: len(data) // 2])
    trace = DecodedTrace(str(path))
    got = 0
    with pytest.raises(TraceError, match="truncated xz"):
        for chunk in trace.chunks():
            got += len(chunk.columns[0])
    assert 0 < got < 50_000


def test_no_decoding_process_is_left_behind(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text((HEAD + KMALLOC + "\n") * 200_000)
    trace = DecodedTrace(str(path))
    pid = trace._pid
    assert pid
    next(trace.chunks())  # a first chunk, then the consumer gives up
    trace.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # stopped and collected
    finished = DecodedTrace(str(path))
    pid = finished._pid
    assert sum(len(c.columns[0]) for c in finished.chunks()) == 200_000
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_replay_through_the_process_equals_replay_decoded_here(shared_data: Path) -> None:
    path = str(shared_data / "trace-tar-extract.txt.xz")
    reports = []
    for process in (True, False):
        r = Replay(kmemsim.boot("linux-6.18-x86_64"), verify=True)
        r.run([DecodedTrace(path, process=process)])
        report = build_report(r)
        for key in ("elapsed_seconds", "events_per_second"):
            report.pop(key, None)
        reports.append(report)
    assert reports[0] == reports[1]
    assert reports[0]["events"] == 145_979
