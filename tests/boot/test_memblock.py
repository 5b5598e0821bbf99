"""mm/memblock.c: range bookkeeping, early allocations, and the hand-over to the buddy allocator."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st

from kmemsim.init.main import Kernel
from kmemsim.mm.memblock import Memblock, MemblockType, memblock_free_all
from kmemsim.mm.page_alloc import build_all_zonelists

Setup = Callable[..., Kernel]


def handed_over(k: Kernel) -> list[tuple[int, int]]:
    """memblock_free_all() into the kernel's buddy allocator, then its free blocks in pfn order.

    Right after the hand-over, before any allocation, the free lists hold exactly the
    blocks __free_pages_memory() gave: the buddy of a maximal aligned block of a free
    range lies outside that range (reserved, or past MAX_PAGE_ORDER), so none merged."""
    build_all_zonelists(k)
    memblock_free_all(k)
    return sorted(
        (pfn, order)
        for zb in k.page_alloc.buddies
        for order, lists in enumerate(zb.free_list)
        for lst in lists
        for pfn in lst
    )


def test_add_merges_adjacent_and_overlapping_regions() -> None:
    t = MemblockType("memory")
    t.add(0x3000, 0x4000)
    t.add(0x1000, 0x2000)
    t.add(0x2000, 0x3000)
    t.add(0x8000, 0x9000)
    t.add(0x3800, 0x8800)
    assert t.regions == [(0x1000, 0x9000)]


def test_remove_and_trim() -> None:
    mb = Memblock()
    mb.add(0x0, 0x9FC00)
    mb.add(0x100000, 0x1000000)
    mb.remove(0x200000, 0x100000)
    assert mb.memory.regions == [(0, 0x9FC00), (0x100000, 0x200000), (0x300000, 0x1100000)]
    mb.trim_memory(0x1000)
    assert mb.memory.regions[0] == (0, 0x9F000)


def test_free_ranges_are_memory_minus_reserved() -> None:
    mb = Memblock()
    mb.add(0x1000, 0x9E000)
    mb.add(0x100000, 0xFF00000)
    mb.reserve(0, 0x100000)
    mb.reserve(0x1000000, 0x2000000)
    mb.reserve(0x8000000, 0x1000)
    assert list(mb.free_ranges()) == [
        (0x100000, 0x1000000),
        (0x3000000, 0x8000000),
        (0x8001000, 0x10000000),
    ]


def test_early_allocations_are_top_down_and_aligned() -> None:
    mb = Memblock()
    mb.add(0x100000, 0x3FF00000)
    a = mb.phys_alloc_range(0x2AB00, 64)
    assert a == 0x40000000 - 0x2AB00
    b = mb.phys_alloc_range(1 << 21, 1 << 21)
    assert b == 0x40000000 - (2 << 21)
    mb.current_limit = 0x10000000
    c = mb.phys_alloc_range(0x1000, 0x1000)
    assert c == 0x10000000 - 0x1000


@given(
    st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(1, 1 << 16)), min_size=1, max_size=12)
)
def test_free_ranges_never_overlap_a_reservation(ranges: list[tuple[int, int]]) -> None:
    mb = Memblock()
    mb.add(0, 1 << 21)
    for base, size in ranges:
        mb.reserve(base, size)
    free = list(mb.free_ranges())
    for b, e in free:
        assert b < e
        assert not mb.reserved.overlaps(b, e)
    assert sum(e - b for b, e in free) + mb.reserved_in_memory() == 1 << 21


def test_free_all_gives_maximal_aligned_blocks(setup_only: Setup) -> None:
    """__free_pages_memory(): each block the largest power of two aligned at its start."""
    k = setup_only("linux-6.18-x86_64", DEFERRED_STRUCT_PAGE_INIT=False)
    blocks = handed_over(k)
    assert all(0 <= order <= 10 and pfn % (1 << order) == 0 for pfn, order in blocks)
    # The first free frame after the reserved first MiB is pfn 0x100: an order-8 block.
    assert blocks[0] == (0x100, 8)
    freed = sum(1 << o for _, o in blocks)
    mask = 0xFFF
    expected = sum(
        (e >> 12) - ((b + mask) >> 12) for b, e in k.memblock.free_ranges() if (e >> 12) > b >> 12
    )
    assert freed == expected
    assert sum(z.managed_pages for z in k.pgdat.zones) == freed
    # DMA keeps all but the reserved first MiB: 3998 present - 158 = 3840 managed, as zoneinfo.
    assert k.pgdat.zones[0].managed_pages == 3840
    # Nothing reserved was freed.
    for pfn, order in blocks:
        assert not k.memblock.reserved.overlaps(pfn << 12, (pfn + (1 << order)) << 12)


def test_free_all_on_a_terabyte_is_per_block_not_per_page(setup_only: Setup) -> None:
    k = setup_only("x86_64", mem="1T")
    blocks = handed_over(k)
    freed = sum(1 << o for _, o in blocks)
    assert freed > 250_000_000
    assert len(blocks) < freed // 1000


def test_free_all_leaves_the_deferred_sections_counted_but_not_freed(setup_only: Setup) -> None:
    """memblock_free_pages() skips frames past first_deferred_pfn; totalram still counts them.

    memmap_init() initialised one section of ZONE_NORMAL (the last zone of the
    node, from pfn 0x100000): deferral starts at the next section boundary."""
    k = setup_only("linux-6.18-x86_64")
    assert k.pgdat.first_deferred_pfn == 0x100000 + (1 << (27 - 12))
    blocks = handed_over(k)
    assert max(pfn + (1 << o) for pfn, o in blocks) == k.pgdat.first_deferred_pfn
    mask = 0xFFF
    free = sum(
        (e >> 12) - ((b + mask) >> 12) for b, e in k.memblock.free_ranges() if (e >> 12) > b >> 12
    )
    freed = sum(1 << o for _, o in blocks)
    assert freed + k.pgdat.nr_deferred_pages == free
    assert k.pgdat.zones[2].managed_pages == 1 << 15  # one section of Normal
    # DMA and DMA32 are never deferred.
    assert k.pgdat.zones[0].managed_pages == 3840


def test_no_deferral_where_the_option_is_off(setup_only: Setup) -> None:
    from kmemsim.include.linux.mmzone import ULONG_MAX

    assert setup_only("x86_64", mem="8G").pgdat.first_deferred_pfn == ULONG_MAX
    k = setup_only("x86_64", mem="8G", DEFERRED_STRUCT_PAGE_INIT=True)
    # All of the 8 GiB PC's Normal zone starts at 4 GiB: one section early, the rest later.
    assert k.pgdat.first_deferred_pfn == 0x108000
