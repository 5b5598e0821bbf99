"""Booted machines and helpers for the page allocator tests (imported as tests.mm.support).

Every kernel here is a real boot (`kmemsim.boot`): a small x86_64 PC boots in
a few tens of milliseconds. Its allocator is therefore in the state boot left
it (the kernel image and the boot allocations in use, some pages on CPU 0's
per-CPU lists), and a test that needs a particular starting point makes it
with kernel operations (drain_all_pages(), another CPU's untouched lists, a
block taken off the free lists), or computes its expectation from that state.
"""

from __future__ import annotations

import kmemsim
from kmemsim.init.main import Kernel
from kmemsim.trace.follow_pfn import take_free_block


def pc_kernel(mem_mib: int = 256, cpus: int = 2, config: dict[str, object] | None = None) -> Kernel:
    """A booted x86_64 PC of `mem_mib` MiB: DMA below 16 MiB, DMA32 above (x86_64 profile)."""
    return kmemsim.boot("x86_64", mem=f"{mem_mib}M", cpus=cpus, config=config)


def free_pages_memory(start: int, end: int, max_order: int) -> list[tuple[int, int]]:
    """The (pfn, order) blocks __free_pages_memory() (mm/memblock.c) makes of [start, end).

    Each block is the largest that is aligned at its start, at most MAX_PAGE_ORDER,
    and ends by `end`: order = min(MAX_PAGE_ORDER, __ffs(start)), lowered while
    start + 2**order passes end."""
    blocks = []
    while start < end:
        order = min(max_order, (start & -start).bit_length() - 1 if start else max_order)
        while start + (1 << order) > end:
            order -= 1
        blocks.append((start, order))
        start += 1 << order
    return blocks


def memblock_free_pfns(k: Kernel, zone_start: int, zone_end: int) -> list[tuple[int, int]]:
    """The pfn ranges memblock_free_all() hands over inside [zone_start, zone_end):
    memblock.memory minus memblock.reserved (for_each_free_mem_range), in whole frames."""
    shift = k.direct_map.page_shift
    mask = (1 << shift) - 1
    out = []
    for base, end in k.memblock.free_ranges():
        s, e = max((base + mask) >> shift, zone_start), min(end >> shift, zone_end)
        if s < e:
            out.append((s, e))
    return out


def reserve_free_block(k: Kernel, pfn: int, order: int) -> None:
    """Take the free block at `pfn` off the allocator as if memblock had kept it reserved
    (not on the free lists, not a page in use, not counted in managed_pages), so that a
    test can hand it over again as memblock_free_all() does (__free_pages_core())."""
    pa = k.page_alloc
    zb = pa.page_zone(pfn)
    assert zb is not None and take_free_block(pa, pfn, order, 0) is not None, hex(pfn)
    del pa.pages[pfn]
    zb.zone.managed_pages -= 1 << order


def free_lists(k: Kernel) -> dict[tuple[str, int, int], tuple[int, ...]]:
    """Every free list's content, in list order."""
    out = {}
    for zb in k.page_alloc.buddies:
        for order, lists in enumerate(zb.free_list):
            for mt, lst in enumerate(lists):
                if lst:
                    out[(zb.zone.name, order, mt)] = tuple(lst)
    return out


def free_blocks(k: Kernel) -> set[tuple[str, int, int]]:
    """The free buddy blocks as (zone, order, pfn), whatever their migrate type."""
    return {
        (zb.zone.name, order, pfn)
        for zb in k.page_alloc.buddies
        for order, lists in enumerate(zb.free_list)
        for lst in lists
        for pfn in lst
    }
