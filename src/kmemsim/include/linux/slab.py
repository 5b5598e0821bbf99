"""Model of include/linux/slab.h (Linux 6.18): SLAB_* cache flags and kmalloc constants.

Since 6.9 the slab flags are bits of `enum _slab_flag_bits`, numbered in
declaration order; a flag whose feature is not configured is 0
(`__SLAB_FLAG_UNUSED`) and takes no bit. The numbering here is that of the
captured 6.18 x86_64 kernel's configuration: CONFIG_MEMCG=y (SLAB_ACCOUNT has a
bit), CONFIG_SLAB_OBJ_EXT=y, no CONFIG_DEBUG_OBJECTS, CONFIG_FAILSLAB,
CONFIG_KASAN_GENERIC or CONFIG_KFENCE (those flags are 0).

The kmalloc constants are those of SLUB with 4 KiB pages and
MAX_PAGE_ORDER = 10: size classes from 8 bytes (KMALLOC_SHIFT_LOW) to 8 KiB
(KMALLOC_SHIFT_HIGH = PAGE_SHIFT + 1), larger requests go to the page
allocator up to 4 MiB (KMALLOC_SHIFT_MAX = MAX_PAGE_ORDER + PAGE_SHIFT).
"""

from __future__ import annotations

import enum
from typing import Any

from kmemsim.include.linux.export import EXPORT_SYMBOL


class SlabFlags(enum.IntFlag):
    """slab_flags_t bits of include/linux/slab.h (enum _slab_flag_bits, Linux 6.18)."""

    CONSISTENCY_CHECKS = 1 << 0
    RED_ZONE = 1 << 1
    POISON = 1 << 2
    KMALLOC = 1 << 3
    HWCACHE_ALIGN = 1 << 4
    CACHE_DMA = 1 << 5
    CACHE_DMA32 = 1 << 6
    STORE_USER = 1 << 7
    PANIC = 1 << 8
    TYPESAFE_BY_RCU = 1 << 9
    TRACE = 1 << 10
    NOLEAKTRACE = 1 << 11
    NO_MERGE = 1 << 12
    ACCOUNT = 1 << 13
    NO_USER_FLAGS = 1 << 14
    RECLAIM_ACCOUNT = 1 << 15
    OBJECT_POISON = 1 << 16
    CMPXCHG_DOUBLE = 1 << 17
    NO_OBJ_EXT = 1 << 18


SLAB_CONSISTENCY_CHECKS = SlabFlags.CONSISTENCY_CHECKS
SLAB_RED_ZONE = SlabFlags.RED_ZONE
SLAB_POISON = SlabFlags.POISON
SLAB_KMALLOC = SlabFlags.KMALLOC
SLAB_HWCACHE_ALIGN = SlabFlags.HWCACHE_ALIGN
SLAB_CACHE_DMA = SlabFlags.CACHE_DMA
SLAB_CACHE_DMA32 = SlabFlags.CACHE_DMA32
SLAB_STORE_USER = SlabFlags.STORE_USER
SLAB_PANIC = SlabFlags.PANIC
SLAB_TYPESAFE_BY_RCU = SlabFlags.TYPESAFE_BY_RCU
SLAB_TRACE = SlabFlags.TRACE
SLAB_NOLEAKTRACE = SlabFlags.NOLEAKTRACE
SLAB_NO_MERGE = SlabFlags.NO_MERGE
SLAB_ACCOUNT = SlabFlags.ACCOUNT
SLAB_NO_USER_FLAGS = SlabFlags.NO_USER_FLAGS
SLAB_RECLAIM_ACCOUNT = SlabFlags.RECLAIM_ACCOUNT
SLAB_TEMPORARY = SlabFlags.RECLAIM_ACCOUNT
SLAB_NO_OBJ_EXT = SlabFlags.NO_OBJ_EXT
# Not configured in the captured kernel: __SLAB_FLAG_UNUSED.
SLAB_DEBUG_OBJECTS = SlabFlags(0)
SLAB_FAILSLAB = SlabFlags(0)
SLAB_KASAN = SlabFlags(0)
SLAB_SKIP_KFENCE = SlabFlags(0)
# Internal SLUB flags of mm/slub.c.
__OBJECT_POISON = SlabFlags.OBJECT_POISON
__CMPXCHG_DOUBLE = SlabFlags.CMPXCHG_DOUBLE

