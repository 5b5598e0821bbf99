"""arch/x86/kernel/e820.c: sanitizing, editing and reading the firmware map."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st

from kmemsim.arch.x86.kernel.e820 import E820Table, parse_memopt, trim_bios_range
from kmemsim.hw.machine import E820Entry, E820Type
from kmemsim.include.linux.mmzone import ZoneType
from kmemsim.init.main import Kernel
from kmemsim.kernel.printk import Printk

RAM, RES, ACPI = E820Type.RAM, E820Type.RESERVED, E820Type.ACPI


def _table(*entries: tuple[int, int, E820Type]) -> E820Table:
    return E820Table([E820Entry(a, e - a, t) for a, e, t in entries], Printk())


def _spans(t: E820Table) -> list[tuple[int, int, E820Type]]:
    return [(e.addr, e.end, e.type) for e in t.entries]


def test_update_table_sorts_merges_and_lets_the_higher_type_win() -> None:
    t = _table(
        (0x100000, 0x800000, RAM),
        (0, 0x9F000, RAM),
        (0x400000, 0x500000, ACPI),
        (0x800000, 0x900000, RAM),
    )
    t.update_table()
    assert _spans(t) == [
        (0, 0x9F000, RAM),
        (0x100000, 0x400000, RAM),
        (0x400000, 0x500000, ACPI),
        (0x500000, 0x900000, RAM),
    ]


def test_trim_bios_range_reserves_page_0_and_drops_640k_to_1m() -> None:
    t = _table((0, 0xA0000, RAM), (0xA0000, 0x100000, RAM), (0x100000, 0x200000, RAM))
    trim_bios_range(t, 4096)
    assert _spans(t) == [(0, 0x1000, RES), (0x1000, 0xA0000, RAM), (0x100000, 0x200000, RAM)]
    assert (
        t.log.dmesg()
        .splitlines()[0]
        .endswith("e820: update [mem 0x00000000-0x00000fff] usable ==> reserved")
    )


def test_mem_parameter_prints_the_user_map() -> None:
    t = _table((0, 0x9FC00, RAM), (0x100000, 0x80000000, RAM))
    parse_memopt(t, 0x40000000)
    assert _spans(t)[-1] == (0x100000, 0x40000000, RAM)
    lines = [x.split("] ", 1)[1] for x in t.log.dmesg().splitlines()]
    assert lines[0] == "e820: remove [mem 0x40000000-0xfffffffffffffffe] usable"
    assert lines[1] == "user-defined physical RAM map:"
    assert lines[-1] == "user: [mem 0x0000000000100000-0x000000003fffffff] usable"


def test_end_pfn_caps_at_max_arch_pfn() -> None:
    t = _table((0, 0x9FC00, RAM), (0x100000000, 0x200000000, RAM))
    assert t.end_pfn(1 << 20, 1 << 20, 12) == 0x9F
    assert t.end_pfn(1 << 34, 1 << 34, 12) == 0x200000
    assert t.end_pfn(1 << 34, 0x100000, 12) == 0x100000


@given(st.integers(min_value=64, max_value=6 << 10))
def test_zones_tile_the_node_for_any_pc_size(mib: int) -> None:
    from .conftest import arch_only

    k: Kernel = arch_only("x86_64", mem=f"{mib}M")
    zones = [z for z in k.pgdat.zones if z.spanned_pages]
    assert zones[0].zone_start_pfn == k.pgdat.node_start_pfn == 1
    for a, b in itertools.pairwise(zones):
        assert a.zone_end_pfn == b.zone_start_pfn
    assert zones[-1].zone_end_pfn == k.memblock.end_of_dram() >> 12
    assert all(0 < z.present_pages <= z.spanned_pages for z in zones)
    assert sum(z.present_pages for z in zones) == k.memblock.phys_mem_size() >> 12
    assert k.pgdat.zones[ZoneType.DMA].spanned_pages == 4095


def test_ram_end_inside_a_section_reports_the_tail_hole(setup_only: Callable[..., Kernel]) -> None:
    """memmap_init(): the rest of the last section has struct pages but no RAM."""
    k = setup_only("x86_64", mem="1000M")
    tail = 0x40000 - 0x3E800
    assert f"On node 0, zone DMA32: {tail} pages in unavailable ranges" in k.dmesg()
