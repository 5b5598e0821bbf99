"""The page allocator on the 32-bit profiles: HighMem, pageblock order, no NUMA lines."""

from __future__ import annotations

import kmemsim
from kmemsim import GFP_HIGHUSER, GFP_KERNEL
from kmemsim.include.linux.mmzone import ZoneType


def test_i386_highuser_pages_come_from_highmem_and_have_no_address() -> None:
    k = kmemsim.boot("i386", mem="2G")
    pa = k.page_alloc
    high = pa.zone_by_type[ZoneType.HIGHMEM]
    page = k.alloc_pages(GFP_HIGHUSER, 0)
    assert page is not None and high.zone.spans(page.pfn)
    assert k.page_address(page) == 0
    # __get_free_pages() drops __GFP_HIGHMEM: it must return a mapped address.
    addr = k.get_free_pages(GFP_HIGHUSER, 0)
    assert addr and k.virt_to_page(addr).pfn < k.direct_map.max_low_pfn
    # GFP_KERNEL never gets HighMem.
    normal = k.alloc_pages(GFP_KERNEL, 0)
    assert normal is not None and not high.zone.spans(normal.pfn)


def test_i386_has_ten_order_pageblocks_and_no_numa_lines() -> None:
    k = kmemsim.boot("i386", mem="2G")
    assert k.cat("/proc/pagetypeinfo").startswith("Page block order: 10\nPages per block:  1024\n")
    zoneinfo = k.cat("/proc/zoneinfo")
    assert "Node 0, zone  HighMem" in zoneinfo and "numa_hit" not in zoneinfo
    assert "Device" not in zoneinfo
    assert "Fallback order" not in k.dmesg() and "Policy zone" not in k.dmesg()
    vmstat = k.cat("/proc/vmstat")
    assert "pgalloc_high " in vmstat and "pgalloc_dma32" not in vmstat
    # HighMem's min watermark is managed/1024 clamped to 32..128 pages.
    high = k.page_alloc.zone_by_type[ZoneType.HIGHMEM]
    assert high.watermark[0] == min(max(high.zone.managed_pages // 1024, 32), 128)


def test_pagetypeinfo_caps_long_free_lists_at_100000() -> None:
    k = kmemsim.boot("x86_64", mem="1T")
    line = next(
        x
        for x in k.cat("/proc/pagetypeinfo").splitlines()
        if x.startswith("Node    0, zone   Normal, type      Movable")
    )
    assert line.endswith(">100000 ")
