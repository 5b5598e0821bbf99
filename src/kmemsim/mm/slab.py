"""Model of mm/slab.h: struct slab, struct kmem_cache and its per-CPU and per-node parts.

A `Slab` overlays the struct page of the block it was carved from (the head
page's `.slab` points to it). It holds the slab's own freelist (objects freed
while the slab is not some CPU's active slab), `inuse` and `frozen`, and its
links on the node's partial list, which is an intrusive doubly linked list
as the kernel's `slab_list` is, so that adding at the head or the tail and
removing from the middle cost O(1).

`KmemCache` is struct kmem_cache: the geometry calculate_sizes() computed
(object_size, size, offset of the free pointer, inuse, red_left_pad, the
preferred and minimum order with their object counts), the tuning
(min_partial, cpu_partial, cpu_partial_slabs), and one `KmemCacheCpu` per
possible CPU plus one `KmemCacheNode` (the model has one NUMA node).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from typing import Any

from mypy_extensions import mypyc_attr


class SlabState(enum.IntEnum):
    """enum slab_state of mm/slab.h (6.18): how far the slab allocator has come up.

    kmem_cache_init() moves it from DOWN to PARTIAL (kmem_cache_node exists),
    create_kmalloc_caches() to UP (kmalloc works: slab_is_available()), and
    slab_sysfs_init() to FULL (caches get their /sys/kernel/slab directory).
    """

    DOWN = 0
    PARTIAL = 1
    UP = 2
    FULL = 3


class Slab:
    """struct slab: one slab of a cache, carved from 2**order pages."""

    __slots__ = (
        "base",
        "cache",
        "freelist",
        "frozen",
        "inuse",
        "next",
        "objects",
        "on_partial",
        "order",
        "page",
        "pfn",
        "prev",
    )

    def __init__(
        self, cache: KmemCache, page: Any, pfn: int, base: int, order: int, objects: int
    ) -> None:
        self.cache = cache
        self.page = page
        self.pfn = pfn
        self.base = base  # slab_address(): the first byte of the slab
        self.order = order
        self.objects = objects
        self.inuse = 0
        self.freelist = 0
        self.frozen = False
        self.on_partial = False  # slab_test_node_partial()
        self.prev: Slab | None = None
        self.next: Slab | None = None

    def __repr__(self) -> str:
        return (
            f"<Slab {self.cache.name} pfn={self.pfn:#x} order={self.order} "
            f"inuse={self.inuse}/{self.objects}{' frozen' if self.frozen else ''}>"
        )


class PartialList:
    """The list_head of kmem_cache_node.partial: slabs with free objects, head first."""

    __slots__ = ("count", "head", "tail")

    def __init__(self) -> None:
        self.head: Slab | None = None
        self.tail: Slab | None = None
        self.count = 0

    def add_head(self, slab: Slab) -> None:
        slab.prev = None
        slab.next = self.head
        if self.head is not None:
            self.head.prev = slab
        else:
            self.tail = slab
        self.head = slab
        self.count += 1

    def add_tail(self, slab: Slab) -> None:
        slab.next = None
        slab.prev = self.tail
        if self.tail is not None:
            self.tail.next = slab
        else:
            self.head = slab
        self.tail = slab
        self.count += 1

    def remove(self, slab: Slab) -> None:
        if slab.prev is not None:
            slab.prev.next = slab.next
        else:
            self.head = slab.next
        if slab.next is not None:
            slab.next.prev = slab.prev
        else:
            self.tail = slab.prev
        slab.prev = slab.next = None
        self.count -= 1

    def __iter__(self) -> Iterator[Slab]:
        slab = self.head
        while slab is not None:
            nxt = slab.next
            yield slab
            slab = nxt

    def __len__(self) -> int:
        return self.count


class KmemCacheNode:
    """struct kmem_cache_node: the node's partial slabs and its slab/object counts."""

    __slots__ = ("full", "nr_pages", "nr_slabs", "partial", "total_objects")

    def __init__(self) -> None:
        self.partial = PartialList()
        # Full slabs of debug caches (the kernel keeps n->full for SLAB_STORE_USER caches).
        self.full: set[Slab] = set()
        self.nr_slabs = 0
        self.total_objects = 0
        self.nr_pages = 0

    @property
    def nr_partial(self) -> int:
        return self.partial.count


class KmemCacheCpu:
    """struct kmem_cache_cpu: the CPU's active slab, its lockless freelist, its partial slabs."""

    __slots__ = ("freelist", "partial", "slab")

    def __init__(self) -> None:
        self.freelist = 0
        self.slab: Slab | None = None
        # slub_percpu_partial(c): the most recently added slab is the last element.
        self.partial: list[Slab] = []
        # No transaction id (tid): nothing runs between a read of the freelist and
        # its update in the model, so there is no cmpxchg for it to protect.


