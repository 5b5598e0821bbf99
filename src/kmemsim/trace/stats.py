"""The figures `perf kmem stat --slab --page` computes (tools/perf/builtin-kmem.c).

Slab side, per traced allocation: bytes requested and allocated, per call site
(hits, bytes, cross-CPU frees, "ping-pong" in perf's words) and, beyond perf,
per cache (the kmalloc size class the object went to, or the named cache).
A free finds its allocation through the replay's pointer map; it adds the
object's bytes_alloc to the bytes freed, and counts as a cross-CPU free when
the CPU differs from the allocating one. Internal fragmentation is
100 - 100 * requested / allocated, as perf's fragmentation() computes it.

Page side, per mm_page_alloc: requests and bytes by order and migrate type
(the 6.18 numbering: 0 Unmovable, 1 Movable, 2 Reclaimable, 3 HighAtomic;
perf 6.1 still labels the pre-4.x order, so the labels here are the kernel's
own), failures, and on mm_page_free whether the page was allocated in the
trace (alloc+freed) or before it (free-only); alloc-only is what remains.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kmemsim.include.linux.mmzone import MIGRATETYPE_NAMES

# The traced machine's page size (perf kmem's kmem_page_size; 4 KiB on x86_64).
PAGE_SIZE = 4096
# include/linux/slab.h kmalloc_type(): the GFP bits that can choose another
# kmalloc array than the normal one (__GFP_DMA, __GFP_RECLAIMABLE, __GFP_ACCOUNT).
_KMALLOC_NOT_NORMAL_BITS = 0x01 | 0x10 | 0x400000


def migratetype_name(mt: int) -> str:
    """The 6.18 name of migrate type number `mt` (without CONFIG_CMA), as
    /proc/pagetypeinfo prints it (mm/vmstat.c migratetype_names[])."""
    if 0 <= mt < len(MIGRATETYPE_NAMES):
        return MIGRATETYPE_NAMES[mt]
    return f"type {mt}"


def fragmentation(requested: int, allocated: int) -> float:
    """perf kmem's internal fragmentation, in percent."""
    if allocated == 0:
        return 0.0
    return 100.0 - 100.0 * requested / allocated


# MIGRATE_TYPES without CONFIG_CMA: Unmovable, Movable, Reclaimable, HighAtomic, Isolate.
_MT_COLUMNS = len(MIGRATETYPE_NAMES)


