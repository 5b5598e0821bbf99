"""Model of arch/x86/kernel/espfix_64.c: the per-CPU stacks for returning to 16-bit stack segments.

With CONFIG_X86_ESPFIX64, init_espfix_bsp() (mm_core_init()) hangs the static
espfix_pud_page into the top-level slot ESPFIX_PGD_ENTRY and calls
init_espfix_ap(0); each CPU brought up later calls init_espfix_ap(cpu). Every
ESPFIX_STACKS_PER_PAGE (PAGE_SIZE / 64-byte ESPFIX_STACK_SIZE = 64) CPUs share
one stack page; the first CPU of a group allocates it (alloc_pages_node()), and
the PMD and PTE tables above it when they are missing (all PUD entries are
clones of one PMD table, all PMD entries of one PTE table: ESPFIX_PUD_CLONES,
ESPFIX_PMD_CLONES). So a machine with up to 64 CPUs takes three pages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.include.linux.gfp_types import GFP, GFP_KERNEL

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

ESPFIX_STACK_SIZE = 8 * 8
ESPFIX_STACKS_PER_PAGE = 4096 // ESPFIX_STACK_SIZE


def init_espfix(k: Kernel) -> int:
    """init_espfix_bsp() and init_espfix_ap() of every CPU: the pages taken."""
    if not k.config["X86_ESPFIX64"]:
        return 0
    pa = k.page_alloc
    gfp = int(GFP_KERNEL | GFP.ZERO)  # PGALLOC_GFP
    stack_pages = -(-k.machine.cpus // ESPFIX_STACKS_PER_PAGE)
    taken = 0
    for _ in range(2 + stack_pages):  # the PMD table, the PTE table, the stack pages
        page = pa.alloc_pages(gfp, 0)
        if page is not None:
            page.owner = "espfix"
            taken += 1
    return taken
