"""RCU grace periods (kernel/rcu/tree.py) and mempools (mm/mempool.py) without debugging tools."""

from __future__ import annotations

import kmemsim
from kmemsim import GFP_ATOMIC, GFP_KERNEL
from kmemsim.mm.mempool import Mempool


def boot() -> kmemsim.Kernel:
    return kmemsim.boot("x86_64", mem="512M", cpus=2)


def test_call_rcu_runs_after_a_grace_period_not_before() -> None:
    k = boot()
    ran: list[int] = []
    k.call_rcu(0x1234, ran.append)
    assert ran == []
    k.synchronize_rcu()
    assert ran == [0x1234]


def test_a_reader_holds_the_grace_period_back() -> None:
    k = boot()
    ran: list[int] = []
    with k.rcu_read_lock():
        k.call_rcu(1, ran.append)
        k.rcu.rcu_advance()
        assert ran == []
    k.msleep(10)  # the task sleeps: a quiescent state
    assert ran == [1]


def test_callbacks_run_in_softirq_in_queue_order() -> None:
    k = boot()
    seen: list[tuple[int, bool]] = []
    for i in range(3):
        k.call_rcu(i, lambda h: seen.append((h, k.sched.in_softirq())))
    k.rcu_barrier()
    assert seen == [(0, True), (1, True), (2, True)]


def test_kfree_rcu_frees_after_the_grace_period() -> None:
    k = boot()
    s = k.find_cache("kmalloc-64")
    p = k.kmalloc(64, GFP_KERNEL)
    before = k.slab.objects_inuse(s)
    k.kfree_rcu(p, 16)
    assert k.slab.objects_inuse(s) == before  # still allocated
    assert int.from_bytes(k.read(p + 24, 8), "little") == 16  # rcu_head.func = offset
    k.rcu_barrier()
    assert k.slab.objects_inuse(s) == before - 1


def test_synchronize_rcu_inside_a_reader_is_reported() -> None:
    k = boot()
    with k.rcu_read_lock():
        k.synchronize_rcu()
    log = k.dmesg()
    assert "Illegal synchronize_rcu() in RCU read-side critical section" in log
    assert "BUG: sleeping function called from invalid context" in log


def test_typesafe_by_rcu_slab_pages_go_back_after_a_grace_period() -> None:
    k = boot()
    cache = k.kmem_cache_create("rcu_cache", 512, 0, kmemsim.SLAB_TYPESAFE_BY_RCU, None)
    objs = [k.kmem_cache_alloc(cache, GFP_KERNEL) for _ in range(64)]
    used = k.page_alloc.nr_allocated_pages()
    for p in objs:
        k.kmem_cache_free(cache, p)
    k.kmem_cache_shrink(cache)
    assert k.page_alloc.nr_allocated_pages() == used  # readers may still look
    k.rcu_barrier()
    assert k.page_alloc.nr_allocated_pages() < used


def test_mempool_reserve_serves_when_the_allocator_fails() -> None:
    k = boot()
    pool = k.mempool_create_kmalloc_pool(2, 100)
    assert pool is not None and pool.curr_nr == 2
    # The elements array lives in simulated memory and points at the reserve.
    arr = k.read(pool.elements_addr, 16)
    assert {int.from_bytes(arr[i : i + 8], "little") for i in (0, 8)} == set(pool.elements)
    p = k.mempool_alloc(pool, GFP_KERNEL)
    assert p and pool.curr_nr == 2  # the allocator had memory: the reserve is untouched
    k.mempool_free(p, pool)  # the reserve is full: back to kfree
    assert pool.curr_nr == 2
    a = k.mempool_alloc_preallocated(pool)
    b = k.mempool_alloc_preallocated(pool)
    assert a and b and k.mempool_alloc_preallocated(pool) == 0
    k.mempool_free(a, pool)
    k.mempool_free(b, pool)
    assert pool.curr_nr == 2
    k.mempool_destroy(pool)


def test_mempool_page_pool_elements_are_pages() -> None:
    k = boot()
    pool = k.mempool_create_page_pool(1, 2)
    assert pool is not None
    page = k.mempool_alloc(pool, GFP_ATOMIC)
    assert k.page_address(page)
    k.mempool_free(page, pool)
    k.mempool_destroy(pool)


def test_mempool_slab_pool() -> None:
    k = boot()
    cache = k.kmem_cache_create("pool_cache", 96, 0, 0, None)
    pool = Mempool()
    assert k.mempool_init_slab_pool(pool, 3, cache) == 0
    assert k.slab.objects_inuse(cache) == 3
    k.mempool_exit(pool)
    assert k.slab.objects_inuse(cache) == 0
    k.kmem_cache_destroy(cache)


def test_mempool_create_with_the_kernel_element_allocators() -> None:
    """mempool_create(min_nr, mempool_alloc_slab, mempool_free_slab, cache) is what
    mempool_create_slab_pool() expands to (include/linux/mempool.h): the reserve is
    min_nr objects of the cache; mempool_kmalloc/mempool_kfree take the size as pool_data,
    mempool_alloc_pages/mempool_free_pages the order."""
    k = boot()
    cache = k.kmem_cache_create("pool_cache", 96, 0, 0, None)
    pool = k.mempool_create(3, k.mempool_alloc_slab, k.mempool_free_slab, cache)
    assert pool is not None and k.slab.objects_inuse(cache) == 3
    k.mempool_destroy(pool)
    assert k.slab.objects_inuse(cache) == 0
    k.kmem_cache_destroy(cache)
    kpool = k.mempool_create(2, k.mempool_kmalloc, k.mempool_kfree, 100)
    assert kpool is not None
    p = k.mempool_alloc(kpool, GFP_KERNEL)
    assert k.ksize(p) == 128  # a kmalloc-128 object
    k.mempool_free(p, kpool)
    k.mempool_destroy(kpool)
    ppool = k.mempool_create(1, k.mempool_alloc_pages, k.mempool_free_pages, 2)
    assert ppool is not None
    page = k.mempool_alloc(ppool, GFP_KERNEL)
    assert page.order == 2
    k.mempool_free(page, ppool)
    k.mempool_destroy(ppool)
