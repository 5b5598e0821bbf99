"""Model of arch/x86/mm/init_64.c and init.c: what x86_64 allocates once the buddy allocator runs.

mem_init() (mm_core_init(), right after memblock_free_all()) sets after_bootmem
and calls preallocate_vmalloc_pages(): every top-level entry of the vmalloc
area [VMALLOC_START, VMEMORY_END] gets its table now (the PUD table with
4-level paging, where the P4D level is folded; the P4D table with 5-level), so
that the kernel's top-level entries never change later and no process's page
tables need syncing: VMALLOC_SIZE_TB (32 TiB, 64 PGD entries, on 4-level;
12800 TiB, 50 PGD entries, on 5-level) worth, one page each.

poking_init() (start_kernel(), after mm_core_init()) makes text_poke_mm, the
mm that text_poke() maps the page it patches in: mm_alloc() takes a PGD
(pgd_alloc(): order 1 when page table isolation is on, for the user copy),
and get_locked_pte() at text_poke_mm_addr allocates the tables below it down
to the PTE table now, so that poking never allocates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.include.linux.gfp_types import GFP, GFP_KERNEL

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel


def preallocate_vmalloc_pages(k: Kernel) -> int:
    """preallocate_vmalloc_pages(): the second-level table of each vmalloc PGD entry."""
    aspace = k.address_space
    five = aspace.pgtable_levels == 5
    level, pgdir_shift = ("P4D", 48) if five else ("PUD", 39)
    layout = k.vm_layout
    step = 1 << pgdir_shift
    before = len(aspace.tables)
    addr = layout.vmalloc_start
    while addr < layout.vmalloc_end:
        aspace.alloc_table(addr, level)
        addr = (addr // step + 1) * step
    return len(aspace.tables) - before


def mem_init(k: Kernel) -> None:
    """mem_init() (x86_64): after_bootmem, and the vmalloc area's top-level tables."""
    preallocate_vmalloc_pages(k)


def poking_init(k: Kernel) -> list[int]:
    """poking_init(): text_poke_mm's PGD and the tables of its one mapping, from the buddy.

    Returns the pfns taken (the PGD first). The mm_struct itself is a slab
    object the model does not make (mm_cachep is kmemsim's boot-cache list's)."""
    pa = k.page_alloc
    gfp = int(GFP_KERNEL | GFP.ZERO)
    levels = 5 if k.address_space.pgtable_levels == 5 else 4
    pfns = []
    pgd = pa.alloc_pages(gfp, 1 if k.config["pti"] else 0)  # pgd_alloc()
    # get_locked_pte(): p4d (5-level only), pud, pmd and pte tables of the address.
    tables = [pa.alloc_pages(gfp, 0) for _ in range(levels - 1)]
    for page in (pgd, *tables):
        if page is not None:
            page.owner = "text_poke_mm page table"
            pfns.append(int(page.pfn))
    return pfns
