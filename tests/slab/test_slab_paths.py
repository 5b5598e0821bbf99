"""One allocation path and one free path (mm/slub.c slab_alloc_node(), slab_free()), their
hook points, the O(1) in-use counter, kmem_cache_destroy() and duplicate names as 6.18 has
them, and CONFIG_RANDOM_KMALLOC_CACHES."""

from __future__ import annotations

import re
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kmemsim
from kmemsim.include.linux import slab as slab_h
from kmemsim.mm.slab import KmemCache, Slab, SlabHooks

GFP_KERNEL = int(kmemsim.GFP_KERNEL)


@pytest.fixture
def k() -> kmemsim.Kernel:
    return kmemsim.boot("x86_64", mem="256M", cpus=2)


class Recorder(SlabHooks):
    """Records every hook call; can fail allocations, serve them or keep freed objects."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int]] = []
        self.fail = False
        self.serve = 0
        self.keep = False

    def should_failslab(self, s: KmemCache, gfp: int) -> bool:
        return self.fail

    def kfence_alloc(self, s: KmemCache, size: int, gfp: int) -> int:
        return self.serve

    def slab_post_alloc(self, s: KmemCache, obj: int, gfp: int, orig_size: int) -> None:
        self.calls.append(("alloc", s.name, obj))

    def kmalloc(self, s: KmemCache, obj: int, size: int, gfp: int) -> None:
        self.calls.append(("kmalloc", s.name, size))

    def kmalloc_large(self, ptr: int, size: int, gfp: int) -> None:
        self.calls.append(("kmalloc_large", "", ptr))

    def slab_free(self, s: KmemCache, slab: Slab, obj: int, after_rcu_delay: bool) -> bool:
        self.calls.append(("free", s.name, obj))
        return self.keep

    def kfree_large(self, ptr: int) -> None:
        self.calls.append(("kfree_large", "", ptr))


def test_every_allocation_api_goes_through_the_one_path(k: kmemsim.Kernel) -> None:
    rec = Recorder()
    k.slab.attach_hooks(rec)
    s = k.kmem_cache_create("paths", 200, 0, 0, None)
    assert s is not None
    # create_cache(): the descriptor from kmem_cache, init_kmem_cache_nodes(): the
    # node structure from kmem_cache_node, through the same path.
    assert [c for c in rec.calls if c[0] == "alloc"] == [
        ("alloc", "kmem_cache", s.addr),
        ("alloc", "kmem_cache_node", s.node_addr),
    ]
    rec.calls.clear()
    objs = [
        k.kmalloc(100, GFP_KERNEL),
        k.kzalloc(100, GFP_KERNEL),
        k.kcalloc(4, 25, GFP_KERNEL),
        k.kmalloc_node(100, GFP_KERNEL, 0),
        k.kmalloc_track_caller(100, GFP_KERNEL),
        k.kmem_cache_alloc(s, GFP_KERNEL),
        k.kmem_cache_zalloc(s, GFP_KERNEL),
        k.kmem_cache_alloc_node(s, GFP_KERNEL, 0),
        *k.kmem_cache_alloc_bulk(s, GFP_KERNEL, 3),
    ]
    allocs = [c for c in rec.calls if c[0] == "alloc"]
    assert [c[2] for c in allocs] == objs
    assert [c[1] for c in allocs] == ["kmalloc-128"] * 5 + ["paths"] * 6
    assert [c for c in rec.calls if c[0] == "kmalloc"] == [("kmalloc", "kmalloc-128", 100)] * 5
    grown = k.krealloc(objs[0], 1000, GFP_KERNEL)
    assert rec.calls[-3:] == [
        ("alloc", "kmalloc-1k", grown),
        ("kmalloc", "kmalloc-1k", 1000),
        ("free", "kmalloc-128", objs[0]),
    ]
    big = k.kmalloc(20000, GFP_KERNEL)
    assert rec.calls[-1] == ("kmalloc_large", "", big)
    rec.calls.clear()
    k.kfree(big)
    k.kfree(grown)
    k.kfree_bulk(objs[1:5])
    k.kmem_cache_free(s, objs[5])
    k.kmem_cache_free_bulk(s, objs[6:])
    assert rec.calls[0] == ("kfree_large", "", big)
    assert [c[2] for c in rec.calls[1:]] == [grown, *objs[1:]]
    k.slab.detach_hooks(rec)
    assert k.slab.hooks == ()


def test_hooks_fail_serve_and_keep(k: kmemsim.Kernel) -> None:
    rec = Recorder()
    k.slab.attach_hooks(rec)
    rec.fail = True
    assert k.kmalloc(64, GFP_KERNEL) == 0  # should_failslab()
    rec.fail = False
    pool = k.get_zeroed_page(GFP_KERNEL)
    rec.serve = pool  # kfence_alloc(): served from the hook's own pool
    assert k.kmalloc(64, GFP_KERNEL) == pool
    rec.serve = 0
    a = k.kmalloc(64, GFP_KERNEL)
    s = k.slab.virt_to_slab(a).cache
    inuse = k.slab.objects_inuse(s)
    rec.keep = True  # a quarantine keeps the object from its slab
    k.kfree(a)
    assert k.slab.objects_inuse(s) == inuse
    c = k.kmalloc(64, GFP_KERNEL)
    assert c != a
    rec.keep = False
    b = k.kmalloc(64, GFP_KERNEL)
    k.kfree(b)
    assert k.slab.objects_inuse(s) == inuse + 1  # a (kept) and c
    assert k.kmalloc(64, GFP_KERNEL) == b  # freed for real: back on the CPU freelist


def _walked_inuse(k: kmemsim.Kernel, s: KmemCache) -> int:
    """total_objects minus every free object, found by walking every freelist."""
    free = 0
    slabs = set(s.node.partial)
    for c in s.cpu_slab:
        slabs.update(c.partial)
        if c.slab is not None:
            slabs.add(c.slab)
    for slab in slabs:
        free += len(k.slab.slab_free_objects(s, slab))
    return s.node.total_objects - free


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("alloc"), st.sampled_from([8, 64, 200, 1000, 3000])),
            st.tuples(st.just("free"), st.integers(0, 1000)),
            st.tuples(st.just("cpu"), st.integers(0, 1)),
            st.tuples(st.just("shrink"), st.just(0)),
        ),
        max_size=300,
    )
)
def test_the_inuse_counter_equals_the_freelist_walk(ops: list[tuple[str, int]]) -> None:
    k = kmemsim.boot("x86_64", mem="256M", cpus=2)
    cache = k.kmem_cache_create("walk", 96, 0, 0, None)
    live: list[int] = []
    for op, arg in ops:
        if op == "alloc":
            live.append(k.kmem_cache_alloc(cache, GFP_KERNEL) if arg == 200 else k.kmalloc(arg, 0))
        elif op == "free" and live:
            p = live.pop(arg % len(live))
            if k.slab.virt_to_slab(p).cache is cache:
                k.kmem_cache_free(cache, p)
            else:
                k.kfree(p)
        elif op == "cpu":
            k.sched.current_cpu = arg
        elif op == "shrink":
            k.kmem_cache_shrink(cache)
    for s in k.slab.caches:
        assert k.slab.objects_inuse(s) == _walked_inuse(k, s), s.name


def test_flags_are_plain_ints_inside(k: kmemsim.Kernel) -> None:
    s = k.kmem_cache_create("flags", 64, 0, kmemsim.SLAB_HWCACHE_ALIGN | kmemsim.SLAB_POISON)
    assert s is not None
    assert all(type(c.flags) is int for c in k.slab.caches)
    assert type(s.flags) is int and s.flags & int(kmemsim.SLAB_POISON)


def test_the_slab_h_inlines_are_bound_from_include_linux_slab(k: kmemsim.Kernel) -> None:
    assert k.kzalloc.__func__ is slab_h.kzalloc  # type: ignore[attr-defined]
    assert k.kmem_cache_zalloc.__func__ is slab_h.kmem_cache_zalloc  # type: ignore[attr-defined]
    assert k.kmalloc == k.slab.kmalloc and k.__kmalloc == k.slab.kmalloc
    assert not hasattr(type(k.slab), "kzalloc")  # one implementation of each API


def test_kmalloc_track_caller_charges_the_callers_caller() -> None:
    k = kmemsim.boot("x86_64", mem="256M", cpus=1, config={"slub_debug": "U,kmalloc-64"})

    def helper() -> int:  # a kstrdup-like helper
        return k.kmalloc_track_caller(64, GFP_KERNEL)

    p = helper()
    line = sys._getframe().f_lineno - 1
    first = test_kmalloc_track_caller_charges_the_callers_caller.__code__.co_firstlineno
    s = k.slab.virt_to_slab(p).cache
    addr = k.slab.read_track(s, p, True)[0]
    name = "test_kmalloc_track_caller_charges_the_callers_caller"
    assert k.slab.symbol(addr) == f"{name}+{4 * (line - first):#x}/0x1000"
    q = k.kmalloc_track_caller(64, GFP_KERNEL, 0xFFFFFFFF81234567)
    assert k.slab.read_track(s, q, True)[0] == 0xFFFFFFFF81234567


# ---------------------------------------------------------------------- kmem_cache_destroy
def test_destroy_releases_and_a_second_destroy_does_nothing(k: kmemsim.Kernel) -> None:
    s = k.kmem_cache_create("once", 64, 0, kmemsim.SLAB_NO_MERGE, None)
    k.kmem_cache_free(s, k.kmem_cache_alloc(s, GFP_KERNEL))
    pages = k.slab.slab_pages()
    mark = len(k.dmesg())
    k.kmem_cache_destroy(s)
    assert "once " not in k.cat("/proc/slabinfo")
    assert not k.fs.exists("/sys/kernel/slab/once")
    assert k.slab.slab_pages()[1] < pages[1]  # its slab went back
    # The descriptor is freed: refcount-- on it gives -1 and nothing else happens
    # (6.18 without KASAN); no report, no exception.
    k.kmem_cache_destroy(s)
    assert s.refcount == -1
    assert k.dmesg()[mark:] == ""
    k.kmem_cache_destroy(None)


def test_destroy_of_a_merged_cache_drops_one_reference(k: kmemsim.Kernel) -> None:
    a = k.kmem_cache_create("merge_a", 56, 0, 0, None)
    b = k.kmem_cache_create("merge_b", 56, 0, 0, None)
    assert a is b and a.refcount == 2
    k.kmem_cache_destroy(b)
    assert a in k.slab.caches and a.refcount == 1


def test_destroy_with_live_objects_warns_unlinks_and_leaks(k: kmemsim.Kernel) -> None:
    s = k.kmem_cache_create("leaky", 64, 0, kmemsim.SLAB_NO_MERGE, None)
    obj = k.kmem_cache_alloc(s, GFP_KERNEL)
    unrec = k.slab.slab_pages()[1]
    k.kmem_cache_destroy(s)
    log = k.dmesg()
    assert "BUG leaky (Not tainted): Objects remaining on __kmem_cache_shutdown()" in log
    assert f"Object 0x{obj:016x} @offset=" in log
    # WARN(err, "%s %s: Slab cache still has objects when called from %pS"): the caller.
    assert re.search(
        r"kmem_cache_destroy leaky: Slab cache still has objects when called from "
        r"test_destroy_with_live_objects_warns_unlinks_and_leaks\+0x[0-9a-f]+/0x1000",
        log,
    )
    # list_del() and sysfs_slab_unlink() happen anyway: the cache is leaked, not listed,
    # and its slab is still slab memory.
    assert "leaky " not in k.cat("/proc/slabinfo")
    assert not k.fs.exists("/sys/kernel/slab/leaky/order")
    assert k.slab.slab_pages()[1] == unrec
    k.kmem_cache_free(s, obj)  # the leaked descriptor still works
    k.kmem_cache_destroy(s)  # refcount 0 -> -1: nothing
    assert s.refcount == -1


def test_alloc_from_a_destroyed_cache_is_an_unnoticed_use_after_free(k: kmemsim.Kernel) -> None:
    s = k.kmem_cache_create("gone", 128, 0, kmemsim.SLAB_NO_MERGE, None)
    k.kmem_cache_destroy(s)
    mark = len(k.dmesg())
    obj = k.kmem_cache_alloc(s, GFP_KERNEL)
    assert obj and k.slab.virt_to_slab(obj).cache is s
    assert "gone " not in k.cat("/proc/slabinfo")
    assert k.dmesg()[mark:] == ""


# ---------------------------------------------------------------------- duplicate names
def test_two_caches_of_one_name_under_slab_nomerge() -> None:
    k = kmemsim.boot("x86_64", mem="256M", cpus=1, config={"slab_nomerge": "y"})
    a = k.kmem_cache_create("twin", 64, 0, 0, None)
    mark = len(k.dmesg())
    b = k.kmem_cache_create("twin", 64, 0, 0, None)
    log = k.dmesg()[mark:]
    assert a is not None and b is not None and a is not b  # both exist
    assert "kmem_cache of name" not in log  # no CONFIG_DEBUG_VM
    assert "sysfs: cannot create duplicate filename '/kernel/slab/twin'" in log
    assert (
        "kobject: kobject_add_internal failed for twin with -EEXIST, don't try to register "
        "things with the same name in the same directory." in log
    )
    assert "SLUB: Unable to add cache twin to sysfs" in log
    assert k.cat("/proc/slabinfo").count("\ntwin ") == 2
    assert k.fs.exists("/sys/kernel/slab/twin/order")
    k.kmem_cache_free(b, k.kmem_cache_alloc(b, GFP_KERNEL))  # the second one works


def test_debug_vm_warns_of_a_duplicate_name() -> None:
    k = kmemsim.boot("x86_64", mem="256M", cpus=1, config={"DEBUG_VM": "y"})
    k.kmem_cache_create("dup", 64, 0, 0, None)
    mark = len(k.dmesg())
    again = k.kmem_cache_create("dup", 64, 0, 0, None)
    log = k.dmesg()[mark:]
    assert again is not None
    assert "kmem_cache of name 'dup' already exists" in log
    assert "WARNING: CPU: 0" in log and "kmem_cache_sanity_check" in log


# ---------------------------------------------------------------------- random kmalloc caches
GOLDEN_RATIO_64 = 0x61C8864680B583EB


def test_random_kmalloc_caches_are_created_and_chosen_by_caller() -> None:
    k = kmemsim.boot("x86_64", mem="512M", cpus=1, config={"RANDOM_KMALLOC_CACHES": "y"})
    names = {s.name for s in k.slab.caches}
    sizes = ["8", "16", "32", "64", "96", "128", "192", "256", "512", "1k", "2k", "4k", "8k"]
    for i in range(1, 16):
        for size in sizes:
            assert f"kmalloc-rnd-{i:02d}-{size}" in names
    assert "kmalloc-rnd-16-8" not in names and "kmalloc-rnd-00-8" not in names
    rnd = k.slab.find_cache("kmalloc-rnd-07-64")
    assert rnd is not None and rnd.flags & int(kmemsim.SLAB_NO_MERGE)
    seed = k.slab.random_kmalloc_seed
    for caller in (0xFFFFFFFF81000000, 0xFFFFFFFF81234568, 0xFFFFFFFF8123456C, 12345):
        h = ((caller ^ seed) * GOLDEN_RATIO_64 % (1 << 64)) >> 60  # hash_64(.., ilog2(16))
        p = k.kmalloc_track_caller(64, GFP_KERNEL, caller)
        want = "kmalloc-64" if h == 0 else f"kmalloc-rnd-{h:02d}-64"
        assert k.slab.virt_to_slab(p).cache.name == want
    # One call site, one cache; the non-normal types do not hash.
    first = {k.slab.virt_to_slab(k.kmalloc(100, GFP_KERNEL)).cache.name for _ in range(5)}
    assert len(first) == 1
    sites = {k.slab.virt_to_slab(k.kmalloc(100, GFP_KERNEL)).cache.name for _ in range(1)}
    sites |= {k.slab.virt_to_slab(k.kmalloc(100, GFP_KERNEL)).cache.name}
    sites |= {k.slab.virt_to_slab(k.kmalloc(100, GFP_KERNEL)).cache.name}
    assert all(re.fullmatch(r"kmalloc-(rnd-\d\d-)?128", n) for n in first | sites)
    acct = k.kmalloc(100, int(kmemsim.GFP_KERNEL_ACCOUNT))
    assert k.slab.virt_to_slab(acct).cache.name == "kmalloc-cg-128"


def test_random_kmalloc_caches_are_off_by_default_and_under_slub_tiny() -> None:
    k = kmemsim.boot("x86_64", mem="256M", cpus=1)
    assert not any(s.name.startswith("kmalloc-rnd-") for s in k.slab.caches)
    tiny = kmemsim.boot(
        "x86_64", mem="256M", cpus=1, config={"RANDOM_KMALLOC_CACHES": "y", "SLUB_TINY": "y"}
    )
    assert not any(s.name.startswith("kmalloc-rnd-") for s in tiny.slab.caches)


def test_tracks_record_jiffies_and_print_their_age() -> None:
    k = kmemsim.boot("x86_64", mem="256M", cpus=1, config={"slub_debug": "FU,kmalloc-32"})
    a = k.kmalloc(32, GFP_KERNEL)
    at_alloc = k.jiffies
    keep = k.kmalloc(32, GFP_KERNEL)  # the slab keeps an object in use
    k.msleep(100)
    k.kfree(a)
    at_free = k.jiffies
    assert at_free > at_alloc
    s = k.slab.virt_to_slab(a).cache
    assert k.slab.read_track(s, a, True)[3] == at_alloc % (1 << 64)
    assert k.slab.read_track(s, a, False)[3] == at_free % (1 << 64)
    k.msleep(40)
    mark = len(k.dmesg())
    k.kfree(a)  # double free: print_tracking() ages both tracks
    log = k.dmesg()[mark:]
    assert f" age={k.jiffies - at_alloc} " in log
    assert f" age={k.jiffies - at_free} " in log
    k.kfree(keep)
