"""Model of arch/arm/mm/init.c and mmu.c: ARM32 lowmem, highmem and zone limits.

An ARM32 kernel maps RAM linearly at PAGE_OFFSET (0xC0000000 with
VMSPLIT_3G) from PHYS_OFFSET, the start of RAM (0x80000000 on the AM335x).
The direct map must end below the vmalloc area, which keeps at least 240 MiB
below VMALLOC_END (0xff800000) plus the 8 MiB VMALLOC_OFFSET gap: vmalloc_min
= 0xf0000000, so lowmem is at most 768 MiB with the 3G split
(adjust_lowmem_bounds). RAM above arm_lowmem_limit is highmem, or is
dropped without CONFIG_HIGHMEM. memblock's allocation limit is the lowmem
limit: early allocations must be reachable through the direct map.

zone_sizes_init(): ZONE_NORMAL ends at max_low_pfn and ZONE_HIGHMEM at
max_pfn; ZONE_DMA only on platforms with a DMA limit (not the AM335x).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.arch.arm.mm.layout import ARM_PAGE_OFFSET, vmalloc_min
from kmemsim.include.linux.mmzone import ZoneType

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel


def arm_lowmem_limit(k: Kernel, phys_offset: int) -> int:
    """The physical address where the direct map ends: __pa(vmalloc_min - 1) + 1."""
    page_offset = ARM_PAGE_OFFSET[str(k.config["VMSPLIT"])]
    return vmalloc_min(k) - page_offset + phys_offset


def zone_sizes_init(k: Kernel, max_low_pfn: int, max_pfn: int) -> dict[ZoneType, int]:
    """zone_sizes_init() of arch/arm/mm/init.c."""
    zones: dict[ZoneType, int] = {}
    if k.config["ZONE_DMA"]:
        zones[ZoneType.DMA] = max_low_pfn
    zones[ZoneType.NORMAL] = max_low_pfn
    if k.config["HIGHMEM"]:
        zones[ZoneType.HIGHMEM] = max_pfn
    return zones
