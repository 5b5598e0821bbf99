"""The early boot allocations the 6.18 log shows: the first percpu chunk (mm/percpu.c,
arch/x86/kernel/setup_percpu.c), the PV qspinlock hash (arch/x86/kernel/kvm.c),
.smp_locks freed by alternative_instructions() and mnt_init()'s hashes (fs/namespace.c)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import kmemsim

NEW_LINES = (
    "setup_percpu: ",
    "percpu: Embedded",
    "pcpu-alloc: ",
    "PV qspinlock hash table entries:",
    "Freeing SMP alternatives memory:",
    "Mount-cache hash table entries:",
    "Mountpoint-cache hash table entries:",
)


def _bodies(text: str) -> list[str]:
    return [line.split("] ", 1)[1] for line in text.splitlines() if "] " in line]


@pytest.fixture(scope="module")
def booted() -> kmemsim.Kernel:
    return kmemsim.boot("linux-6.18-x86_64")


def test_the_lines_are_the_real_ones_in_the_real_order(
    shared_data: Path, booted: kmemsim.Kernel
) -> None:
    real = _bodies((shared_data / "dmesg-memory.txt").read_text())
    ours = _bodies(booted.dmesg())
    want = [line for line in real if line.startswith(NEW_LINES)]
    assert len(want) == 8
    got = [line for line in ours if line.startswith(NEW_LINES)]
    assert got == want
    # Each sits where the captured log has it among its neighbours.
    anchors = (*NEW_LINES, "Initmem setup", "Dentry cache", "Built 1 zonelists", "SLUB:", "Memory:")

    def order(lines: list[str]) -> list[str]:
        return [next(a for a in anchors if x.startswith(a)) for x in lines if x.startswith(anchors)]

    assert order(ours) == order(real)


def test_the_first_chunk_stays_reserved_in_memblock(booted: kmemsim.Kernel) -> None:
    """Each CPU keeps PFN_DOWN(s + r + d) pages of its 1 MiB unit; the tails went back."""
    chunks = [(b, s) for o, b, s in booted.memblock.allocations if o == "percpu first chunk"]
    assert len(chunks) == 1
    base, size = chunks[0]
    assert size == 2 << 20 and base % (2 << 20) == 0 and base >= 16 << 20
    assert booted.memblock.reserved.size_in(base, base + size) == 2 * 53 * 4096
    for cpu in range(2):
        unit = base + cpu * (1 << 20)
        assert booted.memblock.reserved.size_in(unit, unit + 217088) == 217088
        assert booted.memblock.reserved.size_in(unit + 217088, unit + (1 << 20)) == 0


@pytest.mark.parametrize(
    ("cpus", "unit", "units", "pv"),
    [
        # One CPU: one unit fills the 2 MiB atom; no PV spinlocks.
        (1, 2097152, "[0] 0 ", "kvm-guest: PV spinlocks disabled, single CPU"),
        # Three CPUs: four 512 KiB units, one unused (a third of the CPUs may be wasted).
        (3, 524288, "[0] 0 1 2 - ", "PV qspinlock hash table entries: 256 (order: 0, 4096 bytes"),
        (4, 524288, "[0] 0 1 2 3 ", "PV qspinlock hash table entries: 256 (order: 0, 4096 bytes"),
    ],
)
def test_unit_size_follows_the_cpu_count(cpus: int, unit: int, units: str, pv: str) -> None:
    k = kmemsim.boot("linux-6.18-x86_64", cpus=cpus)
    log = k.dmesg()
    assert f"nr_cpumask_bits:{cpus} nr_cpu_ids:{cpus} nr_node_ids:1" in log
    assert f"percpu: Embedded 53 pages/cpu s185496 r0 d31592 u{unit}\n" in log
    assert f"pcpu-alloc: s185496 r0 d31592 u{unit} alloc=1*2097152\n" in log
    assert f"pcpu-alloc: {units}\n" in log
    assert pv in log
    base = next(b for o, b, _ in k.memblock.allocations if o == "percpu first chunk")
    assert k.memblock.reserved.size_in(base, base + (2 << 20)) == cpus * 53 * 4096


def test_modules_reserve_8k_and_the_pv_hash_needs_a_kvm_guest() -> None:
    k = kmemsim.boot("linux-6.18-x86_64", config={"MODULES": True, "PARAVIRT_SPINLOCKS": False})
    log = k.dmesg()
    # PFN_ALIGN(185496 + 8192 + 28672) = 55 pages; the dynamic area fills the last page.
    assert "percpu: Embedded 55 pages/cpu s185496 r8192 d31592 u1048576" in log
    assert "PV qspinlock" not in log


def test_boot_parameters_size_the_mount_hashes() -> None:
    k = kmemsim.boot("linux-6.18-x86_64", config={"mhash_entries": 1000, "mphash_entries": 1})
    log = k.dmesg()
    assert "Mount-cache hash table entries: 1024 (order: 1, 8192 bytes, linear)" in log
    # A count given on the command line is not raised to a page of buckets.
    assert "Mountpoint-cache hash table entries: 1 (order: 0, 8 bytes, linear)" in log


def test_smaller_memory_smaller_mount_hash() -> None:
    """One bucket per 2**19 bytes of kernel pages, rounded up to a power of two."""
    k = kmemsim.boot("linux-6.18-x86_64", mem="2G")
    m = re.search(r"Mount-cache hash table entries: (\d+) \(order: (\d+), (\d+) bytes", k.dmesg())
    assert m
    entries = int(m.group(1))
    nr_kernel_pages = k.pgdat.nr_kernel_pages
    want = 1 << ((-(-nr_kernel_pages // 256) * 256 >> 7) - 1).bit_length()
    assert entries == want and int(m.group(3)) == entries * 8
