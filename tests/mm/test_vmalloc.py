"""vmalloc, vmap_range, kvmalloc and highmem kmap against mm/vmalloc.c, mm/highmem.c and the
captured /proc/vmallocinfo."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

import kmemsim
from kmemsim import __GFP_RETRY_MAYFAIL, GFP_ATOMIC, GFP_HIGHUSER, GFP_KERNEL, KmemsimError, Oops

# show_vmap_area(): "0x%pK-0x%pK %7ld" [" %pS"] [" pages=%d"] [" phys=%pa"] [" ioremap"]
# [" vmalloc"] [" vmap"] ... [" N0=%d"]; show_purge_info(): "... unpurged vm_area".
LINE = re.compile(
    r"^0x[0-9a-f]{16}-0x[0-9a-f]{16} {0,6}\d+"
    r"(?: unpurged vm_area| [A-Za-z_.][\w.]*\+0x[0-9a-f]+/0x[0-9a-f]+"
    r"(?: pages=\d+)?(?: phys=0x[0-9a-f]{16})?(?: ioremap)?(?: vmalloc)?(?: vmap)?(?: vpages)?"
    r"(?: N0=\d+)?)$"
)


@pytest.fixture
def k() -> kmemsim.Kernel:
    return kmemsim.boot("x86_64", mem="1G")


def _vmalloc_used_kb(k: kmemsim.Kernel) -> int:
    m = re.search(r"VmallocUsed:\s+(\d+) kB", k.cat("/proc/meminfo"))
    assert m
    return int(m.group(1))


def _new_lines(k: kmemsim.Kernel, before: list[str]) -> list[str]:
    """/proc/vmallocinfo lines that were not there at `before` (the boot threads' stacks are)."""
    return [ln for ln in k.cat("/proc/vmallocinfo").splitlines() if ln not in before]


def _scatter_free_pages(k: kmemsim.Kernel, n: int = 512) -> None:
    """Leave every other one of n pages allocated, as a machine that has run a while does."""
    pages = [k.alloc_pages(GFP_KERNEL, 0) for _ in range(n)]
    for page in pages[::2]:
        k.__free_pages(page, 0)


def test_the_line_pattern_matches_the_captured_vmallocinfo(shared_data: Path) -> None:
    lines = (shared_data / "proc-vmallocinfo.txt").read_text().splitlines()
    vm_lines = [ln for ln in lines if " vmalloc " in ln or " ioremap" in ln]
    assert vm_lines and all(LINE.match(ln) for ln in vm_lines), [
        ln for ln in vm_lines if not LINE.match(ln)
    ][:3]


def test_vmalloc_is_virtually_contiguous_from_scattered_pages(k: kmemsim.Kernel) -> None:
    used, before = _vmalloc_used_kb(k), k.cat("/proc/vmallocinfo").splitlines()
    _scatter_free_pages(k)
    p = k.vmalloc(1 << 20)
    lay = k.vm_layout
    assert lay.vmalloc_start <= p < p + (1 << 20) <= lay.vmalloc_end
    assert k.is_vmalloc_addr(p) and not k.is_vmalloc_addr(k.kmalloc(8, GFP_KERNEL))
    pfns = [k.vmalloc_to_pfn(p + (i << 12)) for i in range(256)]
    assert len(set(pfns)) == 256
    assert any(b != a + 1 for a, b in itertools.pairwise(pfns))
    assert k.vmalloc_to_page(p + 4096).pfn == pfns[1]
    data = bytes(range(256)) * 64
    k.write(p + 1000, data)  # crosses pages that are not neighbours in RAM
    assert k.read(p + 1000, len(data)) == data
    assert k.address_space.translate(p + 5000) == (pfns[1] << 12) + 904
    # /proc/meminfo VmallocUsed counts the pages; /proc/vmallocinfo shows the area.
    assert _vmalloc_used_kb(k) == used + 1024
    info = _new_lines(k, before)
    assert len(info) == 1 and LINE.match(info[0])
    assert info[0].startswith(f"0x{p:016x}-0x{p + (1 << 20) + 4096:016x} 1052672 ")
    assert info[0].endswith(" pages=256 vmalloc N0=256")
    assert " test_vmalloc_is_virtually_contiguous_from_scattered_pages+0x" in info[0]


def test_guard_page_and_freed_area_fault(k: kmemsim.Kernel) -> None:
    used = _vmalloc_used_kb(k)
    p = k.vmalloc(1 << 20)
    since = len(k.log)
    with pytest.raises(Oops):
        k.read(p + (1 << 20), 1)
    lines = [r.text for r in k.log.records[since:]]
    assert lines[0] == f"BUG: unable to handle page fault for address: {p + (1 << 20):016x}"
    # The walk reaches the guard page's PTE through the tables vmalloc allocated.
    assert re.fullmatch(
        r"PGD [0-9a-f]+067 P4D [0-9a-f]+067 PUD [0-9a-f]+067 PMD [0-9a-f]+067 PTE 0", lines[3]
    )
    k.vfree(p)
    assert _vmalloc_used_kb(k) == used
    # Freed lazily: the range waits on the purge list and is not reused yet.
    assert k.cat("/proc/vmallocinfo").endswith("1052672 unpurged vm_area\n")
    with pytest.raises(Oops):
        k.read(p, 1)
    q = k.vmalloc(4096)
    assert not p <= q < p + (1 << 20) + 4096


def test_lazy_purge_after_lazy_max_pages(k: kmemsim.Kernel) -> None:
    vm = k.vmalloc_area
    # lazy_max_pages(): fls(2 CPUs) = 2, times 32 MiB of pages.
    assert vm.lazy_max_pages() == 2 * 8192
    first = k.vmalloc(4 << 20)
    k.vfree(first)
    for _ in range(4):
        k.vfree(k.vmalloc(4 << 20))
    assert vm.purge_list  # 5 * 1025 pages: still below the limit
    for _ in range(12):
        k.vfree(k.vmalloc(4 << 20))
    assert len(vm.purge_list) < 16  # crossing the limit purged them all once
    # After a purge the lowest free range that fits is found again.
    vm.purge_vmap_area_lazy()
    assert k.vmalloc(4 << 20) == first


def test_vfree_from_interrupt_is_deferred(k: kmemsim.Kernel) -> None:
    p = k.vmalloc(8192)
    with k.irq_context():
        k.vfree(p)
    assert k.vmalloc_to_pfn(p)  # still mapped: the work item has not run
    k.vmalloc(4096)  # the next call in task context runs it
    assert k.vmalloc_to_pfn(p) == 0


def test_vmalloc_failures_warn_as_the_kernel(k: kmemsim.Kernel) -> None:
    used = _vmalloc_used_kb(k)
    since = len(k.log)
    assert k.vmalloc(2 << 30) == 0  # more than RAM
    assert "vmalloc error: size 2147483648, exceeds total pages, mode:0xcc0(GFP_KERNEL)" in (
        k.log.records[since].text
    )
    since = len(k.log)
    size = (k.page_alloc.totalram_pages() - 16) << 12  # fits RAM's pages, not what is free
    assert getattr(k, "__vmalloc")(size, GFP_KERNEL | __GFP_RETRY_MAYFAIL) == 0
    assert any(
        "vmalloc error: size" in r.text and "failed to allocate pages" in r.text
        for r in k.log.records[since:]
    )
    assert _vmalloc_used_kb(k) == used
    since = len(k.log)
    k.vfree(0x1234000)
    assert any("Trying to vfree() nonexistent vm area" in r.text for r in k.log.records[since:])


def test_vmap_range_maps_physical_pages_for_ioremap(k: kmemsim.Kernel) -> None:
    vm = k.vmalloc_area
    before = k.cat("/proc/vmallocinfo").splitlines()
    a = vm.vmap_range(0xFEBF0010, 0x100, None, "my_probe+0x10/0x40")
    assert a & 0xFFF == 0x010 and k.address_space.translate(a) == 0xFEBF0010
    (line,) = _new_lines(k, before)
    assert LINE.match(line)
    assert line.endswith("8192 my_probe+0x10/0x40 phys=0x00000000febf0000 ioremap")
    assert vm.vunmap_range(a)
    with pytest.raises(Oops):
        k.read(a, 4)


def test_vmap_of_given_pages(k: kmemsim.Kernel) -> None:
    pages = [k.alloc_pages(GFP_KERNEL, 0) for _ in range(3)]
    v = k.vmap(pages, 3)
    k.write(v + 4096, b"second")
    assert k.read(k.page_address(pages[1]), 6) == b"second"
    k.vunmap(v)
    assert k.read(k.page_address(pages[1]), 6) == b"second"  # pages stay


def test_kvmalloc_falls_back_to_vmalloc_above_what_kmalloc_gives(k: kmemsim.Kernel) -> None:
    small = k.kvmalloc(100, GFP_KERNEL)
    assert not k.is_vmalloc_addr(small) and k.ksize(small) == 128
    # KMALLOC_MAX_SIZE is 2**(MAX_PAGE_ORDER + PAGE_SHIFT) = 4 MiB: kmalloc fails above it.
    big = k.kvmalloc(8 << 20, GFP_KERNEL)
    assert k.is_vmalloc_addr(big)
    assert not k.is_vmalloc_addr(k.kvmalloc(4 << 20, GFP_KERNEL))
    assert k.kvmalloc(8 << 20, GFP_ATOMIC) == 0  # vmalloc may sleep: no fallback
    z = k.kvzalloc(8 << 20, GFP_KERNEL)
    assert k.read(z + (5 << 20), 16) == bytes(16)
    assert k.kvcalloc(1 << 62, 16, GFP_KERNEL) == 0
    k.kvfree(small)
    k.kvfree(big)
    k.kvfree(0)
    grown = k.kvrealloc(k.kvmalloc(64, GFP_KERNEL), 8 << 20, GFP_KERNEL)
    assert k.is_vmalloc_addr(grown)


def test_i386_highmem_page_needs_kmap() -> None:
    k = kmemsim.boot("i386", mem="2G")
    page = k.alloc_pages(GFP_HIGHUSER, 0)  # highmem first
    assert page.pfn >= k.direct_map.max_low_pfn
    assert k.page_address(page) == 0
    v = k.kmap(page)
    lay = k.vm_layout
    assert lay.pkmap_base <= v < lay.pkmap_base + lay.last_pkmap * 4096
    assert k.page_address(page) == v
    k.write(v, b"high")
    k.kunmap(page)
    assert k.page_address(page) == v  # the slot stays until the pool wraps
    local = k.kmap_local_page(page)
    assert k.read(local, 4) == b"high"
    k.kunmap_local(local)
    with pytest.raises(Oops):
        k.read(local, 4)
    low = k.alloc_pages(GFP_KERNEL, 0)
    assert k.kmap(low) == k.page_address(low) != 0


def test_kmap_local_is_lifo_and_warns_otherwise() -> None:
    k = kmemsim.boot("i386", mem="2G")
    a, b = k.alloc_pages(GFP_HIGHUSER, 0), k.alloc_pages(GFP_HIGHUSER, 0)
    va, vb = k.kmap_local_page(a), k.kmap_local_page(b)
    assert va != vb
    since = len(k.log)
    k.kunmap_local(va)  # wrong order: WARN, and the last slot (b's) is the one cleared
    texts = [r.text for r in k.log.records[since:]]
    assert any("mm/highmem.c kunmap_local_indexed" in t for t in texts)
    assert k.address_space.lookup_pte(vb) == 0 and k.address_space.lookup_pte(va)
    va2 = k.kmap_atomic(a)
    assert k.sched.in_atomic()
    k.kunmap_atomic(va2)
    assert not k.sched.in_atomic()


def test_pkmap_pool_exhaustion_and_bad_kunmap() -> None:
    k = kmemsim.boot("i386", mem="2G")
    pages = [k.alloc_pages(GFP_HIGHUSER, 0) for _ in range(1025)]
    for p in pages[:1024]:
        k.kmap(p)
    # LAST_PKMAP slots in use and none kunmapped: the task would sleep forever.
    with pytest.raises(KmemsimError, match="LAST_PKMAP"):
        k.kmap(pages[1024])
    assert "blocked for more than" in k.dmesg()
    k.kunmap(pages[0])
    assert k.kmap(pages[1024])  # a kunmapped slot is recycled when the pool wraps
    with pytest.raises(Oops):
        k.kunmap(pages[0])  # its slot went to another page: BUG in kunmap_high()
    assert "kernel BUG at mm/highmem.c!" in k.dmesg()


def test_kmap_in_atomic_context_is_the_sleep_bug() -> None:
    k = kmemsim.boot("i386", mem="2G")
    page = k.alloc_pages(GFP_HIGHUSER, 0)
    with k.spin_lock():
        k.kmap(page)
    assert "BUG: sleeping function called from invalid context" in k.dmesg()


def test_vmalloc_on_32_bit_takes_highmem_and_lowmem_for_vmalloc_32() -> None:
    k = kmemsim.boot("i386", mem="2G")
    p = k.vmalloc(64 << 10)
    assert all(k.vmalloc_to_pfn(p + (i << 12)) >= k.direct_map.max_low_pfn for i in range(16))
    q = k.vmalloc_32(64 << 10)
    assert all(k.vmalloc_to_pfn(q + (i << 12)) < k.direct_map.max_low_pfn for i in range(16))


def test_arm_vmalloc_and_fault_report() -> None:
    k = kmemsim.boot("beaglebone-black")
    p = k.vmalloc(16384)
    assert k.vm_layout.vmalloc_start <= p < 0xFF800000
    since = len(k.log)
    with pytest.raises(Oops):
        k.read(p + 16384, 4)  # the guard page: a second-level translation fault
    lines = [r.text for r in k.log.records[since:]]
    assert (
        lines[1]
        == f"Unable to handle kernel paging request at virtual address {p + 16384:08x} when read"
    )
    assert re.fullmatch(
        rf"\[{p + 16384:08x}\] \*pgd=[0-9a-f]{{5}}811, \*pte=00000000, \*ppte=00000000", lines[2]
    )
    assert lines[3] == "Internal error: Oops: 7 [#1] SMP ARM"
