"""The ARM32 kernel virtual address space: arch/arm/include/asm/memory.h, pgtable.h,
highmem.h and fixmap.h, with the vmalloc= handling of arch/arm/mm/mmu.c.

Below PAGE_OFFSET (CONFIG_PAGE_OFFSET of the VMSPLIT choice) sit user space
up to TASK_SIZE (PAGE_OFFSET - 16 MiB), then the 16 MiB of modules
(MODULES_VADDR), whose last PMD (2 MiB) is the PKMAP area of kmap() with
HIGHMEM (PKMAP_BASE = PAGE_OFFSET - PMD_SIZE, LAST_PKMAP = PTRS_PER_PTE =
512 slots). From PAGE_OFFSET the direct map holds lowmem up to high_memory;
vmalloc starts at the next 8 MiB boundary past high_memory + VMALLOC_OFFSET
and ends at VMALLOC_END (0xff800000). Lowmem ends where vmalloc must begin to
keep its size: vmalloc_min = VMALLOC_END - vmalloc_size - VMALLOC_OFFSET,
with vmalloc_size 240 MiB, or the `vmalloc=` boot parameter (at least 16 MiB,
at most what leaves 32 MiB of lowmem: early_vmalloc()). Above: the fixmap
(0xffc80000-0xfff00000) and the vector and stub pages at 0xffff0000.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.arch.memory import KernelLayout, Region, fill_holes

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

SZ_16M = 16 << 20
SZ_32M = 32 << 20
PMD_SIZE = 2 << 20  # non-LPAE: a Linux PMD is two 1 MiB hardware sections
VMALLOC_OFFSET = 8 << 20
VMALLOC_END = 0xFF800000
VMALLOC_SIZE_DEFAULT = 240 << 20  # mmu.c vmalloc_size
LAST_PKMAP = 512  # PTRS_PER_PTE
FIXADDR_START = 0xFFC80000
FIXADDR_END = 0xFFF00000
VECTORS_BASE = 0xFFFF0000
# arch/arm/Kconfig PAGE_OFFSET for each VMSPLIT choice.
ARM_PAGE_OFFSET = {
    "3G": 0xC0000000,
    "3G_OPT": 0xB0000000,
    "2G": 0x80000000,
    "2G_OPT": 0x80000000,
    "1G": 0x40000000,
}


def vmalloc_size(k: Kernel) -> int:
    """early_vmalloc(): the `vmalloc=` size within [16 MiB, VMALLOC_END - (PAGE_OFFSET + 32 MiB
    + VMALLOC_OFFSET)], with the kernel's warning when clamped; 240 MiB by default."""
    size = int(k.config["vmalloc"])
    if not size:
        return VMALLOC_SIZE_DEFAULT
    if size < SZ_16M:
        size = SZ_16M
        k.log.pr_warn(f"vmalloc area is too small, limiting to {size >> 20}MiB")
    page_offset = ARM_PAGE_OFFSET[str(k.config["VMSPLIT"])]
    vmalloc_max = VMALLOC_END - (page_offset + SZ_32M + VMALLOC_OFFSET)
    if size > vmalloc_max:
        size = vmalloc_max
        k.log.pr_warn(f"vmalloc area is too big, limiting to {size >> 20}MiB")
    return size


def vmalloc_min(k: Kernel) -> int:
    """mmu.c vmalloc_min: the lowest address vmalloc may start at."""
    return VMALLOC_END - vmalloc_size(k) - VMALLOC_OFFSET


def arm_layout(k: Kernel) -> KernelLayout:
    """The ARM32 layout of kernel `k`."""
    page_offset = ARM_PAGE_OFFSET[str(k.config["VMSPLIT"])]
    dm = k.direct_map
    high_memory = dm.pfn_to_virt(dm.max_low_pfn)
    vmalloc_start = (high_memory + VMALLOC_OFFSET) & ~(VMALLOC_OFFSET - 1)
    highmem = bool(k.config["HIGHMEM"])
    modules_vaddr = page_offset - SZ_16M
    modules_end = page_offset - PMD_SIZE if highmem else page_offset
    regions = [
        Region(0, modules_vaddr, "user-space virtual memory (TASK_SIZE)"),
        Region(modules_vaddr, modules_end, "modules"),
        Region(page_offset, high_memory, "direct mapping of lowmem (PAGE_OFFSET .. high_memory)"),
        Region(high_memory, vmalloc_start, "VMALLOC_OFFSET guard"),
        Region(vmalloc_start, VMALLOC_END, "vmalloc/ioremap space"),
        Region(FIXADDR_START, FIXADDR_END, "fixmap"),
        Region(VECTORS_BASE, VECTORS_BASE + 2 * 4096, "vector and stub pages"),
    ]
    if highmem:
        regions.append(Region(modules_end, page_offset, "persistent kmap area (PKMAP_BASE)"))
    return KernelLayout(
        bits=32,
        page_offset=page_offset,
        task_size=modules_vaddr,
        vmalloc_start=vmalloc_start,
        vmalloc_end=VMALLOC_END,
        modules_vaddr=modules_vaddr,
        modules_end=modules_end,
        pkmap_base=modules_end if highmem else 0,
        last_pkmap=LAST_PKMAP if highmem else 0,
        fixaddr_start=FIXADDR_START,
        fixaddr_top=FIXADDR_END,
        regions=fill_holes(regions, 1 << 32),
    )
