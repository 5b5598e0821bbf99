"""The buddy allocator of mm/page_alloc.c: splitting, merging, per-CPU lists, GFP zones.

The kernels here are booted small PCs (tests/mm/support.py). Where a test needs
a known starting point it makes one with kernel operations (drain_all_pages(),
the untouched per-CPU lists of CPU 1, blocks taken off the free lists), and
expected values are computed from the kernel's rules, not read off the model.
"""

from __future__ import annotations

import pytest

import kmemsim
from kmemsim.include.linux.gfp_types import (
    __GFP_COMP,
    __GFP_NOWARN,
    __GFP_ZERO,
    GFP_ATOMIC,
    GFP_DMA,
    GFP_DMA32,
    GFP_HIGHUSER_MOVABLE,
    GFP_KERNEL,
)
from kmemsim.include.linux.mmzone import ZoneType
from kmemsim.init.main import Kernel
from kmemsim.mm.page_alloc import (
    MIGRATE_MOVABLE,
    MIGRATE_RECLAIMABLE,
    MIGRATE_UNMOVABLE,
    get_order,
)
from kmemsim.trace.follow_pfn import take_free_block
from tests.mm.support import (
    free_blocks,
    free_lists,
    free_pages_memory,
    memblock_free_pfns,
    pc_kernel,
)

# GFP_HIGHUSER_MOVABLE without __GFP_HIGHMEM (x86_64 has no highmem), no warning.
MOVABLE = (GFP_HIGHUSER_MOVABLE & ~0x2) | __GFP_NOWARN


def a_free_pfn(k: Kernel, zone: ZoneType) -> int:
    """A frame inside a free MAX_PAGE_ORDER block of `zone` (not its first frame)."""
    zb = k.page_alloc.zone_by_type[zone]
    block = next(iter(zb.free_list[k.page_alloc.max_order][MIGRATE_MOVABLE]))
    return block + 0x345


def use_up_movable_blocks_below_max_order(k: Kernel, order: int) -> None:
    """Hold MOVABLE order-`order` allocations until DMA32 has no MOVABLE block of an order
    from `order` up to MAX_PAGE_ORDER - 1 (the leftovers of boot), so that the next one
    splits a MAX_PAGE_ORDER block."""
    pa = k.page_alloc
    dma32 = pa.zone_by_type[ZoneType.DMA32]
    while any(dma32.free_list[o][MIGRATE_MOVABLE] for o in range(order, pa.max_order)):
        assert k.alloc_pages(MOVABLE, order) is not None


# ---------------------------------------------------------------------------- tests


def test_get_order_matches_getorder_h() -> None:
    assert [get_order(s) for s in (1, 4096, 4097, 8192, 8193, 1 << 20, (1 << 22) + 1)] == [
        0,
        0,
        1,
        1,
        2,
        8,
        11,
    ]


def test_boot_frees_whole_max_order_blocks_to_the_movable_lists() -> None:
    """memblock_free_all(): each free memblock range of the zone goes over in the blocks
    __free_pages_memory() makes of it, to the tail of its (MOVABLE, at boot) pageblock's
    list, so each list holds its blocks in pfn order. ZONE_DMA, which no boot allocation
    asks for, still shows exactly that."""
    k = pc_kernel(64)
    pa = k.page_alloc
    dma = pa.zone_by_type[ZoneType.DMA]
    start = dma.zone.zone_start_pfn
    expected: dict[int, list[int]] = {}
    for s, e in memblock_free_pfns(k, start, start + dma.zone.spanned_pages):
        for pfn, order in free_pages_memory(s, e, pa.max_order):
            expected.setdefault(order, []).append(pfn)
    assert expected  # the x86 PC's DMA zone: 1 MiB (the first MiB stays reserved) .. 16 MiB
    for order in range(pa.nr_page_orders):
        assert list(dma.free_list[order][MIGRATE_MOVABLE]) == expected.get(order, []), order
        assert not any(dma.free_list[order][mt] for mt in (MIGRATE_UNMOVABLE, MIGRATE_RECLAIMABLE))
    total = sum(len(v) << o for o, v in expected.items())
    assert dma.nr_free == dma.zone.managed_pages == total


