"""Init memory goes back to the buddy allocator after boot (init/initramfs.c, arch/x86/mm)."""

from __future__ import annotations

from pathlib import Path

import kmemsim


def _freeing_lines(text: str) -> list[str]:
    return [line.split("] ", 1)[1] for line in text.splitlines() if "] Freeing " in line]


def test_the_real_freeing_lines(shared_data: Path) -> None:
    real = _freeing_lines((shared_data / "dmesg-memory.txt").read_text())
    ours = _freeing_lines(kmemsim.boot("linux-6.18-x86_64").dmesg())
    # alternative_instructions() frees .smp_locks (52K) before the "Memory:" line.
    assert ours == real


def test_memtotal_and_dma32_managed_come_close_to_the_real_ones(shared_data: Path) -> None:
    k = kmemsim.boot("linux-6.18-x86_64")
    real_total = int((shared_data / "proc-meminfo.txt").read_text().split()[1])
    ours_total = int(k.cat("/proc/meminfo").split()[1])
    # What is left (8K) is two pages of small memblock allocations above NODE_DATA
    # the model does not make (docs/differences.md).
    assert 0 <= ours_total - real_total <= 8
    dma32 = k.cat("/proc/zoneinfo").split("zone    DMA32")[1]
    managed = int(dma32.split("managed")[1].split()[0])
    # Below 4 GiB nothing is missing: the image, the brk buffer, .smp_locks freed.
    assert managed == 772917


def test_32_bit_and_arm_free_only_initmem() -> None:
    for profile in ("i386", "beaglebone-black"):
        lines = _freeing_lines(kmemsim.boot(profile).dmesg())
        assert any("unused kernel image (initmem)" in line for line in lines), profile
        assert not any("gap" in line for line in lines), profile
