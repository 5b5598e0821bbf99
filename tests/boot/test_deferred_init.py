"""CONFIG_DEFERRED_STRUCT_PAGE_INIT (mm/mm_init.c): one section early, the rest later."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import kmemsim
from kmemsim.include.linux.mmzone import ULONG_MAX, ZoneType
from kmemsim.init.main import Kernel
from kmemsim.mm.memblock import memblock_free_all
from kmemsim.mm.page_alloc import build_all_zonelists

Setup = Callable[..., Kernel]
SECTION = 1 << (27 - 12)  # PAGES_PER_SECTION on x86_64
GFP_KERNEL = int(kmemsim.GFP_KERNEL)


def _memory_line(text: str) -> re.Match[str]:
    m = re.search(r"Memory: (\d+)K/(\d+)K available \(.*, (\d+)K reserved", text)
    assert m, text
    return m


def test_memory_line_counts_only_the_early_initialised_memory(shared_data: Path) -> None:
    """The captured 6.18 machine printed 3218236K free of 24 GiB: DMA, DMA32 and one
    section of Normal; the deferred 17 GiB arrive after the line."""
    k = kmemsim.boot("linux-6.18-x86_64")
    ours = _memory_line(k.dmesg())
    theirs = _memory_line((shared_data / "dmesg-memory.txt").read_text())
    assert ours.group(2) == theirs.group(2)
    free, real_free = int(ours.group(1)), int(theirs.group(1))
    # 116K (29 pages) above the real figure. docs/differences.md says what the model
    # does not allocate before the line, and why the figure moves in pcp-refill steps
    # (about 224 pages here), so that it cannot be pinned closer than that from the capture.
    assert 0 <= free - real_free <= 128, (free, real_free)
    reserved, real_reserved = int(ours.group(3)), int(theirs.group(3))
    # 8K short: two pages of small memblock allocations above NODE_DATA (command lines,
    # e820 and IOAPIC resources, ...) that the model does not make.
    assert 0 <= real_reserved - reserved <= 8


def test_deferred_pages_arrive_when_the_pgdatinit_thread_finishes() -> None:
    k = kmemsim.boot("linux-6.18-x86_64")
    log = k.dmesg()
    memory = log.index("Memory: ")
    m = re.search(r"\[\s*(\d+\.\d+)\] node 0 deferred pages initialised in (\d+)ms", log)
    assert m and m.start() > memory
    # jiffies_to_msecs() of whole ticks: multiples of 4 ms at HZ=250.
    assert int(m.group(2)) % 4 == 0 and int(m.group(2)) > 0
    assert k.pgdat.first_deferred_pfn == ULONG_MAX and k.pgdat.nr_deferred_pages == 0
    assert not k.page_alloc.deferred_pages
    # The zones end up managing what they manage without deferral.
    off = kmemsim.boot("linux-6.18-x86_64", config={"DEFERRED_STRUCT_PAGE_INIT": False})
    assert [z.managed_pages for z in k.pgdat.zones] == [z.managed_pages for z in off.pgdat.zones]
    assert "deferred pages" not in off.dmesg()
    meminfo = k.cat("/proc/meminfo")
    total_kb = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))  # type: ignore[union-attr]
    assert total_kb == k.page_alloc.totalram_pages() * 4


def test_totalram_counts_the_deferred_pages_before_they_arrive(setup_only: Setup) -> None:
    """memblock_free_all() adds every free page to totalram_pages; the reserved figure of the
    Memory: line does not depend on deferral."""
    on = setup_only("linux-6.18-x86_64")
    off = setup_only("linux-6.18-x86_64", DEFERRED_STRUCT_PAGE_INIT=False)
    for k in (on, off):
        build_all_zonelists(k)
        memblock_free_all(k)
    assert on.page_alloc.totalram_pages() == off.page_alloc.totalram_pages()
    assert on.page_alloc.nr_free_pages() < off.page_alloc.nr_free_pages() // 5
    assert on.pgdat.nr_deferred_pages > 4_000_000


def test_a_zone_short_of_pages_grows_a_section_at_a_time(setup_only: Setup) -> None:
    """get_page_from_freelist(): a failed watermark on a zone with deferred pages calls
    deferred_grow_zone(), which initialises whole sections, instead of falling back to DMA32."""
    k = setup_only("x86_64", mem="8G", DEFERRED_STRUCT_PAGE_INIT=True)
    build_all_zonelists(k)
    memblock_free_all(k)
    normal = k.pgdat.zones[ZoneType.NORMAL]
    assert normal.managed_pages == SECTION
    pfns = []
    for _ in range(SECTION + 100):
        page = k.alloc_pages(GFP_KERNEL, 0)
        assert page is not None
        pfns.append(page.pfn)
    assert min(pfns) >= normal.zone_start_pfn  # none came from DMA32
    assert normal.managed_pages == 2 * SECTION
    assert k.pgdat.first_deferred_pfn == normal.zone_start_pfn + 2 * SECTION
    # An order-10 request grows by one section too (ALIGN(1 << order, PAGES_PER_SECTION)).
    before = normal.managed_pages
    while k.alloc_pages(GFP_KERNEL, 10) is not None and normal.managed_pages == before:
        pass
    assert normal.managed_pages == before + SECTION


def test_deferral_is_off_by_default_and_on_for_the_captured_kernel() -> None:
    assert not kmemsim.boot("x86_64", mem="1G").config["DEFERRED_STRUCT_PAGE_INIT"]
    k = kmemsim.boot("x86_64", mem="1G")
    assert "deferred pages initialised" not in k.dmesg()