def test_split_and_merge_restore_the_free_lists() -> None:
    k = pc_kernel(64)
    k.page_alloc.drain_all_pages()  # what boot left on the per-CPU lists, back to the buddy
    before = free_blocks(k)
    page = k.alloc_pages(GFP_KERNEL, 3)
    assert page is not None and page.order == 3
    zb = k.page_alloc.page_zone(page.pfn)
    assert zb is not None and zb.zone.zone_type == ZoneType.DMA32
    k.free_pages_struct(page, 3)
    k.page_alloc.drain_all_pages()
    # The same blocks; the claimed pageblock stays UNMOVABLE, as in the kernel.
    assert free_blocks(k) == before


def test_expand_puts_upper_halves_on_the_list_heads() -> None:
    k = pc_kernel(96, config={"TRANSPARENT_HUGEPAGE": False})
    pa = k.page_alloc
    dma32 = pa.zone_by_type[ZoneType.DMA32]
    use_up_movable_blocks_below_max_order(k, 4)
    # __rmqueue_smallest(): the first block of the smallest non-empty MOVABLE list of
    # order >= 4, now MAX_PAGE_ORDER; expand() puts its upper halves at the head of
    # each lower list.
    first = next(iter(dma32.free_list[pa.max_order][MIGRATE_MOVABLE]))
    # An order-4 request bypasses the per-CPU lists: straight __rmqueue_smallest().
    page = k.alloc_pages(MOVABLE, 4)
    assert page is not None and page.pfn == first
    for order in range(4, pa.max_order):
        assert next(iter(dma32.free_list[order][MIGRATE_MOVABLE])) == first + (1 << order)


def test_unmovable_request_claims_a_whole_movable_pageblock() -> None:
    k = pc_kernel(96)
    pa = k.page_alloc
    dma32 = pa.zone_by_type[ZoneType.DMA32]
    # No UNMOVABLE or RECLAIMABLE block left anywhere in the zone (nor on CPU 1's lists,
    # never used): the request must fall back to MOVABLE.
    pa.drain_all_pages()
    for order in range(pa.nr_page_orders):
        for mt in (MIGRATE_UNMOVABLE, MIGRATE_RECLAIMABLE):
            for pfn in list(dma32.free_list[order][mt]):
                assert take_free_block(pa, pfn, order, GFP_KERNEL) is not None
    block = next(iter(dma32.free_list[pa.max_order][MIGRATE_MOVABLE]))
    with k.sched.on_cpu(1):
        page = k.alloc_pages(GFP_KERNEL, 0)
    assert page is not None and block <= page.pfn < block + (1 << pa.max_order)
    # fallbacks[UNMOVABLE] -> MOVABLE: the largest free block (order 10, two
    # pageblocks, the head of its list) is claimed whole and its split halves
    # land on UNMOVABLE lists.
    assert pa.get_pageblock_migratetype(dma32, block) == MIGRATE_UNMOVABLE
    assert pa.get_pageblock_migratetype(dma32, block + 512) == MIGRATE_UNMOVABLE
    assert next(iter(dma32.free_list[9][MIGRATE_UNMOVABLE])) == block + 512


def test_gfp_zone_picks_dma_dma32_and_normal() -> None:
    k = kmemsim.boot("x86_64", mem="5G", cpus=2)  # DMA, DMA32 up to the PCI hole, Normal
    normal = k.alloc_pages(GFP_KERNEL, 0)
    dma = k.alloc_pages(GFP_KERNEL | GFP_DMA, 0)
    dma32 = k.alloc_pages(GFP_KERNEL | GFP_DMA32, 0)
    assert normal is not None and normal.pfn >= 1 << 20
    assert dma is not None and dma.pfn < 4096
    assert dma32 is not None and 4096 <= dma32.pfn < 1 << 20