# mm/slab.h: flags whose caches never merge, and flags merged caches must share.
SLAB_NEVER_MERGE = (
    SLAB_RED_ZONE
    | SLAB_POISON
    | SLAB_STORE_USER
    | SLAB_TRACE
    | SLAB_TYPESAFE_BY_RCU
    | SLAB_NOLEAKTRACE
    | SLAB_FAILSLAB
    | SLAB_NO_MERGE
    | SLAB_KASAN
)
SLAB_MERGE_SAME = SLAB_RECLAIM_ACCOUNT | SLAB_CACHE_DMA | SLAB_CACHE_DMA32 | SLAB_ACCOUNT
# mm/slab.h: the debug flags SLUB honours (slub_debug letters F Z P U T).
SLAB_DEBUG_FLAGS = (
    SLAB_RED_ZONE | SLAB_POISON | SLAB_STORE_USER | SLAB_TRACE | SLAB_CONSISTENCY_CHECKS
)

# include/linux/slab.h: kmalloc geometry for SLUB, 4 KiB pages, MAX_PAGE_ORDER 10 (x86_64).
PAGE_SHIFT = 12
ARCH_KMALLOC_MINALIGN = 8  # __alignof__(unsigned long long)
ARCH_SLAB_MINALIGN = 8
KMALLOC_SHIFT_LOW = 3
KMALLOC_SHIFT_HIGH = PAGE_SHIFT + 1
KMALLOC_SHIFT_MAX = 10 + PAGE_SHIFT
KMALLOC_MIN_SIZE = 1 << KMALLOC_SHIFT_LOW
KMALLOC_MAX_CACHE_SIZE = 1 << KMALLOC_SHIFT_HIGH
KMALLOC_MAX_SIZE = 1 << KMALLOC_SHIFT_MAX
KMALLOC_MAX_ORDER = KMALLOC_SHIFT_MAX - PAGE_SHIFT
SLAB_OBJ_MIN_SIZE = min(KMALLOC_MIN_SIZE, 16)

# ZERO_SIZE_PTR: what kmalloc(0) returns; kfree() ignores it like NULL.
ZERO_SIZE_PTR = 16


def ZERO_OR_NULL_PTR(x: int) -> bool:
    """ZERO_OR_NULL_PTR(): NULL or ZERO_SIZE_PTR."""
    return x <= ZERO_SIZE_PTR


class KmallocCacheType(enum.IntEnum):
    """enum kmalloc_cache_type with CONFIG_ZONE_DMA, CONFIG_MEMCG, no RANDOM_KMALLOC_CACHES."""

    KMALLOC_NORMAL = 0
    KMALLOC_RECLAIM = 1
    KMALLOC_DMA = 2
    KMALLOC_CGROUP = 3


KMALLOC_NORMAL = KmallocCacheType.KMALLOC_NORMAL
KMALLOC_RECLAIM = KmallocCacheType.KMALLOC_RECLAIM
KMALLOC_DMA = KmallocCacheType.KMALLOC_DMA
KMALLOC_CGROUP = KmallocCacheType.KMALLOC_CGROUP
NR_KMALLOC_TYPES = 4

# mm/slab_common.c kmalloc_info[]: the name prefix of each kmalloc cache type.
KMALLOC_TYPE_PREFIX: dict[int, str] = {
    KMALLOC_NORMAL: "kmalloc-",
    KMALLOC_RECLAIM: "kmalloc-rcl-",
    KMALLOC_DMA: "dma-kmalloc-",
    KMALLOC_CGROUP: "kmalloc-cg-",
}

# CONFIG_RANDOM_KMALLOC_CACHES: copies of the normal kmalloc caches besides kmalloc-*.
RANDOM_KMALLOC_CACHES_NR = 15
# include/linux/hash.h
GOLDEN_RATIO_64 = 0x61C8864680B583EB
_U64 = (1 << 64) - 1


def hash_64(val: int, bits: int) -> int:
    """include/linux/hash.h hash_64(): the top `bits` bits of val * GOLDEN_RATIO_64."""
    return ((val * GOLDEN_RATIO_64) & _U64) >> (64 - bits)


