"""Hand-built kernels for the page allocator tests (imported as tests.mm.support).

`small_kernel()` builds a node with given zone spans and RAM ranges, runs the
allocator's boot steps (PageAllocator, build_all_zonelists, memblock_free_all
of the free ranges, init_per_zone_wmark_min, /proc files) and returns it, so
the allocator can be tested on layouts of real machines without their profile.
"""

from __future__ import annotations

from types import SimpleNamespace

from kmemsim.arch.memory import DirectMap
from kmemsim.arch.x86.mm.fault import x86_kernel_fault
from kmemsim.hw.physmem import PhysicalMemory
from kmemsim.include.linux.export import export_symbols
from kmemsim.include.linux.mmzone import PglistData, Zone, ZoneType
from kmemsim.init.config import KernelConfig
from kmemsim.init.main import Kernel
from kmemsim.kernel.sched.core import ExecContext
from kmemsim.mm.kernel_as import KernelAddressSpace
from kmemsim.mm.page_alloc import PageAllocator, build_all_zonelists, init_per_zone_wmark_min
from kmemsim.mm.vmstat import proc_vmstat_init

PAGE_OFFSET_64 = 0xFFFF888000000000


def free_range(k: Kernel, start: int, end: int) -> None:
    """__free_pages_memory(): the largest aligned blocks of at most MAX_PAGE_ORDER."""
    max_order = k.page_alloc.max_order
    while start < end:
        order = min(max_order, (start & -start).bit_length() - 1 if start else max_order)
        while start + (1 << order) > end:
            order -= 1
        k.page_alloc.free_pages_core(start, order)
        start += 1 << order


def small_kernel(
    zones: dict[ZoneType, tuple[int, int]],
    ranges: list[tuple[int, int]],
    *,
    cpus: int = 2,
    arch: str = "x86_64",
    config: dict[str, object] | None = None,
    free: list[tuple[int, int]] | None = None,
) -> Kernel:
    """A kernel whose node has `zones` {type: (start_pfn, end_pfn)} over the RAM `ranges`.

    memblock_free_all() hands `free` (default: all of `ranges`) to the buddy allocator.
    """
    bits = 64 if arch == "x86_64" else 32
    machine = SimpleNamespace(
        ram=PhysicalMemory(12),
        arch=arch,
        bits=bits,
        cpus=cpus,
        page_shift=12,
        name="test machine",
    )
    cfg = KernelConfig()
    if arch != "x86_64":
        cfg.update({"ZONE_DMA32": False, "HIGHMEM": True}, user=False)
    if config:
        cfg.update(config)
    k = Kernel(machine, cfg)  # type: ignore[arg-type]
    k.sched = ExecContext(k, comm="test", pid=100)
    export_symbols(k, k.sched)
    end_pfn = max(e for _, e in ranges)
    offset = PAGE_OFFSET_64 if bits == 64 else 0xC0000000
    low = end_pfn if bits == 64 else min(end_pfn, 0x38000)
    k.direct_map = DirectMap(page_offset=offset, phys_offset=0, page_shift=12, max_low_pfn=low)
    zl = []
    for zt in ZoneType:
        z = Zone(node=0, zone_type=zt)
        if zt in zones:
            s, e = zones[zt]
            z.zone_start_pfn, z.spanned_pages = s, e - s
            z.present_pages = sum(max(0, min(e, b) - max(s, a)) for a, b in ranges)
        zl.append(z)
    present = sum(b - a for a, b in ranges)
    k.pgdat = PglistData(0, 0, end_pfn, present, zl)
    k.memblock = SimpleNamespace(mem_pfn_ranges=lambda shift: list(ranges))  # type: ignore[assignment]
    k.address_space = KernelAddressSpace(
        k,
        page_offset=offset,
        phys_offset=0,
        direct_pfn_ranges=[(a, min(b, low)) for a, b in ranges if a < low],
        arch_fault=x86_kernel_fault,
    )
    export_symbols(k, k.address_space)
    k.page_alloc = PageAllocator(k)
    export_symbols(k, k.page_alloc)
    build_all_zonelists(k)
    for a, b in free if free is not None else ranges:
        for s, e in zones.values():
            lo, hi = max(a, s), min(b, e)
            if lo < hi:
                free_range(k, lo, hi)
    init_per_zone_wmark_min(k)
    proc_vmstat_init(k)
    return k


def pc_kernel(mem_mib: int = 256, cpus: int = 2, **kw: object) -> Kernel:
    """A small x86_64 PC: DMA below 16 MiB, DMA32 above (the first page and the ISA hole out)."""
    end = mem_mib << 8
    zones = {ZoneType.DMA: (1, 4096), ZoneType.DMA32: (4096, end)}
    return small_kernel(zones, [(1, 0x9F), (0x100, end)], cpus=cpus, **kw)  # type: ignore[arg-type]


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