def test_get_zeroed_page_and_free_pages_roundtrip() -> None:
    k = pc_kernel(64)
    addr = k.get_free_pages(GFP_KERNEL, 0)
    k.write(addr, b"\xaa" * 64)
    k.free_pages(addr, 0)
    again = k.get_zeroed_page(GFP_KERNEL)
    assert again == addr  # LIFO per-CPU list: the hot page comes back
    assert k.read(again, 64) == bytes(64)
    assert k.virt_to_page(again).pfn == k.direct_map.virt_to_pfn(again)
    k.free_pages(0, 0)  # a no-op


def test_compound_tail_pages_find_their_head() -> None:
    k = pc_kernel(64)
    page = k.alloc_pages(GFP_KERNEL | __GFP_COMP, 2)
    assert page is not None and page.PageHead()
    tail = k.pfn_to_page(page.pfn + 3)
    assert tail.PageTail() and k.page_alloc.compound_head(tail) is page
    assert k.page_alloc.compound_head(page.pfn + 1) is page


def test_pcp_refill_takes_a_batch_and_counts_it() -> None:
    k = pc_kernel(256)
    pa = k.page_alloc
    dma32 = pa.zone_by_type[ZoneType.DMA32]
    free_before = dma32.nr_free
    pcp = dma32.pcp[1]  # CPU 1's lists: empty, never used while booting
    assert pcp.count == 0
    with k.sched.on_cpu(1):
        page = k.alloc_pages(GFP_KERNEL, 0)
    assert page is not None
    # Taken from the buddy lists in one go: batch pages, one handed out.
    taken = free_before - dma32.nr_free
    assert taken == pcp.count + 1
    assert taken == pcp.batch  # alloc_factor was 0 on the first refill


def test_atomic_allocation_never_sleeps_and_fails_quietly_with_nowarn() -> None:
    k = pc_kernel(64)
    pages = []
    with k.irq_context():
        while True:
            p = k.alloc_pages(GFP_ATOMIC | __GFP_NOWARN, 0)
            if p is None:
                break
            pages.append(p)
    assert "sleeping function" not in k.dmesg()
    assert "page allocation failure" not in k.dmesg()
    # GFP_ATOMIC digs below min: min - min/2 - (min/2)/4 remains in reserve.
    dma32 = k.page_alloc.zone_by_type[ZoneType.DMA32]
    wmin = dma32.watermark[0]
    assert dma32.nr_free <= wmin


def test_gfp_kernel_in_irq_context_reports_sleeping_function() -> None:
    k = pc_kernel(64)
    k.sched.set_task("test", 100)
    with k.irq_context():
        page = k.alloc_pages(GFP_KERNEL, 0)
    assert page is not None
    log = k.dmesg()
    assert (
        "BUG: sleeping function called from invalid context at include/linux/sched/mm.h:321" in log
    )
    assert "in_atomic(): 1, irqs_disabled(): 1, non_block: 0, pid: 100, name: test" in log
    assert "preempt_count: 10000, expected: 0" in log
    assert "RCU nest depth: 0, expected: 0" in log


def test_costly_order_failure_prints_warn_alloc_report() -> None:
    k = pc_kernel(64)
    k.sched.set_task("test", 100)
    held = []
    while (p := k.alloc_pages(GFP_KERNEL | __GFP_NOWARN, 9)) is not None:
        held.append(p)
    assert held
    assert k.alloc_pages(GFP_KERNEL, 10) is None
    log = k.dmesg()
    assert "test: page allocation failure: order:10, mode:0xcc0(GFP_KERNEL), nodemask=(null)" in log
    assert "Mem-Info:" in log
    assert "lowmem_reserve[]: 0 " in log
    # __show_free_areas(): per order "nr*sizekB", then "(types)" of the non-empty
    # lists (show_migration_types()), and the zone's free total.
    line = next(x for x in log.splitlines() if "Node 0 DMA32: " in x).split("] ", 1)[1]
    dma32 = k.page_alloc.zone_by_type[ZoneType.DMA32]
    parts = line.removeprefix("Node 0 DMA32: ").split()
    counts = [int(p.split("*")[0]) for p in parts if "*" in p]
    assert counts == [dma32.nr_free_order(o) for o in range(11)]
    assert counts[10] == 0  # why order 10 failed
    assert parts[-1] == f"{dma32.nr_free * 4}kB"
    letters = [p for p in parts if p.startswith("(")]
    assert len(letters) == sum(1 for n in counts if n)


