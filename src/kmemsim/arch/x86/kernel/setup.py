"""Model of the memory part of arch/x86/kernel/setup.c: setup_arch() on a PC.

In the kernel's order:

1. e820__memory_setup(): the BIOS map, printed ("BIOS-e820: ...");
   a mem= limit edits it (parse_memopt) and the result is printed as
   "user: ..." lines.
2. early_reserve_memory(): memblock reservations that must exist before any
   early allocation: the kernel image (_text to _end), page 0, the initrd,
   the EBDA and BIOS area below 1 MiB (reserve_bios_regions).
3. trim_bios_range(): page 0 becomes reserved, 640K-1M is not RAM.
4. max_pfn and max_low_pfn from the e820 map ("last_pfn = ..." lines); on
   i386 the lowmem/highmem split.
5. e820__memblock_setup(): usable RAM into memblock.memory.
6. reserve_real_mode(): the whole first MiB stays reserved (real-mode
   trampoline, and BIOSes that scribble there).
7. initmem_init(): x86_64 fakes one NUMA node over all RAM ("No NUMA
   configuration found", "Faking a node at ...") and allocates its pg_data_t
   from memblock ("NODE_DATA(0) allocated [mem ...]"); i386 prints
   "NNNMB HIGHMEM available." / "NNNMB LOWMEM available.".
8. paging_init(): sparse_init() allocates the memmap of every present
   section (x86_64 is SPARSEMEM_VMEMMAP: 64 bytes of struct page per frame,
   2 MiB per 128 MiB section, in one top-down memblock buffer) and
   zone_sizes_init() calls free_area_init().
9. The resource tree: probe_roms() ("System ROM"), the kernel image's
   sections ("Kernel code", "Kernel rodata", "Kernel data", "Kernel bss",
   inserted into iomem_resource), e820__reserve_resources() (the busy e820
   entries: System RAM, the first MiB) and reserve_standard_io_resources()
   (the legacy PC I/O ports).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.arch.memory import DirectMap
from kmemsim.arch.sections import kernel_sections
from kmemsim.arch.x86.kernel.e820 import (
    e820__memory_setup,
    e820__reserve_resources,
    parse_memopt,
    trim_bios_range,
)
from kmemsim.arch.x86.mm.init import (
    MAX_DMA_PFN,
    early_alloc_pgt_buf,
    find_low_pfn_range,
    init_mem_mapping,
    initmem_init_32,
    max_arch_pfn,
    zone_sizes_init,
)
from kmemsim.arch.x86.mm.layout import X86_32_PAGE_OFFSET, x86_32_layout, x86_64_layout
from kmemsim.include.linux.ioport import (
    IORESOURCE_BUSY,
    IORESOURCE_IO,
    IORESOURCE_SYSTEM_RAM,
    Resource,
)
from kmemsim.mm.memblock import Memblock
from kmemsim.mm.mm_init import free_area_init

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

SMP_CACHE_BYTES = 64
# include/linux/mm_types.h: sizeof(struct page) with 64-bit and 32-bit longs.
STRUCT_PAGE_SIZE = {64: 64, 32: 32}
SECTION_SIZE_BITS_X86_64 = 27
# SPARSEMEM_EXTREME: mem_section[] is NR_SECTION_ROOTS pointers to pages of
# SECTIONS_PER_ROOT struct mem_section (16 bytes each).
MEM_SECTION_SIZE = 16


def setup_arch_x86(k: Kernel) -> None:
    """setup_arch() for x86_64 and i386: memblock, direct map, zones."""
    m = k.machine
    log = k.log
    page = m.page_size
    shift = m.page_shift
    img = m.kernel_image

    table = e820__memory_setup(m.e820, log)
    if m.mem_limit:
        parse_memopt(table, m.mem_limit)

    memblock = Memblock()
    k.memblock = memblock
    # early_reserve_memory()
    memblock.reserve(img.start, img.end - img.start, "kernel image")
    memblock.reserve(0, page, "page 0")
    if img.initrd_size:
        memblock.reserve(img.initrd_start, img.initrd_size, "initrd")
    _reserve_bios_regions(k, table.ram_ranges())
    pgt_buf = early_alloc_pgt_buf(k) if m.bits == 64 else (0, 0)

    trim_bios_range(table, page)
    max_pfn = table.end_pfn(max_arch_pfn(k), max_arch_pfn(k), shift)
    if m.bits == 64:
        if max_pfn > (1 << (32 - shift)):
            max_low_pfn = table.end_pfn(1 << (32 - shift), max_arch_pfn(k), shift)
        else:
            max_low_pfn = max_pfn
    else:
        max_low_pfn, max_pfn = find_low_pfn_range(k, max_pfn)
        memblock.current_limit = max_low_pfn << shift

    # phys_addr_t is 32 bits on i386 without PAE: ranges past 4 GiB are skipped.
    table.memblock_setup(memblock, page, 1 << (64 if m.bits == 64 else 32))
    # reserve_real_mode(): the first MiB, unconditionally.
    memblock.reserve(0, 1 << 20, "real mode / first MiB")
    if m.bits == 64:
        init_mem_mapping(k, pgt_buf)
    if img.initrd_size:
        end = (img.initrd_start + img.initrd_size + page - 1) & ~(page - 1)
        log.pr_info(f"RAMDISK: [mem {img.initrd_start:#010x}-{end - 1:#010x}]")

    if m.bits == 64:
        # init_mem_mapping(): all of RAM is in the direct map, at page_offset_base
        # (kernel_randomize_memory() may have moved it).
        max_low_pfn = max_pfn
        layout = x86_64_layout(k, max_pfn)
        page_offset = layout.page_offset
        _initmem_init_64(k, max_pfn)
        vmemmap = next(r.start for r in layout.regions if r.what.startswith("virtual memory map"))
        _sparse_init(k, vmemmap)
    else:
        page_offset = X86_32_PAGE_OFFSET[str(k.config["VMSPLIT"])]
        initmem_init_32(k, max_low_pfn, max_pfn)
    k.direct_map = DirectMap(
        page_offset=page_offset, phys_offset=0, page_shift=shift, max_low_pfn=max_low_pfn
    )
    k.vm_layout = layout if m.bits == 64 else x86_32_layout(k)
    free_area_init(k, zone_sizes_init(k, max_low_pfn, max_pfn))

    from kmemsim.arch.x86.kernel.probe_roms import probe_roms

    probe_roms(k)
    _insert_kernel_resources(k)
    k.e820_table = table
    e820__reserve_resources(k, table)
    reserve_standard_io_resources(k)


def _insert_kernel_resources(k: Kernel) -> None:
    """setup_arch(): code_resource, rodata_resource, data_resource and bss_resource."""
    sec = kernel_sections(k)
    flags = IORESOURCE_BUSY | IORESOURCE_SYSTEM_RAM
    for name, start, end in (
        ("Kernel code", "_text", "_etext"),
        ("Kernel rodata", "__start_rodata", "__end_rodata"),
        ("Kernel data", "_sdata", "_edata"),
        ("Kernel bss", "__bss_start", "__bss_stop"),
    ):
        res = Resource(start=sec[start], end=sec[end] - 1, name=name, flags=flags)
        k.resource.insert_resource(k.resource.iomem_resource, res)


# standard_io_resources[] of arch/x86/kernel/setup.c: the PC's legacy ports.
STANDARD_IO_RESOURCES = (
    ("dma1", 0x00, 0x1F),
    ("pic1", 0x20, 0x21),
    ("timer0", 0x40, 0x43),
    ("timer1", 0x50, 0x53),
    ("keyboard", 0x60, 0x60),
    ("keyboard", 0x64, 0x64),
    ("dma page reg", 0x80, 0x8F),
    ("pic2", 0xA0, 0xA1),
    ("dma2", 0xC0, 0xDF),
    ("fpu", 0xF0, 0xFF),
)


def reserve_standard_io_resources(k: Kernel) -> None:
    """reserve_standard_io_resources(): request the legacy ports (busy) in ioport_resource."""
    for name, start, end in STANDARD_IO_RESOURCES:
        res = Resource(start=start, end=end, name=name, flags=IORESOURCE_BUSY | IORESOURCE_IO)
        k.resource.request_resource(k.resource.ioport_resource, res)


def _reserve_bios_regions(k: Kernel, ram: list[tuple[int, int]]) -> None:
    """reserve_bios_regions() (arch/x86/kernel/ebda.c): from the EBDA/BIOS start up to 1 MiB.

    The BIOS data area's "base memory size" is where conventional RAM ends;
    clamped to [128K, 636K] and rounded down to a page."""
    low_end = max((e for s, e in ram if s < 0xA0000), default=0x9F000)
    bios_start = min(max(low_end, 0x20000), 0x9F000) & ~(k.machine.page_size - 1)
    k.memblock.reserve(bios_start, 0x100000 - bios_start, "EBDA/BIOS")


def _initmem_init_64(k: Kernel, max_pfn: int) -> None:
    """x86_numa_init() without a NUMA table: one fake node, and its NODE_DATA from memblock."""
    log = k.log
    shift = k.machine.page_shift
    log.pr_info("No NUMA configuration found")
    log.pr_info(f"Faking a node at [mem {0:#018x}-{(max_pfn << shift) - 1:#018x}]")
    size = k.machine.arch_data.pglist_data_size
    size = (size + SMP_CACHE_BYTES - 1) & ~(SMP_CACHE_BYTES - 1)
    pa = k.memblock.phys_alloc_range(size, SMP_CACHE_BYTES, owner="NODE_DATA(0)")
    log.pr_info(f"NODE_DATA(0) allocated [mem {pa:#010x}-{pa + size - 1:#010x}]")


def _sparse_init(k: Kernel, vmemmap_base: int) -> None:
    """sparse_init(): mem_section roots, usemaps and the vmemmap of every present section.

    sparse_init_nid() takes the usemaps (usemap_size(): NR_PAGEBLOCK_BITS per
    pageblock, 8 with CONFIG_MEMORY_ISOLATION's PB_migrate_isolate bit, else 4)
    and one buffer for the struct pages of all present sections
    (sparse_buffer_init()); vmemmap_populate() maps them with 2 MiB PMDs and
    takes each page table it needs on the way (vmemmap_pud_populate() and the
    levels above, vmemmap_alloc_block_zero(): one page each from memblock)."""
    shift = k.machine.page_shift
    per_section = 1 << (SECTION_SIZE_BITS_X86_64 - shift)
    present = sorted(
        {
            sec
            for s, e in k.memblock.mem_pfn_ranges(shift)
            for sec in range(s // per_section, (e - 1) // per_section + 1)
        }
    )
    if not present:
        return
    mb = k.memblock
    sections_per_root = k.machine.page_size // MEM_SECTION_SIZE
    nr_roots = (1 << (46 - SECTION_SIZE_BITS_X86_64)) // sections_per_root
    mb.phys_alloc_range(nr_roots * 8, SMP_CACHE_BYTES, owner="mem_section roots")
    for _root in sorted({sec // sections_per_root for sec in present}):
        # sparse_index_alloc(): memblock_alloc_node(SECTIONS_PER_ROOT * 16, SMP_CACHE_BYTES)
        mb.phys_alloc_range(k.machine.page_size, SMP_CACHE_BYTES, owner="mem_section")
    # usemap_size(): pageblock flag bits of one section, in longs.
    pageblock_order = min(9, int(k.config["ARCH_FORCE_MAX_ORDER"]))
    nr_pageblock_bits = 8 if k.config["MEMORY_ISOLATION"] else 4
    bits = (per_section >> pageblock_order) * nr_pageblock_bits
    usemap = -(-bits // 64) * 8
    mb.phys_alloc_range(usemap * len(present), SMP_CACHE_BYTES, owner="usemap")
    # section_map_size(): the struct pages of a section, in whole PMD (2 MiB) mappings.
    struct_page = STRUCT_PAGE_SIZE[k.machine.bits]
    map_size = per_section * struct_page
    map_size = -(-map_size // (2 << 20)) * (2 << 20)
    mb.phys_alloc_range(
        map_size * len(present), map_size, start=MAX_DMA_PFN << shift, owner="vmemmap"
    )
    page = k.machine.page_size
    for _ in range(vmemmap_page_tables(k, vmemmap_base, present, per_section * struct_page)):
        mb.phys_alloc_range(page, page, start=MAX_DMA_PFN << shift, owner="vmemmap page table")


def vmemmap_page_tables(k: Kernel, base: int, sections: list[int], map_bytes: int) -> int:
    """Page tables vmemmap_populate_hugepages() allocates for the memmap of `sections`.

    The struct page of pfn p sits at vmemmap_base + p * sizeof(struct page); with
    2 MiB PMD mappings a table is needed per PGD entry touched (the PUD table on
    4-level paging; on 5-level the P4D table, and a PUD table per P4D entry) and
    a PMD table per GiB touched."""
    five = bool(k.config["X86_5LEVEL"])
    spans = [(base + sec * map_bytes, base + (sec + 1) * map_bytes - 1) for sec in sections]

    def touched(shift: int) -> int:
        step = 1 << shift
        return len(
            {a >> shift for lo, hi in spans for a in range(lo, hi + 1, step)}
            | {hi >> shift for _lo, hi in spans}
        )

    tables = touched(48 if five else 39) + touched(30)
    if five:
        tables += touched(39)
    return tables
