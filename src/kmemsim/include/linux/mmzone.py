"""Model of include/linux/mmzone.h: nodes, zones, free areas and migrate types.

A node (pg_data_t) splits its page frames into zones by what hardware can
reach: ZONE_DMA (the ISA 16 MiB on x86), ZONE_DMA32 (below 4 GiB), ZONE_NORMAL,
ZONE_HIGHMEM (32-bit frames beyond the direct map) and ZONE_MOVABLE. Each zone
counts its frames three ways: spanned (first to last frame, holes included),
present (RAM that exists) and managed (what the buddy allocator was given,
less memblock reservations). The zone's buddy free lists, watermarks and
per-CPU lists are kept by mm/page_alloc.py.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


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

# Names /proc/pagetypeinfo prints (migratetype_names[]), without CMA.
MIGRATETYPE_NAMES = ("Unmovable", "Movable", "Reclaimable", "HighAtomic", "Isolate")


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
