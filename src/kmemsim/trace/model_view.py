"""What a replay reads from the model: caches, slab pages, free lists, fragmentation.

The replay drives the kernel through its public interface (init/main.py);
this module reads the state a report needs from the model's structures
without changing them:

  - per slab cache (mm/slab.h struct kmem_cache, kmem_cache_node): pages and
    slabs held, objects in use, and the bytes those pages hold beyond the
    objects (wasted: unused object slots, per-object padding and metadata,
    the slab's leftover);
  - per zone (include/linux/mmzone.h free_area[]): free blocks per order;
  - which pfns are RAM of this machine (memblock.memory), for a replay that
    follows the traced pfns on another machine;
  - the unusable free space index per order, as mm/vmstat.c computes it for
    /sys/kernel/debug/extfrag/unusable_index: the fraction of free memory
    that sits in blocks too small for an allocation of that order,
    (free_pages - (free_blocks_suitable << order)) / free_pages, where
    free_blocks_suitable counts every free block of at least that order in
    units of 2**order pages (fill_contig_page_info, unusable_free_index).

It also creates the caches a trace names but the booted kernel lacks: with
the creation arguments the profile recorded for the real cache where it
knows it, or else from the object size the trace prints (bytes_req) with
the align and flags the profile declares for caches it does not know
([slab] of the profile TOML). The traced bytes_alloc is never an input.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel


def unusable_free_index(free_counts: list[int], order: int) -> float:
    """mm/vmstat.c unusable_free_index() for one zone's free block counts per order,
    as a fraction (the file prints it with three decimals)."""
    free_pages = 0
    suitable = 0
    for o, n in enumerate(free_counts):
        free_pages += n << o
        if o >= order:
            suitable += n << (o - order)
    if not free_pages:
        return 1.0  # no free memory is read as all of it unusable
    # The kernel divides in integers: thousandths, truncated.
    return ((free_pages - (suitable << order)) * 1000 // free_pages) / 1000


def unusable_free_indexes(free_counts: list[int]) -> list[float]:
    """unusable_free_index() of every order at once: free_pages - (suitable << order)
    is the free memory in blocks below `order`, a running sum."""
    free_pages = sum(n << o for o, n in enumerate(free_counts))
    if not free_pages:
        return [1.0] * len(free_counts)
    out = []
    below = 0
    for o, n in enumerate(free_counts):
        out.append((below * 1000 // free_pages) / 1000)
        below += n << o
    return out


class ModelView:
    """Read-only views of a booted kernel's allocator state, for replay reports."""

    def __init__(self, k: Kernel) -> None:
        self.k = k
        self.nr_cpus = k.machine.cpus
        self.page_size = k.machine.page_size
        self._ram_ranges: list[tuple[int, int]] = []
        self._ram_starts: list[int] | None = None
        self._ram_last: tuple[int, int] = (0, 0)  # the range the last pfn was in

    # ------------------------------------------------------------------ caches
    def create_known_cache(self, name: str) -> Any:
        """A cache with the real geometry of `name` where the profile knows it, else None."""
        from kmemsim.mm.slab_boot import kmem_cache_create_known

        return kmem_cache_create_known(self.k, name)

    def unknown_cache_args(self) -> tuple[int, int]:
        """(align, flags) the profile declares for a cache it does not know (its
        [slab] unknown_cache_align and unknown_cache_flags; 0 and none when absent)."""
        from kmemsim.include.linux.slab import SlabFlags

        declared = self.k.machine.slab
        flags = 0
        for name in declared.unknown_cache_flags:
            flags |= int(SlabFlags[name.removeprefix("SLAB_")])
        return declared.unknown_cache_align, flags

    def create_unknown_cache(self, name: str, object_size: int) -> Any:
        """kmem_cache_create(name, object_size, align, flags, NULL) with the align and
        flags the profile declares for caches it does not know. Never fitted to the
        trace: the slot size is what the model's calculate_sizes() makes of these
        arguments, and a trace whose bytes_alloc differs shows that the real
        creator passed others (an alignment, a constructor, SLAB_HWCACHE_ALIGN)."""
        align, flags = self.unknown_cache_args()
        return self.k.kmem_cache_create(name, object_size, align, flags, None)

    def caches(self) -> list[Any]:
        return list(self.k.slab.caches)

    # ------------------------------------------------------------------ memory map
    def is_ram(self, pfn: int, order: int = 0) -> bool:
        """Whether the 2**order frames at `pfn` are all RAM of this machine: inside
        one range of memblock.memory (for_each_mem_pfn_range(), the e820 or
        device-tree RAM as mem= left it). A pfn of a larger traced machine, or
        in a hole of this one's memory map, is not."""
        lo, hi = self._ram_last
        if lo <= pfn and pfn + (1 << order) <= hi:
            return True
        if self._ram_starts is None:
            self._ram_ranges = self.k.memblock.mem_pfn_ranges(self.k.direct_map.page_shift)
            self._ram_starts = [start for start, _ in self._ram_ranges]
        i = bisect.bisect_right(self._ram_starts, pfn) - 1
        if i < 0:
            return False
        self._ram_last = self._ram_ranges[i]  # the next pfn is likely in it too
        return pfn + (1 << order) <= self._ram_ranges[i][1]

    # ------------------------------------------------------------------ free lists
    def zones(self) -> list[Any]:
        """The page allocator's populated zones (struct zone with its buddy state)."""
        return [zb for zb in self.k.page_alloc.buddies if zb.zone.present_pages]

    @staticmethod
    def free_counts(zb: Any) -> list[int]:
        """free_area[order].nr_free of a zone, for every order."""
        return [zb.nr_free_order(o) for o in range(zb.nr_orders)]

    # ------------------------------------------------------------------ sampling
    def sample(self) -> dict[str, Any]:
        """The model's memory state now: what the report's time series plot."""
        out: dict[str, Any] = {}
        zones: dict[str, Any] = {}
        total_free = 0
        free_by_order: list[int] = []
        managed = 0
        pcp = 0
        for z in self.zones():
            counts = self.free_counts(z)
            free = sum(n << o for o, n in enumerate(counts))
            total_free += free
            managed += z.zone.managed_pages
            pcp += z.pcp_count()
            if len(free_by_order) < len(counts):
                free_by_order += [0] * (len(counts) - len(free_by_order))
            for o, n in enumerate(counts):
                free_by_order[o] += n
            zones[z.zone.name] = {
                "free_blocks": counts,
                "free_pages": free,
                "unusable_index": unusable_free_indexes(counts),
            }
        out["zones"] = zones
        out["free_blocks_by_order"] = free_by_order
        out["free_pages"] = total_free
        out["pcp_pages"] = pcp
        # In use: managed pages neither on the free lists nor on the per-CPU lists.
        out["used_pages"] = managed - total_free - pcp
        slab_pages = 0
        waste = 0
        per_cache: dict[str, tuple[int, int]] = {}
        for s in self.caches():
            pages = s.node.nr_pages
            if not pages:
                continue
            inuse = self.objects_inuse(s)
            w = pages * self.page_size - inuse * int(s.object_size)
            per_cache[s.name] = (pages, w)
            slab_pages += pages
            waste += w
        out["slab_pages"] = slab_pages
        out["slab_waste_bytes"] = waste
        out["caches"] = per_cache
        return out

    def objects_inuse(self, s: Any) -> int:
        """Objects allocated from cache `s` (the `objects` of /sys/kernel/slab)."""
        return self.k.slab.objects_inuse(s)