def test_double_free_of_an_order0_page_is_silent_and_leaves_refcount_minus_one() -> None:
    # ___free_pages(): put_page_testzero() takes the free frame's _refcount from 0
    # to -1 (no VM_BUG_ON without CONFIG_DEBUG_VM), returns false, and an order-0
    # non-head page has no upper halves to free: nothing printed, nothing freed.
    k = pc_kernel(64)
    pa = k.page_alloc
    page = k.alloc_pages(GFP_KERNEL, 0)
    assert page is not None
    k.free_pages_struct(page, 0)
    before = free_lists(k), pa.nr_free_pcp()
    log = k.dmesg()
    k.free_pages_struct(page, 0)
    assert k.dmesg() == log
    assert (free_lists(k), pa.nr_free_pcp()) == before
    assert k.pfn_to_page(page.pfn).refcount == -1
    # check_pages_enabled is off: the next allocation of the frame (the head of
    # its per-CPU list) sets the refcount to 1 (set_page_refcounted()), silently.
    again = k.alloc_pages(GFP_KERNEL, 0)
    assert again is not None and again.pfn == page.pfn and again.refcount == 1
    assert k.dmesg() == log


def test_with_check_pages_the_next_allocation_reports_the_double_freed_frame() -> None:
    # check_new_page(): page_expected_state() fails on _refcount != 0, bad_page()
    # says "nonzero _refcount" and the dump shows refcount:-1; the frame is
    # dropped and another one is handed out.
    k = pc_kernel(64)
    k.sched.set_task("test", 100)
    pa = k.page_alloc
    pa.check_pages_enabled = True
    page = k.alloc_pages(GFP_KERNEL, 0)
    assert page is not None
    pfn = page.pfn
    k.free_pages_struct(page, 0)
    k.free_pages_struct(page, 0)
    assert "Bad page state" not in k.dmesg()
    again = k.alloc_pages(GFP_KERNEL, 0)
    assert again is not None and again.pfn != pfn
    log = k.dmesg()
    assert f"BUG: Bad page state in process test  pfn:{pfn:05x}" in log
    assert f"page: refcount:-1 mapcount:0 mapping:0000000000000000 index:0x0 pfn:{pfn:#x}" in log
    assert "page dumped because: nonzero _refcount" in log
    assert " check_new_pages" in log
    assert "refcount:0 " not in log
    assert pfn in pa.pages  # leaked, never handed out again


def test_double_free_of_an_order1_page_frees_no_allocated_frame() -> None:
    # The upper half (page + 1, order 0) is freed again: its frame is already
    # free, which the kernel would queue twice; the model keeps its lists whole.
    k = pc_kernel(64)
    page = k.alloc_pages(GFP_KERNEL, 1)
    assert page is not None
    k.free_pages_struct(page, 1)
    k.page_alloc.drain_all_pages()
    before = free_lists(k)
    k.free_pages_struct(page, 1)
    assert "Bad page state" not in k.dmesg()
    assert free_lists(k) == before
    assert k.pfn_to_page(page.pfn).refcount == -1


def test_non_compound_block_freed_with_a_smaller_order_leaks_the_rest_silently() -> None:
    # free_pages_prepare(): not compound, so no VM_BUG_ON_PAGE (and none without
    # CONFIG_DEBUG_VM anyway); 2**order frames are freed, the other frames of the
    # order-3 block stay allocated for good.
    k = pc_kernel(64)
    pa = k.page_alloc
    page = k.alloc_pages(GFP_KERNEL, 3)
    assert page is not None
    pfn = page.pfn
    pa.drain_all_pages()
    free = pa.nr_free_pages()
    k.free_pages_struct(page, 1)
    pa.drain_all_pages()
    assert "Bad page state" not in k.dmesg() and "VM_BUG_ON" not in k.dmesg()
    assert pa.nr_free_pages() == free + 2
    assert pfn not in pa.pages
    assert [(p.pfn - pfn, p.order) for p in pa.pages.values() if pfn <= p.pfn < pfn + 8] == [
        (2, 1),
        (4, 2),
    ]


