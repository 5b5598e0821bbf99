"""Model of mm/memblock.c: the boot-time memory allocator and its hand-over to the buddy allocator.

Before the page allocator exists, memory is two sorted lists of physical
ranges: `memory` (the RAM the firmware reported, registered by the arch code)
and `reserved` (what must not be handed out: the kernel image, the initrd,
firmware tables, the first page(s) on x86, and every early allocation such as
NODE_DATA or the memmap). An early allocation (memblock_phys_alloc) searches
memory minus reserved top-down, below `current_limit`, and reserves what it
finds.

memblock_free_all() ends this era: every range of memory not covered by
reserved is given to the buddy allocator as maximal naturally aligned blocks
of at most MAX_PAGE_ORDER (__free_pages_memory), each through
__free_pages_core(), which adds the block to its zone's managed_pages and to
the tail of its free list. Reserved ranges stay out: they are the "reserved"
of the "Memory:" line. The work is per block, never per page, so a 1 TiB
machine hands over in a few hundred thousand calls.

Ranges are [base, end) in bytes here; the kernel stores base and size.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

PHYS_ADDR_MAX = (1 << 64) - 1
# memblock.current_limit before the arch code sets one (MEMBLOCK_ALLOC_ANYWHERE).
MEMBLOCK_ALLOC_ANYWHERE = PHYS_ADDR_MAX


@dataclass(slots=True)
class MemblockType:
    """struct memblock_type: sorted, non-overlapping, merged [base, end) regions."""

    name: str
    regions: list[tuple[int, int]] = field(default_factory=list)

    @property
    def total_size(self) -> int:
        return sum(end - base for base, end in self.regions)

    def add(self, base: int, end: int) -> None:
        """memblock_add_range(): insert [base, end), merging with neighbours and overlaps."""
        if end <= base:
            return
        regs = self.regions
        i = bisect.bisect_left(regs, (base, base))
        # merge with a predecessor that reaches base
        if i > 0 and regs[i - 1][1] >= base:
            i -= 1
            base = regs[i][0]
            end = max(end, regs[i][1])
        j = i
        while j < len(regs) and regs[j][0] <= end:
            end = max(end, regs[j][1])
            j += 1
        regs[i:j] = [(base, end)]

    def remove(self, base: int, end: int) -> None:
        """memblock_remove_range(): cut [base, end) out of every region."""
        if end <= base:
            return
        out: list[tuple[int, int]] = []
        for b, e in self.regions:
            if e <= base or b >= end:
                out.append((b, e))
                continue
            if b < base:
                out.append((b, base))
            if e > end:
                out.append((end, e))
        self.regions = out

    def overlaps(self, base: int, end: int) -> bool:
        i = bisect.bisect_right(self.regions, (base, PHYS_ADDR_MAX))
        if i > 0 and self.regions[i - 1][1] > base:
            return True
        return i < len(self.regions) and self.regions[i][0] < end

    def size_in(self, base: int, end: int) -> int:
        """Bytes of the regions that fall inside [base, end)."""
        return sum(
            max(0, min(e, end) - max(b, base)) for b, e in self.regions if b < end and e > base
        )


class Memblock:
    """struct memblock: the `memory` and `reserved` range lists, and the allocation limit."""

    def __init__(self) -> None:
        self.memory = MemblockType("memory")
        self.reserved = MemblockType("reserved")
        self.current_limit = MEMBLOCK_ALLOC_ANYWHERE
        # Early allocations by owner, for the curious (not a kernel structure).
        self.allocations: list[tuple[str, int, int]] = []

    # ------------------------------------------------------------- registration
    def add(self, base: int, size: int) -> None:
        """memblock_add()."""
        self.memory.add(base, base + size)

    def remove(self, base: int, size: int) -> None:
        """memblock_remove()."""
        self.memory.remove(base, base + size)

    def reserve(self, base: int, size: int, owner: str = "") -> None:
        """memblock_reserve()."""
        self.reserved.add(base, base + size)
        if owner:
            self.allocations.append((owner, base, size))

    def phys_free(self, base: int, size: int) -> None:
        """memblock_phys_free(): drop a reservation before the buddy allocator takes over."""
        self.reserved.remove(base, base + size)

    def trim_memory(self, align: int) -> None:
        """memblock_trim_memory(): shrink each region to `align` boundaries, dropping slivers."""
        out = []
        for b, e in self.memory.regions:
            nb = -(-b // align) * align
            ne = e // align * align
            if nb < ne:
                out.append((nb, ne))
        self.memory.regions = out

    def enforce_memory_limit(self, limit: int) -> None:
        """memblock_enforce_memory_limit(): keep only the first `limit` bytes of memory."""
        left = limit
        cut = PHYS_ADDR_MAX
        for b, e in self.memory.regions:
            if e - b >= left:
                cut = b + left
                break
            left -= e - b
        if cut != PHYS_ADDR_MAX:
            self.memory.remove(cut, PHYS_ADDR_MAX)
            self.reserved.remove(cut, PHYS_ADDR_MAX)

    # ------------------------------------------------------------- queries
    def start_of_dram(self) -> int:
        """memblock_start_of_DRAM()."""
        return self.memory.regions[0][0] if self.memory.regions else 0

    def end_of_dram(self) -> int:
        """memblock_end_of_DRAM()."""
        return self.memory.regions[-1][1] if self.memory.regions else 0

    def phys_mem_size(self) -> int:
        """memblock_phys_mem_size()."""
        return self.memory.total_size

    def mem_pfn_ranges(self, page_shift: int) -> list[tuple[int, int]]:
        """for_each_mem_pfn_range(): [PFN_UP(base), PFN_DOWN(end)) of each memory region."""
        mask = (1 << page_shift) - 1
        out = []
        for b, e in self.memory.regions:
            s, t = (b + mask) >> page_shift, e >> page_shift
            if s < t:
                out.append((s, t))
        return out

    def free_ranges(self) -> Iterator[tuple[int, int]]:
        """for_each_free_mem_range(): the parts of memory that no reservation covers."""
        res = self.reserved.regions
        j = 0
        for b, e in self.memory.regions:
            while j < len(res) and res[j][1] <= b:
                j += 1
            cur = b
            k = j
            while k < len(res) and res[k][0] < e:
                rb, re_ = res[k]
                if rb > cur:
                    yield cur, rb
                cur = max(cur, re_)
                if re_ > e:
                    break
                k += 1
            if cur < e:
                yield cur, e

    def reserved_in_memory(self) -> int:
        """Bytes of reserved ranges that lie inside memory."""
        return sum(self.reserved.size_in(b, e) for b, e in self.memory.regions)

    # ------------------------------------------------------------- allocation
    def phys_alloc_range(
        self, size: int, align: int, start: int = 0, end: int = 0, owner: str = ""
    ) -> int:
        """memblock_phys_alloc_range(): reserve `size` bytes top-down in [start, end); 0 if none.

        end 0 means the current limit (MEMBLOCK_ALLOC_ACCESSIBLE)."""
        limit = min(end or self.current_limit, self.current_limit)
        free = [(b, min(e, limit)) for b, e in self.free_ranges() if b < limit]
        for b, e in reversed(free):
            cand = (e - size) // align * align
            if cand >= max(b, start):
                self.reserve(cand, size, owner)
                return cand
        return 0


def memblock_free_all(k: Kernel) -> None:
    """memblock_free_all(): hand every unreserved page frame to the buddy allocator.

    reset_all_zones_managed_pages() zeroes managed_pages, then each free range
    goes to __free_pages_memory() in the largest naturally aligned blocks of
    at most MAX_PAGE_ORDER pages; each block lands in its zone through
    k.page_alloc.free_pages_core(pfn, order). Ranges are also split at zone
    boundaries, so no block straddles two zones (the boundaries of the
    modelled zones are MAX_PAGE_ORDER aligned, so this cuts no block the
    kernel would have kept whole), and frames outside every zone stay out.
    totalram_pages grows by every page of the free ranges
    (totalram_pages_add()), the zones' managed_pages by those freed now:
    with CONFIG_DEFERRED_STRUCT_PAGE_INIT the frames from first_deferred_pfn
    on have no initialised struct page yet, memblock_free_pages() skips them
    (early_page_initialised() is false) and they wait in
    pgdat.nr_deferred_pages for deferred_init_memmap() (mm/mm_init.py).
    Highmem goes the same way, as in 6.15+ kernels, where memblock_free_all()
    frees highmem too instead of the arch code freeing it page by page.
    """
    shift = k.machine.page_shift
    for zone in k.pgdat.zones:
        zone.managed_pages = 0
    pgdat = k.pgdat
    first_deferred = pgdat.first_deferred_pfn
    # Frames outside every zone (RAM past max_low_pfn on a !HIGHMEM 32-bit
    # kernel) have no zone to go to: the kernel clamps to max_low_pfn there.
    spans = sorted((z.zone_start_pfn, z.zone_end_pfn) for z in k.pgdat.zones if z.spanned_pages)
    mask = (1 << shift) - 1
    for base, end in k.memblock.free_ranges():
        spfn, epfn = (base + mask) >> shift, end >> shift
        for zs, ze in spans:
            s, e = max(spfn, zs), min(epfn, ze)
            if s >= e:
                continue
            if e > first_deferred:
                cut = max(s, first_deferred)
                pgdat.nr_deferred_pages += e - cut
                e = cut
            free_pfn_range(k, s, e)


def free_pfn_range(k: Kernel, s: int, e: int) -> None:
    """__free_pages_memory() of the frames [s, e) of one zone, through __free_pages_core().

    The head and tail go block by block; the MAX_PAGE_ORDER-aligned middle, all
    maximal blocks, goes over as one stretch (same lists, no per-block cost)."""
    pa = k.page_alloc
    max_order = int(k.config["ARCH_FORCE_MAX_ORDER"])
    step = 1 << max_order
    mid_s, mid_e = -(-s // step) * step, e // step * step
    if mid_e - mid_s >= 2 * step:
        _free_pages_memory(pa.free_pages_core, s, mid_s, max_order)
        pa.free_pages_core_blocks(mid_s, (mid_e - mid_s) >> max_order)
        _free_pages_memory(pa.free_pages_core, mid_e, e, max_order)
    else:
        _free_pages_memory(pa.free_pages_core, s, e, max_order)


def _free_pages_memory(
    free: Callable[[int, int], None], start: int, end: int, max_order: int
) -> None:
    """__free_pages_memory(): [start, end) as maximal aligned blocks of order <= max_order."""
    while start < end:
        order = max_order if start == 0 else min(max_order, (start & -start).bit_length() - 1)
        while start + (1 << order) > end:
            order -= 1
        free(start, order)
        start += 1 << order


def free_reserved_area(k: Kernel, start: int, end: int, what: str) -> int:
    """free_reserved_area() (mm/page_alloc.c): give boot-reserved RAM to the buddy allocator.

    [start, end) are physical addresses; start is rounded up and end down to
    pages. Each page goes back one by one through free_reserved_page(): it
    becomes a managed page of its zone (adjust_managed_page_count) and is
    freed with __free_page(), so it passes through the current CPU's per-CPU
    list, unlike memblock_free_all(), which fills the buddy lists directly.
    Prints "Freeing <what> memory: <N>K" when pages were freed. Returns the
    pages.
    """
    shift = k.machine.page_shift
    mask = (1 << shift) - 1
    spfn, epfn = (start + mask) >> shift, end >> shift
    if epfn <= spfn:
        return 0
    free_reserved_page = k.page_alloc.free_reserved_page
    for pfn in range(spfn, epfn):
        free_reserved_page(pfn)
    pages = epfn - spfn
    if what:
        k.log.pr_info(f"Freeing {what} memory: {pages << (shift - 10)}K")
    return pages
