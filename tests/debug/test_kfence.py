"""The cases of mm/kfence/kfence_test.c (Linux 6.18), re-expressed on kmemsim.

test_alloc() allocates until KFENCE samples an allocation that sits where
the case wants it (left or right edge of its page), sleeping one sample
interval between tries, as the kernel's test waits for the gate. Each case
expects the report type, access and function the kernel's case expects; the
"-memcache" variants allocate from a cache of their own ("test").
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

import kmemsim
from kmemsim import GFP_ATOMIC, GFP_KERNEL
from tests.debug.support import kasan_reports

INTERVAL = 100
GFP_ZERO = int(kmemsim.__GFP_ZERO)  # type: ignore[attr-defined]
_BUG = re.compile(r"BUG: KFENCE: (.+) in (\S+)")


class Case:
    """A kfence_test.c case's kernel and its test_cache (None: kmalloc)."""

    def __init__(self, memcache: bool) -> None:
        self.k = kmemsim.boot(
            "x86_64",
            mem="1G",
            cpus=2,
            config={"KFENCE": "y", "KFENCE_NUM_OBJECTS": "15", "kfence.sample_interval": INTERVAL},
        )
        self.memcache = memcache
        self.cache: object | None = None

    def setup_test_cache(
        self, size: int, flags: int = 0, ctor: Callable[[int], object] | None = None
    ) -> int:
        """setup_test_cache(): a cache "test" for the -memcache variants (or when needed)."""
        if not self.memcache and not flags and ctor is None:
            return size
        self.cache = self.k.kmem_cache_create("test", size, 1, flags, ctor)
        return size

    def test_alloc(self, size: int, gfp: int = GFP_KERNEL, policy: str = "any") -> int:
        k = self.k
        for _ in range(100):
            if policy != "none":
                k.msleep(INTERVAL)  # the gate opens once per sample interval
            if self.cache is not None:
                p = k.kmem_cache_alloc(self.cache, gfp)
            else:
                p = k.kmalloc(size, gfp)
            if policy == "none":
                if not k.is_kfence_address(p):
                    return int(p)
            elif k.is_kfence_address(p):
                left = p & 4095 == 0
                if policy == "any" or (policy == "left") == left:
                    return int(p)
            self.test_free(p)
        raise AssertionError("no KFENCE allocation")

    def test_free(self, p: int) -> None:
        if self.cache is not None:
            self.k.kmem_cache_free(self.cache, p)
        else:
            self.k.kfree(p)

    def reports(self, start: int) -> list[tuple[str, str]]:
        return [
            (m.group(1), m.group(2).split("+", 1)[0]) for m in _BUG.finditer(self.k.dmesg(start))
        ]


@pytest.fixture(params=[False, True], ids=["kmalloc", "memcache"])
def case(request: pytest.FixtureRequest) -> Case:
    return Case(bool(request.param))


def test_out_of_bounds_read(case: Case) -> None:
    k = case.k
    size = case.setup_test_cache(32)
    buf = case.test_alloc(size, policy="left")
    start = len(k.log)
    k.read(buf - 1, 1)
    assert case.reports(start) == [("out-of-bounds read", "test_out_of_bounds_read")]
    assert f"Out-of-bounds read at 0x{buf - 1:016x} (1B left of kfence-#" in k.dmesg(start)
    case.test_free(buf)
    buf = case.test_alloc(size, policy="right")
    start = len(k.log)
    k.read(buf + size, 1)
    assert case.reports(start) == [("out-of-bounds read", "test_out_of_bounds_read")]
    assert "(0B right of kfence-#" in k.dmesg(start)
    case.test_free(buf)


def test_out_of_bounds_write(case: Case) -> None:
    k = case.k
    size = case.setup_test_cache(32)
    buf = case.test_alloc(size, policy="left")
    start = len(k.log)
    k.write(buf - 1, b"\x2a")
    assert case.reports(start) == [("out-of-bounds write", "test_out_of_bounds_write")]
    case.test_free(buf)


