"""Model of mm/vmstat.c: /proc/buddyinfo, /proc/pagetypeinfo, /proc/zoneinfo and /proc/vmstat.

Every number is read from the live page allocator when the file is read: free
blocks per order from free_area[], pageblock types from the pageblock bitmap,
watermarks, lowmem_reserve (zoneinfo's "protection"), the per-CPU pagesets'
count/high/batch/high_min/high_max and the stat threshold of
calculate_normal_threshold(). The layouts are the seq_printf() formats of
6.18: buddyinfo and pagetypeinfo list populated zones only, zoneinfo every
zone the configuration builds (unpopulated ones end after "protection"), the
node statistics printed once under the first populated zone.

The item names are vmstat_text[] of 6.18 (x86_64 configuration). Counters of
subsystems kmemsim does not model (LRU lists, page cache, swap, compaction,
THP, NUMA balancing) print 0; the page-allocation counters (nr_free_pages,
pgalloc_<zone>, pgfree, allocstall_<zone>, numa_hit/numa_local, pageoutrun)
and the slab page counts (through k.slab.slab_pages()) come from the model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.include.linux.mmzone import MIGRATE_TYPES, MIGRATETYPE_NAMES, ZoneBuddy, ZoneType
from kmemsim.mm.mm_init import valid_pfn_spans
from kmemsim.mm.page_alloc import (
    WMARK_HIGH,
    WMARK_LOW,
    WMARK_MIN,
    WMARK_PROMO,
    PageAllocator,
    lowmem_reserve_ratio,
)
from kmemsim.mm.slab import SlabState
from kmemsim.mm.vmscan import node_unreclaimable

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

# enum zone_stat_item (names of vmstat_text[]).
ZONE_STAT_ITEMS = (
    "nr_free_pages",
    "nr_free_pages_blocks",
    "nr_zone_inactive_anon",
    "nr_zone_active_anon",
    "nr_zone_inactive_file",
    "nr_zone_active_file",
    "nr_zone_unevictable",
    "nr_zone_write_pending",
    "nr_mlock",
    "nr_zspages",
    "nr_free_cma",
)
NUMA_EVENT_ITEMS = (
    "numa_hit",
    "numa_miss",
    "numa_foreign",
    "numa_interleave",
    "numa_local",
    "numa_other",
)
NODE_STAT_ITEMS = (
    "nr_inactive_anon",
    "nr_active_anon",
    "nr_inactive_file",
    "nr_active_file",
    "nr_unevictable",
    "nr_slab_reclaimable",
    "nr_slab_unreclaimable",
    "nr_isolated_anon",
    "nr_isolated_file",
    "workingset_nodes",
    "workingset_refault_anon",
    "workingset_refault_file",
    "workingset_activate_anon",
    "workingset_activate_file",
    "workingset_restore_anon",
    "workingset_restore_file",
    "workingset_nodereclaim",
    "nr_anon_pages",
    "nr_mapped",
    "nr_file_pages",
    "nr_dirty",
    "nr_writeback",
    "nr_shmem",
    "nr_shmem_hugepages",
    "nr_shmem_pmdmapped",
    "nr_file_hugepages",
    "nr_file_pmdmapped",
    "nr_anon_transparent_hugepages",
    "nr_vmscan_write",
    "nr_vmscan_immediate_reclaim",
    "nr_dirtied",
    "nr_written",
    "nr_throttled_written",
    "nr_kernel_misc_reclaimable",
    "nr_foll_pin_acquired",
    "nr_foll_pin_released",
    "nr_kernel_stack",
    "nr_page_table_pages",
    "nr_sec_page_table_pages",
    "nr_iommu_pages",
    "nr_swapcached",
    "pgpromote_success",
    "pgpromote_candidate",
    "pgpromote_candidate_nrl",
    "pgdemote_kswapd",
    "pgdemote_direct",
    "pgdemote_khugepaged",
    "pgdemote_proactive",
    "nr_hugetlb",
    "nr_balloon_pages",
    "nr_kernel_file_pages",
)
WRITEBACK_STAT_ITEMS = ("nr_dirty_threshold", "nr_dirty_background_threshold")
MEMMAP_STAT_ITEMS = ("nr_memmap_pages", "nr_memmap_boot_pages")
# enum vm_event_item; "%s" expands to one entry per configured zone (TEXTS_FOR_ZONES).
VM_EVENT_ITEMS = (
    "pgpgin",
    "pgpgout",
    "pswpin",
    "pswpout",
    "pgalloc_%s",
    "allocstall_%s",
    "pgskip_%s",
    "pgfree",
    "pgactivate",
    "pgdeactivate",
    "pglazyfree",
    "pgfault",
    "pgmajfault",
    "pglazyfreed",
    "pgrefill",
    "pgreuse",
    "pgsteal_kswapd",
    "pgsteal_direct",
    "pgsteal_khugepaged",
    "pgsteal_proactive",
    "pgscan_kswapd",
    "pgscan_direct",
    "pgscan_khugepaged",
    "pgscan_proactive",
    "pgscan_direct_throttle",
    "pgscan_anon",
    "pgscan_file",
    "pgsteal_anon",
    "pgsteal_file",
    "zone_reclaim_success",
    "zone_reclaim_failed",
    "pginodesteal",
    "slabs_scanned",
    "kswapd_inodesteal",
    "kswapd_low_wmark_hit_quickly",
    "kswapd_high_wmark_hit_quickly",
    "pageoutrun",
    "pgrotated",
    "drop_pagecache",
    "drop_slab",
    "oom_kill",
    "numa_pte_updates",
    "numa_huge_pte_updates",
    "numa_hint_faults",
    "numa_hint_faults_local",
    "numa_pages_migrated",
    "pgmigrate_success",
    "pgmigrate_fail",
    "thp_migration_success",
    "thp_migration_fail",
    "thp_migration_split",
    "compact_migrate_scanned",
    "compact_free_scanned",
    "compact_isolated",
    "compact_stall",
    "compact_fail",
    "compact_success",
    "compact_daemon_wake",
    "compact_daemon_migrate_scanned",
    "compact_daemon_free_scanned",
    "htlb_buddy_alloc_success",
    "htlb_buddy_alloc_fail",
    "unevictable_pgs_culled",
    "unevictable_pgs_scanned",
    "unevictable_pgs_rescued",
    "unevictable_pgs_mlocked",
    "unevictable_pgs_munlocked",
    "unevictable_pgs_cleared",
    "unevictable_pgs_stranded",
    "thp_fault_alloc",
    "thp_fault_fallback",
    "thp_fault_fallback_charge",
    "thp_collapse_alloc",
    "thp_collapse_alloc_failed",
    "thp_file_alloc",
    "thp_file_fallback",
    "thp_file_fallback_charge",
    "thp_file_mapped",
    "thp_split_page",
    "thp_split_page_failed",
    "thp_deferred_split_page",
    "thp_underused_split_page",
    "thp_split_pmd",
    "thp_scan_exceed_none_pte",
    "thp_scan_exceed_swap_pte",
    "thp_scan_exceed_share_pte",
    "thp_split_pud",
    "thp_zero_page_alloc",
    "thp_zero_page_alloc_failed",
    "thp_swpout",
    "thp_swpout_fallback",
    "balloon_inflate",
    "balloon_deflate",
    "balloon_migrate",
    "swap_ra",
    "swap_ra_hit",
    "swpin_zero",
    "swpout_zero",
    "ksm_swpin_copy",
    "cow_ksm",
    "zswpin",
    "zswpout",
    "zswpwb",
    "direct_map_level2_splits",
    "direct_map_level3_splits",
    "direct_map_level2_collapses",
    "direct_map_level3_collapses",
)
# TEXTS_FOR_ZONES() spellings.
EVENT_ZONE_NAMES = {
    ZoneType.DMA: "dma",
    ZoneType.DMA32: "dma32",
    ZoneType.NORMAL: "normal",
    ZoneType.HIGHMEM: "high",
    ZoneType.MOVABLE: "movable",
    ZoneType.DEVICE: "device",
}
STRUCT_PAGE_SIZE = 64


def slab_pages(k: Kernel) -> tuple[int, int]:
    """node_page_state(NR_SLAB_RECLAIMABLE_B / NR_SLAB_UNRECLAIMABLE_B) in pages.

    Counted from the slab layer's slabs; none before kmem_cache_init() made the first."""
    if k.slab_state == SlabState.DOWN:
        return 0, 0
    return k.slab.slab_pages()


