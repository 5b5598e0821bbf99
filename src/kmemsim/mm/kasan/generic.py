"""Model of mm/kasan/generic.c: the per-object metadata of generic KASAN and the slab geometry.

kasan_cache_create() grows every cache's objects when KASAN is on: after the
object, its free pointer and SLUB's tracking come struct kasan_alloc_meta
(the allocation track, pid and stack depot handle, and two auxiliary
stacks: 16 bytes), and struct kasan_free_meta (the quarantine link and the
free track: 16 bytes) goes inside the freed object unless the object must
keep its bytes while free (SLAB_TYPESAFE_BY_RCU, a constructor) or is too
small, in which case it follows the alloc meta (or, without slub_debug,
shares the object's bytes and the rest of the redzone). Then the object is
given at least its optimal_redzone() of room. Those bytes live in simulated
memory like the object's, and the reports read the tracks back from there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kmemsim.mm.slab import KmemCache

KASAN_ALLOC_META_SIZE = 16  # struct kasan_alloc_meta: kasan_track + aux_stack[2]
KASAN_FREE_META_SIZE = 16  # struct kasan_free_meta: qlist_node + kasan_track
KASAN_NO_FREE_META = 0x7FFFFFFF  # INT_MAX
KMALLOC_MAX_SIZE = 1 << 22


def optimal_redzone(object_size: int) -> int:
    """generic.c optimal_redzone(): more room after bigger objects.

    >>> optimal_redzone(8), optimal_redzone(100), optimal_redzone(4000)
    (16, 32, 128)
    """
    if object_size <= 64 - 16:
        return 16
    if object_size <= 128 - 32:
        return 32
    if object_size <= 512 - 64:
        return 64
    if object_size <= 4096 - 128:
        return 128
    if object_size <= (1 << 14) - 256:
        return 256
    if object_size <= (1 << 15) - 512:
        return 512
    if object_size <= (1 << 16) - 1024:
        return 1024
    return 2048


def kasan_cache_create(s: KmemCache, size: int, slub_debug: bool) -> tuple[int, int, int]:
    """kasan_cache_create(): (new size, alloc_meta_offset, free_meta_offset) of cache `s`.

    `size` is the layout so far (object, free pointer, tracking); an
    alloc_meta_offset of 0 means no alloc meta, a free_meta_offset of
    KASAN_NO_FREE_META no free meta.
    """
    from kmemsim.include.linux.slab import SLAB_TYPESAFE_BY_RCU

    ok_size = size
    alloc_off = size
    size += KASAN_ALLOC_META_SIZE
    if size > KMALLOC_MAX_SIZE:
        alloc_off, size = 0, ok_size
    ok_size = size
    free_off = 0
    if (s.flags & SLAB_TYPESAFE_BY_RCU) or s.ctor is not None:
        free_off = size
        size += KASAN_FREE_META_SIZE
    elif s.object_size >= KASAN_FREE_META_SIZE:
        pass  # inside the freed object
    elif not slub_debug:
        rem = KASAN_FREE_META_SIZE - s.object_size
        size += rem
        if alloc_off:
            alloc_off += rem
    else:
        free_off = size
        size += KASAN_FREE_META_SIZE
    if size > KMALLOC_MAX_SIZE:
        free_off, size = KASAN_NO_FREE_META, ok_size
    optimal = min(s.object_size + optimal_redzone(s.object_size), KMALLOC_MAX_SIZE)
    return max(size, optimal), alloc_off, free_off
