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
