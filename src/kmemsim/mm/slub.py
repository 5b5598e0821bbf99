"""Model of mm/slub.c: the SLUB allocator, its slab geometry, fast and slow paths and debugging.

Geometry. calculate_sizes() lays an object out as the kernel does: the
object rounded to a word, a right red zone word when SLAB_RED_ZONE has no
slack to use, the free pointer (inside the object, at the middle word, unless
a constructor, SLAB_TYPESAFE_BY_RCU or poisoning needs the object's bytes
intact, in which case it goes after the object), the alloc/free tracking of
SLAB_STORE_USER (two struct track, plus the kmalloc original size), the left
red zone, all rounded to the cache's alignment. calculate_order() picks the
smallest order whose leftover is within 1/16, then 1/8, 1/4, 1/2 of the slab,
starting from the order that holds min_objects (4 * (fls(nr_cpus) + 1)),
bounded by slub_min_order and slub_max_order. min_partial is ilog2(size)/2
clamped to 5..10, cpu_partial 6/24/52/120 objects by size.

Allocation. Each CPU has an active slab whose free objects form a lockless
freelist (`kmem_cache_cpu.freelist`); the fast path pops its head, reading the
next pointer from inside the free object in simulated memory, and a free of
an object of that slab on that CPU pushes it back, writing the pointer into
the object. Everything else is the slow path of ___slab_alloc() and
__slab_free(): the active slab's remote frees (slab->freelist), the CPU's
partial slabs, the node's partial list (taking up to cpu_partial_slabs / 2
more slabs to the CPU), and finally a new slab from the page allocator, tried
at the preferred order without warnings or retries and then at the minimum
order. A full slab is on no list; a free into it moves it to the CPU partial
list, which spills into the node list when it holds cpu_partial_slabs; an
empty slab beyond min_partial goes back to the buddy allocator.

Debugging. Caches with SLAB_DEBUG_FLAGS (per-cache flags or the slub_debug
boot parameter) use no CPU slabs: every allocation and free goes through
alloc_debug_processing()/free_debug_processing(), which check the red zones,
poison and free pointer bytes in simulated memory and print the kernel's
"BUG <cache> (Not tainted): ..." reports, then restore the bytes ("FIX").

SLAB_TYPESAFE_BY_RCU slabs are freed at once (no RCU grace period is
modelled); CONFIG_SLAB_FREELIST_HARDENED encodes each stored free pointer as
freelist_ptr_encode() does (pointer ^ s->random ^ byte-swapped location).
The host memory of a slab given back to the page allocator is dropped (its
bytes then read as zero), so host memory follows the slabs in use.
"""

from __future__ import annotations

