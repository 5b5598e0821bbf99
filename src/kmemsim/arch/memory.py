"""Model of the direct map: __pa/__va of arch/*/include/asm/page*.h and the lowmem limit.

Every architecture maps (part of) physical RAM linearly into kernel virtual
space at PAGE_OFFSET: x86_64 at 0xffff888000000000 (no KASLR), i386 and ARM32
at 0xC0000000 with the 3G/1G split (0x80000000 for 2G/2G, 0x40000000 for 1G/3G).
On 32-bit, only the frames below max_low_pfn (lowmem) are in the direct map;
the rest is highmem, reached through kmap.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DirectMap:
    """The linear mapping of one kernel: virt = phys - phys_offset + page_offset."""

    page_offset: int
    phys_offset: int
    page_shift: int
    # First frame past the direct map (max_low_pfn); all RAM on 64-bit.
    max_low_pfn: int

    def virt_to_phys(self, vaddr: int) -> int:
        """__pa(): the physical address of a direct-map virtual address."""
        return vaddr - self.page_offset + self.phys_offset

    def phys_to_virt(self, paddr: int) -> int:
        """__va(): the direct-map virtual address of a lowmem physical address."""
        return paddr - self.phys_offset + self.page_offset

    def pfn_to_virt(self, pfn: int) -> int:
        return ((pfn << self.page_shift) - self.phys_offset) + self.page_offset

    def virt_to_pfn(self, vaddr: int) -> int:
        return (vaddr - self.page_offset + self.phys_offset) >> self.page_shift

    def virt_addr_valid(self, vaddr: int) -> bool:
        """virt_addr_valid(): is `vaddr` in the direct map of present lowmem?"""
        if vaddr < self.page_offset:
            return False
        pfn = self.virt_to_pfn(vaddr)
        return (self.phys_offset >> self.page_shift) <= pfn < self.max_low_pfn


@dataclass(frozen=True, slots=True)
class Region:
    """One range of the kernel's virtual address space: [start, end) and what it holds."""

    start: int
    end: int
    what: str

    @property
    def size(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class KernelLayout:
    """The virtual address space of one booted kernel, as its architecture lays it out.

    Bounds are [start, end): where the kernel's own macro is inclusive (x86_64
    VMALLOC_END), `vmalloc_end` here is that value plus one. `regions` covers
    the whole address space in order, holes included."""

    bits: int
    page_offset: int
    task_size: int
    vmalloc_start: int
    vmalloc_end: int
    modules_vaddr: int
    modules_end: int
    pkmap_base: int  # 0: no PKMAP area (no HIGHMEM)
    last_pkmap: int
    fixaddr_start: int
    fixaddr_top: int
    regions: tuple[Region, ...]
    # x86_64: __VIRTUAL_MASK_SHIFT and the paging levels; 32-bit: 32 and 2.
    virtual_mask_shift: int = 32
    pgtable_levels: int = 2

    def region_of(self, addr: int) -> Region | None:
        """The region holding `addr`."""
        for r in self.regions:
            if r.start <= addr < r.end:
                return r
        return None


def fill_holes(
    regions: list[Region], top: int, hole: str = "... unused hole"
) -> tuple[Region, ...]:
    """`regions` sorted, with the gaps between them (and up to `top`) as holes."""
    out: list[Region] = []
    pos = 0
    for r in sorted(regions, key=lambda r: (r.start, r.end)):
        if r.start > pos:
            out.append(Region(pos, r.start, hole))
        out.append(r)
        pos = max(pos, r.end)
    if pos < top:
        out.append(Region(pos, top, hole))
    return tuple(out)
