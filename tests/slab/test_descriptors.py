"""struct kmem_cache and struct kmem_cache_node are slab objects (mm/slab_common.c, mm/slub.c).

kmem_cache_init() creates kmem_cache_node and kmem_cache from static boot
descriptors, then bootstrap() copies both into objects of kmem_cache; from
then on create_cache() takes each new cache's descriptor with
kmem_cache_zalloc(kmem_cache) and init_kmem_cache_nodes() its node structure
from kmem_cache_node, a merged cache takes neither, and kmem_cache_release()
gives both back. The descriptors are linked on slab_caches through their
`list` member, in simulated memory, in the order of the cache list.
"""

from __future__ import annotations

import kmemsim
from kmemsim.include.linux.gfp_types import GFP_KERNEL
from kmemsim.mm.slab_common import KMEM_CACHE_LIST_OFFSET


def walk_slab_caches(k: kmemsim.Kernel) -> list[int]:
    """The descriptors on slab_caches, read from memory (list_for_each_entry)."""
    head = k.slab.slab_caches_head
    out = []
    node = k.address_space.read_ulong(head)
    while node != head:
        out.append(node - KMEM_CACHE_LIST_OFFSET)
        node = k.address_space.read_ulong(node)
    return out


def test_every_cache_has_its_descriptor_and_node_as_objects() -> None:
    k = kmemsim.boot("linux-6.18-x86_64")
    caches = k.slab.caches
    kc = k.slab.find_cache("kmem_cache")
    kn = k.slab.find_cache("kmem_cache_node")
    assert kc is not None and kn is not None
    assert all(c.addr and c.node_addr for c in caches)
    assert len({c.addr for c in caches}) == len(caches)
    assert kc.inuse_objects == len(caches) == kn.inuse_objects
    # bootstrap(): kmem_cache's own descriptor is the first object of kmem_cache.
    assert kc.addr < kn.addr
    assert walk_slab_caches(k) == [c.addr for c in caches]
    line = next(x for x in k.cat("/proc/slabinfo").splitlines() if x.startswith("kmem_cache "))
    active, total, objsize = (int(v) for v in line.split()[1:4])
    assert objsize == kc.size == 256
    assert len(caches) <= active <= total


def test_create_merge_and_destroy_take_and_give_back_descriptors() -> None:
    k = kmemsim.boot("x86_64", mem="256M")
    kc = k.slab.find_cache("kmem_cache")
    assert kc is not None
    first = k.kmem_cache_create("first_72", 72, 0, 0, None)
    before = kc.inuse_objects
    merged = k.kmem_cache_create("merges_into_first", 72, 0, 0, None)
    assert merged is first  # __kmem_cache_alias(): no new descriptor
    assert kc.inuse_objects == before
    own = k.kmem_cache_create("own_cache", 200, 0, 0, lambda addr: None)  # a ctor never merges
    assert own is not None and own.name == "own_cache"
    assert kc.inuse_objects == before + 1
    assert walk_slab_caches(k)[-1] == own.addr
    obj = k.kmem_cache_alloc(own, GFP_KERNEL)
    k.kmem_cache_free(own, obj)
    addr = own.addr
    k.kmem_cache_destroy(own)
    assert kc.inuse_objects == before
    assert addr not in walk_slab_caches(k)
    assert walk_slab_caches(k) == [c.addr for c in k.slab.caches]
