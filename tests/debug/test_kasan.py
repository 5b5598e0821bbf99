"""The cases of mm/kasan/kasan_test_c.c (Linux 6.18), re-expressed on kmemsim.

Each test makes the allocations, offsets and accesses of the kernel's case
of the same name and expects, as KUNIT_EXPECT_KASAN_FAIL() does, exactly one
KASAN report per bad access, here also of the bug type generic KASAN prints.
KASAN_GRANULE_SIZE is 8, KMALLOC_MAX_CACHE_SIZE 8192 (x86_64).
"""

from __future__ import annotations

import pytest

import kmemsim
from kmemsim import GFP_KERNEL
from kmemsim.mm.mempool import Mempool
from tests.debug.support import (
    expect_kasan_fail,
    expect_no_kasan_report,
    kasan_kernel,
    kasan_reports,
)

GRANULE = 8
KMALLOC_MAX_CACHE_SIZE = 8192
GFP_ZERO = int(kmemsim.__GFP_ZERO)  # type: ignore[attr-defined]


@pytest.fixture
def k() -> kmemsim.Kernel:
    return kasan_kernel()


def store(k: kmemsim.Kernel, addr: int, value: int = 0x78) -> None:
    """ptr[i] = 'x': a one-byte store."""
    k.write(addr, bytes([value]))


def load(k: kmemsim.Kernel, addr: int) -> int:
    """((volatile char *)ptr)[i]: a one-byte load."""
    return k.read(addr, 1)[0]


# ---------------------------------------------------------------------- kmalloc
def test_kmalloc_oob_right(k: kmemsim.Kernel) -> None:
    size = 128 - GRANULE - 5
    ptr = k.kmalloc(size, GFP_KERNEL)
    with expect_kasan_fail(k, "slab-out-of-bounds", "store"):
        store(k, ptr + size)
    with expect_kasan_fail(k, "slab-out-of-bounds"):
        store(k, ptr + size + 5, 0x79)
    with expect_kasan_fail(k, "slab-out-of-bounds"):
        store(k, ptr, load(k, ptr + size + GRANULE + 5))
    k.kfree(ptr)


def test_kmalloc_oob_right_report_in_the_kernels_words(k: kmemsim.Kernel) -> None:
    size = 128 - GRANULE - 5
    ptr = k.kmalloc(size, GFP_KERNEL)
    start = len(k.log)

    def kmalloc_oob_right() -> None:
        k.write(ptr + size, b"x")

    kmalloc_oob_right()
    text = k.dmesg(start)
    lines = [line.split("] ", 1)[1] for line in text.splitlines()]
    assert lines[0] == "=" * 66
    assert lines[1].startswith("BUG: KASAN: slab-out-of-bounds in kmalloc_oob_right+0x")
    assert lines[2] == f"Write of size 1 at addr {ptr + size:016x} by task kunit_try_catch/1234"
    assert "Allocated by task 1234:" in lines
    assert any(line.startswith(" test_kmalloc_oob_right_report") for line in lines)
    assert f"The buggy address belongs to the object at {ptr:016x}" in lines
    assert " which belongs to the cache kmalloc-128 of size 128" in lines
    assert "The buggy address is located 0 bytes to the right of" in lines
    assert f" allocated 115-byte region [{ptr:016x}, {ptr + 115:016x})" in lines
    row = lines.index("Memory state around the buggy address:")
    guilty = lines[row + 3]
    assert guilty.startswith(f">{ptr & ~127:016x}: ")
    # 14 granules of 8 bytes, then 3 bytes (115 = 14 * 8 + 3), then the redzone.
    assert guilty.endswith("00 00 00 00 00 00 00 00 00 00 00 00 00 00 03 fc")
    caret = lines[row + 4]
    assert caret.index("^") == guilty.rindex(" 03 ") + 1
    assert lines[-2] == "=" * 66 or lines[-1] == "=" * 66


def test_kmalloc_node_oob_right(k: kmemsim.Kernel) -> None:
    size = 4096
    ptr = k.kmalloc_node(size, GFP_KERNEL, 0)
    with expect_kasan_fail(k, "slab-out-of-bounds"):
        store(k, ptr, load(k, ptr + size))
    k.kfree(ptr)


