"""Model of mm/mempool.c: memory pools that keep a reserve of preallocated elements.

A mempool guarantees forward progress to a path that must not fail (block
I/O, writeback): it preallocates min_nr elements from an underlying
allocator (kmalloc of a fixed size, a slab cache, or pages of one order).
mempool_alloc() first asks the allocator, without direct reclaim or I/O and
without warnings; only when that fails does it take an element from the
reserve, then retry with the caller's full GFP, and with a blocking GFP wait
for an element to come back. mempool_free() refills the reserve up to min_nr
and gives anything beyond to the allocator.

The elements of the reserve are pointers kept in the pool's elements array
(kmalloc'ed, in simulated memory: kmemleak sees them referenced). Under
KASAN an element in the reserve is poisoned as if freed
(kasan_mempool_poison_object/pages(), which also catch a double or invalid
free into the pool) and unpoisoned when handed out.

Kernel API (bound onto the Kernel): mempool_create(), mempool_create_kmalloc_pool(),
mempool_create_slab_pool(), mempool_create_page_pool(), mempool_init_*() (the
same on a pool object the caller has), mempool_alloc(), mempool_alloc_preallocated(),
mempool_free(), mempool_resize(), mempool_exit(), mempool_destroy(). A page pool's
elements are struct page objects, as the kernel's are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kmemsim.include.linux.export import EXPORT_SYMBOL
from kmemsim.include.linux.gfp_types import GFP

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

_GFP_DIRECT_RECLAIM = int(GFP.DIRECT_RECLAIM)
_GFP_IO = int(GFP.IO)
_GFP_POOL = int(GFP.NOMEMALLOC | GFP.NORETRY | GFP.NOWARN)
ENOMEM = 12


class Mempool:
    """mempool_t: the reserve and the allocator behind it."""

    def __init__(self) -> None:
        self.min_nr = 0
        self.curr_nr = 0
        self.elements_addr = 0  # kmalloc'ed array of min_nr pointers
        self.elements: list[Any] = []
        self.pool_data: Any = None
        self.alloc: Callable[[int, Any], Any] | None = None
        self.free: Callable[[Any, Any], None] | None = None
        self.kind = ""  # "kmalloc", "slab", "page" or "" (the caller's functions)

    def __repr__(self) -> str:
        return f"<mempool {self.kind or 'custom'} {self.curr_nr}/{self.min_nr}>"


class Mempools:
    """The mempool API of one kernel."""

    def __init__(self, k: Kernel) -> None:
        self.k = k

    # ------------------------------------------------------------------ allocators
    # The element allocators of mm/mempool.c, for mempool_create() and the
    # mempool_create_*_pool() helpers. mempool.c tells a pool's kind by them
    # (pool->alloc == mempool_kmalloc, ...): KASAN poisons a kmalloc or slab
    # element, or a page element, while it waits in the reserve.
    @EXPORT_SYMBOL
    def mempool_kmalloc(self, gfp: int, size: Any) -> int:
        """mempool_kmalloc(gfp_mask, pool_data): kmalloc() of pool_data bytes."""
        return int(self.k.kmalloc(int(size), gfp))

    @EXPORT_SYMBOL
    def mempool_kfree(self, element: Any, _data: Any) -> None:
        """mempool_kfree(element, pool_data)."""
        self.k.kfree(element)

    @EXPORT_SYMBOL
    def mempool_alloc_slab(self, gfp: int, cache: Any) -> int:
        """mempool_alloc_slab(gfp_mask, pool_data): an object of the cache pool_data."""
        return int(self.k.kmem_cache_alloc(cache, gfp))

    @EXPORT_SYMBOL
    def mempool_free_slab(self, element: Any, cache: Any) -> None:
        """mempool_free_slab(element, pool_data)."""
        self.k.kmem_cache_free(cache, element)

    @EXPORT_SYMBOL
    def mempool_alloc_pages(self, gfp: int, order: Any) -> Any:
        """mempool_alloc_pages(gfp_mask, pool_data): alloc_pages() of order pool_data."""
        return self.k.alloc_pages(gfp, int(order))

    @EXPORT_SYMBOL
    def mempool_free_pages(self, element: Any, order: Any) -> None:
        """mempool_free_pages(element, pool_data)."""
        self.k.__free_pages(element, int(order))

    # ------------------------------------------------------------------ the reserve
    def _address(self, pool: Mempool, element: Any) -> int:
        if pool.kind == "page":
            return int(self.k.page_address(element))
        return int(element)

    def _store_elements(self, pool: Mempool) -> None:
        if pool.elements_addr:
            raw = b"".join(
                self._address(pool, e).to_bytes(8, "little") for e in pool.elements
            ).ljust(8 * pool.min_nr, b"\0")
            sa = self.k.slab
            sa.write(pool.elements_addr, raw[: 8 * pool.min_nr])

    def _poison_element(self, pool: Mempool, element: Any) -> bool:
        """kasan_poison_element(): False when KASAN reported the element as bad."""
        kasan = self.k.kasan
        if kasan is None:
            return True
        if pool.kind in ("kmalloc", "slab"):
            return bool(kasan.mempool_poison_object(int(element)))
        if pool.kind == "page":
            return bool(
                kasan.mempool_poison_pages(self._address(pool, element), int(pool.pool_data))
            )
        return True

    def _unpoison_element(self, pool: Mempool, element: Any) -> None:
        """kasan_unpoison_element()."""
        kasan = self.k.kasan
        if kasan is None:
            return
        if pool.kind == "kmalloc":
            kasan.mempool_unpoison_object(int(element), int(pool.pool_data))
        elif pool.kind == "slab":
            kasan.mempool_unpoison_object(int(element), int(pool.pool_data.object_size))
        elif pool.kind == "page":
            kasan.mempool_unpoison_pages(self._address(pool, element), int(pool.pool_data))

    def _add_element(self, pool: Mempool, element: Any) -> None:
        """add_element(): into the reserve (BUG when it is already full)."""
        if pool.min_nr and pool.curr_nr >= pool.min_nr:
            self.k.slab.bug("mm/mempool.c", "add_element")
        if self._poison_element(pool, element):
            pool.elements.append(element)
            pool.curr_nr += 1
            self._store_elements(pool)

    def _remove_element(self, pool: Mempool) -> Any:
        """remove_element(): the last element of the reserve, unpoisoned."""
        element = pool.elements.pop()
        pool.curr_nr -= 1
        self._store_elements(pool)
        self._unpoison_element(pool, element)
        return element

    # ------------------------------------------------------------------ create / init
    @EXPORT_SYMBOL
    def mempool_init(
        self,
        pool: Mempool,
        min_nr: int,
        alloc_fn: Callable[[int, Any], Any],
        free_fn: Callable[[Any, Any], None],
        pool_data: Any,
        gfp: int = 0xCC0,
    ) -> int:
        """mempool_init_node(): fill the reserve; 0 or -ENOMEM."""
        pool.min_nr = min_nr
        pool.curr_nr = 0
        pool.elements = []
        pool.pool_data = pool_data
        pool.alloc, pool.free = alloc_fn, free_fn
        if not pool.kind:
            # kasan_poison_element(): pool->alloc == mempool_alloc_slab / mempool_kmalloc /
            # mempool_alloc_pages; any other function is the caller's own.
            kinds = (
                (self.mempool_kmalloc, "kmalloc"),
                (self.mempool_alloc_slab, "slab"),
                (self.mempool_alloc_pages, "page"),
            )
            pool.kind = next((kind for fn, kind in kinds if alloc_fn == fn), "")
        pool.elements_addr = int(self.k.kmalloc_array(max(min_nr, 1), 8, gfp | int(GFP.ZERO)))
        if not pool.elements_addr:
            return -ENOMEM
        kmemleak = self.k.kmemleak
        if kmemleak is not None:
            # The pool (the caller's) points at the array; the model holds it in Python.
            kmemleak.kmemleak_not_leak(pool.elements_addr)
        while pool.curr_nr < pool.min_nr:
            element = alloc_fn(gfp, pool_data)
            if not element:
                self.mempool_exit(pool)
                return -ENOMEM
            self._add_element(pool, element)
        return 0

    @EXPORT_SYMBOL
    def mempool_init_kmalloc_pool(self, pool: Mempool, min_nr: int, size: int) -> int:
        """mempool_init_kmalloc_pool()."""
        pool.kind = "kmalloc"
        return self.mempool_init(pool, min_nr, self.mempool_kmalloc, self.mempool_kfree, size)

    @EXPORT_SYMBOL
    def mempool_init_slab_pool(self, pool: Mempool, min_nr: int, cache: Any) -> int:
        """mempool_init_slab_pool()."""
        pool.kind = "slab"
        return self.mempool_init(
            pool, min_nr, self.mempool_alloc_slab, self.mempool_free_slab, cache
        )

    @EXPORT_SYMBOL
    def mempool_init_page_pool(self, pool: Mempool, min_nr: int, order: int) -> int:
        """mempool_init_page_pool()."""
        pool.kind = "page"
        return self.mempool_init(
            pool, min_nr, self.mempool_alloc_pages, self.mempool_free_pages, order
        )

    @EXPORT_SYMBOL
    def mempool_create(
        self,
        min_nr: int,
        alloc_fn: Callable[[int, Any], Any],
        free_fn: Callable[[Any, Any], None],
        pool_data: Any,
        gfp: int = 0xCC0,
    ) -> Mempool | None:
        """mempool_create(): a new pool, or None (NULL) when the reserve cannot be filled."""
        pool = Mempool()
        if self.mempool_init(pool, min_nr, alloc_fn, free_fn, pool_data, gfp):
            return None
        return pool

    def _create(self, kind: str, min_nr: int, data: Any) -> Mempool | None:
        pool = Mempool()
        pool.kind = kind
        fns = {
            "kmalloc": (self.mempool_kmalloc, self.mempool_kfree),
            "slab": (self.mempool_alloc_slab, self.mempool_free_slab),
            "page": (self.mempool_alloc_pages, self.mempool_free_pages),
        }[kind]
        if self.mempool_init(pool, min_nr, fns[0], fns[1], data):
            return None
        return pool

    @EXPORT_SYMBOL
    def mempool_create_kmalloc_pool(self, min_nr: int, size: int) -> Mempool | None:
        """mempool_create_kmalloc_pool(): a reserve of kmalloc(size) buffers."""
        return self._create("kmalloc", min_nr, size)

    @EXPORT_SYMBOL
    def mempool_create_slab_pool(self, min_nr: int, cache: Any) -> Mempool | None:
        """mempool_create_slab_pool(): a reserve of objects of `cache`."""
        return self._create("slab", min_nr, cache)

    @EXPORT_SYMBOL
    def mempool_create_page_pool(self, min_nr: int, order: int) -> Mempool | None:
        """mempool_create_page_pool(): a reserve of 2**order-page blocks."""
        return self._create("page", min_nr, order)

    @EXPORT_SYMBOL
    def mempool_exit(self, pool: Mempool) -> None:
        """mempool_exit(): the reserve back to the allocator, the elements array freed."""
        while pool.curr_nr:
            element = self._remove_element(pool)
            if pool.free is not None:
                pool.free(element, pool.pool_data)
        if pool.elements_addr:
            self.k.kfree(pool.elements_addr)
            pool.elements_addr = 0

    @EXPORT_SYMBOL
    def mempool_destroy(self, pool: Mempool | None) -> None:
        """mempool_destroy(): mempool_exit() and the pool itself; NULL is a no-op."""
        if pool is None:
            return
        self.mempool_exit(pool)

    # ------------------------------------------------------------------ alloc / free
    @EXPORT_SYMBOL
    def mempool_alloc(self, pool: Mempool, gfp: int) -> Any:
        """mempool_alloc(): the allocator first (no reclaim, no I/O), then the reserve.

        With a blocking GFP the kernel would then sleep until an element is
        freed back; a simulated kernel running one task cannot be woken by
        anyone, so it returns NULL (0) where the kernel would hang.
        """
        gfp = int(gfp)
        if gfp & _GFP_DIRECT_RECLAIM:
            self.k.sched.might_alloc(gfp, "mempool_alloc_noprof")
        gfp |= _GFP_POOL
        gfp_temp = gfp & ~(_GFP_DIRECT_RECLAIM | _GFP_IO)
        assert pool.alloc is not None
        while True:
            element = pool.alloc(gfp_temp, pool.pool_data)
            if element:
                return element
            if pool.curr_nr:
                return self._remove_element(pool)
            if gfp_temp != gfp:
                gfp_temp = gfp
                continue
            return None if pool.kind == "page" else 0

    @EXPORT_SYMBOL
    def mempool_alloc_preallocated(self, pool: Mempool) -> Any:
        """mempool_alloc_preallocated(): an element of the reserve only, or NULL."""
        if pool.curr_nr:
            return self._remove_element(pool)
        return None if pool.kind == "page" else 0

    @EXPORT_SYMBOL
    def mempool_free(self, element: Any, pool: Mempool) -> None:
        """mempool_free(): refill the reserve up to min_nr, else back to the allocator."""
        if not element:
            return
        if pool.curr_nr < pool.min_nr:
            self._add_element(pool, element)
            return
        assert pool.free is not None
        pool.free(element, pool.pool_data)

    @EXPORT_SYMBOL
    def mempool_resize(self, pool: Mempool, new_min_nr: int) -> int:
        """mempool_resize(): shrink the reserve at once, or grow it; 0 or -ENOMEM."""
        if new_min_nr <= 0:
            return -22  # -EINVAL (BUG_ON in the kernel)
        while new_min_nr < pool.curr_nr:
            element = self._remove_element(pool)
            assert pool.free is not None
            pool.free(element, pool.pool_data)
        new_arr = int(self.k.kmalloc_array(new_min_nr, 8, 0xCC0 | int(GFP.ZERO)))
        if not new_arr:
            return -ENOMEM
        self.k.kfree(pool.elements_addr)
        pool.elements_addr = new_arr
        pool.min_nr = new_min_nr
        self._store_elements(pool)
        while pool.curr_nr < pool.min_nr:
            assert pool.alloc is not None
            element = pool.alloc(0xCC0, pool.pool_data)
            if not element:
                return -ENOMEM
            self._add_element(pool, element)
        return 0


def mempool_init_api(k: Kernel) -> Mempools:
    """Bind the mempool API onto `k`."""
    from kmemsim.include.linux.export import export_symbols

    mp = Mempools(k)
    export_symbols(k, mp)
    return mp
