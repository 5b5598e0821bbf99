"""Model of arch/x86/mm/cpu_entry_area.c (x86_64): the page tables of the CPU entry area.

trap_init() calls setup_cpu_entry_areas(), which maps, at CPU_ENTRY_AREA_BASE
(the PGD slot -4 of the x86_64 layout), the read-only IDT page and then one
struct cpu_entry_area per possible CPU: its GDT, entry stack, TSS, the IST
exception stacks (guard pages left unmapped) and, for Intel's PEBS/BTS, the
debug store page and PTEs for its buffers (percpu_setup_debug_store()). The
entries go in with cea_set_pte() -> set_pte_vaddr(), whose fill_pud(),
fill_pmd() and fill_pte() take each missing table from spp_getpage(): before
the buddy allocator runs, memblock_alloc(PAGE_SIZE, PAGE_SIZE). kmemsim keeps
no PTEs for the area (nothing in the model touches it); it takes the tables.

Without KASLR (init_cea_offsets() leaves every CPU at its index) the areas are
consecutive, so the tables are one PUD table (the P4D entry; with 5-level
paging also the P4D table), one PMD table per GiB and one PTE table per 2 MiB
of [CPU_ENTRY_AREA_BASE, end of the last CPU's area).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

# struct cpu_entry_area of the 6.18 x86_64 build, in pages (asm/cpu_entry_area.h):
CEA_GDT = 1  # char gdt[PAGE_SIZE]
CEA_ENTRY_STACK = 1  # struct entry_stack_page
# struct tss_struct: x86_hw_tss (104 bytes) and x86_io_bitmap (two IO_BITMAP_LONGS + 1
# long arrays of 8200 bytes, prev_sequence, prev_max), __aligned(PAGE_SIZE): 16520 -> 5 pages.
CEA_TSS = 5
# struct cea_exception_stacks: a guard page and EXCEPTION_STKSZ (PAGE_SIZE << 1) for DF,
# NMI, DB and MCE; VC and VC2 a guard and a stack only with CONFIG_AMD_MEM_ENCRYPT; the
# top guard.
CEA_ESTACKS = 4 * (1 + 2) + 2 * 1 + 1
CEA_DEBUG_STORE = 1  # struct debug_store, page aligned
CEA_DEBUG_BUFFERS = 32  # struct debug_store_buffers: BTS and PEBS buffers, 64 KiB each
CPU_ENTRY_AREA_PAGES = (
    CEA_GDT + CEA_ENTRY_STACK + CEA_TSS + CEA_ESTACKS + CEA_DEBUG_STORE + CEA_DEBUG_BUFFERS
)


def cpu_entry_area_page_tables(k: Kernel) -> int:
    """The tables set_pte_vaddr() needs for the RO IDT page and every possible CPU's area."""
    shift = k.machine.page_shift
    span = (1 + k.machine.cpus * CPU_ENTRY_AREA_PAGES) << shift
    pte_tables = -(-span // (2 << 20))
    pmd_tables = -(-span // (1 << 30))
    upper = 2 if k.config["X86_5LEVEL"] else 1
    return upper + pmd_tables + pte_tables


def setup_cpu_entry_areas(k: Kernel) -> None:
    """setup_cpu_entry_areas() (x86_64): the CPU entry area's page tables, from memblock."""
    page = k.machine.page_size
    for _ in range(cpu_entry_area_page_tables(k)):
        k.memblock.phys_alloc_range(page, page, owner="cpu_entry_area page table")
