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
