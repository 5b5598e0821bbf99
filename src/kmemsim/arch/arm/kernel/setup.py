"""Model of the memory part of arch/arm/kernel/setup.c: setup_arch() on a device-tree board.

1. setup_machine_fdt(): the device tree names the board ("OF: fdt: Machine
   model: ...") and its /memory node's banks go to memblock
   (early_init_dt_add_memory_arch); the cache policy is printed ("Memory
   policy: Data cache writeback").
2. adjust_lowmem_bounds() (mm/mmu.c): lowmem ends at the vmalloc boundary;
   memblock's current limit is set there. Without CONFIG_HIGHMEM the RAM
   past it is removed.
3. arm_memblock_init(): reserve the kernel (_stext to _end), the initrd,
   swapper_pg_dir (16 KiB below the kernel text) and /reserved-memory
   (no-map children are also left out of the direct map in the kernel).
4. paging_init() -> bootmem_init(): find_limits() and zone_sizes_init(),
   which calls free_area_init(). ARM32 boards are FLATMEM: the memmap is one
   array for the node, allocated from memblock in free_area_init_node().
5. request_standard_resources(): a "System RAM" resource per memblock memory
   range that is not no-map, with "Kernel code" (_text to __init_begin) and
   "Kernel data" (_sdata to _end) below the one that holds them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.arch.arm.mm.init import arm_lowmem_limit, zone_sizes_init
from kmemsim.arch.arm.mm.layout import ARM_PAGE_OFFSET, arm_layout
from kmemsim.arch.memory import DirectMap
from kmemsim.arch.sections import kernel_sections
from kmemsim.include.linux.ioport import IORESOURCE_BUSY, IORESOURCE_SYSTEM_RAM, Resource
from kmemsim.mm.memblock import Memblock
from kmemsim.mm.mm_init import free_area_init

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

SWAPPER_PG_DIR_SIZE = 16 << 10  # non-LPAE first-level table
TEXT_OFFSET = 0x8000


def setup_arch_arm(k: Kernel) -> None:
    """setup_arch() for an ARM32 device-tree machine."""
    m = k.machine
    log = k.log
    shift = m.page_shift
    memblock = Memblock()
    k.memblock = memblock

    log.pr_info(f"OF: fdt: Machine model: {m.dt_model}")
    for base, size in m.dt_memory:
        memblock.add(base, size)
    memblock.trim_memory(m.page_size)
    log.pr_info("Memory policy: Data cache writeback")

    phys_offset = memblock.start_of_dram()
    lowmem_limit = min(arm_lowmem_limit(k, phys_offset), memblock.end_of_dram())
    if not k.config["HIGHMEM"] and memblock.end_of_dram() > lowmem_limit:
        log.pr_notice(f"Truncating RAM at {lowmem_limit:#010x}-{memblock.end_of_dram() - 1:#010x}")
        memblock.remove(lowmem_limit, memblock.end_of_dram() - lowmem_limit)
    memblock.current_limit = lowmem_limit

    img = m.kernel_image
    memblock.reserve(img.start, img.end - img.start, "kernel image")
    if img.initrd_size:
        memblock.reserve(img.initrd_start, img.initrd_size, "initrd")
    swapper = img.start - (img.start & (TEXT_OFFSET - 1)) + TEXT_OFFSET - SWAPPER_PG_DIR_SIZE
    swapper = min(swapper, img.start - SWAPPER_PG_DIR_SIZE)
    memblock.reserve(swapper, SWAPPER_PG_DIR_SIZE, "swapper_pg_dir")
    # early_init_fdt_scan_reserved_mem(): every /reserved-memory child is kept
    # from the buddy allocator; a no-map one stays in memblock.memory (its
    # frames are present) but is marked NOMAP, which memblock_free_all()
    # treats as reserved (memmap_init_reserved_pages).
    for r in m.dt_reserved:
        memblock.reserve(r.base, r.size, r.name + (" (no-map)" if r.no_map else ""))

    # bootmem_init() -> find_limits()
    max_low_pfn = lowmem_limit >> shift
    max_pfn = memblock.end_of_dram() >> shift
    k.direct_map = DirectMap(
        page_offset=ARM_PAGE_OFFSET[str(k.config["VMSPLIT"])],
        phys_offset=phys_offset,
        page_shift=shift,
        max_low_pfn=max_low_pfn,
    )
    k.vm_layout = arm_layout(k)
    free_area_init(k, zone_sizes_init(k, max_low_pfn, max_pfn))
    request_standard_resources(k)


def request_standard_resources(k: Kernel) -> None:
    """request_standard_resources() of arch/arm/kernel/setup.c."""
    tree = k.resource
    sec = kernel_sections(k)
    kernel_code = Resource(
        start=sec["_text"],
        end=sec["__init_begin"] - 1,
        name="Kernel code",
        flags=IORESOURCE_SYSTEM_RAM,
    )
    kernel_data = Resource(
        start=sec["_sdata"], end=sec["_end"] - 1, name="Kernel data", flags=IORESOURCE_SYSTEM_RAM
    )
    # for_each_mem_range(): memblock.memory without the no-map regions.
    ranges = list(k.memblock.memory.regions)
    for r in k.machine.dt_reserved:
        if not r.no_map:
            continue
        cut: list[tuple[int, int]] = []
        for b, e in ranges:
            if e <= r.base or b >= r.base + r.size:
                cut.append((b, e))
                continue
            if b < r.base:
                cut.append((b, r.base))
            if e > r.base + r.size:
                cut.append((r.base + r.size, e))
        ranges = cut
    for start, end in ranges:
        res = Resource(
            start=start,
            end=end - 1,
            name="System RAM",
            flags=IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY,
        )
        tree.request_resource(tree.iomem_resource, res)
        if kernel_code.start >= res.start and kernel_code.end <= res.end:
            tree.request_resource(res, kernel_code)
        if kernel_data.start >= res.start and kernel_data.end <= res.end:
            tree.request_resource(res, kernel_data)
