"""The kmalloc family and the cache API behave as include/linux/slab.h and mm/slub.c say."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import kmemsim
from kmemsim.include.linux.slab import KMALLOC_MAX_CACHE_SIZE, KMALLOC_MAX_SIZE, ZERO_SIZE_PTR

GFP_KERNEL = kmemsim.GFP_KERNEL
GFP_ATOMIC = kmemsim.GFP_ATOMIC


@pytest.fixture
def k() -> kmemsim.Kernel:
    return kmemsim.boot("linux-6.18-x86_64")


def _cache_of(k: kmemsim.Kernel, addr: int) -> str:
    slab = k.slab.slab_of_pfn[k.direct_map.virt_to_pfn(addr)]
    return str(slab.cache.name)


@pytest.mark.parametrize(
    ("size", "ksize"),
    [
        (1, 8),
        (8, 8),
        (9, 16),
        (24, 32),
        (65, 96),
        (96, 96),
        (97, 128),
        (100, 128),
        (129, 192),
        (193, 256),
        (1000, 1024),
        (4097, 8192),
        (8192, 8192),
    ],
)
def test_kmalloc_size_classes(k: kmemsim.Kernel, size: int, ksize: int) -> None:
    addr = k.kmalloc(size, GFP_KERNEL)
    assert addr % 8 == 0
    assert k.ksize(addr) == ksize
    k.kfree(addr)


@pytest.mark.parametrize(
    ("gfp", "prefix"),
    [
        ("GFP_KERNEL", "kmalloc-"),
        ("GFP_KERNEL_ACCOUNT", "kmalloc-cg-"),
        ("__GFP_RECLAIMABLE", "kmalloc-rcl-"),
        ("GFP_DMA", "dma-kmalloc-"),
    ],
)
def test_kmalloc_type_follows_the_gfp_flags(k: kmemsim.Kernel, gfp: str, prefix: str) -> None:
    flags = int(getattr(kmemsim, gfp))
    if gfp.startswith("__"):
        flags |= int(GFP_KERNEL)
    addr = k.kmalloc(100, flags)
    assert _cache_of(k, addr) == prefix + "128"
    # __GFP_DMA wins over __GFP_RECLAIMABLE, __GFP_RECLAIMABLE over __GFP_ACCOUNT.
    both = k.kmalloc(100, GFP_KERNEL | kmemsim.__GFP_RECLAIMABLE | kmemsim.GFP_DMA)
    assert _cache_of(k, both) == "dma-kmalloc-128"
    rcl = k.kmalloc(100, kmemsim.GFP_KERNEL_ACCOUNT | kmemsim.__GFP_RECLAIMABLE)
    assert _cache_of(k, rcl) == "kmalloc-rcl-128"


def test_kmalloc_zero_and_null(k: kmemsim.Kernel) -> None:
    before = k.dmesg()
    assert k.kmalloc(0, GFP_KERNEL) == ZERO_SIZE_PTR
    k.kfree(0)
    k.kfree(ZERO_SIZE_PTR)
    assert k.ksize(ZERO_SIZE_PTR) == 0
    assert k.dmesg() == before


def test_large_kmalloc_comes_from_the_page_allocator(k: kmemsim.Kernel) -> None:
    pa = k.page_alloc
    free0 = pa.nr_free_pages() + pa.nr_free_pcp()
    addr = k.kmalloc(KMALLOC_MAX_CACHE_SIZE + 1, GFP_KERNEL)
    assert addr and addr % 4096 == 0
    assert k.ksize(addr) == 4096 << 2  # get_order(8193) = 2
    assert pa.nr_free_pages() + pa.nr_free_pcp() == free0 - 4
    assert k.slab.slab_pages()[1] >= 4  # counted as unreclaimable slab
    k.kfree(addr)
    assert pa.nr_free_pages() + pa.nr_free_pcp() == free0


def test_kmalloc_beyond_kmalloc_max_size_warns_and_returns_null(k: kmemsim.Kernel) -> None:
    assert k.kmalloc(KMALLOC_MAX_SIZE, GFP_KERNEL)
    assert k.kmalloc(KMALLOC_MAX_SIZE + 1, GFP_KERNEL) == 0
    assert "WARNING: CPU: 0" in k.dmesg()
    assert "__alloc_frozen_pages_noprof" in k.dmesg()
    mark = len(k.dmesg())
    assert k.kmalloc(KMALLOC_MAX_SIZE + 1, GFP_KERNEL | kmemsim.__GFP_NOWARN) == 0
    assert "WARNING" not in k.dmesg()[mark:]


def test_kzalloc_kcalloc_kmalloc_array(k: kmemsim.Kernel) -> None:
    a = k.kmalloc(64, GFP_KERNEL)
    k.write(a, b"\xaa" * 64)
    k.kfree(a)
    z = k.kzalloc(64, GFP_KERNEL)
    assert z == a  # LIFO: the object just freed
    assert k.read(z, 64) == bytes(64)
    c = k.kcalloc(10, 10, GFP_KERNEL)
    assert k.ksize(c) == 128 and k.read(c, 100) == bytes(100)
    assert k.kmalloc_array(1 << 33, 1 << 33, GFP_KERNEL) == 0  # overflows size_t
    assert k.kcalloc(1 << 62, 8, GFP_KERNEL) == 0


def test_krealloc_in_place_copy_and_edge_cases(k: kmemsim.Kernel) -> None:
    p = k.kmalloc(20, GFP_KERNEL)
    k.write(p, b"0123456789abcdefghij")
    assert k.krealloc(p, 30, GFP_KERNEL) == p  # still fits kmalloc-32
    q = k.krealloc(p, 100, GFP_KERNEL)
    assert q != p and k.ksize(q) == 128
    assert k.read(q, 20) == b"0123456789abcdefghij"
    r = k.krealloc(0, 50, GFP_KERNEL)
    assert k.ksize(r) == 64
    assert k.krealloc(r, 0, GFP_KERNEL) == ZERO_SIZE_PTR
    big = k.krealloc(q, 20000, GFP_KERNEL)
    assert k.ksize(big) == 32768 and k.read(big, 20) == b"0123456789abcdefghij"
    k.kfree(big)


def test_kfree_sensitive_kmemdup_kstrdup(k: kmemsim.Kernel) -> None:
    p = k.kstrdup("hello, slab", GFP_KERNEL)
    assert k.ksize(p) == 16 and k.read(p, 12) == b"hello, slab\0"
    d = k.kmemdup(p, 12, GFP_KERNEL)
    assert k.read(d, 12) == b"hello, slab\0"
    assert k.read(k.kstrdup(p, GFP_KERNEL), 12) == b"hello, slab\0"
    k.kfree_sensitive(d)
    assert k.read(d, 16)[:8] == bytes(8)  # cleared (the free pointer sits mid-object)


def test_the_free_pointer_lives_inside_the_free_object(k: kmemsim.Kernel) -> None:
    """A write after free corrupts the freelist: the kernel then hands out that address."""
    a = k.kmalloc(64, GFP_KERNEL)
    b = k.kmalloc(64, GFP_KERNEL)
    k.kfree(b)
    k.kfree(a)
    # kmalloc-64: free pointer at offset 32; a's points to b.
    assert int.from_bytes(k.read(a + 32, 8), "little") == b
    victim = k.kmalloc(64, GFP_KERNEL_ACCOUNT := kmemsim.GFP_KERNEL_ACCOUNT)
    k.kfree(victim)  # an object of another cache
    k.write(a + 32, victim.to_bytes(8, "little"))  # use after free
    assert k.kmalloc(64, GFP_KERNEL) == a
    assert k.kmalloc(64, GFP_KERNEL) == victim  # the corrupted pointer
    assert GFP_KERNEL_ACCOUNT


def test_hardened_freelist_obfuscates_the_stored_pointer() -> None:
    k = kmemsim.boot("linux-6.18-x86_64", config={"SLAB_FREELIST_HARDENED": "y"})
    a = k.kmalloc(64, GFP_KERNEL)
    b = k.kmalloc(64, GFP_KERNEL)
    k.kfree(b)
    k.kfree(a)
    assert int.from_bytes(k.read(a + 32, 8), "little") != b
    assert k.kmalloc(64, GFP_KERNEL) == a
    assert k.kmalloc(64, GFP_KERNEL) == b


def test_cache_create_merge_and_aliases(k: kmemsim.Kernel) -> None:
    a = k.kmem_cache_create("drv_a", 100, 0, 0, None)
    aliases = int(k.cat("/sys/kernel/slab/drv_a/aliases"))
    b = k.kmem_cache_create("drv_b", 100, 0, 0, None)
    assert a is b
    assert k.fs.readlink("/sys/kernel/slab/drv_b") == ":0000104"
    assert int(k.cat("/sys/kernel/slab/drv_a/aliases")) == aliases + 1
    c = k.kmem_cache_create("drv_c", 100, 0, kmemsim.SLAB_NO_MERGE, None)
    assert c is not a and k.fs.readlink("/sys/kernel/slab/drv_c") is None
    d = k.kmem_cache_create("drv_d", 100, 0, kmemsim.SLAB_ACCOUNT, None)
    assert d is not a and k.fs.readlink("/sys/kernel/slab/drv_d") == ":A-0000104"
    assert k.slab.find_cache("drv_b") is a


def test_ctor_runs_for_every_object_of_a_new_slab(k: kmemsim.Kernel) -> None:
    seen: list[int] = []

    def ctor(addr: int) -> None:
        seen.append(addr)
        k.write(addr, b"\x42" * 8)

    s = k.kmem_cache_create("ctor_cache", 200, 0, kmemsim.SLAB_HWCACHE_ALIGN, ctor)
    obj = k.kmem_cache_alloc(s, GFP_KERNEL)
    assert len(seen) == s.oo_objects == int(k.cat("/sys/kernel/slab/ctor_cache/objs_per_slab"))
    assert k.read(obj, 8) == b"\x42" * 8  # the free pointer is outside the object
    assert s.offset == 200
    assert k.cat("/sys/kernel/slab/ctor_cache/ctor").startswith("ctor+0x0/")


def test_slabinfo_has_the_real_layout_for_the_kmalloc_caches(
    k: kmemsim.Kernel, shared_data: Path
) -> None:
    real = (shared_data / "proc-slabinfo.txt").read_text().splitlines()
    ours = k.cat("/proc/slabinfo").splitlines()
    assert ours[:2] == real[:2]
    real_by_name = {ln.split()[0]: ln for ln in real[2:]}
    ours_by_name = {ln.split()[0]: ln for ln in ours[2:]}

    def ends(line: str) -> list[int]:  # right-aligned columns end where the kernel's do
        return [m.end() for m in re.finditer(r"\S+", line)]

    compared = 0
    for name, line in real_by_name.items():
        if name in ours_by_name:
            mine = ours_by_name[name]
            assert mine.split()[3:6] == line.split()[3:6], name  # objsize objperslab pages
            assert ends(mine) == ends(line), (mine, line)
            compared += 1
    assert compared >= 10


def test_sysfs_counts_follow_allocations(k: kmemsim.Kernel) -> None:
    s = k.kmem_cache_create("counted", 512, 0, kmemsim.SLAB_NO_MERGE, None)
    objs = [k.kmem_cache_alloc(s, GFP_KERNEL) for _ in range(20)]
    assert k.cat("/sys/kernel/slab/counted/slabs") == "2 N0=2\n"
    assert k.cat("/sys/kernel/slab/counted/total_objects") == "32 N0=32\n"
    assert k.cat("/sys/kernel/slab/counted/objects") == "32 N0=32\n"  # CPU slab counts as used
    for o in objs:
        k.kmem_cache_free(s, o)
    assert k.kmem_cache_shrink(s) == 0
    assert k.cat("/sys/kernel/slab/counted/slabs") == "0\n"


def test_remote_free_goes_to_the_slab_freelist(k: kmemsim.Kernel) -> None:
    s = k.kmem_cache_create("remote", 128, 0, kmemsim.SLAB_NO_MERGE, None)
    with k.sched.on_cpu(0):
        a = k.kmem_cache_alloc(s, GFP_KERNEL)
    with k.sched.on_cpu(1):
        k.kmem_cache_free(s, a)
        b = k.kmem_cache_alloc(s, GFP_KERNEL)
    assert b != a  # CPU 1 has its own slab
    slab = k.slab.slab_of_pfn[k.direct_map.virt_to_pfn(a)]
    assert slab.freelist == a and slab.frozen  # still CPU 0's slab
    with k.sched.on_cpu(0):
        # CPU 0's lockless freelist runs dry, then it takes the remote frees.
        got = {k.kmem_cache_alloc(s, GFP_KERNEL) for _ in range(s.oo_objects)}
    assert a in got


def test_sleeping_allocation_in_atomic_context_is_reported(k: kmemsim.Kernel) -> None:
    with k.irq_context():
        assert k.kmalloc(32, GFP_ATOMIC)
        assert "sleeping function called from invalid context" not in k.dmesg()
        k.kmalloc(32, GFP_KERNEL)
    assert "BUG: sleeping function called from invalid context" in k.dmesg()


def test_kfree_of_a_pointer_kmalloc_never_returned(k: kmemsim.Kernel) -> None:
    page = k.get_free_page(GFP_KERNEL)
    k.kfree(page)
    log = k.dmesg()
    assert "WARNING: CPU: 0" in log and "free_large_kmalloc" in log
    assert "page dumped because: Not a kmalloc allocation" in log


def test_unknown_cache_name_is_not_invented(k: kmemsim.Kernel) -> None:
    from kmemsim.mm.slab_boot import kmem_cache_create_known

    assert kmem_cache_create_known(k, "no_such_cache_anywhere") is None


def test_slub_tiny_has_no_cpu_slabs_no_rcl_caches_and_order_up_to_1() -> None:
    k = kmemsim.boot("linux-6.18-x86_64", config={"SLUB_TINY": "y"})
    line = next(ln for ln in k.dmesg().splitlines() if "SLUB: " in ln)
    assert "Order=0-1," in line
    assert k.cat("/sys/kernel/slab/kmalloc-8k/order") == "1\n"
    assert k.cat("/sys/kernel/slab/kmalloc-64/cpu_partial") == "0\n"
    assert not k.fs.exists("/sys/kernel/slab/kmalloc-rcl-64/order")
    a = k.kmalloc(100, GFP_KERNEL | kmemsim.__GFP_RECLAIMABLE)
    assert _cache_of(k, a) == "kmalloc-128"
    s = k.kmem_cache_create("tiny", 64, 0, 0, None)
    objs = [k.kmem_cache_alloc(s, GFP_KERNEL) for _ in range(200)]
    assert all(c.slab is None for c in s.cpu_slab)
    for o in objs:
        k.kmem_cache_free(s, o)
    assert k.kmem_cache_shrink(s) == 0


@pytest.mark.parametrize(
    ("cache_flags", "size", "caller", "first_try"),
    [
        # Real mm_page_alloc lines of trace-tar-extract / trace-python-import:
        # a reclaimable order-2 cache under GFP_NOFS: no reclaim, no reserves at oo order.
        (
            "SLAB_RECLAIM_ACCOUNT",
            1000,
            "GFP_NOFS",
            "__GFP_RECLAIMABLE|__GFP_IO|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP|__GFP_NOMEMALLOC",
        ),
        # an order-0 cache keeps the caller's reclaim bits.
        (
            "SLAB_RECLAIM_ACCOUNT",
            104,
            "GFP_NOFS",
            "GFP_NOFS|__GFP_RECLAIMABLE|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP",
        ),
        ("0", 100, "GFP_KERNEL", "GFP_KERNEL|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP"),
        (
            "SLAB_RECLAIM_ACCOUNT",
            100,
            "GFP_NOWAIT",
            "GFP_NOWAIT|__GFP_RECLAIMABLE|__GFP_NORETRY|__GFP_COMP",
        ),
    ],
)
def test_new_slab_gfp_is_what_allocate_slab_computes(
    k: kmemsim.Kernel, cache_flags: str, size: int, caller: str, first_try: str
) -> None:
    from kmemsim.include.linux.gfp_types import show_gfp_flags

    flags = 0 if cache_flags == "0" else int(getattr(kmemsim, cache_flags))
    s = k.kmem_cache_create("gfp_probe", size, 0, flags | kmemsim.SLAB_NO_MERGE, None)
    calls: list[tuple[int, int]] = []
    # The page allocator's post_alloc_hook() sees the GFP mask of each allocation (a
    # hook point rather than a patched method: the compiled model's cannot be patched).
    k.page_alloc.register_post_alloc_hook(lambda page, order, gfp: calls.append((gfp, order)))
    assert k.kmem_cache_alloc(s, int(getattr(kmemsim, caller)) | kmemsim.__GFP_ZERO)
    assert calls and calls[0][1] == s.oo_order
    assert show_gfp_flags(calls[0][0]) == first_try


def test_cpu_partial_list_spills_to_the_node_at_cpu_partial_slabs(k: kmemsim.Kernel) -> None:
    """put_cpu_partial(): 120 objects of 64 bytes -> 4 slabs; a fifth moves them to the node."""
    s = k.kmem_cache_create("spill", 64, 0, kmemsim.SLAB_NO_MERGE, None)
    assert s.cpu_partial_slabs == 4
    objs = [k.kmem_cache_alloc(s, GFP_KERNEL) for _ in range(64 * 6)]
    for obj in objs[::2]:  # one free into each full slab puts it on the CPU partial list
        k.kmem_cache_free(s, obj)
    assert k.cat("/sys/kernel/slab/spill/slabs_cpu_partial") == "32(1) C0=32(1)\n"
    assert k.cat("/sys/kernel/slab/spill/partial") == "4 N0=4\n"
    assert k.cat("/sys/kernel/slab/spill/cpu_slabs") == "2 N0=2\n"  # the CPU slab + 1 partial


def test_arm32_kmalloc_starts_at_the_dma_alignment() -> None:
    """ARM32: ARCH_DMA_MINALIGN = 64, so KMALLOC_MIN_SIZE = 64 and no kmalloc-96."""
    k = kmemsim.boot("beaglebone-black")
    assert k.ksize(k.kmalloc(1, GFP_KERNEL)) == 64
    assert k.ksize(k.kmalloc(65, GFP_KERNEL)) == 128  # size_index[] sends 65..96 to 128
    assert k.ksize(k.kmalloc(130, GFP_KERNEL)) == 192
    names = {ln.split()[0] for ln in k.cat("/proc/slabinfo").splitlines()[2:]}
    assert "kmalloc-64" in names and "kmalloc-96" not in names and "kmalloc-8" not in names


def test_hardened_freelist_catches_the_naive_double_free() -> None:
    from kmemsim.errors import Oops

    k = kmemsim.boot("linux-6.18-x86_64", config={"SLAB_FREELIST_HARDENED": "y"})
    a = k.kmalloc(64, GFP_KERNEL)
    k.kfree(a)
    with pytest.raises(Oops):
        k.kfree(a)
    assert "kernel BUG at mm/slub.c!" in k.dmesg()


def test_plain_double_free_corrupts_the_freelist_as_in_the_kernel(k: kmemsim.Kernel) -> None:
    a = k.kmalloc(64, GFP_KERNEL)
    k.kfree(a)
    k.kfree(a)  # no check without debugging or hardening: a now points to itself
    assert k.kmalloc(64, GFP_KERNEL) == a
    assert k.kmalloc(64, GFP_KERNEL) == a  # handed out twice


def test_kmem_cache_create_failures(k: kmemsim.Kernel) -> None:
    from kmemsim.errors import Oops

    assert k.kmem_cache_create("", 64, 0, 0, None) is None
    assert "kmem_cache_create() integrity check failed" in k.dmesg()
    assert "__kmem_cache_create_args() failed with error -22" in k.dmesg()
    assert k.kmem_cache_create("huge", KMALLOC_MAX_SIZE + 1, 0, 0, None) is None
    with k.irq_context():
        assert k.kmem_cache_create("in_irq", 64, 0, 0, None) is None
    with pytest.raises(Oops):
        k.kmem_cache_create("must", KMALLOC_MAX_SIZE + 1, 0, kmemsim.SLAB_PANIC, None)
    assert (
        "Kernel panic - not syncing: __kmem_cache_create_args: Failed to create slab "
        "'must'. Error -22" in k.dmesg()
    )


def test_shrink_frees_empty_slabs_and_promotes_the_fullest(k: kmemsim.Kernel) -> None:
    s = k.kmem_cache_create("shrinkme", 256, 0, kmemsim.SLAB_NO_MERGE, None)
    per = s.oo_objects  # 16
    objs = [k.kmem_cache_alloc(s, GFP_KERNEL) for _ in range(per * 8)]
    slabs = [objs[i * per : (i + 1) * per] for i in range(8)]
    for obj in slabs[0] + slabs[1] + slabs[2][:3] + slabs[3][:10]:
        k.kmem_cache_free(s, obj)
    k.kmem_cache_shrink(s)
    partial = list(s.node.partial)
    assert [sl.objects - sl.inuse for sl in partial] == [3, 10]  # fullest first
    assert int(k.cat("/sys/kernel/slab/shrinkme/slabs").split()[0]) == 6  # 2 empty gone


def test_slabinfo_lists_the_kmalloc_caches_in_the_real_order(
    k: kmemsim.Kernel, shared_data: Path
) -> None:
    lines = (shared_data / "proc-slabinfo.txt").read_text().splitlines()[2:]
    real = [ln.split()[0] for ln in lines]
    ours = [ln.split()[0] for ln in k.cat("/proc/slabinfo").splitlines()[2:]]
    real_kmalloc = [n for n in real if "kmalloc" in n]
    assert [n for n in ours if n in real_kmalloc] == real_kmalloc


def test_kmem_buckets_match_the_real_msg_msg_caches(k: kmemsim.Kernel, shared_data: Path) -> None:
    import json

    real = {e["name"]: e for e in json.loads((shared_data / "slab_caches.json").read_text())}
    # ipc/msgutil.c: kmem_buckets_create("msg_msg", SLAB_ACCOUNT, sizeof(struct msg_msg),
    # DATALEN_MSG, NULL) with sizeof(struct msg_msg) = 48.
    b = k.slab.kmem_buckets_create("msg_msg", kmemsim.SLAB_ACCOUNT, 48, 4096 - 48)
    assert b is not None
    for name, e in real.items():
        if not name.startswith("msg_msg-"):
            continue
        for attr in (
            "object_size",
            "slab_size",
            "order",
            "objs_per_slab",
            "align",
            "usersize",
            "cpu_partial",
            "min_partial",
        ):
            assert int(k.cat(f"/sys/kernel/slab/{name}/{attr}")) == e[attr], (name, attr)
    p = k.slab.kmem_buckets_alloc(b, 100, GFP_KERNEL)
    assert _cache_of(k, p) == "msg_msg-128"
    k.kfree(p)


def test_kmalloc_size_roundup_and_bulk(k: kmemsim.Kernel) -> None:
    assert [k.slab.kmalloc_size_roundup(n) for n in (0, 1, 65, 100, 8193)] == [0, 8, 96, 128, 16384]
    s = k.kmem_cache_create("bulk", 48, 0, kmemsim.SLAB_NO_MERGE, None)
    objs = k.slab.kmem_cache_alloc_bulk(s, GFP_KERNEL, 100)
    assert len(set(objs)) == 100
    k.slab.kmem_cache_free_bulk(s, objs)
    assert k.kmem_cache_shrink(s) == 0


def test_a_wild_free_pointer_oopses_when_the_allocator_follows_it(k: kmemsim.Kernel) -> None:
    from kmemsim.errors import Oops

    a = k.kmalloc(64, GFP_KERNEL)
    k.kfree(a)
    k.write(a + 32, b"A" * 8)  # use after free over the free pointer
    assert k.kmalloc(64, GFP_KERNEL) == a  # the CPU freelist now holds 0x4141414141414141
    with pytest.raises(Oops):
        k.kmalloc(64, GFP_KERNEL)  # popping it reads its free pointer: the kernel dies
    assert (
        "general protection fault, probably for non-canonical address 0x4141414141414161"
        in k.dmesg()
    )


def test_kmem_cache_free_to_the_wrong_cache(k: kmemsim.Kernel) -> None:
    a = k.kmem_cache_create("cache_a", 64, 0, kmemsim.SLAB_NO_MERGE, None)
    b = k.kmem_cache_create("cache_b", 64, 0, kmemsim.SLAB_NO_MERGE, None)
    obj = k.kmem_cache_alloc(a, GFP_KERNEL)
    k.kmem_cache_free(b, obj)
    assert "cache_from_obj: Wrong slab cache. cache_b but object is from cache_a" in k.dmesg()
    assert k.kmem_cache_alloc(a, GFP_KERNEL) == obj  # it went back to its own cache
    k.kmem_cache_free(b, k.get_free_page(GFP_KERNEL))
    assert "virt_to_cache: Object is not a Slab page!" in k.dmesg()
