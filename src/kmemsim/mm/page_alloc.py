"""Model of mm/page_alloc.c (Linux 6.18): the zoned buddy page allocator.

Each zone keeps free blocks of 2**order pages on free_area[order], one list per
migrate type; a free block is known by its first frame (pfn) and its order, as
PageBuddy() and buddy_order() know it. __rmqueue_smallest() takes the smallest
block that fits from the head of a list and expand() gives the upper halves
back to the list heads; __free_one_page() merges a block with its buddy
(pfn ^ (1 << order)) while the buddy is free and of the same order, then puts
it at the list head, or the tail when a merge one order up looks likely
(buddy_merge_likely) or when memblock hands memory over at boot (FPI_TO_TAIL).

Memory is grouped by mobility in pageblocks of 2**pageblock_order pages, each
with a migrate type (one byte per pageblock here); a free block always sits on
the list of its pageblock's type. When the requested type's lists are empty,
__rmqueue_claim() takes the largest block of a fallback type (fallbacks[]) and
tries to claim its whole pageblock (try_to_claim_block), else
__rmqueue_steal() takes the smallest one without claiming. High-order atomic
allocations reserve pageblocks as MIGRATE_HIGHATOMIC (about 1% of a zone).

Orders 0..PAGE_ALLOC_COSTLY_ORDER and the THP order go through per-CPU lists
(struct per_cpu_pages): refilled from the buddy lists in batches (rmqueue_bulk)
and drained back when over their auto-tuned `high` (free_pcppages_bulk).
NR_FREE_PAGES counts only the buddy lists, as in the kernel.

An allocation picks the highest zone its GFP mask allows (gfp_zone), walks the
zonelist down from it, and takes from the first zone whose free pages stay
above a watermark plus the lowmem_reserve protecting it from the higher zone
(__zone_watermark_ok). The fast path uses the low watermark; the slow path
(__alloc_pages_slowpath) wakes kswapd (mm/vmscan.py), drops to the min watermark, lets atomic
requests dig deeper (ALLOC_MIN_RESERVE, ALLOC_NON_BLOCK, ALLOC_HIGHATOMIC),
reclaims what the model can reclaim (per-CPU lists, empty slabs) for requests
that may sleep, retries as should_reclaim_retry() does, and fails with
warn_alloc()'s report. kmemsim has no page cache, no swap, no compaction and
no user processes: reclaim frees only slab pages, costly orders fail after
one reclaim pass (compaction would be the only further help), and the OOM
killer finds no victim (the kernel then panics: "System is deadlocked on
memory"), which here raises kmemsim.errors.Oops.

Host memory: a Page object exists only for an allocated block (its head frame).
A free list (FreeList) holds its blocks as ordered-dict entries keyed by pfn,
except the long stretches of consecutive MAX_PAGE_ORDER blocks that
memblock_free_all() appends at boot: those are runs (first pfn, count), one
small object whatever their length, so a freshly booted machine costs the same
host memory at 1 GiB as at 64 TiB, and the lists grow only with the blocks
the simulated system splits and frees. No loop runs over all pages; the
longest walk is one pageblock, as the kernel's move_freepages_block() does.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kmemsim.errors import Oops
from kmemsim.include.linux.export import EXPORT_SYMBOL
from kmemsim.include.linux.free_area import FreeList as FreeList
from kmemsim.include.linux.gfp_types import (
    GFP,
    GFP_USER,
    format_gfp_mask,
)
from kmemsim.include.linux.mm_types import PG, Page
from kmemsim.include.linux.mmzone import (
    MIGRATE_HIGHATOMIC,
    MIGRATE_ISOLATE,
    MIGRATE_MOVABLE,
    MIGRATE_PCPTYPES,
    MIGRATE_RECLAIMABLE,
    MIGRATE_UNMOVABLE,
    NR_LOWORDER_PCP_LISTS,
    PAGE_ALLOC_COSTLY_ORDER,
    PerCpuPages,
    PglistData,
    Zone,
    ZoneBuddy,
    ZoneType,
)
from kmemsim.include.linux.mmzone import MIGRATE_TYPES as MIGRATE_TYPES
from kmemsim.include.linux.mmzone import MIGRATETYPE_NAMES as MIGRATETYPE_NAMES
from kmemsim.mm.mm_init import configured_zones
from kmemsim.mm.vmscan import Kswapd

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel
    from kmemsim.kernel.sched.core import ExecContext

# --- constants (include/linux/mmzone.h, mm/internal.h, include/linux/gfp.h) -------------
# show_migration_types() letters, in migrate type order.
MIGRATETYPE_LETTERS = ("U", "M", "E", "H", "I")

# mm/page_alloc.c fallbacks[]: the types a request may take pages from, in order.
FALLBACKS: dict[int, tuple[int, int]] = {
    MIGRATE_UNMOVABLE: (MIGRATE_RECLAIMABLE, MIGRATE_MOVABLE),
    MIGRATE_MOVABLE: (MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE),
    MIGRATE_RECLAIMABLE: (MIGRATE_UNMOVABLE, MIGRATE_MOVABLE),
}

# Watermark indices (enum zone_watermarks) and the ALLOC_* flags of mm/internal.h.
WMARK_MIN, WMARK_LOW, WMARK_HIGH, WMARK_PROMO = 0, 1, 2, 3
ALLOC_WMARK_MIN = WMARK_MIN
ALLOC_WMARK_LOW = WMARK_LOW
ALLOC_WMARK_HIGH = WMARK_HIGH
ALLOC_NO_WATERMARKS = 0x04
ALLOC_WMARK_MASK = ALLOC_NO_WATERMARKS - 1
ALLOC_OOM = 0x08
ALLOC_NON_BLOCK = 0x10
ALLOC_MIN_RESERVE = 0x20  # == __GFP_HIGH
ALLOC_CPUSET = 0x40
ALLOC_CMA = 0x80
ALLOC_NOFRAGMENT = 0x100
ALLOC_HIGHATOMIC = 0x200
ALLOC_TRYLOCK = 0x400
ALLOC_KSWAPD = 0x800  # == __GFP_KSWAPD_RECLAIM
ALLOC_RESERVES = ALLOC_NON_BLOCK | ALLOC_MIN_RESERVE | ALLOC_HIGHATOMIC | ALLOC_OOM

# free_one_page() flags (fpi_t).
FPI_NONE = 0
FPI_TO_TAIL = 1 << 1

# Per-CPU page lists: CONFIG_PCP_BATCH_SCALE_MAX, boot pageset, flag bits.
PCP_BATCH_SCALE_MAX = 5
MIN_PERCPU_PAGELIST_HIGH_FRACTION = 8
PCPF_PREV_FREE_HIGH_ORDER = 1 << 0
PCPF_FREE_HIGH_BATCH = 1 << 1

# include/linux/ratelimit_types.h: DEFAULT_RATELIMIT_INTERVAL (5 * HZ) and _BURST.
RATELIMIT_INTERVAL_NS = 5_000_000_000
RATELIMIT_BURST = 10

# mm/vmscan.c: direct reclaim retries without progress before giving up.
MAX_RECLAIM_RETRIES = 16

# Plain-int copies of the GFP bits for the hot paths (IntFlag arithmetic is slow).
_GFP_DMA = int(GFP.DMA)
_GFP_HIGHMEM = int(GFP.HIGHMEM)
_GFP_DMA32 = int(GFP.DMA32)
_GFP_MOVABLE = int(GFP.MOVABLE)
_GFP_RECLAIMABLE = int(GFP.RECLAIMABLE)
_GFP_HIGH = int(GFP.HIGH)
_GFP_ZERO = int(GFP.ZERO)
_GFP_DIRECT_RECLAIM = int(GFP.DIRECT_RECLAIM)
_GFP_KSWAPD_RECLAIM = int(GFP.KSWAPD_RECLAIM)
_GFP_NOWARN = int(GFP.NOWARN)
_GFP_RETRY_MAYFAIL = int(GFP.RETRY_MAYFAIL)
_GFP_NOFAIL = int(GFP.NOFAIL)
_GFP_NORETRY = int(GFP.NORETRY)
_GFP_MEMALLOC = int(GFP.MEMALLOC)
_GFP_COMP = int(GFP.COMP)
_GFP_NOMEMALLOC = int(GFP.NOMEMALLOC)
_GFP_THISNODE = int(GFP.THISNODE)
_GFP_FS = int(GFP.FS)
_K_MASK = _GFP_DMA | _GFP_HIGHMEM | _GFP_DMA32 | _GFP_MOVABLE
_PG_NONE = 0  # page->flags is a plain int inside the model; PG names it when printed
_PG_HEAD = int(PG.head)


def _aligned_blocks(start: int, end: int) -> list[tuple[int, int]]:
    """[start, end) as the largest naturally aligned blocks, (pfn, order) in pfn order."""
    out = []
    while start < end:
        order = (start & -start).bit_length() - 1 if start else (end - start).bit_length()
        while start + (1 << order) > end:
            order -= 1
        out.append((start, order))
        start += 1 << order
    return out


def get_order(size: int) -> int:
    """The buddy order that holds `size` bytes (include/asm-generic/getorder.h), 4 KiB pages.

    Like the kernel's, get_order(0) wraps around: 52 on a 64-bit kernel.

    >>> get_order(4096), get_order(4097), get_order(1 << 22)
    (0, 1, 10)
    """
    return (((size - 1) & 0xFFFF_FFFF_FFFF_FFFF) >> 12).bit_length()


def mult_frac(x: int, n: int, d: int) -> int:
    """mult_frac(): x * n / d without overflowing (include/linux/math.h)."""
    q, r = divmod(x, d)
    return q * n + (r * n) // d


def rounddown_pow_of_two(n: int) -> int:
    return 1 << (n.bit_length() - 1)


def fls(x: int) -> int:
    """fls(): the 1-based index of the most significant set bit, 0 for 0."""
    return x.bit_length()


def gfp_migratetype(gfp: int) -> int:
    """gfp_migratetype(): MOVABLE and RECLAIMABLE bits give the pageblock type wanted."""
    return (gfp & (_GFP_RECLAIMABLE | _GFP_MOVABLE)) >> 3


class PageAllocator:
    """The buddy allocator of node 0: its zones' free lists, per-CPU lists and policies."""

    def __init__(self, k: Kernel) -> None:
        self.k = k
        self.pgdat: PglistData = k.pgdat
        cfg = k.config
        self.max_order: int = int(cfg["ARCH_FORCE_MAX_ORDER"])
        self.nr_page_orders = self.max_order + 1
        self.arch = k.arch
        self.bits = k.arch.bits
        self.nr_cpus: int = max(1, k.machine.cpus)
        self.page_shift: int = k.machine.page_shift
        self.pageblock_order = k.arch.pageblock_order(self.max_order)
        self.pageblock_nr_pages = 1 << self.pageblock_order
        self.thp = bool(cfg["TRANSPARENT_HUGEPAGE"]) and k.arch.transparent_hugepage
        # HPAGE_PMD_ORDER: the THP order kept on the per-CPU lists.
        self.thp_order = 9 if self.thp else -1
        # The kernel's enum zone_type: only the zones this configuration builds.
        self.zones: list[Zone] = self._configured_zones()
        self.nr_zones = len(self.zones)
        self.zone_by_type: dict[ZoneType, ZoneBuddy] = {}
        self.buddies: list[ZoneBuddy] = []
        for idx, zone in enumerate(self.zones):
            zb = ZoneBuddy(
                zone,
                idx,
                max_order=self.max_order,
                pageblock_order=self.pageblock_order,
                nr_zones=len(self.zones),
                nr_cpus=self.nr_cpus,
            )
            zone.buddy = zb
            self.zone_by_type[zone.zone_type] = zb
            self.buddies.append(zb)
        self._populated: list[ZoneBuddy] = []
        self._core_zone: ZoneBuddy | None = None  # the zone free_pages_core() last fed
        self._zonelist_cache: dict[int, list[ZoneBuddy]] = {}
        self._ac_cache: dict[int, tuple[int, int, int]] = {}
        self._refresh_populated()
        # Allocated blocks: head pfn -> Page (the only per-page host objects).
        self.pages: dict[int, Page] = {}
        # _refcount of frames that head no allocated block, where it is not 0
        # (a put_page() on a free frame drives it to -1).
        self.frame_refcount: dict[int, int] = {}
        # want_init_on_alloc() / want_init_on_free(): the init_on_alloc= and
        # init_on_free= boot parameters (CONFIG_INIT_ON_*_DEFAULT_ON are off on the
        # modelled kernels: "mem auto-init: ..., heap alloc:off, heap free:off").
        self.init_on_alloc = bool(cfg["init_on_alloc"])
        self.init_on_free = bool(cfg["init_on_free"])
        # The check_pages_enabled static key (mm/page_alloc.c): struct page sanity
        # checks at free (free_pages_prepare) and allocation (check_new_pages).
        # init_mem_debugging_and_hardening() turns it on with CONFIG_DEBUG_VM,
        # init_on_alloc, init_on_free or debug_pagealloc; a scenario may set it.
        self.check_pages_enabled = self.init_on_alloc or self.init_on_free
        # What sits at post_alloc_hook() and free_pages_prepare() (kasan_*, kmsan,
        # page_owner, debug_pagealloc), and whether either has work beyond the
        # refcount: one flag each, so that nothing attached costs one test.
        self.post_alloc_hooks: list[Callable[[Page, int, int], None]] = []
        self.free_pages_prepare_hooks: list[Callable[[int, int], None]] = []
        self._post_alloc_slow = self.init_on_alloc
        self._free_prepare_slow = self.init_on_free
        # The deferred_pages static key: zones may still grow on demand
        # (deferred_grow_zone) until page_alloc_init_late() has run.
        self.deferred_pages = bool(k.config["DEFERRED_STRUCT_PAGE_INIT"])
        self.page_group_by_mobility_disabled = False
        self.min_free_kbytes = 1024
        self.user_min_free_kbytes = -1
        # Global event counters of /proc/vmstat that the page allocator feeds.
        self.events: dict[str, int] = {}
        self.kswapd = Kswapd()
        # warn_alloc()'s ratelimit state: window start (ns), printed, missed.
        self._nopage_rs = [0, 0, 0]

    # ------------------------------------------------------------------ zones
    def _configured_zones(self) -> list[Zone]:
        wanted = configured_zones(self.k)
        by_type = {z.zone_type: z for z in self.pgdat.zones}
        out = []
        for zt in wanted:
            z = by_type.get(zt)
            if z is None:
                z = Zone(node=self.pgdat.node_id, zone_type=zt)
            out.append(z)
        return out

    def _refresh_populated(self) -> None:
        self._populated = [zb for zb in self.buddies if zb.zone.present_pages]
        self._zonelist_cache = {}
        self._ac_cache = {}

    def zone_of_type(self, zt: ZoneType) -> ZoneBuddy | None:
        return self.zone_by_type.get(zt)

    def page_zone(self, pfn: int) -> ZoneBuddy | None:
        """page_zone(): the zone whose span holds `pfn` (None outside every zone)."""
        for zb in self._populated:
            z = zb.zone
            if z.zone_start_pfn <= pfn < z.zone_start_pfn + z.spanned_pages:
                return zb
        return None

    def gfp_zone(self, gfp: int) -> int:
        """gfp_zone(): the highest zone index a mask allows (GFP_ZONE_TABLE)."""
        bits = gfp & _K_MASK
        if bits & _GFP_DMA:
            zt = ZoneType.DMA
        elif bits & GFP.DMA32:
            zt = ZoneType.DMA32
        elif bits & _GFP_HIGHMEM:
            zt = ZoneType.MOVABLE if bits & _GFP_MOVABLE else ZoneType.HIGHMEM
        else:
            zt = ZoneType.NORMAL
        zb = self.zone_by_type.get(zt)
        if zb is None:
            # OPT_ZONE_*: a zone the configuration lacks maps to ZONE_NORMAL
            # (ZONE_HIGHMEM; ZONE_DMA32 on 32-bit), ZONE_DMA without it too.
            zb = self.zone_by_type[ZoneType.NORMAL]
        return zb.idx

    def zonelist(self, highest_zoneidx: int) -> list[ZoneBuddy]:
        """The node's zonelist from `highest_zoneidx` down, populated zones only."""
        zl = self._zonelist_cache.get(highest_zoneidx)
        if zl is None:
            zl = [zb for zb in reversed(self._populated) if zb.idx <= highest_zoneidx]
            self._zonelist_cache[highest_zoneidx] = zl
        return zl

    # ------------------------------------------------------------------ pageblocks
    def get_pageblock_migratetype(self, zb: ZoneBuddy, pfn: int) -> int:
        return zb.pageblock_mt[(pfn >> self.pageblock_order) - zb.pb_base]

    def set_pageblock_migratetype(self, zb: ZoneBuddy, pfn: int, mt: int) -> None:
        if self.page_group_by_mobility_disabled and mt < MIGRATE_PCPTYPES:
            mt = MIGRATE_UNMOVABLE
        zb.pageblock_mt[(pfn >> self.pageblock_order) - zb.pb_base] = mt

    def change_pageblock_range(self, zb: ZoneBuddy, pfn: int, order: int, mt: int) -> None:
        nr = max(1, 1 << (order - self.pageblock_order)) if order >= self.pageblock_order else 1
        for i in range(nr):
            self.set_pageblock_migratetype(zb, pfn + (i << self.pageblock_order), mt)

    # ------------------------------------------------------------------ free lists
    def _account(self, zb: ZoneBuddy, nr: int, mt: int) -> None:
        """account_freepages(): NR_FREE_PAGES and the free highatomic count."""
        if mt == MIGRATE_ISOLATE:
            return
        zb.nr_free += nr
        if mt == MIGRATE_HIGHATOMIC:
            zb.nr_free_highatomic += nr

    def _add_to_free_list(self, zb: ZoneBuddy, pfn: int, order: int, mt: int, tail: bool) -> None:
        zb.free_list[order][mt].add(pfn, tail)

    def _del_from_free_list(self, zb: ZoneBuddy, pfn: int, order: int, mt: int) -> None:
        zb.free_list[order][mt].remove(pfn)

    def _expand(self, zb: ZoneBuddy, pfn: int, low: int, high: int, mt: int) -> int:
        """expand(): put the upper halves of a split block back on the list heads."""
        nr_added = 0
        size = 1 << high
        free_list = zb.free_list
        while high > low:
            high -= 1
            size >>= 1
            free_list[high][mt].add(pfn + size, False)
            nr_added += size
        return nr_added

    def _page_del_and_expand(self, zb: ZoneBuddy, pfn: int, low: int, high: int, mt: int) -> None:
        zb.free_list[high][mt].remove(pfn)
        nr_pages = 1 << high
        nr_pages -= self._expand(zb, pfn, low, high, mt)
        self._account(zb, -nr_pages, mt)

    def _rmqueue_smallest(self, zb: ZoneBuddy, order: int, mt: int) -> int:
        """__rmqueue_smallest(): the first block of the smallest order that fits, or -1."""
        free_list = zb.free_list
        for current_order in range(order, self.nr_page_orders):
            lst = free_list[current_order][mt]
            # lst.first(), inlined: the head part, else the first run (the tail
            # part holds blocks only while there are runs).
            head = lst.head
            if head:
                pfn = next(iter(head))
            elif lst.runs:
                pfn = lst.runs[0].start
            else:
                continue
            self._page_del_and_expand(zb, pfn, order, current_order, mt)
            return pfn
        return -1

    def _buddy_is_free(self, zb: ZoneBuddy, buddy_pfn: int, order: int) -> bool:
        # Only asked below MAX_PAGE_ORDER, where no block sits in a run: the index suffices.
        return zb.buddy_order.get(buddy_pfn, -1) == order

    def _free_one_page_core(self, zb: ZoneBuddy, pfn: int, order: int, mt: int, fpi: int) -> None:
        """__free_one_page(): merge with free buddies, then add to the head or tail."""
        self._account(zb, 1 << order, mt)
        buddy_order = zb.buddy_order
        max_order = self.max_order
        pb_order = self.pageblock_order
        buddy_pfn = 0
        # Buddies are looked for below MAX_PAGE_ORDER only, where the index knows them all.
        while order < max_order:
            buddy_pfn = pfn ^ (1 << order)
            if buddy_order.get(buddy_pfn, -1) != order:
                break
            buddy_mt = mt
            if order >= pb_order:
                buddy_mt = self.get_pageblock_migratetype(zb, buddy_pfn)
                if buddy_mt != mt and (buddy_mt >= MIGRATE_PCPTYPES or mt >= MIGRATE_PCPTYPES):
                    break
            zb.free_list[order][buddy_mt].remove(buddy_pfn)
            if buddy_mt != mt:
                # Match the buddy's pageblock to ours so expand() keeps lists right.
                self.set_pageblock_migratetype(zb, buddy_pfn, mt)
            pfn &= buddy_pfn
            order += 1
        if fpi & FPI_TO_TAIL:
            to_tail = True
        else:
            to_tail = self._buddy_merge_likely(zb, pfn, buddy_pfn, order)
        zb.free_list[order][mt].add(pfn, to_tail)

    def _buddy_merge_likely(self, zb: ZoneBuddy, pfn: int, buddy_pfn: int, order: int) -> bool:
        """buddy_merge_likely(): is the buddy of the next order up free?"""
        if order >= self.max_order - 1:
            return False
        higher_pfn = buddy_pfn & pfn
        return self._buddy_is_free(zb, higher_pfn ^ (1 << (order + 1)), order + 1)

    def _free_one_page(self, zb: ZoneBuddy, pfn: int, order: int, fpi: int) -> None:
        """free_one_page() / split_large_buddy(): above pageblock_order, pageblock by pageblock."""
        if order <= self.pageblock_order:
            mt = self.get_pageblock_migratetype(zb, pfn)
            self._free_one_page_core(zb, pfn, order, mt, fpi)
            return
        end = pfn + (1 << order)
        step = self.pageblock_order
        while pfn < end:
            mt = self.get_pageblock_migratetype(zb, pfn)
            self._free_one_page_core(zb, pfn, step, mt, fpi)
            pfn += 1 << step

    # ------------------------------------------------------------------ boot
    def free_pages_core(self, pfn: int, order: int) -> None:
        """__free_pages_core(): memblock gives a block to the buddy allocator (to the tail).

        A MAX_PAGE_ORDER block whose pageblocks share a mergeable type extends the
        run at the tail of its list; free_pages_core_blocks() does a stretch of
        them in one call.
        """
        # memblock_free_all() calls this once per MAX_PAGE_ORDER block, millions of
        # times on a large machine: the zone of the previous block is tried first.
        zb = self._core_zone
        if zb is None or not 0 <= pfn - zb.zone.zone_start_pfn < zb.zone.spanned_pages:
            zb = self._core_zone = self.page_zone(pfn)
            if zb is None:
                return
        nr = 1 << order
        zb.zone.managed_pages += nr
        pb_order = self.pageblock_order
        if order == self.max_order and order > pb_order:
            # Same outcome as split_large_buddy() freeing each pageblock in turn and
            # merging them, when all of its pageblocks share one mergeable type.
            pbm = zb.pageblock_mt
            base = (pfn >> pb_order) - zb.pb_base
            n = 1 << (order - pb_order)
            mt = pbm[base]
            if mt < MIGRATE_PCPTYPES and pbm.count(mt, base, base + n) == n:
                zb.nr_free += nr  # account_freepages() of a per-CPU type
                lst = zb.free_list[order][mt]
                # lst.append_run_block(pfn), its common case inlined: pfn follows the last run.
                runs = lst.runs
                if runs and not lst.tail:
                    last = runs[-1]
                    if last.start + (last.count << order) == pfn:
                        last.count += 1
                        lst.nr_run += 1
                        return
                lst.append_run_block(pfn)
                return
        self._free_one_page(zb, pfn, order, FPI_TO_TAIL)

    def free_pages_core_blocks(self, pfn: int, count: int) -> None:
        """__free_pages_core() of `count` consecutive MAX_PAGE_ORDER blocks from pfn.

        The same lists and counts as free_pages_core(pfn + i * 2**MAX_PAGE_ORDER,
        MAX_PAGE_ORDER) for each block in turn, as __free_pages_memory() hands a
        long free range over, but where a zone's stretch of them has pageblocks
        of one mergeable type (as all are at boot), the stretch is appended as one
        run: no time or memory per block.
        """
        order = self.max_order
        pb_order = self.pageblock_order
        end = pfn + (count << order)
        while pfn < end:
            zb = self.page_zone(pfn)
            if zb is None:
                self.free_pages_core(pfn, order)
                pfn += 1 << order
                continue
            zone_end = zb.zone.zone_start_pfn + zb.zone.spanned_pages
            n = (min(end, zone_end) - pfn) >> order
            if n > 1 and order > pb_order:
                pbm = zb.pageblock_mt
                base = (pfn >> pb_order) - zb.pb_base
                nb = n << (order - pb_order)
                mt = pbm[base]
                if mt < MIGRATE_PCPTYPES and pbm.count(mt, base, base + nb) == nb:
                    nr = n << order
                    zb.zone.managed_pages += nr
                    zb.nr_free += nr  # account_freepages() of a per-CPU type
                    zb.free_list[order][mt].append_run_block(pfn, n)
                    pfn += nr
                    continue
            for _ in range(max(n, 1)):
                self.free_pages_core(pfn, order)
                pfn += 1 << order

    def free_reserved_page(self, pfn: int) -> None:
        """free_reserved_page() (include/linux/mm.h): one boot-reserved frame to the allocator.

        What free_reserved_area() does for each frame of the initrd and the
        __init sections: ClearPageReserved(), init_page_count() (refcount 1),
        __free_page(), whose put_page_testzero() frees the frame through
        __free_frozen_pages(), so it lands on the current CPU's per-CPU list
        (and nr_pcp_high() clamps that list's `high` into [high_min, high_max]),
        then adjust_managed_page_count(+1). Unlike __free_pages_core() at
        memblock_free_all(), which goes straight to the buddy lists.
        """
        zb = self.page_zone(pfn)
        if zb is None:
            return
        self.adjust_managed_page_count(pfn, 1)
        self.free_frozen_pages(pfn, 0)

    def adjust_managed_page_count(self, pfn: int, count: int) -> None:
        """adjust_managed_page_count(): a zone gains or loses managed pages."""
        zb = self.page_zone(pfn)
        if zb is not None:
            zb.zone.managed_pages += count

    # ------------------------------------------------------------------ counts
    def nr_free_pages(self) -> int:
        """global NR_FREE_PAGES (MemFree)."""
        return sum(zb.nr_free for zb in self.buddies)

    def nr_free_pcp(self) -> int:
        """Pages sitting on per-CPU lists (free_pcp)."""
        return sum(zb.pcp_count() for zb in self.buddies)

    def totalram_pages(self) -> int:
        """totalram_pages(): the managed pages of all zones, and the deferred pages.

        memblock_free_all() adds every page of the free ranges to _totalram_pages,
        those whose struct pages are deferred (CONFIG_DEFERRED_STRUCT_PAGE_INIT)
        too; they join a zone's managed_pages when deferred init frees them."""
        return sum(zb.zone.managed_pages for zb in self.buddies) + self.pgdat.nr_deferred_pages

    def totalhigh_pages(self) -> int:
        zb = self.zone_by_type.get(ZoneType.HIGHMEM)
        return zb.zone.managed_pages if zb else 0

    def nr_free_highpages(self) -> int:
        zb = self.zone_by_type.get(ZoneType.HIGHMEM)
        return zb.nr_free if zb else 0

    def zone_free_pages(self, zt: ZoneType) -> int:
        zb = self.zone_by_type.get(zt)
        return zb.nr_free if zb else 0

    def nr_allocated_pages(self) -> int:
        """Pages in blocks handed out (the heads known to the allocator)."""
        return sum(1 << p.order for p in self.pages.values())

    def nr_free_zone_pages(self, offset: int) -> int:
        """nr_free_zone_pages(): managed pages above the high watermark, zones <= offset."""
        total = 0
        for zb in self.zonelist(offset):
            size = zb.zone.managed_pages
            high = zb.wmark(WMARK_HIGH)
            if size > high:
                total += size - high
        return total

    def nr_free_buffer_pages(self) -> int:
        """nr_free_buffer_pages(): nr_free_zone_pages(gfp_zone(GFP_USER))."""
        return self.nr_free_zone_pages(self.gfp_zone(GFP_USER))

    def count_event(self, name: str, n: int = 1) -> None:
        self.events[name] = self.events.get(name, 0) + n

    # ------------------------------------------------------------------ struct page
    def pfn_valid(self, pfn: int) -> bool:
        return self.page_zone(pfn) is not None

    @EXPORT_SYMBOL
    def pfn_to_page(self, pfn: int) -> Page:
        """pfn_to_page(): the Page of an allocated head, or a view of any other frame.

        A tail frame of an allocated compound block gets a view whose head is the
        block's Page (compound_head()); a free frame a view with refcount 0.
        """
        page = self.pages.get(pfn)
        if page is not None:
            return page
        head = self._find_head(pfn)
        view = Page(pfn, 0, 0)
        view._refcount = self.frame_refcount.get(pfn, 0)
        if head is not None:
            view.migratetype = head.migratetype
            if head.flags & PG.head:
                view.head = head
        return view

    def _find_head(self, pfn: int) -> Page | None:
        pages = self.pages
        for o in range(1, self.nr_page_orders):
            head = pages.get(pfn & ~((1 << o) - 1))
            if head is not None and head.order >= o:
                return head
        return None

    def compound_head(self, page_or_pfn: Page | int) -> Page:
        """compound_head(): the head Page of the block a frame belongs to."""
        if isinstance(page_or_pfn, int):
            page_or_pfn = self.pfn_to_page(page_or_pfn)
        return page_or_pfn.head if page_or_pfn.head is not None else page_or_pfn

    @EXPORT_SYMBOL
    def page_address(self, page: Page) -> int:
        """page_address(): the direct-map address of a page; for highmem its kmap() address,
        0 (NULL) when it has none (mm/highmem.py)."""
        dm = self.k.direct_map
        if page.pfn >= dm.max_low_pfn:
            return self.k.highmem.page_address_high(page.pfn)
        return int(dm.pfn_to_virt(page.pfn))

    @EXPORT_SYMBOL
    def virt_to_page(self, vaddr: int) -> Page:
        """virt_to_page(): the struct page of a direct-map address."""
        return self.pfn_to_page(self.k.direct_map.virt_to_pfn(vaddr))

    @staticmethod
    @EXPORT_SYMBOL
    def page_to_pfn(page: Page) -> int:
        """page_to_pfn()."""
        return page.pfn

    @staticmethod
    @EXPORT_SYMBOL
    def get_order(size: int) -> int:
        """get_order(): the buddy order that holds `size` bytes (include/asm-generic/getorder.h)."""
        return get_order(size)

    # ------------------------------------------------------------------ watermarks
    def _unusable_free(self, zb: ZoneBuddy, order: int, alloc_flags: int) -> int:
        """__zone_watermark_unusable_free()."""
        unusable = (1 << order) - 1
        if not alloc_flags & ALLOC_RESERVES:
            unusable += zb.nr_free_highatomic
        return unusable

    def zone_watermark_ok(
        self,
        zb: ZoneBuddy,
        order: int,
        mark: int,
        highest_zoneidx: int,
        alloc_flags: int,
        free_pages: int | None = None,
    ) -> bool:
        """__zone_watermark_ok(): free pages above mark + lowmem_reserve, and a block."""
        if free_pages is None:
            free_pages = zb.nr_free
        m = mark
        free_pages -= self._unusable_free(zb, order, alloc_flags)
        if alloc_flags & ALLOC_RESERVES:
            if alloc_flags & ALLOC_MIN_RESERVE:
                m -= m // 2
                if alloc_flags & ALLOC_NON_BLOCK:
                    m -= m // 4
            if alloc_flags & ALLOC_OOM:
                m -= m // 2
        if free_pages <= m + zb.lowmem_reserve[highest_zoneidx]:
            return False
        if not order:
            return True
        for o in range(order, self.nr_page_orders):
            lists = zb.free_list[o]
            for mt in range(MIGRATE_PCPTYPES):
                lst = lists[mt]
                if lst.head or lst.runs:  # bool(lst) without the call
                    return True
            if alloc_flags & (ALLOC_HIGHATOMIC | ALLOC_OOM) and lists[MIGRATE_HIGHATOMIC]:
                return True
        return False

    def _zone_watermark_fast(
        self, zb: ZoneBuddy, order: int, mark: int, highest_zoneidx: int, alloc_flags: int
    ) -> bool:
        """zone_watermark_fast()."""
        free_pages = zb.nr_free
        if not order:
            reserved = self._unusable_free(zb, 0, alloc_flags)
            usable = free_pages - min(free_pages, reserved)
            if usable > mark + zb.lowmem_reserve[highest_zoneidx]:
                return True
        if self.zone_watermark_ok(zb, order, mark, highest_zoneidx, alloc_flags, free_pages):
            return True
        if (
            not order
            and alloc_flags & ALLOC_MIN_RESERVE
            and zb.watermark_boost
            and (alloc_flags & ALLOC_WMARK_MASK) == WMARK_MIN
        ):
            return self.zone_watermark_ok(
                zb, order, zb.watermark[WMARK_MIN], highest_zoneidx, alloc_flags, free_pages
            )
        return False

    # ------------------------------------------------------------------ fallback
    def _should_try_claim_block(self, order: int, start_mt: int) -> bool:
        if order >= self.pageblock_order:
            return True
        if order >= self.pageblock_order // 2:
            return True
        if start_mt in (MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE):
            return True
        return self.page_group_by_mobility_disabled

    def _find_suitable_fallback(self, zb: ZoneBuddy, order: int, mt: int, claimable: bool) -> int:
        """find_suitable_fallback(): -1 none in this order, -2 too low to claim."""
        if claimable and not self._should_try_claim_block(order, mt):
            return -2
        lists = zb.free_list[order]
        for fallback_mt in FALLBACKS[mt]:
            if lists[fallback_mt]:
                return fallback_mt
        return -1

    def _boost_watermark(self, zb: ZoneBuddy) -> bool:
        factor = int(self.k.config["watermark_boost_factor"])
        if not factor:
            return False
        if self.pageblock_nr_pages * 4 > zb.zone.managed_pages:
            return False
        max_boost = mult_frac(zb.watermark[WMARK_HIGH], factor, 10000)
        if not max_boost:
            return False
        max_boost = max(self.pageblock_nr_pages, max_boost)
        zb.watermark_boost = min(zb.watermark_boost + self.pageblock_nr_pages, max_boost)
        return True

    def _block_bounds(self, zb: ZoneBuddy, pfn: int) -> tuple[int, int] | None:
        start = pfn & ~(self.pageblock_nr_pages - 1)
        end = start + self.pageblock_nr_pages
        z = zb.zone
        if start < z.zone_start_pfn or end > z.zone_end_pfn:
            return None
        return start, end

    def _prep_move_freepages_block(self, zb: ZoneBuddy, pfn: int) -> tuple[int, int, int] | None:
        """prep_move_freepages_block(): (start_pfn, free pages, movable pages) of the block."""
        bounds = self._block_bounds(zb, pfn)
        if bounds is None:
            return None
        start, end = bounds
        free = movable = 0
        pages = self.pages
        p = start
        while p < end:
            o = zb.free_block_order(p)
            if o >= 0:
                free += 1 << o
                p += 1 << o
                continue
            page = pages.get(p)
            if page is not None:
                if page.migratetype == MIGRATE_MOVABLE:
                    movable += 1 << page.order
                p += 1 << page.order
                continue
            p += 1
        return start, free, movable

    def _move_freepages_block(self, zb: ZoneBuddy, start: int, old_mt: int, new_mt: int) -> int:
        """__move_freepages_block(): move the block's free pages to new_mt's lists."""
        end = start + self.pageblock_nr_pages
        moved = 0
        p = start
        while p < end:
            o = zb.free_block_order(p)
            if o < 0:
                page = self.pages.get(p)
                p += (1 << page.order) if page is not None else 1
                continue
            self._del_from_free_list(zb, p, o, old_mt)
            self._add_to_free_list(zb, p, o, new_mt, True)
            self._account(zb, -(1 << o), old_mt)
            self._account(zb, 1 << o, new_mt)
            moved += 1 << o
            p += 1 << o
        return moved

    def move_freepages_block(self, zb: ZoneBuddy, pfn: int, old_mt: int, new_mt: int) -> int:
        """move_freepages_block(): -1 when the block crosses the zone boundary."""
        prep = self._prep_move_freepages_block(zb, pfn)
        if prep is None:
            return -1
        start = prep[0]
        moved = self._move_freepages_block(zb, start, old_mt, new_mt)
        self.set_pageblock_migratetype(zb, start, new_mt)
        return moved

    def _try_to_claim_block(
        self,
        zb: ZoneBuddy,
        pfn: int,
        current_order: int,
        order: int,
        start_type: int,
        block_type: int,
        alloc_flags: int,
    ) -> int:
        """try_to_claim_block(): take the whole pageblock for start_type if enough fits."""
        if current_order >= self.pageblock_order:
            self._del_from_free_list(zb, pfn, current_order, block_type)
            self._account(zb, -(1 << current_order), block_type)
            self.change_pageblock_range(zb, pfn, current_order, start_type)
            nr_added = self._expand(zb, pfn, order, current_order, start_type)
            self._account(zb, nr_added, start_type)
            return pfn
        if self._boost_watermark(zb) and alloc_flags & ALLOC_KSWAPD:
            zb.boosted_watermark = True
        prep = self._prep_move_freepages_block(zb, pfn)
        if prep is None:
            return -1
        start, free_pages, movable_pages = prep
        if start_type == MIGRATE_MOVABLE:
            alike = movable_pages
        elif block_type == MIGRATE_MOVABLE:
            alike = self.pageblock_nr_pages - (free_pages + movable_pages)
        else:
            alike = 0
        if (
            free_pages + alike >= (1 << (self.pageblock_order - 1))
            or self.page_group_by_mobility_disabled
        ):
            self._move_freepages_block(zb, start, block_type, start_type)
            self.set_pageblock_migratetype(zb, start, start_type)
            return self._rmqueue_smallest(zb, order, start_type)
        return -1

    def _rmqueue_claim(self, zb: ZoneBuddy, order: int, start_mt: int, alloc_flags: int) -> int:
        min_order = order
        if order < self.pageblock_order and alloc_flags & ALLOC_NOFRAGMENT:
            min_order = self.pageblock_order
        for current_order in range(self.max_order, min_order - 1, -1):
            fallback_mt = self._find_suitable_fallback(zb, current_order, start_mt, True)
            if fallback_mt == -1:
                continue
            if fallback_mt == -2:
                break
            pfn = zb.free_list[current_order][fallback_mt].first()
            got = self._try_to_claim_block(
                zb, pfn, current_order, order, start_mt, fallback_mt, alloc_flags
            )
            if got >= 0:
                self.count_event("extfrag", 1)
                return got
        return -1

    def _rmqueue_steal(self, zb: ZoneBuddy, order: int, start_mt: int) -> int:
        for current_order in range(order, self.nr_page_orders):
            fallback_mt = self._find_suitable_fallback(zb, current_order, start_mt, False)
            if fallback_mt == -1:
                continue
            pfn = zb.free_list[current_order][fallback_mt].first()
            self._page_del_and_expand(zb, pfn, order, current_order, fallback_mt)
            return pfn
        return -1

    def _rmqueue(
        self, zb: ZoneBuddy, order: int, mt: int, alloc_flags: int, mode: list[int]
    ) -> int:
        """__rmqueue(): own type first, then claim a fallback block, then steal.

        `mode` remembers where the last call found pages (enum rmqueue_mode:
        0 normal, 2 claim, 3 steal), as rmqueue_bulk() passes it along.
        """
        if mode[0] == 0:
            pfn = self._rmqueue_smallest(zb, order, mt)
            if pfn >= 0:
                return pfn
        if mode[0] <= 2:
            pfn = self._rmqueue_claim(zb, order, mt, alloc_flags)
            if pfn >= 0:
                mode[0] = 0
                return pfn
        if not alloc_flags & ALLOC_NOFRAGMENT:
            pfn = self._rmqueue_steal(zb, order, mt)
            if pfn >= 0:
                mode[0] = 3
                return pfn
        return -1

    # ------------------------------------------------------------------ per-CPU lists
    def pcp_allowed_order(self, order: int) -> bool:
        return order <= PAGE_ALLOC_COSTLY_ORDER or order == self.thp_order

    def order_to_pindex(self, mt: int, order: int) -> int:
        if order > PAGE_ALLOC_COSTLY_ORDER:
            return NR_LOWORDER_PCP_LISTS + (1 if mt == MIGRATE_MOVABLE else 0)
        return MIGRATE_PCPTYPES * order + mt

    def pindex_to_order(self, pindex: int) -> int:
        if pindex >= NR_LOWORDER_PCP_LISTS:
            return self.thp_order
        return pindex // MIGRATE_PCPTYPES

    def _nr_pcp_alloc(self, pcp: PerCpuPages, zb: ZoneBuddy, order: int) -> int:
        base_batch = pcp.batch
        high_min, high_max = pcp.high_min, pcp.high_max
        high = pcp.high = min(max(pcp.high, high_min), high_max)
        if high < base_batch:
            return 1
        batch = base_batch if order else base_batch << pcp.alloc_factor
        if high_min != high_max and not zb.below_high:
            high = pcp.high = min(high + batch, high_max)
        if not order:
            max_nr_alloc = max(high - pcp.count - base_batch, base_batch)
            if batch <= max_nr_alloc and pcp.alloc_factor < PCP_BATCH_SCALE_MAX:
                pcp.alloc_factor += 1
            batch = min(batch, max_nr_alloc)
        if batch > 1:
            batch = max(batch >> order, 2)
        return batch

    def _rmqueue_bulk(
        self,
        zb: ZoneBuddy,
        order: int,
        count: int,
        lst: OrderedDict[int, None],
        mt: int,
        alloc_flags: int,
    ) -> int:
        mode = [0]
        i = 0
        while i < count:
            pfn = self._rmqueue(zb, order, mt, alloc_flags, mode)
            if pfn < 0:
                break
            lst[pfn] = None
            i += 1
        return i

    def _rmqueue_pcplist(self, zb: ZoneBuddy, order: int, mt: int, alloc_flags: int) -> int:
        pcp = zb.pcp[self._cpu()]
        pcp.free_count >>= 1
        lst = pcp.lists[self.order_to_pindex(mt, order)]
        if not lst:
            batch = self._nr_pcp_alloc(pcp, zb, order)
            alloced = self._rmqueue_bulk(zb, order, batch, lst, mt, alloc_flags)
            pcp.count += alloced << order
            if not lst:
                return -1
        pfn, _ = lst.popitem(last=False)
        pcp.count -= 1 << order
        return pfn

    def _nr_pcp_high(self, pcp: PerCpuPages, zb: ZoneBuddy, batch: int, free_high: bool) -> int:
        high_min, high_max = pcp.high_min, pcp.high_max
        high = pcp.high = min(max(pcp.high, high_min), high_max)
        if not high:
            return 0
        if free_high:
            pcp.high = max(high - (batch << PCP_BATCH_SCALE_MAX), high_min)
            return 0
        if zb.reclaim_active:
            free_count = max(pcp.free_count, batch)
            pcp.high = max(high - free_count, high_min)
            return min(batch << 2, pcp.high)
        if high_min == high_max:
            return high
        if zb.below_high:
            free_count = max(pcp.free_count, batch)
            pcp.high = max(high - free_count, high_min)
            high = max(pcp.count, high_min)
        elif pcp.count >= high:
            need_high = pcp.free_count + batch
            if pcp.high < need_high:
                pcp.high = min(max(need_high, high_min), high_max)
        return high

    @staticmethod
    def _nr_pcp_free(pcp: PerCpuPages, batch: int, high: int, free_high: bool) -> int:
        if free_high:
            return min(pcp.count, batch << PCP_BATCH_SCALE_MAX)
        if high < batch:
            return 1
        min_nr_free = batch
        max_nr_free = high - batch
        return max(min(pcp.free_count, max_nr_free), min_nr_free)

    def free_pcppages_bulk(self, zb: ZoneBuddy, count: int, pcp: PerCpuPages, pindex: int) -> None:
        """free_pcppages_bulk(): give pages back round-robin, from each list's tail."""
        count = min(pcp.count, count)
        pindex -= 1
        nr_lists = len(pcp.lists)
        while count > 0:
            while True:
                pindex += 1
                if pindex > nr_lists - 1:
                    pindex = 0
                lst = pcp.lists[pindex]
                if lst:
                    break
            order = self.pindex_to_order(pindex)
            nr_pages = 1 << order
            while True:
                pfn, _ = lst.popitem(last=True)
                mt = self.get_pageblock_migratetype(zb, pfn)
                count -= nr_pages
                pcp.count -= nr_pages
                self._free_one_page_core(zb, pfn, order, mt, FPI_NONE)
                if count <= 0 or not lst:
                    break

    def _free_frozen_page_commit(
        self, zb: ZoneBuddy, pcp: PerCpuPages, pfn: int, mt: int, order: int
    ) -> None:
        pcp.alloc_factor >>= 1
        pindex = self.order_to_pindex(mt, order)
        lst = pcp.lists[pindex]
        lst[pfn] = None
        lst.move_to_end(pfn, last=False)
        pcp.count += 1 << order
        batch = pcp.batch
        free_high = False
        if order and order <= PAGE_ALLOC_COSTLY_ORDER:
            free_high = (
                pcp.free_count >= batch + pcp.high_min // 2
                and bool(pcp.flags & PCPF_PREV_FREE_HIGH_ORDER)
                and (not pcp.flags & PCPF_FREE_HIGH_BATCH or pcp.count >= batch)
            )
            pcp.flags |= PCPF_PREV_FREE_HIGH_ORDER
        elif pcp.flags & PCPF_PREV_FREE_HIGH_ORDER:
            pcp.flags &= ~PCPF_PREV_FREE_HIGH_ORDER
        if pcp.free_count < (batch << PCP_BATCH_SCALE_MAX):
            pcp.free_count += 1 << order
        high = self._nr_pcp_high(pcp, zb, batch, free_high)
        if pcp.count >= high:
            self.free_pcppages_bulk(zb, self._nr_pcp_free(pcp, batch, high, free_high), pcp, pindex)
            if zb.below_high and self.zone_watermark_ok(
                zb, 0, zb.wmark(WMARK_HIGH), self.nr_zones - 1, 0
            ):
                zb.below_high = False

    def decay_pcp_high(self, zb: ZoneBuddy, pcp: PerCpuPages) -> int:
        """decay_pcp_high(): lower an idle CPU's high by 1/8 toward high_min, drain the excess."""
        todo = 0
        high_min, batch = pcp.high_min, pcp.batch
        if pcp.high > high_min:
            pcp.high = max(
                pcp.count - (batch << PCP_BATCH_SCALE_MAX), pcp.high - (pcp.high >> 3), high_min
            )
            if pcp.high > high_min:
                todo += 1
        to_drain = pcp.count - pcp.high
        if to_drain > 0:
            self.free_pcppages_bulk(zb, to_drain, pcp, 0)
            todo += 1
        return todo

    def refresh_cpu_vm_stats(self) -> int:
        """The periodic vmstat_update() work (every stat_interval, 1 s): decay every pcp high.

        The model has no clock of its own; a scenario or a replay calls this
        when a second of simulated time has passed.
        """
        return sum(self.decay_pcp_high(zb, pcp) for zb in self._populated for pcp in zb.pcp)

    def drain_zone_pages(self, zb: ZoneBuddy, cpu: int | None = None) -> int:
        """drain_pages_zone(): empty the per-CPU lists of a zone (every CPU by default)."""
        drained = 0
        for c, pcp in enumerate(zb.pcp):
            if cpu is not None and c != cpu:
                continue
            if pcp.count:
                drained += pcp.count
                self.free_pcppages_bulk(zb, pcp.count, pcp, 0)
        return drained

    def drain_all_pages(self) -> int:
        """drain_all_pages(NULL): every zone's per-CPU lists back to the buddy lists."""
        return sum(self.drain_zone_pages(zb) for zb in self.buddies)

    @property
    def sched(self) -> ExecContext:
        """The kernel's execution context (k.sched): the current task and CPU."""
        return self.k.sched

    def _cpu(self) -> int:
        return self.k.sched.current_cpu % self.nr_cpus

    # ------------------------------------------------------------------ rmqueue
    def _rmqueue_buddy(self, zb: ZoneBuddy, order: int, alloc_flags: int, mt: int) -> int:
        pfn = -1
        if alloc_flags & ALLOC_HIGHATOMIC:
            pfn = self._rmqueue_smallest(zb, order, MIGRATE_HIGHATOMIC)
        if pfn < 0:
            pfn = self._rmqueue(zb, order, mt, alloc_flags, [0])
            if pfn < 0 and alloc_flags & (ALLOC_OOM | ALLOC_NON_BLOCK):
                pfn = self._rmqueue_smallest(zb, order, MIGRATE_HIGHATOMIC)
        return pfn

    def _rmqueue_zone(self, zb: ZoneBuddy, order: int, alloc_flags: int, mt: int) -> int:
        pfn = -1
        if self.pcp_allowed_order(order):
            pfn = self._rmqueue_pcplist(zb, order, mt, alloc_flags)
        if pfn < 0:
            pfn = self._rmqueue_buddy(zb, order, alloc_flags, mt)
            if pfn < 0:
                return -1
        zb.pgalloc += 1 << order
        zb.numa_hit += 1
        if alloc_flags & ALLOC_KSWAPD and zb.boosted_watermark:
            zb.boosted_watermark = False
            from kmemsim.mm.vmscan import wakeup_kswapd

            wakeup_kswapd(self, zb, 0, 0, zb.idx)
        return pfn

    def _reserve_highatomic_pageblock(self, zb: ZoneBuddy, pfn: int, order: int) -> None:
        managed = zb.zone.managed_pages
        if managed // 100 < self.pageblock_nr_pages:
            return
        nr = self.pageblock_nr_pages
        max_managed = (managed // 100 + nr - 1) // nr * nr
        if zb.nr_reserved_highatomic >= max_managed:
            return
        mt = self.get_pageblock_migratetype(zb, pfn)
        if mt >= MIGRATE_PCPTYPES:
            return
        if order < self.pageblock_order:
            if self.move_freepages_block(zb, pfn, mt, MIGRATE_HIGHATOMIC) == -1:
                return
            zb.nr_reserved_highatomic += nr
        else:
            self.change_pageblock_range(zb, pfn, order, MIGRATE_HIGHATOMIC)
            zb.nr_reserved_highatomic += 1 << order

    def unreserve_highatomic_pageblock(self, highest_zoneidx: int, mt: int, force: bool) -> bool:
        """unreserve_highatomic_pageblock(): give a reserved block back to `mt`."""
        for zb in self.zonelist(highest_zoneidx):
            if not force and zb.nr_reserved_highatomic <= self.pageblock_nr_pages:
                continue
            for order in range(self.nr_page_orders):
                lst = zb.free_list[order][MIGRATE_HIGHATOMIC]
                if not lst:
                    continue
                pfn = lst.first()
                size = max(self.pageblock_nr_pages, 1 << order)
                size = min(size, zb.nr_reserved_highatomic)
                zb.nr_reserved_highatomic -= size
                if order < self.pageblock_order:
                    ret = self.move_freepages_block(zb, pfn, MIGRATE_HIGHATOMIC, mt)
                else:
                    self._del_from_free_list(zb, pfn, order, MIGRATE_HIGHATOMIC)
                    self._account(zb, -(1 << order), MIGRATE_HIGHATOMIC)
                    self._add_to_free_list(zb, pfn, order, mt, False)
                    self._account(zb, 1 << order, mt)
                    self.change_pageblock_range(zb, pfn, order, mt)
                    ret = 1
                if not force or ret > 0:
                    return ret > 0
        return False

    # ------------------------------------------------------------------ allocation
    def _deferred_grow_zone(self, zb: ZoneBuddy, order: int) -> bool:
        """_deferred_grow_zone(): initialise more of the zone's deferred sections."""
        from kmemsim.mm.mm_init import deferred_grow_zone

        return deferred_grow_zone(self.k, zb.zone, order)

    def _alloc_flags_nofragment(self, preferred: ZoneBuddy | None, gfp: int) -> int:
        flags = gfp & _GFP_KSWAPD_RECLAIM
        if preferred is None or preferred.zone.zone_type != ZoneType.NORMAL:
            return flags
        dma32 = self.zone_by_type.get(ZoneType.DMA32)
        if dma32 is None or not dma32.zone.present_pages:
            return flags
        return flags | ALLOC_NOFRAGMENT

    def get_page_from_freelist(
        self, gfp: int, order: int, alloc_flags: int, highest_zoneidx: int, mt: int
    ) -> tuple[int, ZoneBuddy | None]:
        """get_page_from_freelist(): the first zone of the zonelist that passes its watermark."""
        zonelist = self.zonelist(highest_zoneidx)
        while True:
            no_fallback = alloc_flags & ALLOC_NOFRAGMENT
            for zb in zonelist:
                ok = False
                if not zb.below_high:
                    if self._zone_watermark_fast(
                        zb, order, zb.wmark(WMARK_HIGH), highest_zoneidx, alloc_flags
                    ):
                        ok = True
                    else:
                        zb.below_high = True
                if not ok:
                    mark = zb.wmark(alloc_flags & ALLOC_WMARK_MASK)
                    if (
                        not self._zone_watermark_fast(zb, order, mark, highest_zoneidx, alloc_flags)
                        and not alloc_flags & ALLOC_NO_WATERMARKS
                        # The watermark failed, but a zone with deferred pages can grow.
                        and not (self.deferred_pages and self._deferred_grow_zone(zb, order))
                    ):
                        continue
                pfn = self._rmqueue_zone(zb, order, alloc_flags, mt)
                if pfn >= 0:
                    if alloc_flags & ALLOC_HIGHATOMIC:
                        self._reserve_highatomic_pageblock(zb, pfn, order)
                    return pfn, zb
            if no_fallback:
                alloc_flags &= ~ALLOC_NOFRAGMENT
                continue
            return -1, None

    def gfp_to_alloc_flags(self, gfp: int, order: int) -> int:
        """gfp_to_alloc_flags(): the slow path's watermark and reserve rights."""
        alloc_flags = ALLOC_WMARK_MIN | ALLOC_CPUSET
        alloc_flags |= gfp & (_GFP_HIGH | _GFP_KSWAPD_RECLAIM)
        if not gfp & _GFP_DIRECT_RECLAIM:
            if not gfp & _GFP_NOMEMALLOC:
                alloc_flags |= ALLOC_NON_BLOCK
                if order > 0 and alloc_flags & ALLOC_MIN_RESERVE:
                    alloc_flags |= ALLOC_HIGHATOMIC
            if alloc_flags & ALLOC_MIN_RESERVE:
                alloc_flags &= ~ALLOC_CPUSET
        return alloc_flags

    @staticmethod
    def _gfp_pfmemalloc_flags(gfp: int) -> int:
        if gfp & _GFP_NOMEMALLOC:
            return 0
        if gfp & _GFP_MEMALLOC:
            return ALLOC_NO_WATERMARKS
        return 0

    def _alloc_context(self, gfp: int) -> tuple[int, int, int]:
        """prepare_alloc_pages(): (highest_zoneidx, migratetype, first-pass alloc_flags)."""
        ctx = self._ac_cache.get(gfp)
        if ctx is None:
            highest = self.gfp_zone(gfp)
            zonelist = self.zonelist(highest)
            flags = ALLOC_WMARK_LOW | self._alloc_flags_nofragment(
                zonelist[0] if zonelist else None, gfp
            )
            mt = gfp_migratetype(gfp)
            if mt >= MIGRATE_PCPTYPES:
                # __GFP_MOVABLE|__GFP_RECLAIMABLE together is a caller bug the kernel
                # only VM_WARNs about; keep the lists sane by treating it as unmovable.
                mt = MIGRATE_UNMOVABLE
            ctx = self._ac_cache[gfp] = (highest, mt, flags)
        return ctx

    @EXPORT_SYMBOL
    def alloc_pages(self, gfp: int, order: int) -> Page | None:
        """alloc_pages(): 2**order contiguous pages as the head Page, or None."""
        gfp = int(gfp)
        if not 0 <= order <= self.max_order:  # an unsigned order: negative is huge
            if not gfp & _GFP_NOWARN:
                self._warn("__alloc_frozen_pages_noprof")
            return None
        if gfp & _GFP_DIRECT_RECLAIM:
            sched = self.sched
            if sched is not None and (sched.preempt_count or sched.irqs_disabled):
                sched.might_alloc(gfp, "__alloc_frozen_pages_noprof")
        highest, mt, alloc_flags = self._alloc_context(gfp)
        while True:
            pfn = self.get_page_from_freelist(gfp, order, alloc_flags, highest, mt)[0]
            if pfn < 0:
                pfn = self._alloc_pages_slowpath(gfp, order, highest, mt)[0]
                if pfn < 0:
                    return None
            if not self.check_pages_enabled or not self._check_new_pages(pfn, order, mt):
                return self._prep_new_page(pfn, order, gfp, mt)

    def _check_new_pages(self, pfn: int, order: int, mt: int) -> bool:
        """check_new_pages(): True when a frame of the block is bad, reported by bad_page().

        The first bad frame ends the check. The kernel then drops the block
        (it is off the free lists and never handed out: leaked) and takes
        another one; so does the model.
        """
        for frame in range(pfn, pfn + (1 << order)):
            reason = self._frame_bad_reason(frame)
            if reason:
                self._bad_free(self.pfn_to_page(frame), order, reason, "check_new_pages")
                leaked = Page(pfn, order, mt)
                leaked._refcount = self.frame_refcount.pop(pfn, 0)
                self.pages[pfn] = leaked
                return True
        return False

    def _prep_new_page(self, pfn: int, order: int, gfp: int, mt: int) -> Page:
        """prep_new_page(): post_alloc_hook(), then prep_compound_page() for __GFP_COMP.

        Every allocation of the model ends here (alloc_pages and the replay's
        take of a given block alike). post_alloc_hook() sets the refcount to 1
        (set_page_refcounted) and then, only when wanted, the work of
        _post_alloc_hook(): nothing else is paid on the fast path.
        """
        self.frame_refcount.pop(pfn, None)
        page = Page(pfn, order, mt)
        if gfp & _GFP_COMP and order:
            page.flags = _PG_HEAD
        self.pages[pfn] = page
        if gfp & _GFP_ZERO or self._post_alloc_slow:
            self._post_alloc_hook(page, pfn, order, gfp)
        return page

    def _post_alloc_hook(self, page: Page, pfn: int, order: int, gfp: int) -> None:
        """post_alloc_hook() past the refcount, in the kernel's order.

        kasan_unpoison_pages() and the other attached hooks (kmsan_alloc_page,
        set_page_owner, debug_pagealloc_map_pages: register_post_alloc_hook()),
        then kernel_init_pages() when want_init_on_alloc(gfp): __GFP_ZERO or
        the init_on_alloc= boot parameter.
        """
        for hook in self.post_alloc_hooks:
            hook(page, order, gfp)
        if gfp & _GFP_ZERO or self.init_on_alloc:
            self.k.address_space.clear_pages(pfn, 1 << order)

    def _free_pages_prepare_hooks(self, pfn: int, order: int) -> None:
        """free_pages_prepare() past its checks, in the kernel's order.

        The attached hooks (kmsan_free_page, reset_page_owner,
        debug_pagealloc_unmap_pages, kasan_poison_pages:
        register_free_pages_prepare_hook()) and kernel_init_pages() when
        want_init_on_free() (the init_on_free= boot parameter).
        """
        if self.init_on_free:
            self.k.address_space.clear_pages(pfn, 1 << order)
        for hook in self.free_pages_prepare_hooks:
            hook(pfn, order)

    def register_post_alloc_hook(self, hook: Callable[[Page, int, int], None]) -> None:
        """Attach `hook(page, order, gfp)` at post_alloc_hook() (KASAN, page_owner, ...)."""
        self.post_alloc_hooks.append(hook)
        self._post_alloc_slow = True

    def register_free_pages_prepare_hook(self, hook: Callable[[int, int], None]) -> None:
        """Attach `hook(pfn, order)` at free_pages_prepare() (KASAN, page_owner, ...)."""
        self.free_pages_prepare_hooks.append(hook)
        self._free_prepare_slow = True

    def _alloc_pages_slowpath(
        self, gfp: int, order: int, highest: int, mt: int
    ) -> tuple[int, ZoneBuddy | None]:
        """__alloc_pages_slowpath(), with the reclaim the model has (pcp lists, empty slabs).

        Compaction does not exist in the model (can_compact is false), so a costly
        order fails after one reclaim pass, as the kernel's does without
        CONFIG_COMPACTION. The OOM killer finds no process to kill and panics.
        A GFP_NOFS/GFP_NOIO request, for which the kernel's OOM killer does
        nothing and the allocation loops until another task frees memory, fails
        here instead: no other task will.
        """
        can_direct_reclaim = bool(gfp & _GFP_DIRECT_RECLAIM)
        costly_order = order > PAGE_ALLOC_COSTLY_ORDER
        alloc_flags = self.gfp_to_alloc_flags(gfp, order)
        no_progress_loops = 0
        if alloc_flags & ALLOC_KSWAPD:
            self.wake_all_kswapds(gfp, order, highest)
        pfn, zb = self.get_page_from_freelist(gfp, order, alloc_flags, highest, mt)
        if pfn >= 0:
            return pfn, zb
        while True:  # retry:
            if alloc_flags & ALLOC_KSWAPD:
                self.wake_all_kswapds(gfp, order, highest)
            reserve_flags = self._gfp_pfmemalloc_flags(gfp)
            if reserve_flags:
                alloc_flags = reserve_flags | (alloc_flags & ALLOC_KSWAPD)
            pfn, zb = self.get_page_from_freelist(gfp, order, alloc_flags, highest, mt)
            if pfn >= 0:
                return pfn, zb
            if not can_direct_reclaim:
                break
            pfn, zb, progress = self._alloc_pages_direct_reclaim(
                gfp, order, alloc_flags, highest, mt
            )
            if pfn >= 0:
                return pfn, zb
            if gfp & _GFP_NORETRY:
                break
            if costly_order:
                break  # no compaction to retry for
            retry, no_progress_loops = self._should_reclaim_retry(
                order, highest, mt, alloc_flags, progress > 0, no_progress_loops
            )
            if retry:
                continue
            # __alloc_pages_may_oom()
            if not gfp & _GFP_NOFAIL and (
                gfp & (_GFP_RETRY_MAYFAIL | _GFP_THISNODE)
                or highest < self.zone_by_type[ZoneType.NORMAL].idx
            ):
                break
            pfn, zb = self.get_page_from_freelist(
                gfp, order, ALLOC_WMARK_HIGH | ALLOC_CPUSET, highest, mt
            )
            if pfn >= 0:
                return pfn, zb
            if gfp & _GFP_FS and not gfp & _GFP_NOFAIL:
                self._out_of_memory(gfp, order)
            break
        if gfp & _GFP_NOFAIL:
            if not can_direct_reclaim:
                self._warn("__alloc_pages_slowpath")
            else:
                # The reserves the kernel opens to a non-failing request (nopage's
                # ALLOC_MIN_RESERVE, then __alloc_pages_may_oom's ALLOC_NO_WATERMARKS);
                # beyond them it loops until the OOM killer frees memory, and the
                # model's OOM killer has nobody to kill.
                for flags in (ALLOC_MIN_RESERVE | ALLOC_WMARK_MIN, ALLOC_NO_WATERMARKS):
                    pfn, zb = self.get_page_from_freelist(gfp, order, flags, highest, mt)
                    if pfn >= 0:
                        return pfn, zb
                self._out_of_memory(gfp, order)
        if not gfp & _GFP_NOWARN:
            self.warn_alloc(gfp, order)
        return -1, None

    def _alloc_pages_direct_reclaim(
        self, gfp: int, order: int, alloc_flags: int, highest: int, mt: int
    ) -> tuple[int, ZoneBuddy | None, int]:
        """__alloc_pages_direct_reclaim(): reclaim, retry; on failure drain the pcp lists once."""
        for z in self.zonelist(highest):
            z.allocstall += 1
        progress = self.try_to_free_pages(order, highest)
        drained = False
        while True:
            pfn, zb = self.get_page_from_freelist(gfp, order, alloc_flags, highest, mt)
            if pfn >= 0 or drained:
                return pfn, zb, progress
            self.unreserve_highatomic_pageblock(highest, mt, False)
            progress += self.drain_all_pages()
            drained = True

    def _should_reclaim_retry(
        self,
        order: int,
        highest: int,
        mt: int,
        alloc_flags: int,
        did_some_progress: bool,
        no_progress_loops: int,
    ) -> tuple[bool, int]:
        """should_reclaim_retry(): retry while all reclaimable pages could meet the min mark.

        zone_reclaimable_pages() is 0 in the model (no LRU pages), so only free
        pages count; before giving up the highatomic reserves are released.
        """
        if did_some_progress and order <= PAGE_ALLOC_COSTLY_ORDER:
            no_progress_loops = 0
        else:
            no_progress_loops += 1
        if no_progress_loops <= MAX_RECLAIM_RETRIES:
            for zb in self.zonelist(highest):
                if self.zone_watermark_ok(
                    zb, order, zb.wmark(WMARK_MIN), highest, alloc_flags, zb.nr_free
                ):
                    return True, no_progress_loops
        return self.unreserve_highatomic_pageblock(highest, mt, True), no_progress_loops

    def _out_of_memory(self, gfp: int, order: int) -> None:
        """out_of_memory() with no process to kill: the kernel panics."""
        log = self.k.log
        comm = self.sched.comm if self.sched is not None else "swapper/0"
        log.pr_warn(
            f"{comm} invoked oom-killer: gfp_mask={format_gfp_mask(gfp)}, order={order}, "
            "oom_score_adj=0"
        )
        self.show_mem(gfp)
        log.pr_emerg("Out of memory and no killable processes...")
        log.pr_emerg("Kernel panic - not syncing: System is deadlocked on memory")
        raise Oops("Kernel panic - not syncing: System is deadlocked on memory")

    # ------------------------------------------------------------------ kswapd / reclaim
    def wake_all_kswapds(self, gfp: int, order: int, highest: int) -> None:
        """wake_all_kswapds(): the kswapd of the (one) node of the zonelist."""
        from kmemsim.mm.vmscan import wakeup_kswapd

        zonelist = self.zonelist(highest)
        if zonelist:
            wakeup_kswapd(self, zonelist[0], gfp, order, highest)

    def try_to_free_pages(self, order: int, highest: int) -> int:
        """try_to_free_pages() of mm/vmscan.py: direct reclaim."""
        from kmemsim.mm.vmscan import try_to_free_pages

        return try_to_free_pages(self, order, highest)

    # ------------------------------------------------------------------ freeing
    @EXPORT_SYMBOL
    def alloc_page(self, gfp: int) -> Page | None:
        """alloc_page(): alloc_pages(gfp, 0)."""
        return self.alloc_pages(gfp, 0)

    @EXPORT_SYMBOL("__free_page", "free_page_struct")
    def free_page_struct(self, page: Page) -> None:
        """__free_page(page): __free_pages(page, 0)."""
        self.free_pages_struct(page, 0)

    @EXPORT_SYMBOL("__free_pages", "free_pages_struct")
    def free_pages_struct(self, page: Any, order: int) -> None:  # Any: a bogus pointer too
        """__free_pages() (___free_pages() of Linux 6.18): drop a reference, free on the last.

        put_page_testzero() decrements the frame's _refcount whatever it was;
        without CONFIG_DEBUG_VM nothing checks that it was positive. When it
        reaches zero, __free_frozen_pages() frees the 2**order frames from
        there. Otherwise, when the frame is not a compound head (PageHead was
        read before the put), the block's upper halves are freed anyway, the
        largest first: page + 2**(order-1) with order-1, ..., page + 1 with
        order 0 (another holder keeps only the first frame).

        So a second free of an order-0 page says nothing and frees nothing: the
        frame's refcount is -1 (frame_refcount), and with check_pages_enabled
        the next allocation of the frame reports it (check_new_page: "nonzero
        _refcount", refcount:-1). A non-compound block freed with a smaller
        order frees that many frames and leaks the rest, silently.

        Anything but a Page is a pointer that does not point at a struct page:
        see _bogus_struct_page().
        """
        try:
            pfn = page.pfn
        except AttributeError:
            self._bogus_struct_page(page, "__free_pages")
            return
        block = self.pages.get(pfn)
        if block is not None:
            is_head = bool(block.flags & _PG_HEAD)
            block._refcount -= 1
            last = block._refcount == 0
        else:
            is_head = False  # a free frame or a tail frame carries no PG_head
            count = self.frame_refcount.get(pfn, 0) - 1
            if count:
                self.frame_refcount[pfn] = count
            else:
                self.frame_refcount.pop(pfn, None)
            last = count == 0
        if last:
            self._free_frozen_range(pfn, order)
        elif not is_head:
            for o in range(order - 1, -1, -1):
                self._free_frozen_range(pfn + (1 << o), o)

    def _free_frozen_range(self, pfn: int, order: int) -> None:
        """__free_frozen_pages(page, order) on any 2**order frames, allocated or not.

        free_pages_prepare() checks the frames only with check_pages_enabled
        (and then a bad frame stops the whole free); otherwise the frames go to
        a free list as they are. The frames of allocated blocks in the range
        are taken out of their blocks (a block cut short keeps its other frames
        allocated: leaked) and freed; when the whole range was allocated it is
        freed as the one block the kernel frees. Frames that are already free
        the kernel would put on a free list a second time, corrupting it; the
        model leaves them where they are, so that its lists stay consistent.
        """
        block = self.pages.get(pfn)
        if block is not None and block.order == order and not self.check_pages_enabled:
            # The common case, exactly one allocated block: what the general walk below
            # comes to, without the walk.
            del self.pages[pfn]
            block.flags = _PG_NONE
            block.slab = None
            block.owner = ""
            self.free_frozen_pages(pfn, order)
            return
        end = pfn + (1 << order)
        blocks = self._blocks_overlapping(pfn, end)
        if self.check_pages_enabled and not self._free_pages_prepare(pfn, order, blocks):
            return
        allocated = 0
        for block in blocks:
            b_start, b_end = block.pfn, block.pfn + (1 << block.order)
            del self.pages[block.pfn]
            block.flags = _PG_NONE
            block.slab = None
            block.owner = ""
            # The frames of the block outside the range stay allocated (leaked).
            for lo, hi in ((b_start, max(b_start, pfn)), (min(b_end, end), b_end)):
                for rest_pfn, rest_order in _aligned_blocks(lo, hi):
                    rest = Page(rest_pfn, rest_order, block.migratetype)
                    rest._refcount = self.frame_refcount.get(rest_pfn, 0)
                    self.pages[rest_pfn] = rest
            allocated += min(b_end, end) - max(b_start, pfn)
        if allocated == 1 << order:
            self.free_frozen_pages(pfn, order)
            return
        for block in blocks:
            lo, hi = max(block.pfn, pfn), min(block.pfn + (1 << block.order), end)
            for part_pfn, part_order in _aligned_blocks(lo, hi):
                self.free_frozen_pages(part_pfn, part_order)

    def _blocks_overlapping(self, start: int, end: int) -> list[Page]:
        """The allocated blocks with a frame in [start, end), by pfn."""
        pages = self.pages
        found: list[Page] = []
        block = pages.get(start) or self._find_head(start)
        pfn = start + 1
        if block is not None:
            found.append(block)
            pfn = block.pfn + (1 << block.order)
        while pfn < end:
            block = pages.get(pfn)
            if block is None:
                pfn += 1
                continue
            found.append(block)
            pfn += 1 << block.order
        return found

    def _free_pages_prepare(self, pfn: int, order: int, blocks: list[Page]) -> bool:
        """free_pages_prepare()'s checks (check_pages_enabled): False when a frame is bad.

        Tail frames first (free_tail_page_prepare() for a compound head: each
        must be a tail of it, "PageTail not set"; then free_page_is_bad()),
        then the first frame; every bad frame is reported (bad_page()).
        """
        head = self.pages.get(pfn)
        compound = head is not None and bool(head.flags & _PG_HEAD)
        bad = 0
        for i in range(1, 1 << order):
            frame = pfn + i
            if compound and head is not None and frame >= pfn + (1 << head.order):
                self._bad_free(self.pfn_to_page(frame), order, "PageTail not set")
                bad += 1
            reason = self._frame_bad_reason(frame)
            if reason:
                self._bad_free(self.pfn_to_page(frame), order, reason)
                bad += 1
        reason = self._frame_bad_reason(pfn, first=True)
        if reason:
            self._bad_free(self.pfn_to_page(pfn), order, reason)
            bad += 1
        return not bad

    def _frame_bad_reason(self, pfn: int, first: bool = False) -> str:
        """page_bad_reason(): why a frame about to be freed or handed out is not clean."""
        zb = self.page_zone(pfn)
        if zb is not None and zb.free_block_order(pfn) >= 0:
            return "nonzero mapcount"  # PG_buddy lives in page_type, over _mapcount
        block = self.pages.get(pfn)
        count = self.frame_refcount.get(pfn, 0) if block is None else block._refcount
        if first and block is not None:
            count = block._refcount  # put_page_testzero() already brought it to 0
        if count:
            return "nonzero _refcount"
        return ""

    def free_frozen_pages(self, pfn: int, order: int) -> None:
        """__free_frozen_pages(): to the per-CPU lists where allowed, else the buddy lists.

        Every free of the model ends here: free_pages_prepare()'s hooks run first,
        when any is wanted (its struct page checks ran in _free_frozen_range())."""
        zb = self.page_zone(pfn)
        if zb is None:
            return
        if self._free_prepare_slow:
            self._free_pages_prepare_hooks(pfn, order)
        self.count_event("pgfree", 1 << order)
        if not self.pcp_allowed_order(order):
            self._free_one_page(zb, pfn, order, FPI_NONE)
            return
        mt = self.get_pageblock_migratetype(zb, pfn)
        if mt >= MIGRATE_PCPTYPES:
            if mt == MIGRATE_ISOLATE:
                self._free_one_page(zb, pfn, order, FPI_NONE)
                return
            mt = MIGRATE_MOVABLE
        self._free_frozen_page_commit(zb, zb.pcp[self._cpu()], pfn, mt, order)

    @EXPORT_SYMBOL("__get_free_pages", "get_free_pages")
    def get_free_pages(self, gfp: int, order: int) -> int:
        """__get_free_pages(): the direct-map address of the block, or 0."""
        page = self.alloc_pages(int(gfp) & ~_GFP_HIGHMEM, order)
        if page is None:
            return 0
        return self.page_address(page)

    @EXPORT_SYMBOL("__get_free_page", "get_free_page")
    def get_free_page(self, gfp: int) -> int:
        """__get_free_page(): __get_free_pages(gfp, 0)."""
        return self.get_free_pages(gfp, 0)

    @EXPORT_SYMBOL
    def get_zeroed_page(self, gfp: int) -> int:
        """get_zeroed_page(): one zeroed page's address, or 0."""
        return self.get_free_pages(int(gfp) | _GFP_ZERO, 0)

    @EXPORT_SYMBOL
    def free_page(self, addr: int) -> None:
        """free_page(addr): free_pages(addr, 0)."""
        self.free_pages(addr, 0)

    @EXPORT_SYMBOL
    def free_pages(self, addr: int, order: int) -> None:
        """free_pages(): free what __get_free_pages() returned; 0 is a no-op."""
        if addr == 0:
            return
        dm = self.k.direct_map
        if not dm.virt_addr_valid(addr):
            self._warn("free_pages")
            return
        self.free_pages_struct(self.pfn_to_page(dm.virt_to_pfn(addr)), order)

    def _bogus_struct_page(self, ptr: object, caller: str) -> None:
        """A struct page pointer that is not one, as the kernel meets it: through its first load.

        ___free_pages() first reads page->flags (PageHead()), then decrements
        page->_refcount (put_page_testzero(), offset 0x34 on 64-bit, 0x1c on
        32-bit). Only a pointer can be passed in C: an int is taken as one,
        None as NULL; another Python value is the caller's mistake (KmemsimError).
        An address that maps nothing makes the load fault: the architecture's
        page fault report ("BUG: kernel NULL pointer dereference" below
        PAGE_SIZE, "BUG: unable to handle page fault for address" above, a
        general protection fault for a non-canonical x86_64 address), the
        kernel taints D and the task dies: kmemsim.Oops. (The model's struct
        pages have no addresses of their own, so every int faults but RAM.)
        A mapped address (the usual mix-up: a __get_free_pages() address
        given to __free_pages()) is memory the kernel takes for a struct page:
        the word at _refcount is decremented in it, silently; were it to reach
        zero, the kernel would free the frames that fake struct page names,
        which the model cannot follow: it stops after the decrement.
        """
        from kmemsim.errors import KmemsimError

        if ptr is None:
            ptr = 0
        if not isinstance(ptr, int):
            raise KmemsimError(
                f"{caller}: expected a struct page (a Page) or a pointer value, "
                f"got {type(ptr).__name__}"
            )
        bits = self.arch.bits
        addr = ptr & ((1 << bits) - 1)
        dm = self.k.direct_map
        if dm.virt_addr_valid(addr):
            refcount = addr + (0x34 if bits == 64 else 0x1C)
            old = int.from_bytes(self.k.read(refcount, 4), "little")
            self.k.write(refcount, ((old - 1) & 0xFFFF_FFFF).to_bytes(4, "little"))
            return
        from kmemsim.mm.debug import kernel_page_fault

        kernel_page_fault(self.k, addr, write=False, frames=[caller])

    def _bad_free(self, page: Page, order: int, reason: str, caller: str = "free") -> None:
        from kmemsim.mm.debug import bad_page

        bad_page(self.k, page, reason, caller)

    def _warn(self, function: str) -> None:
        from kmemsim.mm.debug import warn

        warn(self.k, "mm/page_alloc.c", function)

    # ------------------------------------------------------------------ reports
    def warn_alloc(self, gfp: int, order: int) -> None:
        """warn_alloc(): "page allocation failure" with the stack and Mem-Info.

        Rate-limited as the kernel's nopage_rs (DEFAULT_RATELIMIT_INTERVAL 5 s,
        DEFAULT_RATELIMIT_BURST 10) on the simulated printk clock: past ten
        reports in a window the rest are counted and announced as
        "warn_alloc: N callbacks suppressed" when the next window opens.
        """
        from kmemsim.mm.show_mem import show_mem

        if gfp & _GFP_DMA and not self._has_managed_dma():
            return
        if not self._warn_alloc_ratelimit():
            return
        sched = self.sched
        comm = sched.comm if sched is not None else "swapper/0"
        self.k.log.pr_warn(
            f"{comm}: page allocation failure: order:{order}, mode:{format_gfp_mask(gfp)}, "
            "nodemask=(null),cpuset=/,mems_allowed=0"
        )
        if sched is not None:
            sched.dump_stack(
                [
                    "warn_alloc",
                    "__alloc_pages_slowpath",
                    "__alloc_frozen_pages_noprof",
                    "alloc_pages_noprof",
                ]
            )
        show_mem(self.k, gfp)

    def _has_managed_dma(self) -> bool:
        zb = self.zone_by_type.get(ZoneType.DMA)
        return zb is not None and zb.zone.managed_pages > 0

    def _warn_alloc_ratelimit(self) -> bool:
        """___ratelimit() of nopage_rs."""
        now = self.k.log.clock_nsec
        rs = self._nopage_rs
        if not rs[0] or now - rs[0] >= RATELIMIT_INTERVAL_NS:
            if rs[2]:
                self.k.log.pr_warn(f"warn_alloc: {rs[2]} callbacks suppressed")
            rs[0], rs[1], rs[2] = now, 0, 0
        if rs[1] < RATELIMIT_BURST:
            rs[1] += 1
            return True
        rs[2] += 1
        return False

    def show_mem(self, gfp: int = 0) -> None:
        from kmemsim.mm.show_mem import show_mem

        show_mem(self.k, gfp)


def kasan_page_hooks(pa: PageAllocator) -> None:
    """Attach KASAN at the page allocator's hook points, where 6.18 calls it.

    post_alloc_hook() -> kasan_unpoison_pages(), free_pages_prepare() ->
    kasan_poison_pages(), for pages with a direct-map address (generic KASAN
    shadows lowmem only)."""
    kasan = pa.k.kasan
    if kasan is None:
        return
    dm = pa.k.direct_map

    def unpoison(page: Page, order: int, gfp: int) -> None:
        if page.pfn < dm.max_low_pfn:
            kasan.unpoison_pages(dm.pfn_to_virt(page.pfn), order)

    def poison(pfn: int, order: int) -> None:
        if pfn < dm.max_low_pfn:
            kasan.poison_pages(dm.pfn_to_virt(pfn), order)

    pa.register_post_alloc_hook(unpoison)
    pa.register_free_pages_prepare_hook(poison)


# ---------------------------------------------------------------------- boot-time setup
def build_all_zonelists(k: Kernel) -> None:
    """build_all_zonelists(): the zonelist of node 0 and its boot messages."""
    pa = k.page_alloc
    pa._refresh_populated()
    if pa.bits == 64:
        k.log.pr_info("Fallback order for Node 0: 0 ")
    # Managed pages are still 0 here (memblock has not freed anything yet), so
    # 6.18 counts the present pages of every populated zone.
    vm_total_pages = sum(zb.zone.present_pages for zb in pa._populated)
    pa.page_group_by_mobility_disabled = vm_total_pages < pa.pageblock_nr_pages * MIGRATE_TYPES
    k.log.pr_info(
        f"Built 1 zonelists, mobility grouping "
        f"{'off' if pa.page_group_by_mobility_disabled else 'on'}.  "
        f"Total pages: {vm_total_pages}"
    )
    if pa.bits == 64:
        policy = max(
            (zb for zb in pa._populated if zb.zone.zone_type < ZoneType.MOVABLE),
            key=lambda zb: zb.idx,
            default=None,
        )
        if policy is not None:
            k.log.pr_info(f"Policy zone: {policy.zone.name}")


def calculate_min_free_kbytes(pa: PageAllocator) -> None:
    """calculate_min_free_kbytes(): sqrt(lowmem_kbytes * 16), clamped to 128..262144."""
    lowmem_kbytes = pa.nr_free_buffer_pages() * ((1 << pa.page_shift) >> 10)
    new_min = math.isqrt(lowmem_kbytes * 16)
    if new_min > pa.user_min_free_kbytes:
        pa.min_free_kbytes = min(max(new_min, 128), 262144)
    else:
        pa.k.log.pr_warn(
            f"min_free_kbytes is not updated to {new_min} because user defined value "
            f"{pa.user_min_free_kbytes} is preferred"
        )


def setup_per_zone_wmarks(pa: PageAllocator) -> None:
    """__setup_per_zone_wmarks(): min/low/high/promo from min_free_kbytes and the scale factor."""
    pages_min = pa.min_free_kbytes >> (pa.page_shift - 10)
    scale = int(pa.k.config["watermark_scale_factor"])
    lowmem_pages = sum(
        zb.zone.managed_pages
        for zb in pa.buddies
        if zb.zone.zone_type not in (ZoneType.HIGHMEM, ZoneType.MOVABLE)
    )
    for zb in pa.buddies:
        managed = zb.zone.managed_pages
        tmp = pages_min * managed // lowmem_pages if lowmem_pages else 0
        if zb.zone.zone_type in (ZoneType.HIGHMEM, ZoneType.MOVABLE):
            min_pages = min(max(managed // 1024, 32), 128)  # SWAP_CLUSTER_MAX .. 128
            zb.watermark[WMARK_MIN] = min_pages
        else:
            zb.watermark[WMARK_MIN] = tmp
        tmp = max(tmp >> 2, mult_frac(managed, scale, 10000))
        zb.watermark_boost = 0
        zb.watermark[WMARK_LOW] = zb.watermark[WMARK_MIN] + tmp
        zb.watermark[WMARK_HIGH] = zb.watermark[WMARK_LOW] + tmp
        zb.watermark[WMARK_PROMO] = zb.watermark[WMARK_HIGH] + tmp
    # The per-CPU high marks follow the low watermark.
    for zb in pa.buddies:
        zone_set_pageset_high_and_batch(pa, zb, 0)


def lowmem_reserve_ratio(pa: PageAllocator) -> list[int]:
    """sysctl_lowmem_reserve_ratio for the configured zones (boot default or the option)."""
    text = str(pa.k.config["lowmem_reserve_ratio"])
    values = [int(v) for v in text.split()]
    defaults = {
        ZoneType.DMA: 256,
        ZoneType.DMA32: 256,
        ZoneType.NORMAL: 32,
        ZoneType.HIGHMEM: 0,
        ZoneType.MOVABLE: 0,
        ZoneType.DEVICE: 0,
    }
    if pa.k.config.is_set("lowmem_reserve_ratio") and len(values) >= pa.nr_zones:
        return values[: pa.nr_zones]
    return [defaults[z.zone_type] for z in pa.zones]


def setup_per_zone_lowmem_reserve(pa: PageAllocator) -> None:
    """setup_per_zone_lowmem_reserve(): how much of a lower zone higher requests must leave."""
    ratios = lowmem_reserve_ratio(pa)
    for i, zb in enumerate(pa.buddies):
        ratio = ratios[i]
        clear = not ratio or not zb.zone.managed_pages
        managed = 0
        for j in range(i + 1, pa.nr_zones):
            managed += pa.buddies[j].zone.managed_pages
            zb.lowmem_reserve[j] = 0 if clear else managed // ratio


def refresh_zone_stat_thresholds(pa: PageAllocator) -> None:
    """calculate_normal_threshold() of mm/vmstat.c: the per-CPU counter drift allowed."""
    cpus = pa.nr_cpus
    for zb in pa.buddies:
        mem = zb.zone.managed_pages >> (27 - pa.page_shift)
        zb.stat_threshold = min(125, 2 * fls(cpus) * (1 + fls(mem)))


def zone_batchsize(pa: PageAllocator, zb: ZoneBuddy) -> int:
    """zone_batchsize(): ~0.1% of the zone or 1 MiB, /4, rounded to 2**n - 1."""
    batch = min(zb.zone.managed_pages >> 10, (1 << 20) >> pa.page_shift)
    batch //= 4
    if batch < 1:
        batch = 1
    return rounddown_pow_of_two(batch + batch // 2) - 1


def zone_highsize(
    pa: PageAllocator, zb: ZoneBuddy, batch: int, cpu_online: int, high_fraction: int
) -> int:
    """zone_highsize(): the zone's low watermark (or managed/fraction) split over the CPUs."""
    if not high_fraction:
        total_pages = zb.watermark[WMARK_LOW]
    else:
        total_pages = zb.zone.managed_pages // high_fraction
    nr_split_cpus = pa.nr_cpus + cpu_online
    if not nr_split_cpus:
        nr_split_cpus = pa.nr_cpus
    high = total_pages // nr_split_cpus
    return max(high, batch << 2)


def zone_set_pageset_high_and_batch(pa: PageAllocator, zb: ZoneBuddy, cpu_online: int) -> None:
    """zone_set_pageset_high_and_batch(): high_min, high_max and batch of every CPU.

    __zone_set_pageset_high_and_batch() / pageset_update() of 6.18 leave each
    CPU's `high` alone (see PerCpuPages): it follows at the next allocation or
    free through the list.
    """
    fraction = int(pa.k.config["percpu_pagelist_high_fraction"])
    new_batch = max(1, zone_batchsize(pa, zb))
    if fraction:
        new_high_min = zone_highsize(pa, zb, new_batch, cpu_online, fraction)
        new_high_max = new_high_min
    else:
        new_high_min = zone_highsize(pa, zb, new_batch, cpu_online, 0)
        new_high_max = zone_highsize(
            pa, zb, new_batch, cpu_online, MIN_PERCPU_PAGELIST_HIGH_FRACTION
        )
    for pcp in zb.pcp:
        pcp.high_min = new_high_min
        pcp.high_max = new_high_max
        pcp.batch = new_batch


def setup_per_cpu_pageset(k: Kernel) -> None:
    """setup_per_cpu_pageset() (start_kernel(), after mm_core_init()): the real per-CPU lists.

    Until then every zone uses the boot pageset (high 0, batch 1: a free
    goes straight back to the buddy lists). setup_zone_pageset() gives each
    populated zone fresh lists (`high` 0) and sizes them with
    zone_set_pageset_high_and_batch(): the watermarks are still 0 at that
    point (init_per_zone_wmark_min() is a later core_initcall), so high_min is
    4 * batch until setup_per_zone_wmarks() sizes them again.
    """
    pa = k.page_alloc
    pa._refresh_populated()
    for zb in pa._populated:
        zone_set_pageset_high_and_batch(pa, zb, 0)


def set_recommended_min_free_kbytes(pa: PageAllocator) -> None:
    """khugepaged's set_recommended_min_free_kbytes() (mm/khugepaged.c)."""
    nr_zones = sum(1 for zb in pa._populated if zb.idx <= pa.gfp_zone(GFP_USER))
    nr = pa.pageblock_nr_pages
    recommended_min = nr * nr_zones * 2
    recommended_min += nr * nr_zones * MIGRATE_PCPTYPES * MIGRATE_PCPTYPES
    recommended_min = min(recommended_min, pa.nr_free_buffer_pages() // 20)
    recommended_min <<= pa.page_shift - 10
    if recommended_min > pa.min_free_kbytes:
        if pa.user_min_free_kbytes >= 0:
            pa.k.log.pr_info(
                f"raising min_free_kbytes from {pa.min_free_kbytes} to {recommended_min} "
                "to help transparent hugepage allocations"
            )
        pa.min_free_kbytes = recommended_min
    setup_per_zone_wmarks(pa)


def init_per_zone_wmark_min(k: Kernel) -> None:
    """init_per_zone_wmark_min() (postcore_initcall), then khugepaged's raise (hugepage_init).

    A `min_free_kbytes` boot option acts as the sysctl written by the user.
    """
    pa = k.page_alloc
    pa._refresh_populated()
    user = k.config["min_free_kbytes"]
    calculate_min_free_kbytes(pa)
    setup_per_zone_wmarks(pa)
    refresh_zone_stat_thresholds(pa)
    setup_per_zone_lowmem_reserve(pa)
    if pa.thp:
        set_recommended_min_free_kbytes(pa)
    if user is not None:
        pa.user_min_free_kbytes = int(user)
        pa.min_free_kbytes = int(user)
        setup_per_zone_wmarks(pa)


def sysctl_min_free_kbytes(k: Kernel, value: int) -> None:
    """Writing /proc/sys/vm/min_free_kbytes: min_free_kbytes_sysctl_handler()."""
    pa = k.page_alloc
    pa.user_min_free_kbytes = value
    pa.min_free_kbytes = value
    setup_per_zone_wmarks(pa)


# --- queries for tools (trace/ verification): read-only, no state changes -----------------
def zone_has_free_block(pa: PageAllocator, zb: ZoneBuddy, order: int, mt: int, cpu: int) -> bool:
    """Whether an order-`order` request of migrate type `mt` could be served from zone `zb`
    now by __rmqueue() or rmqueue_pcplist(), ignoring watermarks: a block on `cpu`'s
    per-CPU list of that order and type, or a free block of at least that order on
    free_area[] of `mt` or of a type fallbacks[mt] may take from."""
    if pa.pcp_allowed_order(order) and zb.pcp[cpu].lists[pa.order_to_pindex(mt, order)]:
        return True
    types = (mt, *FALLBACKS.get(mt, ()))
    for o in range(order, zb.nr_orders):
        lists = zb.free_list[o]
        for t in types:
            if lists[t]:
                return True
    return False


def allocated_order(pa: PageAllocator, pfn: int) -> int:
    """The order of the allocated block whose head is `pfn`, else -1 (free, a tail, a hole)."""
    page = pa.pages.get(pfn)
    return -1 if page is None else int(page.order)
