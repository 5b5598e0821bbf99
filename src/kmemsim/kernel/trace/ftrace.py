"""Model of kernel/trace/ftrace.c's boot memory: the dyn_ftrace records of ftrace_init().

With CONFIG_DYNAMIC_FTRACE every traceable function of the image has an
mcount (fentry) call site, listed in the __mcount_loc section. start_kernel()
calls ftrace_init() right after poking_init(), and ftrace_process_locs() keeps
one struct dyn_ftrace (16 bytes on 64-bit: ip and flags; x86's
dyn_arch_ftrace is empty) per site, so ENTRIES_PER_PAGE is PAGE_SIZE / 16.

ftrace_allocate_pages() sizes the records for every slot of the section
(NULL slots included): it kzalloc()s a struct ftrace_page per group and
ftrace_allocate_records() gives each group one __get_free_pages(GFP_KERNEL |
__GFP_ZERO) block of order fls(pages) - 1 for the pages still needed, so
that the groups fill without an empty page (50,945 slots: 200 pages needed,
blocks of 128, 64 and 8 pages). The NULL slots (padding the linker put
between object files, weak functions) are skipped; groups left entirely
unused are given back (pg_unuse, ftrace_free_pages()). Since commit
264143c4e544 (6.15) ftrace_process_locs() then prints what it kept:

    ftrace: allocating <sites> entries in <pages> pages
    ftrace: allocated <pages> pages with <groups> groups

the second line from ftrace_init() (ftrace_number_of_pages and _groups).

Before free_initmem(), kernel_init() calls ftrace_free_init_mem(): the
records of functions in .init.text go (the sorted table ends with them, as
.init.text follows .text), and a group left with no record gives its pages
and its struct ftrace_page back (ftrace_free_mem()).

How many sites an image has is a property of its build, the profile's
[kernel] ftrace_mcount_loc (slots), ftrace_mcount_null (NULL slots) and
ftrace_mcount_init (sites in .init.text).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kmemsim.include.linux.gfp_types import GFP, GFP_KERNEL

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

# sizeof(struct dyn_ftrace) on 64-bit (unsigned long ip, unsigned long flags) and
# 32-bit (two 4-byte words); sizeof(struct ftrace_page): next, records, index, order.
DYN_FTRACE_SIZE = {64: 16, 32: 8}
FTRACE_PAGE_SIZE = {64: 24, 32: 16}


@dataclass
class FtraceGroup:
    """One struct ftrace_page: its record block (direct-map address, order) and records kept."""

    pg: int  # the kzalloc'ed struct ftrace_page
    records: int  # __get_free_pages() block
    order: int
    index: int = 0  # records in use


@dataclass
class Ftrace:
    """ftrace_pages_start's groups; ftrace_number_of_pages and _groups are theirs."""

    groups: list[FtraceGroup] = field(default_factory=list)
    entries_per_page: int = 256

    @property
    def number_of_pages(self) -> int:
        return sum(1 << g.order for g in self.groups)

    @property
    def number_of_groups(self) -> int:
        return len(self.groups)

    @property
    def records(self) -> int:
        return sum(g.index for g in self.groups)