class KmemCache:
    """struct kmem_cache (mm/slab.h) for SLUB."""

    __slots__ = (
        "addr",
        "aliases",
        "align",
        "allocflags",
        "cpu_partial",
        "cpu_partial_slabs",
        "cpu_slab",
        "ctor",
        "debug",
        "flags",
        "fp_inline",
        "freeptr_offset",
        "inuse",
        "inuse_objects",
        "is_kmalloc",
        "min_objects",
        "min_order",
        "min_partial",
        "name",
        "node",
        "node_addr",
        "object_size",
        "offset",
        "oo_objects",
        "oo_order",
        "random",
        "red_left_pad",
        "refcount",
        "size",
        "sysfs",
        "unique_id",
        "useroffset",
        "usersize",
        "zero_orig_size",
    )

    def __init__(
        self,
        name: str,
        object_size: int,
        align: int,
        flags: int,
        ctor: Callable[[int], Any] | None,
        useroffset: int = 0,
        usersize: int = 0,
        freeptr_offset: int | None = None,
    ) -> None:
        self.name = name
        # kmem_cache_args.freeptr_offset of a SLAB_TYPESAFE_BY_RCU cache (None: not given).
        self.freeptr_offset = freeptr_offset
        self.object_size = object_size
        self.size = object_size
        self.align = align
        self.flags = flags
        self.ctor = ctor
        self.useroffset = useroffset
        self.usersize = usersize
        self.offset = 0
        self.inuse = object_size
        self.red_left_pad = 0
        self.oo_order = 0
        self.oo_objects = 0
        self.min_order = 0
        self.min_objects = 0
        self.min_partial = 5
        self.cpu_partial = 0
        self.cpu_partial_slabs = 0
        self.allocflags = 0
        self.refcount = 1
        self.random = 0  # CONFIG_SLAB_FREELIST_HARDENED: the cache's secret
        self.debug = False  # kmem_cache_debug(s): any SLAB_DEBUG_FLAGS set
        self.is_kmalloc = False
        self.unique_id = ""
        self.aliases: list[str] = []  # names merged into this cache (sysfs links)
        # Objects allocated and not freed: slab_alloc_node() and slab_free() keep it.
        self.inuse_objects = 0
        self.fp_inline = False  # the fast paths access the free pointer in place
        self.zero_orig_size = False  # __GFP_ZERO clears the request size only
        self.sysfs = True  # has its /sys/kernel/slab directory (sysfs_slab_add() succeeded)
        self.cpu_slab: list[KmemCacheCpu] = []
        self.node = KmemCacheNode()
        # Where the descriptor and its node's struct kmem_cache_node live in simulated
        # memory: objects of the kmem_cache and kmem_cache_node caches (0: not allocated).
        self.addr = 0
        self.node_addr = 0

    def __repr__(self) -> str:
        return f"<kmem_cache {self.name} size={self.size} order={self.oo_order}>"


@mypyc_attr(allow_interpreted_subclasses=True)  # KASAN's, KFENCE's, a test's hooks
class SlabHooks:
    """The calls mm/slub.c makes into KASAN, KFENCE, kmemleak, KMSAN and failslab.

    A model of one of those subsystems subclasses this, overrides the calls it
    needs and is attached with `k.slab.attach_hooks(hooks)`. slab_alloc_node()
    and slab_free() (mm/slub.py) call the attached hooks where the kernel
    calls them; with none attached they cost one test of an empty tuple.
    Alloc hooks run in the order the hooks were attached, free hooks in the
    reverse order (mm/slub.c: kasan_slab_alloc() before kmemleak_alloc(),
    kmemleak_free() before kasan_slab_free()).

        slab_pre_alloc_hook():  should_failslab()
        slab_alloc_node():      kfence_alloc() before the fast path
        slab_post_alloc_hook(): kasan_slab_alloc(), kmemleak_alloc_recursive(),
                                kmsan_slab_alloc()             -> slab_post_alloc()
        __do_kmalloc_node():    kasan_kmalloc()                -> kmalloc()
        ___kmalloc_large_node(): kasan_kmalloc_large(), kmemleak_alloc(),
                                kmsan_kmalloc_large()          -> kmalloc_large()
        slab_free_hook():       kmemleak_free_recursive(), kmsan_slab_free(),
                                kasan_slab_free(); __slab_free()'s kfence_free()
                                                               -> slab_free()
        free_large_kmalloc():   kmemleak_free(), kasan_kfree_large(),
                                kmsan_kfree_large()            -> kfree_large()
    """

    def should_failslab(self, s: KmemCache, gfp: int) -> bool:
        """True fails the allocation (fault injection)."""
        return False

    def kfence_alloc(self, s: KmemCache, size: int, gfp: int) -> int:
        """An object from the hook's own pool (KFENCE), or 0 for the slab to serve it."""
        return 0

    def slab_post_alloc(self, s: KmemCache, obj: int, gfp: int, orig_size: int) -> None:
        """A new object of `s` (after its zeroing)."""

    def kmalloc(self, s: KmemCache, obj: int, size: int, gfp: int) -> None:
        """A kmalloc() of `size` bytes served by `s`."""

    def kmalloc_large(self, ptr: int, size: int, gfp: int) -> None:
        """A large kmalloc() served by whole pages."""

    def slab_free(self, s: KmemCache, slab: Slab, obj: int, after_rcu_delay: bool) -> bool:
        """An object about to be freed; True keeps it from its slab (a quarantine, KFENCE).

        `after_rcu_delay`: the free of a SLAB_TYPESAFE_BY_RCU object that
        SLUB_RCU_DEBUG delayed by a grace period (slab_free_after_rcu_debug()).
        """
        return False

    def kfree_large(self, ptr: int) -> None:
        """A large kmalloc's pages about to go back."""
