"""post_alloc_hook() and free_pages_prepare(): one alloc and one free path, hooks at the kernel's
points; init_on_alloc/init_on_free; a bogus struct page pointer given to __free_pages()."""

from __future__ import annotations

import pytest

import kmemsim
from kmemsim import GFP_KERNEL, Oops
from kmemsim.errors import KmemsimError


def _boot(**config: object) -> kmemsim.Kernel:
    return kmemsim.boot("x86_64", mem="256M", cpus=2, config=config)


def test_every_allocation_and_free_passes_the_hook_points_once() -> None:
    k = _boot()
    pa = k.page_alloc
    allocs: list[tuple[int, int, int]] = []
    frees: list[tuple[int, int]] = []
    pa.register_post_alloc_hook(lambda page, order, gfp: allocs.append((page.pfn, order, gfp)))
    pa.register_free_pages_prepare_hook(lambda pfn, order: frees.append((pfn, order)))
    page = k.alloc_pages(GFP_KERNEL, 2)
    addr = k.__get_free_pages(GFP_KERNEL, 0)
    zeroed = k.get_zeroed_page(GFP_KERNEL)
    assert page is not None and addr and zeroed
    assert [(o, g) for _, o, g in allocs] == [
        (2, int(GFP_KERNEL)),
        (0, int(GFP_KERNEL)),
        (0, int(GFP_KERNEL | kmemsim.__GFP_ZERO)),
    ]
    k.__free_pages(page, 2)
    k.free_pages(addr, 0)
    k.free_page(zeroed)
    assert frees == [(page.pfn, 2), (allocs[1][0], 0), (allocs[2][0], 0)]
    # Slab pages come and go through the same two points.
    n = len(allocs)
    ptr = k.kmalloc(3000, GFP_KERNEL)
    assert len(allocs) == n + 1 and allocs[-1][1] == 3  # kmalloc-4k slab, order 3
    k.kfree(ptr)


def test_nothing_attached_means_no_hook_work() -> None:
    pa = _boot().page_alloc
    assert not pa.post_alloc_hooks and not pa.free_pages_prepare_hooks
    assert not pa._post_alloc_slow and not pa._free_prepare_slow


def test_init_on_alloc_zeroes_every_page_and_says_so() -> None:
    k = _boot(init_on_alloc="1")
    assert "mem auto-init: stack:off, heap alloc:on, heap free:off" in k.dmesg()
    assert k.page_alloc.check_pages_enabled
    addr = k.__get_free_pages(GFP_KERNEL, 0)
    k.memset(addr, 0xAB, 4096)
    k.free_pages(addr, 0)
    again = k.__get_free_pages(GFP_KERNEL, 0)
    assert again == addr  # the per-CPU list hands the same page back
    assert k.read(again, 4096) == bytes(4096)


def test_without_init_on_alloc_a_reused_page_keeps_its_bytes() -> None:
    k = _boot()
    assert "heap alloc:off, heap free:off" in k.dmesg()
    addr = k.__get_free_pages(GFP_KERNEL, 0)
    k.memset(addr, 0xAB, 4096)
    k.free_pages(addr, 0)
    assert k.__get_free_pages(GFP_KERNEL, 0) == addr
    assert k.read(addr, 16) == b"\xab" * 16


def test_init_on_free_zeroes_at_free() -> None:
    k = _boot(init_on_free="y")
    log = k.dmesg()
    assert "heap alloc:off, heap free:on" in log
    assert "mem auto-init: clearing system memory may take some time..." in log
    addr = k.__get_free_pages(GFP_KERNEL, 1)
    k.memset(addr, 0x5A, 8192)
    k.free_pages(addr, 1)
    phys = k.virt_to_phys(addr)
    assert k.mem.read(phys, 8192) == bytes(8192)


def test_kasan_sits_at_the_page_hook_points() -> None:
    k = kmemsim.boot("x86_64", mem="256M", config={"KASAN": "y"})
    assert k.page_alloc.post_alloc_hooks and k.page_alloc.free_pages_prepare_hooks


def test_free_pages_of_an_int_is_the_kernels_page_fault_oops() -> None:
    """___free_pages() first loads page->flags (PageHead): 0x1234 maps nothing."""
    k = _boot()
    n = len(k.log)
    with pytest.raises(Oops, match="page fault at 0x0000000000001234"):
        k.__free_pages(0x1234, 0)
    lines = k.dmesg(n).splitlines()
    text = [line[15:] for line in lines]
    assert text[:5] == [
        "BUG: unable to handle page fault for address: 0000000000001234",
        "#PF: supervisor read access in kernel mode",
        "#PF: error_code(0x0000) - not-present page",
        "PGD 0 P4D 0 ",
        "Oops: Oops: 0000 [#1] PREEMPT SMP NOPTI",
    ]
    assert " __free_pages" in text and "D" in k.sched.taints


def test_free_pages_of_null_and_of_a_non_pointer() -> None:
    k = _boot()
    with pytest.raises(Oops):
        k.__free_pages(None, 0)
    assert "BUG: kernel NULL pointer dereference, address: 0000000000000000" in k.dmesg()
    with pytest.raises(KmemsimError, match="expected a struct page"):
        k.__free_pages("0x1234", 0)


def test_free_pages_of_a_direct_map_address_corrupts_the_fake_refcount() -> None:
    """The usual mix-up (free_pages() wanted): the kernel takes the page's bytes for a
    struct page and decrements the word where _refcount would be, silently."""
    k = _boot()
    addr = k.get_zeroed_page(GFP_KERNEL)
    free_before = k.page_alloc.nr_free_pages()
    k.__free_pages(addr, 0)
    assert k.read(addr + 0x34, 4) == b"\xff\xff\xff\xff"
    assert k.page_alloc.nr_free_pages() == free_before
    assert "BUG" not in k.dmesg()


def test_i386_reports_with_32_bit_addresses() -> None:
    k = kmemsim.boot("i386", mem="512M")
    with pytest.raises(Oops):
        k.__free_pages(0x1234, 0)
    log = k.dmesg()
    assert "BUG: unable to handle page fault for address: 00001234" in log
    assert "*pde = 00000000 " in log and "Oops: Oops: 0000 [#1] PREEMPT SMP\n" in log