def test_kmalloc_track_caller_oob_right(k: kmemsim.Kernel) -> None:
    size = 128 - GRANULE
    ptr = k.kmalloc_track_caller(size, GFP_KERNEL)
    with expect_kasan_fail(k, "slab-out-of-bounds"):
        store(k, ptr + size, 0x79)
    k.kfree(ptr)
    ptr = k.kmalloc_node_track_caller(size, GFP_KERNEL, 0)
    with expect_kasan_fail(k, "slab-out-of-bounds"):
        store(k, ptr + size, 0x79)
    k.kfree(ptr)


def test_kmalloc_big_oob_right(k: kmemsim.Kernel) -> None:
    size = KMALLOC_MAX_CACHE_SIZE - 256
    ptr = k.kmalloc(size, GFP_KERNEL)
    with expect_kasan_fail(k, "slab-out-of-bounds"):
        store(k, ptr + size, 0)
    k.kfree(ptr)


def test_kmalloc_large_oob_right(k: kmemsim.Kernel) -> None:
    size = KMALLOC_MAX_CACHE_SIZE + 10
    ptr = k.kmalloc(size, GFP_KERNEL)
    with expect_kasan_fail(k, "slab-out-of-bounds"):  # KASAN_PAGE_REDZONE
        store(k, ptr + size, 0)
    k.kfree(ptr)


def test_kmalloc_large_uaf(k: kmemsim.Kernel) -> None:
    size = KMALLOC_MAX_CACHE_SIZE + 10
    ptr = k.kmalloc(size, GFP_KERNEL)
    k.kfree(ptr)
    with expect_kasan_fail(k, "use-after-free"):
        load(k, ptr)


def test_kmalloc_large_invalid_free(k: kmemsim.Kernel) -> None:
    size = KMALLOC_MAX_CACHE_SIZE + 10
    ptr = k.kmalloc(size, GFP_KERNEL)
    with expect_kasan_fail(k, "invalid-free", "kfree"):
        k.kfree(ptr + 1)


def test_page_alloc_oob_right(k: kmemsim.Kernel) -> None:
    order = 4
    size = (1 << order) * 4096
    page = k.alloc_pages(GFP_KERNEL, order)
    ptr = k.page_address(page)
    with expect_kasan_fail(k, "use-after-free"):  # the free page after the block
        load(k, ptr + size)
    k.free_pages(ptr, order)


def test_page_alloc_uaf(k: kmemsim.Kernel) -> None:
    order = 4
    page = k.alloc_pages(GFP_KERNEL, order)
    ptr = k.page_address(page)
    k.free_pages(ptr, order)
    with expect_kasan_fail(k, "use-after-free"):
        load(k, ptr)


def test_krealloc_more_oob(k: kmemsim.Kernel) -> None:
    krealloc_more_oob_helper(k, 201, 235)


def test_krealloc_less_oob(k: kmemsim.Kernel) -> None:
    krealloc_less_oob_helper(k, 235, 201)


def test_krealloc_large_more_oob(k: kmemsim.Kernel) -> None:
    krealloc_more_oob_helper(k, KMALLOC_MAX_CACHE_SIZE + 201, KMALLOC_MAX_CACHE_SIZE + 235)


def test_krealloc_large_less_oob(k: kmemsim.Kernel) -> None:
    krealloc_less_oob_helper(k, KMALLOC_MAX_CACHE_SIZE + 235, KMALLOC_MAX_CACHE_SIZE + 201)


