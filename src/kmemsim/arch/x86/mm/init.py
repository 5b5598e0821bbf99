"""Model of arch/x86/mm/init.c, init_32.c and numa.c: lowmem, highmem and the zone limits.

x86_64 maps all RAM in the direct map, so after init_mem_mapping()
max_low_pfn is max_pfn. i386 can map only MAXMEM bytes of it at PAGE_OFFSET:
the kernel's virtual quarter (VMSPLIT_3G: 0xC0000000 up) minus the vmalloc
reserve (128 MiB) and the fixed mappings at the top (pkmap, LDT, CPU entry
area, fixmap), i.e. MAXMEM = VMALLOC_END - PAGE_OFFSET - __VMALLOC_RESERVE.
Frames past MAXMEM are highmem (find_low_pfn_range, highmem_pfn_init) and
initmem_init() reports both halves ("NNNMB HIGHMEM available.",
"NNNMB LOWMEM available."). Without PAE only the first 4 GiB of physical
addresses can be used at all.

zone_sizes_init() hands free_area_init() the zone limits: ZONE_DMA ends at
16 MiB (MAX_DMA_PFN), ZONE_DMA32 at 4 GiB (MAX_DMA32_PFN), ZONE_NORMAL at
max_low_pfn and ZONE_HIGHMEM at max_pfn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.arch.x86.mm.layout import (
    PAGE_OFFSET_BASE_L4,
    X86_32_PAGE_OFFSET,
    vmalloc_end_32,
    vmalloc_reserve_32,
)
from kmemsim.include.linux.mmzone import ZoneType

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

MAX_DMA_PFN = (16 << 20) >> 12
MAX_DMA32_PFN = (4 << 30) >> 12

X86_64_PAGE_OFFSET = PAGE_OFFSET_BASE_L4  # no KASLR, 4-level paging


def max_arch_pfn(k: Kernel) -> int:
    """MAX_ARCH_PFN: 2**46 bytes on x86_64 (4-level paging), 4 GiB on non-PAE i386."""
    return (1 << (46 - 12)) if k.machine.bits == 64 else (1 << (32 - 12))


def x86_32_maxmem_pfn(k: Kernel) -> int:
    """MAXMEM_PFN: how many frames fit in the i386 direct map with this VMSPLIT.

    MAXMEM = VMALLOC_END - PAGE_OFFSET - __VMALLOC_RESERVE (pgtable_32_areas.h)."""
    page_offset = X86_32_PAGE_OFFSET[str(k.config["VMSPLIT"])]
    maxmem = vmalloc_end_32(k) - page_offset - vmalloc_reserve_32(k)
    return max(maxmem, 0) >> k.machine.page_shift


def find_low_pfn_range(k: Kernel, max_pfn: int) -> tuple[int, int]:
    """find_low_pfn_range() (init_32.c): (max_low_pfn, max_pfn), warning as the kernel does."""
    maxmem_pfn = x86_32_maxmem_pfn(k)
    if max_pfn <= maxmem_pfn:
        return max_pfn, max_pfn
    # highmem_pfn_init()
    if not k.config["HIGHMEM"]:
        k.log.pr_warn(f"Warning only {(maxmem_pfn << 12) >> 20}MB will be used.")
        k.log.pr_warn("Use a HIGHMEM enabled kernel.")
        return maxmem_pfn, maxmem_pfn
    return maxmem_pfn, max_pfn


def initmem_init_32(k: Kernel, max_low_pfn: int, max_pfn: int) -> None:
    """initmem_init() of init_32.c: report the highmem and lowmem sizes."""
    if k.config["HIGHMEM"]:
        highstart = max_low_pfn if max_pfn > max_low_pfn else max_pfn
        k.log.pr_notice(f"{(max_pfn - highstart) >> (20 - 12)}MB HIGHMEM available.")
    k.log.pr_notice(f"{max_low_pfn >> (20 - 12)}MB LOWMEM available.")


def zone_sizes_init(k: Kernel, max_low_pfn: int, max_pfn: int) -> dict[ZoneType, int]:
    """zone_sizes_init(): the max_zone_pfn[] handed to free_area_init()."""
    zones: dict[ZoneType, int] = {}
    if k.config["ZONE_DMA"]:
        zones[ZoneType.DMA] = min(MAX_DMA_PFN, max_low_pfn)
    if k.config["ZONE_DMA32"] and k.machine.bits == 64:
        zones[ZoneType.DMA32] = min(MAX_DMA32_PFN, max_low_pfn)
    zones[ZoneType.NORMAL] = max_low_pfn
    if k.config["HIGHMEM"] and k.machine.bits == 32:
        zones[ZoneType.HIGHMEM] = max_pfn
    return zones


def split_mem_range(
    start_pfn: int, limit_pfn: int, pmd_pages: int, pud_pages: int
) -> list[tuple[int, int, int]]:
    """split_mem_range(): [start, limit) as runs of 4K, PMD and PUD mappings (start, end, level).

    The head up to the first PMD boundary and the tail past the last are 4K
    pages; between them PMD pages up to the first PUD boundary, PUD pages
    while whole ones fit, then PMD pages again (pud_pages 0: no PUD pages)."""
    out: list[tuple[int, int, int]] = []

    def up(x: int, a: int) -> int:
        return -(-x // a) * a

    def down(x: int, a: int) -> int:
        return x // a * a

    pfn = start_pfn
    end = min(up(pfn, pmd_pages), limit_pfn)
    if pfn < end:
        out.append((pfn, end, 0))
        pfn = end
    if pud_pages:
        s, end = up(pfn, pmd_pages), min(up(pfn, pud_pages), down(limit_pfn, pmd_pages))
        if s < end:
            out.append((s, end, 1))
            pfn = end
        s, end = up(pfn, pud_pages), down(limit_pfn, pud_pages)
        if s < end:
            out.append((s, end, 2))
            pfn = end
    s, end = up(pfn, pmd_pages), down(limit_pfn, pmd_pages)
    if s < end:
        out.append((s, end, 1))
        pfn = end
    if pfn < limit_pfn:
        out.append((pfn, limit_pfn, 0))
    return out


def direct_pages_count(k: Kernel) -> list[tuple[str, int]]:
    """arch_report_meminfo(): the direct map's pages by size, as "DirectMap4k" ... lines (kB).

    init_mem_mapping() maps the ISA range [0, 1 MiB) and then every memblock
    memory range (below max_low_pfn on i386) with split_mem_range(): 2 MiB
    PMDs and, where "Using GB pages" (x86_64), 1 GiB PUDs; i386 without PAE
    has 4 MiB PMDs. Later splits of large pages (set_memory_ro/nx on the
    kernel image) are not modelled."""
    shift = k.machine.page_shift
    isa_end = (1 << 20) >> shift
    if k.machine.bits == 64:
        pmd, pud, labels = 512, 512 * 512, ("DirectMap4k", "DirectMap2M", "DirectMap1G")
    else:
        pmd, pud, labels = 1024, 0, ("DirectMap4k", "DirectMap4M", "")
    counts = [0, 0, 0]
    limit = k.direct_map.max_low_pfn
    ranges = [(0, isa_end)] + [
        (max(s, isa_end), min(e, limit))
        for s, e in k.memblock.mem_pfn_ranges(shift)
        if min(e, limit) > max(s, isa_end)
    ]
    for s, e in ranges:
        for a, b, level in split_mem_range(s, e, pmd, pud):
            counts[level] += b - a
    kb = 1 << (shift - 10)
    return [(labels[i], counts[i] * kb) for i in range(3) if labels[i]]


# arch/x86/mm/init.c: page tables below the PGD for the ISA range and the first
# PMD_SIZE mapping; 6.16 made 5-level paging unconditional, so 4 levels' worth.
INIT_PGD_PAGE_TABLES = 4
PMD_PAGES_X86_64 = 512  # PFN_DOWN(PMD_SIZE)
PUD_PAGES_X86_64 = 512 * 512  # PFN_DOWN(PUD_SIZE)
ISA_END_ADDRESS = 0x100000


def init_pgt_buf_pages(k: Kernel) -> int:
    """INIT_PGT_BUF_SIZE in pages: the brk buffer early_alloc_pgt_buf() takes for page tables.

    2 * INIT_PGD_PAGE_TABLES, or 4 * INIT_PGD_PAGE_TABLES when the kernel is
    built with CONFIG_RANDOMIZE_MEMORY (the KASLR'd PUD alignment may need
    twice as many); the build option counts, whether or not KASLR is active."""
    return (4 if k.config["RANDOMIZE_MEMORY"] else 2) * INIT_PGD_PAGE_TABLES


def early_alloc_pgt_buf(k: Kernel) -> tuple[int, int]:
    """early_alloc_pgt_buf() + reserve_brk() (arch/x86/mm/init.c, kernel/setup.c).

    extend_brk() takes INIT_PGT_BUF_SIZE from the .brk section that follows
    .bss (page aligned); reserve_brk() reserves the brk used so far in memblock,
    apart from the image's own reservation, which ends at __end_of_kernel_reserve
    (the end of .bss). Those pages stay reserved for good, used or not: they are
    the "reserved" of the Memory: line. Returns the buffer as [start, top) in pfns."""
    shift = k.machine.page_shift
    page = 1 << shift
    start = (k.machine.kernel_image.end + page - 1) & ~(page - 1)
    pages = init_pgt_buf_pages(k)
    k.memblock.reserve(start, pages << shift, "brk: early page tables")
    return start >> shift, (start >> shift) + pages


def _is_region_memory(ranges: list[tuple[int, int]], start: int, end: int) -> bool:
    """memblock_is_region_memory(): [start, end) lies inside one memory region (pfns)."""
    return any(s <= start and end <= e for s, e in ranges)


def direct_map_page_tables(k: Kernel, gbpages: bool) -> int:
    """The page-table pages init_mem_mapping() allocates for the x86_64 direct map.

    init_memory_mapping() of the ISA range [0, 1 MiB) and of every memblock
    memory range (memory_map_top_down() maps them in steps, which cut them at
    2 MiB multiples only) split each range with split_mem_range() into 4K, 2M
    and 1G pieces; adjust_range_page_size_mask() lets a 4K piece use 2M pages
    when its whole PMD is memory, and a 2M piece 1G pages when its whole PUD is.
    __kernel_physical_mapping_init() then takes one page per PGD entry it fills
    (the PUD table with 4-level paging, a P4D table with 5-level, plus a PUD table
    per P4D entry), phys_pud_init() one PMD table for each GiB not mapped by a 1G
    page, phys_pmd_init() one PTE table for each 2 MiB not mapped by a 2M page."""
    shift = k.machine.page_shift
    ranges = k.memblock.mem_pfn_ranges(shift)
    isa_end = ISA_END_ADDRESS >> shift
    pieces: list[tuple[int, int, int]] = []
    for s, e in [(0, isa_end), *((max(s, isa_end), e) for s, e in ranges if e > isa_end)]:
        for a, b, level in split_mem_range(
            s, e, PMD_PAGES_X86_64, PUD_PAGES_X86_64 if gbpages else 0
        ):
            if level < 1:
                lo = a // PMD_PAGES_X86_64 * PMD_PAGES_X86_64
                hi = -(-b // PMD_PAGES_X86_64) * PMD_PAGES_X86_64
                if _is_region_memory(ranges, lo, hi):
                    level = 1
            if level < 2 and gbpages:
                lo = a // PUD_PAGES_X86_64 * PUD_PAGES_X86_64
                hi = -(-b // PUD_PAGES_X86_64) * PUD_PAGES_X86_64
                if _is_region_memory(ranges, lo, hi):
                    level = 2
            pieces.append((a, b, level))
    five = bool(k.config["X86_5LEVEL"])
    pgd_shift = (48 if five else 39) - shift
    pgd_slots = {pfn >> pgd_shift for a, b, _ in pieces for pfn in (a, b - 1)}
    # 5-level: each P4D entry (512 GiB) needs its PUD table below the P4D table.
    p4d_entries = {pfn >> (39 - shift) for a, b, _ in pieces for pfn in (a, b - 1)}
    if not five:
        p4d_entries = set()
    pmd_tables = {
        g
        for a, b, level in pieces
        if level < 2
        for g in range(a // PUD_PAGES_X86_64, (b - 1) // PUD_PAGES_X86_64 + 1)
    }
    pte_tables = {
        m
        for a, b, level in pieces
        if level < 1
        for m in range(a // PMD_PAGES_X86_64, (b - 1) // PMD_PAGES_X86_64 + 1)
    }
    return len(pgd_slots) + len(p4d_entries) + len(pmd_tables) + len(pte_tables)


def init_mem_mapping(k: Kernel, pgt_buf: tuple[int, int]) -> None:
    """init_mem_mapping() (x86_64): "Using GB pages for direct mapping", the direct map's tables.

    probe_page_size_mask() -> init_gbpages() prints the line when the kernel may
    map with 1 GiB pages (CONFIG_X86_DIRECT_GBPAGES, the CPU's pdpe1gb, no
    `nogbpages`). alloc_low_pages() takes the tables from the brk buffer while it
    lasts and from memblock after that (below what is already mapped; here:
    top-down, as memblock does). With KASLR of the memory regions active,
    init_trampoline_kaslr() takes one more (the trampoline's PUD table, and its
    P4D table with 5-level paging)."""
    from kmemsim.arch.x86.mm.layout import kaslr_memory_enabled

    gbpages = not k.config["nogbpages"]
    if gbpages:
        k.log.pr_info("Using GB pages for direct mapping")
    tables = direct_map_page_tables(k, gbpages)
    if kaslr_memory_enabled(k):
        tables += 2 if k.config["X86_5LEVEL"] else 1
    buf_start, buf_top = pgt_buf
    from_brk = min(tables, buf_top - buf_start)
    shift = k.machine.page_shift
    for _ in range(tables - from_brk):
        k.memblock.phys_alloc_range(1 << shift, 1 << shift, owner="direct map page table")
