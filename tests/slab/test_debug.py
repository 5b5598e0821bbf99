"""SLUB debugging: red zones, poison, double free and free pointer checks in simulated memory.

The reports follow mm/slub.c of 6.18: "[<what> overwritten] 0x..-0x.. @offset=N.
First byte 0x.. instead of 0x..", the "BUG <cache> (<taint>): <reason>" banner
between the ===== and ----- lines, the object's hex dump region by region
(print_section), "Disabling lock debugging due to kernel taint" the first
time, and the "FIX <cache>: ..." lines.
"""

from __future__ import annotations

import sys

import pytest

import kmemsim

GFP_KERNEL = kmemsim.GFP_KERNEL


@pytest.fixture
def k() -> kmemsim.Kernel:
    return kmemsim.boot("linux-6.18-x86_64", config={"slub_debug": "FZPU,kmalloc-64"})


def _since(k: kmemsim.Kernel, mark: int) -> str:
    return k.dmesg()[mark:]


def test_slub_debug_changes_the_layout_of_the_named_cache_only(k: kmemsim.Kernel) -> None:
    for attr in ("sanity_checks", "red_zone", "poison", "store_user"):
        assert k.cat(f"/sys/kernel/slab/kmalloc-64/{attr}") == "1\n"
        assert k.cat(f"/sys/kernel/slab/kmalloc-128/{attr}") == "0\n"
    # 64 + right red zone word + free pointer + 2 tracks + orig_size + left red zone (align
    # 64), rounded to 64: calculate_sizes() with SLAB_RED_ZONE|SLAB_POISON|SLAB_STORE_USER.
    assert k.cat("/sys/kernel/slab/kmalloc-64/slab_size") == "256\n"
    assert k.cat("/sys/kernel/slab/kmalloc-64/cpu_partial") == "0\n"
    a = k.kmalloc(64, GFP_KERNEL)
    assert k.ksize(a) == 64
    assert k.read(a - 8, 8) == b"\xcc" * 8  # active left red zone
    assert k.read(a + 64, 8) == b"\xcc" * 8  # active right red zone


def test_right_redzone_overwrite_is_reported_and_fixed(k: kmemsim.Kernel) -> None:
    a = k.kmalloc(64, GFP_KERNEL)
    k.write(a + 64, b"\x00")  # one byte past the end
    mark = len(k.dmesg())
    k.kfree(a)
    log = _since(k, mark)
    assert f"[Right Redzone overwritten] 0x{a + 64:016x}-0x{a + 64:016x} @offset=" in log
    assert "First byte 0x0 instead of 0xcc" in log
    assert "=" * 77 in log and "-" * 77 in log
    assert "BUG kmalloc-64 (Not tainted): Object corrupt" in log
    assert f"Object   {a:016x}: 6b 6b" in log
    assert "Disabling lock debugging due to kernel taint" in log
    assert f"FIX kmalloc-64: Restoring Right Redzone 0x{a + 64:016x}-0x{a + 64:016x}=0xcc" in log
    assert f"FIX kmalloc-64: Object at 0x{a:016x} not freed" in log
    assert k.read(a + 64, 1) == b"\xcc"


def test_kmalloc_redzone_catches_writes_past_the_requested_size(k: kmemsim.Kernel) -> None:
    a = k.kmalloc(50, GFP_KERNEL)
    k.write(a + 50, b"\x01\x02")
    mark = len(k.dmesg())
    k.kfree(a)
    assert "[kmalloc Redzone overwritten]" in _since(k, mark)


def test_double_free_is_object_already_free(k: kmemsim.Kernel) -> None:
    first = test_double_free_is_object_already_free.__code__.co_firstlineno
    a = k.kmalloc(64, GFP_KERNEL)
    alloc_line = sys._getframe().f_lineno - 1
    keep = k.kmalloc(64, GFP_KERNEL)  # the slab still has an object in use
    k.kfree(a)
    free_line = sys._getframe().f_lineno - 1
    mark = len(k.dmesg())
    k.kfree(a)
    log = _since(k, mark)
    assert "BUG kmalloc-64 (Not tainted): Object already free" in log
    # print_track(): who allocated and freed it (this test function, as %pS: each
    # line of a calling function has its own address inside the function's symbol).
    name = "test_double_free_is_object_already_free"
    assert f"Allocated in {name}+{4 * (alloc_line - first):#x}/0x1000 age=0 cpu=0" in log
    assert f"Freed in {name}+{4 * (free_line - first):#x}/0x1000" in log
    assert "WARNING: CPU: 0" in log and "object_err" in log
    assert f"FIX kmalloc-64: Object at 0x{a:016x} not freed" in log
    # The object was freed once: the cache still works and hands it out once.
    b = k.kmalloc(64, GFP_KERNEL)
    c = k.kmalloc(64, GFP_KERNEL)
    assert len({b, c, keep}) == 3