class KmallocTypes:
    """enum kmalloc_cache_type as a configuration numbers it (include/linux/slab.h).

    KMALLOC_NORMAL is 0; with RANDOM_KMALLOC_CACHES the 15 random copies
    follow it (KMALLOC_RANDOM_START + 1 .. KMALLOC_RANDOM_END); then
    KMALLOC_RECLAIM (KMALLOC_NORMAL under SLUB_TINY), KMALLOC_DMA with
    ZONE_DMA and KMALLOC_CGROUP with MEMCG; a type that is not configured is
    KMALLOC_NORMAL. `prefix[type]` is the kmalloc_info[] name prefix.
    """

    def __init__(self, *, random: bool, slub_tiny: bool, zone_dma: bool, memcg: bool) -> None:
        self.random_nr = RANDOM_KMALLOC_CACHES_NR if random else 0
        self.normal = 0
        self.random_start = 0
        self.random_end = self.random_start + self.random_nr
        nxt = self.random_end + 1
        self.reclaim = self.normal if slub_tiny else nxt
        nxt += 0 if slub_tiny else 1
        self.dma = nxt if zone_dma else self.normal
        nxt += 1 if zone_dma else 0
        self.cgroup = nxt if memcg else self.normal
        nxt += 1 if memcg else 0
        self.nr = nxt
        self.prefix: dict[int, str] = {self.normal: "kmalloc-"}
        for i in range(1, self.random_nr + 1):
            self.prefix[self.random_start + i] = f"kmalloc-rnd-{i:02d}-"
        if not slub_tiny:
            self.prefix[self.reclaim] = "kmalloc-rcl-"
        if zone_dma:
            self.prefix[self.dma] = "dma-kmalloc-"
        if memcg:
            self.prefix[self.cgroup] = "kmalloc-cg-"


# ---------------------------------------------------------------------- slab.h inlines
# The static inline helpers of include/linux/slab.h, bound onto the booted kernel by
# kmem_cache_init(): each calls the kernel's exported allocator, as the inline does.
SIZE_MAX = (1 << 64) - 1
_GFP_ZERO = 0x100  # __GFP_ZERO


@EXPORT_SYMBOL
def kzalloc(k: Any, size: int, flags: int) -> int:
    """kzalloc(): kmalloc() with __GFP_ZERO."""
    return int(k.kmalloc(size, int(flags) | _GFP_ZERO))


@EXPORT_SYMBOL
def kzalloc_node(k: Any, size: int, flags: int, node: int = -1) -> int:
    """kzalloc_node(): kmalloc_node() with __GFP_ZERO."""
    return int(k.kmalloc_node(size, int(flags) | _GFP_ZERO, node))


@EXPORT_SYMBOL
def kmalloc_array(k: Any, n: int, size: int, flags: int) -> int:
    """kmalloc_array(): NULL when n * size overflows size_t (check_mul_overflow())."""
    if n < 0 or size < 0 or n * size > SIZE_MAX:
        return 0
    return int(k.kmalloc(n * size, flags))


@EXPORT_SYMBOL
def kmalloc_array_node(k: Any, n: int, size: int, flags: int, node: int = -1) -> int:
    """kmalloc_array_node(): kmalloc_array() on a node."""
    if n < 0 or size < 0 or n * size > SIZE_MAX:
        return 0
    return int(k.kmalloc_node(n * size, flags, node))


@EXPORT_SYMBOL
def kcalloc(k: Any, n: int, size: int, flags: int) -> int:
    """kcalloc(): kmalloc_array() with __GFP_ZERO."""
    return kmalloc_array(k, n, size, int(flags) | _GFP_ZERO)


@EXPORT_SYMBOL
def kcalloc_node(k: Any, n: int, size: int, flags: int, node: int = -1) -> int:
    """kcalloc_node(): kmalloc_array_node() with __GFP_ZERO."""
    return kmalloc_array_node(k, n, size, int(flags) | _GFP_ZERO, node)


@EXPORT_SYMBOL
def kmem_cache_zalloc(k: Any, s: Any, flags: int) -> int:
    """kmem_cache_zalloc(): kmem_cache_alloc() with __GFP_ZERO."""
    return int(k.kmem_cache_alloc(s, int(flags) | _GFP_ZERO))


@EXPORT_SYMBOL
def kfree_bulk(k: Any, objs: list[int]) -> None:
    """kfree_bulk(): kmem_cache_free_bulk(NULL, ...) of kmalloc()ed objects."""
    k.kmem_cache_free_bulk(None, objs)
