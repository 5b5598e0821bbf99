"""Architecture facts the generic mm code asks about (arch/*/include/asm/*.h, arch/*/Kconfig).

The kernel's mm/ never compares architecture names: each architecture
defines constants and Kconfig symbols in its own headers (SECTION_SIZE_BITS in
asm/sparsemem.h, HPAGE_SHIFT in asm/page*.h, ARCH_KMALLOC_MINALIGN ...), and
generic code uses them. kmemsim keeps the facts of each modelled architecture
here, once each, as an ArchFacts value; a booted kernel holds its
architecture's as `k.arch`, and mm/, fs/ and arch/ ask it instead of testing
`machine.arch`.

Every field says where the kernel defines it (Linux 6.18):

- x86_64: 4-level paging, SPARSEMEM_VMEMMAP with 128 MiB sections
  (arch/x86/include/asm/sparsemem.h SECTION_SIZE_BITS 27, MAX_PHYSMEM_BITS
  46), PMD huge pages of 2 MiB (HPAGE_SHIFT 21: pageblock_order 9), THP,
  ZONE_DMA32 and ZONE_DEVICE, no HIGHMEM or VMSPLIT choice (both depend on
  X86_32), DEFERRED_STRUCT_PAGE_INIT possible (mm/Kconfig: 64BIT, SPARSEMEM).
- i386 (non-PAE): FLATMEM (a PC without NUMA: ARCH_FLATMEM_ENABLE),
  pfn_valid() = inside mem_map, 4 MiB huge pages (HPAGE_SHIFT 22: pageblock
  order 10), HIGHMEM and the VMSPLIT_* choice, no ZONE_DMA32.
- arm (32-bit, no LPAE): FLATMEM with the ARM pfn_valid() that asks
  memblock (arch/arm/mm/init.c), no huge pages (pageblock_order =
  MAX_PAGE_ORDER), kmalloc minimum alignment of a cache line
  (ARCH_DMA_MINALIGN = L1_CACHE_BYTES, non-coherent DMA), HIGHMEM and VMSPLIT.
"""

from __future__ import annotations

from dataclasses import dataclass

from kmemsim.errors import KmemsimError


@dataclass(frozen=True, slots=True)
class ArchFacts:
    """What one architecture defines for the generic memory-management code."""

    name: str
    bits: int  # BITS_PER_LONG
    # SPARSEMEM SECTION_SIZE_BITS (asm/sparsemem.h); None: FLATMEM.
    section_size_bits: int | None
    # FLATMEM pfn_valid(): "mem_map" (generic: inside the node's mem_map) or
    # "memblock" (ARM's own: a memblock memory frame). Unused with SPARSEMEM.
    flatmem_pfn_valid: str
    # HPAGE_SHIFT - PAGE_SHIFT (HUGETLB_PAGE_ORDER); None: no huge pages.
    hugetlb_page_order: int | None
    # 1 GiB (PUD) hugetlb pages beside the PMD ones (x86_64 with GB pages).
    pud_hugepages: bool
    # CONFIG_HAVE_ARCH_TRANSPARENT_HUGEPAGE (with PMD-sized THP, HPAGE_PMD_ORDER).
    transparent_hugepage: bool
    zone_dma32: bool  # ZONE_DMA32 exists (64-bit only)
    zone_device: bool  # CONFIG_ZONE_DEVICE in the modelled builds
    # Kconfig symbols that exist only on some architectures.
    highmem: bool  # CONFIG_HIGHMEM (32-bit)
    vmsplit: bool  # the VMSPLIT_* choice (32-bit)
    deferred_struct_page_init: bool  # mm/Kconfig: depends on SPARSEMEM && 64BIT
    # arch/x86/Kconfig: 5-level paging and RANDOMIZE_MEMORY / RANDOMIZE_BASE (x86_64 layout).
    x86_64_paging: bool
    # The alignment the kernel image's text/rodata/data are laid out at (large
    # pages of the direct map: PMD_SIZE on x86_64, PAGE_SIZE elsewhere).
    image_section_align: int
    # ARCH_KMALLOC_MINALIGN: 0 means the cache line (ARCH_DMA_MINALIGN) is the minimum.
    kmalloc_minalign: int
    # L1_CACHE_SHIFT: cache_line_size() is L1_CACHE_BYTES, 1 << L1_CACHE_SHIFT
    # (x86: CONFIG_X86_L1_CACHE_SHIFT, 6 for X86_64 and X86_GENERIC; arm:
    # CONFIG_ARM_L1_CACHE_SHIFT, 6 with CPU_V7).
    l1_cache_shift: int

    @property
    def sparsemem(self) -> bool:
        return self.section_size_bits is not None

    def pages_per_section(self, page_shift: int) -> int:
        """PAGES_PER_SECTION (SPARSEMEM only)."""
        if self.section_size_bits is None:
            raise ValueError(f"{self.name} is FLATMEM: no memory sections")
        return 1 << (self.section_size_bits - page_shift)

    def pageblock_order(self, max_order: int) -> int:
        """pageblock_order (include/linux/pageblock-flags.h).

        With CONFIG_HUGETLB_PAGE: min(HUGETLB_PAGE_ORDER, MAX_PAGE_ORDER); without
        huge pages: MAX_PAGE_ORDER."""
        if self.hugetlb_page_order is None:
            return max_order
        return min(self.hugetlb_page_order, max_order)

    @property
    def hugepagesize_kb(self) -> int:
        """HPAGE_SIZE in kB (/proc/meminfo Hugepagesize), 0 without huge pages."""
        if self.hugetlb_page_order is None:
            return 0
        return 4 << self.hugetlb_page_order


ARCHES: dict[str, ArchFacts] = {
    "x86_64": ArchFacts(
        name="x86_64",
        bits=64,
        section_size_bits=27,
        flatmem_pfn_valid="mem_map",
        hugetlb_page_order=9,
        pud_hugepages=True,
        transparent_hugepage=True,
        zone_dma32=True,
        zone_device=True,
        highmem=False,
        vmsplit=False,
        deferred_struct_page_init=True,
        x86_64_paging=True,
        image_section_align=2 << 20,
        kmalloc_minalign=8,
        l1_cache_shift=6,
    ),
    "i386": ArchFacts(
        name="i386",
        bits=32,
        section_size_bits=None,
        flatmem_pfn_valid="mem_map",
        hugetlb_page_order=10,
        pud_hugepages=False,
        transparent_hugepage=False,
        zone_dma32=False,
        zone_device=False,
        highmem=True,
        vmsplit=True,
        deferred_struct_page_init=False,
        x86_64_paging=False,
        image_section_align=4096,
        kmalloc_minalign=8,
        l1_cache_shift=6,
    ),
    "arm": ArchFacts(
        name="arm",
        bits=32,
        section_size_bits=None,
        flatmem_pfn_valid="memblock",
        hugetlb_page_order=None,
        pud_hugepages=False,
        transparent_hugepage=False,
        zone_dma32=False,
        zone_device=False,
        highmem=True,
        vmsplit=True,
        deferred_struct_page_init=False,
        x86_64_paging=False,
        image_section_align=4096,
        kmalloc_minalign=0,
        l1_cache_shift=6,
    ),
}


def arch_facts(name: str) -> ArchFacts:
    """The facts of architecture `name` (a profile's machine.arch)."""
    try:
        return ARCHES[name]
    except KeyError:
        raise KmemsimError(
            f"unknown architecture {name!r}: expected one of {', '.join(ARCHES)}"
        ) from None