def krealloc_more_oob_helper(k: kmemsim.Kernel, size1: int, size2: int) -> None:
    ptr1 = k.kmalloc(size1, GFP_KERNEL)
    ptr2 = k.krealloc(ptr1, size2, GFP_KERNEL)
    assert ptr2
    with expect_no_kasan_report(k):
        store(k, ptr2 + size1 - 1)
        store(k, ptr2 + size1)
        store(k, ptr2 + size2 - 1)
    with expect_kasan_fail(k, "slab-out-of-bounds"):
        store(k, ptr2 + size2)
    with expect_kasan_fail(k, "slab-out-of-bounds"):
        store(k, ptr2 + (size2 + 7) // 8 * 8)
    k.kfree(ptr2)


def krealloc_less_oob_helper(k: kmemsim.Kernel, size1: int, size2: int) -> None:
    middle = size2 + (size1 - size2) // 2
    ptr1 = k.kmalloc(size1, GFP_KERNEL)
    ptr2 = k.krealloc(ptr1, size2, GFP_KERNEL)
    assert ptr2 == ptr1  # shrinking stays in place
    with expect_no_kasan_report(k):
        store(k, ptr2 + size2 - 1)
    for off in (size2, (size2 + 7) // 8 * 8, middle, size1 - 1, size1):
        with expect_kasan_fail(k, "slab-out-of-bounds"):
            store(k, ptr2 + off)
    k.kfree(ptr2)


def test_krealloc_uaf(k: kmemsim.Kernel) -> None:
    size1, size2 = 201, 235
    ptr1 = k.kmalloc(size1, GFP_KERNEL)
    k.kfree(ptr1)
    with expect_kasan_fail(k, "slab-use-after-free", "krealloc"):
        ptr2 = k.krealloc(ptr1, size2, GFP_KERNEL)
    assert ptr2 == 0
    with expect_kasan_fail(k, "slab-use-after-free"):
        load(k, ptr1)


def test_kmalloc_oob_16(k: kmemsim.Kernel) -> None:
    ptr1 = k.kmalloc(16 - 3, GFP_KERNEL)
    ptr2 = k.kmalloc(16, GFP_KERNEL)
    with expect_kasan_fail(k, "slab-out-of-bounds"):
        k.write(ptr1, k.read(ptr2, 16))
    k.kfree(ptr1)
    k.kfree(ptr2)


def test_kmalloc_uaf_16(k: kmemsim.Kernel) -> None:
    ptr1 = k.kmalloc(16, GFP_KERNEL)
    ptr2 = k.kmalloc(16, GFP_KERNEL)
    k.kfree(ptr2)
    with expect_kasan_fail(k, "slab-use-after-free"):
        k.write(ptr1, k.read(ptr2, 16))
    k.kfree(ptr1)


def test_kmalloc_oob_in_memset(k: kmemsim.Kernel) -> None:
    size = 128 - GRANULE
    ptr = k.kmalloc(size, GFP_KERNEL)
    with expect_kasan_fail(k, "slab-out-of-bounds", "test_kmalloc_oob_in_memset"):
        assert k.memset(ptr, 0, size + GRANULE) == 0  # __asan_memset() gives up
    k.kfree(ptr)


@pytest.mark.parametrize("memset_size", [2, 4, 8, 16])
def test_kmalloc_oob_memset(k: kmemsim.Kernel, memset_size: int) -> None:
    """kmalloc_oob_memset_2, _4, _8, _16."""
    size = 128 - GRANULE
    ptr = k.kmalloc(size, GFP_KERNEL)
    with expect_kasan_fail(k, "slab-out-of-bounds"):
        k.memset(ptr + size - (memset_size - 1), 0, memset_size)
    k.kfree(ptr)


def test_kmalloc_uaf(k: kmemsim.Kernel) -> None:
    ptr = k.kmalloc(10, GFP_KERNEL)
    k.kfree(ptr)
    with expect_kasan_fail(k, "slab-use-after-free"):
        load(k, ptr + 8)


def test_kmalloc_uaf_memset(k: kmemsim.Kernel) -> None:
    size = 33
    ptr = k.kmalloc(size, GFP_KERNEL)
    k.kfree(ptr)
    with expect_kasan_fail(k, "slab-use-after-free"):
        k.memset(ptr, 0, size)


def test_kmalloc_uaf2(k: kmemsim.Kernel) -> None:
    """The quarantine: a freed object is not handed out again at once."""
    size = 43
    ptr1 = k.kmalloc(size, GFP_KERNEL)
    k.kfree(ptr1)
    ptr2 = k.kmalloc(size, GFP_KERNEL)
    with expect_kasan_fail(k, "slab-use-after-free"):
        load(k, ptr1 + 40)
    assert ptr1 != ptr2
    k.kfree(ptr2)


def test_kmalloc_uaf3(k: kmemsim.Kernel) -> None:
    size = 100
    ptr1 = k.kmalloc(size, GFP_KERNEL)
    k.kfree(ptr1)
    ptr2 = k.kmalloc(size, GFP_KERNEL)
    k.kfree(ptr2)
    with expect_kasan_fail(k, "slab-use-after-free"):
        load(k, ptr1 + 8)


def test_kmalloc_double_kzfree(k: kmemsim.Kernel) -> None:
    """ksize() inside kfree_sensitive() reports the freed object, then kfree() the double free."""
    ptr = k.kmalloc(16, GFP_KERNEL)
    k.kfree_sensitive(ptr)
    start = len(k.log)
    k.kfree_sensitive(ptr)
    types = [bug for bug, _ in kasan_reports(k.dmesg(start))]
    assert types == ["slab-use-after-free", "double-free"]


def test_kmalloc_memmove_invalid_size(k: kmemsim.Kernel) -> None:
    size = 64
    ptr = k.kmalloc(size, GFP_KERNEL)
    k.memset(ptr, 0, 64)
    with expect_kasan_fail(k, "slab-out-of-bounds"):
        k.memmove(ptr, ptr + 4, size)
    k.kfree(ptr)


def test_kmalloc_memmove_negative_size(k: kmemsim.Kernel) -> None:
    ptr = k.kmalloc(64, GFP_KERNEL)
    k.memset(ptr, 0, 64)
    with expect_kasan_fail(k, "out-of-bounds"):
        k.memmove(ptr, ptr + 4, -2)  # size_t: 2**64 - 2
    k.kfree(ptr)


def test_ksize_unpoisons_memory(k: kmemsim.Kernel) -> None:
    """In 6.18 ksize() checks the object but does not unpoison past the request."""
    size = 128 - GRANULE - 5
    ptr = k.kmalloc(size, GFP_KERNEL)
    real_size = k.ksize(ptr)
    assert real_size > size
    with expect_no_kasan_report(k):
        store(k, ptr)
        store(k, ptr + size - 1)
    for off in (size, size + 5, real_size - 1):
        with expect_kasan_fail(k, "slab-out-of-bounds"):
            load(k, ptr + off)
    k.kfree(ptr)


def test_ksize_uaf(k: kmemsim.Kernel) -> None:
    size = 128 - GRANULE
    ptr = k.kmalloc(size, GFP_KERNEL)
    k.kfree(ptr)
    with expect_kasan_fail(k, "slab-use-after-free", "ksize"):
        assert k.ksize(ptr) == 0
    with expect_kasan_fail(k, "slab-use-after-free"):
        load(k, ptr)
    with expect_kasan_fail(k, "slab-use-after-free"):
        load(k, ptr + size)


def test_rcu_uaf(k: kmemsim.Kernel) -> None:
    """struct kasan_rcu_info { int i; struct rcu_head rcu; }: the callback frees, then reads."""
    ptr = k.kmalloc(24, GFP_KERNEL)
    rcu_offset = 8

    def rcu_uaf_reclaim(rp: int) -> None:
        fp = rp - rcu_offset
        k.kfree(fp)
        load(k, fp)

    with expect_kasan_fail(k, "slab-use-after-free", "load"):
        k.call_rcu(ptr + rcu_offset, rcu_uaf_reclaim)
        k.rcu_barrier()
    assert "Last potentially related work creation:" in k.dmesg()


def test_kfree_via_page(k: kmemsim.Kernel) -> None:
    with expect_no_kasan_report(k):
        ptr = k.kmalloc(8, GFP_KERNEL)
        page = k.virt_to_page(ptr)
        offset = ptr & 4095
        k.kfree(k.page_address(page) + offset)


def test_kfree_via_phys(k: kmemsim.Kernel) -> None:
    with expect_no_kasan_report(k):
        ptr = k.kmalloc(8, GFP_KERNEL)
        phys = k.virt_to_phys(ptr)
        k.kfree(k.phys_to_virt(phys))


# ---------------------------------------------------------------------- kmem_cache
def test_kmem_cache_oob(k: kmemsim.Kernel) -> None:
    size = 200
    cache = k.kmem_cache_create("test_cache", size, 0, 0, None)
    p = k.kmem_cache_alloc(cache, GFP_KERNEL)
    with expect_kasan_fail(k, "slab-out-of-bounds"):
        store(k, p, load(k, p + size))
    k.kmem_cache_free(cache, p)
    k.kmem_cache_destroy(cache)
    assert "Objects remaining" not in k.dmesg()


def test_kmem_cache_double_free(k: kmemsim.Kernel) -> None:
    cache = k.kmem_cache_create("test_cache", 200, 0, 0, None)
    p = k.kmem_cache_alloc(cache, GFP_KERNEL)
    k.kmem_cache_free(cache, p)
    with expect_kasan_fail(k, "double-free", "kmem_cache_free"):
        k.kmem_cache_free(cache, p)
    k.kmem_cache_destroy(cache)


def test_kmem_cache_invalid_free(k: kmemsim.Kernel) -> None:
    cache = k.kmem_cache_create("test_cache", 200, 0, kmemsim.SLAB_TYPESAFE_BY_RCU, None)
    p = k.kmem_cache_alloc(cache, GFP_KERNEL)
    with expect_kasan_fail(k, "invalid-free"):
        k.kmem_cache_free(cache, p + 1)
    k.kmem_cache_free(cache, p)
    k.kmem_cache_destroy(cache)
    assert "Objects remaining" not in k.dmesg()


def test_kmem_cache_rcu_uaf(k: kmemsim.Kernel) -> None:
    cache = k.kmem_cache_create("test_cache", 200, 0, kmemsim.SLAB_TYPESAFE_BY_RCU, None)
    p = k.kmem_cache_alloc(cache, GFP_KERNEL)
    store(k, p, 1)
    with expect_no_kasan_report(k), k.rcu_read_lock():
        k.kmem_cache_free(cache, p)
        load(k, p)  # a reader may still look at the object
    k.rcu_barrier()
    with expect_kasan_fail(k, "slab-use-after-free"):
        load(k, p)
    k.kmem_cache_destroy(cache)


def test_kmem_cache_double_destroy(k: kmemsim.Kernel) -> None:
    cache = k.kmem_cache_create("test_cache", 200, 0, 0, None)
    k.kmem_cache_destroy(cache)
    assert k.find_cache("test_cache") is None


def test_kmem_cache_accounted(k: kmemsim.Kernel) -> None:
    cache = k.kmem_cache_create("test_cache", 200, 0, kmemsim.SLAB_ACCOUNT, None)
    with expect_no_kasan_report(k):
        for _ in range(5):
            p = k.kmem_cache_alloc(cache, GFP_KERNEL)
            assert p
            k.kmem_cache_free(cache, p)
            msleep = getattr(k, "msleep", None)
            if msleep is not None:
                msleep(100)
        k.kmem_cache_destroy(cache)


def test_kmem_cache_bulk(k: kmemsim.Kernel) -> None:
    size = 200
    cache = k.kmem_cache_create("test_cache", size, 0, 0, None)
    with expect_no_kasan_report(k):
        p = k.kmem_cache_alloc_bulk(cache, GFP_KERNEL, 10)
        assert len(p) == 10
        for obj in p:
            store(k, obj, 42)
            store(k, obj + size - 1, 42)
        k.kmem_cache_free_bulk(cache, p)
        k.kmem_cache_destroy(cache)
    assert "Objects remaining" not in k.dmesg()


# ---------------------------------------------------------------------- mempool
def mempool_prepare_kmalloc(k: kmemsim.Kernel, pool: Mempool, size: int) -> int:
    assert k.mempool_init_kmalloc_pool(pool, 4, size) == 0
    # One element out, so that the frees below go back into the reserve.
    elem = k.mempool_alloc_preallocated(pool)
    assert elem
    return int(elem)


def mempool_prepare_slab(k: kmemsim.Kernel, pool: Mempool, size: int) -> object:
    cache = k.kmem_cache_create("test_cache", size, 0, 0, None)
    assert k.mempool_init_slab_pool(pool, 4, cache) == 0
    return cache


def mempool_prepare_page(k: kmemsim.Kernel, pool: Mempool, order: int) -> object:
    assert k.mempool_init_page_pool(pool, 4, order) == 0
    elem = k.mempool_alloc_preallocated(pool)
    assert elem is not None
    return elem


def mempool_oob_right_helper(k: kmemsim.Kernel, pool: Mempool, size: int) -> None:
    elem = k.mempool_alloc_preallocated(pool)
    bug = "slab-out-of-bounds"
    with expect_kasan_fail(k, bug):
        load(k, elem + size)
    k.mempool_free(elem, pool)


def test_mempool_kmalloc_oob_right(k: kmemsim.Kernel) -> None:
    pool = Mempool()
    size = 128 - GRANULE - 2
    extra = mempool_prepare_kmalloc(k, pool, size)
    mempool_oob_right_helper(k, pool, size)
    k.mempool_free(extra, pool)
    k.mempool_exit(pool)


def test_mempool_kmalloc_large_oob_right(k: kmemsim.Kernel) -> None:
    pool = Mempool()
    size = KMALLOC_MAX_CACHE_SIZE + 1
    extra = mempool_prepare_kmalloc(k, pool, size)
    mempool_oob_right_helper(k, pool, size)
    k.mempool_free(extra, pool)
    k.mempool_exit(pool)


def test_mempool_slab_oob_right(k: kmemsim.Kernel) -> None:
    pool = Mempool()
    size = 123
    cache = mempool_prepare_slab(k, pool, size)
    mempool_oob_right_helper(k, pool, size)
    k.mempool_exit(pool)
    k.kmem_cache_destroy(cache)
    assert "Objects remaining" not in k.dmesg()


def mempool_uaf_helper(k: kmemsim.Kernel, pool: Mempool, page: bool) -> None:
    elem = k.mempool_alloc_preallocated(pool)
    k.mempool_free(elem, pool)
    ptr = k.page_address(elem) if page else elem
    bug = "use-after-free" if page else "slab-use-after-free"
    with expect_kasan_fail(k, bug):
        load(k, ptr)


def test_mempool_kmalloc_uaf(k: kmemsim.Kernel) -> None:
    pool = Mempool()
    extra = mempool_prepare_kmalloc(k, pool, 128)
    mempool_uaf_helper(k, pool, False)
    k.mempool_free(extra, pool)
    k.mempool_exit(pool)


def test_mempool_create_knows_a_kmalloc_pool_by_its_alloc_function(k: kmemsim.Kernel) -> None:
    """kasan_poison_element() (mm/mempool.c) tells the kind of pool by pool->alloc: made by
    mempool_create() with mempool_kmalloc, the reserve's elements are poisoned as a kmalloc
    pool's are; with the caller's own functions (kmalloc inside them too) they are not."""
    pool = k.mempool_create(4, k.mempool_kmalloc, k.mempool_kfree, 128)
    assert pool is not None
    mempool_uaf_helper(k, pool, False)
    k.mempool_destroy(pool)
    own = k.mempool_create(
        4, lambda gfp, size: k.kmalloc(size, gfp), lambda elem, _size: k.kfree(elem), 128
    )
    assert own is not None
    elem = k.mempool_alloc_preallocated(own)
    k.mempool_free(elem, own)
    with expect_no_kasan_report(k):
        load(k, elem)
    k.mempool_destroy(own)


def test_mempool_kmalloc_large_uaf(k: kmemsim.Kernel) -> None:
    pool = Mempool()
    extra = mempool_prepare_kmalloc(k, pool, KMALLOC_MAX_CACHE_SIZE + 1)
    elem = k.mempool_alloc_preallocated(pool)
    k.mempool_free(elem, pool)
    with expect_kasan_fail(k, "use-after-free"):  # KASAN_PAGE_FREE
        load(k, elem)
    k.mempool_free(extra, pool)
    k.mempool_exit(pool)


def test_mempool_slab_uaf(k: kmemsim.Kernel) -> None:
    pool = Mempool()
    cache = mempool_prepare_slab(k, pool, 123)
    mempool_uaf_helper(k, pool, False)
    k.mempool_exit(pool)
    k.kmem_cache_destroy(cache)


def test_mempool_page_alloc_uaf(k: kmemsim.Kernel) -> None:
    pool = Mempool()
    extra = mempool_prepare_page(k, pool, 2)
    mempool_uaf_helper(k, pool, True)
    k.mempool_free(extra, pool)
    k.mempool_exit(pool)


def mempool_double_free_helper(k: kmemsim.Kernel, pool: Mempool) -> None:
    elem = k.mempool_alloc_preallocated(pool)
    k.mempool_free(elem, pool)
    with expect_kasan_fail(k, "double-free", "mempool_free"):
        k.mempool_free(elem, pool)


def mempool_invalid_free_helper(k: kmemsim.Kernel, pool: Mempool) -> None:
    elem = k.mempool_alloc_preallocated(pool)
    with expect_kasan_fail(k, "invalid-free", "mempool_free"):
        k.mempool_free(elem + 1, pool)
    k.mempool_free(elem, pool)


def test_mempool_kmalloc_double_free(k: kmemsim.Kernel) -> None:
    pool = Mempool()
    extra = mempool_prepare_kmalloc(k, pool, 128)
    mempool_double_free_helper(k, pool)
    k.mempool_free(extra, pool)
    k.mempool_exit(pool)


def test_mempool_kmalloc_large_double_free(k: kmemsim.Kernel) -> None:
    pool = Mempool()
    extra = mempool_prepare_kmalloc(k, pool, KMALLOC_MAX_CACHE_SIZE + 1)
    mempool_double_free_helper(k, pool)
    k.mempool_free(extra, pool)
    k.mempool_exit(pool)


def test_mempool_page_alloc_double_free(k: kmemsim.Kernel) -> None:
    pool = Mempool()
    extra = mempool_prepare_page(k, pool, 2)
    elem = k.mempool_alloc_preallocated(pool)
    k.mempool_free(elem, pool)
    with expect_kasan_fail(k, "double-free", "mempool_free"):
        k.mempool_free(elem, pool)
    k.mempool_free(extra, pool)
    k.mempool_exit(pool)


def test_mempool_kmalloc_invalid_free(k: kmemsim.Kernel) -> None:
    pool = Mempool()
    extra = mempool_prepare_kmalloc(k, pool, 128)
    mempool_invalid_free_helper(k, pool)
    k.mempool_free(extra, pool)
    k.mempool_exit(pool)


def test_mempool_kmalloc_large_invalid_free(k: kmemsim.Kernel) -> None:
    pool = Mempool()
    extra = mempool_prepare_kmalloc(k, pool, KMALLOC_MAX_CACHE_SIZE + 1)
    mempool_invalid_free_helper(k, pool)
    k.mempool_free(extra, pool)
    k.mempool_exit(pool)


# ---------------------------------------------------------------------- the tool itself
def test_a_bug_free_scenario_gets_no_report(k: kmemsim.Kernel) -> None:
    with expect_no_kasan_report(k):
        for size in (1, 8, 13, 64, 100, 128, 1000, 4096, 8192, 20000):
            p = k.kmalloc(size, GFP_KERNEL)
            k.memset(p, 0xAB, size)
            assert k.read(p + size - 1, 1) == b"\xab"
            q = k.krealloc(p, size * 2, GFP_KERNEL)
            k.memset(q, 1, size * 2)
            k.kfree(q)
        page = k.alloc_pages(GFP_KERNEL, 1)
        addr = k.page_address(page)
        k.memset(addr, 0, 8192)
        k.free_pages(addr, 1)


def test_only_the_first_report_without_multi_shot() -> None:
    k = kasan_kernel(kasan_multi_shot="n")
    p = k.kmalloc(10, GFP_KERNEL)
    load(k, p + 10)
    load(k, p + 11)
    assert len(kasan_reports(k.dmesg())) == 1


def test_kasan_fault_panic() -> None:
    k = kasan_kernel(**{"kasan.fault": "panic"})
    p = k.kmalloc(10, GFP_KERNEL)
    with pytest.raises(kmemsim.Oops):
        load(k, p + 16)
    assert "Kernel panic - not syncing: kasan.fault=panic set ..." in k.dmesg()


def test_kasan_fault_panic_on_write_reads_go_on() -> None:
    k = kasan_kernel(**{"kasan.fault": "panic_on_write"})
    p = k.kmalloc(10, GFP_KERNEL)
    load(k, p + 16)
    with pytest.raises(kmemsim.Oops):
        store(k, p + 16)


def test_kasan_layout_of_kmalloc_128(k: kmemsim.Kernel) -> None:
    """kasan_cache_create(): 16 bytes of alloc meta, then the optimal redzone (64 for 128)."""
    from kmemsim.mm.kasan.generic import kasan_cache_create, optimal_redzone

    s = k.find_cache("kmalloc-128")
    assert optimal_redzone(128) == 64
    size, alloc_off, free_off = kasan_cache_create(s, 128, False)
    assert (size, alloc_off, free_off) == (192, 128, 0)
    # kmalloc-128 is 128-aligned: 192 rounds up to 256 bytes a slot.
    assert s.size == 256
    assert k.cat("/sys/kernel/slab/kmalloc-128/slab_size").strip() == "256"


def test_small_objects_keep_free_meta_past_the_object(k: kmemsim.Kernel) -> None:
    from kmemsim.mm.kasan.generic import kasan_cache_create

    s = k.find_cache("kmalloc-8")
    size, alloc_off, free_off = kasan_cache_create(s, 8, False)
    # 8 bytes of the 16-byte free meta do not fit: alloc meta moves up by 8.
    assert (alloc_off, free_off) == (16, 0)
    assert size == 32  # 8 + 8 (rest of the free meta) + 16 (alloc meta) > 8 + 16 (optimal)


# ---------------------------------------------------------------------- string functions
def test_kasan_memchr(k: kmemsim.Kernel) -> None:
    size = 24
    ptr = k.kmalloc(size, GFP_KERNEL | GFP_ZERO)
    with expect_kasan_fail(k, "slab-out-of-bounds", "memchr"):
        k.memchr(ptr, ord("1"), size + 1)
    assert "Read of size 1 at addr " + f"{ptr + size:016x}" in k.dmesg()
    k.kfree(ptr)


def test_kasan_memcmp(k: kmemsim.Kernel) -> None:
    size = 24
    ptr = k.kmalloc(size, GFP_KERNEL | GFP_ZERO)
    arr = k.kzalloc(9 * 4, GFP_KERNEL)  # int arr[9], zeroed
    with expect_kasan_fail(k, "slab-out-of-bounds", "memcmp"):
        k.memcmp(ptr, arr, size + 1)
    k.kfree(ptr)
    k.kfree(arr)


def test_kasan_strings(k: kmemsim.Kernel) -> None:
    size = 24
    ptr = k.kmalloc(size, GFP_KERNEL | GFP_ZERO)
    src = k.kmalloc(GRANULE, GFP_KERNEL | GFP_ZERO)
    k.strscpy(src, "f0cacc1a0000000", GRANULE)
    with expect_no_kasan_report(k):
        assert k.strscpy(ptr, src + 1, GRANULE) == GRANULE - 2
    with expect_kasan_fail(k, "slab-out-of-bounds", "strscpy"):
        k.strscpy(ptr, src + GRANULE, GRANULE)
    k.kfree(src)
    k.kfree(ptr)
    ptr += 16  # past the free meta a freed object keeps
    for fn, args in (
        ("strchr", (ptr, ord("1"))),
        ("strrchr", (ptr, ord("1"))),
        ("strcmp", (ptr, "2")),
        ("strncmp", (ptr, "2", 1)),
        ("strlen", (ptr,)),
        ("strnlen", (ptr, 1)),
    ):
        with expect_kasan_fail(k, "slab-use-after-free", fn):
            getattr(k, fn)(*args)


def test_vmalloc_oob(k: kmemsim.Kernel) -> None:
    size = 4096 // 2 - GRANULE - 5
    v_ptr = k.vmalloc(size)
    with expect_no_kasan_report(k):
        store(k, v_ptr, 0)
        store(k, v_ptr + size - 1, 0)
    with expect_kasan_fail(k, "vmalloc-out-of-bounds"):
        load(k, v_ptr + size)
    with expect_kasan_fail(k, "vmalloc-out-of-bounds"):
        load(k, v_ptr + size + 5)
    assert "The buggy address belongs to the virtual mapping at" in k.dmesg()
    page = k.vmalloc_to_page(v_ptr)
    with expect_no_kasan_report(k):
        store(k, k.page_address(page), 0)
    k.vfree(v_ptr)