def test_compound_block_freed_with_a_larger_order_with_check_pages_says_pagetail_not_set() -> None:
    # free_tail_page_prepare() runs only with check_pages_enabled: the frames
    # past the compound block are not its tails; nothing is freed.
    k = pc_kernel(64)
    k.sched.set_task("test", 100)
    pa = k.page_alloc
    pa.check_pages_enabled = True
    page = k.alloc_pages(GFP_KERNEL | __GFP_COMP, 1)
    assert page is not None
    k.free_pages_struct(page, 2)
    assert f"BUG: Bad page state in process test  pfn:{page.pfn + 2:05x}" in k.dmesg()
    assert "page dumped because: PageTail not set" in k.dmesg()
    assert page.pfn in pa.pages and page.refcount == 0


def test_compound_block_freed_with_a_larger_order_without_checks_frees_it_silently() -> None:
    k = pc_kernel(64)
    pa = k.page_alloc
    page = k.alloc_pages(GFP_KERNEL | __GFP_COMP, 1)
    assert page is not None
    k.free_pages_struct(page, 2)
    assert "Bad page state" not in k.dmesg()
    assert page.pfn not in pa.pages


def test_warn_on_once_prints_the_whole_report_once_then_nothing() -> None:
    # report_bug(): a WARN_ON_ONCE site with BUGFLAG_DONE returns before the
    # cut-here line; __warn() ends with the end-trace marker.
    k = pc_kernel(64)
    booted = len(k.dmesg().splitlines())
    assert k.alloc_pages(GFP_KERNEL, 11) is None
    first = k.dmesg().splitlines()
    body = [line.split("] ", 1)[1] for line in first[booted:]]
    assert body[0] == "------------[ cut here ]------------"
    assert body[1].startswith("WARNING: CPU: 0 PID: ") and "mm/page_alloc.c" in body[1]
    assert body[-1] == "---[ end trace 0000000000000000 ]---"
    assert k.alloc_pages(GFP_KERNEL, 11) is None
    assert k.dmesg().splitlines() == first


def test_nofail_never_fails_while_memory_remains() -> None:
    from kmemsim.include.linux.gfp_types import __GFP_NOFAIL

    k = pc_kernel(64)
    while k.alloc_pages(GFP_KERNEL | __GFP_NOWARN | 0x10000, 0) is not None:  # __GFP_NORETRY
        pass
    assert k.alloc_pages(GFP_KERNEL | __GFP_NOFAIL, 0) is not None


def test_take_free_block_follows_a_traced_pfn() -> None:
    k = pc_kernel(96)
    pa = k.page_alloc
    pa.drain_all_pages()  # boot's per-CPU pages back to the buddy lists first
    pfn = a_free_pfn(k, ZoneType.DMA32)
    total = pa.nr_free_pages()
    page = take_free_block(pa, pfn, 0, GFP_KERNEL)
    assert page is not None and page.pfn == pfn
    assert pa.nr_free_pages() == total - 1
    assert take_free_block(pa, pfn, 0, GFP_KERNEL) is None
    k.free_pages_struct(page, 0)
    pa.drain_all_pages()
    assert pa.nr_free_pages() == total


def test_zeroing_uses_simulated_memory() -> None:
    k = pc_kernel(64)
    p = k.alloc_pages(GFP_KERNEL, 0)
    assert p is not None
    addr = k.page_address(p)
    k.write(addr, b"x" * 4096)
    k.free_pages_struct(p, 0)
    q = k.alloc_pages(GFP_KERNEL | __GFP_ZERO, 0)
    assert q is not None and q.pfn == p.pfn
    assert k.read(k.page_address(q), 4096) == bytes(4096)


@pytest.mark.parametrize("arch,expected", [("x86_64", 9), ("i386", 10), ("arm", 10)])
def test_pageblock_order_per_architecture(arch: str, expected: int) -> None:
    """min(HUGETLB_PAGE_ORDER, MAX_PAGE_ORDER); MAX_PAGE_ORDER without huge pages (ARM)."""
    from kmemsim.arch.facts import arch_facts

    assert arch_facts(arch).pageblock_order(10) == expected
    assert arch_facts(arch).pageblock_order(8) == 8


