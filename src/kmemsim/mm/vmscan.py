"""Model of mm/vmscan.c: kswapd and direct reclaim, with what kmemsim can reclaim.

The kernel reclaims page cache and anonymous pages from the LRU lists and
objects from shrinkers (slab caches). kmemsim has no LRU pages; what it can
reclaim is the slab layer's empty slabs (`k.slab.shrink_all()`), and pages
sitting on per-CPU lists, which the page allocator drains itself.

kswapd: an allocation that finds a zone below its low watermark (or a
fragmentation event that boosted a watermark) wakes the node's kswapd
(wakeup_kswapd). Unless the node is balanced (a zone up to the request's
highest zone meets its high watermark for the order) and not boosted, or
hopeless (kswapd_failures >= MAX_RECLAIM_RETRIES), kswapd runs balance_pgdat():
it marks the zones ZONE_RECLAIM_ACTIVE (which shrinks the per-CPU lists' high
marks), reclaims, and clears the boosts; a run that reclaims nothing counts a
failure, and after MAX_RECLAIM_RETRIES of them /proc/zoneinfo shows
node_unreclaimable 1 until some reclaim makes progress again. The model runs
kswapd at once, as if it had been scheduled right after the wake-up.

Direct reclaim (try_to_free_pages) is what a sleeping allocation does itself
in the slow path: the same shrinking, counted as allocstall.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kmemsim.include.linux.mmzone import ZoneBuddy
    from kmemsim.mm.page_alloc import PageAllocator

MAX_RECLAIM_RETRIES = 16
WMARK_HIGH = 2


class Kswapd:
    """The kswapd state of node 0 (pgdat->kswapd_order, kswapd_highest_zoneidx, kswapd_failures)."""

    def __init__(self) -> None:
        self.order = 0
        self.highest_zoneidx = 0
        self.failures = 0
        self.wakeups = 0
        self.runs = 0


def shrink_slab(pa: PageAllocator) -> int:
    """shrink_slab(): give the slab layer's empty slabs back; the pages it freed."""
    from kmemsim.mm.slab_common import slab_is_available

    if not slab_is_available(pa.k):
        return 0
    before = pa.nr_free_pages() + pa.nr_free_pcp()
    pa.k.slab.shrink_all()
    freed = max(0, pa.nr_free_pages() + pa.nr_free_pcp() - before)
    if freed:
        pa.kswapd.failures = 0
    return freed


def pgdat_balanced(pa: PageAllocator, order: int, highest_zoneidx: int) -> bool:
    """pgdat_balanced(): one eligible zone meets its high watermark for the order."""
    eligible = False
    for zb in pa.zonelist(highest_zoneidx):
        if not zb.zone.managed_pages:
            continue
        eligible = True
        if pa.zone_watermark_ok(zb, order, zb.wmark(WMARK_HIGH), highest_zoneidx, 0):
            return True
    return not eligible


def pgdat_watermark_boosted(pa: PageAllocator, highest_zoneidx: int) -> bool:
    return any(zb.watermark_boost for zb in pa.zonelist(highest_zoneidx))


def wakeup_kswapd(pa: PageAllocator, zb: ZoneBuddy, gfp: int, order: int, highest: int) -> None:
    """wakeup_kswapd(): wake the node's kswapd unless it is balanced or hopeless."""
    if not zb.zone.managed_pages:
        return
    kd = pa.kswapd
    kd.wakeups += 1
    kd.order = max(kd.order, order)
    kd.highest_zoneidx = max(kd.highest_zoneidx, highest)
    if kd.failures >= MAX_RECLAIM_RETRIES or (
        pgdat_balanced(pa, order, highest) and not pgdat_watermark_boosted(pa, highest)
    ):
        return
    balance_pgdat(pa, kd.order, kd.highest_zoneidx)
    kd.order = 0
    kd.highest_zoneidx = 0


def balance_pgdat(pa: PageAllocator, order: int, highest_zoneidx: int) -> int:
    """balance_pgdat(): one kswapd run; returns the pages reclaimed."""
    kd = pa.kswapd
    kd.runs += 1
    pa.count_event("pageoutrun")
    zones = [zb for zb in pa.zonelist(highest_zoneidx) if zb.zone.managed_pages]
    boosted = any(zb.watermark_boost for zb in zones)
    for zb in zones:
        zb.reclaim_active = True
    reclaimed = 0
    if not pgdat_balanced(pa, order, highest_zoneidx) or boosted:
        reclaimed = shrink_slab(pa)
    for zb in zones:
        zb.reclaim_active = False
        # The boost is spent by this reclaim pass (it is reset even when nothing
        # could be reclaimed, after which kswapd wakes kcompactd).
        zb.watermark_boost = 0
    if not reclaimed and not pgdat_balanced(pa, order, highest_zoneidx):
        kd.failures += 1
    return reclaimed


def try_to_free_pages(pa: PageAllocator, order: int, highest: int) -> int:
    """try_to_free_pages(): direct reclaim by the allocating task."""
    return shrink_slab(pa)


def node_unreclaimable(pa: PageAllocator) -> bool:
    """pgdat->kswapd_failures >= MAX_RECLAIM_RETRIES, as /proc/zoneinfo prints it."""
    return pa.kswapd.failures >= MAX_RECLAIM_RETRIES
