"""Model of mm/kasan/common.c: the kasan_* hooks of the slab, page and mempool paths.

The allocators call these at the kernel's hook points; each poisons or
unpoisons the shadow (shadow.py) as the kernel does at that transition:

    new slab                 kasan_poison_slab(): the whole slab KASAN_SLAB_REDZONE
    slab_post_alloc_hook     kasan_slab_alloc(): the object (object_size) accessible
    __kmalloc                kasan_kmalloc(): bytes from the request size to the end of
                             the object poisoned again (partial last granule, then
                             KASAN_SLAB_REDZONE): kmalloc(115) leaves 115..127 of a
                             kmalloc-128 object poisoned, and ksize() does not lift it
    krealloc in place        kasan_krealloc(): the new size accessible, the rest poisoned
    slab_free_hook           kasan_slab_free(): invalid-free (not an object start) and
                             double-free (first byte not accessible) reported and the
                             free refused; else KASAN_SLAB_FREE(_META) and the object
                             goes to the quarantine instead of the freelist
    large kmalloc            kasan_kmalloc_large(): the request accessible, the rest of
                             the folio KASAN_PAGE_REDZONE; kasan_kfree_large() checks
    page alloc / free        kasan_unpoison_pages() / kasan_poison_pages() (the shadow of
                             a free page is KASAN_PAGE_FREE)
    mempool                  kasan_mempool_poison_object/pages() when an element goes
                             into the pool, kasan_mempool_unpoison_object/pages() out

kasan_check_range() checks every load and store of the kernel address space.
The allocation and free tracks are written into the object's KASAN metadata
(generic.py) in simulated memory, with the stack saved in a stack depot.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from kmemsim.include.linux import slab as _slab_h
from kmemsim.include.linux.export import EXPORT_SYMBOL
from kmemsim.lib import stackdepot
from kmemsim.lib.stackdepot import StackDepot
from kmemsim.mm.kasan.generic import KASAN_NO_FREE_META, kasan_cache_create
from kmemsim.mm.kasan.quarantine import Quarantine
from kmemsim.mm.kasan.report import (
    REPORT_DOUBLE_FREE,
    REPORT_INVALID_FREE,
    kasan_report,
    kasan_report_invalid_free,
)
from kmemsim.mm.kasan.shadow import (
    KASAN_PAGE_FREE,
    KASAN_PAGE_REDZONE,
    KASAN_SLAB_FREE,
    KASAN_SLAB_FREE_META,
    KASAN_SLAB_REDZONE,
    KASAN_VMALLOC_INVALID,
    Shadow,
)

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel
    from kmemsim.mm.slab import KmemCache, Slab

# Plain ints: IntFlag arithmetic costs a call per operation on these paths.
SLAB_KMALLOC = int(_slab_h.SLAB_KMALLOC)
SLAB_RED_ZONE = int(_slab_h.SLAB_RED_ZONE)
SLAB_TYPESAFE_BY_RCU = int(_slab_h.SLAB_TYPESAFE_BY_RCU)
_TRACK = struct.Struct("<II")  # struct kasan_track: pid, stack handle
_AUX = struct.Struct("<II")  # aux_stack[2]

# Kernel accessors that stand for compiler instrumentation (a plain load or
# store, or the __asan_mem* interceptors): their report names the caller.
_INTERCEPTORS = {
    "read": "__asan_loadN",
    "write": "__asan_storeN",
    "read_ulong": "__asan_load8",
    "write_ulong": "__asan_store8",
    "memset": "__asan_memset",
    "fill": "__asan_memset",
    "memcpy": "__asan_memcpy",
    "memmove": "__asan_memmove",
}


def _round_up(x: int, a: int) -> int:
    return (x + a - 1) & ~(a - 1)


class Kasan:
    """Generic KASAN of one kernel: its shadow, quarantine, stack depot and report state."""

    def __init__(self, k: Kernel) -> None:
        self.k = k
        cfg = k.config
        self.multi_shot = bool(cfg["kasan_multi_shot"])
        self.fault = str(cfg["kasan.fault"])
        self.vmalloc = bool(cfg["KASAN_VMALLOC"])
        self.rcu_debug = bool(cfg["SLUB_RCU_DEBUG"]) and bool(cfg["SLUB_DEBUG"])
        self.reported = False
        self.in_report = False
        self.taint_warned = False
        self.nr_reports = 0
        self.last_bug_type = ""
        self.report_stack: list[str] = []
        self.depot = StackDepot()
        # kasan_disable_current() depth: no checks inside the allocator's own copies.
        self.depth = 0
        dm = k.direct_map
        self._page_offset = dm.page_offset
        self._dm_end = dm.page_offset + (dm.max_low_pfn << dm.page_shift)
        self.shadow = Shadow(self._default_shadow)
        # cache -> (alloc_meta_offset, free_meta_offset)
        self.meta: dict[KmemCache, tuple[int, int]] = {}
        self.quarantine: Quarantine | None = None
        k.log.pr_info("KernelAddressSanitizer initialized (generic)")

    # ------------------------------------------------------------------ shadow by state
    def _default_shadow(self, vpage: int) -> int:
        """The shadow of a page with no written shadow: what its state makes it.

        A direct-map frame in a free block of the buddy allocator or on a
        per-CPU list is KASAN_PAGE_FREE (free_pages_prepare() poisoned it); an
        allocated or reserved frame is accessible; so is the kernel image.
        """
        addr = vpage << 12
        if self._page_offset <= addr < self._dm_end:
            pfn = self._virt_to_pfn(addr)
            pa = self.k.page_alloc
            if pfn in pa.pages or pa._find_head(pfn) is not None:
                return 0
            zb = pa.page_zone(pfn)
            if zb is None:
                return 0
            for o in range(pa.nr_page_orders):
                fo = zb.free_block_order(pfn & ~((1 << o) - 1))
                if fo >= o:
                    return KASAN_PAGE_FREE
            for pcp in zb.pcp:
                if any(pfn in lst for lst in pcp.lists):
                    return KASAN_PAGE_FREE
            return 0
        if self.vmalloc and self._is_vmalloc(addr):
            return KASAN_VMALLOC_INVALID
        return 0

    def _virt_to_pfn(self, addr: int) -> int:
        """The frame of a direct-map address (__pa() >> PAGE_SHIFT)."""
        return int(self.k.direct_map.virt_to_pfn(addr))

    def _is_vmalloc(self, addr: int) -> bool:
        """is_vmalloc_addr(): inside VMALLOC_START..VMALLOC_END of the layout (set up
        before KASAN, so this holds while booting, before vmalloc_init())."""
        layout = self.k.vm_layout
        return layout.vmalloc_start <= addr < layout.vmalloc_end

    # ------------------------------------------------------------------ helpers
    def addr_to_pfn(self, addr: int) -> int | None:
        if self._page_offset <= addr < self._dm_end:
            return self._virt_to_pfn(addr)
        if self._is_vmalloc(addr):
            pfn = self.k.vmalloc_area.vmalloc_to_pfn(addr)
            return int(pfn) if pfn else None
        return None

    def vmalloc_area(self, addr: int) -> tuple[int, int, str] | None:
        """find_vm_area(): (start, end, caller) of the vmap area holding `addr`."""
        if not self._is_vmalloc(addr):
            return None
        area = self.k.vmalloc_area.find_vm_area(addr)
        if area is None:
            return None
        return area.addr, area.addr + area.size, area.caller

    def addr_to_slab(self, addr: int) -> Slab | None:
        if not self._page_offset <= addr < self._dm_end:
            return None
        slab: Slab | None = self.k.slab.slab_of_pfn.get(self._virt_to_pfn(addr))
        return slab

    @staticmethod
    def nearest_obj(s: KmemCache, slab: Slab, x: int) -> int:
        """nearest_obj(): the object of `slab` whose slot holds `x`."""
        obj = x - (x - slab.base) % s.size
        last = slab.base + (slab.objects - 1) * s.size
        obj = min(obj, last)
        if s.flags & SLAB_RED_ZONE:
            obj += s.red_left_pad
        return obj

    def get_alloc_size(self, obj: int, s: KmemCache) -> int:
        """kasan_get_alloc_size(): the requested size read back from the shadow (0: freed)."""
        size = 0
        addr = obj
        while size < s.object_size:
            v = self.shadow.byte(addr)
            if v == 0:
                size += 8
            elif v < 8:
                return size + v
            else:
                return size
            addr += 8
        return s.object_size

    def _stack(self) -> int:
        return self.depot.save_current(2)

    def _write(self, addr: int, data: bytes) -> None:
        self.k.address_space.write(addr, data)

    def _read(self, addr: int, n: int) -> bytes:
        return self.k.address_space.read(addr, n)

    def save_alloc_info(self, s: KmemCache, obj: int) -> None:
        """kasan_save_alloc_info(): pid and stack into the alloc meta; aux stacks cleared."""
        alloc_off = self.meta.get(s, (0, 0))[0]
        if alloc_off:
            track = _TRACK.pack(int(self.k.sched.pid), self._stack())
            self._write(obj + alloc_off, track + _AUX.pack(0, 0))

    def save_free_info(self, s: KmemCache, obj: int) -> None:
        """kasan_save_free_info(): the free track into the free meta, shadow FREE_META."""
        free_off = self.meta.get(s, (0, KASAN_NO_FREE_META))[1]
        if free_off == KASAN_NO_FREE_META:
            return
        track = _TRACK.pack(int(self.k.sched.pid), self._stack())
        self._write(obj + free_off, bytes(8) + track)
        self.shadow.set_byte(obj, KASAN_SLAB_FREE_META)

    def object_tracks(
        self, s: KmemCache, obj: int
    ) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
        """(alloc pid, stack), (free pid, stack), aux stacks, as the report reads them."""
        alloc_off, free_off = self.meta.get(s, (0, KASAN_NO_FREE_META))
        alloc, aux = (0, 0), (0, 0)
        if alloc_off:
            raw = self._read(obj + alloc_off, 16)
            alloc = _TRACK.unpack(raw[:8])
            aux = _AUX.unpack(raw[8:])
        free = (0, 0)
        if free_off != KASAN_NO_FREE_META and self.shadow.byte(obj) == KASAN_SLAB_FREE_META:
            free = _TRACK.unpack(self._read(obj + free_off + 8, 8))
        return alloc, free, aux

    # ------------------------------------------------------------------ reports
    def _ip_and_stack(self) -> str:
        """FUNC of a report, and the stack below kasan_report (self.report_stack)."""
        stack = list(stackdepot.capture(3))
        if stack:
            entry = stack[0].split("+", 1)[0]
            interceptor = _INTERCEPTORS.get(entry)
            if interceptor is not None:
                stack[0] = interceptor + "+" + stack[0].split("+", 1)[1]
                self.report_stack = stack
                return stack[1] if len(stack) > 1 else stack[0]
        self.report_stack = stack
        return stack[0] if stack else "0x0"

    @EXPORT_SYMBOL
    def kasan_check_range(self, addr: int, size: int, write: bool) -> bool:
        """kasan_check_range(): True if [addr, addr + size) may be accessed, else report."""
        if size == 0 or self.depth:
            return True
        if addr + size > 1 << 64 or addr < 0xFFFF800000000000:
            self._report(addr, size, write)
            return False
        if not self.shadow.is_poisoned(addr, size):
            return True
        self._report(addr, size, write)
        return False

    def _report(self, addr: int, size: int, write: bool) -> None:
        ip = self._ip_and_stack()
        kasan_report(self, addr, size, write, ip)

    @EXPORT_SYMBOL
    def kasan_check_byte(self, addr: int) -> bool:
        """kasan_check_byte(): one byte accessible, else a report of a 0-size read."""
        if self.shadow.byte_accessible(addr):
            return True
        self._report(addr, 0, False)
        return False

    def _invalid_free(self, ptr: int, rtype: int) -> None:
        stack = list(stackdepot.capture(3))
        self.report_stack = stack
        kasan_report_invalid_free(self, ptr, stack[0] if stack else "0x0", rtype)

    # ------------------------------------------------------------------ slab hooks
    def cache_create(self, s: KmemCache, size: int, slub_debug: bool) -> int:
        """kasan_cache_create() from calculate_sizes(): the grown size."""
        size, alloc_off, free_off = kasan_cache_create(s, size, slub_debug)
        self.meta[s] = (alloc_off, free_off)
        return size

    def poison_slab(self, slab: Slab) -> None:
        """kasan_poison_slab(): a new slab is redzone all over."""
        self.shadow.poison(slab.base, 4096 << slab.order, KASAN_SLAB_REDZONE)

    def _kfence(self, addr: int) -> bool:
        """is_kfence_address(): KASAN leaves KFENCE's objects to KFENCE."""
        kfence = self.k.kfence
        return kfence is not None and bool(kfence.start <= addr < kfence.end)

    def slab_alloc(self, s: KmemCache, obj: int, gfp: int) -> None:
        """__kasan_slab_alloc(): reduce the quarantine, unpoison, save the alloc track."""
        if gfp & 0x400 and self.quarantine is not None:  # gfpflags_allow_blocking()
            self.quarantine.reduce()
        if self._kfence(obj):
            return
        self.shadow.unpoison(obj, s.object_size)
        if not s.flags & SLAB_KMALLOC:
            self.save_alloc_info(s, obj)

    def poison_kmalloc_redzone(self, s: KmemCache, obj: int, size: int) -> None:
        """poison_kmalloc_redzone(): past the request: partial granule, then the redzone."""
        self.shadow.poison_last_granule(obj, size)
        start = _round_up(obj + size, 8)
        end = _round_up(obj + s.object_size, 8)
        if end > start:
            self.shadow.poison(start, end - start, KASAN_SLAB_REDZONE)
        if s.flags & SLAB_KMALLOC:
            self.save_alloc_info(s, obj)

    def kmalloc(self, s: KmemCache, obj: int, size: int) -> None:
        """__kasan_kmalloc()."""
        if not self._kfence(obj):
            self.poison_kmalloc_redzone(s, obj, size)

    def check_slab_allocation(self, s: KmemCache, slab: Slab, obj: int) -> bool:
        """check_slab_allocation(): True (after the report) for an invalid or double free."""
        if self._kfence(obj):
            return False
        if self.nearest_obj(s, slab, obj) != obj:
            self._invalid_free(obj, REPORT_INVALID_FREE)
            return True
        if not self.shadow.byte_accessible(obj):
            self._invalid_free(obj, REPORT_DOUBLE_FREE)
            return True
        return False

    def poison_slab_object(self, s: KmemCache, obj: int) -> None:
        """poison_slab_object(): KASAN_SLAB_FREE over the object, and the free track."""
        self.shadow.poison(obj, _round_up(s.object_size, 8), KASAN_SLAB_FREE)
        self.save_free_info(s, obj)

    def slab_free(self, s: KmemCache, slab: Slab, obj: int, after_rcu_delay: bool = False) -> bool:
        """__kasan_slab_free(): True when the object must not reach the freelist now."""
        if self._kfence(obj):
            return False
        if self.check_slab_allocation(s, slab, obj):
            return True
        if s.flags & SLAB_TYPESAFE_BY_RCU and not after_rcu_delay:
            return False  # still accessible to RCU readers: no poison
        self.poison_slab_object(s, obj)
        if self.quarantine is None:
            return False
        self.quarantine.put(self.k.sched.current_cpu, s, obj)
        return True

    def qlink_free(self, s: KmemCache, obj: int) -> None:
        """qlink_free(): out of the quarantine, the free meta is no longer kept."""
        if self.shadow.byte(obj) == KASAN_SLAB_FREE_META:
            self.shadow.set_byte(obj, KASAN_SLAB_FREE)
        sa = self.k.slab
        slab = sa.slab_of_pfn.get(self._virt_to_pfn(obj))
        if slab is not None:
            sa.do_slab_free(s, slab, obj)

    def quarantine_remove_cache(self, s: KmemCache) -> None:
        """kasan_quarantine_remove_cache()."""
        if self.quarantine is not None:
            self.quarantine.remove_cache(s)

    def krealloc(self, obj: int, size: int) -> None:
        """__kasan_krealloc(): the new size accessible, the rest of the object poisoned."""
        if self._kfence(obj):
            return
        self.shadow.unpoison(obj, size)
        slab = self.addr_to_slab(obj)
        if slab is None:
            self.poison_kmalloc_large_redzone(obj, size)
        else:
            self.poison_kmalloc_redzone(slab.cache, obj, size)

    # ------------------------------------------------------------------ large kmalloc, pages
    def _folio_size(self, ptr: int) -> int:
        pa = self.k.page_alloc
        pfn = self._virt_to_pfn(ptr)
        head = pa.pages.get(pfn) or pa._find_head(pfn)
        if head is None:
            return 4096
        return 4096 << int(head.order)

    def poison_kmalloc_large_redzone(self, ptr: int, size: int) -> None:
        """poison_kmalloc_large_redzone(): the rest of the folio KASAN_PAGE_REDZONE."""
        self.shadow.poison_last_granule(ptr, size)
        start = _round_up(ptr + size, 8)
        end = (ptr & ~4095) + self._folio_size(ptr)
        if end > start:
            self.shadow.poison(start, end - start, KASAN_PAGE_REDZONE)

    def kmalloc_large(self, ptr: int, size: int) -> None:
        """__kasan_kmalloc_large(): pages fresh from the allocator, the tail a redzone."""
        self.shadow.unpoison(ptr, size)
        self.poison_kmalloc_large_redzone(ptr, size)

    def check_page_allocation(self, ptr: int) -> bool:
        """check_page_allocation(): True (after the report) for a bad free of pages."""
        if ptr & 4095:
            self._invalid_free(ptr, REPORT_INVALID_FREE)
            return True
        if not self.shadow.byte_accessible(ptr):
            self._invalid_free(ptr, REPORT_DOUBLE_FREE)
            return True
        return False

    def kfree_large(self, ptr: int) -> None:
        """__kasan_kfree_large(): the check only (the page free poisons)."""
        self.check_page_allocation(ptr)

    def poison_pages(self, addr: int, order: int) -> None:
        """kasan_poison_pages(): KASAN_PAGE_FREE, which a free page's shadow reads as."""
        self.shadow.drop(addr, 1 << order)

    def unpoison_pages(self, addr: int, order: int) -> None:
        """kasan_unpoison_pages(): accessible, which an allocated page's shadow reads as."""
        self.shadow.drop(addr, 1 << order)

    # ------------------------------------------------------------------ vmalloc
    def unpoison_vmalloc(self, addr: int, size: int) -> None:
        """kasan_unpoison_vmalloc(): the requested bytes of a new area accessible; the rest
        of its pages stay KASAN_VMALLOC_INVALID (kasan_populate_vmalloc())."""
        if self.vmalloc:
            self.shadow.poison(addr, (size + 4095) & ~4095, KASAN_VMALLOC_INVALID)
            self.shadow.unpoison(addr, size)

    def poison_vmalloc(self, addr: int, size: int) -> None:
        """kasan_poison_vmalloc() and the shadow's release: the area reads invalid again."""
        if self.vmalloc:
            self.shadow.drop(addr, (size + 4095) >> 12)

    # ------------------------------------------------------------------ mempool
    def mempool_poison_object(self, ptr: int) -> bool:
        """__kasan_mempool_poison_object(): False (after a report) when `ptr` is bad."""
        slab = self.addr_to_slab(ptr)
        if slab is None:
            if self.check_page_allocation(ptr):
                return False
            self.shadow.poison(ptr, self._folio_size(ptr), KASAN_PAGE_FREE)
            return True
        s = slab.cache
        if self.check_slab_allocation(s, slab, ptr):
            return False
        self.poison_slab_object(s, ptr)
        return True

    def mempool_unpoison_object(self, ptr: int, size: int) -> None:
        """__kasan_mempool_unpoison_object()."""
        slab = self.addr_to_slab(ptr)
        if slab is None:
            self.shadow.unpoison(ptr, size)
            self.poison_kmalloc_large_redzone(ptr, size)
            return
        s = slab.cache
        self.shadow.unpoison(ptr, s.object_size)
        if not s.flags & SLAB_KMALLOC:
            self.save_alloc_info(s, ptr)
        else:
            self.poison_kmalloc_redzone(s, ptr, size)

    def mempool_poison_pages(self, addr: int, order: int) -> bool:
        """__kasan_mempool_poison_pages()."""
        if self.check_page_allocation(addr):
            return False
        self.shadow.poison(addr, 4096 << order, KASAN_PAGE_FREE)
        return True

    def mempool_unpoison_pages(self, addr: int, order: int) -> None:
        """kasan_mempool_unpoison_pages(): __kasan_unpoison_pages()."""
        self.shadow.drop(addr, 1 << order)

    # ------------------------------------------------------------------ aux stacks
    @EXPORT_SYMBOL
    def kasan_record_aux_stack(self, addr: int) -> None:
        """kasan_record_aux_stack(): call_rcu() and queue_work() remember who queued."""
        slab = self.addr_to_slab(addr)
        if slab is None:
            return
        s = slab.cache
        obj = self.nearest_obj(s, slab, addr)
        alloc_off = self.meta.get(s, (0, 0))[0]
        if not alloc_off:
            return
        a0, _a1 = _AUX.unpack(self._read(obj + alloc_off + 8, 8))
        self._write(obj + alloc_off + 8, _AUX.pack(self._stack(), a0))
