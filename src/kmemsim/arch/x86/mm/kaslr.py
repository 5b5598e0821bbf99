"""Model of arch/x86/mm/kaslr.c: kernel_randomize_memory(), RANDOMIZE_MEMORY.

With CONFIG_RANDOMIZE_MEMORY the three big regions of the x86_64 kernel
address space, in their order (the direct map at page_offset_base, vmalloc at
vmalloc_base, the struct page array at vmemmap_base), get random PUD-aligned
bases between the start of the direct map's slot (__PAGE_OFFSET_BASE_L4 or
_L5) and vaddr_end (CPU_ENTRY_AREA_BASE). Each region is sized first: the
direct map to the RAM present (max_pfn, in TiB rounded up) plus
CONFIG_RANDOMIZE_MEMORY_PHYSICAL_PADDING (10 TiB for memory hotplug), capped
at 1 << MAX_PHYSMEM_BITS; vmalloc VMALLOC_SIZE_TB; vmemmap what the direct
map's struct pages take, in TiB rounded up. The room left over ("entropy") is
shared out region by region: each draws an offset below its share from a
prandom state seeded with kaslr_get_random_long("Memory") (here the
`kaslr_seed` option), rounded down to a PUD, and the next region starts at
least one PUD after the previous one ends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.arch.x86.mm.layout import (
    CPU_ENTRY_AREA_PGD,
    MAX_PHYSMEM_BITS_L4,
    MAX_PHYSMEM_BITS_L5,
    P4D_SHIFT,
    PAGE_OFFSET_BASE_L4,
    PAGE_OFFSET_BASE_L5,
    PUD_SHIFT,
    STRUCT_PAGE_SIZE_64,
    TB,
    pgd_entry_base,
)
from kmemsim.lib.random32 import RndState

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

TB_SHIFT = 40
RANDOMIZE_MEMORY_PHYSICAL_PADDING_TB = 0xA  # arch/x86/Kconfig, with MEMORY_HOTPLUG


def kernel_randomize_memory(
    k: Kernel, five: bool, vmalloc_size: int, max_pfn: int
) -> tuple[dict[str, int], dict[str, int]]:
    """The randomized bases and sizes of the direct map, vmalloc and vmemmap regions."""
    vaddr_start = PAGE_OFFSET_BASE_L5 if five else PAGE_OFFSET_BASE_L4
    vaddr_end = pgd_entry_base(CPU_ENTRY_AREA_PGD, P4D_SHIFT)
    max_physmem_bits = MAX_PHYSMEM_BITS_L5 if five else MAX_PHYSMEM_BITS_L4
    page_shift = k.machine.page_shift
    size_tb = {"direct": 1 << (max_physmem_bits - TB_SHIFT), "vmalloc": vmalloc_size >> TB_SHIFT}
    memory_tb = -(-(max_pfn << page_shift) // TB) + RANDOMIZE_MEMORY_PHYSICAL_PADDING_TB
    size_tb["direct"] = min(size_tb["direct"], memory_tb)
    vmemmap_size = (size_tb["direct"] << (TB_SHIFT - page_shift)) * STRUCT_PAGE_SIZE_64
    size_tb["vmemmap"] = -(-vmemmap_size // TB)
    order = ("direct", "vmalloc", "vmemmap")
    remain = vaddr_end - vaddr_start - sum(size_tb[n] << TB_SHIFT for n in order)
    rnd = RndState(int(k.config["kaslr_seed"]))
    pud = 1 << PUD_SHIFT
    vaddr = vaddr_start
    bases: dict[str, int] = {}
    for i, name in enumerate(order):
        entropy = remain // (len(order) - i)
        entropy = (rnd.ulong() % (entropy + 1)) & ~(pud - 1)
        vaddr += entropy
        bases[name] = vaddr
        vaddr += size_tb[name] << TB_SHIFT
        vaddr = -(-(vaddr + 1) // pud) * pud  # round_up(vaddr + 1, PUD_SIZE)
        remain -= entropy
    return bases, {n: size_tb[n] << TB_SHIFT for n in order}