def test_high_order_atomic_request_below_low_reserves_a_highatomic_pageblock() -> None:
    from kmemsim.mm.page_alloc import MIGRATE_HIGHATOMIC, WMARK_LOW

    k = pc_kernel(256, config={"ZONE_DMA": False})  # no lower zone to fall back to
    pa = k.page_alloc
    dma32 = pa.zone_by_type[ZoneType.DMA32]
    # Fill the zone down to just below its low watermark with movable pages.
    movable = (GFP_HIGHUSER_MOVABLE & ~0x2) | __GFP_NOWARN
    while dma32.nr_free > dma32.wmark(WMARK_LOW) - 16:
        assert k.alloc_pages(movable, 0) is not None
    page = k.alloc_pages(GFP_ATOMIC, 1)
    assert page is not None
    # The slow path's ALLOC_HIGHATOMIC took the pageblock for the reserve.
    assert pa.get_pageblock_migratetype(dma32, page.pfn) == MIGRATE_HIGHATOMIC
    assert dma32.nr_reserved_highatomic == 512
    zoneinfo_free = dma32.nr_free
    assert dma32.nr_free_highatomic == sum(
        len(lst[MIGRATE_HIGHATOMIC]) << o for o, lst in enumerate(dma32.free_list)
    )
    assert zoneinfo_free == pa.nr_free_pages()


def test_pcp_high_grows_with_allocation_and_decays_back_to_high_min() -> None:
    k = pc_kernel(1024)
    pa = k.page_alloc
    dma32 = pa.zone_by_type[ZoneType.DMA32]
    pcp = dma32.pcp[1]  # CPU 1, which booting did not use
    assert pcp.high == 0  # the boot pageset value until the CPU uses the zone
    with k.sched.on_cpu(1):
        pages = [k.alloc_pages(GFP_KERNEL, 0) for _ in range(2000)]
        assert pcp.high > pcp.high_min
        for p in pages:
            assert p is not None
            k.free_pages_struct(p, 0)
    assert pcp.count <= pcp.high
    for _ in range(100):
        pa.refresh_cpu_vm_stats()
    assert pcp.high == pcp.high_min
    assert pcp.count <= pcp.high_min


def test_pcp_high_is_left_alone_by_the_high_and_batch_update_until_a_page_goes_through() -> None:
    # pageset_update() writes batch, high_min and high_max only; the first free
    # through the list (nr_pcp_high()) clamps high into [high_min, high_max].
    from kmemsim.mm.page_alloc import setup_per_cpu_pageset, zone_set_pageset_high_and_batch

    k = pc_kernel(1024, cpus=3)  # CPU 0 booted, CPU 1 allocates below, CPU 2 stays idle
    pa = k.page_alloc
    dma, dma32 = pa.zone_by_type[ZoneType.DMA], pa.zone_by_type[ZoneType.DMA32]
    for zb in (dma, dma32):
        highs = [p.high for p in zb.pcp]
        zone_set_pageset_high_and_batch(pa, zb, 0)
        assert [p.high for p in zb.pcp] == highs
        assert all(p.high_min > 0 and p.batch > 0 for p in zb.pcp)
    assert dma32.pcp[1].high == 0  # CPU 1 has not used the zone
    with k.sched.on_cpu(1):
        page = k.alloc_pages(GFP_KERNEL, 0)
    assert page is not None
    # nr_pcp_alloc(): clamped up to high_min, then one batch more for the refill.
    pcp = dma32.pcp[1]
    assert pcp.high == pcp.high_min + pcp.batch
    with k.sched.on_cpu(1):
        k.free_pages_struct(page, 0)
    assert [p.high for p in dma.pcp] == [0] * len(dma.pcp)  # no traffic: stays 0
    pa.refresh_cpu_vm_stats()  # decay_pcp_high() leaves a high below high_min alone
    assert [p.high for p in dma.pcp] == [0] * len(dma.pcp)
    # setup_per_cpu_pageset() runs before the watermarks exist: high_min = 4 * batch.
    for zb in pa.buddies:
        zb.watermark = [0, 0, 0, 0]
    setup_per_cpu_pageset(k)
    assert dma32.pcp[2].high_min == dma32.pcp[2].batch << 2
    assert dma32.pcp[2].high == 0


