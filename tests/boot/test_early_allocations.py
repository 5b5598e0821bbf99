"""What 6.18 x86_64 allocates before mem_init_print_info(): memblock and the first buddy users."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

import kmemsim
from kmemsim.arch.x86.mm.cpu_entry_area import CPU_ENTRY_AREA_PAGES, cpu_entry_area_page_tables
from kmemsim.arch.x86.mm.init import direct_map_page_tables, init_pgt_buf_pages
from kmemsim.arch.x86.mm.init_64 import preallocate_vmalloc_pages
from kmemsim.include.linux.mmzone import ZoneType
from kmemsim.init.main import Kernel
from kmemsim.kernel.fork import boot_thread_names

Setup = Callable[..., Kernel]
T = TypeVar("T")


def _owners(k: Kernel, owner: str) -> list[tuple[int, int]]:
    return [(base, size) for o, base, size in k.memblock.allocations if o == owner]


def _freed_kb(dmesg: str) -> int:
    """What the log says was freed after the Memory: line (initrd, init sections)."""
    after = dmesg[dmesg.index("Memory: ") :]
    return sum(int(kb) for kb in re.findall(r"Freeing .* memory: (\d+)K", after))


def test_dma32_reserves_exactly_what_the_captured_machine_reserves(shared_data: Path) -> None:
    """zoneinfo's DMA32 present - managed on the captured machine is the image, the brk
    buffer and nothing else below 4 GiB once the initrd and init sections are back."""
    k = kmemsim.boot("linux-6.18-x86_64")
    zoneinfo = (shared_data / "proc-zoneinfo.txt").read_text()
    dma32 = zoneinfo[zoneinfo.index("zone    DMA32") :]
    present = int(re.search(r"present\s+(\d+)", dma32).group(1))  # type: ignore[union-attr]
    managed = int(re.search(r"managed\s+(\d+)", dma32).group(1))  # type: ignore[union-attr]
    zone = k.pgdat.zones[ZoneType.DMA32]
    assert zone.present_pages == present
    assert zone.present_pages - zone.managed_pages == present - managed
    # The same figure from the two logs: the freeing after the Memory: line matches.
    assert _freed_kb(k.dmesg()) == _freed_kb((shared_data / "dmesg-memory.txt").read_text())


def test_normal_reserves_what_meminfo_implies_less_two_pages(shared_data: Path) -> None:
    """MemTotal less DMA's and DMA32's managed pages is what Normal manages once every
    deferred page is in: the memmap, the hash tables, NODE_DATA, percpu and the early
    page tables. Two pages of small memblock allocations are not modelled."""
    k = kmemsim.boot("linux-6.18-x86_64")
    meminfo = (shared_data / "proc-meminfo.txt").read_text()
    zoneinfo = (shared_data / "proc-zoneinfo.txt").read_text()
    total = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1)) // 4  # type: ignore[union-attr]
    managed = [int(m) for m in re.findall(r"managed\s+(\d+)", zoneinfo)]
    real_normal_reserved = 5505024 - (total - managed[0] - managed[1])
    normal = k.pgdat.zones[ZoneType.NORMAL]
    assert normal.present_pages - normal.managed_pages == real_normal_reserved - 2


def test_the_brk_buffer_follows_bss_and_depends_on_randomize_memory(setup_only: Setup) -> None:
    """early_alloc_pgt_buf(): INIT_PGT_BUF_SIZE, 4 * INIT_PGD_PAGE_TABLES pages with
    RANDOMIZE_MEMORY built in (on or off at run time), 2 * INIT_PGD_PAGE_TABLES without."""
    on = setup_only("linux-6.18-x86_64")
    assert _owners(on, "brk: early page tables") == [(0x3C58000, 16 << 12)]
    off = setup_only("linux-6.18-x86_64", RANDOMIZE_MEMORY=False)
    assert _owners(off, "brk: early page tables") == [(0x3C58000, 8 << 12)]
    assert init_pgt_buf_pages(on) == 16 and init_pgt_buf_pages(off) == 8


def test_the_direct_map_of_24_gib_takes_three_tables_from_brk(setup_only: Setup) -> None:
    """With GB pages: the PUD table, a PMD table for the first GiB (not all RAM: page 0
    and 640K-1M are not) and a PTE table for its first 2 MiB; every other GiB is a 1G page."""
    k = setup_only("linux-6.18-x86_64")
    assert "Using GB pages for direct mapping" in k.dmesg()
    assert direct_map_page_tables(k, gbpages=True) == 3
    assert not _owners(k, "direct map page table")
    # Without GB pages each of the 24 GiB of RAM needs a PMD table: 26 tables, 10 past brk.
    nogb = setup_only("linux-6.18-x86_64", nogbpages=True)
    assert "Using GB pages" not in nogb.dmesg()
    assert direct_map_page_tables(nogb, gbpages=False) == 1 + 24 + 1
    assert len(_owners(nogb, "direct map page table")) == 26 - 16


def test_vmemmap_tables_grow_with_ram(setup_only: Setup) -> None:
    """One PMD table per GiB of struct pages (64 bytes per 4K frame: 16 GiB of RAM per
    table's worth), one PUD table per 512 GiB of the vmemmap region."""
    assert len(_owners(setup_only("linux-6.18-x86_64"), "vmemmap page table")) == 2
    # 1 TiB with the PCI hole below 4 GiB ends at 1025 GiB: 1025 * 64 / 4096 GiB of memmap.
    assert len(_owners(setup_only("x86_64", mem="1T"), "vmemmap page table")) == 1 + 17


def test_cpu_entry_area_tables_grow_with_cpus(setup_only: Setup) -> None:
    """setup_cpu_entry_areas(): the RO IDT page and 55 pages per CPU, one PTE table per 2 MiB."""
    assert CPU_ENTRY_AREA_PAGES == 55
    k2 = kmemsim.boot("x86_64", mem="1G", cpus=2)
    assert len(_owners(k2, "cpu_entry_area page table")) == 3
    k64 = kmemsim.boot("x86_64", mem="1G", cpus=64)
    span = (1 + 64 * 55) << 12
    assert len(_owners(k64, "cpu_entry_area page table")) == 2 + -(-span // (2 << 20))
    assert cpu_entry_area_page_tables(k64) == 2 + 7


def test_vmalloc_top_level_tables_are_preallocated() -> None:
    """preallocate_vmalloc_pages(): 32 TiB of vmalloc is 64 PGD entries on 4-level paging,
    12800 TiB is 50 on 5-level; a second call finds them all there."""
    k = kmemsim.boot("x86_64", mem="1G", cpus=2)
    assert preallocate_vmalloc_pages(k) == 0
    pud = [key for key in k.address_space.tables if key[0] == "PUD"]
    vmalloc_slots = {
        slot for slot in range(k.vm_layout.vmalloc_start >> 39, (k.vm_layout.vmalloc_end >> 39))
    }
    assert {slot for _, slot in pud} >= vmalloc_slots and len(vmalloc_slots) == 64
    k5 = kmemsim.boot("x86_64", mem="1G", cpus=2, config={"X86_5LEVEL": True})
    p4d = [key for key in k5.address_space.tables if key[0] == "P4D"]
    assert len(p4d) >= 50


def test_boot_threads_follow_the_cpus_and_the_config(shared_data: Path) -> None:
    k = kmemsim.boot("linux-6.18-x86_64")
    names = boot_thread_names(k)
    assert len(names) == 27 and names[:2] == ["init", "kthreadd"]
    assert {"ksoftirqd/1", "migration/1", "cpuhp/1", "kworker/1:0H", "swapper/1"} <= set(names)
    assert "swapper/0" not in names  # init_task is the boot CPU's idle thread, not forked
    # Each has a 16 KiB vmalloc'ed stack (VMAP_STACK) with its guard page, as the
    # captured machine's /proc/vmallocinfo shows its threads' stacks.
    info = k.cat("/proc/vmallocinfo").splitlines()
    stacks = [line.split(maxsplit=2)[1:] for line in info if " pages=4 " in line]
    real = [
        line.split(maxsplit=2)[1:]
        for line in (shared_data / "proc-vmallocinfo.txt").read_text().splitlines()
        if "kernel_clone" in line or "fork_idle" in line
    ]
    assert len(stacks) == len(names)
    assert {tuple(s) for s in stacks} == {tuple(s) for s in real}
    assert sum("fork_idle" in s[1] for s in stacks) == sum("fork_idle" in s[1] for s in real)
    # 8 CPUs: six more per CPU (ksoftirqd, migration, cpuhp, two kworkers, an idle thread).
    k8 = kmemsim.boot("linux-6.18-x86_64", cpus=8)
    assert len(boot_thread_names(k8)) == 27 + 6 * 6
    # Without the Tasks RCU flavours their three threads are not there.
    assert len(boot_thread_names(kmemsim.boot("x86_64", mem="1G", cpus=2))) == 24


def _at_the_line(monkeypatch: pytest.MonkeyPatch, probe: Callable[[Kernel], T]) -> list[T]:
    """What `probe` sees of each kernel booted from now on, as mem_init_print_info() runs."""
    from kmemsim.mm import mm_init

    seen: list[T] = []
    line = mm_init.mem_init_print_info

    def recording(k: Kernel) -> None:
        seen.append(probe(k))
        line(k)

    monkeypatch.setattr(mm_init, "mem_init_print_info", recording)
    return seen


def test_more_cpus_leave_less_free_at_the_memory_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """More CPUs, more kernel threads: less free at the line, once the pages the CPUs'
    pcp lists hold (free, but not counted by nr_free_pages()) are set apart: their
    high marks fall as the CPUs sharing a zone grow."""
    on_pcp = _at_the_line(
        monkeypatch, lambda k: sum(p.count for zb in k.page_alloc.buddies for p in zb.pcp)
    )

    def free_kb(k: Kernel) -> int:
        m = re.search(r"Memory: (\d+)K/", k.dmesg())
        assert m
        return int(m.group(1)) + on_pcp[-1] * 4

    two = free_kb(kmemsim.boot("linux-6.18-x86_64"))
    eight = free_kb(kmemsim.boot("linux-6.18-x86_64", cpus=8))
    # 36 more threads (16K stack, a task_struct, signal state) and more percpu.
    assert two - eight > 36 * 16


def test_tracing_takes_its_ring_buffers_and_saved_cmdlines_at_boot() -> None:
    """tracer_alloc_buffers(): two ring buffers of 2 + 1 pages per CPU, and the order-6
    saved_cmdlines block (map_pid_to_cmdline[PID_MAX_DEFAULT + 1] is 128 KiB)."""
    from kmemsim.kernel.trace.trace import (
        ring_buffer_pages_per_cpu,
        saved_cmdlines_order,
        tracer_alloc_buffers,
    )

    assert saved_cmdlines_order(12) == 6
    assert ring_buffer_pages_per_cpu(1, 4096) == ring_buffer_pages_per_cpu(4096, 4096) == 3
    k = kmemsim.boot("x86_64", mem="1G", cpus=4, config={"TRACING": True})
    assert tracer_alloc_buffers(k) == 2 * 3 * 4 + 64
    k.config.update({"TRACER_MAX_TRACE": True})
    assert tracer_alloc_buffers(k) == 3 * 3 * 4 + 64
    off = kmemsim.boot("x86_64", mem="1G", cpus=4)
    assert tracer_alloc_buffers(off) == 0


def test_many_cpus_get_a_larger_log_buffer_from_memblock() -> None:
    """log_buf_add_cpu(): 4K per CPU past the first, once that is over half of the 128K
    static buffer (18 CPUs and up); the total rounded up to a power of two."""
    k17 = kmemsim.boot("x86_64", mem="1G", cpus=17)
    assert "log_buf_len" not in k17.dmesg() and not _owners(k17, "log_buf")
    k32 = kmemsim.boot("x86_64", mem="1G", cpus=32)
    log = k32.dmesg()
    assert "log_buf_len total cpu_extra contributions: 126976 bytes" in log
    assert "log_buf_len: 262144 bytes" in log
    assert re.search(r"early log buf free: \d+\(\d+%\)", log)
    assert [size for _, size in _owners(k32, "log_buf")] == [262144]
    assert [size for _, size in _owners(k32, "log_buf descs")] == [8192 * 24]
    assert [size for _, size in _owners(k32, "log_buf infos")] == [8192 * 88]


def test_initcall_caches_come_after_the_memory_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """start_kernel()'s caches exist when page_alloc_init_late() prints the line; the
    initcall levels' (core_initcall on) are created by do_basic_setup(), after it."""
    at_line = _at_the_line(monkeypatch, lambda k: {s.name for s in k.slab.caches})
    k = kmemsim.boot("linux-6.18-x86_64")
    before = at_line[-1]
    assert {"task_struct", "trace_event_file", "mem_cgroup", "task_delay_info"} <= before
    assert "skbuff_head_cache" not in before and "file_lock_cache" not in before
    assert {"skbuff_head_cache", "file_lock_cache"} <= {s.name for s in k.slab.caches}
