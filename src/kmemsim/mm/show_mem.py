"""Model of mm/show_mem.c: the "Mem-Info:" report of an allocation failure or the OOM killer.

__show_mem() prints the global page counters, one line per node, one line per
zone (free pages, watermarks, present and managed sizes in kB, the zone's
lowmem_reserve[]), then each zone's buddy free lists as
"Node 0 DMA: 1*4kB (U) 2*8kB (M) ... = 1234kB" with the letters of the
migrate types that have blocks of that order, then page cache, swap and the
RAM totals. Zones above the failed request's highest zone are left out, as
the kernel filters them with gfp_zone(). Counters of subsystems kmemsim does
not model (LRU lists, page cache, swap) are 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.include.linux.mmzone import MIGRATE_TYPES, ZoneBuddy
from kmemsim.mm.page_alloc import (
    MIGRATETYPE_LETTERS,
    WMARK_HIGH,
    WMARK_LOW,
    WMARK_MIN,
    PageAllocator,
)
from kmemsim.mm.vmscan import node_unreclaimable
from kmemsim.mm.vmstat import slab_pages

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel


def free_area_line(pa: PageAllocator, zb: ZoneBuddy) -> str:
    """The free-list line of one zone: "Node 0 DMA: n*4kB (UM) ... = total kB"."""
    kb = (1 << pa.page_shift) >> 10
    parts = []
    total = 0
    for order in range(pa.nr_page_orders):
        lists = zb.free_list[order]
        nr = sum(len(lst) for lst in lists)
        total += nr << order
        part = f"{nr}*{kb << order}kB "
        if nr:
            letters = "".join(MIGRATETYPE_LETTERS[mt] for mt in range(MIGRATE_TYPES) if lists[mt])
            part += f"({letters}) "
        parts.append(part)
    return f"Node 0 {zb.zone.name}: " + "".join(parts) + f"= {total * kb}kB"


def show_free_areas(k: Kernel, max_zone_idx: int) -> None:
    """__show_free_areas(): counters, node and zone lines, free lists."""
    pa = k.page_alloc
    log = k.log
    kb = (1 << pa.page_shift) >> 10
    rec, unrec = slab_pages(k)
    free_pcp = pa.nr_free_pcp()
    cpu = k.sched.current_cpu % pa.nr_cpus
    log.pr_warn(
        "active_anon:0 inactive_anon:0 isolated_anon:0\n"
        " active_file:0 inactive_file:0 isolated_file:0\n"
        " unevictable:0 dirty:0 writeback:0\n"
        f" slab_reclaimable:{rec} slab_unreclaimable:{unrec}\n"
        " mapped:0 shmem:0 pagetables:0\n"
        " sec_pagetables:0 bounce:0\n"
        " kernel_misc_reclaimable:0\n"
        f" free:{pa.nr_free_pages()} free_pcp:{free_pcp} free_cma:0"
    )
    thp = " shmem_thp:0kB shmem_pmdmapped:0kB anon_thp:0kB" if pa.thp else ""
    hopeless = "yes" if node_unreclaimable(pa) else "no"
    log.pr_warn(
        "Node 0 active_anon:0kB inactive_anon:0kB active_file:0kB inactive_file:0kB "
        "unevictable:0kB isolated(anon):0kB isolated(file):0kB mapped:0kB dirty:0kB "
        f"writeback:0kB shmem:0kB{thp} kernel_stack:0kB pagetables:0kB "
        f"sec_pagetables:0kB all_unreclaimable? {hopeless} Balloon:0kB"
    )
    shown = [zb for zb in pa.buddies if zb.zone.present_pages and zb.idx <= max_zone_idx]
    for zb in shown:
        z = zb.zone
        pcp = zb.pcp_count()
        local = zb.pcp[cpu].count
        log.pr_warn(
            f"Node 0 {z.name} free:{zb.nr_free * kb}kB boost:{zb.watermark_boost * kb}kB "
            f"min:{zb.wmark(WMARK_MIN) * kb}kB low:{zb.wmark(WMARK_LOW) * kb}kB "
            f"high:{zb.wmark(WMARK_HIGH) * kb}kB "
            f"reserved_highatomic:{zb.nr_reserved_highatomic * kb}KB "
            f"free_highatomic:{zb.nr_free_highatomic * kb}KB "
            "active_anon:0kB inactive_anon:0kB active_file:0kB inactive_file:0kB "
            "unevictable:0kB writepending:0kB zspages:0kB "
            f"present:{z.present_pages * kb}kB managed:{z.managed_pages * kb}kB "
            f"mlocked:0kB bounce:0kB free_pcp:{pcp * kb}kB local_pcp:{local * kb}kB "
            "free_cma:0kB"
        )
        log.pr_warn("lowmem_reserve[]:" + "".join(f" {v}" for v in zb.lowmem_reserve))
    for zb in shown:
        log.pr_warn(free_area_line(pa, zb))
    # hugetlb_show_meminfo_node(): one line per huge page size (hstate), largest first.
    sizes = [1 << 20] if pa.arch.pud_hugepages else []
    if pa.arch.hugepagesize_kb:
        sizes.append(pa.arch.hugepagesize_kb)
    for size in sizes:
        log.pr_info(
            f"Node 0 hugepages_total=0 hugepages_free=0 hugepages_surp=0 hugepages_size={size}kB"
        )
    log.pr_warn("0 total pagecache pages")
    log.pr_warn("0 pages in swap cache")
    log.pr_warn("Free swap  = 0kB")
    log.pr_warn("Total swap = 0kB")


def show_mem(k: Kernel, gfp: int = 0) -> None:
    """__show_mem(): "Mem-Info:", the free areas and the RAM totals."""
    from kmemsim.include.linux.mmzone import ZoneType

    pa = k.page_alloc
    k.log.pr_warn("Mem-Info:")
    show_free_areas(k, pa.gfp_zone(gfp) if gfp else pa.nr_zones - 1)
    total = reserved = highmem = 0
    for zb in pa.buddies:
        z = zb.zone
        if not z.present_pages:
            continue
        total += z.present_pages
        reserved += z.present_pages - z.managed_pages
        if z.zone_type in (ZoneType.HIGHMEM, ZoneType.MOVABLE):
            highmem += z.present_pages
    k.log.pr_warn(f"{total} pages RAM")
    k.log.pr_warn(f"{highmem} pages HighMem/MovableOnly")
    k.log.pr_warn(f"{reserved} pages reserved")