def test_free_reserved_page_goes_through_the_per_cpu_list() -> None:
    k = pc_kernel(96)
    pa = k.page_alloc
    dma32 = pa.zone_by_type[ZoneType.DMA32]
    pfn = a_free_pfn(k, ZoneType.DMA32)
    assert take_free_block(pa, pfn, 0, GFP_KERNEL) is not None  # off the buddy lists
    del pa.pages[pfn]  # as a frame memblock kept reserved: not in the allocator
    assert dma32.pcp[1].high == 0
    dma32.zone.managed_pages -= 1
    managed = dma32.zone.managed_pages
    with k.sched.on_cpu(1):
        pa.free_reserved_page(pfn)
    assert dma32.zone.managed_pages == managed + 1
    pcp = dma32.pcp[1]
    assert any(pfn in lst for lst in pcp.lists)
    assert pcp.high == pcp.high_min


def test_atomic_reserve_arithmetic_of_zone_watermark_ok() -> None:
    from kmemsim.mm.page_alloc import (
        ALLOC_HIGHATOMIC,
        ALLOC_MIN_RESERVE,
        ALLOC_NON_BLOCK,
        ALLOC_OOM,
        WMARK_MIN,
    )

    k = pc_kernel(256, config={"ZONE_DMA": False})
    pa = k.page_alloc
    zb = pa.zone_by_type[ZoneType.DMA32]
    m = zb.watermark[WMARK_MIN]
    idx = zb.idx

    def ok(free: int, flags: int) -> bool:
        return pa.zone_watermark_ok(zb, 0, m, idx, flags, free)

    # Plain requests need more than min free; __GFP_HIGH may use half of it;
    # atomic (non-blocking) requests a further quarter of what is left.
    assert not ok(m, 0) and ok(m + 1, 0)
    high = m - m // 2
    assert not ok(high, ALLOC_MIN_RESERVE) and ok(high + 1, ALLOC_MIN_RESERVE)
    atomic = high - high // 4
    flags = ALLOC_MIN_RESERVE | ALLOC_NON_BLOCK | ALLOC_HIGHATOMIC
    assert not ok(atomic, flags) and ok(atomic + 1, flags)
    oom = m - m // 2  # ALLOC_OOM: min -= min / 2
    assert not ok(oom, ALLOC_OOM) and ok(oom + 1, ALLOC_OOM)
    assert pa.gfp_to_alloc_flags(GFP_ATOMIC, 1) & flags == flags
    assert pa.gfp_to_alloc_flags(GFP_KERNEL, 1) & flags == 0


def test_order0_gfp_kernel_exhaustion_invokes_the_oom_killer_which_finds_nobody() -> None:
    from kmemsim.errors import Oops

    k = pc_kernel(64)
    k.sched.set_task("test", 100)
    with pytest.raises(Oops, match="System is deadlocked on memory"):
        while True:
            k.alloc_pages(GFP_KERNEL, 0)
    log = k.dmesg()
    assert "test invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0" in log
    assert "Out of memory and no killable processes..." in log


def test_noretry_and_mayfail_requests_fail_with_the_report() -> None:
    from kmemsim.include.linux.gfp_types import __GFP_NORETRY, __GFP_RETRY_MAYFAIL

    k = pc_kernel(64)
    while k.alloc_pages(GFP_KERNEL | __GFP_RETRY_MAYFAIL | __GFP_NOWARN, 0) is not None:
        pass
    assert k.alloc_pages(GFP_KERNEL | __GFP_NORETRY, 0) is None
    assert "page allocation failure: order:0, mode:0x10cc0(GFP_KERNEL|__GFP_NORETRY)" in k.dmesg()
    assert "invoked oom-killer" not in k.dmesg()


