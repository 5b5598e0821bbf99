"""dump_page() and bad_page() of mm/debug.c and mm/page_alloc.c, WARN() of lib/bug.c and
kernel/panic.c: the numbers and lines the kernel prints."""

from __future__ import annotations

import kmemsim
from kmemsim.include.linux.mm_types import Page
from kmemsim.mm.debug import bad_page, pfn_ulong, ulong, warn


def test_the_pfn_of_a_bogus_pointer_is_printed_as_an_unsigned_long() -> None:
    # x86_64 __phys_addr() of 0x7fff12345678 (below PAGE_OFFSET) wraps:
    # 0x7fff12345678 - 0xffff888000000000 mod 2**64 = 0xf77f12345678, pfn 0xf77f12345.
    k = kmemsim.boot("x86_64", mem="256M")
    page = Page((0x7FFF12345678 - 0xFFFF888000000000) >> 12)
    assert page.pfn < 0
    bad_page(k, page, "nonzero _refcount")
    log = k.dmesg()
    assert "pfn:-" not in log
    assert "Bad page state in process swapper/0  pfn:f77f12345\n" in log
    assert "index:0x0 pfn:0xf77f12345\n" in log


def test_a_32_bit_kernel_wraps_pfns_and_addresses_at_32_bits() -> None:
    k = kmemsim.boot("i386", mem="256M")
    assert ulong(k, -1) == 0xFFFFFFFF
    # __pa(0x1000) = 0x1000 - 0xc0000000 mod 2**32 = 0x40001000: pfn 0x40001.
    assert pfn_ulong(k, (0x1000 - 0xC0000000) >> 12) == 0x40001


def test_warn_prints_the_message_after_cut_here_and_nothing_once_fired() -> None:
    k = kmemsim.boot("x86_64", mem="256M")
    n = len(k.dmesg().splitlines())
    assert warn(k, "mm/slab_common.c", "kmem_cache_destroy", "kmem_cache_destroy x: still busy")
    lines = [x.split("] ", 1)[1] for x in k.dmesg().splitlines()[n:]]
    assert lines[:3] == [
        "------------[ cut here ]------------",
        "kmem_cache_destroy x: still busy",
        "WARNING: CPU: 0 PID: 0 at mm/slab_common.c kmem_cache_destroy",
    ]
    assert lines[-1] == "---[ end trace 0000000000000000 ]---"
    assert "Tainted: W" not in "\n".join(lines)  # __warn() taints after printing
    total = k.dmesg()
    assert not warn(k, "mm/slab_common.c", "kmem_cache_destroy", "again")
    assert k.dmesg() == total
    # A plain WARN() (once=False) fires every time, now tainted W.
    assert warn(k, "mm/slab_common.c", "kmem_cache_destroy", once=False)
    assert "Tainted: W " in k.dmesg()[len(total) :]
