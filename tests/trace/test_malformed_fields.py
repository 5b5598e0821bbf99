"""Trace fields no 6.18 kernel can print are malformed lines: reported with
file:line and what was expected, counted, never replayed (issue 7, item 8)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import kmemsim
from kmemsim.cli.main import _register_tools, cli
from kmemsim.trace import events as ev
from kmemsim.trace.replay import Replay

HEAD = "            task-4429    [001] .....  9255.582785: "
KMALLOC = (
    "kmalloc: call_site=alloc_pipe_info+0x5d/0x230 ptr=00000000cfe7026a bytes_req=176 "
    "bytes_alloc=192 gfp_flags=GFP_KERNEL node=-1 accounted=false"
)
CACHE = (
    "kmem_cache_alloc: call_site=f+0x1/0x2 ptr=0000000000cb3ea8 name=vm_area_struct "
    "bytes_req=176 bytes_alloc=192 gfp_flags=GFP_KERNEL node=-1 accounted=false"
)
PAGE = (
    "mm_page_alloc: page=0000000008e3026d pfn=0x114c6c order=0 migratetype=1 "
    "gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_COMP"
)
FREE = "mm_page_free: page=0000000008e3026d pfn=0x114c6c order=0"

PROBES = [
    (HEAD + PAGE.replace("order=0", "order=-3"), "order=-3 is outside 0..10 (MAX_PAGE_ORDER)"),
    (HEAD + PAGE.replace("order=0", "order=99"), "order=99 is outside 0..10 (MAX_PAGE_ORDER)"),
    (HEAD + FREE.replace("order=0", "order=11"), "order=11 is outside 0..10 (MAX_PAGE_ORDER)"),
    (HEAD.replace("[001]", "[xyz]") + KMALLOC, "expected a CPU number in [xyz]"),
    (HEAD.replace("[001]", "[-1]") + KMALLOC, "expected a CPU number in [-1]"),
    (HEAD + KMALLOC.replace("ptr=00000000cfe7026a", "ptr=zzzz"), "ptr='zzzz' is not a pointer"),
    (HEAD + CACHE.replace("ptr=0000000000cb3ea8", "ptr=zzzz"), "ptr='zzzz' is not a pointer"),
    (
        HEAD + "kfree: call_site=f+0x1/0x2 ptr=zzzz",
        "kfree: ptr='zzzz' is not a pointer (hexadecimal)",
    ),
    (HEAD.replace("9255.582785", "9255.58x785") + KMALLOC, "expected a timestamp"),
    (HEAD.replace("9255.582785", "soon") + KMALLOC, "expected a timestamp"),
    (HEAD + PAGE.replace("migratetype=1", "migratetype=42"), "migratetype=42 is outside 0..4"),
    (HEAD + PAGE.replace("migratetype=1", "migratetype=-1"), "migratetype=-1 is outside 0..4"),
    (HEAD + KMALLOC.replace("bytes_req=176", "bytes_req=-64"), "bytes_req=-64 is negative"),
    (
        HEAD + KMALLOC.replace("bytes_req=176", "bytes_req=99999999999"),
        "bytes_req=99999999999 is above KMALLOC_MAX_SIZE (4194304)",
    ),
    (
        HEAD + CACHE.replace("bytes_alloc=192", "bytes_alloc=-8"),
        "bytes_alloc=-8 is negative",
    ),
    (HEAD + CACHE.replace("name=vm_area_struct", "name="), "name= is empty"),
    (
        HEAD + "kmem_cache_free: call_site=f+0x1/0x2 ptr=0000000000cb3ea8 name=",
        "name= is empty",
    ),
    (HEAD + PAGE.replace("pfn=0x114c6c", "pfn=0x-5"), "pfn='0x-5' is not a number"),
]


@pytest.mark.parametrize(("line", "message"), PROBES)
def test_a_field_no_kernel_prints_is_a_malformed_line(
    tmp_path: Path, line: str, message: str
) -> None:
    path = tmp_path / "probe.txt"
    path.write_text(HEAD + KMALLOC.replace("cfe7026a", "cfe70000") + "\n" + line + "\n")
    k = kmemsim.boot("linux-6.18-x86_64")
    r = Replay(k, verify=True).run([str(path)])
    assert r.malformed == 1
    assert r.malformed_examples[0].startswith(f"{path}:2: ")
    assert message in r.malformed_examples[0]
    # Only the good first line was replayed.
    assert r.events == 1
    assert list(r.objects) == [0xCFE70000]  # traced pointers are keyed by value
    assert r.pages == {}
    assert r.stats.slab_alloc_failures == 0
    # iter_events() reports it the same way.
    with pytest.raises(ev.BadLine, match=r"probe.txt:2: "):
        list(ev.iter_events(str(path)))


@pytest.mark.parametrize(("line", "message"), PROBES[:6])
def test_the_cli_exits_2_with_file_line_and_no_traceback(
    tmp_path: Path, line: str, message: str
) -> None:
    _register_tools()
    path = tmp_path / "probe.txt"
    path.write_text(line + "\n")
    result = CliRunner().invoke(cli, ["replay", str(path)])
    assert result.exit_code == 2
    assert "Traceback" not in result.stdout + result.stderr
    assert f"{path}:1: " in result.stderr and message in result.stderr


def test_a_failed_huge_kmalloc_is_a_traced_failure_not_a_malformed_line(tmp_path: Path) -> None:
    """__kmalloc_large_noprof() traces a failed kmalloc(size) with ptr=NULL and the
    size asked for, whatever it was."""
    path = tmp_path / "huge.txt"
    path.write_text(
        HEAD
        + KMALLOC.replace("bytes_req=176", "bytes_req=99999999999")
        .replace("bytes_alloc=192", "bytes_alloc=137438953472")
        .replace("ptr=00000000cfe7026a", "ptr=0000000000000000")
        + "\n"
    )
    r = Replay(kmemsim.boot("linux-6.18-x86_64")).run([str(path)])
    assert r.malformed == 0 and r.quirks == {"traced_alloc_failure": 1}
    assert r.stats.slab_alloc_failures == 1


def test_a_larger_configured_max_page_order_accepts_its_orders(tmp_path: Path) -> None:
    path = tmp_path / "order11.txt"
    path.write_text(HEAD + PAGE.replace("order=0", "order=11") + "\n")
    k = kmemsim.boot("x86_64", mem="1G", config={"MAX_PAGE_ORDER": 11})
    r = Replay(k, verify=True).run([str(path)])
    assert r.malformed == 0 and r.events == 1


def test_the_bounds_are_the_captured_kernels(shared_data: Path) -> None:
    """/proc/pagetypeinfo of the 6.18 machine: orders 0..10 (MAX_PAGE_ORDER) and five
    migrate types per zone (enum migratetype with MEMORY_ISOLATION, without CMA);
    KMALLOC_MAX_SIZE is PAGE_SIZE << MAX_PAGE_ORDER."""
    lines = (shared_data / "proc-pagetypeinfo.txt").read_text().splitlines()
    header = next(line for line in lines if line.startswith("Free pages count per migrate"))
    assert int(header.split()[-1]) == ev.MAX_PAGE_ORDER
    types = {line.split("type")[1].split()[0] for line in lines if ", zone      DMA, type" in line}
    assert len(types) == ev.TRACE_MIGRATE_TYPES
    assert ev.TRACE_KMALLOC_MAX_SIZE == 4096 << ev.MAX_PAGE_ORDER
