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

from kmemsim.include.linux.mmzone import ZONE_NAMES, PglistData, Zone, ZoneType

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

# SECTION_SIZE_BITS per architecture (arch/*/include/asm/sparsemem.h); None: FLATMEM.
SECTION_SIZE_BITS = {"x86_64": 27, "i386": None, "arm": None}


def configured_zones(k: Kernel) -> list[ZoneType]:
    """The zones this kernel is built with, in enum zone_type order.

    ZONE_DMA and ZONE_DMA32 follow CONFIG_ZONE_DMA/CONFIG_ZONE_DMA32 (DMA32
    exists only on 64-bit), ZONE_HIGHMEM CONFIG_HIGHMEM (32-bit only),
    ZONE_MOVABLE always, ZONE_DEVICE on x86_64 (CONFIG_ZONE_DEVICE, as in the
    6.18 machine's "Device   empty" line)."""
    bits = k.machine.bits
    zones = []
    if k.config["ZONE_DMA"]:
        zones.append(ZoneType.DMA)
    if k.config["ZONE_DMA32"] and bits == 64:
        zones.append(ZoneType.DMA32)
    zones.append(ZoneType.NORMAL)
    if k.config["HIGHMEM"] and bits == 32:
        zones.append(ZoneType.HIGHMEM)
    zones.append(ZoneType.MOVABLE)
    if k.machine.arch == "x86_64":
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
    if SECTION_SIZE_BITS[k.machine.arch] is None and node_start != node_end:
        _alloc_node_mem_map(k, node_start, node_end, max_order_nr_pages)
    _calc_nr_kernel_pages(k, lowest)
    _memmap_init(k, ranges, max_order_nr_pages)
    return pgdat


def _alloc_node_mem_map(k: Kernel, start: int, end: int, max_order_nr_pages: int) -> None:
    """alloc_node_mem_map() (FLATMEM): one struct page per frame of the MAX_ORDER-aligned node."""
    struct_page = 64 if k.machine.bits == 64 else 32
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


def _valid_pfns(k: Kernel, ranges: list[tuple[int, int]], start: int, end: int) -> int:
    """How many pfns of [start, end) are pfn_valid(): they have a struct page.

    SPARSEMEM: every pfn of an early section that holds some RAM. FLATMEM
    with the arch's own pfn_valid (ARM): pfns of memblock memory. FLATMEM
    (i386): pfns inside mem_map, [node start, end) aligned to MAX_ORDER_NR_PAGES."""
    if end <= start:
        return 0
    bits = SECTION_SIZE_BITS[k.machine.arch]
    if bits is not None:
        # The early sections holding RAM, as merged [first pfn, end pfn) spans: no
        # per-section work, so a machine of any size costs the same.
        per = 1 << (bits - k.machine.page_shift)
        spans: list[list[int]] = []
        for s, e in sorted(ranges):
            lo, hi = s // per * per, -(-e // per) * per
            if spans and lo <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], hi)
            else:
                spans.append([lo, hi])
        return sum(max(0, min(end, hi) - max(start, lo)) for lo, hi in spans)
    if k.machine.arch == "arm":
        return sum(max(0, min(e, end) - max(s, start)) for s, e in ranges)
    align = 1 << int(k.config["ARCH_FORCE_MAX_ORDER"])
    lo = ranges[0][0] // align * align
    hi = -(-ranges[-1][1] // align) * align
    return max(0, min(end, hi) - max(start, lo))


def _memmap_init(k: Kernel, ranges: list[tuple[int, int]], max_order_nr_pages: int) -> None:
    """memmap_init(): report the holes with struct pages, zone by zone, as the kernel walks them."""
    hole_pfn = 0
    zone_id: ZoneType = ZoneType.DMA
    log = k.log
    populated = [z for z in k.pgdat.zones if z.populated()]

    def unavailable(spfn: int, epfn: int, zt: ZoneType) -> None:
        n = _valid_pfns(k, ranges, spfn, epfn)
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
    bits = SECTION_SIZE_BITS[k.machine.arch]
    align = (1 << (bits - k.machine.page_shift)) if bits is not None else max_order_nr_pages
    end_pfn = -(-end_pfn // align) * align
    if hole_pfn < end_pfn:
        unavailable(hole_pfn, end_pfn, zone_id)


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
    linear)" and returns the physical address (0 on failure)."""
    shift = k.machine.page_shift
    page_size = 1 << shift
    if not numentries:
        # arch_reserved_kernel_pages() is 0 on the modelled architectures.
        numentries = k.pgdat.nr_kernel_pages
        if page_size < (1 << 20):
            numentries = -(-numentries // ((1 << 20) // page_size)) * ((1 << 20) // page_size)
        if k.machine.bits > 32 and not high_limit:
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
    size = bucketsize << log2qty
    while flags_early:
        size = bucketsize << log2qty
        addr = k.memblock.phys_alloc_range(size, 1 << 6, owner=f"{tablename} hash")
        if addr or size <= page_size or log2qty == 0:
            break
        log2qty -= 1
    order = max(0, (size - 1) >> shift).bit_length()  # get_order(size)
    if not addr:
        k.log.pr_emerg(f"Failed to allocate {tablename} hash table")
        return 0
    k.log.pr_info(
        f"{tablename} hash table entries: {1 << log2qty} (order: {order}, {size} bytes, linear)"
    )
    return addr


def report_meminit(k: Kernel) -> None:
    """report_meminit(): "mem auto-init: stack:off, heap alloc:off, heap free:off".

    The stack choice is CONFIG_INIT_STACK_ALL_{PATTERN,ZERO} ("all(pattern)",
    "all(zero)") or off; heap alloc/free are init_on_alloc / init_on_free,
    off in every modelled configuration."""
    k.log.pr_info("mem auto-init: stack:off, heap alloc:off, heap free:off")


def totalram_pages(k: Kernel) -> int:
    """totalram_pages(): every page the buddy allocator manages, the zones' managed_pages."""
    return sum(z.managed_pages for z in k.pgdat.zones)


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
    if k.config["HIGHMEM"] and k.machine.bits == 32:
        text += f", {kb(totalhigh_pages(k))}K highmem"
    k.log.pr_info(text + ")")
