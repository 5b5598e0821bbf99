"""setup_arch() and free_area_init(): boot log memory lines and zones, against Linux 6.18."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from kmemsim.include.linux.mmzone import ZoneType
from kmemsim.init.main import Kernel

Setup = Callable[..., Kernel]


def _text(log: str) -> list[str]:
    """Log lines without their "[    0.002622] " timestamps."""
    return [re.sub(r"^\[\s*\d+\.\d+\] ", "", line) for line in log.splitlines()]


def _between(lines: list[str], first: str, last_prefix: str) -> list[str]:
    start = lines.index(first)
    end = next(i for i in range(start, len(lines)) if lines[i].startswith(last_prefix))
    return lines[start : end + 1]


def test_zone_ranges_to_initmem_setup_are_the_real_lines(
    setup_only: Setup, shared_data: Path
) -> None:
    real = _text((shared_data / "dmesg-memory.txt").read_text())
    ours = _text(setup_only("linux-6.18-x86_64").dmesg())
    assert _between(ours, "Zone ranges:", "Initmem setup") == _between(
        real, "Zone ranges:", "Initmem setup"
    )


def test_unavailable_ranges_and_early_lines_are_the_real_ones(
    setup_only: Setup, shared_data: Path
) -> None:
    real = _text((shared_data / "dmesg-memory.txt").read_text())
    ours = _text(setup_only("linux-6.18-x86_64").dmesg())
    for prefix in (
        "On node 0, zone",
        "BIOS-",
        "e820: update",
        "e820: remove",
        "RAMDISK:",
        "No NUMA",
        "Faking a node",
        "NODE_DATA(0) allocated",
    ):
        assert [x for x in ours if x.startswith(prefix)] == [
            x for x in real if x.startswith(prefix)
        ], prefix
    assert set(x for x in ours if x.startswith("last_pfn")) == set(
        x for x in real if x.startswith("last_pfn")
    )


def _real_zoneinfo(shared_data: Path) -> dict[str, dict[str, int]]:
    zones: dict[str, dict[str, int]] = {}
    current: dict[str, int] = {}
    for line in (shared_data / "proc-zoneinfo.txt").read_text().splitlines():
        m = re.match(r"Node 0, zone\s+(\w+)", line)
        if m:
            current = zones.setdefault(m.group(1), {})
            continue
        m = re.match(r"\s+(spanned|present|start_pfn:)\s+(\d+)", line)
        if m:
            current[m.group(1).rstrip(":")] = int(m.group(2))
    return zones


def test_zone_spans_and_present_pages_are_the_real_ones(
    setup_only: Setup, shared_data: Path
) -> None:
    real = _real_zoneinfo(shared_data)
    assert real["DMA"] == {"spanned": 4095, "present": 3998, "start_pfn": 1}
    k = setup_only("linux-6.18-x86_64")
    for zone in k.pgdat.zones:
        if zone.name not in real:
            continue
        want = real[zone.name]
        assert zone.spanned_pages == want["spanned"], zone.name
        assert zone.present_pages == want["present"], zone.name
        if "start_pfn" in want:
            assert zone.zone_start_pfn == want["start_pfn"], zone.name
    assert k.pgdat.node_present_pages == 6291358  # "Total pages: 6291358"
    assert k.pgdat.node_start_pfn == 1


def test_direct_map_of_x86_64(setup_only: Setup) -> None:
    k = setup_only("linux-6.18-x86_64")
    assert k.direct_map.page_offset == 0xFFFF888000000000
    assert k.direct_map.max_low_pfn == 0x640000
    assert k.phys_to_virt(0x1000) == 0xFFFF888000001000


def test_first_mib_kernel_and_initrd_stay_reserved(setup_only: Setup) -> None:
    k = setup_only("linux-6.18-x86_64")
    mb = k.memblock
    assert mb.reserved.overlaps(0, 1 << 20)
    free = list(mb.free_ranges())
    assert all(b >= 1 << 20 for b, _ in free)
    img = k.machine.kernel_image
    assert not any(b < img.end and e > img.start for b, e in free)
    assert not any(b < 0xC0000000 and e > 0xBF8D0000 for b, e in free)
    # the vmemmap of 192 present 128 MiB sections: 2 MiB each
    assert any(o == "vmemmap" and size == 192 << 21 for o, _, size in mb.allocations)


def test_mem_boot_parameter_truncates_the_e820_map(setup_only: Setup) -> None:
    k = setup_only("linux-6.18-x86_64", mem="4G")
    lines = _text(k.dmesg())
    assert "e820: remove [mem 0x100000000-0xfffffffffffffffe] usable" in lines
    assert "user-defined physical RAM map:" in lines
    assert "user: [mem 0x0000000100000000-0x000000063fffffff] usable" not in lines
    normal = k.pgdat.zones[ZoneType.NORMAL]
    assert normal.spanned_pages == 0
    assert "  Normal   empty" in lines


def test_one_gib_pc_has_dma_and_dma32_only(setup_only: Setup) -> None:
    k = setup_only("x86_64", mem="1G")
    lines = _text(k.dmesg())
    assert lines[lines.index("Zone ranges:") + 1 : lines.index("Zone ranges:") + 5] == [
        "  DMA      [mem 0x0000000000001000-0x0000000000ffffff]",
        "  DMA32    [mem 0x0000000001000000-0x000000003fffffff]",
        "  Normal   empty",
        "  Device   empty",
    ]


def test_i386_splits_lowmem_and_highmem_at_maxmem(setup_only: Setup) -> None:
    """arch/x86/mm/init_32.c: MAXMEM = VMALLOC_END - PAGE_OFFSET - 128 MiB with VMSPLIT_3G."""
    k = setup_only("i386", mem="2G")
    lines = _text(k.dmesg())
    maxmem_pfn = (0xFF7FE000 - 0xC0000000 - (128 << 20)) >> 12
    assert f"{maxmem_pfn >> 8}MB LOWMEM available." in lines
    assert f"{(0x80000 - maxmem_pfn) >> 8}MB HIGHMEM available." in lines
    zone_lines = lines[lines.index("Zone ranges:") + 1 : lines.index("Zone ranges:") + 4]
    assert zone_lines == [
        "  DMA      [mem 0x0000000000001000-0x0000000000ffffff]",
        f"  Normal   [mem 0x0000000001000000-{(maxmem_pfn << 12) - 1:#018x}]",
        f"  HighMem  [mem {maxmem_pfn << 12:#018x}-0x000000007fffffff]",
    ]
    assert lines[lines.index("Zone ranges:") + 4] == "Movable zone start for each node"
    z = k.pgdat.zones
    assert z[ZoneType.DMA32].spanned_pages == 0
    assert z[ZoneType.HIGHMEM].zone_start_pfn == maxmem_pfn
    assert k.direct_map.page_offset == 0xC0000000 and k.direct_map.max_low_pfn == maxmem_pfn
    # FLATMEM: the memmap covers pfn 0, so the hole below RAM has struct pages too.
    assert "On node 0, zone DMA: 1 pages in unavailable ranges" in lines


def test_i386_vmsplit_2g_moves_the_lowmem_limit(setup_only: Setup) -> None:
    # 1 GiB does not fit below the 3G split's ~887 MiB, but does below the 2G split's.
    k3 = setup_only("i386", mem="1G")
    assert k3.pgdat.zones[ZoneType.HIGHMEM].spanned_pages > 0
    k2 = setup_only("i386", mem="1G", VMSPLIT="2G")
    assert k2.pgdat.zones[ZoneType.HIGHMEM].spanned_pages == 0
    assert "0MB HIGHMEM available." in _text(k2.dmesg())
    assert "1024MB LOWMEM available." in _text(k2.dmesg())
    assert k2.direct_map.page_offset == 0x80000000


def test_i386_small_machine_is_all_lowmem(setup_only: Setup) -> None:
    k = setup_only("i386", mem="512M")
    assert "  HighMem  empty" in _text(k.dmesg())


def test_beaglebone_black_zone_layout(setup_only: Setup) -> None:
    """arch/arm/mm/init.c: no ZONE_DMA on the AM335x, Normal up to the lowmem limit."""
    lines = _text(setup_only("beaglebone-black").dmesg())
    assert lines[0] == "OF: fdt: Machine model: TI AM335x BeagleBone Black"
    assert _between(lines, "Zone ranges:", "Initmem setup") == [
        "Zone ranges:",
        "  Normal   [mem 0x0000000080000000-0x000000009fffffff]",
        "  HighMem  empty",
        "Movable zone start for each node",
        "Early memory node ranges",
        "  node   0: [mem 0x0000000080000000-0x000000009fffffff]",
        "Initmem setup node 0 [mem 0x0000000080000000-0x000000009fffffff]",
    ]
    assert not any("unavailable ranges" in x for x in lines)


def test_beaglebone_with_1g_has_highmem_past_768m(setup_only: Setup) -> None:
    """mm/mmu.c: vmalloc_min = 0xff800000 - 240 MiB - 8 MiB = 0xf0000000 -> 768 MiB of lowmem."""
    k = setup_only("beaglebone-black", mem="1G")
    lines = _text(k.dmesg())
    assert "  Normal   [mem 0x0000000080000000-0x00000000afffffff]" in lines
    assert "  HighMem  [mem 0x00000000b0000000-0x00000000bfffffff]" in lines
    assert k.direct_map.phys_offset == 0x80000000
    assert k.direct_map.virt_to_phys(0xC0000000) == 0x80000000


def test_movablecore_carves_zone_movable_from_the_top(setup_only: Setup) -> None:
    k = setup_only("x86_64", mem="8G", movablecore="2G")
    lines = _text(k.dmesg())
    z = k.pgdat.zones
    movable = z[ZoneType.MOVABLE]
    assert movable.present_pages == (2 << 30) >> 12
    start = movable.zone_start_pfn
    assert f"  Node 0: {start << 12:#018x}" in lines
    assert z[ZoneType.NORMAL].zone_end_pfn == start
    assert start % 1024 == 0


@pytest.mark.parametrize("profile", ["x86_64", "i386", "beaglebone-black", "linux-6.18-x86_64"])
def test_present_pages_are_the_memblock_memory(setup_only: Setup, profile: str) -> None:
    k = setup_only(profile)
    assert k.pgdat.node_present_pages == k.memblock.phys_mem_size() >> 12
    assert sum(z.present_pages for z in k.pgdat.zones) == k.pgdat.node_present_pages


def test_device_tree_reserved_memory_is_kept_from_the_buddy_allocator(
    setup_only: Setup, tmp_path: Path
) -> None:
    src = Path(__file__).parents[2] / "src/kmemsim/profiles/beaglebone-black.toml"
    text = src.read_text().replace(
        "reserved = [",
        'reserved = [{ name = "pru", base = 0x9e000000, size = "16M", no_map = true }, ',
        1,
    )
    path = tmp_path / "bbb-pru.toml"
    path.write_text(text)
    k = setup_only(str(path))
    assert k.memblock.reserved.overlaps(0x9E000000, 0x9F000000)
    assert not any(b < 0x9F000000 and e > 0x9E000000 for b, e in k.memblock.free_ranges())
    # present pages still count it: the RAM is there
    assert k.pgdat.node_present_pages == (512 << 20) >> 12


def test_boot_hash_tables_are_sized_as_on_the_real_machine(
    setup_only: Setup, shared_data: Path
) -> None:
    """alloc_large_system_hash(): dcache (scale 13) and inode (scale 14) hashes, 8-byte buckets."""
    from kmemsim.mm.mm_init import alloc_large_system_hash

    k = setup_only("linux-6.18-x86_64")
    reserved = k.memblock.reserved.total_size
    assert alloc_large_system_hash(k, "Dentry cache", 8, 0, 13)
    assert alloc_large_system_hash(k, "Inode-cache", 8, 0, 14)
    assert k.memblock.reserved.total_size == reserved + (32 << 20) + (16 << 20)
    real = _text((shared_data / "dmesg-memory.txt").read_text())
    ours = _text(k.dmesg())
    assert [x for x in ours if "-cache hash" in x or "Dentry cache" in x] == [
        x for x in real if x.startswith(("Dentry cache", "Inode-cache"))
    ]
