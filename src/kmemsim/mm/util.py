"""Model of the kvmalloc family (mm/util.c in older kernels; next to kmalloc in mm/slub.c since
6.12): kvmalloc, kvzalloc, kvcalloc, kvrealloc, kvfree.

kvmalloc() tries kmalloc() first, because physically contiguous memory is
cheaper to use; for more than a page it asks without direct reclaim (unless
__GFP_RETRY_MAYFAIL) and without a failure warning (kmalloc_gfp_adjust()), so
a request the slab or page allocator cannot satisfy quickly falls back to
vmalloc() instead of disturbing the system. A request of at most a page never
falls back (vmalloc cannot do better), nor one that may not sleep (vmalloc
sleeps), and more than INT_MAX bytes is refused with a warning (unless
__GFP_NOWARN). kvfree() frees either kind, by is_vmalloc_addr().
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.include.linux.export import EXPORT_SYMBOL
from kmemsim.include.linux.gfp_types import GFP
from kmemsim.mm.vmalloc import VM_ALLOW_HUGE_VMAP

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

INT_MAX = (1 << 31) - 1
SIZE_MAX = (1 << 64) - 1


class KvMalloc:
    """The kvmalloc family of one kernel, over its slab allocator and vmalloc area."""

    def __init__(self, k: Kernel) -> None:
        self.k = k
        self.page_size = k.machine.page_size

    def kmalloc_gfp_adjust(self, gfp: int, size: int) -> int:
        """kmalloc_gfp_adjust(): above a page, no warning and no direct reclaim (unless
        __GFP_RETRY_MAYFAIL), and no __GFP_NOFAIL (the vmalloc fallback provides it)."""
        if size > self.page_size:
            gfp |= int(GFP.NOWARN)
            if not gfp & GFP.RETRY_MAYFAIL:
                gfp &= ~int(GFP.DIRECT_RECLAIM)
            gfp &= ~int(GFP.NOFAIL)
        return gfp

    @EXPORT_SYMBOL
    def kvmalloc(self, size: int, gfp: int) -> int:
        """kvmalloc(): kmalloc() memory, or vmalloc() memory when that fails (see above)."""
        return self.kvmalloc_node(size, gfp)

    @EXPORT_SYMBOL
    def kvmalloc_node(self, size: int, gfp: int, node: int = -1) -> int:
        """__kvmalloc_node(): the fallback rule of the module docstring."""
        gfp = int(gfp)
        k = self.k
        ret = int(k.kmalloc(size, self.kmalloc_gfp_adjust(gfp, size)))
        if ret or size <= self.page_size:
            return ret
        if not gfp & GFP.DIRECT_RECLAIM:  # gfpflags_allow_blocking()
            return 0
        if size > INT_MAX:
            if not gfp & GFP.NOWARN:
                from kmemsim.mm.debug import warn

                warn(k, "mm/slub.c", "__kvmalloc_node_noprof")
            return 0
        vm = k.vmalloc_area
        return vm.vmalloc_node_range(
            size, 1, 0, 0, gfp, VM_ALLOW_HUGE_VMAP, "__kvmalloc_node_noprof+0x0/0x0"
        )

    @EXPORT_SYMBOL
    def kvzalloc(self, size: int, gfp: int) -> int:
        """kvzalloc(): kvmalloc() of zeroed memory."""
        return self.kvmalloc_node(size, int(gfp) | int(GFP.ZERO))

    @EXPORT_SYMBOL
    def kvmalloc_array(self, n: int, size: int, gfp: int) -> int:
        """kvmalloc_array(): n * size bytes; NULL when the product overflows size_t."""
        if n < 0 or size < 0 or n * size > SIZE_MAX:
            return 0
        return self.kvmalloc_node(n * size, gfp)

    @EXPORT_SYMBOL
    def kvcalloc(self, n: int, size: int, gfp: int) -> int:
        """kvcalloc(): zeroed kvmalloc_array()."""
        return self.kvmalloc_array(n, size, int(gfp) | int(GFP.ZERO))

    @EXPORT_SYMBOL
    def kvfree(self, addr: int) -> None:
        """kvfree(): vfree() a vmalloc address, kfree() anything else (NULL included)."""
        if self.k.vmalloc_area.is_vmalloc_addr(addr):
            self.k.vmalloc_area.vfree(addr)
        else:
            self.k.kfree(addr)

    @EXPORT_SYMBOL
    def kvfree_sensitive(self, addr: int, length: int) -> None:
        """kvfree_sensitive(): clear `length` bytes (memzero_explicit), then kvfree()."""
        if addr:
            self.k.memset(addr, 0, length)
            self.kvfree(addr)

    @EXPORT_SYMBOL
    def kvrealloc(self, p: int, size: int, gfp: int) -> int:
        """kvrealloc(): vrealloc() a vmalloc address; else krealloc() (adjusted flags), and
        when that fails kvmalloc() a new block, copy ksize(p) bytes and kfree(p)."""
        gfp = int(gfp)
        k = self.k
        vm = k.vmalloc_area
        if p and vm.is_vmalloc_addr(p):
            return self.vrealloc(p, size, gfp)
        n = int(k.krealloc(p, size, self.kmalloc_gfp_adjust(gfp, size)))
        if not n:
            n = self.kvmalloc_node(size, gfp)
            if not n:
                return 0
            if p:
                k.address_space.write(n, k.address_space.read(p, min(int(k.ksize(p)), size)))
                k.kfree(p)
        return n

    def vrealloc(self, p: int, size: int, gfp: int) -> int:
        """vrealloc(): in place when the area's pages hold `size` (zeroing what it gives up
        or gains with __GFP_ZERO), else a new vmalloc() area with the data copied."""
        k = self.k
        vm = k.vmalloc_area
        area = vm.find_vm_area(p)
        if area is None:
            from kmemsim.mm.debug import warn

            message = f"Trying to vrealloc() nonexistent vm area ({p:#x})"
            warn(k, "mm/vmalloc.c", "vrealloc_noprof", message)
            return 0
        if not size:
            vm.vfree(p)
            return 0
        alloced = area.nr_pages * self.page_size
        if size <= alloced:
            return p
        n = vm.vmalloc_node_range(size, 1, 0, 0, gfp, 0, "vrealloc_noprof")
        if not n:
            return 0
        aspace = k.address_space
        aspace.write(n, aspace.read(p, alloced))
        vm.vfree(p)
        return n


def kvmalloc_init(k: Kernel) -> None:
    """Export the kvmalloc family onto the kernel."""
    from kmemsim.include.linux.export import export_symbols

    export_symbols(k, KvMalloc(k))