def test_write_after_free_is_poison_overwritten_on_next_allocation(k: kmemsim.Kernel) -> None:
    a = k.kmalloc(64, GFP_KERNEL)
    k.kfree(a)
    assert k.read(a, 64) == b"\x6b" * 63 + b"\xa5"  # POISON_FREE ... POISON_END
    k.write(a + 8, b"AAAA")
    mark = len(k.dmesg())
    b = k.kmalloc(64, GFP_KERNEL)
    log = _since(k, mark)
    assert f"[Poison overwritten] 0x{a + 8:016x}-0x{a + 11:016x} @offset=" in log
    assert "First byte 0x41 instead of 0x6b" in log
    assert f"FIX kmalloc-64: Restoring Poison 0x{a + 8:016x}-0x{a + 11:016x}=0x6b" in log
    assert "FIX kmalloc-64: Marking all objects used" in log
    assert b and b != a


def test_freeing_into_a_slab_with_nothing_allocated(k: kmemsim.Kernel) -> None:
    # The first object of a fresh slab (boot code holds objects in the partial ones).
    while True:
        a = k.kmalloc(64, GFP_KERNEL)
        if k.slab.slab_of_pfn[k.direct_map.virt_to_pfn(a)].inuse == 1:
            break
    k.kfree(a)
    mark = len(k.dmesg())
    k.kfree(a)  # the only object of its slab: the slab's count catches it first
    log = _since(k, mark)
    assert "Slab has 0 allocated objects but 1 are to be freed" in log


def test_slab_padding_overwrite_is_found(k: kmemsim.Kernel) -> None:
    flags = kmemsim.SLAB_POISON | kmemsim.SLAB_RED_ZONE | kmemsim.SLAB_CONSISTENCY_CHECKS
    s = k.kmem_cache_create("padtest", 90, 0, flags, None)
    assert s.size == 120  # 96 + free pointer + right and left red zone words
    a = k.kmem_cache_alloc(s, GFP_KERNEL)
    keep = k.kmem_cache_alloc(s, GFP_KERNEL)
    slab = k.slab.slab_of_pfn[k.direct_map.virt_to_pfn(a)]
    end = slab.base + (4096 << slab.order)
    assert k.read(end - 16, 16) == b"\x5a" * 16  # POISON_INUSE after the last object
    k.write(end - 3, b"\x00")
    mark = len(k.dmesg())
    k.kmem_cache_free(s, a)
    log = _since(k, mark)
    assert (
        f"BUG padtest (Not tainted): Padding overwritten. 0x{end - 3:016x}-0x{end - 3:016x}" in log
    )
    assert f"FIX padtest: Restoring slab padding 0x{end - 3:016x}-0x{end - 3:016x}=0x5a" in log
    assert keep


def test_corrupted_free_pointer_is_caught(k: kmemsim.Kernel) -> None:
    a = k.kmalloc(64, GFP_KERNEL)
    k.kfree(a)
    s = k.slab.find_cache("kmalloc-64")
    k.write(a + s.offset, (0x1234).to_bytes(8, "little"))
    mark = len(k.dmesg())
    k.kmalloc(64, GFP_KERNEL)
    assert "Freepointer corrupt" in _since(k, mark)


def test_invalid_pointer_free_in_a_debug_cache(k: kmemsim.Kernel) -> None:
    a = k.kmalloc(64, GFP_KERNEL)
    mark = len(k.dmesg())
    k.kfree(a + 8)
    assert f"Invalid object pointer 0x{a + 8:016x}" in _since(k, mark)


def test_debug_flags_on_a_cache_of_its_own() -> None:
    k = kmemsim.boot("linux-6.18-x86_64")
    flags = kmemsim.SLAB_RED_ZONE | kmemsim.SLAB_POISON | kmemsim.SLAB_CONSISTENCY_CHECKS
    s = k.kmem_cache_create("dbg", 100, 0, flags, None)
    assert k.fs.readlink("/sys/kernel/slab/dbg") is None  # debug caches never merge
    obj = k.kmem_cache_alloc(s, GFP_KERNEL)
    k.write(obj - 1, b"\x00")
    mark = len(k.dmesg())
    k.kmem_cache_free(s, obj)
    log = _since(k, mark)
    assert "[Left Redzone overwritten]" in log
    assert "BUG dbg (Not tainted): Object corrupt" in log
