"""FreeList, the free_area[order].free_list[migratetype] of mm/page_alloc.py.

A FreeList must behave exactly like the ordered set of pfns the kernel's list
is (list_add / list_add_tail / list_del / list_first_entry), whatever part of
it (head dict, runs, tail dict) holds a block, and a booted machine's lists
must cost host memory by what was split and freed, not by the RAM size.
"""

from __future__ import annotations

from collections import OrderedDict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kmemsim
from kmemsim.include.linux.free_area import FreeList
from kmemsim.include.linux.gfp_types import GFP_KERNEL
from kmemsim.include.linux.mmzone import MIGRATE_MOVABLE, ZoneBuddy
from kmemsim.init.main import Kernel
from kmemsim.mm.debug import dump_page
from kmemsim.trace.follow_pfn import take_free_block
from tests.mm.support import pc_kernel

ORDER = 2
STEP = 1 << ORDER
NR_SLOTS = 48  # pfns 0, 4, ..., 188

ops = st.lists(
    st.one_of(
        st.tuples(st.just("add_head"), st.integers(0, NR_SLOTS - 1)),
        st.tuples(st.just("add_tail"), st.integers(0, NR_SLOTS - 1)),
        st.tuples(st.just("run"), st.integers(0, NR_SLOTS - 1)),
        st.tuples(st.just("run_next"), st.integers(1, 4)),
        st.tuples(st.just("remove"), st.integers(0, 10_000)),
        st.tuples(st.just("take_first"), st.just(0)),
    ),
    max_size=80,
)


def check_same(fl: FreeList, ref: OrderedDict[int, None], index: dict[int, int]) -> None:
    assert list(fl) == list(ref)
    assert len(fl) == len(ref)
    assert bool(fl) == bool(ref)
    if ref:
        assert fl.first() == next(iter(ref))
    else:
        with pytest.raises(IndexError):
            fl.first()
    for slot in range(NR_SLOTS):
        pfn = slot * STEP
        assert (pfn in fl) == (pfn in ref)
        assert (pfn + 1 in fl) is False  # not a block start
        # The index holds exactly the blocks outside runs.
        assert (pfn in index) == (pfn in ref and not fl.in_run(pfn))
    assert set(index) <= set(ref)
    assert all(order == ORDER for order in index.values())
    # A tail part only exists behind runs.
    assert not fl.tail or fl.runs


@settings(max_examples=300, deadline=None)
@given(ops)
def test_a_free_list_behaves_as_an_ordered_set_whatever_holds_its_blocks(
    script: list[tuple[str, int]],
) -> None:
    index: dict[int, int] = {}
    fl = FreeList(ORDER, index)
    ref: OrderedDict[int, None] = OrderedDict()
    for op, arg in script:
        if op in ("add_head", "add_tail", "run"):
            pfn = arg * STEP
            if pfn in ref:
                continue
            if op == "run":
                fl.append_run_block(pfn)
            else:
                fl.add(pfn, op == "add_tail")
            ref[pfn] = None
            if op == "add_head":
                ref.move_to_end(pfn, last=False)
        elif op == "run_next":
            # memblock_free_all()'s pattern: the blocks that follow the last one, in turn.
            last = next(reversed(ref)) if ref else 0
            for i in range(1, arg + 1):
                pfn = last + i * STEP
                if pfn in ref or pfn >= NR_SLOTS * STEP:
                    break
                fl.append_run_block(pfn)
                ref[pfn] = None
        elif op == "remove":
            if not ref:
                continue
            pfn = list(ref)[arg % len(ref)]
            fl.remove(pfn)
            del ref[pfn]
        else:
            if not ref:
                continue
            pfn = fl.first()
            fl.remove(pfn)
            assert pfn == next(iter(ref))
            del ref[pfn]
        check_same(fl, ref, index)


def test_removing_a_block_inside_a_run_splits_it_in_place() -> None:
    index: dict[int, int] = {}
    fl = FreeList(10, index)
    fl.add(0x7000, tail=False)
    for i in range(8):
        fl.append_run_block(0x10000 + i * 1024)
    fl.add(0x5000, tail=True)  # behind the runs
    assert [r.count for r in fl.runs] == [8]
    fl.remove(0x10000 + 3 * 1024)
    assert [(r.start, r.count) for r in fl.runs] == [(0x10000, 3), (0x10000 + 4 * 1024, 4)]
    assert list(fl) == [0x7000, *(0x10000 + i * 1024 for i in (0, 1, 2, 4, 5, 6, 7)), 0x5000]
    assert set(index) == {0x7000, 0x5000}
    with pytest.raises(KeyError):
        fl.remove(0x10000 + 3 * 1024)
    # Once the runs are gone, the tail's blocks follow the head's, in the same order.
    for pfn in [0x10000 + i * 1024 for i in (0, 1, 2, 4, 5, 6, 7)]:
        fl.remove(pfn)
    assert not fl.runs and not fl.tail
    assert list(fl.head) == [0x7000, 0x5000]


def _free_list_objects(k: Kernel) -> int:
    """Host objects the free lists hold: dict entries, runs, index entries."""
    n = 0
    for zb in k.page_alloc.buddies:
        n += len(zb.buddy_order)
        for lists in zb.free_list:
            for lst in lists:
                n += len(lst.head) + len(lst.runs) + len(lst.tail)
    return n