def test_kswapd_that_cannot_reclaim_gives_up_after_max_reclaim_retries() -> None:
    from kmemsim.include.linux.gfp_types import __GFP_NORETRY
    from kmemsim.mm.vmscan import MAX_RECLAIM_RETRIES

    k = pc_kernel(64)
    mask = GFP_KERNEL | __GFP_NORETRY | __GFP_NOWARN
    assert "node_unreclaimable:  0" in k.cat("/proc/zoneinfo")
    # Below the low watermark every allocation wakes kswapd, which finds nothing
    # to reclaim: each of its runs is a failure.
    while k.alloc_pages(mask, 0) is not None:
        pass
    for _ in range(MAX_RECLAIM_RETRIES):
        assert k.alloc_pages(mask, 0) is None
    assert k.page_alloc.kswapd.failures >= MAX_RECLAIM_RETRIES
    assert "node_unreclaimable:  1" in k.cat("/proc/zoneinfo")
    runs = k.page_alloc.kswapd.runs
    assert k.alloc_pages(mask, 0) is None
    assert k.page_alloc.kswapd.runs == runs  # a hopeless node's kswapd is not woken
    vmstat = dict(line.split() for line in k.cat("/proc/vmstat").splitlines())
    assert int(vmstat["pageoutrun"]) == runs
    assert int(vmstat["allocstall_dma32"]) > 0


def test_allocation_failure_reports_are_rate_limited_like_nopage_rs() -> None:
    k = pc_kernel(64)
    while k.alloc_pages(GFP_KERNEL | __GFP_NOWARN, 10) is not None:
        pass
    for _ in range(15):
        assert k.alloc_pages(GFP_KERNEL, 10) is None
    assert k.dmesg().count("page allocation failure: order:10") == 10
    k.log.clock_nsec += 5_000_000_000  # the next ratelimit window
    assert k.alloc_pages(GFP_KERNEL, 10) is None
    assert "warn_alloc: 5 callbacks suppressed" in k.dmesg()
    assert k.dmesg().count("page allocation failure: order:10") == 11


def test_free_goes_to_the_tail_when_the_next_order_merge_is_likely() -> None:
    k = pc_kernel(96)
    pa = k.page_alloc
    dma32 = pa.zone_by_type[ZoneType.DMA32]
    use_up_movable_blocks_below_max_order(k, 4)  # order 4: no per-CPU lists
    blocks = [k.alloc_pages(MOVABLE, 4) for _ in range(4)]
    assert all(b is not None for b in blocks)
    a, b, c, d = blocks
    assert [p.pfn - a.pfn for p in blocks] == [0, 16, 32, 48]  # split off one block in turn
    k.free_pages_struct(a, 4)  # its buddy b is in use: an order-4 block, at the head
    assert next(iter(dma32.free_list[4][MIGRATE_MOVABLE])) == a.pfn
    k.free_pages_struct(b, 4)  # merges with a into an order-5 block at a.pfn
    assert dma32.free_block_order(a.pfn) == 5
    k.free_pages_struct(c, 4)  # buddy d in use, but c+d's buddy (a, order 5) is free: tail
    assert list(dma32.free_list[4][MIGRATE_MOVABLE])[-1] == c.pfn
    k.free_pages_struct(d, 4)  # and now everything merges back up
    assert dma32.free_block_order(a.pfn) >= 6


def test_min_free_kbytes_sysctl_moves_the_watermarks() -> None:
    from kmemsim.mm.page_alloc import sysctl_min_free_kbytes

    k = pc_kernel(256, config={"ZONE_DMA": False})
    dma32 = k.page_alloc.zone_by_type[ZoneType.DMA32]
    sysctl_min_free_kbytes(k, 40960)
    assert k.cat("/proc/sys/vm/min_free_kbytes") == "40960\n"
    assert dma32.watermark[0] == 40960 // 4  # the only lowmem zone gets all of it
    k2 = pc_kernel(256, config={"ZONE_DMA": False, "min_free_kbytes": 40960})
    assert k2.page_alloc.zone_by_type[ZoneType.DMA32].watermark == dma32.watermark
