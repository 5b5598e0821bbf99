"""Model of mm/slab_common.c: cache creation and merging, the kmalloc caches and family, slabinfo.

kmem_cache_create() first looks for an existing cache to merge with
(find_mergeable(): no constructor, no usercopy region, no debug or
never-merge flag, the same SLAB_MERGE_SAME flags, a cache at most one word
larger whose size is a multiple of the new alignment); the new name becomes
an alias of that cache, a link in /sys/kernel/slab to its unique id
(":A-0000192"). Otherwise SLUB opens a new cache (mm/slub.py).

The kmalloc caches of 6.18 are created at boot for each type (normal, rcl
for __GFP_RECLAIMABLE, dma for __GFP_DMA, cg for __GFP_ACCOUNT, as
kmalloc_type() picks them), for the sizes 8 .. 8k plus 96 and 192. A
request up to 192 bytes finds its size class through size_index[] (so 65..96
bytes use kmalloc-96 and 129..192 kmalloc-192), larger ones through
fls(size - 1). kmalloc caches align to the largest power of two dividing
their size. Requests above KMALLOC_MAX_CACHE_SIZE are large kmallocs: pages
straight from the page allocator (bytes_alloc = PAGE_SIZE << order),
counted as unreclaimable slab memory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kmemsim.errors import Oops
from kmemsim.include.linux.export import EXPORT_SYMBOL
from kmemsim.include.linux.gfp_types import GFP
from kmemsim.include.linux.slab import (
    ARCH_KMALLOC_MINALIGN,
    KMALLOC_CGROUP,
    KMALLOC_DMA,
    KMALLOC_MAX_CACHE_SIZE,
    KMALLOC_MAX_SIZE,
    KMALLOC_NORMAL,
    KMALLOC_RECLAIM,
    KMALLOC_SHIFT_HIGH,
    KMALLOC_TYPE_PREFIX,
    NR_KMALLOC_TYPES,
    SLAB_ACCOUNT,
    SLAB_CACHE_DMA,
    SLAB_CONSISTENCY_CHECKS,
    SLAB_HWCACHE_ALIGN,
    SLAB_KMALLOC,
    SLAB_MERGE_SAME,
    SLAB_NEVER_MERGE,
    SLAB_NO_MERGE,
    SLAB_PANIC,
    SLAB_POISON,
    SLAB_RECLAIM_ACCOUNT,
    SLAB_RED_ZONE,
    SLAB_STORE_USER,
    SLAB_TRACE,
    SLAB_TYPESAFE_BY_RCU,
    ZERO_SIZE_PTR,
    SlabFlags,
)
from kmemsim.mm.slab import KmemCache, KmemCacheCpu, Slab
from kmemsim.mm.slub import (
    SLUB_RED_ACTIVE,
    Slub,
    calculate_alignment,
    get_order,
    print_tracking,
    slab_bug,
    slab_err_tail,
)

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

SIZE_MAX = (1 << 64) - 1
# mm/slab_common.c size_index[]: kmalloc index of sizes 1..192, in steps of 8 bytes.
SIZE_INDEX = (3, 4, 5, 5, 6, 6, 6, 6, 1, 1, 1, 1, 7, 7, 7, 7, 2, 2, 2, 2, 2, 2, 2, 2)
_NOT_NORMAL_BITS = int(GFP.RECLAIMABLE | GFP.DMA | GFP.ACCOUNT)


def setup_kmalloc_cache_index_table(kmalloc_min_size: int) -> list[int]:
    """mm/slab_common.c setup_kmalloc_cache_index_table(): size_index[] for KMALLOC_MIN_SIZE.

    Sizes below KMALLOC_MIN_SIZE go to the smallest cache; with a minimum of 64
    there is no 96-byte cache (65..96 use kmalloc-128), with 128 no 192.
    """
    table = list(SIZE_INDEX)
    shift_low = kmalloc_min_size.bit_length() - 1
    for i in range(8, kmalloc_min_size, 8):
        table[(i - 1) // 8] = shift_low
    if kmalloc_min_size >= 64:
        for i in range(64 + 8, 96 + 1, 8):
            table[(i - 1) // 8] = 7
    if kmalloc_min_size >= 128:
        for i in range(128 + 8, 192 + 1, 8):
            table[(i - 1) // 8] = 8
    return table


def kmalloc_size_name(index: int) -> str:
    """kmalloc_info[] names: 96, 192, 8 .. 512, then 1k .. 8k (and beyond for big pages)."""
    if index == 1:
        return "96"
    if index == 2:
        return "192"
    size = 1 << index
    if size >= 1 << 20:
        return f"{size >> 20}M"
    if size >= 1024:
        return f"{size >> 10}k"
    return str(size)


def kmalloc_index_size(index: int) -> int:
    return 96 if index == 1 else 192 if index == 2 else 1 << index


class SlabAllocator(Slub):
    """The slab layer of one kernel: caches, merging, kmalloc and the pseudo files."""

    def __init__(self, k: Kernel) -> None:
        super().__init__(k)
        # ARCH_DMA_MINALIGN: ARM32 kmalloc objects must not share a cache line with
        # another object (non-coherent DMA), so kmalloc starts at the line size there.
        arch = str(getattr(k.machine, "arch", "x86_64"))
        self.kmalloc_min_size = self.cache_line if arch == "arm" else ARCH_KMALLOC_MINALIGN
        self.kmalloc_minalign = self.kmalloc_min_size
        self.kmalloc_shift_low = self.kmalloc_min_size.bit_length() - 1
        self.size_index = setup_kmalloc_cache_index_table(self.kmalloc_min_size)
        self.memcg = bool(k.config["MEMCG"])
        self.zone_dma = bool(k.config["ZONE_DMA"])
        self.kmalloc_caches: list[list[KmemCache | None]] = [
            [None] * (KMALLOC_SHIFT_HIGH + 1) for _ in range(NR_KMALLOC_TYPES)
        ]
        # kmalloc_slab() answers for every size 0..KMALLOC_MAX_CACHE_SIZE, per type.
        self._by_size: list[list[KmemCache]] = []
        # Large kmallocs: head pfn -> (struct page, order).
        self.large_kmalloc: dict[int, tuple[Any, int]] = {}
        self.large_pages = 0

    # ------------------------------------------------------------------ kmalloc caches
    def kmalloc_type(self, gfp: int) -> int:
        """include/linux/slab.h kmalloc_type(): which kmalloc cache array serves `gfp`."""
        if not gfp & _NOT_NORMAL_BITS:
            return KMALLOC_NORMAL
        if self.zone_dma and gfp & GFP.DMA:
            return KMALLOC_DMA
        if not self.memcg or gfp & GFP.RECLAIMABLE:
            return KMALLOC_RECLAIM if not self.slub_tiny else KMALLOC_NORMAL
        return KMALLOC_CGROUP

    def kmalloc_index(self, size: int) -> int:
        """The kmalloc cache index of `size` (kmalloc_slab(): size_index[] up to 192)."""
        if size <= 192:
            return self.size_index[(size - 1) // 8] if size else 0
        return (size - 1).bit_length()

    def kmalloc_slab(self, size: int, gfp: int) -> KmemCache:
        """mm/slab_common.c kmalloc_slab(): the cache for a request of `size` bytes."""
        return self._by_size[self.kmalloc_type(gfp)][size]

    def new_kmalloc_cache(self, idx: int, ktype: int) -> None:
        """mm/slab_common.c new_kmalloc_cache()."""
        flags = 0
        if ktype == KMALLOC_RECLAIM:
            flags |= SLAB_RECLAIM_ACCOUNT
        elif ktype == KMALLOC_CGROUP:
            flags |= SLAB_ACCOUNT
        elif ktype == KMALLOC_DMA:
            flags |= SLAB_CACHE_DMA
        if ktype == KMALLOC_NORMAL and self.memcg:
            flags |= SLAB_NO_MERGE
        size = kmalloc_index_size(idx)
        name = KMALLOC_TYPE_PREFIX[ktype] + kmalloc_size_name(idx)
        s = self.create_boot_cache(name, size, int(flags) | int(SLAB_KMALLOC), 0, size)
        self.kmalloc_caches[ktype][idx] = s

    def create_boot_cache(
        self, name: str, size: int, flags: int, useroffset: int, usersize: int
    ) -> KmemCache:
        """mm/slab_common.c create_boot_cache()/create_kmalloc_cache()."""
        align = self.kmalloc_minalign
        if flags & SLAB_KMALLOC:
            # The largest power of two dividing the size (the size itself for 2**n).
            align = max(align, size & -size)
        align = calculate_alignment(flags, align, size, self.cache_line, self.word)
        s = KmemCache(name, size, align, flags, None, useroffset, usersize)
        s.is_kmalloc = True
        if not self.kmem_cache_open(s):
            raise Oops(f"Creation of kmalloc slab {name} size={size} failed.")
        s.refcount = 1
        self.add_cache(s)
        return s

    def create_kmalloc_caches(self) -> None:
        """mm/slab_common.c create_kmalloc_caches(): every type, 8 .. KMALLOC_MAX_CACHE_SIZE."""
        types: list[int] = [KMALLOC_NORMAL]
        if not self.slub_tiny:
            types.append(KMALLOC_RECLAIM)
        if self.zone_dma:
            types.append(KMALLOC_DMA)
        if self.memcg:
            types.append(KMALLOC_CGROUP)
        for ktype in types:
            # The sizes that are not powers of two first, where KMALLOC_MIN_SIZE lets
            # them exist; then 8 .. 8k (the order /proc/slabinfo shows, newest first).
            if self.kmalloc_min_size <= 32:
                self.new_kmalloc_cache(1, ktype)
            if self.kmalloc_min_size <= 64:
                self.new_kmalloc_cache(2, ktype)
            for i in range(self.kmalloc_shift_low, KMALLOC_SHIFT_HIGH + 1):
                self.new_kmalloc_cache(i, ktype)
        if self.k.config["SLAB_BUCKETS"]:
            # kmem_buckets_cache: one kmem_cache pointer per kmalloc index, never merged.
            self.kmem_cache_create(
                "kmalloc_buckets", (KMALLOC_SHIFT_HIGH + 1) * self.word, 0, int(SLAB_NO_MERGE)
            )
        normal = self.kmalloc_caches[KMALLOC_NORMAL]
        self._by_size = []
        for kt in range(NR_KMALLOC_TYPES):
            row = self.kmalloc_caches[kt]
            table: list[KmemCache] = []
            for size in range(KMALLOC_MAX_CACHE_SIZE + 1):
                idx = self.kmalloc_index(size) if size else self.kmalloc_shift_low
                cache = row[idx] or normal[idx]
                assert cache is not None
                table.append(cache)
            self._by_size.append(table)

    # ------------------------------------------------------------------ cache list
    def add_cache(self, s: KmemCache) -> None:
        s.unique_id = "" if self.slab_unmergeable(s) else self.create_unique_id(s)
        self.caches.append(s)

    def sysfs_name(self, s: KmemCache) -> str:
        """The directory of a cache in /sys/kernel/slab: its name, or its unique id."""
        return s.unique_id or s.name

    @EXPORT_SYMBOL
    def find_cache(self, name: str) -> KmemCache | None:
        """The cache called `name`, or the cache `name` was merged into."""
        for s in reversed(self.caches):
            if s.name == name or name in s.aliases or s.unique_id == name:
                return s
        return None

    # ------------------------------------------------------------------ create / destroy
    def find_mergeable(
        self, size: int, align: int, flags: int, name: str, ctor: Callable[[int], Any] | None
    ) -> KmemCache | None:
        """mm/slab_common.c find_mergeable()."""
        if self.slab_nomerge or ctor is not None:
            return None
        flags = self.kmem_cache_flags(flags, name)
        if flags & SLAB_NEVER_MERGE:
            return None
        size = (size + self.word - 1) & ~(self.word - 1)
        align = calculate_alignment(flags, align, size, self.cache_line, self.word)
        size = (size + align - 1) & ~(align - 1)
        for s in reversed(self.caches):
            if self.slab_unmergeable(s):
                continue
            if size > s.size:
                continue
            if (flags & SLAB_MERGE_SAME) != (s.flags & SLAB_MERGE_SAME):
                continue
            if s.size & ~(align - 1) != s.size:
                continue
            if s.size - size >= self.word:
                continue
            return s
        return None

    @EXPORT_SYMBOL
    def kmem_cache_create(
        self,
        name: str,
        size: int,
        align: int = 0,
        flags: int = 0,
        ctor: Callable[[int], Any] | None = None,
        useroffset: int | None = None,
        usersize: int | None = None,
        freeptr_offset: int | None = None,
    ) -> KmemCache | None:
        """kmem_cache_create(): a new cache, or an existing one it merges with; None on error.

        As __kmem_cache_create_args(): the CONFIG_DEBUG_VM integrity check (a
        name, not in interrupt, at most KMALLOC_MAX_SIZE), flags outside
        SLAB_FLAGS_PERMITTED fail with -EINVAL; a usercopy region outside the
        object is dropped with a WARN; failure panics with SLAB_PANIC.

        The arguments after `ctor` are those of kmem_cache_create_usercopy()
        and of struct kmem_cache_args (the usercopy region; the free pointer
        offset of a SLAB_TYPESAFE_BY_RCU cache). The kernel's own callers pass
        them for many caches (dentry, names_cache, vm_area_struct, filp, ...),
        and they change how the cache merges and where its free pointer lives.
        On a profile that recorded its kernel's caches (linux-6.18-x86_64),
        creating one of those caches by its name and object size takes what its
        kernel caller passes from the profile, unless given here.
        """
        flags = int(flags)
        if usersize is None or freeptr_offset is None:
            from kmemsim.mm.slab_boot import known_caches

            known = known_caches(self.k).get(name)
            if known is not None and known["size"] == size:
                if usersize is None:
                    usersize = int(known["usersize"])
                    useroffset = int(known["useroffset"]) if useroffset is None else useroffset
                if freeptr_offset is None and flags & SLAB_TYPESAFE_BY_RCU:
                    freeptr_offset = known["freeptr_offset"]
        useroffset = useroffset or 0
        usersize = usersize or 0
        err = 0
        if not name or self.k_in_interrupt() or size > KMALLOC_MAX_SIZE or size <= 0:
            self.k.log.pr_err(f"kmem_cache_create({name}) integrity check failed")
            err = -22
        elif flags & ~self._permitted_flags() or (
            freeptr_offset is not None
            and (
                not flags & SLAB_TYPESAFE_BY_RCU
                or freeptr_offset % self.word
                or freeptr_offset > size - self.word
            )
        ):
            err = -22
        if not err and (
            usersize > size or useroffset > size - usersize or (not usersize and useroffset)
        ):
            self.warn("mm/slab_common.c", "__kmem_cache_create_args")
            usersize = useroffset = 0
        if err:
            self._create_failed(name, flags, err)
            return None
        if not usersize and freeptr_offset is None:
            alias = self.find_mergeable(size, align, flags, name, ctor)
            if alias is not None:
                alias.refcount += 1
                alias.object_size = max(alias.object_size, size)
                alias.inuse = max(alias.inuse, (size + self.word - 1) & ~(self.word - 1))
                if name not in alias.aliases:
                    alias.aliases.append(name)
                return alias
        s = KmemCache(name, size, 0, flags, ctor, useroffset, usersize, freeptr_offset)
        s.align = calculate_alignment(flags, align, size, self.cache_line, self.word)
        if not self.kmem_cache_open(s):
            self._create_failed(name, flags, -22)
            return None
        s.refcount = 1
        self.add_cache(s)
        return s

    def _create_failed(self, name: str, flags: int, err: int) -> None:
        """The end of a failed __kmem_cache_create_args(): a panic or a warning and NULL."""
        log = self.k.log
        if flags & SLAB_PANIC:
            msg = f"__kmem_cache_create_args: Failed to create slab '{name}'. Error {err}"
            log.pr_emerg(f"Kernel panic - not syncing: {msg}")
            raise Oops(msg)
        log.pr_warn(f"__kmem_cache_create_args({name}) failed with error {err}")
        self.k.sched.dump_stack(["__kmem_cache_create_args"])

    def _permitted_flags(self) -> int:
        # SLAB_CORE_FLAGS | SLAB_DEBUG_FLAGS | SLAB_CACHE_FLAGS (mm/slab.h), as bits.
        return int(
            ~(SlabFlags.KMALLOC | SlabFlags.OBJECT_POISON | SlabFlags.CMPXCHG_DOUBLE)
            & ((1 << 19) - 1)
        )

    def k_in_interrupt(self) -> bool:
        f = getattr(self.k.sched, "in_interrupt", None)
        return bool(f()) if callable(f) else False

    @EXPORT_SYMBOL
    def kmem_cache_destroy(self, s: KmemCache | None) -> None:
        """kmem_cache_destroy(): drop a reference; the last one shuts the cache down.

        __kmem_cache_shutdown() flushes the CPU slabs, frees the empty partial
        slabs and reports each partial slab still in use (list_slab_objects());
        a cache that still has slabs stays, with the kernel's WARN.
        """
        if s is None:
            return
        rcu = getattr(self.k, "rcu", None)
        if rcu is not None and rcu.cblist:
            rcu.rcu_barrier()  # kvfree_rcu_barrier(), and SLUB_RCU_DEBUG's delayed frees
        s.refcount -= 1
        if s.refcount > 0:
            return
        if self.kasan is not None:
            self.kasan.quarantine_remove_cache(s)  # kasan_cache_shutdown()
        self.flush_all(s)
        for slab in list(s.node.partial):  # free_partial()
            if slab.inuse == 0:
                self.remove_partial(s, slab)
                self.discard_slab(s, slab)
            else:
                self.list_slab_objects(s, slab)
        if s.node.nr_partial or s.node.nr_slabs:
            s.refcount = 1
            from kmemsim.mm.debug import warn

            # WARN(), not WARN_ONCE(): every such destroy is reported.
            warn(
                self.k,
                "mm/slab_common.c",
                "kmem_cache_destroy",
                f"kmem_cache_destroy {s.name}: Slab cache still has objects "
                "when called from kmem_cache_destroy",
                once=False,
            )
            return
        self.caches.remove(s)
        if s.flags & SLAB_TYPESAFE_BY_RCU and rcu is not None and rcu.cblist:
            rcu.rcu_barrier()  # the slabs' pages go back after their grace period

    def list_slab_objects(self, s: KmemCache, slab: Slab) -> None:
        """mm/slub.c list_slab_objects(): the objects of a slab still in use at shutdown."""
        slab_bug(self, s, "Objects remaining on __kmem_cache_shutdown()")
        free = set(self.slab_free_objects(s, slab))
        log = self.k.log
        for i in range(slab.objects):
            obj = slab.base + s.red_left_pad + i * s.size
            if obj not in free:
                log.pr_err(f"Object 0x{obj:016x} @offset={obj - slab.base}")
                print_tracking(self, s, obj)
        slab_err_tail(self, slab)

    def slab_free_objects(self, s: KmemCache, slab: Slab) -> list[int]:
        """Objects on the slab's freelist (and the CPU freelist if it is a CPU slab)."""
        out: list[int] = []
        heads = [slab.freelist]
        for c in s.cpu_slab:
            if c.slab is slab:
                heads.append(c.freelist)
        for obj in heads:
            n = 0
            while obj and n <= slab.objects:
                out.append(obj)
                obj = self.get_freepointer(s, obj)
                n += 1
        return out

    # ------------------------------------------------------------------ object API
    @EXPORT_SYMBOL
    def kmem_cache_alloc(self, s: KmemCache, gfp: int) -> int:
        """kmem_cache_alloc(): an object of cache `s`, or 0.

        The per-CPU fast path of slab_alloc_node() is inlined here (and in
        kmalloc, kfree, kmem_cache_free): pop the CPU freelist, reading the next
        free pointer from inside the object in simulated memory.
        """
        sched = self._sched
        if gfp & 0x400 and (  # __GFP_DIRECT_RECLAIM: might_alloc()
            sched.preempt_count or sched.irqs_disabled or sched.rcu_read_lock_nesting
        ):
            sched.might_alloc(gfp, "slab_pre_alloc_hook")
        c: KmemCacheCpu = s.cpu_slab[sched.current_cpu]
        obj = c.freelist
        if obj and self._fast and not s.random:
            p = obj + s.offset + self._v2p
            frame = self._frames.get(p >> 12)
            if frame is None:
                self.check_deref(p - self._v2p)
                c.freelist = 0
            else:
                o = p & 4095
                c.freelist = int.from_bytes(frame[o : o + 8], "little")
            if gfp & 0x100:  # __GFP_ZERO
                self.fill(obj, 0, s.object_size)
            return obj
        return self.slab_alloc(s, gfp, s.object_size)

    @EXPORT_SYMBOL
    def kmem_cache_alloc_node(self, s: KmemCache, gfp: int, node: int = -1) -> int:
        """kmem_cache_alloc_node(): one node here."""
        return self.slab_alloc(s, int(gfp), s.object_size)

    @EXPORT_SYMBOL
    def kmem_cache_zalloc(self, s: KmemCache, gfp: int) -> int:
        """kmem_cache_zalloc()."""
        return self.slab_alloc(s, int(gfp) | int(GFP.ZERO), s.object_size)

    @EXPORT_SYMBOL
    def kmem_cache_free(self, s: KmemCache, addr: int) -> None:
        """kmem_cache_free(): `addr` must be an object of `s` (cache_from_obj() checks it)."""
        if not addr:
            return
        slab = self.slab_of_pfn.get((addr + self._v2p) >> self.page_shift)
        if slab is None or slab.cache is not s:
            # cache_from_obj() / virt_to_cache(): free to the object's own cache, or not at all.
            from kmemsim.mm.debug import warn

            # WARN_ONCE() in both: the report comes once per site.
            if slab is None:
                warn(
                    self.k,
                    "mm/slab.h",
                    "virt_to_cache",
                    "virt_to_cache: Object is not a Slab page!",
                )
            else:
                warn(
                    self.k,
                    "mm/slub.c",
                    "cache_from_obj",
                    f"cache_from_obj: Wrong slab cache. {s.name} but object is from "
                    f"{slab.cache.name}",
                )
            if slab is None:
                return
            print_tracking(self, slab.cache, addr)
            s = slab.cache
        c: KmemCacheCpu = s.cpu_slab[self._sched.current_cpu]
        if slab is c.slab and self._fast and not s.random:
            p = addr + s.offset + self._v2p
            frame = self._frames.get(p >> 12)
            if frame is None:
                frame = self._frames[p >> 12] = bytearray(4096)
            o = p & 4095
            frame[o : o + 8] = c.freelist.to_bytes(8, "little")
            c.freelist = addr
            return
        self.slab_free(s, slab, addr)

    @EXPORT_SYMBOL
    def kmem_cache_shrink(self, s: KmemCache) -> int:
        """kmem_cache_shrink(): 0 when every slab went back, 1 when some are in use."""
        if self.kasan is not None:
            self.kasan.quarantine_remove_cache(s)  # kasan_cache_shrink()
        return self.kmem_cache_shrink_cache(s)

    # ------------------------------------------------------------------ kmalloc family
    @EXPORT_SYMBOL
    def kmalloc(self, size: int, gfp: int) -> int:
        """kmalloc(): a kmalloc cache object of the size class, a large kmalloc, or 0."""
        if size > KMALLOC_MAX_CACHE_SIZE:
            return self.kmalloc_large(size, gfp)
        if size <= 0:
            return ZERO_SIZE_PTR if size == 0 else self.kmalloc_large(size & SIZE_MAX, gfp)
        if gfp & _NOT_NORMAL_BITS:
            s = self._by_size[self.kmalloc_type(gfp)][size]
        else:
            s = self._by_size[0][size]
        sched = self._sched
        if gfp & 0x400 and (  # __GFP_DIRECT_RECLAIM: might_alloc()
            sched.preempt_count or sched.irqs_disabled or sched.rcu_read_lock_nesting
        ):
            sched.might_alloc(gfp, "slab_pre_alloc_hook")
        c: KmemCacheCpu = s.cpu_slab[sched.current_cpu]
        obj = c.freelist
        if obj and self._fast and not s.random:
            p = obj + s.offset + self._v2p
            frame = self._frames.get(p >> 12)
            if frame is None:
                self.check_deref(p - self._v2p)
                c.freelist = 0
            else:
                o = p & 4095
                c.freelist = int.from_bytes(frame[o : o + 8], "little")
            if gfp & 0x100:  # __GFP_ZERO
                self.fill(obj, 0, s.object_size)
            return obj
        obj = self.slab_alloc(s, gfp, size)
        if obj and self.kasan is not None:
            self.kasan.kmalloc(s, obj, size)  # kasan_kmalloc(): the redzone past `size`
        return obj

    @EXPORT_SYMBOL
    def kmalloc_node(self, size: int, gfp: int, node: int = -1) -> int:
        """kmalloc_node(): one node here."""
        return self.kmalloc(size, gfp)

    @EXPORT_SYMBOL
    def kmalloc_track_caller(self, size: int, gfp: int) -> int:
        """kmalloc_track_caller(): kmalloc() recording the caller's caller (_RET_IP_)."""
        return self.kmalloc(size, gfp)

    @EXPORT_SYMBOL
    def kmalloc_node_track_caller(self, size: int, gfp: int, node: int = -1) -> int:
        """kmalloc_node_track_caller(): one node here."""
        return self.kmalloc(size, gfp)

    def kmalloc_large(self, size: int, gfp: int) -> int:
        """___kmalloc_large_node(): whole pages with __GFP_COMP, counted as slab memory."""
        from kmemsim.mm.slub import GFP_SLAB_BUG_MASK

        gfp = int(gfp)
        if gfp & GFP_SLAB_BUG_MASK:
            gfp = self.kmalloc_fix_flags(gfp)
        order = get_order(size, self.page_shift)
        page = self.k.page_alloc.alloc_pages(gfp | int(GFP.COMP), order)
        if page is None:
            return 0
        page.owner = "large_kmalloc"
        self.large_kmalloc[page.pfn] = (page, order)
        self.large_pages += 1 << order
        addr = int(self.k.page_alloc.page_address(page))
        if self.kasan is not None:
            self.kasan.kmalloc_large(addr, size)
        if self.kmemleak is not None:
            self.kmemleak.kmemleak_alloc(addr, size, 1, gfp)
        return addr

    @EXPORT_SYMBOL
    def kmalloc_array(self, n: int, size: int, gfp: int) -> int:
        """kmalloc_array(): NULL when n * size overflows size_t."""
        if n < 0 or size < 0 or n * size > SIZE_MAX:
            return 0
        return self.kmalloc(n * size, gfp)

    @EXPORT_SYMBOL
    def kcalloc(self, n: int, size: int, gfp: int) -> int:
        return self.kmalloc_array(n, size, int(gfp) | int(GFP.ZERO))

    @EXPORT_SYMBOL
    def kzalloc(self, size: int, gfp: int) -> int:
        return self.kmalloc(size, int(gfp) | int(GFP.ZERO))

    @EXPORT_SYMBOL
    def ksize(self, p: int) -> int:
        """ksize(): the usable size of the object at `p` (0 for NULL and ZERO_SIZE_PTR)."""
        if p <= ZERO_SIZE_PTR:
            return 0
        if self.kasan is not None and not self.kasan.kasan_check_byte(p):
            return 0
        pfn = (p + self._v2p) >> self.page_shift
        slab = self.slab_of_pfn.get(pfn)
        if slab is not None:
            if self.kasan is not None:
                return slab.cache.object_size  # SLAB_KASAN
            return self.slab_ksize(slab.cache)
        large = self.large_kmalloc.get(pfn)
        if large is not None:
            return self.page_size << large[1]
        self.warn("mm/slab_common.c", "__ksize")
        return 0

    @staticmethod
    def slab_ksize(s: KmemCache) -> int:
        """mm/slab.h slab_ksize(): what a user of the object may touch."""
        if s.flags & (SLAB_RED_ZONE | SLAB_POISON):
            return s.object_size
        if s.flags & (SLAB_TYPESAFE_BY_RCU | SLAB_STORE_USER):
            return s.inuse
        return s.size

    @EXPORT_SYMBOL
    def kfree(self, p: int) -> None:
        """kfree(): a slab object or a large kmalloc; NULL and ZERO_SIZE_PTR are no-ops."""
        if p <= 16:
            return
        pfn = (p + self._v2p) >> self.page_shift
        slab = self.slab_of_pfn.get(pfn)
        if slab is None:
            self.free_large_kmalloc(pfn, p)
            return
        s = slab.cache
        c: KmemCacheCpu = s.cpu_slab[self._sched.current_cpu]
        if slab is c.slab and self._fast and not s.random:
            q = p + s.offset + self._v2p
            frame = self._frames.get(q >> 12)
            if frame is None:
                frame = self._frames[q >> 12] = bytearray(4096)
            o = q & 4095
            frame[o : o + 8] = c.freelist.to_bytes(8, "little")
            c.freelist = p
            return
        self.slab_free(s, slab, p)

    def free_large_kmalloc(self, pfn: int, p: int) -> None:
        """mm/slub.c free_large_kmalloc(): the pages of a large kmalloc back to the buddy."""
        large = self.large_kmalloc.pop(pfn, None)
        if large is None:
            self.warn("mm/slub.c", "free_large_kmalloc")
            self.dump_page(pfn, "Not a kmalloc allocation")
            return
        page, order = large
        if self.kmemleak is not None:
            self.kmemleak.kmemleak_free(p)
        if self.kasan is not None:
            self.kasan.kfree_large(p)  # reports an invalid or double free, frees anyway
        self.large_pages -= 1 << order
        page.owner = ""
        if self.kasan is not None:
            self.kasan.poison_pages(int(self.k.page_alloc.page_address(page)), order)
        self.mem.zero_frames(page.pfn, 1 << order)  # host memory follows what is in use
        self.k.page_alloc.free_pages_struct(page, order)

    def dump_page(self, pfn: int, reason: str) -> None:
        """mm/debug.c dump_page() of the frame at `pfn` (a bare struct page if it is free)."""
        from kmemsim.mm.debug import dump_page

        page = self.k.page_alloc.pfn_to_page(pfn)
        dump_page(self.k, page, reason)

    def slab_pages(self) -> tuple[int, int]:
        """(reclaimable, unreclaimable) pages: slab pages by cache, large kmallocs unreclaimable.

        As NR_SLAB_RECLAIMABLE_B / NR_SLAB_UNRECLAIMABLE_B count them (in pages):
        ___kmalloc_large_node() accounts large kmallocs as unreclaimable slab.
        """
        rec, unrec = super().slab_pages()
        return rec, unrec + self.large_pages

    @EXPORT_SYMBOL
    def kfree_sensitive(self, p: int) -> None:
        """kfree_sensitive(): clear the whole object (ksize bytes), then kfree() it."""
        ks = self.ksize(p)
        if ks:
            self.fill(p, 0, ks)
        self.kfree(p)

    @EXPORT_SYMBOL
    def krealloc(self, p: int, new_size: int, gfp: int) -> int:
        """krealloc(): in place while it fits the object, else a copy and kfree of the old."""
        gfp = int(gfp)
        if not new_size:
            self.kfree(p)
            return ZERO_SIZE_PTR
        s: KmemCache | None = None
        if p > ZERO_SIZE_PTR:
            if self.kasan is not None and not self.kasan.kasan_check_byte(p):
                return 0  # a double free in the making: KASAN reported it
            pfn = (p + self._v2p) >> self.page_shift
            slab = self.slab_of_pfn.get(pfn)
            if slab is not None:
                s = slab.cache
                orig_size = self.get_orig_size(s, p)
                ks = s.object_size
            else:
                large = self.large_kmalloc.get(pfn)
                ks = orig_size = (self.page_size << large[1]) if large else 0
            if new_size <= ks:
                if gfp & GFP.ZERO:
                    if orig_size and orig_size < new_size:
                        self.fill(p + orig_size, 0, new_size - orig_size)
                    else:
                        self.fill(p + new_size, 0, ks - new_size)
                if s is not None and s.flags & SLAB_STORE_USER and s.flags & SLAB_KMALLOC:
                    self.set_orig_size(s, p, new_size)
                    if s.flags & SLAB_RED_ZONE and new_size < ks:
                        self.fill(p + new_size, SLUB_RED_ACTIVE, ks - new_size)
                if self.kasan is not None:
                    self.kasan.krealloc(p, new_size)
                return p
            ret = self.kmalloc(new_size, gfp)
            if ret:
                self.write(ret, self.read(p, orig_size or ks))
                self.kfree(p)
            return ret
        return self.kmalloc(new_size, gfp)

    @EXPORT_SYMBOL
    def kmemdup(self, src: int, size: int, gfp: int) -> int:
        """kmemdup(): a kmalloc()ed copy of `size` bytes at `src`."""
        p = self.kmalloc(size, gfp)
        if p and size:
            self.write(p, self.read(src, size))
        return p

    @EXPORT_SYMBOL
    def kstrdup(self, s: str | int, gfp: int) -> int:
        """kstrdup(): a kmalloc()ed copy of a NUL-terminated string (str or address); 0 for NULL."""
        if isinstance(s, str):
            data = s.encode() + b"\0"
        else:
            if not s:
                return 0
            buf = bytearray()
            addr = s
            while True:
                chunk = self.read(addr, 64)
                nul = chunk.find(b"\0")
                if nul >= 0:
                    buf += chunk[: nul + 1]
                    break
                buf += chunk
                addr += 64
            data = bytes(buf)
        p = self.kmalloc(len(data), gfp)
        if p:
            self.write(p, data)
        return p

    @EXPORT_SYMBOL
    def kmalloc_size_roundup(self, size: int) -> int:
        """kmalloc_size_roundup(): the size kmalloc(size) really hands out."""
        if size and size <= KMALLOC_MAX_CACHE_SIZE:
            return self._by_size[KMALLOC_NORMAL][size].size
        if size > KMALLOC_MAX_SIZE:
            return size  # kmalloc() would fail; the kernel returns the size unchanged
        return (self.page_size << get_order(size, self.page_shift)) if size else 0

    @EXPORT_SYMBOL
    def kmem_cache_alloc_bulk(self, s: KmemCache, gfp: int, nr: int) -> list[int]:
        """kmem_cache_alloc_bulk(): `nr` objects, or none at all (the kernel returns 0)."""
        objs: list[int] = []
        for _ in range(nr):
            obj = self.kmem_cache_alloc(s, gfp)
            if not obj:
                self.kmem_cache_free_bulk(s, objs)
                return []
            objs.append(obj)
        return objs

    @EXPORT_SYMBOL
    def kmem_cache_free_bulk(self, s: KmemCache | None, objs: list[int]) -> None:
        """kmem_cache_free_bulk(); with s = NULL it is kfree_bulk() of kmalloc objects."""
        for obj in objs:
            if s is None:
                self.kfree(obj)
            else:
                self.kmem_cache_free(s, obj)

    @EXPORT_SYMBOL
    def kfree_bulk(self, objs: list[int]) -> None:
        """kfree_bulk(): kmem_cache_free_bulk(NULL, ...)."""
        self.kmem_cache_free_bulk(None, objs)

    @EXPORT_SYMBOL
    def kmem_buckets_create(
        self,
        name: str,
        flags: int = 0,
        useroffset: int = 0,
        usersize: int = 0,
        ctor: Callable[[int], Any] | None = None,
    ) -> list[KmemCache | None] | None:
        """mm/slab_common.c kmem_buckets_create(): a private set of kmalloc size classes.

        One unmergeable cache "<name>-<size>" per normal kmalloc cache, with the
        usercopy window clipped to each size (msg_msg-8 ... msg_msg-8k). Returns
        the bucket array indexed like kmalloc_caches[], for kmem_buckets_alloc().
        """
        buckets: list[KmemCache | None] = [None] * (KMALLOC_SHIFT_HIGH + 1)
        flags = int(flags) | int(SLAB_NO_MERGE)
        for idx, base in enumerate(self.kmalloc_caches[KMALLOC_NORMAL]):
            if base is None:
                continue
            size = base.object_size
            if useroffset >= size:
                c_off, c_size = 0, 0
            else:
                c_off, c_size = useroffset, min(size - useroffset, usersize)
            short = base.name.split("-", 1)[1]
            s = self.kmem_cache_create(f"{name}-{short}", size, 0, flags, ctor, c_off, c_size)
            if s is None:
                return None
            buckets[idx] = s
        return buckets

    @EXPORT_SYMBOL
    def kmem_buckets_alloc(self, b: list[KmemCache | None], size: int, gfp: int) -> int:
        """kmem_buckets_alloc(): kmalloc() from a bucket set (large sizes still from pages)."""
        if size > KMALLOC_MAX_CACHE_SIZE or size <= 0:
            return self.kmalloc(size, gfp)
        s = b[self.kmalloc_index(size)]
        if s is None:
            return self.kmalloc(size, gfp)
        return self.slab_alloc(s, int(gfp), size)

    # ------------------------------------------------------------------ /proc and /sys
    def count_free(self, s: KmemCache) -> int:
        """count_partial(n, count_free): free objects on the node's partial slabs."""
        return sum(slab.objects - slab.inuse for slab in s.node.partial)

    def objects_inuse(self, s: KmemCache) -> int:
        """Objects of `s` really allocated: what only a model can count exactly.

        /sys/kernel/slab/<cache>/objects counts a CPU's slabs as fully used; here
        the free objects of the CPU freelists, of the CPU slabs' remote frees and
        of the CPU partial slabs are subtracted too.
        """
        free = self.count_free(s)
        for c in s.cpu_slab:
            if c.slab is not None:
                free += len(self.slab_free_objects(s, c.slab))
            free += sum(slab.objects - slab.inuse for slab in c.partial)
        return s.node.total_objects - free

    def slabinfo(self) -> str:
        """/proc/slabinfo (mm/slab_common.c slab_show, version 2.1), newest cache first."""
        lines = [
            "slabinfo - version: 2.1",
            "# name            <active_objs> <num_objs> <objsize> <objperslab> "
            "<pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata "
            "<active_slabs> <num_slabs> <sharedavail>",
        ]
        for s in reversed(self.caches):
            n = s.node
            num_objs = n.total_objects
            active = num_objs - self.count_free(s)
            lines.append(
                f"{s.name:<17} {active:6d} {num_objs:6d} {s.size:6d} {s.oo_objects:4d} "
                f"{1 << s.oo_order:4d} : tunables {0:4d} {0:4d} {0:4d} : slabdata "
                f"{n.nr_slabs:6d} {n.nr_slabs:6d} {0:6d}"
            )
        return "\n".join(lines) + "\n"

    def sysfs_attrs(self, s: KmemCache) -> dict[str, Callable[[], str]]:
        """The attribute files of /sys/kernel/slab/<cache>/ (mm/slub.c slab_attrs)."""
        f = s.flags

        def num(v: Callable[[], int]) -> Callable[[], str]:
            return lambda: f"{v()}\n"

        def per_node(v: Callable[[], int]) -> Callable[[], str]:
            def show() -> str:
                x = v()
                return f"{x} N0={x}\n" if x else "0\n"

            return show

        def ctor() -> str:
            if s.ctor is None:
                return ""
            name = getattr(s.ctor, "__name__", "ctor")
            return f"{name}+0x0/0x10\n"

        def cpu_slabs() -> int:
            return sum(1 for c in s.cpu_slab if c.slab is not None) + sum(
                len(c.partial) for c in s.cpu_slab
            )

        def slabs_cpu_partial() -> str:
            # Objects are estimated as half the capacity (slub_set_cpu_partial()).
            half = s.oo_objects
            total = sum(len(c.partial) for c in s.cpu_slab)
            parts = [
                f" C{cpu}={len(c.partial) * half // 2}({len(c.partial)})"
                for cpu, c in enumerate(s.cpu_slab)
                if c.partial
            ]
            return f"{total * half // 2}({total})" + "".join(parts) + "\n"

        return {
            "slab_size": num(lambda: s.size),
            "object_size": num(lambda: s.object_size),
            "objs_per_slab": num(lambda: s.oo_objects),
            "order": num(lambda: s.oo_order),
            "min_partial": num(lambda: s.min_partial),
            "cpu_partial": num(lambda: s.cpu_partial),
            "objects": per_node(lambda: s.node.total_objects - self.count_free(s)),
            "objects_partial": per_node(lambda: sum(sl.inuse for sl in s.node.partial)),
            "partial": per_node(lambda: s.node.nr_partial),
            "cpu_slabs": per_node(cpu_slabs),
            "slabs": per_node(lambda: s.node.nr_slabs),
            "total_objects": per_node(lambda: s.node.total_objects),
            "slabs_cpu_partial": slabs_cpu_partial,
            "ctor": ctor,
            "aliases": num(lambda: max(s.refcount - 1, 0)),
            "align": num(lambda: s.align),
            "hwcache_align": num(lambda: int(bool(f & SLAB_HWCACHE_ALIGN))),
            "reclaim_account": num(lambda: int(bool(s.flags & SLAB_RECLAIM_ACCOUNT))),
            "cache_dma": num(lambda: int(bool(s.flags & SLAB_CACHE_DMA))),
            "usersize": num(lambda: s.usersize),
            "destroy_by_rcu": num(lambda: int(bool(s.flags & SLAB_TYPESAFE_BY_RCU))),
            "sanity_checks": num(lambda: int(bool(s.flags & SLAB_CONSISTENCY_CHECKS))),
            "trace": num(lambda: int(bool(s.flags & SLAB_TRACE))),
            "red_zone": num(lambda: int(bool(s.flags & SLAB_RED_ZONE))),
            "poison": num(lambda: int(bool(s.flags & SLAB_POISON))),
            "store_user": num(lambda: int(bool(s.flags & SLAB_STORE_USER))),
            "sheaf_capacity": num(lambda: 0),
            "remote_node_defrag_ratio": num(lambda: 100),
            "validate": lambda: "",
            "shrink": lambda: "",
        }

    def register_fs(self) -> None:
        """/proc/slabinfo and the generated /sys/kernel/slab tree."""
        from kmemsim.fs.libfs import Link

        fs = self.k.fs
        fs.create_file("/proc/slabinfo", self.slabinfo)

        def entries() -> dict[str, KmemCache | str]:
            out: dict[str, KmemCache | str] = {}
            for s in self.caches:
                d = self.sysfs_name(s)
                out[d] = s
                if s.unique_id:
                    out.setdefault(s.name, d)
                    for a in s.aliases:
                        out.setdefault(a, d)
            return out

        def lookup(rel: str) -> Any:
            first, _, rest = rel.partition("/")
            ent = entries().get(first)
            if ent is None:
                return None
            if isinstance(ent, str):
                return Link(ent) if not rest else None
            if not rest:
                return None
            return self.sysfs_attrs(ent).get(rest)

        fs.create_dir("/sys/kernel/slab", lookup, lambda: list(entries()))
