"""Taking the very block a traced kernel allocated: the page side of `replay --follow-pfn`.

A trace's mm_page_alloc event names the pfn the kernel handed out; with
--follow-pfn the replay makes the model hand out the same block, as the
kernel's take_page_off_buddy() / __isolate_free_page() take a given free
block off the buddy lists (break_down_buddy_pages() splits the larger free
block around it). The kernel itself never allocates this way on a normal
path, so this is a tool of the replay, not part of the model: it works on
the page allocator's free lists from outside and ends in the model's own
prep_new_page(), so the block passes post_alloc_hook() like any allocation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.mm.page_alloc import FPI_NONE, gfp_migratetype

if TYPE_CHECKING:
    from kmemsim.include.linux.mm_types import Page
    from kmemsim.include.linux.mmzone import ZoneBuddy
    from kmemsim.mm.page_alloc import PageAllocator


def take_free_block(pa: PageAllocator, pfn: int, order: int, gfp: int) -> Page | None:
    """Allocate exactly the block at `pfn` (take_page_off_buddy / __isolate_free_page).

    The block may sit on a per-CPU list or inside a larger free buddy block,
    which is split around it. Returns None when (part of) it is in use.
    """
    zb = pa.page_zone(pfn)
    if zb is None or pfn & ((1 << order) - 1) or order > pa.max_order:
        return None
    _take_from_pcp(pa, zb, pfn, order)
    for o in range(order, pa.nr_page_orders):
        head = pfn & ~((1 << o) - 1)
        if zb.free_block_order(head) == o:
            break
    else:
        return None
    mt = pa.get_pageblock_migratetype(zb, head)
    pa._del_from_free_list(zb, head, o, mt)
    pa._account(zb, -(1 << o), mt)
    # break_down_buddy_pages(): free the halves that do not hold the target.
    high = o
    cur = head
    while high > order:
        high -= 1
        size = 1 << high
        if pfn >= cur + size:
            other, cur = cur, cur + size
        else:
            other = cur + size
        other_mt = pa.get_pageblock_migratetype(zb, other)
        pa._add_to_free_list(zb, other, high, other_mt, False)
        pa._account(zb, size, other_mt)
    zb.pgalloc += 1 << order
    zb.numa_hit += 1
    want_mt = gfp_migratetype(int(gfp))
    return pa._prep_new_page(pfn, order, int(gfp), want_mt)


def _take_from_pcp(pa: PageAllocator, zb: ZoneBuddy, pfn: int, order: int) -> None:
    """Give back to the buddy lists any per-CPU block overlapping the wanted range."""
    for pcp in zb.pcp:
        if not pcp.count:
            continue
        for pindex, lst in enumerate(pcp.lists):
            if not lst:
                continue
            o = pa.pindex_to_order(pindex)
            size = 1 << max(o, order)
            head = pfn & ~(size - 1)
            for cand in range(head, head + size, 1 << o) if o <= order else (head,):
                if cand in lst:
                    del lst[cand]
                    pcp.count -= 1 << o
                    mt = pa.get_pageblock_migratetype(zb, cand)
                    pa._free_one_page_core(zb, cand, o, mt, FPI_NONE)
