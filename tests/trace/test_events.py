"""Event decoding: the 6.18 ftrace and perf script formats, older kernels' spellings."""

from __future__ import annotations

import lzma
from pathlib import Path

import pytest

from kmemsim.trace import events as ev
from kmemsim.trace.events import BadLine, decode_kmalloc, split_line

FTRACE = (
    "            task-4429    [001] .....  9255.582785: kmalloc: "
    "call_site=alloc_pipe_info+0x5d/0x230 "
    "ptr=00000000cfe7026a bytes_req=176 bytes_alloc=192 gfp_flags=GFP_KERNEL_ACCOUNT|__GFP_ZERO "
    "node=-1 accounted=true"
)
PERF = (
    "            task 12256 [000] 10641.976447:              kmem:kmalloc: "
    "call_site=sched_setaffinity+0x10c ptr=0xffff888102415300 bytes_req=32 bytes_alloc=32 "
    "gfp_flags=GFP_KERNEL node=-1 accounted=false"
)
TRACE_CMD = (
    "            bash-1234  [000]  9255.582785: kmalloc:              (alloc_pipe_info+0x5d) "
    "call_site=ffffffff8123abcd ptr=0xffff888102415300 bytes_req=176 bytes_alloc=192 "
    "gfp_flags=GFP_KERNEL"
)


def test_ftrace_line() -> None:
    cpu, ts, name, text = split_line(FTRACE)
    assert (cpu, ts, name) == (1, "9255.582785", "kmalloc")
    assert decode_kmalloc(text) == (
        "alloc_pipe_info+0x5d/0x230",
        "00000000cfe7026a",
        176,
        192,
        "GFP_KERNEL_ACCOUNT|__GFP_ZERO",
    )


def test_perf_script_line() -> None:
    cpu, ts, name, text = split_line(PERF)
    assert (cpu, ts, name) == (0, "10641.976447", "kmalloc")
    assert decode_kmalloc(text)[1:4] == ("0xffff888102415300", 32, 32)


def test_trace_cmd_report_line_with_plugin_decoration() -> None:
    cpu, _ts, name, text = split_line(TRACE_CMD)
    assert (cpu, name) == (0, "kmalloc")
    assert decode_kmalloc(text) == (
        "ffffffff8123abcd",
        "0xffff888102415300",
        176,
        192,
        "GFP_KERNEL",
    )


def test_older_spellings_map_to_the_same_events() -> None:
    assert ev.EVENT_ALIASES["kmalloc_node"] == ev.KMALLOC
    assert ev.EVENT_ALIASES["kmem_cache_alloc_node"] == ev.KMEM_CACHE_ALLOC
    assert ev.EVENT_ALIASES["mm_page_free_direct"] == ev.MM_PAGE_FREE
    assert ev.EVENT_ALIASES["mm_pagevec_free"] == ev.MM_PAGE_FREE_BATCHED
    # 3.x: decimal pfn, hex call_site, no name in kmem_cache_alloc, cold= in pagevec_free.
    assert ev.DECODERS["mm_pagevec_free"]("page=ffffea0001234567 pfn=74565 order=0 cold=0") == (
        74565,
    )
    assert ev.DECODERS["mm_page_free_direct"]("page=ffffea0001234567 pfn=74565 order=2") == (
        74565,
        2,
    )
    assert ev.decode_kmem_cache_alloc(
        "call_site=ffffffff81234567 ptr=ffff880012345678 bytes_req=104 bytes_alloc=104 "
        "gfp_flags=GFP_NOFS|__GFP_ZERO"
    ) == ("ffffffff81234567", "ffff880012345678", None, 104, 104, "GFP_NOFS|__GFP_ZERO")
    assert ev.decode_kmalloc(
        "call_site=ffffffff81234567 ptr=ffff880012345678 bytes_req=30 bytes_alloc=32 "
        "gfp_flags=GFP_KERNEL node=0"
    ) == ("ffffffff81234567", "ffff880012345678", 30, 32, "GFP_KERNEL")


def test_page_events() -> None:
    assert ev.decode_mm_page_alloc(
        "page=0000000008e3026d pfn=0x114c6c order=0 migratetype=1 "
        "gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP"
    ) == (0x114C6C, 0, 1, "GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP")
    # A failed allocation prints a NULL page and pfn 0.
    assert (
        ev.decode_mm_page_alloc(
            "page=0000000000000000 pfn=0x0 order=3 migratetype=0 gfp_flags=GFP_ATOMIC"
        )[0]
        == -1
    )
    assert ev.decode_mm_page_free("page=000000009ba0dbd3 pfn=0x10a31f order=0") == (0x10A31F, 0)
    assert ev.decode_mm_page_free_batched("page=000000009ba0dbd3 pfn=0x10a31f order=0") == (
        0x10A31F,
    )


@pytest.mark.parametrize(
    "text, what",
    [
        ("call_site=f+0x1/0x2 ptr=00000000cfe7026a bytes_req=176", "bytes_alloc"),
        (
            "call_site=f+0x1/0x2 ptr=00000000cfe7026a bytes_req=x bytes_alloc=1 gfp_flags=none",
            "not a number",
        ),
    ],
)
def test_malformed_fields_say_what_was_expected(text: str, what: str) -> None:
    with pytest.raises(BadLine, match=what) as e:
        decode_kmalloc(text)
    assert "expected" in str(e.value)


def test_malformed_header() -> None:
    with pytest.raises(BadLine, match="expected"):
        split_line("garbage without the separators")
    with pytest.raises(BadLine, match="CPU"):
        split_line("task-1 [abc] 1.0: kfree: call_site=x ptr=0")


def test_iter_events_on_the_shared_trace(shared_data: Path) -> None:
    counts: dict[str, int] = {}
    path = shared_data / "trace-tar-extract.txt.xz"
    for event in ev.iter_events(str(path)):
        counts[event.name] = counts.get(event.name, 0) + 1
    # TRACES.md: the counts per event type of trace-tar-extract.
    assert counts == {
        "kmalloc": 5330,
        "kfree": 9513,
        "kmem_cache_alloc": 38683,
        "kmem_cache_free": 32851,
        "mm_page_alloc": 22930,
        "mm_page_free": 18496,
        "mm_page_free_batched": 18176,
    }


def test_iter_events_reports_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.xz"
    path.write_bytes(lzma.compress((FTRACE + "\n" + FTRACE[:120] + "\n").encode()))
    with pytest.raises(BadLine, match=r"bad\.xz:2: kmalloc: missing"):
        list(ev.iter_events(str(path)))


def test_iter_events_stops_at_a_line_cut_before_its_newline(tmp_path: Path) -> None:
    path = tmp_path / "cut.txt"
    path.write_text(FTRACE + "\n" + FTRACE[:-30])
    events = ev.iter_events(str(path))
    assert next(events).lineno == 1
    with pytest.raises(BadLine, match=r"cut\.txt:2: the file ends in the middle of a line"):
        next(events)
