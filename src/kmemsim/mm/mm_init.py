"""Model of mm/mm_init.c: zones and nodes sized from memblock, and the boot-time memory reports.

free_area_init() is where the architecture's zone limits (max_zone_pfn[],
"ZONE_DMA ends at 16 MiB, ZONE_DMA32 at 4 GiB, ...") meet the RAM memblock
knows. Each configured zone gets the pfn range [previous limit, its limit),
starting at the first pfn of RAM; ZONE_MOVABLE is carved out of the highest
zone only when kernelcore= or movablecore= ask for it. It prints that split
("Zone ranges:", "Movable zone start for each node", "Early memory node
ranges") and then sizes node 0 ("Initmem setup node 0 [mem ...]"): per zone,
spanned pages (first to last pfn) and present pages (spanned minus the holes
between memblock memory ranges), zone_start_pfn.

memmap_init() initialises the struct pages of the RAM ranges, and those of
holes that still have a memmap (a valid pfn: on SPARSEMEM an early section
that holds some RAM, on FLATMEM anything inside mem_map), which it reports as
"On node 0, zone DMA: N pages in unavailable ranges". kmemsim has no memmap
for free frames, so only the counting is modelled, section by section.

mem_init_print_info() prints the "Memory: free/total available (kernel
sections..., reserved, cma-reserved)" line from the model's counters, and
report_meminit() the "mem auto-init" line (init_on_alloc, init_on_free and
the stack auto-init choice, all off in the modelled configurations).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.include.linux.gfp_types import __GFP_ZERO, GFP_ATOMIC
from kmemsim.include.linux.mmzone import ULONG_MAX, ZONE_NAMES, PglistData, Zone, ZoneType
from kmemsim.kernel.time.jiffies import jiffies_to_msecs

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel


def configured_zones(k: Kernel) -> list[ZoneType]:
    """The zones this kernel is built with, in enum zone_type order.

    ZONE_DMA and ZONE_DMA32 follow CONFIG_ZONE_DMA/CONFIG_ZONE_DMA32 (DMA32
    exists only on 64-bit), ZONE_HIGHMEM CONFIG_HIGHMEM (32-bit only),
    ZONE_MOVABLE always, ZONE_DEVICE on x86_64 (CONFIG_ZONE_DEVICE, as in the
    6.18 machine's "Device   empty" line)."""
    arch = k.arch
    zones = []
    if k.config["ZONE_DMA"]:
        zones.append(ZoneType.DMA)
    if k.config["ZONE_DMA32"] and arch.zone_dma32:
        zones.append(ZoneType.DMA32)
    zones.append(ZoneType.NORMAL)
    if k.config["HIGHMEM"] and arch.highmem:
        zones.append(ZoneType.HIGHMEM)
    zones.append(ZoneType.MOVABLE)
    if arch.zone_device:
        zones.append(ZoneType.DEVICE)
    return zones


def _mem(pfn_start: int, pfn_end: int, shift: int) -> str:
    """The "[mem %#018Lx-%#018Lx]" of a pfn range [start, end)."""
    return f"[mem {pfn_start << shift:#018x}-{(pfn_end << shift) - 1:#018x}]"


def free_area_init(k: Kernel, max_zone_pfn: dict[ZoneType, int]) -> PglistData:
    """free_area_init(): zone boundaries, node 0's zones, the memmap holes; sets k.pgdat."""
    log = k.log
    shift = k.machine.page_shift
    max_order_nr_pages = 1 << int(k.config["ARCH_FORCE_MAX_ORDER"])
    ranges = k.memblock.mem_pfn_ranges(shift)
    zones_built = configured_zones(k)

    lowest: dict[ZoneType, int] = dict.fromkeys(ZoneType, 0)
    highest: dict[ZoneType, int] = dict.fromkeys(ZoneType, 0)
    start_pfn = k.memblock.start_of_dram() >> shift
    for zt in zones_built:
        if zt == ZoneType.MOVABLE:
            continue
        end_pfn = max(max_zone_pfn.get(zt, 0), start_pfn)
        lowest[zt], highest[zt] = start_pfn, end_pfn
        start_pfn = end_pfn

    zone_movable_pfn = _find_zone_movable_pfn(
        k, ranges, zones_built, lowest, highest, max_order_nr_pages
    )

    log.pr_info("Zone ranges:")
    for zt in zones_built:
        if zt == ZoneType.MOVABLE:
            continue
        span = "empty" if lowest[zt] == highest[zt] else _mem(lowest[zt], highest[zt], shift)
        log.pr_info(f"  {ZONE_NAMES[zt]:<8} {span}")
    log.pr_info("Movable zone start for each node")
    if zone_movable_pfn:
        log.pr_info(f"  Node 0: {zone_movable_pfn << shift:#018x}")
    log.pr_info("Early memory node ranges")
    for s, e in ranges:
        log.pr_info(f"  node {0:3d}: {_mem(s, e, shift)}")

    # free_area_init_node(0)
    node_start = min((s for s, _ in ranges), default=0)
    node_end = max((e for _, e in ranges), default=0)
    zones = [Zone(node=0, zone_type=zt) for zt in ZoneType]
    if node_start != node_end:
        log.pr_info(
            f"Initmem setup node 0 [mem {node_start << shift:#018x}-"
            f"{(node_end << shift) - 1 if node_end else 0:#018x}]"
        )
        movable_zone = _movable_zone(zones_built, lowest, highest)
        for zt in zones_built:
            zs, ze = _zone_span(
                zt, node_start, node_end, lowest, highest, zone_movable_pfn, movable_zone
            )
            spanned = ze - zs
            absent = _absent_pages(ranges, zs, ze) if spanned else 0
            zone = zones[zt]
            zone.zone_start_pfn = zs if spanned else 0
            zone.spanned_pages = spanned
            zone.present_pages = spanned - absent
            # zone_init_internals(): managed starts as present; memblock_free_all resets it.
            zone.managed_pages = zone.present_pages
    else:
        log.pr_info("Initmem setup node 0 as memoryless")
    pgdat = PglistData(
        node_id=0,
        node_start_pfn=node_start if node_start != node_end else 0,
        node_spanned_pages=sum(z.spanned_pages for z in zones),
        node_present_pages=sum(z.present_pages for z in zones),
        zones=zones,
    )
    pgdat.zone_movable_pfn = zone_movable_pfn
    k.pgdat = pgdat
    if not k.arch.sparsemem and node_start != node_end:
        _alloc_node_mem_map(k, node_start, node_end, max_order_nr_pages)
    _calc_nr_kernel_pages(k, lowest)
    _memmap_init(k, ranges, max_order_nr_pages)
    return pgdat


def _alloc_node_mem_map(k: Kernel, start: int, end: int, max_order_nr_pages: int) -> None:
    """alloc_node_mem_map() (FLATMEM): one struct page per frame of the MAX_ORDER-aligned node."""
    struct_page = 64 if k.arch.bits == 64 else 32
    lo = start & ~(max_order_nr_pages - 1)
    hi = -(-end // max_order_nr_pages) * max_order_nr_pages
    k.memblock.phys_alloc_range((hi - lo) * struct_page, 64, owner="mem_map")


def _movable_zone(
    zones_built: list[ZoneType], lowest: dict[ZoneType, int], highest: dict[ZoneType, int]
) -> ZoneType:
    """find_usable_zone_for_movable(): the highest zone with a pfn range."""
    for zt in reversed(zones_built):
        if zt in (ZoneType.MOVABLE, ZoneType.DEVICE):
            continue
        if highest[zt] > lowest[zt]:
            return zt
    return zones_built[0]


def _zone_span(
    zt: ZoneType,
    node_start: int,
    node_end: int,
    lowest: dict[ZoneType, int],
    highest: dict[ZoneType, int],
    zone_movable_pfn: int,
    movable_zone: ZoneType,
) -> tuple[int, int]:
    """zone_spanned_pages_in_node() with adjust_zone_range_for_zone_movable()."""
    lo, hi = lowest[zt], highest[zt]
    zs = min(max(node_start, lo), hi)
    ze = min(max(node_end, lo), hi)
    if zone_movable_pfn:
        if zt == ZoneType.MOVABLE:
            zs, ze = zone_movable_pfn, min(node_end, highest[movable_zone])
        elif zs < zone_movable_pfn < ze:
            ze = zone_movable_pfn
        elif zs >= zone_movable_pfn:
            zs = ze
    if ze < node_start or zs > node_end:
        return 0, 0
    ze, zs = min(ze, node_end), max(zs, node_start)
    return (zs, ze) if ze > zs else (zs, zs)


def _absent_pages(ranges: list[tuple[int, int]], start: int, end: int) -> int:
    """__absent_pages_in_range(): pfns of [start, end) outside every memory range."""
    present = sum(max(0, min(e, end) - max(s, start)) for s, e in ranges)
    return end - start - present


def _find_zone_movable_pfn(
    k: Kernel,
    ranges: list[tuple[int, int]],
    zones_built: list[ZoneType],
    lowest: dict[ZoneType, int],
    highest: dict[ZoneType, int],
    max_order_nr_pages: int,
) -> int:
    """find_zone_movable_pfns_for_nodes() for one node: kernelcore= / movablecore=.

    ZONE_MOVABLE takes the top of the highest zone: kernelcore pages are
    counted from the bottom of that zone (pages below it are kernel memory
    anyway), the rest is movable; movablecore=N means kernelcore = total - N.
    The start is rounded up to MAX_ORDER_NR_PAGES."""
    shift = k.machine.page_shift
    required_kernelcore = int(k.config["kernelcore"]) >> shift
    required_movablecore = int(k.config["movablecore"]) >> shift
    if not required_kernelcore and not required_movablecore:
        return 0
    movable_zone = _movable_zone(zones_built, lowest, highest)
    usable_start = lowest[movable_zone]
    totalpages = sum(e - s for s, e in ranges)
    if required_movablecore:
        required_movablecore = min(required_movablecore, totalpages)
        required_kernelcore = max(required_kernelcore, totalpages - required_movablecore)
    if required_kernelcore >= totalpages or required_kernelcore == 0:
        return 0
    remaining = required_kernelcore
    zone_movable_pfn = 0
    for s, e in ranges:
        if remaining <= 0:
            break
        if s < usable_start:
            kernel_pages = min(e, usable_start) - s
            remaining -= min(kernel_pages, remaining)
            if e <= usable_start:
                continue
            s = usable_start
        size = min(e - s, remaining)
        zone_movable_pfn = s + size
        remaining -= size
    if not zone_movable_pfn:
        return 0
    pfn = -(-zone_movable_pfn // max_order_nr_pages) * max_order_nr_pages
    return pfn if pfn < max(e for _, e in ranges) else 0


def _calc_nr_kernel_pages(k: Kernel, lowest: dict[ZoneType, int]) -> None:
    """calc_nr_kernel_pages(): free memblock pages, all and below highmem."""
    shift = k.machine.page_shift
    mask = (1 << shift) - 1
    high_low = lowest[ZoneType.HIGHMEM] if ZoneType.HIGHMEM in configured_zones(k) else None
    nr_all = nr_kernel = 0
    for b, e in k.memblock.free_ranges():
        s, t = (b + mask) >> shift, e >> shift
        if s >= t:
            continue
        nr_all += t - s
        if high_low is not None:
            s, t = min(s, high_low), min(t, high_low)
        nr_kernel += t - s
    k.pgdat.nr_all_pages = nr_all
    k.pgdat.nr_kernel_pages = nr_kernel


def valid_pfn_spans(k: Kernel) -> list[tuple[int, int]]:
    """The pfns that pfn_valid() accepts (they have a struct page), as merged [lo, hi) spans.

    SPARSEMEM: every pfn of an early section that holds some RAM. FLATMEM
    with the arch's own pfn_valid (ARM): pfns of memblock memory. FLATMEM
    (i386): pfns inside mem_map, [node start, end) aligned to MAX_ORDER_NR_PAGES.
    No per-section or per-page work, so a machine of any size costs the same."""
    shift = k.machine.page_shift
    ranges = k.memblock.mem_pfn_ranges(shift)
    if not ranges:
        return []
    arch = k.arch
    if arch.sparsemem:
        per = arch.pages_per_section(shift)
        spans: list[list[int]] = []
        for s, e in sorted(ranges):
            lo, hi = s // per * per, -(-e // per) * per
            if spans and lo <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], hi)
            else:
                spans.append([lo, hi])
        return [(lo, hi) for lo, hi in spans]
    if arch.flatmem_pfn_valid == "memblock":
        return list(ranges)
    align = 1 << int(k.config["ARCH_FORCE_MAX_ORDER"])
    return [(ranges[0][0] // align * align, -(-ranges[-1][1] // align) * align)]


def _valid_pfns(k: Kernel, start: int, end: int) -> int:
    """How many pfns of [start, end) are pfn_valid()."""
    if end <= start:
        return 0
    return sum(max(0, min(end, hi) - max(start, lo)) for lo, hi in valid_pfn_spans(k))


def _memmap_init(k: Kernel, ranges: list[tuple[int, int]], max_order_nr_pages: int) -> None:
    """memmap_init(): report the holes with struct pages, zone by zone, as the kernel walks them."""
    hole_pfn = 0
    zone_id: ZoneType = ZoneType.DMA
    log = k.log
    populated = [z for z in k.pgdat.zones if z.populated()]

    def unavailable(spfn: int, epfn: int, zt: ZoneType) -> None:
        n = _valid_pfns(k, spfn, epfn)
        if n:
            log.pr_info(f"On node 0, zone {ZONE_NAMES[zt]}: {n} pages in unavailable ranges")

    end_pfn = 0
    for s, e in ranges:
        end_pfn = e
        for zone in populated:
            zs, ze = zone.zone_start_pfn, zone.zone_end_pfn
            rs, re_ = min(max(s, zs), ze), min(max(e, zs), ze)
            zone_id = zone.zone_type
            if rs >= re_:
                continue
            if hole_pfn < rs:
                unavailable(hole_pfn, rs, zone.zone_type)
            hole_pfn = re_
    arch = k.arch
    align = arch.pages_per_section(k.machine.page_shift) if arch.sparsemem else max_order_nr_pages
    end_pfn = -(-end_pfn // align) * align
    if hole_pfn < end_pfn:
        unavailable(hole_pfn, end_pfn, zone_id)
    k.pgdat.first_deferred_pfn = _first_deferred_pfn(k, ranges)


def _first_deferred_pfn(k: Kernel, ranges: list[tuple[int, int]]) -> int:
    """defer_init(): where memmap_init() stops initialising struct pages (ULONG_MAX: nowhere).

    With CONFIG_DEFERRED_STRUCT_PAGE_INIT only the zone that ends where the
    node ends is deferred ("Always populate low zones for address-constrained
    allocations"); memmap_init() walks its memory ranges pfn by pfn counting
    (nr_initialised) and stops at the first section-aligned pfn past one
    section's worth of pages: "We start only with one section of pages".
    """
    if not k.config["DEFERRED_STRUCT_PAGE_INIT"]:
        return ULONG_MAX
    pgdat = k.pgdat
    per = k.arch.pages_per_section(k.machine.page_shift)
    for zone in pgdat.zones:
        if not zone.present_pages or zone.zone_end_pfn < pgdat.node_end_pfn:
            continue
        counted = 0
        for rs, re_ in ranges:
            s, e = max(rs, zone.zone_start_pfn), min(re_, zone.zone_end_pfn)
            if s >= e:
                continue
            # pfn p is the (counted + p - s + 1)-th: past a section once p >= s + per - counted.
            p = max(s, s + per - counted)
            p = -(-p // per) * per
            if p < e:
                return p
            counted += e - s
    return ULONG_MAX


def _deferred_free_ranges(k: Kernel, start: int, end: int) -> list[tuple[int, int]]:
    """for_each_free_mem_pfn_range_in_zone_from(): free memblock pfns of [start, end)."""
    shift = k.machine.page_shift
    mask = (1 << shift) - 1
    out = []
    for base, stop in k.memblock.free_ranges():
        s, e = max((base + mask) >> shift, start), min(stop >> shift, end)
        if s < e:
            out.append((s, e))
    return out


def _deferred_zone(k: Kernel) -> Zone | None:
    """The zone holding the deferred pages: the last populated one of the node."""
    pgdat = k.pgdat
    if pgdat.first_deferred_pfn == ULONG_MAX:
        return None
    for zone in pgdat.zones:
        if zone.spans(pgdat.first_deferred_pfn):
            return zone
    return None


def _deferred_free(k: Kernel, start: int, end: int) -> int:
    """deferred_init_pages() + deferred_free_pages() of [start, end): the free pages handed over.

    The struct pages are initialised (nothing to do in a model that has none
    for free frames) and the free frames go to the buddy allocator through
    __free_pages_core(), MAX_PAGE_ORDER blocks where whole, which adds them to
    the zone's managed_pages; totalram_pages counted them at memblock_free_all().
    """
    from kmemsim.mm.memblock import free_pfn_range

    pages = 0
    for s, e in _deferred_free_ranges(k, start, end):
        free_pfn_range(k, s, e)
        pages += e - s
    k.pgdat.nr_deferred_pages -= pages
    return pages


def deferred_grow_zone(k: Kernel, zone: Zone, order: int) -> bool:
    """deferred_grow_zone(): initialise enough deferred sections for a 2**order allocation.

    Called by get_page_from_freelist() when the zone fails its watermark while
    deferred pages remain (before page_alloc_init_late()). Sections are
    initialised whole, from first_deferred_pfn on, until at least
    ALIGN(2**order, PAGES_PER_SECTION) free pages were handed over; True when
    the zone grew (the caller tries the zone again).
    """
    pgdat = k.pgdat
    first = pgdat.first_deferred_pfn
    if first == ULONG_MAX or zone.zone_end_pfn != pgdat.node_end_pfn:
        return False
    per = k.arch.pages_per_section(k.machine.page_shift)
    needed = -(-(1 << order) // per) * per
    ranges = _deferred_free_ranges(k, first, zone.zone_end_pfn)
    if not ranges:
        pgdat.first_deferred_pfn = ULONG_MAX
        return False
    end, nr = first, 0
    for s, e in ranges:
        # Whole sections from the range's first (or the current) section on.
        pos = max(s, end)
        while pos < e and nr < needed:
            stop = (pos // per + 1) * per
            nr += min(stop, e) - pos
            pos = stop
        end = max(end, pos)
        if nr >= needed:
            break
    last = ranges[-1][1]
    end = min(end, last)
    nr = _deferred_free(k, first, end)
    pgdat.first_deferred_pfn = end if end < last else ULONG_MAX
    return nr > 0


# Simulated cost of deferred_init_memmap(): ns per page per thread. Not measured
# on the captured machine (its log excerpt lacks the line); 6.x kernels report
# tens of ms per GiB per thread ("node 0 deferred pages initialised in 28ms"
# for ~2 GiB on 2 CPUs).
DEFERRED_INIT_NS_PER_PAGE = 100


def deferred_init_memmap(k: Kernel) -> int:
    """deferred_init_memmap(), the pgdatinit0 kthread: every deferred page to the buddy allocator.

    padata_do_multithreaded() splits the work over the node's CPUs
    (deferred_page_init_max_threads()); the thread's simulated run time moves
    the clock, and it reports "node 0 deferred pages initialised in Nms"
    (jiffies_to_msecs() of the jiffies it took). Returns the pages freed.
    """
    pgdat = k.pgdat
    zone = _deferred_zone(k)
    if zone is None:
        return 0
    clock = k.clock
    start = clock.jiffies
    first = pgdat.first_deferred_pfn
    pgdat.first_deferred_pfn = ULONG_MAX
    pages = _deferred_free(k, first, zone.zone_end_pfn)
    threads = max(1, k.machine.cpus)
    clock.advance(pages * DEFERRED_INIT_NS_PER_PAGE // threads)
    k.log.pr_info(
        f"node {pgdat.node_id} deferred pages initialised in "
        f"{jiffies_to_msecs(clock.jiffies - start, clock.hz)}ms"
    )
    return pages


def page_alloc_init_late(k: Kernel) -> None:
    """page_alloc_init_late() (kernel_init_freeable(), after smp_init()).

    Runs the deferred struct-page init threads, ends on-demand growing
    (static_branch_disable(&deferred_pages)) and prints the "Memory:" line:
    6.18 prints it here, after the "SLUB:" line and the start_kernel() hash
    tables, as the captured log shows. Where the model departs from the
    source it read: 6.18's code waits for the pgdatinit threads before
    mem_init_print_info(), but the captured machine's line counts only the
    memory initialised early (3218236K free of 24 GiB, and 0.85 ms after the
    previous line, too soon for 17 GiB of struct pages), so the model prints
    the line before the deferred pages arrive, then lets the thread run.
    """
    mem_init_print_info(k)
    if k.config["DEFERRED_STRUCT_PAGE_INIT"]:
        deferred_init_memmap(k)
        k.page_alloc.deferred_pages = False


def alloc_large_system_hash(
    k: Kernel,
    tablename: str,
    bucketsize: int,
    numentries: int,
    scale: int,
    flags_early: bool = True,
    low_limit: int = 0,
    high_limit: int = 0,
) -> int:
    """alloc_large_system_hash(): size a boot hash table from RAM and allocate it.

    With numentries 0 the table gets one bucket per 2**scale bytes of
    nr_kernel_pages (rounded up to a power of two); HASH_EARLY tables come
    from memblock. Prints "<name> hash table entries: N (order: o, B bytes,
    linear)" and returns the physical address (0 on failure). Later tables
    (flags_early False, after mm_core_init()) come from the buddy allocator
    (alloc_pages_exact(), "linear"), or from vmalloc when larger than
    MAX_PAGE_ORDER ("vmalloc", "vmalloc hugepage" from a PMD up on x86_64);
    for those the kernel virtual address is returned. A failed allocation
    halves the table and retries while it is larger than a page."""
    shift = k.machine.page_shift
    page_size = 1 << shift
    if not numentries:
        # arch_reserved_kernel_pages() is 0 on the modelled architectures.
        numentries = k.pgdat.nr_kernel_pages
        if page_size < (1 << 20):
            numentries = -(-numentries // ((1 << 20) // page_size)) * ((1 << 20) // page_size)
        if k.arch.bits > 32 and not high_limit:
            # Past 64 GiB, one more scale step per 4x of RAM (ADAPT_SCALE_*).
            adapt = (64 << 30) >> shift
            while adapt < numentries:
                scale += 1
                adapt <<= 2
        if scale > shift:
            numentries >>= scale - shift
        else:
            numentries <<= shift - scale
        if numentries * bucketsize < page_size:
            numentries = page_size // bucketsize
    numentries = 1 << (numentries - 1).bit_length()
    max_ = high_limit
    if not max_:
        # At most 1/16 of memory by default.
        max_ = ((k.pgdat.nr_all_pages << shift) >> 4) // bucketsize
    max_ = min(max_, 0x80000000)
    numentries = max(min(numentries, max_), low_limit)
    log2qty = numentries.bit_length() - 1
    addr = 0
    virt = False
    gfp = int(GFP_ATOMIC | __GFP_ZERO)  # HASH_ZERO: every table kmemsim makes is zeroed
    while True:
        size = bucketsize << log2qty
        order = max(0, (size - 1) >> shift).bit_length()  # get_order(size)
        if flags_early:
            addr = k.memblock.phys_alloc_range(size, 1 << 6, owner=f"{tablename} hash")
        elif order > int(k.config["ARCH_FORCE_MAX_ORDER"]):
            addr, virt = int(k.vmalloc_area.vmalloc(size)), True  # vmalloc_huge()
        else:
            # alloc_pages_exact(): the tables are powers of two (bucket sizes are),
            # so no tail pages come back.
            page = k.page_alloc.alloc_pages(gfp, order)
            if page is not None:
                page.owner = f"{tablename} hash"
                addr = int(k.page_alloc.page_address(page))
        if addr or size <= page_size or log2qty <= 1:
            break
        log2qty -= 1
    if not addr:
        k.log.pr_emerg(f"Failed to allocate {tablename} hash table")
        return 0
    kind = "linear"
    if virt:
        huge = k.machine.arch == "x86_64" and size >= 2 << 20  # HAVE_ARCH_HUGE_VMALLOC, PMD
        kind = "vmalloc hugepage" if huge else "vmalloc"
    k.log.pr_info(
        f"{tablename} hash table entries: {1 << log2qty} (order: {order}, {size} bytes, {kind})"
    )
    return addr


def report_meminit(k: Kernel) -> None:
    """report_meminit(): "mem auto-init: stack:off, heap alloc:off, heap free:off".

    The stack choice is CONFIG_INIT_STACK_ALL_{PATTERN,ZERO} ("all(pattern)",
    "all(zero)") or off (off in the modelled builds); heap alloc/free are the
    init_on_alloc= / init_on_free= boot parameters, with the warning that
    init_on_free costs time."""
    alloc = "on" if k.config["init_on_alloc"] else "off"
    free = "on" if k.config["init_on_free"] else "off"
    k.log.pr_info(f"mem auto-init: stack:off, heap alloc:{alloc}, heap free:{free}")
    if k.config["init_on_free"]:
        k.log.pr_info("mem auto-init: clearing system memory may take some time...")


def totalram_pages(k: Kernel) -> int:
    """totalram_pages(): the zones' managed pages and the deferred pages counted at boot."""
    return int(k.page_alloc.totalram_pages())


def totalhigh_pages(k: Kernel) -> int:
    """totalhigh_pages(): managed pages of ZONE_HIGHMEM (and a highmem ZONE_MOVABLE)."""
    return k.pgdat.zones[ZoneType.HIGHMEM].managed_pages


def get_num_physpages(k: Kernel) -> int:
    """get_num_physpages(): the nodes' present pages."""
    return k.pgdat.node_present_pages


def nr_free_pages(k: Kernel) -> int:
    """nr_free_pages(): free pages in the buddy allocator (NR_FREE_PAGES)."""
    return int(k.page_alloc.nr_free_pages())


def mem_init_print_info(k: Kernel) -> None:
    """mem_init_print_info(): the "Memory: ...K/...K available (...)" line.

    available is the free pages at this point, the total is physpages (present
    pages), reserved is physpages - totalram_pages (what memblock kept); the
    section sizes are the kernel image's. On CONFIG_HIGHMEM kernels the line
    ends with ", NK highmem"."""
    img = k.machine.kernel_image
    shift = k.machine.page_shift

    def kb(pages: int) -> int:
        return pages << (shift - 10)

    physpages = get_num_physpages(k)
    text = (
        f"Memory: {kb(nr_free_pages(k))}K/{kb(physpages)}K available ("
        f"{img.code // 1024}K kernel code, {img.rwdata // 1024}K rwdata, "
        f"{img.rodata // 1024}K rodata, {img.init // 1024}K init, {img.bss // 1024}K bss, "
        f"{kb(physpages - totalram_pages(k))}K reserved, 0K cma-reserved"
    )
    if k.config["HIGHMEM"] and k.arch.highmem:
        text += f", {kb(totalhigh_pages(k))}K highmem"
    k.log.pr_info(text + ")")