def test_use_after_free_read(case: Case) -> None:
    k = case.k
    size = case.setup_test_cache(32)
    buf = case.test_alloc(size)
    case.test_free(buf)
    start = len(k.log)
    k.read(buf, 1)
    assert case.reports(start) == [("use-after-free read", "test_use_after_free_read")]
    assert "freed by task" in k.dmesg(start)


def test_double_free(case: Case) -> None:
    k = case.k
    size = case.setup_test_cache(32)
    buf = case.test_alloc(size)
    case.test_free(buf)
    start = len(k.log)
    case.test_free(buf)
    assert case.reports(start) == [("invalid free", "test_free")]
    assert f"Invalid free of 0x{buf:016x} (in kfence-#" in k.dmesg(start)


def test_invalid_addr_free(case: Case) -> None:
    k = case.k
    size = case.setup_test_cache(32)
    buf = case.test_alloc(size)
    start = len(k.log)
    case.test_free(buf + 1)
    assert case.reports(start) == [("invalid free", "test_free")]
    case.test_free(buf)


def test_corruption(case: Case) -> None:
    k = case.k
    size = case.setup_test_cache(32)
    buf = case.test_alloc(size, policy="left")
    k.write(buf + size, b"\x2a")  # the canary: no fault
    start = len(k.log)
    case.test_free(buf)
    assert case.reports(start) == [("memory corruption", "test_free")]
    assert f"Corrupted memory at 0x{buf + size:016x} [ ! . . . . . . . . . . . . . . . ]" in (
        k.dmesg(start)
    )
    buf = case.test_alloc(size, policy="right")
    k.write(buf - 1, b"\x2a")
    start = len(k.log)
    case.test_free(buf)
    assert case.reports(start) == [("memory corruption", "test_free")]
    assert f"Corrupted memory at 0x{buf - 1:016x} [ ! ]" in k.dmesg(start)


def test_kmalloc_aligned_oob_write() -> None:
    case = Case(False)
    k = case.k
    size = 73
    buf = case.test_alloc(size, policy="right")
    assert (buf + size) & 4095  # offset to the right: no guard page right after it
    start = len(k.log)
    k.write(buf + size, bytes([(k.read(buf + size, 1)[0] + 1) & 0xFF]))
    assert case.reports(start) == []
    case.test_free(buf)
    assert case.reports(start) == [("memory corruption", "test_free")]


def test_shrink_memcache() -> None:
    case = Case(True)
    k = case.k
    case.setup_test_cache(32)
    buf = case.test_alloc(32)
    start = len(k.log)
    k.kmem_cache_shrink(case.cache)
    case.test_free(buf)
    assert case.reports(start) == []


def test_memcache_ctor() -> None:
    case = Case(True)
    k = case.k
    case.setup_test_cache(32, 0, lambda obj: k.memset(obj, ord("x"), 8))
    buf = case.test_alloc(32)
    assert k.read(buf, 8) == b"x" * 8
    start = len(k.log)
    case.test_free(buf)
    assert case.reports(start) == []


def test_invalid_access() -> None:
    case = Case(False)
    k = case.k
    pool = k.kfence.start
    start = len(k.log)
    k.read(pool + 10, 1)
    assert case.reports(start) == [("invalid read", "test_invalid_access")]


def test_gfpzero() -> None:
    case = Case(False)
    k = case.k
    size = 4096
    buf1 = case.test_alloc(size)
    k.write(buf1, bytes((i + 1) & 0xFF for i in range(size)))
    case.test_free(buf1)
    for _ in range(16):
        buf = case.test_alloc(size, GFP_KERNEL | GFP_ZERO)
        if buf == buf1:
            break
        case.test_free(buf)
    assert buf == buf1  # the same object came back (the freelist is a FIFO)
    assert k.read(buf, size) == bytes(size)
    start = len(k.log)
    case.test_free(buf)
    assert case.reports(start) == []


