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
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kmemsim.include.linux.gfp_types import GFP, show_gfp_flags
from kmemsim.include.linux.slab import (
    SLAB_ACCOUNT,
    SLAB_CACHE_DMA,
    SLAB_CACHE_DMA32,
    SLAB_CONSISTENCY_CHECKS,
    SLAB_DEBUG_FLAGS,
    SLAB_HWCACHE_ALIGN,
    SLAB_KMALLOC,
    SLAB_NEVER_MERGE,
    SLAB_NO_USER_FLAGS,
    SLAB_NOLEAKTRACE,
    SLAB_POISON,
    SLAB_RECLAIM_ACCOUNT,
    SLAB_RED_ZONE,
    SLAB_STORE_USER,
    SLAB_TRACE,
    SLAB_TYPESAFE_BY_RCU,
    SlabFlags,
)
from kmemsim.mm.slab import KmemCache, KmemCacheCpu, Slab

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel
    from kmemsim.mm.slab_common import SlabAllocator

# mm/slub.c constants.
_OBJECT_POISON = SlabFlags.OBJECT_POISON  # __OBJECT_POISON
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
DEBUG_DEFAULT_FLAGS = SLAB_CONSISTENCY_CHECKS | SLAB_RED_ZONE | SLAB_POISON | SLAB_STORE_USER
_DEBUG_LETTERS = {
    "f": SLAB_CONSISTENCY_CHECKS,
    "z": SLAB_RED_ZONE,
    "p": SLAB_POISON,
    "u": SLAB_STORE_USER,
    "t": SLAB_TRACE,
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
    if flags & SLAB_HWCACHE_ALIGN:
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

    def __init__(self, k: Kernel) -> None:
        self.k = k
        cfg = k.config
        dm = k.direct_map
        self.page_shift: int = dm.page_shift
        self.page_size = 1 << self.page_shift
        self.word = int(getattr(k.machine, "bits", 64)) // 8  # sizeof(void *)
        self.byteorder: Any = k.mem.byteorder
        # struct track: addr, the stack depot handle, cpu, pid, when (with padding on 64-bit).
        self.track_size = 32 if self.word == 8 else 20
        self.nr_cpu_ids = int(k.machine.cpus)
        self.cache_line = int(getattr(k.machine, "cache_line_size", 64))
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
        # Simulated memory, accessed directly on the hot paths.
        self.mem = k.mem
        self._frames: dict[int, bytearray] = k.mem._frames
        self._v2p = dm.phys_offset - dm.page_offset
        self.page_offset = dm.page_offset
        # pfn -> Slab for every page of every slab (virt_to_slab()).
        self.slab_of_pfn: dict[int, Slab] = {}
        self.caches = []
        self._sched: Any = k.sched
        # The inlined fast paths assume 4 KiB pages and 8-byte little-endian pointers.
        self._fast = self.page_shift == 12 and self.word == 8 and self.byteorder == "little"
        # KASAN (mm/kasan/): its hooks sit on slab_alloc()/slab_free(), so the inlined
        # fast paths of kmalloc/kfree/kmem_cache_* are not taken while it is on.
        self.kasan: Any = getattr(k, "kasan", None)
        self.kmemleak: Any = getattr(k, "kmemleak", None)
        if self.kasan is not None or self.kmemleak is not None:
            self._fast = False
        else:
            self.slab_free = self.do_slab_free  # type: ignore[method-assign,assignment]
        self._taint_warned = False
        # struct track (mm/slub.c) and the text addresses of recorded callers.
        order = "<" if self.byteorder == "little" else ">"
        self._track_struct = _struct.Struct(order + ("QIIiIQ" if self.word == 8 else "IIIiI"))
        self._text_base = 0xFFFFFFFF81000000 if self.word == 8 else 0xC1000000
        self._sym_addr: dict[str, int] = {}
        self._sym_name: dict[int, str] = {}
        self._pkg_dir = str(Path(__file__).resolve().parent.parent)

    # ------------------------------------------------------------------ geometry
    def kmem_cache_flags(self, flags: int, name: str) -> int:
        """mm/slub.c kmem_cache_flags(): add the slub_debug flags that apply to `name`."""
        if flags & SLAB_NO_USER_FLAGS:
            return flags
        for dflags, names in self.debug_lists:
            if any(_name_matches(p, name) for p in names):
                return flags | dflags
        local = self.slub_debug
        if flags & SLAB_NOLEAKTRACE:
            local &= ~int(SLAB_STORE_USER)
        return flags | local

    def calculate_sizes(self, s: KmemCache, forced_order: int = -1) -> bool:
        """mm/slub.c calculate_sizes(): object layout, size, order; False if impossible."""
        word = self.word
        flags = s.flags
        size = _align(s.object_size, word)
        if (flags & SLAB_POISON) and not (flags & SLAB_TYPESAFE_BY_RCU) and s.ctor is None:
            s.flags |= _OBJECT_POISON
        else:
            s.flags &= ~_OBJECT_POISON
        if (flags & SLAB_RED_ZONE) and size == s.object_size:
            size += word  # room for a right red zone
        s.inuse = size
        orig_size_kept = bool(flags & SLAB_STORE_USER) and bool(flags & SLAB_KMALLOC)
        use_freeptr_offset = s.freeptr_offset is not None
        if (
            ((flags & SLAB_TYPESAFE_BY_RCU) and not use_freeptr_offset)
            or (flags & SLAB_POISON)
            or s.ctor is not None
            or ((flags & SLAB_RED_ZONE) and (s.object_size < word or orig_size_kept))
        ):
            # The object's bytes must survive while it is free: pointer after it.
            s.offset = size
            size += word
        elif (flags & SLAB_TYPESAFE_BY_RCU) and s.freeptr_offset is not None:
            # The creator reserved a word of the object that RCU readers never look at.
            s.offset = s.freeptr_offset
        else:
            # Mid-object, away from the edges an overflow would hit first.
            s.offset = (s.object_size // 2) & ~(word - 1)
        if flags & SLAB_STORE_USER:
            size += 2 * self.track_size
            if flags & SLAB_KMALLOC:
                size += 4  # the kmalloc request's original size
        if self.kasan is not None:
            # kasan_cache_create(): alloc/free metadata and the optimal redzone.
            size = self.kasan.cache_create(s, size, bool(self.slub_debug or self.debug_lists))
        s.red_left_pad = 0
        if flags & SLAB_RED_ZONE:
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
        if s.flags & SLAB_CACHE_DMA:
            allocflags |= int(GFP.DMA)
        if s.flags & SLAB_CACHE_DMA32:
            allocflags |= int(GFP.DMA32)
        if s.flags & SLAB_RECLAIM_ACCOUNT:
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
            # _SLAB_RECLAIM_ACCOUNT has no bit in SLUB_TINY kernels, nor debug flags effect.
            s.flags &= ~int(SLAB_RECLAIM_ACCOUNT | SLAB_DEBUG_FLAGS)
        if not self.calculate_sizes(s):
            return False
        s.debug = bool(s.flags & SLAB_DEBUG_FLAGS)
        self.set_min_partial(s)
        self.set_cpu_partial(s)
        s.cpu_slab = [KmemCacheCpu() for _ in range(self.nr_cpu_ids)]
        if self.hardened:
            s.random = self._rng.getrandbits(8 * self.word) | 1
        return True

    def slab_unmergeable(self, s: KmemCache) -> bool:
        """mm/slab_common.c slab_unmergeable()."""
        if self.slab_nomerge or (s.flags & SLAB_NEVER_MERGE):
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
        if s.flags & SLAB_CACHE_DMA:
            letters += "d"
        if s.flags & SLAB_CACHE_DMA32:
            letters += "D"
        if s.flags & SLAB_RECLAIM_ACCOUNT:
            letters += "a"
        if s.flags & SLAB_CONSISTENCY_CHECKS:
            letters += "F"
        if s.flags & SLAB_ACCOUNT:
            letters += "A"
        return ":" + (letters + "-" if letters else "") + f"{s.size:07d}"

    # ------------------------------------------------------------------ simulated memory
    def get_freepointer(self, s: KmemCache, obj: int) -> int:
        """get_freepointer(): the next free object, read from inside `obj`."""
        ptr_addr = obj + s.offset
        p = ptr_addr + self._v2p
        frame = self._frames.get(p >> self.page_shift)
        if frame is None:
            self.check_deref(ptr_addr)
            val = 0
        else:
            o = p & (self.page_size - 1)
            val = int.from_bytes(frame[o : o + self.word], self.byteorder)
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
        p = ptr_addr + self._v2p
        pfn = p >> self.page_shift
        frame = self._frames.get(pfn)
        if frame is None:
            if not fp:
                return
            frame = self._frames[pfn] = bytearray(self.page_size)
        o = p & (self.page_size - 1)
        frame[o : o + self.word] = fp.to_bytes(self.word, self.byteorder)

    def check_deref(self, addr: int) -> None:
        """A load from `addr`: outside the direct map of RAM it faults, as the kernel's would.

        A corrupted free pointer (a write after free) sends the allocator to
        such an address; the kernel then dies with a general protection fault
        (non-canonical address), a NULL pointer dereference or a page fault.
        """
        if self.k.direct_map.virt_addr_valid(addr):
            return
        from kmemsim.errors import Oops
        from kmemsim.kernel.printk import LogLevel

        log = self.k.log

        def alert(text: str) -> None:
            log.printk(text, LogLevel.ALERT)

        if self.word == 8 and (addr >> 47) not in (0, (1 << 17) - 1):
            log.pr_emerg(
                "Oops: general protection fault, probably for non-canonical address "
                f"{addr:#018x}: 0000 [#1] SMP NOPTI"
            )
        else:
            if addr < self.page_size:
                alert(f"BUG: kernel NULL pointer dereference, address: {addr:016x}")
            else:
                alert(f"BUG: unable to handle page fault for address: {addr:016x}")
            alert("#PF: supervisor read access in kernel mode")
            alert("#PF: error_code(0x0000) - not-present page")
            log.pr_emerg("Oops: 0000 [#1] SMP NOPTI")
        self.k.sched.taint("D")
        self.k.sched.dump_stack(["get_freepointer", "slab_alloc_node"])
        raise Oops(f"bad free pointer dereference at {addr:#x}")

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
        return self.mem.read(vaddr + self._v2p, n)

    def write(self, vaddr: int, data: bytes) -> None:
        self.mem.write(vaddr + self._v2p, data)

    def fill(self, vaddr: int, byte: int, n: int) -> None:
        if n > 0:
            self.mem.fill(vaddr + self._v2p, byte, n)

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
        alloc_gfp = (flags | int(GFP.NOWARN) | int(GFP.NORETRY)) & ~int(GFP.NOFAIL)
        if (alloc_gfp & GFP.DIRECT_RECLAIM) and s.oo_order > s.min_order:
            alloc_gfp = (alloc_gfp | int(GFP.NOMEMALLOC)) & ~_GFP_RECLAIM
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
            self.kasan.poison_slab(slab)
        self.init_slab_objects(s, slab)
        return slab

    def init_slab_objects(self, s: KmemCache, slab: Slab) -> None:
        """shuffle_freelist() / the sequential freelist of allocate_slab(), and setup_object()."""
        size = s.size
        first = slab.base + s.red_left_pad
        objs = [first + i * size for i in range(slab.objects)]
        if self.freelist_random and len(objs) > 1:
            self._rng.shuffle(objs)
        if s.debug and s.flags & SLAB_POISON:
            # setup_slab_debug(): the whole slab POISON_INUSE first (padding stays so).
            self.fill(slab.base, POISON_INUSE, self.page_size << slab.order)
        if s.debug and s.flags & (SLAB_STORE_USER | SLAB_RED_ZONE | _OBJECT_POISON):
            # setup_object_debug(): inactive red zones and poison, no owner yet.
            info = self.get_info_end(s)
            for obj in objs:
                self.init_object(s, obj, SLUB_RED_INACTIVE)
                if s.flags & SLAB_STORE_USER:
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
        if s.flags & SLAB_TYPESAFE_BY_RCU and getattr(self.k, "rcu", None) is not None:
            # rcu_free_slab(): readers may still look at the objects until a grace period
            # ends; the pages stay the cache's (and out of the allocator) until then.
            self.k.rcu.queue(slab.base, lambda _base: self._free_slab_pages(slab))
            return
        self._free_slab_pages(slab)

    def _free_slab_pages(self, slab: Slab) -> None:
        """free_slab() / __free_slab(): the pages back to the page allocator."""
        page = slab.page
        page.slab = None
        page.owner = ""
        if self.kasan is not None:
            self.kasan.poison_pages(slab.base, slab.order)
        # The model's one liberty: the host memory of a discarded slab goes back at once
        # (its bytes read as zero from now on), so host memory follows the slabs in use.
        self.mem.zero_frames(slab.pfn, 1 << slab.order)
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
            c.tid += 1
            self.deactivate_slab(s, slab, freelist)
        if c.partial:
            partial = c.partial[::-1]
            c.partial = []
            self.put_partials(s, partial)

    def flush_all(self, s: KmemCache) -> None:
        """mm/slub.c flush_all(): every CPU's slabs back to the node."""
        for c in s.cpu_slab:
            self.flush_cpu_slab(s, c)

    # ------------------------------------------------------------------ allocation
    def slab_alloc(self, s: KmemCache, gfp: int, orig_size: int) -> int:
        """slab_alloc_node(): the per-CPU fast path, else ___slab_alloc()."""
        if gfp & 0x400:  # __GFP_DIRECT_RECLAIM: might_alloc()
            self.might_alloc(gfp)
        c = s.cpu_slab[self.current_cpu()]
        obj = c.freelist
        if obj:
            p = obj + s.offset + self._v2p
            frame = self._frames.get(p >> 12) if self.page_shift == 12 else None
            if frame is not None and not s.random:
                o = p & 4095
                c.freelist = int.from_bytes(frame[o : o + self.word], self.byteorder)
            else:
                c.freelist = self.get_freepointer(s, obj)
            c.tid += 1
        else:
            obj = self.slab_alloc_slow(s, gfp, orig_size, c)
            if not obj:
                return 0
        if gfp & 0x100:  # __GFP_ZERO: the request size of a debugged kmalloc, else the object
            self.fill(obj, 0, orig_size if self.orig_size_kept(s) else s.object_size)
        if self.kasan is not None:  # slab_post_alloc_hook()
            self.kasan.slab_alloc(s, obj, gfp)
        if self.kmemleak is not None and not s.flags & SLAB_NOLEAKTRACE:
            self.kmemleak.kmemleak_alloc(obj, s.object_size, 1, gfp)
        return obj

    def slab_alloc_slow(self, s: KmemCache, gfp: int, orig_size: int, c: KmemCacheCpu) -> int:
        """mm/slub.c ___slab_alloc()."""
        if s.debug or self.slub_tiny:
            return self.alloc_single(s, gfp, orig_size)
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
            c.tid += 1
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
        c.tid += 1
        return freelist

    def slab_out_of_memory(self, s: KmemCache, gfp: int) -> None:
        """mm/slub.c slab_out_of_memory(): the rate-limited warning unless __GFP_NOWARN."""
        if gfp & GFP.NOWARN:
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
    def slab_free(self, s: KmemCache, slab: Slab, obj: int, after_rcu_delay: bool = False) -> None:
        """slab_free(): slab_free_hook() (kmemleak, KASAN), then do_slab_free()."""
        if self.kmemleak is not None and not after_rcu_delay:
            self.kmemleak.kmemleak_free(obj)
        kasan = self.kasan
        if kasan is not None:
            if s.flags & SLAB_TYPESAFE_BY_RCU and kasan.rcu_debug and not after_rcu_delay:
                # CONFIG_SLUB_RCU_DEBUG: KASAN sees the free after a grace period
                # (slab_free_after_rcu_debug()); the object stays usable by readers.
                if not kasan.check_slab_allocation(s, slab, obj):
                    self.k.rcu.call_rcu(obj, lambda o: self._free_after_rcu(s, o))
                return
            if kasan.slab_free(s, slab, obj, after_rcu_delay):
                return
        self.do_slab_free(s, slab, obj)

    def _free_after_rcu(self, s: KmemCache, obj: int) -> None:
        slab = self.slab_of_pfn.get((obj + self._v2p) >> self.page_shift)
        if slab is not None:
            self.slab_free(s, slab, obj, after_rcu_delay=True)

    def do_slab_free(self, s: KmemCache, slab: Slab, obj: int) -> None:
        """do_slab_free(): push on the CPU freelist when the object is of the CPU slab."""
        c = s.cpu_slab[self.current_cpu()]
        if slab is c.slab:
            fp = c.freelist
            if s.random:
                self.set_freepointer(s, obj, fp)
            else:
                p = obj + s.offset + self._v2p
                pfn = p >> self.page_shift
                frame = self._frames.get(pfn)
                if frame is None:
                    frame = self._frames[pfn] = bytearray(self.page_size)
                o = p & (self.page_size - 1)
                frame[o : o + self.word] = fp.to_bytes(self.word, self.byteorder)
            c.freelist = obj
            c.tid += 1
            return
        self.slab_free_slow(s, slab, obj)

    def slab_free_slow(self, s: KmemCache, slab: Slab, obj: int) -> None:
        """mm/slub.c __slab_free(): onto the slab's own freelist, and list moves."""
        if s.debug or self.slub_tiny:
            self.free_to_partial_list(s, slab, obj)
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

    # ------------------------------------------------------------------ debug / tiny paths
    def alloc_single(self, s: KmemCache, gfp: int, orig_size: int) -> int:
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
                if s.flags & SLAB_STORE_USER:
                    n.full.add(slab)
            self.alloc_single_done(s, obj, gfp)
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
            if s.flags & SLAB_STORE_USER:
                n.full.add(slab)
        else:
            self.add_partial(s, slab, tail=False)
        self.alloc_single_done(s, obj, gfp)
        return obj

    def alloc_single_done(self, s: KmemCache, obj: int, gfp: int) -> None:
        if s.flags & SLAB_STORE_USER:
            self.set_track(s, obj, alloc=True)

    def free_to_partial_list(self, s: KmemCache, slab: Slab, obj: int) -> None:
        """mm/slub.c free_to_partial_list(): the free path of debug and SLUB_TINY caches."""
        n = s.node
        if s.debug and not self.free_debug_processing(s, slab, obj):
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
        if s.flags & SLAB_RED_ZONE:
            self.fill(obj - s.red_left_pad, val, s.red_left_pad)
            if self.orig_size_kept(s) and val == SLUB_RED_ACTIVE:
                poison_size = self.get_orig_size(s, obj)
        if s.flags & _OBJECT_POISON:
            self.fill(obj, POISON_FREE, poison_size - 1)
            self.fill(obj + poison_size - 1, POISON_END, 1)
        if s.flags & SLAB_RED_ZONE:
            self.fill(obj + poison_size, val, s.inuse - poison_size)

    @staticmethod
    def orig_size_kept(s: KmemCache) -> bool:
        """slub_debug_orig_size(): a kmalloc cache with SLAB_STORE_USER records request sizes."""
        return bool(s.flags & SLAB_STORE_USER) and bool(s.flags & SLAB_KMALLOC)

    def warn(self, file: str, func: str) -> None:
        """WARN_ON_ONCE(): the cut-here report at `file` in `func` (mm/debug.py), once per site."""
        from kmemsim.mm.debug import warn

        warn(self.k, file, func)

    def set_track(self, s: KmemCache, obj: int, alloc: bool) -> None:
        """set_track(): record who allocated / freed the object (caller, cpu, pid, jiffies).

        struct track sits after the free pointer: the caller's address, the
        stack depot handle (none here), cpu, pid and when. The caller is the
        scenario function that called into the model, given a text address of
        its own so that print_track() can name it as %pS does.
        """
        if not s.flags & SLAB_STORE_USER:
            return
        base = obj + self.get_info_end(s) + (0 if alloc else self.track_size)
        sched = self.k.sched
        rec = self._track_struct.pack(
            self.caller_address(),
            0,
            self.current_cpu(),
            int(getattr(sched, "pid", 0)),
            *((0,) if self.word == 8 else ()),
            int(getattr(self.k, "jiffies", 0)),
        )
        self.write(base, rec)

    def read_track(self, s: KmemCache, obj: int, alloc: bool) -> tuple[int, int, int, int]:
        """get_track(): (caller address, cpu, pid, when) of an object's alloc or free track."""
        base = obj + self.get_info_end(s) + (0 if alloc else self.track_size)
        fields = self._track_struct.unpack(self.read(base, self.track_size))
        return fields[0], fields[2], fields[3], fields[-1]

    def caller_address(self) -> int:
        """_RET_IP_ of the allocation: a text address standing for the scenario's caller."""
        import sys

        frame = sys._getframe(2)
        while frame.f_back is not None and frame.f_code.co_filename.startswith(self._pkg_dir):
            frame = frame.f_back
        name = frame.f_code.co_name
        if name == "<module>":
            name = "kmemsim_scenario"
        addr = self._sym_addr.get(name)
        if addr is None:
            addr = self._text_base + 0x40 * len(self._sym_addr)
            self._sym_addr[name] = addr
            self._sym_name[addr] = name
        return addr

    def symbol(self, addr: int) -> str:
        """%pS of a recorded caller address."""
        return f"{self._sym_name.get(addr, hex(addr))}+0x0/0x40"

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
        if s.flags & SLAB_CONSISTENCY_CHECKS and not alloc_consistency_checks(self, s, slab, obj):
            slab_fix(self, s, "Marking all objects used")
            slab.inuse = slab.objects
            slab.freelist = 0
            slab.frozen = True  # a consistency-failed slab is disabled
            return False
        trace(self, s, slab, obj, alloc=True)
        self.set_orig_size(s, obj, orig_size)
        self.init_object(s, obj, SLUB_RED_ACTIVE)
        return True

    def free_debug_processing(self, s: KmemCache, slab: Slab, obj: int) -> bool:
        """mm/slub.c free_debug_processing(): checks, tracking, the object made inactive."""
        ok = True
        if s.flags & SLAB_CONSISTENCY_CHECKS and not check_slab(self, s, slab):
            ok = False
        elif slab.inuse < 1:
            slab_err(self, s, slab, "Slab has 0 allocated objects but 1 are to be freed")
            ok = False
        elif s.flags & SLAB_CONSISTENCY_CHECKS and not free_consistency_checks(self, s, slab, obj):
            ok = False
        if not ok:
            slab_fix(self, s, f"Object at 0x{obj:016x} not freed")
            return False
        if s.flags & SLAB_STORE_USER:
            self.set_track(s, obj, alloc=False)
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
        for s in self.caches:
            if s.flags & SLAB_RECLAIM_ACCOUNT:
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


def kmem_cache_init(k: Kernel) -> SlabAllocator:
    """mm/slub.c kmem_cache_init(): SLUB's own two caches, the kmalloc caches, the "SLUB:" line."""
    from kmemsim.include.linux.export import export_symbols
    from kmemsim.mm.slab_boot import create_boot_caches
    from kmemsim.mm.slab_common import SlabAllocator

    sa = SlabAllocator(k)
    k.slab = sa
    export_symbols(k, sa)
    create_boot_caches(sa)  # kmem_cache_node, kmem_cache
    sa.create_kmalloc_caches()
    k.log.pr_info(
        f"SLUB: HWalign={sa.cache_line}, Order={sa.slub_min_order}-{sa.slub_max_order}, "
        f"MinObjects={sa.slub_min_objects}, CPUs={sa.nr_cpu_ids}, Nodes=1"
    )
    sa.register_fs()
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
    taints = list(getattr(sched, "taints", []))
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
    zb = getattr(sa.k.page_alloc, "page_zone", lambda pfn: None)(slab.pfn)
    zone = int(getattr(zb, "idx", 0))
    # PG_workingset marks slab pages; node, zone and last_cpupid sit in the top bits.
    word = 0x200 | zone << 51 | 0x1FFFFF << 30
    sa.k.log.pr_err(
        f"Slab 0x{vmemmap:016x} objects={slab.objects} used={slab.inuse} "
        f"fp=0x{slab.freelist:016x} "
        f"flags={word:#x}(workingset|node=0|zone={zone}|lastcpupid=0x1fffff)"
    )


def print_tracking(sa: Slub, s: KmemCache, obj: int) -> None:
    """print_tracking(): "Allocated in" / "Freed in" of SLAB_STORE_USER caches."""
    if not s.flags & SLAB_STORE_USER:
        return
    now = int(getattr(sa.k, "jiffies", 0))
    for alloc, what in ((True, "Allocated"), (False, "Freed")):
        addr, cpu, pid, when = sa.read_track(s, obj, alloc)
        if not addr:
            continue
        sa.k.log.pr_err(f"{what} in {sa.symbol(addr)} age={now - when} cpu={cpu} pid={pid}")
        # No stack depot handle is recorded.
        sa.k.log.pr_err("object allocation/free stack trace missing")


def print_trailer(sa: Slub, s: KmemCache, slab: Slab, p: int) -> None:
    """print_trailer(): tracking, slab info, and the object's bytes region by region."""
    print_tracking(sa, s, p)
    print_slab_info(sa, slab)
    fp = sa.get_freepointer(s, p)
    sa.k.log.pr_err(f"Object 0x{p:016x} @offset={p - slab.base} fp=0x{fp:016x}")
    sa.k.log.pr_err("")
    if s.flags & SLAB_RED_ZONE:
        print_section(sa, "Redzone  ", p - s.red_left_pad, s.red_left_pad)
    elif p > slab.base + 16:
        print_section(sa, "Bytes b4 ", p - 16, 16)
    print_section(sa, "Object   ", p, min(s.object_size, sa.page_size))
    if s.flags & SLAB_RED_ZONE:
        print_section(sa, "Redzone  ", p + s.object_size, s.inuse - s.object_size)
    off = _metadata_end(sa, s)
    size_from_object = s.size - s.red_left_pad
    if off != size_from_object:
        print_section(sa, "Padding  ", p + off, size_from_object - off)


def _metadata_end(sa: Slub, s: KmemCache) -> int:
    """Offset past the free pointer, the tracks and the original size: padding starts here."""
    off = sa.get_info_end(s)
    if s.flags & SLAB_STORE_USER:
        off += 2 * sa.track_size
        if s.flags & SLAB_KMALLOC:
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
    if s.flags & SLAB_RED_ZONE:
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
    elif s.flags & SLAB_POISON and s.object_size < s.inuse:
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
    if s.flags & SLAB_POISON:
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
    if not s.flags & SLAB_POISON:
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
    if not s.flags & SLAB_TRACE:
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
