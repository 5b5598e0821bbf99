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
from kmemsim.include.linux.gfp_types import GFP, GFP_KERNEL, GFP_NOWAIT
from kmemsim.include.linux.poison import LIST_POISON1, LIST_POISON2
from kmemsim.include.linux.slab import (
    KMALLOC_MAX_CACHE_SIZE,
    KMALLOC_MAX_SIZE,
    KMALLOC_NORMAL,
    KMALLOC_SHIFT_HIGH,
    ZERO_SIZE_PTR,
    KmallocTypes,
    SlabFlags,
    hash_64,
)
from kmemsim.mm.debug import warn
from kmemsim.mm.slab import KmemCache, Slab, SlabState
from kmemsim.mm.slub import (
    _SLAB_ACCOUNT,
    _SLAB_CACHE_DMA,
    _SLAB_CONSISTENCY_CHECKS,
    _SLAB_HWCACHE_ALIGN,
    _SLAB_KMALLOC,
    _SLAB_MERGE_SAME,
    _SLAB_NEVER_MERGE,
    _SLAB_NO_MERGE,
    _SLAB_PANIC,
    _SLAB_POISON,
    _SLAB_RECLAIM_ACCOUNT,
    _SLAB_RED_ZONE,
    _SLAB_STORE_USER,
    _SLAB_TRACE,
    _SLAB_TYPESAFE_BY_RCU,
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
GFP_DMA = int(GFP.DMA)
GFP_RECLAIMABLE = int(GFP.RECLAIMABLE)


def slab_is_available(k: Kernel) -> bool:
    """mm/slab_common.c slab_is_available(): kmalloc works (slab_state >= UP).

    Boot code that runs before kmem_cache_init() asks it to choose between the
    slab allocator and memblock (or, in the model, no allocation at all)."""
    return k.slab_state >= SlabState.UP


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


# Offset of struct kmem_cache's `list` (the slab_caches link) on x86_64 6.18 SLUB:
# after cpu_slab, flags, min_partial, size/object_size, reciprocal_size, offset,
# cpu_partial(_slabs), oo, min, allocflags, refcount, ctor, inuse, align,
# red_left_pad and name.
KMEM_CACHE_LIST_OFFSET = 96


class SlabAllocator(Slub):
    """The slab layer of one kernel: caches, merging, kmalloc and the pseudo files."""

    def __init__(self, k: Kernel) -> None:
        super().__init__(k)
        # ARCH_DMA_MINALIGN: ARM32 kmalloc objects must not share a cache line with
        # another object (non-coherent DMA), so kmalloc starts at the line size there.
        self.kmalloc_min_size = k.arch.kmalloc_minalign or self.cache_line
        self.kmalloc_minalign = self.kmalloc_min_size
        self.kmalloc_shift_low = self.kmalloc_min_size.bit_length() - 1
        self.size_index = setup_kmalloc_cache_index_table(self.kmalloc_min_size)
        self.memcg = bool(k.config["MEMCG"])
        self.zone_dma = bool(k.config["ZONE_DMA"])
        # RANDOM_KMALLOC_CACHES depends on !SLUB_TINY (mm/Kconfig): no copies there.
        self.random_kmalloc = bool(k.config["RANDOM_KMALLOC_CACHES"]) and not self.slub_tiny
        self.kmalloc_types = KmallocTypes(
            random=self.random_kmalloc,
            slub_tiny=self.slub_tiny,
            zone_dma=self.zone_dma,
            memcg=self.memcg,
        )
        # KMALLOC_NOT_NORMAL_BITS
        self.kmalloc_not_normal = (
            int(GFP.RECLAIMABLE)
            | (int(GFP.DMA) if self.zone_dma else 0)
            | (int(GFP.ACCOUNT) if self.memcg else 0)
        )
        self.random_kmalloc_seed = 0
        # CONFIG_DEBUG_VM: kmem_cache_sanity_check() warns of duplicate names.
        self.debug_vm = bool(k.config["DEBUG_VM"])
        self.kmalloc_caches: list[list[KmemCache | None]] = [
            [None] * (KMALLOC_SHIFT_HIGH + 1) for _ in range(self.kmalloc_types.nr)
        ]
        # kmalloc_slab() answers for every size 0..KMALLOC_MAX_CACHE_SIZE, per type.
        self._by_size: list[list[KmemCache]] = []
        # The caches the descriptors live in: mm/slab_common.c's kmem_cache and
        # mm/slub.c's kmem_cache_node (set by kmem_cache_init()'s bootstrap()).
        self.kmem_cache_cache: KmemCache | None = None
        self.kmem_cache_node_cache: KmemCache | None = None
        self.slab_caches_head = 0  # &slab_caches, once link_slab_caches() has run

    # ------------------------------------------------------------------ descriptors
    def link_slab_caches(self) -> None:
        """bootstrap()'s list_add() and slab_caches' LIST_HEAD(): the list in memory.

        The cache list is a list_head in each descriptor (struct kmem_cache's
        `list`), threaded through the global `slab_caches`; it is what makes
        every descriptor reachable (kmemleak scans the image and follows it).
        From here on add_cache() and kmem_cache_destroy() keep it.
        """
        from kmemsim.arch.sections import bss_section, global_var

        k = self.k
        if not k.machine.is_ram(bss_section(k)[0], k.machine.page_size):
            # A what-if machine smaller than the kernel image (its .bss lies beyond
            # RAM; no real kernel would boot there): the list lives in the model only.
            return
        head = global_var(k, "slab_caches", 16)
        self.slab_caches_head = head
        asp = self.k.address_space
        asp.write_ulong(head, head)
        asp.write_ulong(head + 8, head)
        for s in self.caches:
            if s.addr:
                self._list_add_tail(s)

    def _list_add_tail(self, s: KmemCache) -> None:
        head = self.slab_caches_head
        asp = self.k.address_space
        node = s.addr + KMEM_CACHE_LIST_OFFSET
        prev = asp.read_ulong(head + 8)
        asp.write_ulong(node, head)  # next
        asp.write_ulong(node + 8, prev)  # prev
        asp.write_ulong(prev, node)  # prev->next
        asp.write_ulong(head + 8, node)

    def _list_del(self, s: KmemCache) -> None:
        """list_del(): unlink, and poison the entry (LIST_POISON1/2)."""
        asp = self.k.address_space
        node = s.addr + KMEM_CACHE_LIST_OFFSET
        nxt = asp.read_ulong(node)
        prev = asp.read_ulong(node + 8)
        asp.write_ulong(prev, nxt)
        asp.write_ulong(nxt + 8, prev)
        asp.write_ulong(node, LIST_POISON1)
        asp.write_ulong(node + 8, LIST_POISON2)

    def alloc_descriptor(self, s: KmemCache, gfp: int) -> None:
        """The memory a new cache takes: create_cache()'s (or create_kmalloc_cache()'s)
        kmem_cache_zalloc(kmem_cache, gfp) for struct kmem_cache, then
        init_kmem_cache_nodes()'s kmem_cache_alloc_node(kmem_cache_node, GFP_KERNEL,
        node) for the node's struct kmem_cache_node (mm/slub.c). A merged cache
        (__kmem_cache_alias()) takes none: it is the existing cache."""
        kc = self.kmem_cache_cache
        if kc is not None:
            s.addr = self.kmem_cache_alloc(kc, int(gfp) | int(GFP.ZERO))
        kn = self.kmem_cache_node_cache
        if kn is not None:
            s.node_addr = self.kmem_cache_alloc_node(kn, int(GFP_KERNEL), 0)

    def release_descriptor(self, s: KmemCache) -> None:
        """kmem_cache_release(): free_kmem_cache_nodes() gives the node structures back
        to kmem_cache_node, then kmem_cache_free(kmem_cache, s) the descriptor."""
        if s.node_addr and self.kmem_cache_node_cache is not None:
            self.kmem_cache_free(self.kmem_cache_node_cache, s.node_addr)
            s.node_addr = 0
        if s.addr and self.kmem_cache_cache is not None:
            self.kmem_cache_free(self.kmem_cache_cache, s.addr)
            s.addr = 0

    # ------------------------------------------------------------------ kmalloc caches
    def kmalloc_type(self, gfp: int, caller: int = 0) -> int:
        """include/linux/slab.h kmalloc_type(): which kmalloc_caches[] row serves `gfp`.

        __GFP_DMA wins over __GFP_RECLAIMABLE, which wins over __GFP_ACCOUNT.
        With RANDOM_KMALLOC_CACHES a normal request goes to one of 16 rows
        (kmalloc-* and kmalloc-rnd-01-* .. kmalloc-rnd-15-*) chosen by
        hash_64(caller ^ random_kmalloc_seed, 4): each call site (_RET_IP_)
        always gets the same copy, and a boot's seed decides which.
        """
        kt = self.kmalloc_types
        if not gfp & self.kmalloc_not_normal:
            if self.random_kmalloc:
                return kt.random_start + hash_64(
                    caller ^ self.random_kmalloc_seed, (kt.random_nr + 1).bit_length() - 1
                )
            return kt.normal
        if self.zone_dma and gfp & GFP_DMA:
            return kt.dma
        if not self.memcg or gfp & GFP_RECLAIMABLE:
            return kt.reclaim
        return kt.cgroup

    def kmalloc_index(self, size: int) -> int:
        """The kmalloc cache index of `size` (kmalloc_slab(): size_index[] up to 192)."""
        if size <= 192:
            return self.size_index[(size - 1) // 8] if size else 0
        return (size - 1).bit_length()

    def kmalloc_slab(
        self, size: int, gfp: int, caller: int = 0, b: list[KmemCache | None] | None = None
    ) -> KmemCache:
        """mm/slab.h kmalloc_slab(): the cache for `size` bytes (from bucket set `b` if given)."""
        if b is not None:
            s = b[self.kmalloc_index(size)]
            if s is not None:
                return s
        return self._by_size[self.kmalloc_type(int(gfp), caller)][size]

    def new_kmalloc_cache(self, idx: int, ktype: int) -> None:
        """mm/slab_common.c new_kmalloc_cache()."""
        kt = self.kmalloc_types
        flags = 0
        if kt.reclaim != kt.normal and ktype == kt.reclaim:
            flags |= _SLAB_RECLAIM_ACCOUNT
        elif self.memcg and ktype == kt.cgroup:
            flags |= _SLAB_ACCOUNT
        elif self.zone_dma and ktype == kt.dma:
            flags |= _SLAB_CACHE_DMA
        if self.random_kmalloc and kt.random_start <= ktype <= kt.random_end:
            flags |= _SLAB_NO_MERGE
        if self.memcg and ktype == kt.normal:
            flags |= _SLAB_NO_MERGE
        size = kmalloc_index_size(idx)
        name = kt.prefix[ktype] + kmalloc_size_name(idx)
        s = self.create_boot_cache(name, size, int(flags) | int(_SLAB_KMALLOC), 0, size)
        self.kmalloc_caches[ktype][idx] = s

    def create_boot_cache(
        self, name: str, size: int, flags: int, useroffset: int, usersize: int
    ) -> KmemCache:
        """mm/slab_common.c create_boot_cache()/create_kmalloc_cache()."""
        align = self.kmalloc_minalign
        if flags & _SLAB_KMALLOC:
            # The largest power of two dividing the size (the size itself for 2**n).
            align = max(align, size & -size)
        align = calculate_alignment(flags, align, size, self.cache_line, self.word)
        s = KmemCache(name, size, align, flags, None, useroffset, usersize)
        s.is_kmalloc = True
        if not self.kmem_cache_open(s):
            raise Oops(f"Creation of kmalloc slab {name} size={size} failed.")
        self.alloc_descriptor(s, int(GFP_NOWAIT))
        s.refcount = 1
        self.add_cache(s)
        return s

    def create_kmalloc_caches(self) -> None:
        """mm/slab_common.c create_kmalloc_caches(): every type, 8 .. KMALLOC_MAX_CACHE_SIZE."""
        # Every configured type in enum order: kmalloc-*, the kmalloc-rnd-NN-* copies,
        # kmalloc-rcl-*, dma-kmalloc-*, kmalloc-cg-*.
        types = sorted(set(self.kmalloc_types.prefix))
        for ktype in types:
            # The sizes that are not powers of two first, where KMALLOC_MIN_SIZE lets
            # them exist; then 8 .. 8k (the order /proc/slabinfo shows, newest first).
            if self.kmalloc_min_size <= 32:
                self.new_kmalloc_cache(1, ktype)
            if self.kmalloc_min_size <= 64:
                self.new_kmalloc_cache(2, ktype)
            for i in range(self.kmalloc_shift_low, KMALLOC_SHIFT_HIGH + 1):
                self.new_kmalloc_cache(i, ktype)
        if self.random_kmalloc:
            self.random_kmalloc_seed = self._rng.getrandbits(64)  # get_random_u64()
        if self.k.config["SLAB_BUCKETS"]:
            # kmem_buckets_cache: one kmem_cache pointer per kmalloc index, never merged.
            self.kmem_cache_create(
                "kmalloc_buckets", (KMALLOC_SHIFT_HIGH + 1) * self.word, 0, int(_SLAB_NO_MERGE)
            )
        normal = self.kmalloc_caches[KMALLOC_NORMAL]
        self._by_size = []
        for kt in range(self.kmalloc_types.nr):
            row = self.kmalloc_caches[kt]
            table: list[KmemCache] = []
            for size in range(KMALLOC_MAX_CACHE_SIZE + 1):
                idx = self.kmalloc_index(size) if size else self.kmalloc_shift_low
                cache = row[idx] or normal[idx]
                assert cache is not None
                table.append(cache)
            self._by_size.append(table)
        self.k.slab_state = SlabState.UP  # "Kmalloc array is now usable"

    # ------------------------------------------------------------------ cache list
    def add_cache(self, s: KmemCache) -> None:
        """create_cache()'s list_add() and do_kmem_cache_create()'s sysfs_slab_add().

        An unmergeable cache's /sys/kernel/slab directory carries its name, so a
        second cache of one name (slab_nomerge, or a cache that never merges)
        cannot get one: kobject_add() fails with -EEXIST and its reports, and,
        as 6.18 lets cache creation proceed when sysfs registration fails, the
        cache works without a directory.
        """
        s.unique_id = "" if self.slab_unmergeable(s) else self.create_unique_id(s)
        d = self.sysfs_name(s)
        if self.k.slab_state >= SlabState.FULL and any(
            c.sysfs and self.sysfs_name(c) == d for c in self.caches
        ):
            log = self.k.log
            log.pr_warn(f"sysfs: cannot create duplicate filename '/kernel/slab/{d}'")
            self.k.sched.dump_stack(
                ["sysfs_warn_dup", "kernfs_create_dir_ns", "kobject_add_internal"]
            )
            log.pr_err(
                f"kobject: kobject_add_internal failed for {d} with -EEXIST, don't try to "
                "register things with the same name in the same directory."
            )
            log.pr_err(f"SLUB: Unable to add cache {s.name} to sysfs")
            s.sysfs = False
        self.caches.append(s)
        if self.slab_caches_head and s.addr:
            self._list_add_tail(s)

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
        if flags & _SLAB_NEVER_MERGE:
            return None
        size = (size + self.word - 1) & ~(self.word - 1)
        align = calculate_alignment(flags, align, size, self.cache_line, self.word)
        size = (size + align - 1) & ~(align - 1)
        for s in reversed(self.caches):
            if self.slab_unmergeable(s):
                continue
            if size > s.size:
                continue
            if (flags & _SLAB_MERGE_SAME) != (s.flags & _SLAB_MERGE_SAME):
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
                if freeptr_offset is None and flags & _SLAB_TYPESAFE_BY_RCU:
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
                not flags & _SLAB_TYPESAFE_BY_RCU
                or freeptr_offset % self.word
                or freeptr_offset > size - self.word
            )
        ):
            err = -22
        if not err and self.debug_vm:
            # kmem_cache_sanity_check(): duplicate names confuse slabtop and the like.
            if any(c.name == name for c in self.caches):
                warn(
                    self.k,
                    "mm/slab_common.c",
                    "kmem_cache_sanity_check",
                    f"kmem_cache of name '{name}' already exists",
                    once=False,
                )
            if " " in name:  # it confuses parsers
                warn(self.k, "mm/slab_common.c", "kmem_cache_sanity_check", once=False)
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
        self.alloc_descriptor(s, int(GFP_KERNEL))
        s.refcount = 1
        self.add_cache(s)
        return s

    def _create_failed(self, name: str, flags: int, err: int) -> None:
        """The end of a failed __kmem_cache_create_args(): a panic or a warning and NULL."""
        log = self.k.log
        if flags & _SLAB_PANIC:
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
        return self.k.sched.in_interrupt()

    @EXPORT_SYMBOL
    def kmem_cache_destroy(self, s: KmemCache | None) -> None:
        """mm/slab_common.c kmem_cache_destroy() of 6.18: drop a reference; the last shuts down.

        NULL is ignored. The reference count drops and anything but 0 ends
        it: a merged cache lives on for its other creators, and a second
        destroy of a cache already gone (its descriptor freed: a use-after-free
        the kernel without KASAN does not notice) takes the count below 0 and
        does nothing else. At 0, __kmem_cache_shutdown() flushes the CPU
        slabs, frees the empty slabs and reports each partial slab still
        holding objects (list_slab_objects()); if any slab remains, the WARN
        "kmem_cache_destroy <name>: Slab cache still has objects when called
        from <caller>". Either way the cache leaves the cache list, so
        /proc/slabinfo and /sys/kernel/slab no longer show it; a cache with
        objects is leaked (its descriptor and slabs stay, still counted as
        slab memory, and its objects may still be freed), otherwise released.
        """
        if s is None:
            return
        # kasan_check_byte(s) would report a freed descriptor here (the descriptor is not
        # in simulated memory, so KASAN cannot see it).
        rcu = self.k.rcu
        if rcu is not None and rcu.cblist:
            rcu.rcu_barrier()  # kvfree_rcu_barrier(), and SLUB_RCU_DEBUG's delayed frees
        s.refcount -= 1
        if s.refcount:
            return
        if self.kasan is not None:
            self.kasan.quarantine_remove_cache(s)  # kasan_cache_shutdown()
        err = self.kmem_cache_shutdown(s)
        if err:
            # WARN(), not WARN_ONCE(): every such destroy is reported.
            warn(
                self.k,
                "mm/slab_common.c",
                "kmem_cache_destroy",
                f"kmem_cache_destroy {s.name}: Slab cache still has objects "
                f"when called from {self.symbol(self.caller_address())}",
                once=False,
            )
        if s in self.caches:
            self.caches.remove(s)  # list_del(&s->list)
            if self.slab_caches_head and s.addr:
                self._list_del(s)
        s.sysfs = False  # sysfs_slab_unlink()
        if err:
            self.leaked_caches.append(s)
            return
        if s.flags & _SLAB_TYPESAFE_BY_RCU and rcu is not None and rcu.cblist:
            rcu.rcu_barrier()  # the slabs' pages go back after their grace period
        self.release_descriptor(s)

    def kmem_cache_shutdown(self, s: KmemCache) -> int:
        """mm/slub.c __kmem_cache_shutdown(): flush, free_partial(); 1 if slabs remain."""
        self.flush_all(s)
        for slab in list(s.node.partial):  # free_partial()
            if slab.inuse == 0:
                self.remove_partial(s, slab)
                self.discard_slab(s, slab)
            else:
                self.list_slab_objects(s, slab)
        return 1 if s.node.nr_partial or s.node.nr_slabs else 0

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

    @EXPORT_SYMBOL
    def kmem_cache_shrink(self, s: KmemCache) -> int:
        """kmem_cache_shrink(): 0 when every slab went back, 1 when some are in use."""
        if self.kasan is not None:
            self.kasan.quarantine_remove_cache(s)  # kasan_cache_shrink()
        return self.kmem_cache_shrink_cache(s)

    # ------------------------------------------------------------------ kmalloc family
    @EXPORT_SYMBOL
    def ksize(self, p: int) -> int:
        """ksize(): the usable size of the object at `p` (0 for NULL and ZERO_SIZE_PTR)."""
        if p <= ZERO_SIZE_PTR:
            return 0
        if self.kasan is not None and not self.kasan.kasan_check_byte(p):
            return 0
        slab = self.virt_to_slab(p)
        kfence = self.k.kfence
        if kfence is not None and kfence.is_kfence_address(p):
            return kfence.ksize(p)  # kfence_ksize(): the exact size
        if slab is not None:
            if self.kasan is not None:
                return slab.cache.object_size  # SLAB_KASAN
            return self.slab_ksize(slab.cache)
        large = self.large_kmalloc.get((p + self._pa_offset) >> self.page_shift)
        if large is not None:
            return self.page_size << large[1]
        self.warn("mm/slab_common.c", "__ksize")
        return 0

    @staticmethod
    def slab_ksize(s: KmemCache) -> int:
        """mm/slab.h slab_ksize(): what a user of the object may touch."""
        if s.flags & (_SLAB_RED_ZONE | _SLAB_POISON):
            return s.object_size
        if s.flags & (_SLAB_TYPESAFE_BY_RCU | _SLAB_STORE_USER):
            return s.inuse
        return s.size

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
        flags = int(flags) | int(_SLAB_NO_MERGE)
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
        return self.kmalloc(size, gfp, -1, 0, b)

    # ------------------------------------------------------------------ /proc and /sys
    def count_free(self, s: KmemCache) -> int:
        """count_partial(n, count_free): free objects on the node's partial slabs."""
        return sum(slab.objects - slab.inuse for slab in s.node.partial)

    def objects_inuse(self, s: KmemCache) -> int:
        """Objects of `s` really allocated: what only a model can count exactly, in O(1).

        /sys/kernel/slab/<cache>/objects counts a CPU's slabs as fully used;
        this counter, kept by slab_alloc_node() and slab_free(), leaves out the
        free objects of the CPU freelists and CPU partial slabs too (it equals
        total_objects minus every free object on every freelist).
        """
        return s.inuse_objects

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
            "hwcache_align": num(lambda: int(bool(f & _SLAB_HWCACHE_ALIGN))),
            "reclaim_account": num(lambda: int(bool(s.flags & _SLAB_RECLAIM_ACCOUNT))),
            "cache_dma": num(lambda: int(bool(s.flags & _SLAB_CACHE_DMA))),
            "usersize": num(lambda: s.usersize),
            "destroy_by_rcu": num(lambda: int(bool(s.flags & _SLAB_TYPESAFE_BY_RCU))),
            "sanity_checks": num(lambda: int(bool(s.flags & _SLAB_CONSISTENCY_CHECKS))),
            "trace": num(lambda: int(bool(s.flags & _SLAB_TRACE))),
            "red_zone": num(lambda: int(bool(s.flags & _SLAB_RED_ZONE))),
            "poison": num(lambda: int(bool(s.flags & _SLAB_POISON))),
            "store_user": num(lambda: int(bool(s.flags & _SLAB_STORE_USER))),
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
                if not s.sysfs:
                    continue
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