def test_memcache_typesafe_by_rcu() -> None:
    case = Case(True)
    k = case.k
    case.setup_test_cache(32, kmemsim.SLAB_TYPESAFE_BY_RCU)
    addr = case.test_alloc(32)
    k.write(addr, b"\x2a")
    start = len(k.log)
    with k.rcu_read_lock():
        case.test_free(addr)
        assert k.read(addr, 1) == b"\x2a"
    assert case.reports(start) == []
    k.rcu_barrier()
    assert k.read(addr, 1) == b"\x2a"
    assert case.reports(start) == [("use-after-free read", "test_memcache_typesafe_by_rcu")]


def test_krealloc() -> None:
    case = Case(False)
    k = case.k
    size = 32
    addr = case.test_alloc(size)
    buf = addr
    assert k.ksize(buf) == size  # precise size after a KFENCE allocation
    k.write(buf, bytes(range(1, size + 1)))
    buf = k.krealloc(buf, size * 3, GFP_KERNEL)
    assert k.ksize(buf) >= size * 3
    assert k.read(buf, size) == bytes(range(1, size + 1))
    k.write(buf + size, bytes(range(size + 1, 3 * size + 1)))
    buf = k.krealloc(buf, size * 2, GFP_KERNEL)
    assert k.ksize(buf) >= size * 2
    assert k.read(buf, 2 * size) == bytes(range(1, 2 * size + 1))
    start = len(k.log)
    assert k.krealloc(buf, 0, GFP_KERNEL) == 16  # ZERO_SIZE_PTR
    assert case.reports(start) == []
    k.read(addr, 1)
    assert case.reports(start) == [("use-after-free read", "test_krealloc")]


def test_memcache_alloc_bulk() -> None:
    case = Case(True)
    k = case.k
    case.setup_test_cache(32)
    start = len(k.log)
    found = False
    for _ in range(100):
        k.msleep(INTERVAL)
        objs = k.kmem_cache_alloc_bulk(case.cache, GFP_ATOMIC, 100)
        found = any(k.is_kfence_address(p) for p in objs)
        k.kmem_cache_free_bulk(case.cache, objs)
        if found:
            break
    assert found
    assert case.reports(start) == []


def test_free_bulk() -> None:
    import random

    case = Case(True)
    k = case.k
    rng = random.Random(11)
    for it in range(5):
        size = rng.randint(8, 307)
        ctor = (lambda obj: k.memset(obj, ord("x"), 8)) if it & 1 and size >= 8 else None
        case.setup_test_cache(size, 0, ctor)
        objs = [
            case.test_alloc(size, policy="right"),
            case.test_alloc(size, policy="none"),
            case.test_alloc(size, policy="left"),
            case.test_alloc(size, policy="none"),
            case.test_alloc(size, policy="none"),
        ]
        start = len(k.log)
        k.kmem_cache_free_bulk(case.cache, objs)
        assert case.reports(start) == []
        k.kmem_cache_destroy(case.cache)
        case.cache = None


def test_stats_and_objects_files() -> None:
    case = Case(False)
    k = case.k
    buf = case.test_alloc(32)
    stats = k.cat("/sys/kernel/debug/kfence/stats")
    assert stats.startswith("enabled: 1\ncurrently allocated: 1\ntotal allocations: 1\n")
    objects = k.cat("/sys/kernel/debug/kfence/objects")
    assert f"0x{buf:016x}-0x{buf + 31:016x}, size=32, cache=kmalloc-32" in objects
    assert objects.count("---------------------------------") == 15
    assert "kfence-#14 unused" in objects or "size=32" in objects


def test_kasan_and_kfence_together_report_once() -> None:
    k = kmemsim.boot(
        "x86_64",
        mem="1G",
        config={"KFENCE": "y", "KFENCE_NUM_OBJECTS": "15", "KASAN": "y", "kasan_multi_shot": "y"},
    )
    for _ in range(50):
        k.msleep(INTERVAL)
        p = k.kmalloc(32, GFP_KERNEL)
        if k.is_kfence_address(p) and p & 4095 == 0:
            break
        k.kfree(p)
    start = len(k.log)
    k.read(p - 1, 1)
    assert "BUG: KFENCE: out-of-bounds read" in k.dmesg(start)
    assert kasan_reports(k.dmesg(start)) == []