class ReplayStats:
    """Counters of one replay; `as_dict()` is what the JSON report holds."""

    def __init__(self, kmalloc_cache_name: Callable[[int, int], str]) -> None:
        # (slab size, gfp) -> the name of the kmalloc cache such a kmalloc uses
        self.kmalloc_cache_name = kmalloc_cache_name
        self.total_requested = 0
        self.total_allocated = 0
        self.total_freed = 0
        self.nr_allocs = 0
        self.nr_frees = 0
        self.nr_cross_frees = 0
        self.nr_unseen_frees = 0
        self.slab_alloc_failures = 0
        self.slab_free_only = 0
        self.nr_kfree_null = 0
        # call site -> [bytes_alloc, bytes_req, hits, cross-CPU frees, frees]
        self.callsites: dict[str, list[int]] = {}
        # cache name -> [bytes_alloc, bytes_req, allocs, frees, live]
        self.caches: dict[str, list[int]] = {}
        self._kmalloc_keys: dict[tuple[int, int], str] = {}
        # page allocator
        self.nr_page_allocs = 0
        self.page_alloc_bytes = 0
        self.nr_page_fails = 0
        self.page_fail_bytes = 0
        self.nr_page_frees = 0
        self.page_free_bytes = 0
        self.nr_page_nomatch = 0
        self.page_nomatch_bytes = 0
        self.order_stats: dict[int, list[int]] = {}
        self.page_gfp: dict[str, list[int]] = {}  # gfp text -> [allocs, bytes]
        # peaks from the samples of the model
        self.peak: dict[str, Any] = {}

    # ---------------------------------------------------------------- slab
    def kmalloc_key(self, alloc: int, gfp: int) -> str:
        key = (alloc, gfp & _KMALLOC_NOT_NORMAL_BITS)
        name = self._kmalloc_keys.get(key)
        if name is None:
            name = self._kmalloc_keys[key] = self.kmalloc_cache_name(alloc, gfp)
        return name

    def slab_alloc(
        self, call_site: str, cache: str, req: int, alloc: int
    ) -> tuple[list[int], list[int]]:
        """Count an allocation; returns its call site's and its cache's counters,
        which the replay keeps with the live object for its free."""
        self.nr_allocs += 1
        self.total_requested += req
        self.total_allocated += alloc
        cs = self.callsites.get(call_site)
        if cs is None:
            cs = self.callsites[call_site] = [0, 0, 0, 0, 0]
        cs[0] += alloc
        cs[1] += req
        cs[2] += 1
        c = self.caches.get(cache)
        if c is None:
            c = self.caches[cache] = [0, 0, 0, 0, 0]
        c[0] += alloc
        c[1] += req
        c[2] += 1
        c[4] += 1
        return cs, c

    def slab_free(self, rec: tuple[Any, ...], cpu: int) -> None:
        """A traced free of an object allocated in the trace: `rec` is the replay's
        (addr, cache, alloc cpu, bytes_alloc, call-site counters, cache counters)."""
        self.nr_frees += 1
        self.total_freed += rec[3]
        cs = rec[4]
        cs[4] += 1
        if rec[2] != cpu:
            self.nr_cross_frees += 1
            cs[3] += 1
        c = rec[5]
        c[3] += 1
        c[4] -= 1

    def slab_unseen_free(self, rec: tuple[Any, ...]) -> None:
        """A free the trace implies but does not show (the pointer came back)."""
        self.nr_unseen_frees += 1
        self.total_freed += rec[3]
        c = rec[5]
        c[3] += 1
        c[4] -= 1

    # ---------------------------------------------------------------- pages
    def page_alloc(self, order: int, migratetype: int, gfp_text: str) -> None:
        self.nr_page_allocs += 1
        size = PAGE_SIZE << order
        self.page_alloc_bytes += size
        row = self.order_stats.get(order)
        if row is None:
            row = self.order_stats[order] = [0] * _MT_COLUMNS
        if 0 <= migratetype < _MT_COLUMNS:
            row[migratetype] += 1
        g = self.page_gfp.get(gfp_text)
        if g is None:
            g = self.page_gfp[gfp_text] = [0, 0]
        g[0] += 1
        g[1] += size

    def page_alloc_failure(self, order: int) -> None:
        self.nr_page_allocs += 1
        self.page_alloc_bytes += PAGE_SIZE << order
        self.nr_page_fails += 1
        self.page_fail_bytes += PAGE_SIZE << order

    def page_free(self, order: int, matched: bool) -> None:
        self.nr_page_frees += 1
        self.page_free_bytes += PAGE_SIZE << order
        if not matched:
            self.nr_page_nomatch += 1
            self.page_nomatch_bytes += PAGE_SIZE << order

    # ---------------------------------------------------------------- peaks
    def note_peak(self, sample: dict[str, Any]) -> None:
        for key in ("used_pages", "slab_pages", "slab_waste_bytes"):
            value = sample.get(key)
            if value is not None and value >= self.peak.get(key, (-1, None))[0]:
                self.peak[key] = (value, sample.get("event"), sample.get("timestamp"))

    # ---------------------------------------------------------------- output
    def as_dict(self, top: int = 20) -> dict[str, Any]:
        """The figures of `perf kmem stat --slab --page`, plus per-cache rows."""
        sites = sorted(
            self.callsites.items(),
            key=lambda kv: (-fragmentation(kv[1][1], kv[1][0]), -kv[1][2], -kv[1][0]),
        )
        nr_alloc_freed = self.nr_page_frees - self.nr_page_nomatch
        freed_bytes = self.page_free_bytes - self.page_nomatch_bytes
        live_slab = sum(c[4] for c in self.caches.values())
        return {
            "slab": {
                "total_bytes_requested": self.total_requested,
                "total_bytes_allocated": self.total_allocated,
                "total_bytes_freed": self.total_freed,
                "net_total_bytes_allocated": self.total_allocated - self.total_freed,
                "total_bytes_wasted_on_internal_fragmentation": self.total_allocated
                - self.total_requested,
                "internal_fragmentation_percent": round(
                    fragmentation(self.total_requested, self.total_allocated), 6
                ),
                "cross_cpu_allocations": self.nr_cross_frees,
                "allocations": self.nr_allocs,
                "frees": self.nr_frees,
                "unseen_frees": self.nr_unseen_frees,
                "alloc_only": live_slab,
                "free_only": self.slab_free_only,
                "kfree_null": self.nr_kfree_null,
                "allocation_failures": self.slab_alloc_failures,
                "callsites": [
                    {
                        "callsite": site,
                        "total_alloc": v[0],
                        "total_req": v[1],
                        "hit": v[2],
                        "pingpong": v[3],
                        "frag_percent": round(fragmentation(v[1], v[0]), 3),
                    }
                    for site, v in sites[:top]
                ],
                "nr_callsites": len(self.callsites),
                "caches": [
                    {
                        "cache": name,
                        "total_alloc": v[0],
                        "total_req": v[1],
                        "allocs": v[2],
                        "frees": v[3],
                        "live": v[4],
                        "frag_percent": round(fragmentation(v[1], v[0]), 3),
                    }
                    for name, v in sorted(self.caches.items(), key=lambda kv: -kv[1][0])
                ],
            },
            "page": {
                "total_allocation_requests": self.nr_page_allocs,
                "total_allocation_kb": self.page_alloc_bytes // 1024,
                "total_free_requests": self.nr_page_frees,
                "total_free_kb": self.page_free_bytes // 1024,
                "total_alloc_freed_requests": nr_alloc_freed,
                "total_alloc_freed_kb": freed_bytes // 1024,
                "total_alloc_only_requests": self.nr_page_allocs - nr_alloc_freed,
                "total_alloc_only_kb": (self.page_alloc_bytes - freed_bytes) // 1024,
                "total_free_only_requests": self.nr_page_nomatch,
                "total_free_only_kb": self.page_nomatch_bytes // 1024,
                "total_allocation_failures": self.nr_page_fails,
                "total_allocation_failures_kb": self.page_fail_bytes // 1024,
                "migratetypes": [migratetype_name(m) for m in range(_MT_COLUMNS)],
                "by_order": {
                    str(order): {migratetype_name(m): n for m, n in enumerate(row) if n}
                    for order, row in sorted(self.order_stats.items())
                },
                "by_gfp": [
                    {"gfp_flags": g, "allocs": v[0], "kb": v[1] // 1024}
                    for g, v in sorted(self.page_gfp.items(), key=lambda kv: -kv[1][1])[:top]
                ],
            },
        }