def records_order(num_to_init: int, entries_per_page: int) -> int:
    """ftrace_allocate_records(): the order of the next group's block for `num_to_init`
    records, the largest that does not exceed the pages they need (fls(pages) - 1)."""
    pages = -(-num_to_init // entries_per_page)
    return pages.bit_length() - 1


def fill_groups(capacities: list[int], sites: int) -> list[int]:
    """Records each group stores as ftrace_process_locs() fills them in turn.

    The groups up to the one holding the last record (the first group when
    there is no record: it stays the current one) are kept; one entry per
    kept group, the rest are unused."""
    kept: list[int] = []
    for cap in capacities:
        kept.append(min(cap, sites))
        sites -= kept[-1]
        if sites <= 0:
            break
    return kept


def printed_pages(count: int, entries_per_page: int, unused_orders: list[int]) -> int:
    """The "allocating" line's pages: those every slot needs, less the unused groups'."""
    return -(-count // entries_per_page) - sum(1 << o for o in unused_orders)


def group_plan(count: int, null: int, entries_per_page: int) -> tuple[list[int], int]:
    """Block orders of the groups kept for `count` slots of which `null` are NULL, and the
    pages the "allocating" line prints, when every block is granted at its first order."""
    orders: list[int] = []
    left = count
    while left > 0:
        orders.append(records_order(left, entries_per_page))
        left -= min(left, entries_per_page << orders[-1])
    kept = len(fill_groups([entries_per_page << o for o in orders], count - null))
    return orders[:kept], printed_pages(count, entries_per_page, orders[kept:])


def ftrace_allocate_pages(k: Kernel, epp: int, num_to_init: int) -> list[FtraceGroup] | None:
    """ftrace_allocate_pages(): groups whose record blocks hold `num_to_init` records.

    Each group takes the largest block that does not exceed the pages still
    needed (order fls(pages) - 1); a failed block is retried one order lower.
    On failure everything taken is given back and None returned."""
    groups: list[FtraceGroup] = []
    while num_to_init > 0:
        pg = k.kmalloc(FTRACE_PAGE_SIZE[k.arch.bits], int(GFP_KERNEL | GFP.ZERO))
        if not pg:
            break
        order = records_order(num_to_init, epp)
        records = 0
        while True:
            records = k.page_alloc.get_free_pages(int(GFP_KERNEL | GFP.ZERO), order)
            if records or order == 0:
                break
            order -= 1  # a smaller block, down to one page
        if not records:
            k.kfree(pg)
            break
        groups.append(FtraceGroup(pg, records, order))
        num_to_init -= min(num_to_init, epp << order)
    else:
        return groups
    k.log.pr_info("ftrace: FAILED to allocate memory for functions")
    for g in groups:
        ftrace_free_group(k, g)
    return None


def ftrace_free_group(k: Kernel, g: FtraceGroup) -> None:
    """Give back one group's record block and struct ftrace_page (ftrace_free_pages())."""
    k.page_alloc.free_pages(g.records, g.order)
    k.kfree(g.pg)


def ftrace_process_locs(k: Kernel, ft: Ftrace, count: int, null: int) -> int:
    """ftrace_process_locs() for the core kernel: records for the non-NULL slots; 0 or -ENOMEM.

    `count` slots of which `null` are NULL. The records fill the groups in
    order (fill_groups()); groups beyond the last one used are freed, and the
    pages printed are DIV_ROUND_UP(count, ENTRIES_PER_PAGE) less the freed ones."""
    epp = ft.entries_per_page
    groups = ftrace_allocate_pages(k, epp, count)
    if groups is None:
        return -12
    kept = fill_groups([epp << g.order for g in groups], count - null)
    for g, n in zip(groups, kept, strict=False):
        g.index = n
    unused = groups[len(kept) :]  # pg_unuse: left over by the NULL slots
    for g in unused:
        ftrace_free_group(k, g)
    ft.groups = groups[: len(kept)]
    pages = printed_pages(count, epp, [g.order for g in unused])
    k.log.pr_info(f"ftrace: allocating {count - null} entries in {pages} pages")
    return 0


def ftrace_init(k: Kernel) -> Ftrace | None:
    """ftrace_init() (start_kernel(), after poking_init()): the core kernel's dyn_ftrace records.

    Returns the state (also k.ftrace), or None without DYNAMIC_FTRACE or
    when the profile gives no __mcount_loc size."""
    img = k.machine.kernel_image
    if not k.config["DYNAMIC_FTRACE"] or not img.ftrace_mcount_loc:
        return None
    count = int(img.ftrace_mcount_loc)
    if count <= 0:
        k.log.pr_info("ftrace: No functions to be traced?")
        return None
    ft = Ftrace(entries_per_page=k.machine.page_size // DYN_FTRACE_SIZE[k.arch.bits])
    if ftrace_process_locs(k, ft, count, int(img.ftrace_mcount_null)):
        k.log.pr_warn("ftrace: failed to allocate entries for functions")
        return None
    k.log.pr_info(f"ftrace: allocated {ft.number_of_pages} pages with {ft.number_of_groups} groups")
    k.ftrace = ft
    return ft


def ftrace_free_init_mem(k: Kernel) -> int:
    """ftrace_free_init_mem() (kernel_init(), before free_initmem()): drop .init.text's records.

    The table is sorted by address and .init.text lies above .text, so the
    init functions' records are the last ones. A group left empty gives back
    its block and its struct ftrace_page. Returns the pages freed."""
    ft = k.ftrace
    if ft is None:
        return 0
    drop = min(int(k.machine.kernel_image.ftrace_mcount_init), ft.records)
    freed = 0
    while drop and ft.groups:
        g = ft.groups[-1]
        n = min(drop, g.index)
        g.index -= n
        drop -= n
        if g.index:
            break
        ft.groups.pop()
        freed += 1 << g.order
        ftrace_free_group(k, g)
    return freed
