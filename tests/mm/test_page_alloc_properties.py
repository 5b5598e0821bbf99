"""Property tests of the buddy allocator: random interleavings of allocations and frees.

Whatever the orders, GFP masks and CPUs, the allocator never hands out
overlapping pages, every managed page is exactly one of free (buddy lists),
cached (per-CPU lists) or allocated, and freeing everything and draining the
per-CPU lists gives back the boot-time free blocks exactly.
"""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kmemsim.include.linux.gfp_types import (
    __GFP_COMP,
    __GFP_HIGHMEM,
    __GFP_NOWARN,
    __GFP_RECLAIMABLE,
    __GFP_RETRY_MAYFAIL,
    __GFP_ZERO,
    GFP_ATOMIC,
    GFP_DMA,
    GFP_DMA32,
    GFP_HIGHUSER_MOVABLE,
    GFP_KERNEL,
    GFP_NOWAIT,
)
from kmemsim.init.main import Kernel
from kmemsim.mm.page_alloc import MIGRATE_TYPES
from tests.mm.support import free_blocks, pc_kernel

# Sleeping masks carry __GFP_RETRY_MAYFAIL: they may fail instead of invoking
# the OOM killer (which, with no process to kill, panics the model).


MAYFAIL = __GFP_RETRY_MAYFAIL | __GFP_NOWARN
GFP_MIX = [
    GFP_KERNEL | MAYFAIL,
    GFP_KERNEL | __GFP_COMP | MAYFAIL,
    GFP_KERNEL | __GFP_RECLAIMABLE | MAYFAIL,
    GFP_KERNEL | __GFP_ZERO | MAYFAIL,
    (GFP_HIGHUSER_MOVABLE & ~__GFP_HIGHMEM) | MAYFAIL,
    GFP_ATOMIC | __GFP_NOWARN,
    GFP_NOWAIT,
    GFP_KERNEL | GFP_DMA | MAYFAIL,
    GFP_KERNEL | GFP_DMA32 | MAYFAIL,
]
MOVABLE_MIX = [(GFP_HIGHUSER_MOVABLE & ~__GFP_HIGHMEM) | MAYFAIL, GFP_NOWAIT | 0x08]

op = st.one_of(
    st.tuples(
        st.just("alloc"), st.integers(0, 10), st.integers(0, len(GFP_MIX) - 1), st.integers(0, 1)
    ),
    st.tuples(st.just("free"), st.integers(0, 1 << 16), st.just(0), st.integers(0, 1)),
)


def boot_allocations(k: Kernel) -> list[tuple[int, int]]:
    """The blocks boot allocated and keeps (kernel data the tests never free)."""
    return [(pfn, p.order) for pfn, p in k.page_alloc.pages.items()]


def check_invariants(k: Kernel, held: list[tuple[int, int]], boot: list[tuple[int, int]]) -> None:
    pa = k.page_alloc
    intervals: list[tuple[int, int, str]] = []
    for pfn, order in held:
        intervals.append((pfn, pfn + (1 << order), "allocated"))
    for pfn, order in boot:
        intervals.append((pfn, pfn + (1 << order), "boot"))
    free = cached = 0
    for zb in pa.buddies:
        listed = 0
        seen: dict[int, int] = {}
        for order, lists in enumerate(zb.free_list):
            assert len(lists) == MIGRATE_TYPES
            for mt, lst in enumerate(lists):
                for pfn in lst:
                    # PageBuddy() and buddy_order() know every listed block, run or not.
                    assert zb.free_block_order(pfn) == order
                    assert pfn in lst
                    seen[pfn] = order
                    assert pfn % (1 << order) == 0
                    # A free block sits on its pageblock's list.
                    assert pa.get_pageblock_migratetype(zb, pfn) == mt
                    intervals.append((pfn, pfn + (1 << order), "free"))
                    listed += 1 << order
        assert listed == zb.nr_free
        assert len(seen) == sum(len(lst) for ls in zb.free_list for lst in ls)
        # The pfn -> order index holds no block that left the lists.
        assert all(seen.get(pfn) == o for pfn, o in zb.buddy_order.items())
        free += zb.nr_free
        for pcp in zb.pcp:
            n = 0
            for pindex, lst in enumerate(pcp.lists):
                o = pa.pindex_to_order(pindex)
                for pfn in lst:
                    intervals.append((pfn, pfn + (1 << o), "pcp"))
                    n += 1 << o
            assert n == pcp.count
            cached += n
    intervals.sort()
    for (a0, a1, ka), (b0, b1, kb) in itertools.pairwise(intervals):
        assert a1 <= b0, f"{ka} [{a0:#x},{a1:#x}) overlaps {kb} [{b0:#x},{b1:#x})"
    allocated = sum(1 << o for _, o in held + boot)
    assert allocated == pa.nr_allocated_pages()
    assert free + cached + allocated == pa.totalram_pages()


def run_ops(
    k: Kernel, ops: list[tuple[str, int, int, int]], mix: list[int]
) -> list[tuple[int, int]]:
    boot = boot_allocations(k)
    held: list[tuple[int, int]] = []
    for kind, a, b, cpu in ops:
        with k.sched.on_cpu(cpu):
            if kind == "alloc":
                page = k.alloc_pages(mix[b % len(mix)], a)
                if page is not None:
                    held.append((page.pfn, a))
            elif held:
                pfn, order = held.pop(a % len(held))
                k.free_pages_struct(k.pfn_to_page(pfn), order)
        check_invariants(k, held, boot)
    return held


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, min_size=10, max_size=120))
def test_random_interleavings_keep_the_buddy_allocator_consistent(
    ops: list[tuple[str, int, int, int]],
) -> None:
    k = pc_kernel(96)
    k.page_alloc.drain_all_pages()
    boot_blocks = free_blocks(k)
    boot = boot_allocations(k)
    held = run_ops(k, ops, GFP_MIX)
    for pfn, order in held:
        k.free_pages_struct(k.pfn_to_page(pfn), order)
    k.page_alloc.drain_all_pages()
    check_invariants(k, [], boot)
    assert free_blocks(k) == boot_blocks


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, min_size=10, max_size=120))
def test_movable_only_workloads_restore_the_boot_free_lists_exactly(
    ops: list[tuple[str, int, int, int]],
) -> None:

    k = pc_kernel(96)
    k.page_alloc.drain_all_pages()

    def lists() -> dict[tuple[str, int, int], set[int]]:
        return {
            (zb.zone.name, o, mt): set(lst)
            for zb in k.page_alloc.buddies
            for o, ls in enumerate(zb.free_list)
            for mt, lst in enumerate(ls)
            if lst
        }

    boot = lists()
    held = run_ops(k, ops, MOVABLE_MIX)
    for pfn, order in held:
        k.free_pages_struct(k.pfn_to_page(pfn), order)
    k.page_alloc.drain_all_pages()
    assert lists() == boot
