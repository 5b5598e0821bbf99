"""Invariants of the slab layer under random kmalloc / krealloc / kfree sequences (hypothesis)."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kmemsim

GFPS = [
    kmemsim.GFP_KERNEL,
    kmemsim.GFP_ATOMIC,
    kmemsim.GFP_KERNEL_ACCOUNT,
    kmemsim.GFP_KERNEL | kmemsim.__GFP_RECLAIMABLE,
    kmemsim.GFP_DMA | kmemsim.GFP_KERNEL,
    kmemsim.GFP_KERNEL | kmemsim.__GFP_ZERO,
]
sizes = st.one_of(st.integers(1, 256), st.integers(257, 9000), st.integers(9000, 70000))
ops = st.lists(
    st.one_of(
        st.tuples(st.just("kmalloc"), sizes, st.sampled_from(GFPS)),
        st.tuples(st.just("krealloc"), st.integers(0, 10_000), sizes),
        st.tuples(st.just("kfree"), st.integers(0, 10_000)),
        st.tuples(st.just("cpu"), st.integers(0, 1)),
    ),
    max_size=120,
)


def _pattern(addr: int, n: int) -> bytes:
    return bytes((addr >> 3) + i & 0xFF for i in range(n))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_random_kmalloc_krealloc_kfree(sequence: list[tuple[object, ...]]) -> None:
    k = kmemsim.boot("x86_64", mem="256M", cpus=2)
    pa = k.page_alloc
    # What boot left allocated (the built-in drivers' devres, ...) stays; the rest goes back.
    for s in list(k.slab.caches):
        k.kmem_cache_shrink(s)
    slab_before = k.slab.slab_pages()
    slab_pfns_before = set(k.slab.slab_of_pfn)
    free_before = pa.nr_free_pages() + pa.nr_free_pcp()
    frames_before = k.mem.resident_frames
    live: dict[int, int] = {}  # address -> requested size
    for op in sequence:
        if op[0] == "cpu":
            k.sched.current_cpu = int(op[1])  # type: ignore[call-overload]
        elif op[0] == "kmalloc":
            size, gfp = int(op[1]), int(op[2])  # type: ignore[call-overload]
            addr = k.kmalloc(size, gfp)
            assert addr
            assert k.ksize(addr) >= size
            if gfp & kmemsim.__GFP_ZERO:
                assert k.read(addr, size) == bytes(size)
            k.write(addr, _pattern(addr, min(size, 64)))
            live[addr] = size
        elif op[0] == "krealloc" and live:
            old = sorted(live)[int(op[1]) % len(live)]  # type: ignore[call-overload]
            size = int(op[2])  # type: ignore[call-overload]
            keep = min(live[old], 64, size)
            content = k.read(old, keep)
            new = k.krealloc(old, size, kmemsim.GFP_KERNEL)
            assert new and k.ksize(new) >= size
            assert k.read(new, keep) == content  # contents survive
            del live[old]
            k.write(new, _pattern(new, min(size, 64)))
            live[new] = size
        elif op[0] == "kfree" and live:
            addr = sorted(live)[int(op[1]) % len(live)]  # type: ignore[call-overload]
            assert k.read(addr, min(live[addr], 64)) == _pattern(addr, min(live[addr], 64))
            k.kfree(addr)
            del live[addr]
        # Never two live objects overlapping.
        spans = sorted((a, a + k.ksize(a)) for a in live)
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert end <= start
    for addr in list(live):
        k.kfree(addr)
    for s in list(k.slab.caches):
        k.kmem_cache_shrink(s)
    assert k.slab.slab_pages() == slab_before
    assert set(k.slab.slab_of_pfn) == slab_pfns_before
    assert pa.nr_free_pages() + pa.nr_free_pcp() == free_before
    assert k.mem.resident_frames == frames_before  # host memory follows what is in use
    assert "BUG" not in k.dmesg() and "WARNING" not in k.dmesg()


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 500)), max_size=300), st.integers(8, 3000))
def test_cache_objects_stay_in_their_slabs(steps: list[tuple[bool, int]], size: int) -> None:
    k = kmemsim.boot("x86_64", mem="256M", cpus=2)
    s = k.kmem_cache_create("prop", size, 0, kmemsim.SLAB_NO_MERGE, None)
    live: list[int] = []
    for alloc, pick in steps:
        if alloc or not live:
            obj = k.kmem_cache_alloc(s, kmemsim.GFP_KERNEL)
            slab = k.slab.slab_of_pfn[k.direct_map.virt_to_pfn(obj)]
            assert (obj - slab.base) % s.size == 0
            assert (obj - slab.base) // s.size < slab.objects
            assert obj not in live
            live.append(obj)
        else:
            k.kmem_cache_free(s, live.pop(pick % len(live)))
    for obj in live:
        k.kmem_cache_free(s, obj)
    assert k.kmem_cache_shrink(s) == 0
    assert k.cat("/sys/kernel/slab/prop/slabs") == "0\n"