def test_boot_appends_the_max_order_blocks_as_runs_in_pfn_order() -> None:
    k = pc_kernel(1024)
    pa = k.page_alloc
    dma32 = next(zb for zb in pa.buddies if zb.zone.name == "DMA32")
    lst = dma32.free_list[pa.max_order][MIGRATE_MOVABLE]
    blocks = list(lst)
    assert len(blocks) == dma32.nr_free_order(pa.max_order) > 50
    assert blocks == sorted(blocks)  # FPI_TO_TAIL, in memblock's order
    assert len(lst.runs) == 1 and not lst.head and not dma32.buddy_order.get(blocks[0])
    # PageBuddy()/buddy_order() still know them, and nothing inside them.
    assert all(dma32.free_block_order(p) == pa.max_order for p in blocks)
    assert dma32.free_block_order(blocks[3] + (1 << 9)) == -1
    # Allocating from the list takes the first run block and splits it as before.
    page = k.alloc_pages(GFP_KERNEL, pa.max_order)
    assert page is not None and page.pfn == blocks[0]
    assert list(lst) == blocks[1:]


def test_a_free_run_block_is_page_buddy_in_dump_page() -> None:
    k = kmemsim.boot("x86_64", mem="1G", cpus=2)
    pa = k.page_alloc
    zb: ZoneBuddy = max(pa.buddies, key=lambda z: z.nr_free_order(pa.max_order))
    lst = zb.free_list[pa.max_order][MIGRATE_MOVABLE]
    run = lst.runs[-1]
    assert run.count >= 3 and not lst.head and not lst.tail
    pfn = run.start + (1 << pa.max_order)  # the second block of the last run
    n = len(k.dmesg())
    dump_page(k, pa.pfn_to_page(pfn), "test")
    assert "page_type: f0(buddy)" in k.dmesg()[n:]
    # take_free_block() finds the block in the run and splits the run around it.
    nr_runs = len(lst.runs)
    assert take_free_block(pa, pfn, pa.max_order, GFP_KERNEL) is not None
    assert pfn not in lst and zb.free_block_order(pfn) == -1
    assert len(lst.runs) == nr_runs + 1  # the run's first block, then the rest


def test_a_16_tib_machine_boots_with_free_lists_as_small_as_a_1_gib_one() -> None:
    small = kmemsim.boot("x86_64", mem="1G", cpus=2)
    big = kmemsim.boot("x86_64", mem="16T", cpus=2)
    pa = big.page_alloc
    nr_blocks = sum(zb.nr_free_order(pa.max_order) for zb in pa.buddies)
    assert nr_blocks > 4_000_000  # 16 TiB in 4 MiB blocks
    # The lists hold a few hundred objects either way, not one per block.
    assert _free_list_objects(big) < _free_list_objects(small) + 200
    assert pa.nr_free_pages() == sum(
        zb.nr_free_order(o) << o for zb in pa.buddies for o in range(pa.nr_page_orders)
    )


def _free_lists_and_counts(k: Kernel) -> tuple[object, ...]:
    pa = k.page_alloc
    return tuple(
        (zb.zone.name, zb.zone.managed_pages, zb.nr_free, o, mt, tuple(lst))
        for zb in pa.buddies
        for o, lists in enumerate(zb.free_list)
        for mt, lst in enumerate(lists)
    )


# A stretch of MAX_PAGE_ORDER blocks across the DMA32 / Movable boundary (0x30000) of a
# 1 GiB PC with movablecore=256M, all free after boot.
STRETCH = (0x2C000, 0x34000)


@pytest.mark.parametrize("odd_pageblock", [None, 0x2E200, 0x33E00])  # none, in the middle, last
def test_handing_over_many_max_order_blocks_at_once_matches_one_at_a_time(
    odd_pageblock: int | None,
) -> None:
    """free_pages_core_blocks() (memblock_free_all()'s way with a long free range) leaves
    the lists and counts free_pages_core() leaves block by block, across a zone boundary
    and with a pageblock of another type in the stretch."""
    from kmemsim.include.linux.mmzone import ZoneType
    from kmemsim.mm.page_alloc import MIGRATE_UNMOVABLE
    from tests.mm.support import reserve_free_block

    one, many = (
        kmemsim.boot("x86_64", mem="1G", cpus=2, config={"movablecore": "256M"}) for _ in range(2)
    )
    start, end = STRETCH
    for k in (one, many):
        pa = k.page_alloc
        assert pa.page_zone(start) is pa.zone_by_type[ZoneType.DMA32]
        assert pa.page_zone(end - 1) is pa.zone_by_type[ZoneType.MOVABLE]
        for pfn in range(start, end, 1 << pa.max_order):
            reserve_free_block(k, pfn, pa.max_order)  # as if memblock had kept it
        if odd_pageblock is not None:
            zb = pa.page_zone(odd_pageblock)
            pa.set_pageblock_migratetype(zb, odd_pageblock, MIGRATE_UNMOVABLE)
    assert _free_lists_and_counts(one) == _free_lists_and_counts(many)
    for pfn in range(start, end, 1 << 10):
        one.page_alloc.free_pages_core(pfn, 10)
    many.page_alloc.free_pages_core_blocks(start, (end - start) >> 10)
    assert _free_lists_and_counts(one) == _free_lists_and_counts(many)
    dma32 = many.page_alloc.zone_by_type[ZoneType.DMA32]
    runs = [
        r
        for r in dma32.free_list[10][MIGRATE_MOVABLE].runs
        if r.start < end and r.start + (r.count << 10) > start
    ]
    # A block of mixed pageblocks goes pageblock by pageblock and cuts the run.
    assert len(runs) == (2 if odd_pageblock == 0x2E200 else 1)