def online_spans(k: Kernel) -> list[tuple[int, int]]:
    """The frames pfn_to_online_page() answers for, as [lo, hi) pfn spans.

    SPARSEMEM: the present (online) sections; FLATMEM: pfn_valid() frames, as
    mm/mm_init.py knows them (valid_pfn_spans())."""
    return valid_pfn_spans(k)


# ---------------------------------------------------------------------- buddyinfo
def buddyinfo_show(k: Kernel) -> str:
    """/proc/buddyinfo: frag_show_print() for each populated zone."""
    pa = k.page_alloc
    out = []
    for zb in pa.buddies:
        if not zb.zone.present_pages:
            continue
        counts = "".join(f"{zb.nr_free_order(o):6d} " for o in range(pa.nr_page_orders))
        out.append(f"Node 0, zone {zb.zone.name:>8s} {counts}\n")
    return "".join(out)


# ---------------------------------------------------------------------- pagetypeinfo
def pageblock_counts(
    k: Kernel, zb: ZoneBuddy, spans: list[tuple[int, int]] | None = None
) -> list[int]:
    """pagetypeinfo_showblockcount_print(): pageblocks of each type in online frames.

    The kernel steps through the zone a pageblock at a time from zone_start_pfn
    and counts the blocks whose frame is online (pfn_to_online_page()); here the
    steps that land in each online span are counted in one slice.
    """
    pa = k.page_alloc
    if spans is None:
        spans = online_spans(k)
    z = zb.zone
    step = pa.pageblock_nr_pages
    start, end = z.zone_start_pfn, z.zone_end_pfn
    n = (z.spanned_pages + step - 1) // step  # pfn = start + i * step, i < n
    base = (start >> pa.pageblock_order) - zb.pb_base  # index of step 0 in pageblock_mt
    counts = [0] * MIGRATE_TYPES
    for lo, hi in spans:
        if hi <= start or lo >= end:
            continue
        first = max(0, -(-(lo - start) // step))
        last = min(n, -(-(hi - start) // step))
        if first >= last:
            continue
        chunk = bytes(zb.pageblock_mt[base + first : base + last])
        for mt in range(MIGRATE_TYPES):
            counts[mt] += chunk.count(mt)
    return counts


def pagetypeinfo_show(k: Kernel) -> str:
    """/proc/pagetypeinfo: free blocks per order and type, and pageblocks per type."""
    pa = k.page_alloc
    populated = [zb for zb in pa.buddies if zb.zone.present_pages]
    out = [
        f"Page block order: {pa.pageblock_order}\n",
        f"Pages per block:  {pa.pageblock_nr_pages}\n",
        "\n",
        f"{'Free pages count per migrate type at order':<43s} "
        + "".join(f"{o:6d} " for o in range(pa.nr_page_orders))
        + "\n",
    ]
    for zb in populated:
        for mt in range(MIGRATE_TYPES):
            line = f"Node {0:4d}, zone {zb.zone.name:>8s}, type {MIGRATETYPE_NAMES[mt]:>12s} "
            for o in range(pa.nr_page_orders):
                n = len(zb.free_list[o][mt])
                line += f">{100000:6d} " if n >= 100000 else f"{n:6d} "
            out.append(line + "\n")
    out.append(f"\n{'Number of blocks type ':<23s}")
    out.append("".join(f"{name:>12s} " for name in MIGRATETYPE_NAMES) + "\n")
    sections = online_spans(k)
    for zb in populated:
        counts = pageblock_counts(k, zb, sections)
        out.append(
            f"Node 0, zone {zb.zone.name:>8s} " + "".join(f"{c:12d} " for c in counts) + "\n"
        )
    return "".join(out)


# ---------------------------------------------------------------------- zoneinfo / vmstat
def node_stats(k: Kernel) -> dict[str, int]:
    """node_page_state() of each node item: the slab pages from the slab layer, else 0."""
    rec, unrec = slab_pages(k)
    stats = dict.fromkeys(NODE_STAT_ITEMS, 0)
    stats["nr_slab_reclaimable"] = rec
    stats["nr_slab_unreclaimable"] = unrec
    return stats


def zone_stats(pa: PageAllocator, zb: ZoneBuddy) -> dict[str, int]:
    stats = dict.fromkeys(ZONE_STAT_ITEMS, 0)
    stats["nr_free_pages"] = zb.nr_free
    stats["nr_free_pages_blocks"] = zb.nr_free_pages_blocks(pa.pageblock_order)
    return stats


def numa_stats(zb: ZoneBuddy) -> dict[str, int]:
    stats = dict.fromkeys(NUMA_EVENT_ITEMS, 0)
    stats["numa_hit"] = zb.numa_hit
    stats["numa_local"] = zb.numa_hit
    return stats


def zoneinfo_show(k: Kernel) -> str:
    """/proc/zoneinfo: zoneinfo_show_print() for every zone of node 0."""
    pa = k.page_alloc
    out: list[str] = []
    first_populated = next((zb for zb in pa.buddies if zb.zone.present_pages), None)
    for zb in pa.buddies:
        z = zb.zone
        out.append(f"Node 0, zone {z.name:>8s}")
        if zb is first_populated:
            out.append("\n  per-node stats")
            for name, value in node_stats(k).items():
                out.append(f"\n      {name:<12s} {value}")
        out.append(
            f"\n  pages free     {zb.nr_free}"
            f"\n        boost    {zb.watermark_boost}"
            f"\n        min      {zb.wmark(WMARK_MIN)}"
            f"\n        low      {zb.wmark(WMARK_LOW)}"
            f"\n        high     {zb.wmark(WMARK_HIGH)}"
            f"\n        promo    {zb.wmark(WMARK_PROMO)}"
            f"\n        spanned  {z.spanned_pages}"
            f"\n        present  {z.present_pages}"
            f"\n        managed  {z.managed_pages}"
            f"\n        cma      0"
        )
        out.append("\n        protection: (" + ", ".join(str(v) for v in zb.lowmem_reserve) + ")")
        if not z.present_pages:
            out.append("\n")
            continue
        for name, value in zone_stats(pa, zb).items():
            out.append(f"\n      {name:<12s} {value}")
        if pa.bits == 64:
            for name, value in numa_stats(zb).items():
                out.append(f"\n      {name:<12s} {value}")
        out.append("\n  pagesets")
        for cpu, pcp in enumerate(zb.pcp):
            out.append(
                f"\n    cpu: {cpu}"
                f"\n              count:    {pcp.count}"
                f"\n              high:     {pcp.high}"
                f"\n              batch:    {pcp.batch}"
                f"\n              high_min: {pcp.high_min}"
                f"\n              high_max: {pcp.high_max}"
                f"\n  vm stats threshold: {zb.stat_threshold}"
            )
        unreclaimable = int(node_unreclaimable(pa))
        out.append(
            f"\n  node_unreclaimable:  {unreclaimable}\n  start_pfn:           {z.zone_start_pfn}\n"
        )
    return "".join(out)


def totalreserve_pages(pa: PageAllocator) -> int:
    """calculate_totalreserve_pages(): the high watermark plus the largest protection per zone."""
    total = 0
    for zb in pa.buddies:
        reserve = max(zb.lowmem_reserve, default=0) + zb.watermark[WMARK_HIGH]
        total += min(reserve, zb.zone.managed_pages)
    return total


def dirty_thresholds(pa: PageAllocator) -> tuple[int, int]:
    """global_dirty_limits() with dirty_ratio 20 and dirty_background_ratio 10.

    The dirtyable memory is the free memory (there is no page cache in the
    model) less totalreserve_pages, without highmem (vm_highmem_is_dirtyable 0).
    """
    free = pa.nr_free_pages() - pa.nr_free_highpages()
    dirtyable = max(0, free - totalreserve_pages(pa))
    thresh = dirtyable * 20 // 100
    bg = dirtyable * 10 // 100
    if bg >= thresh:
        bg = thresh // 2
    return thresh, bg


def memmap_boot_pages(k: Kernel) -> int:
    """NR_MEMMAP_BOOT_PAGES: the vmemmap of every online section, in pages."""
    pa = k.page_alloc
    if not k.arch.sparsemem:
        return 0
    nr_pages = sum(hi - lo for lo, hi in online_spans(k))
    return nr_pages * STRUCT_PAGE_SIZE >> pa.page_shift


def vmstat_items(k: Kernel) -> list[tuple[str, int]]:
    """All /proc/vmstat lines in vmstat_text[] order."""
    pa = k.page_alloc
    items: list[tuple[str, int]] = []
    zone_totals = dict.fromkeys(ZONE_STAT_ITEMS, 0)
    numa_totals = dict.fromkeys(NUMA_EVENT_ITEMS, 0)
    for zb in pa.buddies:
        for name, v in zone_stats(pa, zb).items():
            zone_totals[name] += v
        for name, v in numa_stats(zb).items():
            numa_totals[name] += v
    items.extend(zone_totals.items())
    if pa.bits == 64:
        items.extend(numa_totals.items())
    items.extend(node_stats(k).items())
    thresh, bg = dirty_thresholds(pa)
    items.append(("nr_dirty_threshold", thresh))
    items.append(("nr_dirty_background_threshold", bg))
    items.append(("nr_memmap_pages", 0))
    items.append(("nr_memmap_boot_pages", memmap_boot_pages(k)))
    events = pa.events
    for name in VM_EVENT_ITEMS:
        if "%s" in name:
            for zb in pa.buddies:
                label = name % EVENT_ZONE_NAMES[zb.zone.zone_type]
                if name.startswith("pgalloc"):
                    value = zb.pgalloc
                elif name.startswith("allocstall"):
                    value = zb.allocstall
                else:
                    value = events.get(label, 0)
                items.append((label, value))
        else:
            items.append((name, events.get(name, 0)))
    items.append(("nr_unstable", 0))
    return items


def vmstat_show(k: Kernel) -> str:
    """/proc/vmstat: "name value" per line."""
    return "".join(f"{name} {value}\n" for name, value in vmstat_items(k))


def page_alloc_sysctls(k: Kernel) -> dict[str, str]:
    """The /proc/sys/vm files of mm/page_alloc.c's sysctl table, as proc_dointvec prints them."""
    pa = k.page_alloc
    cfg = k.config
    ratios = [str(r) for r in lowmem_reserve_ratio(pa)]
    return {
        "min_free_kbytes": f"{pa.min_free_kbytes}\n",
        "watermark_boost_factor": f"{cfg['watermark_boost_factor']}\n",
        "watermark_scale_factor": f"{cfg['watermark_scale_factor']}\n",
        "percpu_pagelist_high_fraction": f"{cfg['percpu_pagelist_high_fraction']}\n",
        "lowmem_reserve_ratio": "\t".join(ratios) + "\n",
    }


def proc_vmstat_init(k: Kernel) -> None:
    """Register /proc/buddyinfo, /proc/pagetypeinfo, /proc/zoneinfo and /proc/vmstat.

    Also the page allocator's /proc/sys/vm files (min_free_kbytes,
    watermark_scale_factor, ...), read-only here.
    """
    k.fs.create_file("/proc/buddyinfo", lambda: buddyinfo_show(k))
    k.fs.create_file("/proc/pagetypeinfo", lambda: pagetypeinfo_show(k))
    k.fs.create_file("/proc/zoneinfo", lambda: zoneinfo_show(k))
    k.fs.create_file("/proc/vmstat", lambda: vmstat_show(k))
    for name in page_alloc_sysctls(k):
        k.fs.create_file(
            f"/proc/sys/vm/{name}",
            lambda name=name: page_alloc_sysctls(k)[name],  # type: ignore[misc]
        )
