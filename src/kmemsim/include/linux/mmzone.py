"""Model of include/linux/mmzone.h: nodes, zones, free areas and migrate types.

A node (pg_data_t) splits its page frames into zones by what hardware can
reach: ZONE_DMA (the ISA 16 MiB on x86), ZONE_DMA32 (below 4 GiB), ZONE_NORMAL,
ZONE_HIGHMEM (32-bit frames beyond the direct map) and ZONE_MOVABLE. Each zone
counts its frames three ways: spanned (first to last frame, holes included),
present (RAM that exists) and managed (what the buddy allocator was given,
less memblock reservations). The zone's buddy free lists, watermarks and
per-CPU lists (free_area[], per_cpu_pages, watermarks) are ZoneBuddy here,
which mm/page_alloc.py works on; free_area's lists are FreeList
(include/linux/free_area.py).
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from kmemsim.include.linux.free_area import FreeList


class ZoneType(enum.IntEnum):
    """enum zone_type. The index a zone has in node_zones[] depends on which zones are built in;
    kmemsim keeps every kind and marks the absent ones empty, as /proc/zoneinfo shows them."""

    DMA = 0
    DMA32 = 1
    NORMAL = 2
    HIGHMEM = 3
    MOVABLE = 4
    DEVICE = 5


ZONE_NAMES = {
    ZoneType.DMA: "DMA",
    ZoneType.DMA32: "DMA32",
    ZoneType.NORMAL: "Normal",
    ZoneType.HIGHMEM: "HighMem",
    ZoneType.MOVABLE: "Movable",
    ZoneType.DEVICE: "Device",
}


class MigrateType(enum.IntEnum):
    """enum migratetype (Linux 6.18): the numbers the mm_page_alloc tracepoint prints."""

    UNMOVABLE = 0
    MOVABLE = 1
    RECLAIMABLE = 2
    HIGHATOMIC = 3  # MIGRATE_PCPTYPES == 3
    CMA = 4  # only with CONFIG_CMA
    ISOLATE = 5  # 4 without CONFIG_CMA


MIGRATE_PCPTYPES = 3

ULONG_MAX = (1 << 64) - 1

# The migrate types of a kernel without CONFIG_CMA, as plain ints (hot paths).
MIGRATE_UNMOVABLE = int(MigrateType.UNMOVABLE)
MIGRATE_MOVABLE = int(MigrateType.MOVABLE)
MIGRATE_RECLAIMABLE = int(MigrateType.RECLAIMABLE)
MIGRATE_HIGHATOMIC = int(MigrateType.HIGHATOMIC)
# Without CONFIG_CMA, MIGRATE_ISOLATE follows MIGRATE_HIGHATOMIC.
MIGRATE_ISOLATE = 4
MIGRATE_TYPES = 5

# Names /proc/pagetypeinfo prints (migratetype_names[]), without CMA.
MIGRATETYPE_NAMES = ("Unmovable", "Movable", "Reclaimable", "HighAtomic", "Isolate")

# PAGE_ALLOC_COSTLY_ORDER, and the per-CPU lists of struct per_cpu_pages: one per
# migrate type and order up to the costly order, and two for THP (NR_PCP_THP).
PAGE_ALLOC_COSTLY_ORDER = 3
NR_LOWORDER_PCP_LISTS = MIGRATE_PCPTYPES * (PAGE_ALLOC_COSTLY_ORDER + 1)
NR_PCP_THP = 2
# The boot pageset every zone starts with (mm/page_alloc.c BOOT_PAGESET_*).
BOOT_PAGESET_HIGH = 0
BOOT_PAGESET_BATCH = 1


@dataclass(eq=False)
class Zone:
    """struct zone: the span and counts that boot sets; mm/page_alloc.py adds the buddy state."""

    node: int
    zone_type: ZoneType
    # Set by free_area_init (mm/mm_init.py).
    zone_start_pfn: int = 0
    spanned_pages: int = 0
    present_pages: int = 0
    # Incremented as memblock_free_all() frees frames to the buddy allocator.
    managed_pages: int = 0
    # Frames inside the span that are RAM but were reserved by memblock at boot.
    # The page allocator's own per-zone state (free_area, watermarks, pcp, ...).
    buddy: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return ZONE_NAMES[self.zone_type]

    @property
    def zone_end_pfn(self) -> int:
        return self.zone_start_pfn + self.spanned_pages

    def populated(self) -> bool:
        """populated_zone(): does the zone have present pages?"""
        return self.present_pages != 0

    def spans(self, pfn: int) -> bool:
        return self.zone_start_pfn <= pfn < self.zone_start_pfn + self.spanned_pages


@dataclass(eq=False)
class PglistData:
    """pg_data_t: one NUMA node and its zones (kmemsim models node 0)."""

    node_id: int
    node_start_pfn: int
    node_spanned_pages: int
    node_present_pages: int
    zones: list[Zone]
    # Set by free_area_init (mm/mm_init.py): where ZONE_MOVABLE starts (0: no
    # ZONE_MOVABLE), and calc_nr_kernel_pages()'s counts of the memblock pages
    # free at that point, all of them and those below highmem (the basis of
    # alloc_large_system_hash() sizes).
    zone_movable_pfn: int = 0
    nr_all_pages: int = 0
    nr_kernel_pages: int = 0
    # CONFIG_DEFERRED_STRUCT_PAGE_INIT (mm/mm_init.py): the first pfn whose struct
    # page memmap_init() left for later (ULONG_MAX: none), and the free pages at
    # and above it that memblock_free_all() counted into totalram_pages but could
    # not free yet; they reach the buddy lists by deferred_grow_zone() or the
    # pgdatinit thread.
    first_deferred_pfn: int = ULONG_MAX
    nr_deferred_pages: int = 0

    @property
    def node_end_pfn(self) -> int:
        """pgdat_end_pfn()."""
        return self.node_start_pfn + self.node_spanned_pages

    def zone(self, zone_type: ZoneType) -> Zone:
        return self.zones[zone_type]

    def populated_zones(self) -> list[Zone]:
        return [z for z in self.zones if z.populated()]


class PerCpuPages:
    """struct per_cpu_pages: one CPU's lists of free pages of one zone.

    `high` is the auto-tuned drain mark that /proc/zoneinfo prints; `high_min`,
    `high_max` and `batch` are what zone_set_pageset_high_and_batch() sets.
    In 6.18 pageset_update() writes only batch, high_min and high_max:
    `high` starts at 0 (per_cpu_pages_init() clears the structure) and is first
    moved into [high_min, high_max] by the first allocation (nr_pcp_alloc()) or
    free (nr_pcp_high()) through this list; decay_pcp_high() only lowers a
    `high` above high_min, toward high_min. So a list no page has gone through
    shows "high: 0", e.g. ZONE_DMA of the captured 6.18 machine: memblock
    hands its frames to the buddy lists directly (__free_pages_core()), its
    only allocation, the DMA atomic pool, is of an order above
    PAGE_ALLOC_COSTLY_ORDER, which bypasses the per-CPU lists, and nothing
    else asks for ZONE_DMA. Its DMA32 shows high == high_min (4316) with
    numa_hit 0: frees only (the kernel image's __init sections and the initrd
    sit in DMA32 and are freed page by page, free_reserved_page()), then idle
    decay back to high_min.
    """

    __slots__ = (
        "alloc_factor",
        "batch",
        "count",
        "flags",
        "free_count",
        "high",
        "high_max",
        "high_min",
        "lists",
    )

    def __init__(self, nr_lists: int) -> None:
        self.count = 0
        self.high = BOOT_PAGESET_HIGH
        self.high_min = BOOT_PAGESET_HIGH
        self.high_max = BOOT_PAGESET_HIGH
        self.batch = BOOT_PAGESET_BATCH
        self.free_count = 0
        self.alloc_factor = 0
        self.flags = 0
        # Each list is ordered head first; the values are unused (pfn -> None).
        self.lists: list[OrderedDict[int, None]] = [OrderedDict() for _ in range(nr_lists)]


class ZoneBuddy:
    """The page allocator's part of struct zone: free_area[], pageblock types, pcp, watermarks.

    mm/page_alloc.py works on it; struct zone's span and counts are Zone's."""

    def __init__(
        self,
        zone: Zone,
        idx: int,
        *,
        max_order: int,
        pageblock_order: int,
        nr_zones: int,
        nr_cpus: int,
    ) -> None:
        self.zone = zone
        self.idx = idx  # zone_idx(): the index among the kernel's configured zones
        self.nr_orders = max_order + 1
        # PageBuddy frames: first pfn of a free block -> its order, for the blocks
        # the free lists hold one by one (not those in runs: see free_block_order).
        self.buddy_order: dict[int, int] = {}
        # free_area[order].free_list[migratetype], head first.
        self.free_list: list[list[FreeList]] = [
            [FreeList(o, self.buddy_order) for _ in range(MIGRATE_TYPES)]
            for o in range(self.nr_orders)
        ]
        self.nr_free = 0  # NR_FREE_PAGES
        self.nr_free_highatomic = 0
        self.nr_reserved_highatomic = 0
        pb = pageblock_order
        self.pb_base = zone.zone_start_pfn >> pb
        nr_blocks = ((zone.zone_end_pfn + (1 << pb) - 1) >> pb) - self.pb_base
        # memmap_init(): every pageblock starts MIGRATE_MOVABLE.
        self.pageblock_mt = bytearray([MIGRATE_MOVABLE]) * max(nr_blocks, 0)
        self.watermark = [0, 0, 0, 0]
        self.watermark_boost = 0
        self.lowmem_reserve: list[int] = [0] * nr_zones
        self.stat_threshold = 0
        self.below_high = False  # ZONE_BELOW_HIGH
        self.reclaim_active = False  # ZONE_RECLAIM_ACTIVE
        self.boosted_watermark = False  # ZONE_BOOSTED_WATERMARK
        nr_lists = NR_LOWORDER_PCP_LISTS + NR_PCP_THP
        self.pcp = [PerCpuPages(nr_lists) for _ in range(nr_cpus)]
        # Event counters this zone feeds (PGALLOC_<zone>, numa_hit, ...).
        self.pgalloc = 0
        self.allocstall = 0
        self.numa_hit = 0

    def free_block_order(self, pfn: int) -> int:
        """PageBuddy() and buddy_order(): the order of the free block starting at pfn, else -1."""
        order = self.buddy_order.get(pfn)
        if order is not None:
            return order
        top = self.nr_orders - 1
        if not pfn & ((1 << top) - 1):
            for lst in self.free_list[top]:
                if lst.in_run(pfn):
                    return top
        return -1

    # -- derived counts -------------------------------------------------------------
    def nr_free_order(self, order: int) -> int:
        """free_area[order].nr_free."""
        return sum(len(lst) for lst in self.free_list[order])

    def nr_free_pages_blocks(self, pageblock_order: int) -> int:
        """NR_FREE_PAGES_BLOCKS: free pages in blocks of at least a pageblock."""
        return sum(
            len(lst) << o
            for o in range(pageblock_order, self.nr_orders)
            for lst in self.free_list[o]
        )

    def pcp_count(self) -> int:
        return sum(p.count for p in self.pcp)

    def wmark(self, i: int) -> int:
        """wmark_pages(): the watermark plus the current boost."""
        return self.watermark[i] + self.watermark_boost

    def managed(self) -> int:
        return self.zone.managed_pages