import itertools
import random as _random
import struct as _struct
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kmemsim.include.linux.export import EXPORT_SYMBOL
from kmemsim.include.linux.gfp_types import GFP, show_gfp_flags
from kmemsim.include.linux.slab import (
    KMALLOC_MAX_CACHE_SIZE,
    SLAB_ACCOUNT,
    SLAB_CACHE_DMA,
    SLAB_CACHE_DMA32,
    SLAB_CONSISTENCY_CHECKS,
    SLAB_DEBUG_FLAGS,
    SLAB_HWCACHE_ALIGN,
    SLAB_KMALLOC,
    SLAB_MERGE_SAME,
    SLAB_NEVER_MERGE,
    SLAB_NO_MERGE,
    SLAB_NO_USER_FLAGS,
    SLAB_NOLEAKTRACE,
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
from kmemsim.mm.debug import warn
from kmemsim.mm.slab import KmemCache, KmemCacheCpu, Slab, SlabHooks, SlabState

# Whether this module runs compiled (setup.py builds it with mypyc where it can):
# its classes are then native, and their methods cannot be rebound on an instance.
COMPILED = not __file__.endswith(".py")

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel
    from kmemsim.mm.slab_common import SlabAllocator

# The SLAB_* flags as plain ints: the allocator's paths do no IntFlag arithmetic.
_SLAB_ACCOUNT = int(SLAB_ACCOUNT)
_SLAB_CACHE_DMA = int(SLAB_CACHE_DMA)
_SLAB_CACHE_DMA32 = int(SLAB_CACHE_DMA32)
_SLAB_CONSISTENCY_CHECKS = int(SLAB_CONSISTENCY_CHECKS)
_SLAB_DEBUG_FLAGS = int(SLAB_DEBUG_FLAGS)
_SLAB_HWCACHE_ALIGN = int(SLAB_HWCACHE_ALIGN)
_SLAB_KMALLOC = int(SLAB_KMALLOC)
_SLAB_NEVER_MERGE = int(SLAB_NEVER_MERGE)
_SLAB_NO_USER_FLAGS = int(SLAB_NO_USER_FLAGS)
_SLAB_NOLEAKTRACE = int(SLAB_NOLEAKTRACE)
_SLAB_POISON = int(SLAB_POISON)
_SLAB_RECLAIM_ACCOUNT = int(SLAB_RECLAIM_ACCOUNT)
_SLAB_RED_ZONE = int(SLAB_RED_ZONE)
_SLAB_STORE_USER = int(SLAB_STORE_USER)
_SLAB_TRACE = int(SLAB_TRACE)
_SLAB_TYPESAFE_BY_RCU = int(SLAB_TYPESAFE_BY_RCU)
_SLAB_PANIC = int(SLAB_PANIC)
_SLAB_NO_MERGE = int(SLAB_NO_MERGE)
_SLAB_MERGE_SAME = int(SLAB_MERGE_SAME)

# mm/slub.c constants.
_OBJECT_POISON = int(SlabFlags.OBJECT_POISON)  # __OBJECT_POISON
MIN_PARTIAL = 5
MAX_PARTIAL = 10
MAX_OBJS_PER_PAGE = 32767
SHRINK_PROMOTE_MAX = 32
# include/linux/poison.h
POISON_INUSE = 0x5A
POISON_FREE = 0x6B
POISON_END = 0xA5
SLUB_RED_INACTIVE = 0xBB
SLUB_RED_ACTIVE = 0xCC
# slub_debug letters (mm/slub.c parse_slub_debug_flags).
DEBUG_DEFAULT_FLAGS = _SLAB_CONSISTENCY_CHECKS | _SLAB_RED_ZONE | _SLAB_POISON | _SLAB_STORE_USER
_DEBUG_LETTERS = {
    "f": _SLAB_CONSISTENCY_CHECKS,
    "z": _SLAB_RED_ZONE,
    "p": _SLAB_POISON,
    "u": _SLAB_STORE_USER,
    "t": _SLAB_TRACE,
}
# include/linux/gfp.h masks new_slab() keeps from the caller's GFP.
GFP_RECLAIM_MASK = int(
    GFP.DIRECT_RECLAIM
    | GFP.KSWAPD_RECLAIM
    | GFP.HIGH
    | GFP.IO
    | GFP.FS
    | GFP.NOWARN
    | GFP.RETRY_MAYFAIL
    | GFP.NOFAIL
    | GFP.NORETRY
    | GFP.MEMALLOC
    | GFP.NOMEMALLOC
)
GFP_CONSTRAINT_MASK = int(GFP.HARDWALL | GFP.THISNODE)
GFP_SLAB_BUG_MASK = int(GFP.DMA32 | GFP.HIGHMEM) | ~((1 << 26) - 1)
_GFP_RECLAIM = int(GFP.DIRECT_RECLAIM | GFP.KSWAPD_RECLAIM)
GFP_NOWARN = int(GFP.NOWARN)
_GFP_NORETRY = int(GFP.NORETRY)
_GFP_NOFAIL = int(GFP.NOFAIL)
_GFP_NOMEMALLOC = int(GFP.NOMEMALLOC)
_GFP_DIRECT_RECLAIM = int(GFP.DIRECT_RECLAIM)
GFP_COMP = int(GFP.COMP)
SIZE_MAX = (1 << 64) - 1
# The text symbol each scenario function that calls the slab layer gets (caller_address()).
_SYMBOL_SIZE = 0x1000


def _align(x: int, a: int) -> int:
    return (x + a - 1) & ~(a - 1)


def get_order(size: int, page_shift: int = 12) -> int:
    """include/asm-generic/getorder.h get_order()."""
    return max(0, (size - 1) >> page_shift).bit_length()


def order_objects(order: int, size: int, page_shift: int = 12) -> int:
    """mm/slub.c order_objects(): objects of `size` bytes in a slab of 2**order pages."""
    return (1 << (order + page_shift)) // size


def calculate_alignment(
    flags: int, align: int, size: int, cache_line: int = 64, word: int = 8, minalign: int = 8
) -> int:
    """mm/slab_common.c calculate_alignment().

    SLAB_HWCACHE_ALIGN aligns to the cache line, halved while the object still
    fits twice in it; never below ARCH_SLAB_MINALIGN (__alignof__(unsigned long
    long), 8 on every architecture here), always a multiple of the word.
    """
    if flags & _SLAB_HWCACHE_ALIGN:
        ralign = cache_line
        while size <= ralign // 2:
            ralign //= 2
        align = max(align, ralign)
    align = max(align, minalign)
    return _align(align, word)


def calc_slab_order(
    size: int, min_order: int, max_order: int, fract_leftover: int, page_shift: int = 12
) -> int:
    """mm/slub.c calc_slab_order(): first order from min_order whose waste is <= 1/fract."""
    order = min_order
    while order <= max_order:
        slab_size = 1 << (order + page_shift)
        if slab_size % size <= slab_size // fract_leftover:
            break
        order += 1
    return order


def calculate_order(
    size: int,
    *,
    nr_cpus: int,
    min_order: int = 0,
    max_order: int = 3,
    min_objects: int = 0,
    max_page_order: int = 10,
    page_shift: int = 12,
) -> int:
    """mm/slub.c calculate_order(): the preferred slab order for objects of `size` bytes.

    Returns -1 (the kernel's -ENOSYS) when no order up to MAX_PAGE_ORDER fits one object.
    """
    if not min_objects:
        # 4 * (fls(nr_cpus) + 1): more CPUs, more objects per slab.
        min_objects = 4 * (nr_cpus.bit_length() + 1)
    max_objects = max(order_objects(max_order, size, page_shift), 1)
    min_objects = min(min_objects, max_objects)
    min_order = max(min_order, get_order(min_objects * size, page_shift))
    if order_objects(min_order, size, page_shift) > MAX_OBJS_PER_PAGE:
        return get_order(size * MAX_OBJS_PER_PAGE, page_shift) - 1
    fraction = 16
    while fraction > 1:
        order = calc_slab_order(size, min_order, max_order, fraction, page_shift)
        if order <= max_order:
            return order
        fraction //= 2
    order = get_order(size, page_shift)
    if order <= max_page_order:
        return order
    return -1


def parse_slub_debug(
    text: str, default: int = 0, unknown: list[str] | None = None
) -> tuple[int, list[tuple[int, list[str]]]]:
    """mm/slub.c setup_slub_debug(): the slab_debug= / slub_debug= boot parameter.

    Blocks "FLAGS[,cache,...]" are separated by ';'. A block without a cache
    list sets the global flags; a block with one applies to the caches it
    names ("name*" matches a prefix). No options at all ("y", a bare
    parameter) mean full debugging (F, Z, P, U), as does a list with no
    letters (",cache"); "-" switches debugging off. Returns (global flags,
    [(flags, cache patterns)...]); `default` is the global value when only
    lists are given (DEBUG_DEFAULT_FLAGS with CONFIG_SLUB_DEBUG_ON). Letters
    it does not know are skipped and appended to `unknown`, for the
    "slab_debug option 'q' unknown. skipped" error of parse_slub_debug_flags().
    """
    text = text.strip()
    if text.lower() in ("y", "yes", "1", "on", "true"):
        return int(DEBUG_DEFAULT_FLAGS), []
    global_flags = default
    lists: list[tuple[int, list[str]]] = []
    for block in text.split(";"):
        if not block:
            continue
        letters, comma, names = block.partition(",")
        if not letters and comma:
            flags = int(DEBUG_DEFAULT_FLAGS)
        else:
            flags = 0
            for ch in letters:
                low = ch.lower()
                if low == "-":
                    flags = 0
                elif low in _DEBUG_LETTERS:
                    flags |= int(_DEBUG_LETTERS[low])
                elif low not in "ao" and unknown is not None:
                    # 'a' (failslab) and 'o' change no layout here.
                    unknown.append(ch)
        if comma:
            lists.append((flags, [n for n in names.split(",") if n]))
        else:
            global_flags = flags
    return global_flags, lists


def _name_matches(pattern: str, name: str) -> bool:
    if "*" in pattern:
        return name.startswith(pattern[: pattern.index("*")])
    return name == pattern


class Slub:
    """The SLUB engine of one kernel; SlabAllocator (mm/slab_common.py) builds on it."""

    caches: list[KmemCache]
    # mm/slab_common.c state that SlabAllocator sets up: kmalloc_caches[] by type and
    # index, and per type the cache of every request size (kmalloc_slab()).
    kmalloc_caches: list[list[KmemCache | None]]
    _by_size: list[list[KmemCache]]
    kmalloc_not_normal: int  # KMALLOC_NOT_NORMAL_BITS
    random_kmalloc: bool  # CONFIG_RANDOM_KMALLOC_CACHES

    def kmalloc_slab(
        self, size: int, gfp: int, caller: int = 0, b: list[KmemCache | None] | None = None
    ) -> KmemCache:
        """mm/slab_common.c kmalloc_slab(): SlabAllocator's (mm/slab_common.py)."""
        raise NotImplementedError

    def __init__(self, k: Kernel) -> None:
        self.k = k
        cfg = k.config
        dm = k.direct_map
        self.page_shift: int = dm.page_shift
        self.page_size = 1 << self.page_shift
        self.word = k.arch.bits // 8  # sizeof(void *)
        self.byteorder: Any = k.mem.byteorder
        # struct track: addr, the stack depot handle, cpu, pid, when (with padding on 64-bit).
        self.track_size = 32 if self.word == 8 else 20
        self.nr_cpu_ids = int(k.machine.cpus)
        self.cache_line = 1 << k.arch.l1_cache_shift  # cache_line_size(): L1_CACHE_BYTES
        self.max_page_order = int(cfg["ARCH_FORCE_MAX_ORDER"])
        self.slub_min_order = min(int(cfg["slub_min_order"]), self.max_page_order)
        self.slub_max_order = max(
            min(int(cfg["slub_max_order"]), self.max_page_order), self.slub_min_order
        )
        self.slub_min_objects = int(cfg["slub_min_objects"])
        self.slub_tiny = bool(cfg["SLUB_TINY"])
        self.cpu_partial_enabled = bool(cfg["SLUB_CPU_PARTIAL"]) and not self.slub_tiny
        self.hardened = bool(cfg["SLAB_FREELIST_HARDENED"])
        self.freelist_random = bool(cfg["SLAB_FREELIST_RANDOM"])
        # setup_slab_nomerge() / setup_slab_merge(): the boot parameters.
        self.slab_nomerge = bool(cfg["slab_nomerge"]) and not bool(cfg["slab_merge"])
        default = int(DEBUG_DEFAULT_FLAGS) if cfg["SLUB_DEBUG_ON"] else 0
        unknown: list[str] = []
        self.slub_debug, self.debug_lists = parse_slub_debug(
            str(cfg["slub_debug"]), default, unknown
        )
        for ch in unknown:
            k.log.pr_err(f"slab_debug option '{ch}' unknown. skipped")
        if not cfg["SLUB_DEBUG"]:
            self.slub_debug, self.debug_lists = 0, []
        if self.slub_tiny:
            # SLUB_TINY: slub_max_order defaults to 1 (not PAGE_ALLOC_COSTLY_ORDER), and
            # SLUB_DEBUG cannot be built in (mm/Kconfig: depends on !SLUB_TINY).
            if not cfg.is_set("slub_max_order"):
                self.slub_max_order = max(1, self.slub_min_order)
            self.slub_debug, self.debug_lists = 0, []
        self._rng = _random.Random(0x51AB)
        # Simulated memory: every load and store through the kernel address space.
        self.aspace = k.address_space
        self._read_ulong = self.aspace.read_ulong
        self._write_ulong = self.aspace.write_ulong
        # __pa() of the direct map (arch/memory.py): virt_to_page() is this arithmetic.
        self._pa_offset = dm.phys_offset - dm.page_offset
        # pfn -> Slab for every page of every slab (virt_to_slab()).
        self.slab_of_pfn: dict[int, Slab] = {}
        self.caches = []
        self._sched: Any = k.sched
        # The inlined fast paths assume 4 KiB pages and 8-byte little-endian pointers.
        # KASAN (mm/kasan/): its slab hooks are attached below; its cache layout,
        # slab poisoning and page poisoning are called where the kernel calls them.
        self.kasan: Any = k.kasan
        self.kmemleak: Any = k.kmemleak
        self._taint_warned = False
        # struct track (mm/slub.c) and the text addresses of recorded callers.
        order = "<" if self.byteorder == "little" else ">"
        self._track_struct = _struct.Struct(order + ("QIIiIQ" if self.word == 8 else "IIIiI"))
        self._text_base = 0xFFFFFFFF81000000 if self.word == 8 else 0xC1000000
        self._sym_addr: dict[tuple[str, str, int], int] = {}
        self._sym_name: dict[int, str] = {}
        self._pkg_dir = str(Path(__file__).resolve().parent.parent)
        # Attached SlabHooks (KASAN, KFENCE, kmemleak, KMSAN, failslab models).
        self.hooks: tuple[SlabHooks, ...] = ()
        self._bind_free()
        if self.kasan is not None:
            self.attach_hooks(KasanSlabHooks(self, self.kasan))
        if self.kmemleak is not None:
            self.attach_hooks(KmemleakSlabHooks(self.kmemleak))
        # Large kmallocs: head pfn -> (struct page, order), and their pages.
        self.large_kmalloc: dict[int, tuple[Any, int]] = {}
        self.large_pages = 0
        # Caches kmem_cache_destroy() took off the list with objects left: leaked.
        self.leaked_caches: list[KmemCache] = []

    # ------------------------------------------------------------------ geometry
    def kmem_cache_flags(self, flags: int, name: str) -> int:
        """mm/slub.c kmem_cache_flags(): add the slub_debug flags that apply to `name`."""
        if flags & _SLAB_NO_USER_FLAGS:
            return flags
        for dflags, names in self.debug_lists:
            if any(_name_matches(p, name) for p in names):
                return flags | dflags
        local = self.slub_debug
        if flags & _SLAB_NOLEAKTRACE:
            local &= ~int(_SLAB_STORE_USER)
        return flags | local

    def calculate_sizes(self, s: KmemCache, forced_order: int = -1) -> bool:
        """mm/slub.c calculate_sizes(): object layout, size, order; False if impossible."""
        word = self.word
        flags = s.flags
        size = _align(s.object_size, word)
        if (flags & _SLAB_POISON) and not (flags & _SLAB_TYPESAFE_BY_RCU) and s.ctor is None:
            s.flags |= _OBJECT_POISON
        else:
            s.flags &= ~_OBJECT_POISON
        if (flags & _SLAB_RED_ZONE) and size == s.object_size:
            size += word  # room for a right red zone
        s.inuse = size
        orig_size_kept = bool(flags & _SLAB_STORE_USER) and bool(flags & _SLAB_KMALLOC)
        use_freeptr_offset = s.freeptr_offset is not None
        if (
            ((flags & _SLAB_TYPESAFE_BY_RCU) and not use_freeptr_offset)
            or (flags & _SLAB_POISON)
            or s.ctor is not None
            or ((flags & _SLAB_RED_ZONE) and (s.object_size < word or orig_size_kept))
        ):
            # The object's bytes must survive while it is free: pointer after it.
            s.offset = size
            size += word
        elif (flags & _SLAB_TYPESAFE_BY_RCU) and s.freeptr_offset is not None:
            # The creator reserved a word of the object that RCU readers never look at.
            s.offset = s.freeptr_offset
        else:
            # Mid-object, away from the edges an overflow would hit first.
            s.offset = (s.object_size // 2) & ~(word - 1)
        if flags & _SLAB_STORE_USER:
            size += 2 * self.track_size
            if flags & _SLAB_KMALLOC:
                size += 4  # the kmalloc request's original size
        if self.kasan is not None:
            # kasan_cache_create(): alloc/free metadata and the optimal redzone.
            size = self.kasan.cache_create(s, size, bool(self.slub_debug or self.debug_lists))
        s.red_left_pad = 0
        if flags & _SLAB_RED_ZONE:
            size += word
            s.red_left_pad = _align(word, s.align)
            size += s.red_left_pad
        size = _align(size, s.align)
        s.size = size
        if forced_order >= 0:
            order = forced_order
        else:
            order = calculate_order(
                size,
                nr_cpus=self.nr_cpu_ids,
                min_order=self.slub_min_order,
                max_order=self.slub_max_order,
                min_objects=self.slub_min_objects,
                max_page_order=self.max_page_order,
                page_shift=self.page_shift,
            )
        if order < 0:
            return False
        allocflags = int(GFP.COMP)
        if s.flags & _SLAB_CACHE_DMA:
            allocflags |= int(GFP.DMA)
        if s.flags & _SLAB_CACHE_DMA32:
            allocflags |= int(GFP.DMA32)
        if s.flags & _SLAB_RECLAIM_ACCOUNT:
            allocflags |= int(GFP.RECLAIMABLE)
        s.allocflags = allocflags
        s.oo_order = order
        s.oo_objects = order_objects(order, size, self.page_shift)
        s.min_order = get_order(size, self.page_shift)
        s.min_objects = order_objects(s.min_order, size, self.page_shift)
        return s.oo_objects > 0

    def set_min_partial(self, s: KmemCache) -> None:
        """mm/slub.c set_min_partial(s, ilog2(s->size) / 2)."""
        s.min_partial = min(MAX_PARTIAL, max(MIN_PARTIAL, (s.size.bit_length() - 1) // 2))

    def set_cpu_partial(self, s: KmemCache) -> None:
        """mm/slub.c set_cpu_partial(): objects kept on per-CPU partial slabs, by size."""
        if not self.cpu_partial_enabled or s.debug:
            nr_objects = 0
        elif s.size >= self.page_size:
            nr_objects = 6
        elif s.size >= 1024:
            nr_objects = 24
        elif s.size >= 256:
            nr_objects = 52
        else:
            nr_objects = 120
        s.cpu_partial = nr_objects
        # slub_set_cpu_partial(): about half the slabs are expected to be half full.
        s.cpu_partial_slabs = -(-nr_objects * 2 // s.oo_objects) if nr_objects else 0

    def kmem_cache_open(self, s: KmemCache) -> bool:
        """mm/slub.c do_kmem_cache_create(): debug flags, geometry, tuning, per-CPU state."""
        s.flags = self.kmem_cache_flags(s.flags, s.name)
        if self.slub_tiny:
            # SLAB_RECLAIM_ACCOUNT has no bit in SLUB_TINY kernels, nor debug flags effect.
            s.flags &= ~int(_SLAB_RECLAIM_ACCOUNT | _SLAB_DEBUG_FLAGS)
        if not self.calculate_sizes(s):
            return False
        s.flags = int(s.flags)
        s.debug = bool(s.flags & _SLAB_DEBUG_FLAGS)
        # slab_post_alloc_hook(): a debugged kmalloc cache zeroes the request size only.
        s.zero_orig_size = bool(s.flags & (_SLAB_STORE_USER | _SLAB_RED_ZONE)) and bool(
            s.flags & _SLAB_KMALLOC
        )
        self.set_min_partial(s)
        self.set_cpu_partial(s)
        s.cpu_slab = [KmemCacheCpu() for _ in range(self.nr_cpu_ids)]
        if self.hardened:
            s.random = self._rng.getrandbits(8 * self.word) | 1
        # The fast paths read and write a plain (not obfuscated) free pointer.
        s.fp_inline = not s.random
        return True

    def slab_unmergeable(self, s: KmemCache) -> bool:
        """mm/slab_common.c slab_unmergeable()."""
        if self.slab_nomerge or (s.flags & _SLAB_NEVER_MERGE):
            return True
        if self.kasan is not None:
            return True  # SLAB_KASAN, which every cache has under generic KASAN, never merges
        if s.ctor is not None:
            return True
        if s.usersize:  # CONFIG_HARDENED_USERCOPY
            return True
        return s.refcount < 0

    def create_unique_id(self, s: KmemCache) -> str:
        """mm/slub.c create_unique_id(): ":" flag letters "-" and the size in 7 digits."""
        letters = ""
        if s.flags & _SLAB_CACHE_DMA:
            letters += "d"
        if s.flags & _SLAB_CACHE_DMA32:
            letters += "D"
        if s.flags & _SLAB_RECLAIM_ACCOUNT:
            letters += "a"
        if s.flags & _SLAB_CONSISTENCY_CHECKS:
            letters += "F"
        if s.flags & _SLAB_ACCOUNT:
            letters += "A"
        return ":" + (letters + "-" if letters else "") + f"{s.size:07d}"

    # ------------------------------------------------------------------ simulated memory
    # Every load and store goes through the kernel address space (mm/kernel_as.py):
    # the direct map there is a range check and a frame lookup; a wild pointer faults
    # with the architecture's Oops. mm/slub.c is built without KASAN instrumentation,
    # so these are the uninstrumented accesses.
    def get_freepointer(self, s: KmemCache, obj: int) -> int:
        """get_freepointer(): the next free object, read from inside `obj`.

        With CONFIG_SLAB_FREELIST_HARDENED the stored value is
        freelist_ptr_decode()d: ptr ^ s->random ^ swab(address it is stored at).
        """
        ptr_addr = obj + s.offset
        val = self._read_ulong(ptr_addr)
        if s.random:
            val ^= s.random ^ self._swab(ptr_addr)
        return val

    def set_freepointer(self, s: KmemCache, obj: int, fp: int) -> None:
        """set_freepointer(): store the next free object inside `obj`.

        With CONFIG_SLAB_FREELIST_HARDENED an object pointing at itself (the
        naive double free) is a BUG().
        """
        ptr_addr = obj + s.offset
        if s.random:
            if obj == fp:
                self.bug("mm/slub.c", "set_freepointer")
            fp ^= s.random ^ self._swab(ptr_addr)
        self._write_ulong(ptr_addr, fp)

    def bug(self, file: str, func: str) -> None:
        """BUG(): "kernel BUG at ...!", the oops report, and the kernel dies (Oops)."""
        from kmemsim.errors import Oops

        log = self.k.log
        sched = self.k.sched
        log.pr_emerg("------------[ cut here ]------------")
        log.pr_emerg(f"kernel BUG at {file}!")
        log.pr_emerg("Oops: invalid opcode: 0000 [#1] SMP NOPTI")
        sched.taint("D")
        sched.dump_stack([func])
        raise Oops(f"kernel BUG at {file} ({func})")

    def _swab(self, x: int) -> int:
        return int.from_bytes(x.to_bytes(self.word, "little"), "big")

    def read(self, vaddr: int, n: int) -> bytes:
        return self.aspace.read(vaddr, n)

    def write(self, vaddr: int, data: bytes) -> None:
        self.aspace.write(vaddr, data)

    def fill(self, vaddr: int, byte: int, n: int) -> None:
        if n > 0:
            self.aspace.fill(vaddr, byte, n)

    # ------------------------------------------------------------------ context
    def current_cpu(self) -> int:
        """smp_processor_id(): the CPU the execution context runs on."""
        return int(self.k.sched.current_cpu)

    def might_alloc(self, gfp: int) -> None:
        """slab_pre_alloc_hook()'s might_alloc(): an allocation that may block may sleep."""
        self.k.sched.might_alloc(gfp, "slab_pre_alloc_hook")

    # ------------------------------------------------------------------ slabs from pages
    def allocate_slab(self, s: KmemCache, gfp: int) -> Slab | None:
        """mm/slub.c allocate_slab(): pages at the preferred order, else the minimum order."""
        pa = self.k.page_alloc
        if gfp & GFP_SLAB_BUG_MASK:
            gfp = self.kmalloc_fix_flags(gfp)
        flags = (gfp & (GFP_RECLAIM_MASK | GFP_CONSTRAINT_MASK)) | s.allocflags
        alloc_gfp = (flags | GFP_NOWARN | _GFP_NORETRY) & ~_GFP_NOFAIL
        if (alloc_gfp & _GFP_DIRECT_RECLAIM) and s.oo_order > s.min_order:
            alloc_gfp = (alloc_gfp | _GFP_NOMEMALLOC) & ~_GFP_RECLAIM
        order, objects = s.oo_order, s.oo_objects
        page = pa.alloc_pages(alloc_gfp, order)
        if page is None:
            order, objects = s.min_order, s.min_objects
            page = pa.alloc_pages(flags, order)
            if page is None:
                return None
        base = pa.page_address(page)
        pfn = page.pfn
        slab = Slab(s, page, pfn, base, order, objects)
        page.slab = slab
        page.owner = "slab"
        sop = self.slab_of_pfn
        for i in range(1 << order):
            sop[pfn + i] = slab
        n = s.node
        n.nr_slabs += 1
        n.total_objects += objects
        n.nr_pages += 1 << order
        if self.kasan is not None:
            self.kasan.poison_slab(slab)  # kasan_poison_slab()
        self.init_slab_objects(s, slab)
        return slab

    def init_slab_objects(self, s: KmemCache, slab: Slab) -> None:
        """shuffle_freelist() / the sequential freelist of allocate_slab(), and setup_object()."""
        size = s.size
        first = slab.base + s.red_left_pad
        objs = [first + i * size for i in range(slab.objects)]
        if self.freelist_random and len(objs) > 1:
            self._rng.shuffle(objs)
        if s.debug and s.flags & _SLAB_POISON:
            # setup_slab_debug(): the whole slab POISON_INUSE first (padding stays so).
            self.fill(slab.base, POISON_INUSE, self.page_size << slab.order)
        if s.debug and s.flags & (_SLAB_STORE_USER | _SLAB_RED_ZONE | _OBJECT_POISON):
            # setup_object_debug(): inactive red zones and poison, no owner yet.
            info = self.get_info_end(s)
            for obj in objs:
                self.init_object(s, obj, SLUB_RED_INACTIVE)
                if s.flags & _SLAB_STORE_USER:
                    self.fill(obj + info, 0, 2 * self.track_size)
        if s.ctor is not None:
            ctor = s.ctor
            for obj in objs:
                ctor(obj)
        setfp = self.set_freepointer
        for cur, nxt in itertools.pairwise(objs):
            setfp(s, cur, nxt)
        setfp(s, objs[-1], 0)
        slab.freelist = objs[0]

    def discard_slab(self, s: KmemCache, slab: Slab) -> None:
        """mm/slub.c discard_slab(): the slab's pages go back to the page allocator."""
        n = s.node
        n.nr_slabs -= 1
        n.total_objects -= slab.objects
        n.nr_pages -= 1 << slab.order
        n.full.discard(slab)
        sop = self.slab_of_pfn
        for i in range(1 << slab.order):
            sop.pop(slab.pfn + i, None)
        rcu = self.k.rcu  # None until rcu_init(), which comes after kmem_cache_init()
        if s.flags & _SLAB_TYPESAFE_BY_RCU and rcu is not None:
            # rcu_free_slab(): readers may still look at the objects until a grace period
            # ends; the pages stay the cache's (and out of the allocator) until then.
            rcu.queue(slab.base, lambda _base: self.free_slab(slab))
            return
        self.free_slab(slab)

    def free_slab(self, slab: Slab) -> None:
        """mm/slub.c __free_slab(): the slab's pages back to the page allocator."""
        page = slab.page
        page.slab = None
        page.owner = ""
        if self.kasan is not None:
            self.kasan.poison_pages(slab.base, slab.order)
        # The model's one liberty: the host memory of a discarded slab goes back at once
        # (its bytes read as zero from now on), so host memory follows the slabs in use.
        self.aspace.clear_pages(slab.pfn, 1 << slab.order)
        self.k.page_alloc.free_pages_struct(page, slab.order)

    def kmalloc_fix_flags(self, flags: int) -> int:
        """mm/slub.c kmalloc_fix_flags(): warn and drop GFP bits a slab cannot honour."""
        invalid = flags & GFP_SLAB_BUG_MASK & ((1 << 26) - 1)
        fixed = flags & ~GFP_SLAB_BUG_MASK
        self.k.log.pr_warn(
            f"Unexpected gfp: {invalid:#x} ({show_gfp_flags(invalid)}). Fixing up to gfp: "
            f"{fixed:#x} ({show_gfp_flags(fixed)}). Fix your code!"
        )
        return fixed

    # ------------------------------------------------------------------ partial lists
    def add_partial(self, s: KmemCache, slab: Slab, tail: bool) -> None:
        if tail:
            s.node.partial.add_tail(slab)
        else:
            s.node.partial.add_head(slab)
        slab.on_partial = True

    def remove_partial(self, s: KmemCache, slab: Slab) -> None:
        s.node.partial.remove(slab)
        slab.on_partial = False

    def put_partials(self, s: KmemCache, slabs: Iterable[Slab]) -> None:
        """mm/slub.c __put_partials(): CPU partial slabs to the node list, empty ones freed."""
        n = s.node
        discard: list[Slab] = []
        for slab in slabs:
            if slab.inuse == 0 and n.nr_partial >= s.min_partial:
                discard.append(slab)
            else:
                self.add_partial(s, slab, tail=True)
        for slab in discard:
            self.discard_slab(s, slab)

    def put_cpu_partial(self, s: KmemCache, slab: Slab, drain: bool) -> None:
        """mm/slub.c put_cpu_partial(): a slab onto this CPU's partial list."""
        c = s.cpu_slab[self.current_cpu()]
        spill: list[Slab] | None = None
        if c.partial and drain and len(c.partial) >= s.cpu_partial_slabs:
            spill = c.partial[::-1]  # head (newest) first
            c.partial = []
        c.partial.append(slab)
        if spill:
            self.put_partials(s, spill)

    def get_partial_node(self, s: KmemCache) -> Slab | None:
        """mm/slub.c get_partial_node(): one slab for the CPU, more for its partial list."""
        n = s.node
        if not n.partial.count:
            return None
        first: Slab | None = None
        partial_slabs = 0
        for slab in n.partial:
            self.remove_partial(s, slab)
            if first is None:
                first = slab
                if s.cpu_partial == 0:
                    break
            else:
                self.put_cpu_partial(s, slab, drain=False)
                partial_slabs += 1
                if partial_slabs > s.cpu_partial_slabs // 2:
                    break
        return first

    def deactivate_slab(self, s: KmemCache, slab: Slab, freelist: int) -> None:
        """mm/slub.c deactivate_slab(): give the CPU freelist back and put the slab on a list."""
        tail = bool(slab.freelist)  # remote frees waiting: to the tail
        count = 0
        last = 0
        obj = freelist
        getfp = self.get_freepointer
        while obj and count < slab.objects:
            last = obj
            count += 1
            obj = getfp(s, obj)
        if freelist:
            self.set_freepointer(s, last, slab.freelist)
            slab.freelist = freelist
        slab.inuse -= count
        slab.frozen = False
        if slab.inuse == 0 and s.node.nr_partial >= s.min_partial:
            self.discard_slab(s, slab)
        elif slab.freelist:
            self.add_partial(s, slab, tail)

    def flush_cpu_slab(self, s: KmemCache, c: KmemCacheCpu) -> None:
        """flush_slab() and put_partials_cpu() for one CPU."""
        if c.slab is not None:
            slab, freelist = c.slab, c.freelist
            c.slab = None
            c.freelist = 0
            self.deactivate_slab(s, slab, freelist)
        if c.partial:
            partial = c.partial[::-1]
            c.partial = []
            self.put_partials(s, partial)

    def flush_all(self, s: KmemCache) -> None:
        """mm/slub.c flush_all(): every CPU's slabs back to the node."""
        for c in s.cpu_slab:
            self.flush_cpu_slab(s, c)

    # ------------------------------------------------------------------ hooks
    def attach_hooks(self, hooks: SlabHooks) -> None:
        """Attach a set of slab hooks (a KASAN, KFENCE, kmemleak, KMSAN or failslab model).

        slab_alloc_node() and slab_free() call attached hooks where mm/slub.c
        calls those subsystems. With none attached the allocation path tests
        an empty tuple once, and slab_free is do_slab_free itself (rebound;
        compiled, slab_free tests the tuple once too).
        """
        if hooks not in self.hooks:
            self.hooks = (*self.hooks, hooks)
        self._bind_free()

    def detach_hooks(self, hooks: SlabHooks) -> None:
        self.hooks = tuple(h for h in self.hooks if h is not hooks)
        self._bind_free()

    def _bind_free(self) -> None:
        if COMPILED:
            return  # a compiled class's methods cannot be rebound: slab_free tests hooks
        if self.hooks:
            self.__dict__.pop("slab_free", None)
        else:
            self.slab_free = self.do_slab_free  # type: ignore[method-assign]

    def slab_pre_alloc_hook(self, s: KmemCache, gfp: int, orig_size: int) -> int:
        """slab_pre_alloc_hook()'s should_failslab() and slab_alloc_node()'s kfence_alloc().

        -1: an attached hook failed the allocation (failslab); an address: a
        hook served it from its own pool (KFENCE); 0: the slab serves it.
        """
        for h in self.hooks:
            if h.should_failslab(s, gfp):
                return -1
        for h in self.hooks:
            obj = h.kfence_alloc(s, orig_size, gfp)
            if obj:
                return obj
        return 0

    def slab_post_alloc_hook(self, s: KmemCache, obj: int, gfp: int, orig_size: int) -> int:
        """slab_post_alloc_hook(): kasan_slab_alloc(), kmemleak_alloc_recursive(),
        kmsan_slab_alloc() of the attached hooks (the zeroing is slab_alloc_node()'s)."""
        for h in self.hooks:
            h.slab_post_alloc(s, obj, gfp, orig_size)
        return obj

    def slab_free_hook(
        self, s: KmemCache, slab: Slab, obj: int, after_rcu_delay: bool = False
    ) -> bool:
        """slab_free_hook(): kmemleak_free_recursive(), kmsan_slab_free(), kasan_slab_free()
        and __slab_free()'s kfence_free(); False when a hook keeps the object (quarantine)."""
        keep = False
        for h in reversed(self.hooks):  # free hooks unwind the alloc hooks' order
            keep = h.slab_free(s, slab, obj, after_rcu_delay) or keep
        return not keep

    # ------------------------------------------------------------------ allocation
    def slab_alloc_node(self, s: KmemCache, gfp: int, node: int, addr: int, orig_size: int) -> int:
        """mm/slub.c slab_alloc_node(): the one way an object leaves a cache.

        kmalloc(), kmem_cache_alloc() and their _node, _bulk, zalloc and
        track_caller forms, krealloc() and the replay all come here, with
        `gfp` as a plain int, `addr` the caller (_RET_IP_, 0 to find it when
        a track is recorded) and `orig_size` the bytes asked for. In the
        kernel's order: slab_pre_alloc_hook() (might_alloc(): an allocation
        that may sleep, in atomic context, is reported; should_failslab()),
        kfence_alloc(), the per-CPU fast path (pop the CPU freelist: the next
        free pointer is read from inside the object), else
        __slab_alloc_node() (___slab_alloc(), the slow path), then
        slab_post_alloc_hook(): the object zeroed for __GFP_ZERO (its request
        size only in a debugged kmalloc cache, which red-zones the rest), and
        the attached hooks. The counter of objects in use moves here and in
        slab_free(), so /proc and the replay's sampling read it in O(1).
        """
        sched = self._sched
        if gfp & 0x400 and (  # __GFP_DIRECT_RECLAIM: might_alloc()
            sched.preempt_count or sched.irqs_disabled or sched.rcu_read_lock_nesting
        ):
            sched.might_alloc(gfp, "slab_pre_alloc_hook")
        hooks = self.hooks
        if hooks:
            obj = self.slab_pre_alloc_hook(s, gfp, orig_size)
            if obj:
                return self.slab_post_alloc_hook(s, obj, gfp, orig_size) if obj > 0 else 0
        c = s.cpu_slab[sched.current_cpu]
        obj = c.freelist
        if obj:
            # get_freepointer_safe(): the next free object, from inside this one.
            if s.fp_inline:
                c.freelist = self._read_ulong(obj + s.offset)
            else:
                c.freelist = self.get_freepointer(s, obj)
        else:
            obj = self.slab_alloc_slow(s, gfp, addr, orig_size, c)
            if not obj:
                return 0
        s.inuse_objects += 1
        if gfp & 0x100:  # __GFP_ZERO: slab_want_init_on_alloc()
            self.fill(obj, 0, orig_size if s.zero_orig_size else s.object_size)
        if hooks:
            self.slab_post_alloc_hook(s, obj, gfp, orig_size)
        return obj

    def slab_alloc_slow(
        self, s: KmemCache, gfp: int, addr: int, orig_size: int, c: KmemCacheCpu
    ) -> int:
        """mm/slub.c __slab_alloc_node() / ___slab_alloc(): the CPU slab is out of objects."""
        if s.debug or self.slub_tiny:
            return self.alloc_single(s, gfp, addr, orig_size)
        slab = c.slab
        if slab is not None:
            freelist = slab.freelist
            if freelist:  # objects freed remotely into the CPU slab
                slab.freelist = 0
                slab.inuse = slab.objects
                return self._load_freelist(s, c, freelist)
            # The CPU slab is full: it leaves the CPU, on no list.
            slab.frozen = False
            c.slab = None
        while c.partial:
            slab = c.partial.pop()
            freelist = slab.freelist
            slab.freelist = 0
            slab.inuse = slab.objects
            slab.frozen = True
            c.slab = slab
            if freelist:
                return self._load_freelist(s, c, freelist)
        slab = self.get_partial_node(s)
        if slab is None:
            slab = self.allocate_slab(s, gfp)
            if slab is None:
                self.slab_out_of_memory(s, gfp)
                return 0
        freelist = slab.freelist
        slab.freelist = 0
        slab.inuse = slab.objects
        slab.frozen = True
        if c.slab is not None:
            self.flush_cpu_slab(s, c)
        c.slab = slab
        return self._load_freelist(s, c, freelist)

    def _load_freelist(self, s: KmemCache, c: KmemCacheCpu, freelist: int) -> int:
        c.freelist = self.get_freepointer(s, freelist)
        return freelist

    def slab_out_of_memory(self, s: KmemCache, gfp: int) -> None:
        """mm/slub.c slab_out_of_memory(): the rate-limited warning unless __GFP_NOWARN."""
        if gfp & GFP_NOWARN:
            return
        log = self.k.log
        n = s.node
        log.pr_warn(
            f"SLUB: Unable to allocate memory on CPU {self.current_cpu()} (of node -1) "
            f"on node 0, gfp={gfp:#x}({show_gfp_flags(gfp)})"
        )
        log.pr_warn(
            f"  cache: {s.name}, object size: {s.object_size}, buffer size: {s.size}, "
            f"default order: {s.oo_order}, min order: {s.min_order}"
        )
        free = sum(sl.objects - sl.inuse for sl in n.partial)
        log.pr_warn(f"  node 0: slabs: {n.nr_slabs}, objs: {n.total_objects}, free: {free}")

    # ------------------------------------------------------------------ free
    def slab_free(self, s: KmemCache, slab: Slab, obj: int, addr: int = 0) -> None:
        """mm/slub.c slab_free(): the one way an object goes back to its cache.

        kfree(), kmem_cache_free(), the bulk frees, krealloc() and the replay
        all come here. slab_free_hook() runs the attached hooks (a KASAN
        quarantine may keep the object), then do_slab_free(). With no hook
        attached this name is bound to do_slab_free itself (in the compiled
        model, where methods cannot be rebound, it tests for hooks instead).
        """
        if not self.hooks or self.slab_free_hook(s, slab, obj):
            self.do_slab_free(s, slab, obj, addr)

    def slab_free_after_rcu_debug(self, s: KmemCache, obj: int) -> None:
        """mm/slub.c slab_free_after_rcu_debug(): a SLUB_RCU_DEBUG free, a grace period later."""
        slab = self.virt_to_slab(obj)
        if slab is not None and self.slab_free_hook(s, slab, obj, True):
            self.do_slab_free(s, slab, obj, 0)

    def do_slab_free(self, s: KmemCache, slab: Slab, obj: int, addr: int = 0) -> None:
        """mm/slub.c do_slab_free(): an object of the CPU's active slab, freed on that CPU,
        is pushed on the lockless CPU freelist (its free pointer written inside it); any
        other goes through __slab_free()."""
        s.inuse_objects -= 1
        c = s.cpu_slab[self._sched.current_cpu]
        if slab is c.slab:
            if s.fp_inline:
                self._write_ulong(obj + s.offset, c.freelist)
            else:
                self.set_freepointer(s, obj, c.freelist)
            c.freelist = obj
            return
        self.slab_free_slow(s, slab, obj, addr)

    def slab_free_slow(self, s: KmemCache, slab: Slab, obj: int, addr: int) -> None:
        """mm/slub.c __slab_free(): onto the slab's own freelist, and list moves."""
        if s.debug or self.slub_tiny:
            self.free_to_partial_list(s, slab, obj, addr)
            return
        prior = slab.freelist
        self.set_freepointer(s, obj, prior)
        slab.freelist = obj
        slab.inuse -= 1
        if slab.frozen:
            return
        n = s.node
        if not prior:
            if s.cpu_partial:
                self.put_cpu_partial(s, slab, drain=True)
                return
            if slab.inuse == 0 and n.nr_partial >= s.min_partial:
                self.discard_slab(s, slab)
            else:
                self.add_partial(s, slab, tail=True)
            return
        if not slab.on_partial:
            return  # on some CPU's partial list
        if slab.inuse == 0 and n.nr_partial >= s.min_partial:
            self.remove_partial(s, slab)
            self.discard_slab(s, slab)

    # ------------------------------------------------------------------ object API
    def virt_to_slab(self, addr: int) -> Slab | None:
        """mm/slab.h virt_to_slab(): the slab of the page `addr` lies in, None if not a slab.

        The kernel goes from the address to its struct page, to the folio
        (compound_head()) and its slab. The model's slab_of_pfn holds, for
        every frame of a slab, what that walk finds: one lookup by pfn.
        """
        return self.slab_of_pfn.get((addr + self._pa_offset) >> self.page_shift)

    def cache_from_obj(self, s: KmemCache, x: int) -> KmemCache | None:
        """mm/slub.c cache_from_obj() / virt_to_cache(): the cache `x` really belongs to."""
        slab = self.virt_to_slab(x)
        if slab is None:
            warn(self.k, "mm/slab.h", "virt_to_cache", "virt_to_cache: Object is not a Slab page!")
            return None
        cachep = slab.cache
        if cachep is not s:
            # WARN(), not WARN_ONCE(): every wrong free is reported.
            warn(
                self.k,
                "mm/slub.c",
                "cache_from_obj",
                f"cache_from_obj: Wrong slab cache. {s.name} but object is from {cachep.name}",
                once=False,
            )
            print_tracking(self, cachep, x)
        return cachep

    @EXPORT_SYMBOL
    def kmem_cache_alloc(self, s: KmemCache, gfp: int) -> int:
        """kmem_cache_alloc(): an object of cache `s`, or 0.

        On a cache kmem_cache_destroy() has released this is a use-after-free
        of the descriptor, which 6.18 without KASAN does not notice: it
        allocates from the freed descriptor's stale state (its CPU slabs were
        flushed, so a new slab comes from the page allocator), and neither
        the object nor its slab appear in /proc/slabinfo any more. The model
        does the same; with a KASAN model attached, kasan_check_byte() is
        where the kernel would report it.
        """
        if gfp.__class__ is not int:
            gfp = int(gfp)
        return self.slab_alloc_node(s, gfp, -1, 0, s.object_size)

    @EXPORT_SYMBOL
    def kmem_cache_alloc_node(self, s: KmemCache, gfp: int, node: int = -1) -> int:
        """kmem_cache_alloc_node(): one node in the model."""
        return self.slab_alloc_node(s, int(gfp), node, 0, s.object_size)

    @EXPORT_SYMBOL
    def kmem_cache_free(self, s: KmemCache, x: int) -> None:
        """kmem_cache_free(): `x` goes back to its cache (cache_from_obj() checks it is `s`'s)."""
        if not x:
            return
        slab = self.slab_of_pfn.get((x + self._pa_offset) >> self.page_shift)
        if slab is None or slab.cache is not s:
            cachep = self.cache_from_obj(s, x)
            if cachep is None or slab is None:
                return
            s = cachep
        self.slab_free(s, slab, x, 0)

    @EXPORT_SYMBOL
    def kmem_cache_alloc_bulk(self, s: KmemCache, gfp: int, nr: int) -> list[int]:
        """kmem_cache_alloc_bulk(): `nr` objects, or none at all (the kernel returns 0)."""
        gfp = int(gfp)
        objs: list[int] = []
        for _ in range(nr):
            obj = self.slab_alloc_node(s, gfp, -1, 0, s.object_size)
            if not obj:
                self.kmem_cache_free_bulk(s, objs)
                return []
            objs.append(obj)
        return objs

    @EXPORT_SYMBOL
    def kmem_cache_free_bulk(self, s: KmemCache | None, objs: list[int]) -> None:
        """kmem_cache_free_bulk(); with s = NULL the objects are kmalloc()ed (kfree_bulk())."""
        for obj in objs:
            if s is None:
                self.kfree(obj)
            else:
                self.kmem_cache_free(s, obj)

    # ------------------------------------------------------------------ kmalloc
    @EXPORT_SYMBOL("kmalloc", "__kmalloc")
    def kmalloc(
        self,
        size: int,
        gfp: int,
        node: int = -1,
        caller: int = 0,
        b: list[KmemCache | None] | None = None,
    ) -> int:
        """kmalloc(): an object of the kmalloc size class, a large kmalloc, or 0.

        This is mm/slub.c __do_kmalloc_node(), which every kmalloc form
        reaches: above KMALLOC_MAX_CACHE_SIZE a large kmalloc (pages); 0
        bytes give ZERO_SIZE_PTR; a negative size is a huge size_t; else the
        size class (from bucket set `b` when kmem_buckets_alloc() passes one)
        and slab_alloc_node(). A scenario calls kmalloc(size, gfp); `node`
        and `caller` are what kmalloc_node() and kmalloc_track_caller() pass.
        """
        if gfp.__class__ is not int:
            gfp = int(gfp)
        if size > KMALLOC_MAX_CACHE_SIZE or size <= 0:
            if size == 0:
                return ZERO_SIZE_PTR
            return self.kmalloc_large_node(size & SIZE_MAX, gfp, node)
        if b is None and not gfp & self.kmalloc_not_normal and not self.random_kmalloc:
            s = self._by_size[0][size]
        else:
            if self.random_kmalloc and not caller:
                caller = self.caller_address()
            s = self.kmalloc_slab(size, gfp, caller, b)
        obj = self.slab_alloc_node(s, gfp, node, caller, size)
        if obj and self.hooks:
            for h in self.hooks:
                h.kmalloc(s, obj, size, gfp)  # kasan_kmalloc()
        return obj

    @EXPORT_SYMBOL("kmalloc_node", "__kmalloc_node")
    def kmalloc_node(self, size: int, gfp: int, node: int = -1) -> int:
        """kmalloc_node(): one node in the model."""
        return self.kmalloc(size, gfp, node)

    @EXPORT_SYMBOL("kmalloc_track_caller", "__kmalloc_track_caller")
    def kmalloc_track_caller(self, size: int, gfp: int, caller: int | None = None) -> int:
        """kmalloc_track_caller(): kmalloc() charged to the caller's caller (_RET_IP_).

        The kernel macro passes the return address of the function calling
        it, so allocation helpers (kstrdup, kmemdup) name their own callers
        in SLAB_STORE_USER tracks and pick the random kmalloc cache by them.
        Here `caller` is that address; without it, the scenario function that
        called the function calling kmalloc_track_caller().
        """
        if caller is None:
            caller = self.caller_address(1)
        return self.kmalloc(size, gfp, -1, caller)

    @EXPORT_SYMBOL("kmalloc_node_track_caller", "__kmalloc_node_track_caller")
    def kmalloc_node_track_caller(
        self, size: int, gfp: int, node: int = -1, caller: int | None = None
    ) -> int:
        """kmalloc_node_track_caller(): kmalloc_track_caller() on a node."""
        if caller is None:
            caller = self.caller_address(1)
        return self.kmalloc(size, gfp, node, caller)

    def kmalloc_large(self, size: int, gfp: int) -> int:
        """kmalloc_large(): whole pages for a request above KMALLOC_MAX_CACHE_SIZE."""
        return self.kmalloc_large_node(size, int(gfp), -1)

    def kmalloc_large_node(self, size: int, gfp: int, node: int) -> int:
        """mm/slub.c ___kmalloc_large_node(): a __GFP_COMP block, counted as slab memory."""
        if gfp & GFP_SLAB_BUG_MASK:
            gfp = self.kmalloc_fix_flags(gfp)
        order = get_order(size, self.page_shift)
        pa = self.k.page_alloc
        page = pa.alloc_pages(gfp | GFP_COMP, order)
        if page is None:
            return 0
        page.owner = "large_kmalloc"
        self.large_kmalloc[page.pfn] = (page, order)
        self.large_pages += 1 << order
        ptr = int(pa.page_address(page))
        for h in self.hooks:
            h.kmalloc_large(ptr, size, gfp)  # kasan_kmalloc_large(), kmemleak_alloc(), kmsan
        return ptr

    @EXPORT_SYMBOL
    def kfree(self, p: int) -> None:
        """kfree(): a slab object or a large kmalloc; NULL and ZERO_SIZE_PTR are no-ops."""
        if p <= ZERO_SIZE_PTR:
            return
        pfn = (p + self._pa_offset) >> self.page_shift
        slab = self.slab_of_pfn.get(pfn)
        if slab is None:
            self.free_large_kmalloc(pfn, p)
            return
        self.slab_free(slab.cache, slab, p, 0)

    def free_large_kmalloc(self, pfn: int, p: int) -> None:
        """mm/slub.c free_large_kmalloc(): the pages of a large kmalloc back to the buddy."""
        large = self.large_kmalloc.pop(pfn, None)
        if large is None:
            self.warn("mm/slub.c", "free_large_kmalloc")
            self.dump_page(pfn, "Not a kmalloc allocation")
            return
        page, order = large
        for h in reversed(self.hooks):
            h.kfree_large(p)  # kmemleak_free(), kasan_kfree_large(), kmsan_kfree_large()
        self.large_pages -= 1 << order
        page.owner = ""
        if self.kasan is not None:
            self.kasan.poison_pages(int(self.k.page_alloc.page_address(page)), order)
        self.aspace.clear_pages(page.pfn, 1 << order)  # host memory follows what is in use
        self.k.page_alloc.free_pages_struct(page, order)

    def dump_page(self, pfn: int, reason: str) -> None:
        """mm/debug.c dump_page() of the frame at `pfn` (a bare struct page if it is free)."""
        from kmemsim.mm.debug import dump_page

        dump_page(self.k, self.k.page_alloc.pfn_to_page(pfn), reason)

    @EXPORT_SYMBOL
    def krealloc(self, p: int, new_size: int, gfp: int) -> int:
        """mm/slub.c krealloc(): in place while it fits the object, else a copy and kfree().

        __do_krealloc(): a debugged kmalloc cache records the new request size
        and red-zones the bytes after it; with __GFP_ZERO the bytes between the
        old and the new request are cleared. A new object comes from
        kmalloc_node_track_caller(), and the old one is freed when it moved.
        """
        gfp = int(gfp)
        if not new_size:
            self.kfree(p)
            return ZERO_SIZE_PTR
        if p <= ZERO_SIZE_PTR:
            return self.kmalloc(new_size, gfp)
        if self.kasan is not None and not self.kasan.kasan_check_byte(p):
            return 0  # a double free in the making: KASAN reported it
        s: KmemCache | None = None
        orig_size = 0
        slab = self.virt_to_slab(p)
        kfence = self.k.kfence
        if kfence is not None and kfence.is_kfence_address(p):
            ks = orig_size = kfence.ksize(p)  # kfence_ksize(): the exact size
        elif slab is not None:
            s = slab.cache
            orig_size = self.get_orig_size(s, p)
            ks = s.object_size
        else:
            large = self.large_kmalloc.get((p + self._pa_offset) >> self.page_shift)
            ks = (self.page_size << large[1]) if large else 0
        if new_size <= ks:
            if gfp & 0x100:  # want_init_on_alloc()
                if orig_size and orig_size < new_size:
                    self.fill(p + orig_size, 0, new_size - orig_size)
                else:
                    self.fill(p + new_size, 0, ks - new_size)
            if s is not None and self.orig_size_kept(s):
                self.set_orig_size(s, p, new_size)
                if s.flags & _SLAB_RED_ZONE and new_size < ks:
                    self.fill(p + new_size, SLUB_RED_ACTIVE, ks - new_size)
            if self.kasan is not None:
                self.kasan.krealloc(p, new_size)  # kasan_krealloc()
            return p
        ret = self.kmalloc(new_size, gfp)
        if ret:
            self.write(ret, self.read(p, orig_size or ks))
            self.kfree(p)
        return ret

    # ------------------------------------------------------------------ debug / tiny paths
    def alloc_single(self, s: KmemCache, gfp: int, addr: int, orig_size: int) -> int:
        """Debug and SLUB_TINY caches: one object straight from a node slab, no CPU slab.

        get_partial_node() with alloc_single_from_partial() over the node's
        partial slabs (a slab failing the debug checks is taken off the list and
        the next one tried), else alloc_single_from_new_slab().
        """
        n = s.node
        for slab in n.partial:
            obj = slab.freelist
            slab.freelist = self.get_freepointer(s, obj)
            slab.inuse += 1
            if s.debug and not self.alloc_debug_processing(s, slab, obj, orig_size):
                self.remove_partial(s, slab)
                continue
            if slab.inuse == slab.objects:
                self.remove_partial(s, slab)
                if s.flags & _SLAB_STORE_USER:
                    n.full.add(slab)
            self.alloc_single_done(s, obj, addr)
            return obj
        new = self.allocate_slab(s, gfp)
        if new is None:
            self.slab_out_of_memory(s, gfp)
            return 0
        slab = new
        obj = slab.freelist
        slab.freelist = self.get_freepointer(s, obj)
        slab.inuse = 1
        if s.debug and not self.alloc_debug_processing(s, slab, obj, orig_size):
            return 0
        if slab.inuse == slab.objects:
            if s.flags & _SLAB_STORE_USER:
                n.full.add(slab)
        else:
            self.add_partial(s, slab, tail=False)
        self.alloc_single_done(s, obj, addr)
        return obj

    def alloc_single_done(self, s: KmemCache, obj: int, addr: int) -> None:
        if s.flags & _SLAB_STORE_USER:
            self.set_track(s, obj, True, addr)

    def free_to_partial_list(self, s: KmemCache, slab: Slab, obj: int, addr: int) -> None:
        """mm/slub.c free_to_partial_list(): the free path of debug and SLUB_TINY caches."""
        n = s.node
        if s.debug and not self.free_debug_processing(s, slab, obj, addr):
            s.inuse_objects += 1  # "Object ... not freed": it stays in use
            return
        prior = slab.freelist
        slab.inuse -= 1
        self.set_freepointer(s, obj, prior)
        slab.freelist = obj
        discard = slab.inuse == 0 and n.nr_partial >= s.min_partial
        if not prior:  # it was full
            n.full.discard(slab)
            if not discard:
                self.add_partial(s, slab, tail=True)
        elif discard and slab.on_partial:
            self.remove_partial(s, slab)
        if discard:
            self.discard_slab(s, slab)

    def init_object(self, s: KmemCache, obj: int, val: int) -> None:
        """mm/slub.c init_object(): red zones and poison bytes of one object.

        An active kmalloc object with a recorded request size is poisoned up to
        that size only, and red-zoned from there (the "kmalloc Redzone").
        """
        poison_size = s.object_size
        if s.flags & _SLAB_RED_ZONE:
            self.fill(obj - s.red_left_pad, val, s.red_left_pad)
            if self.orig_size_kept(s) and val == SLUB_RED_ACTIVE:
                poison_size = self.get_orig_size(s, obj)
        if s.flags & _OBJECT_POISON:
            self.fill(obj, POISON_FREE, poison_size - 1)
            self.fill(obj + poison_size - 1, POISON_END, 1)
        if s.flags & _SLAB_RED_ZONE:
            self.fill(obj + poison_size, val, s.inuse - poison_size)

    @staticmethod
    def orig_size_kept(s: KmemCache) -> bool:
        """slub_debug_orig_size(): a kmalloc cache with SLAB_STORE_USER records request sizes."""
        return bool(s.flags & _SLAB_STORE_USER) and bool(s.flags & _SLAB_KMALLOC)

    def warn(self, file: str, func: str) -> None:
        """WARN_ON_ONCE(): the cut-here report at `file` in `func` (mm/debug.py), once per site."""
        from kmemsim.mm.debug import warn

        warn(self.k, file, func)

    def set_track(self, s: KmemCache, obj: int, alloc: bool, addr: int = 0) -> None:
        """set_track(): record who allocated / freed the object (caller, cpu, pid, jiffies).

        struct track sits after the free pointer: the caller's address
        (`addr`, the _RET_IP_ the API was given, or the scenario's call site),
        the stack depot handle (none here), cpu, pid and when (jiffies).
        """
        if not s.flags & _SLAB_STORE_USER:
            return
        base = obj + self.get_info_end(s) + (0 if alloc else self.track_size)
        rec = self._track_struct.pack(
            addr or self.caller_address(),
            0,
            self._sched.current_cpu,
            self._sched.pid,
            *((0,) if self.word == 8 else ()),
            self.jiffies(),
        )
        self.write(base, rec)

    def jiffies(self) -> int:
        """jiffies of the simulated clock (kernel/time/), as set_track() stores it."""
        return self.k.clock.jiffies & ((1 << (8 * self.word)) - 1)

    def read_track(self, s: KmemCache, obj: int, alloc: bool) -> tuple[int, int, int, int]:
        """get_track(): (caller address, cpu, pid, when) of an object's alloc or free track."""
        base = obj + self.get_info_end(s) + (0 if alloc else self.track_size)
        fields = self._track_struct.unpack(self.read(base, self.track_size))
        return fields[0], fields[2], fields[3], fields[-1]

    def caller_address(self, up: int = 0) -> int:
        """_RET_IP_ of a call into the slab layer: a text address for the scenario's call site.

        The first frame outside kmemsim is the caller (`up` more frames out for
        kmalloc_track_caller()). Each calling function gets a text symbol of
        its own, and each line of it its own address inside the symbol, so
        that %pS prints "function+0xoff/0x1000" and two call sites differ
        (the random kmalloc caches hash them).
        """
        frame = sys._getframe(0)  # compiled, the innermost Python frame is the caller's
        pkg = self._pkg_dir
        while frame.f_back is not None and frame.f_code.co_filename.startswith(pkg):
            frame = frame.f_back
        while up and frame.f_back is not None:
            frame = frame.f_back
            up -= 1
        code = frame.f_code
        key = (code.co_filename, code.co_name, code.co_firstlineno)
        base = self._sym_addr.get(key)
        if base is None:
            base = self._text_base + _SYMBOL_SIZE * len(self._sym_addr)
            self._sym_addr[key] = base
            name = code.co_name
            self._sym_name[base] = "kmemsim_scenario" if name == "<module>" else name
        return base + min(4 * max(frame.f_lineno - code.co_firstlineno, 0), _SYMBOL_SIZE - 4)

    def symbol(self, addr: int) -> str:
        """%pS of a recorded caller address: "function+0xoff/0xsize"."""
        base = addr - (addr - self._text_base) % _SYMBOL_SIZE
        name = self._sym_name.get(base)
        if name is None:
            return hex(addr)
        return f"{name}+{addr - base:#x}/{_SYMBOL_SIZE:#x}"

    def get_info_end(self, s: KmemCache) -> int:
        """get_info_end(): where the tracking data starts."""
        if s.offset >= s.inuse:
            return s.inuse + self.word
        return s.inuse

    def set_orig_size(self, s: KmemCache, obj: int, orig_size: int) -> None:
        """set_orig_size(): remember a kmalloc request size after the tracking data."""
        if not self.orig_size_kept(s):
            return
        base = obj + self.get_info_end(s) + 2 * self.track_size
        self.write(base, orig_size.to_bytes(4, self.byteorder))

    def get_orig_size(self, s: KmemCache, obj: int) -> int:
        """get_orig_size(): the kmalloc request size recorded with the object."""
        if not self.orig_size_kept(s):
            return s.object_size
        base = obj + self.get_info_end(s) + 2 * self.track_size
        return int.from_bytes(self.read(base, 4), self.byteorder)

    def alloc_debug_processing(self, s: KmemCache, slab: Slab, obj: int, orig_size: int) -> bool:
        """mm/slub.c alloc_debug_processing(): checks, then the object made active."""
        if s.flags & _SLAB_CONSISTENCY_CHECKS and not alloc_consistency_checks(self, s, slab, obj):
            slab_fix(self, s, "Marking all objects used")
            slab.inuse = slab.objects
            slab.freelist = 0
            slab.frozen = True  # a consistency-failed slab is disabled
            return False
        trace(self, s, slab, obj, alloc=True)
        self.set_orig_size(s, obj, orig_size)
        self.init_object(s, obj, SLUB_RED_ACTIVE)
        return True

    def free_debug_processing(self, s: KmemCache, slab: Slab, obj: int, addr: int) -> bool:
        """mm/slub.c free_debug_processing(): checks, tracking, the object made inactive."""
        ok = True
        if s.flags & _SLAB_CONSISTENCY_CHECKS and not check_slab(self, s, slab):
            ok = False
        elif slab.inuse < 1:
            slab_err(self, s, slab, "Slab has 0 allocated objects but 1 are to be freed")
            ok = False
        elif s.flags & _SLAB_CONSISTENCY_CHECKS and not free_consistency_checks(self, s, slab, obj):
            ok = False
        if not ok:
            slab_fix(self, s, f"Object at 0x{obj:016x} not freed")
            return False
        if s.flags & _SLAB_STORE_USER:
            self.set_track(s, obj, False, addr)
        trace(self, s, slab, obj, alloc=False)
        self.init_object(s, obj, SLUB_RED_INACTIVE)
        return True

    # ------------------------------------------------------------------ shrink
    def kmem_cache_shrink_cache(self, s: KmemCache) -> int:
        """mm/slub.c __kmem_cache_do_shrink(): flush CPUs, free empty slabs, sort the rest.

        Empty slabs go back to the page allocator whatever min_partial says;
        slabs with at most SHRINK_PROMOTE_MAX (32) free objects move to the head
        of the partial list, fullest first, so allocations fill them and the
        emptier ones can drain. Returns 1 when slabs remain (as the kernel).
        """
        self.flush_all(s)
        partial = s.node.partial
        promote: list[list[Slab]] = [[] for _ in range(SHRINK_PROMOTE_MAX)]
        empty: list[Slab] = []
        for slab in list(partial):
            free = slab.objects - slab.inuse
            if free == slab.objects:
                self.remove_partial(s, slab)
                empty.append(slab)
            elif free <= SHRINK_PROMOTE_MAX:
                self.remove_partial(s, slab)
                promote[free - 1].insert(0, slab)  # list_move(): to the head
        for bucket in reversed(promote):  # list_splice() of promote[31] .. promote[0]
            for slab in reversed(bucket):
                self.add_partial(s, slab, tail=False)
        for slab in empty:
            self.discard_slab(s, slab)
        return 1 if s.node.nr_slabs else 0

    def slab_pages(self) -> tuple[int, int]:
        """(reclaimable, unreclaimable) slab pages: NR_SLAB_(UN)RECLAIMABLE_B in pages."""
        rec = unrec = 0
        for s in itertools.chain(self.caches, self.leaked_caches):
            if s.flags & _SLAB_RECLAIM_ACCOUNT:
                rec += s.node.nr_pages
            else:
                unrec += s.node.nr_pages
        return rec, unrec

    def shrink_all(self) -> int:
        """kmem_cache_shrink() of every cache (drop_slab's part): pages given back."""
        before = sum(s.node.nr_pages for s in self.caches)
        for s in list(self.caches):
            self.kmem_cache_shrink_cache(s)
        return before - sum(s.node.nr_pages for s in self.caches)


class KasanSlabHooks(SlabHooks):
    """The kasan_* calls of mm/slub.c, made to the generic KASAN model (mm/kasan/)."""

    def __init__(self, sa: Slub, kasan: Any) -> None:
        self.sa = sa
        self.kasan = kasan

    def slab_post_alloc(self, s: KmemCache, obj: int, gfp: int, orig_size: int) -> None:
        self.kasan.slab_alloc(s, obj, gfp)  # kasan_slab_alloc()

    def kmalloc(self, s: KmemCache, obj: int, size: int, gfp: int) -> None:
        self.kasan.kmalloc(s, obj, size)  # kasan_kmalloc(): the redzone past `size`

    def kmalloc_large(self, ptr: int, size: int, gfp: int) -> None:
        self.kasan.kmalloc_large(ptr, size)

    def kfree_large(self, ptr: int) -> None:
        self.kasan.kfree_large(ptr)  # reports an invalid or double free, frees anyway

    def slab_free(self, s: KmemCache, slab: Slab, obj: int, after_rcu_delay: bool) -> bool:
        kasan = self.kasan
        if s.flags & _SLAB_TYPESAFE_BY_RCU and kasan.rcu_debug and not after_rcu_delay:
            # CONFIG_SLUB_RCU_DEBUG: KASAN sees the free after a grace period
            # (slab_free_after_rcu_debug()); the object stays usable by readers.
            if not kasan.check_slab_allocation(s, slab, obj):
                sa = self.sa
                rcu = sa.k.rcu
                assert rcu is not None, "SLUB_RCU_DEBUG free before rcu_init()"
                rcu.call_rcu(obj, lambda o: sa.slab_free_after_rcu_debug(s, o))
            return True
        return bool(kasan.slab_free(s, slab, obj, after_rcu_delay))


class KmemleakSlabHooks(SlabHooks):
    """The kmemleak_* calls of mm/slub.c, made to the kmemleak model (mm/kmemleak.py)."""

    def __init__(self, kmemleak: Any) -> None:
        self.kmemleak = kmemleak

    def slab_post_alloc(self, s: KmemCache, obj: int, gfp: int, orig_size: int) -> None:
        if not s.flags & _SLAB_NOLEAKTRACE:  # kmemleak_alloc_recursive()
            self.kmemleak.kmemleak_alloc(obj, s.object_size, 1, gfp)

    def kmalloc_large(self, ptr: int, size: int, gfp: int) -> None:
        self.kmemleak.kmemleak_alloc(ptr, size, 1, gfp)

    def kfree_large(self, ptr: int) -> None:
        self.kmemleak.kmemleak_free(ptr)

    def slab_free(self, s: KmemCache, slab: Slab, obj: int, after_rcu_delay: bool) -> bool:
        if not after_rcu_delay:  # kmemleak_free_recursive(), once
            self.kmemleak.kmemleak_free(obj)
        return False


def kmem_cache_init(k: Kernel) -> SlabAllocator:
    """mm/slub.c kmem_cache_init(): SLUB's own two caches, the kmalloc caches, the "SLUB:" line."""
    from kmemsim.include.linux import slab as slab_h
    from kmemsim.include.linux.export import export_symbols
    from kmemsim.mm.slab_boot import create_boot_caches
    from kmemsim.mm.slab_common import SlabAllocator

    sa = SlabAllocator(k)
    k.slab = sa
    export_symbols(k, sa)
    export_symbols(k, slab_h)  # the inline helpers of include/linux/slab.h
    create_boot_caches(sa)  # kmem_cache_node, kmem_cache
    sa.create_kmalloc_caches()
    k.log.pr_info(
        f"SLUB: HWalign={sa.cache_line}, Order={sa.slub_min_order}-{sa.slub_max_order}, "
        f"MinObjects={sa.slub_min_objects}, CPUs={sa.nr_cpu_ids}, Nodes=1"
    )
    sa.register_fs()
    k.slab_state = SlabState.FULL  # slab_sysfs_init() (an initcall; later caches get checked)
    return sa


# ---------------------------------------------------------------------- SLUB debugging
# The reports of mm/slub.c (CONFIG_SLUB_DEBUG): slab_bug(), object_err(), slab_err(),
# print_trailer() with print_section() hex dumps, check_bytes_and_report() and the
# "FIX <cache>: ..." lines of slab_fix()/restore_bytes().

_SEPARATOR_EQ = "=" * 77
_SEPARATOR_DASH = "-" * 77


def _tainted(sa: Slub) -> str:
    """print_tainted() of the execution context ("Not tainted", "Tainted: B")."""
    sched = sa.k.sched
    taints = sched.taints
    if not taints:
        return "Not tainted"
    return "Tainted: " + "".join(sorted(taints, key="PFSRMBUDAWCIOELKXTN".find))


def add_taint_bad_page(sa: Slub) -> None:
    """add_taint(TAINT_BAD_PAGE, LOCKDEP_NOW_UNRELIABLE): lock debugging goes off once."""
    sa.k.sched.taint("B")
    if not sa._taint_warned:
        sa._taint_warned = True
        sa.k.log.pr_warn("Disabling lock debugging due to kernel taint")


def slab_bug(sa: Slub, s: KmemCache | None, text: str) -> None:
    """slab_bug(): the "BUG <cache> (<taint>): <what>" banner."""
    log = sa.k.log
    log.pr_err(_SEPARATOR_EQ)
    log.pr_err(f"BUG {s.name if s is not None else '<unknown>'} ({_tainted(sa)}): {text}")
    log.pr_err(_SEPARATOR_DASH)
    log.pr_err("")


def slab_fix(sa: Slub, s: KmemCache, text: str) -> None:
    """slab_fix(): what SLUB did about it."""
    sa.k.log.pr_err(f"FIX {s.name}: {text}")


def print_section(sa: Slub, text: str, addr: int, length: int) -> None:
    """print_section(): print_hex_dump(DUMP_PREFIX_ADDRESS, 16 bytes a row, ascii)."""
    data = sa.read(addr, length)
    for off in range(0, length, 16):
        row = data[off : off + 16]
        hexpart = " ".join(f"{b:02x}" for b in row)
        ascii_part = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in row)
        sa.k.log.pr_err(f"{text}{addr + off:016x}: {hexpart.ljust(49)}{ascii_part}")


def print_slab_info(sa: Slub, slab: Slab) -> None:
    """print_slab_info(): the struct slab (its vmemmap address), counts, freelist, %pGp flags."""
    vmemmap = 0xFFFFEA0000000000 + slab.pfn * 64
    zb = sa.k.page_alloc.page_zone(slab.pfn)
    assert zb is not None, f"slab at pfn {slab.pfn:#x} outside every zone"
    zone = zb.idx
    # PG_workingset marks slab pages; node, zone and last_cpupid sit in the top bits.
    word = 0x200 | zone << 51 | 0x1FFFFF << 30
    sa.k.log.pr_err(
        f"Slab 0x{vmemmap:016x} objects={slab.objects} used={slab.inuse} "
        f"fp=0x{slab.freelist:016x} "
        f"flags={word:#x}(workingset|node=0|zone={zone}|lastcpupid=0x1fffff)"
    )


def print_tracking(sa: Slub, s: KmemCache, obj: int) -> None:
    """print_tracking(): "Allocated in" / "Freed in" of SLAB_STORE_USER caches."""
    if not s.flags & _SLAB_STORE_USER:
        return
    now = sa.jiffies()
    for alloc, what in ((True, "Allocated"), (False, "Freed")):
        addr, cpu, pid, when = sa.read_track(s, obj, alloc)
        if not addr:
            continue
        age = (now - when) & ((1 << (8 * sa.word)) - 1)
        sa.k.log.pr_err(f"{what} in {sa.symbol(addr)} age={age} cpu={cpu} pid={pid}")
        # No stack depot handle is recorded.
        sa.k.log.pr_err("object allocation/free stack trace missing")


def print_trailer(sa: Slub, s: KmemCache, slab: Slab, p: int) -> None:
    """print_trailer(): tracking, slab info, and the object's bytes region by region."""
    print_tracking(sa, s, p)
    print_slab_info(sa, slab)
    fp = sa.get_freepointer(s, p)
    sa.k.log.pr_err(f"Object 0x{p:016x} @offset={p - slab.base} fp=0x{fp:016x}")
    sa.k.log.pr_err("")
    if s.flags & _SLAB_RED_ZONE:
        print_section(sa, "Redzone  ", p - s.red_left_pad, s.red_left_pad)
    elif p > slab.base + 16:
        print_section(sa, "Bytes b4 ", p - 16, 16)
    print_section(sa, "Object   ", p, min(s.object_size, sa.page_size))
    if s.flags & _SLAB_RED_ZONE:
        print_section(sa, "Redzone  ", p + s.object_size, s.inuse - s.object_size)
    off = _metadata_end(sa, s)
    size_from_object = s.size - s.red_left_pad
    if off != size_from_object:
        print_section(sa, "Padding  ", p + off, size_from_object - off)


def _metadata_end(sa: Slub, s: KmemCache) -> int:
    """Offset past the free pointer, the tracks and the original size: padding starts here."""
    off = sa.get_info_end(s)
    if s.flags & _SLAB_STORE_USER:
        off += 2 * sa.track_size
        if s.flags & _SLAB_KMALLOC:
            off += 4
    return off


def object_err(sa: Slub, s: KmemCache, slab: Slab, obj: int, reason: str) -> None:
    """object_err(): the banner, the object's trailer (or "Invalid pointer"), a WARN."""
    slab_bug(sa, s, reason)
    if not obj or not check_valid_pointer(sa, s, slab, obj):
        print_slab_info(sa, slab)
        sa.k.log.pr_err(f"Invalid pointer 0x{obj:016x}")
    else:
        print_trailer(sa, s, slab, obj)
    add_taint_bad_page(sa)
    sa.warn("mm/slub.c", "object_err")


def slab_err(sa: Slub, s: KmemCache, slab: Slab, text: str) -> None:
    """slab_err(): the banner, the slab's state, a WARN."""
    slab_bug(sa, s, text)
    slab_err_tail(sa, slab)


def slab_err_tail(sa: Slub, slab: Slab) -> None:
    """__slab_err(): the slab's state, the taint, a WARN."""
    print_slab_info(sa, slab)
    add_taint_bad_page(sa)
    sa.warn("mm/slub.c", "__slab_err")


def check_valid_pointer(sa: Slub, s: KmemCache, slab: Slab, obj: int) -> bool:
    """check_valid_pointer(): NULL, or an object start inside the slab."""
    if not obj:
        return True
    o = obj - s.red_left_pad - slab.base
    return 0 <= o < slab.objects * s.size and o % s.size == 0


def check_bytes_and_report(
    sa: Slub,
    s: KmemCache,
    slab: Slab,
    obj: int,
    what: str,
    start: int,
    value: int,
    nbytes: int,
    print_obj: bool,
) -> bool:
    """check_bytes_and_report(): every byte must be `value`; report and restore if not."""
    if nbytes <= 0:
        return True
    data = sa.read(start, nbytes)
    fault = next((i for i, b in enumerate(data) if b != value), -1)
    if fault < 0:
        return True
    end = nbytes
    while end > fault and data[end - 1] == value:
        end -= 1
    sa.k.log.pr_err(
        f"[{what} overwritten] 0x{start + fault:016x}-0x{start + end - 1:016x} "
        f"@offset={start + fault - slab.base}. First byte 0x{data[fault]:x} instead of "
        f"0x{value:x}"
    )
    if print_obj:
        object_err(sa, s, slab, obj, "Object corrupt")
    slab_fix(sa, s, f"Restoring {what} 0x{start + fault:016x}-0x{start + end - 1:016x}=0x{value:x}")
    sa.fill(start + fault, value, end - fault)
    return False


def check_object(sa: Slub, s: KmemCache, slab: Slab, obj: int, val: int) -> bool:
    """check_object(): red zones, poison, padding and the free pointer of one object."""
    ok = True
    end_obj = obj + s.object_size
    if s.flags & _SLAB_RED_ZONE:
        ok &= check_bytes_and_report(
            sa, s, slab, obj, "Left Redzone", obj - s.red_left_pad, val, s.red_left_pad, ok
        )
        ok &= check_bytes_and_report(
            sa, s, slab, obj, "Right Redzone", end_obj, val, s.inuse - s.object_size, ok
        )
        if sa.orig_size_kept(s) and val == SLUB_RED_ACTIVE:
            orig = sa.get_orig_size(s, obj)
            if s.object_size > orig:
                ok &= check_bytes_and_report(
                    sa, s, slab, obj, "kmalloc Redzone", obj + orig, val, s.object_size - orig, ok
                )
    elif s.flags & _SLAB_POISON and s.object_size < s.inuse:
        ok &= check_bytes_and_report(
            sa,
            s,
            slab,
            obj,
            "Alignment padding",
            end_obj,
            POISON_INUSE,
            s.inuse - s.object_size,
            ok,
        )
    if s.flags & _SLAB_POISON:
        if val != SLUB_RED_ACTIVE and s.flags & _OBJECT_POISON:
            ok &= check_bytes_and_report(
                sa, s, slab, obj, "Poison", obj, POISON_FREE, s.object_size - 1, ok
            )
            ok &= check_bytes_and_report(
                sa, s, slab, obj, "End Poison", end_obj - 1, POISON_END, 1, ok
            )
        off = _metadata_end(sa, s)
        pad = s.size - s.red_left_pad - off
        if pad > 0:  # check_pad_bytes()
            ok &= check_bytes_and_report(
                sa, s, slab, obj, "Object padding", obj + off, POISON_INUSE, pad, True
            )
    outside = s.offset >= s.inuse
    if (outside or val != SLUB_RED_ACTIVE) and not check_valid_pointer(
        sa, s, slab, sa.get_freepointer(s, obj)
    ):
        object_err(sa, s, slab, obj, "Freepointer corrupt")
        sa.set_freepointer(s, obj, 0)
        ok = False
    return ok


def slab_pad_check(sa: Slub, s: KmemCache, slab: Slab) -> None:
    """slab_pad_check(): the bytes after the last object must still be POISON_INUSE."""
    if not s.flags & _SLAB_POISON:
        return
    length = sa.page_size << slab.order
    remainder = length % s.size
    if not remainder:
        return
    pad = slab.base + length - remainder
    data = sa.read(pad, remainder)
    fault = next((i for i, b in enumerate(data) if b != POISON_INUSE), -1)
    if fault < 0:
        return
    end = remainder
    while end > fault and data[end - 1] == POISON_INUSE:
        end -= 1
    slab_bug(
        sa,
        s,
        f"Padding overwritten. 0x{pad + fault:016x}-0x{pad + end - 1:016x} "
        f"@offset={pad + fault - slab.base}",
    )
    print_section(sa, "Padding ", pad, remainder)
    print_slab_info(sa, slab)
    add_taint_bad_page(sa)
    sa.warn("mm/slub.c", "__slab_err")
    slab_fix(
        sa,
        s,
        f"Restoring slab padding 0x{pad + fault:016x}-0x{pad + end - 1:016x}=0x{POISON_INUSE:x}",
    )
    sa.fill(pad + fault, POISON_INUSE, end - fault)


def check_slab(sa: Slub, s: KmemCache, slab: Slab) -> bool:
    """check_slab(): counts within bounds, not disabled, the slab padding intact."""
    maxobj = order_objects(slab.order, s.size, sa.page_shift)
    if slab.objects > maxobj:
        slab_err(sa, s, slab, f"objects {slab.objects} > max {maxobj}")
        return False
    if slab.inuse > slab.objects:
        slab_err(sa, s, slab, f"inuse {slab.inuse} > max {slab.objects}")
        return False
    if slab.frozen:
        slab_err(sa, s, slab, "Slab disabled since SLUB metadata consistency check failed")
        return False
    slab_pad_check(sa, s, slab)
    return True


def on_freelist(sa: Slub, s: KmemCache, slab: Slab, search: int) -> bool:
    """on_freelist(): is `search` on the slab's freelist? Repairs a corrupt chain."""
    fp = slab.freelist
    obj = 0
    nr = 0
    while fp and nr <= slab.objects:
        if fp == search:
            return True
        if not check_valid_pointer(sa, s, slab, fp):
            if obj:
                object_err(sa, s, slab, obj, "Freechain corrupt")
                sa.set_freepointer(s, obj, 0)
                break
            slab_err(sa, s, slab, "Freepointer corrupt")
            slab.freelist = 0
            slab.inuse = slab.objects
            slab_fix(sa, s, "Freelist cleared")
            return False
        obj = fp
        fp = sa.get_freepointer(s, obj)
        nr += 1
    if nr > slab.objects:
        slab_err(sa, s, slab, "Freelist cycle detected")
        slab.freelist = 0
        slab.inuse = slab.objects
        slab_fix(sa, s, "Freelist cleared")
        return False
    if slab.inuse != slab.objects - nr:
        slab_err(
            sa,
            s,
            slab,
            f"Wrong object count. Counter is {slab.inuse} but counted were {slab.objects - nr}",
        )
        slab.inuse = slab.objects - nr
        slab_fix(sa, s, "Object count adjusted")
    return search == 0


def trace(sa: Slub, s: KmemCache, slab: Slab, obj: int, alloc: bool) -> None:
    """SLAB_TRACE (slub_debug=T): every alloc and free of the cache in the log."""
    if not s.flags & _SLAB_TRACE:
        return
    sa.k.log.pr_info(
        f"TRACE {s.name} {'alloc' if alloc else 'free'} 0x{obj:016x} "
        f"inuse={slab.inuse} fp=0x{slab.freelist:016x}"
    )
    if not alloc:
        data = sa.read(obj, s.object_size)
        for off in range(0, s.object_size, 16):
            row = data[off : off + 16]
            hexpart = " ".join(f"{b:02x}" for b in row)
            asc = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in row)
            sa.k.log.pr_info(f"Object {obj + off:016x}: {hexpart.ljust(49)}{asc}")
    sa.k.sched.dump_stack(["trace", "alloc_debug_processing" if alloc else "free_debug_processing"])


def alloc_consistency_checks(sa: Slub, s: KmemCache, slab: Slab, obj: int) -> bool:
    """alloc_consistency_checks(): the slab sane, the object valid, free and intact."""
    if not check_slab(sa, s, slab):
        return False
    if not check_valid_pointer(sa, s, slab, obj):
        object_err(sa, s, slab, obj, "Freelist Pointer check fails")
        return False
    return check_object(sa, s, slab, obj, SLUB_RED_INACTIVE)


def free_consistency_checks(sa: Slub, s: KmemCache, slab: Slab, obj: int) -> bool:
    """free_consistency_checks(): invalid pointer, double free, corrupted object."""
    if not check_valid_pointer(sa, s, slab, obj):
        slab_err(sa, s, slab, f"Invalid object pointer 0x{obj:016x}")
        return False
    if on_freelist(sa, s, slab, obj):
        object_err(sa, s, slab, obj, "Object already free")
        return False
    return check_object(sa, s, slab, obj, SLUB_RED_ACTIVE)
