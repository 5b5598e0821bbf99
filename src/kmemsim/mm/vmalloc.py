"""Model of mm/vmalloc.c: the vmap_area allocator, vmalloc/vfree, vmap, and /proc/vmallocinfo.

The vmalloc area [VMALLOC_START, VMALLOC_END) of the layout is handed out as
vmap_areas: alloc_vmap_area() takes the lowest-addressed free block that fits
the size and the alignment (find_vmap_lowest_match); every area but a
VM_NO_GUARD one is one page longer than asked, an unmapped guard page that
turns a run off its end into a page fault. vmalloc() rounds the size up to
pages, takes an area (VM_ALLOC), allocates its pages one by one from the page
allocator (so they are not physically contiguous; __GFP_HIGHMEM is added
unless a DMA zone is asked for, so on 32-bit they come from highmem), and
maps each with a PTE (PAGE_KERNEL) in the kernel page tables
(mm/kernel_as.py). vfree() unmaps and frees the pages, but the virtual range
is only given back lazily: the area joins the purge list (it shows as
"unpurged vm_area" in /proc/vmallocinfo) until more than lazy_max_pages()
(fls(num_online_cpus()) * 32 MiB worth) of such pages wait, then all are
purged at once. vfree() from an interrupt is deferred as vfree_atomic()
defers it (to a work item that runs in process context: here, at the next
vmalloc-family call from a task). Failures warn as warn_alloc() does:
"vmalloc error: size N, vm_struct allocation failed" when no range fits,
"..., failed to allocate pages" when memory runs out, "..., exceeds total
pages" for more than there is RAM.

vmap_range(phys, size, prot, caller) / vunmap_range(addr) is the primitive
ioremap() builds on: it reserves an area (VM_IOREMAP, aligned to the size's
power of two up to IOREMAP_MAX_ORDER, with a guard page) and maps the physical
range page by page; its /proc/vmallocinfo line shows "phys=... ioremap".

Not modelled: the pages[] array of an area is not allocated (the kernel takes
it from kmalloc, or from vmalloc when it is over a page: the line then says
"vpages", which the model prints, without that second area); huge-page PMD
mappings (vmalloc_huge() maps its PMD-order blocks with 4K PTEs); KASAN
shadow for vmalloc space.
"""

from __future__ import annotations

import bisect
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kmemsim.include.linux.export import EXPORT_SYMBOL
from kmemsim.include.linux.gfp_types import GFP, GFP_KERNEL, format_gfp_mask

if TYPE_CHECKING:
    from kmemsim.include.linux.mm_types import Page
    from kmemsim.init.main import Kernel

# include/linux/vmalloc.h: vm_struct flags
VM_IOREMAP = 0x00000001
VM_ALLOC = 0x00000002
VM_MAP = 0x00000004
VM_USERMAP = 0x00000008
VM_DMA_COHERENT = 0x00000010
VM_UNINITIALIZED = 0x00000020
VM_NO_GUARD = 0x00000040
VM_KASAN = 0x00000080
VM_FLUSH_RESET_PERMS = 0x00000100
VM_MAP_PUT_PAGES = 0x00000200
VM_ALLOW_HUGE_VMAP = 0x00000400
VM_SPARSE = 0x00001000
# arch/x86/include/asm/page_types.h IOREMAP_MAX_ORDER (PUD on x86_64; 32-bit: PMD)
IOREMAP_MAX_ORDER_64 = 30
IOREMAP_MAX_ORDER_32 = 22
INT_MAX = (1 << 31) - 1
_GFP_DMA_ANY = int(GFP.DMA | GFP.DMA32)


@dataclass(eq=False, slots=True)
class VmArea:
    """struct vm_struct with its vmap_area: [addr, addr + size) including the guard page."""

    addr: int
    size: int
    flags: int
    caller: str
    pages: list[Page] = field(default_factory=list)
    # The blocks the pages came in from the page allocator: (head page, order).
    blocks: list[tuple[Page, int]] = field(default_factory=list)
    phys_addr: int = 0

    @property
    def nr_pages(self) -> int:
        return len(self.pages)

    def get_vm_area_size(self) -> int:
        """get_vm_area_size(): the usable size, without the guard page."""
        return self.size - (0 if self.flags & VM_NO_GUARD else 4096)


def fls(x: int) -> int:
    """fls(): the 1-based index of the most significant set bit, 0 for 0."""
    return x.bit_length()


def _caller() -> str:
    """The caller as %pS prints it: the first function outside the model, with its line
    within the function as the offset and the function's length in lines as the size."""
    frame = sys._getframe(1)
    while frame is not None and "/kmemsim/" in frame.f_code.co_filename.replace("\\", "/"):
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return "0x0"
    code = frame.f_code
    lines = [ln for _, _, ln in code.co_lines() if ln is not None]
    length = max(lines, default=code.co_firstlineno) - code.co_firstlineno + 1
    name = code.co_name
    if name == "<module>":
        name = code.co_filename.rsplit("/", 1)[-1].removesuffix(".py")
    return f"{name}+{frame.f_lineno - code.co_firstlineno:#x}/{length:#x}"


class Vmalloc:
    """The vmalloc area of one kernel: busy areas, free blocks, the lazy-purge list."""

    def __init__(self, k: Kernel) -> None:
        self.k = k
        layout = k.vm_layout
        self.start = layout.vmalloc_start
        self.end = layout.vmalloc_end
        self.page_shift = k.machine.page_shift
        self.page_size = 1 << self.page_shift
        self.ioremap_max_order = (
            IOREMAP_MAX_ORDER_64 if k.machine.bits == 64 else IOREMAP_MAX_ORDER_32
        )
        # Free blocks [start, end), sorted by start (the free vmap_area tree).
        self._free_starts: list[int] = [self.start]
        self._free_ends: list[int] = [self.end]
        self.busy: dict[int, VmArea] = {}
        self.purge_list: list[VmArea] = []
        self.lazy_nr = 0
        self.deferred_free: list[int] = []
        self.nr_vmalloc_pages = 0

    # ------------------------------------------------------------------ vmap_area allocator
    def _alloc_range(self, size: int, align: int, vstart: int, vend: int) -> int:
        """__alloc_vmap_area(): the lowest aligned address where `size` fits, or 0."""
        starts, ends = self._free_starts, self._free_ends
        i = max(bisect.bisect_right(starts, vstart) - 1, 0)
        while i < len(starts):
            lo = max(starts[i], vstart)
            addr = -(-lo // align) * align
            if addr + size > vend:
                return 0
            if addr + size <= ends[i]:
                self._carve(i, addr, addr + size)
                return addr
            i += 1
        return 0

    def _carve(self, i: int, a: int, b: int) -> None:
        s, e = self._free_starts[i], self._free_ends[i]
        del self._free_starts[i], self._free_ends[i]
        for lo, hi in ((b, e), (s, a)):
            if hi > lo:
                self._free_starts.insert(i, lo)
                self._free_ends.insert(i, hi)

    def _free_range(self, a: int, b: int) -> None:
        """Give [a, b) back to the free tree, merging with its neighbours."""
        starts, ends = self._free_starts, self._free_ends
        i = bisect.bisect_left(starts, a)
        if i < len(starts) and starts[i] == b:
            b = ends[i]
            del starts[i], ends[i]
        if i > 0 and ends[i - 1] == a:
            starts[i - 1] = min(starts[i - 1], a)
            ends[i - 1] = b
            return
        starts.insert(i, a)
        ends.insert(i, b)

    def get_vm_area(
        self, size: int, align: int, flags: int, caller: str, vstart: int = 0, vend: int = 0
    ) -> VmArea | None:
        """__get_vm_area_node(): an area of `size` (page-rounded) plus the guard page."""
        size = -(-size // self.page_size) * self.page_size
        if not flags & VM_NO_GUARD:
            size += self.page_size
        vstart, vend = vstart or self.start, vend or self.end
        addr = self._alloc_range(size, max(align, self.page_size), vstart, vend)
        if not addr and self.purge_list:
            self.purge_vmap_area_lazy()  # what the kernel does before giving up
            addr = self._alloc_range(size, max(align, self.page_size), vstart, vend)
        if not addr:
            return None
        area = VmArea(addr, size, flags, caller)
        self.busy[addr] = area
        return area

    def lazy_max_pages(self) -> int:
        """lazy_max_pages(): fls(num_online_cpus()) * 32 MiB of pages."""
        return fls(int(self.k.machine.cpus)) * ((32 << 20) >> self.page_shift)

    def purge_vmap_area_lazy(self) -> None:
        """__purge_vmap_area_lazy(): return every lazily freed range to the free tree."""
        for area in self.purge_list:
            self._free_range(area.addr, area.addr + area.size)
        self.purge_list.clear()
        self.lazy_nr = 0

    def _free_vmap_area_noflush(self, area: VmArea) -> None:
        self.purge_list.append(area)
        self.lazy_nr += area.size >> self.page_shift
        if self.lazy_nr > self.lazy_max_pages():
            self.purge_vmap_area_lazy()

    def _remove_vm_area(self, addr: int) -> VmArea | None:
        """remove_vm_area(): unmap the area's pages; its range goes to the purge list."""
        area = self.busy.pop(addr, None)
        if area is None:
            return None
        aspace = self.k.address_space
        for off in range(0, area.get_vm_area_size(), self.page_size):
            aspace.unmap_page(addr + off)
        self._free_vmap_area_noflush(area)
        return area

    def find_vm_area(self, addr: int) -> VmArea | None:
        """find_vm_area(): the busy area holding `addr`."""
        area = self.busy.get(addr)
        if area is not None:
            return area
        for a in self.busy.values():
            if a.addr <= addr < a.addr + a.size:
                return a
        return None

    # ------------------------------------------------------------------ reports
    def _warn(self, gfp: int, message: str) -> None:
        """warn_alloc(gfp, NULL, "vmalloc error: ..."): one line, the stack, Mem-Info."""
        from kmemsim.mm.show_mem import show_mem

        if gfp & GFP.NOWARN:
            return
        sched = self.k.sched
        self.k.log.pr_warn(
            f"{sched.comm}: {message}, mode:{format_gfp_mask(gfp)}, "
            "nodemask=(null),cpuset=/,mems_allowed=0"
        )
        sched.dump_stack(["warn_alloc", "__vmalloc_node_range_noprof", "vmalloc_noprof"])
        show_mem(self.k, gfp)

    def _run_deferred(self) -> None:
        """The vfree_atomic() work item: the frees an interrupt deferred, in task context."""
        if self.deferred_free and self.k.sched.in_task():
            pending, self.deferred_free = self.deferred_free, []
            for addr in pending:
                self._vfree(addr)

    # ------------------------------------------------------------------ vmalloc family
    def vmalloc_node_range(
        self,
        size: int,
        align: int,
        start: int,
        end: int,
        gfp: int,
        vm_flags: int,
        caller: str,
        page_order: int = 0,
    ) -> int:
        """__vmalloc_node_range_noprof(): map pages from the page allocator into a new area."""
        gfp = int(gfp)
        self._run_deferred()
        real_size = size & ((1 << 64) - 1)
        if real_size == 0:
            from kmemsim.mm.debug import warn

            warn(self.k, "mm/vmalloc.c", "__vmalloc_node_range_noprof")
            return 0
        pages_needed = -(-real_size // self.page_size)
        if pages_needed > self.k.page_alloc.totalram_pages():
            self._warn(gfp, f"vmalloc error: size {real_size}, exceeds total pages")
            return 0
        self.k.sched.might_alloc(gfp, "__vmalloc_node_range_noprof")
        if page_order:
            align = max(align, self.page_size << page_order)
            size = -(-real_size // (self.page_size << page_order)) * (self.page_size << page_order)
        area = self.get_vm_area(
            size, align, VM_ALLOC | VM_UNINITIALIZED | vm_flags, caller, start, end
        )
        if area is None:
            self._warn(gfp, f"vmalloc error: size {real_size}, vm_struct allocation failed")
            return 0
        if not gfp & _GFP_DMA_ANY:
            gfp |= int(GFP.HIGHMEM)
        aspace = self.k.address_space
        pa = self.k.page_alloc
        nr = area.get_vm_area_size() >> self.page_shift
        step = 1 << page_order
        addr = area.addr
        i = 0
        while i < nr:
            order = page_order if nr - i >= step else 0
            page = pa.alloc_pages(gfp & ~int(GFP.COMP), order)
            if page is None and order:
                order = 0
                page = pa.alloc_pages(gfp, 0)
            if page is None:
                self._warn(
                    gfp, f"vmalloc error: size {nr << self.page_shift}, failed to allocate pages"
                )
                area.flags &= ~VM_UNINITIALIZED
                self.nr_vmalloc_pages += len(area.pages)
                self._vfree(area.addr)
                return 0
            area.blocks.append((page, order))
            for j in range(1 << order):
                frame = pa.pfn_to_page(page.pfn + j) if j else page
                area.pages.append(frame)
                aspace.map_page(
                    addr + ((i + j) << self.page_shift), (page.pfn + j) << self.page_shift
                )
            i += 1 << order
        area.flags &= ~VM_UNINITIALIZED
        self.nr_vmalloc_pages += len(area.pages)
        k = self.k
        if k.kasan is not None:
            k.kasan.unpoison_vmalloc(addr, real_size)  # kasan_unpoison_vmalloc()
        if k.kmemleak is not None:
            k.kmemleak.kmemleak_alloc(
                addr, -(-real_size // self.page_size) * self.page_size, 1, gfp
            )
        return addr

    @EXPORT_SYMBOL
    def vmalloc(self, size: int) -> int:
        """vmalloc(): `size` bytes, virtually contiguous, from whole pages; 0 on failure."""
        return self.vmalloc_node_range(size, 1, 0, 0, int(GFP_KERNEL), 0, _caller())

    @EXPORT_SYMBOL("__vmalloc", "vmalloc_gfp")
    def vmalloc_gfp(self, size: int, gfp: int) -> int:
        """__vmalloc(): vmalloc() with the caller's GFP flags (__GFP_RETRY_MAYFAIL fails
        instead of invoking the OOM killer, __GFP_NOWARN silences the failure)."""
        return self.vmalloc_node_range(size, 1, 0, 0, int(gfp), 0, _caller())

    @EXPORT_SYMBOL
    def vzalloc(self, size: int) -> int:
        """vzalloc(): vmalloc() of zeroed memory."""
        return self.vmalloc_node_range(size, 1, 0, 0, int(GFP_KERNEL | GFP.ZERO), 0, _caller())

    @EXPORT_SYMBOL
    def vmalloc_node(self, size: int, node: int = -1) -> int:
        """vmalloc_node(): vmalloc() on a node (one node here)."""
        return self.vmalloc_node_range(size, 1, 0, 0, int(GFP_KERNEL), 0, _caller())

    @EXPORT_SYMBOL
    def vzalloc_node(self, size: int, node: int = -1) -> int:
        """vzalloc_node()."""
        return self.vmalloc_node_range(size, 1, 0, 0, int(GFP_KERNEL | GFP.ZERO), 0, _caller())

    @EXPORT_SYMBOL
    def vmalloc_32(self, size: int) -> int:
        """vmalloc_32(): GFP_VMALLOC32 (GFP_DMA32 | GFP_KERNEL) pages, which a 32-bit device
        can address: ZONE_DMA32 on x86_64, ZONE_NORMAL (lowmem, no __GFP_HIGHMEM added)
        on 32-bit machines without a DMA32 zone."""
        return self.vmalloc_node_range(size, 1, 0, 0, int(GFP_KERNEL | GFP.DMA32), 0, _caller())

    @EXPORT_SYMBOL
    def vmalloc_huge(self, size: int, gfp: int = int(GFP_KERNEL)) -> int:
        """vmalloc_huge(): with HAVE_ARCH_HUGE_VMALLOC (x86_64), a size of at least a PMD
        is PMD-aligned and backed by PMD-order blocks where the allocator has them."""
        order = 0
        if self.k.machine.arch == "x86_64" and size >= 2 << 20:
            order = 21 - self.page_shift
        return self.vmalloc_node_range(
            size, 1, 0, 0, int(gfp), VM_ALLOW_HUGE_VMAP, _caller(), page_order=order
        )

    @EXPORT_SYMBOL
    def vfree(self, addr: int) -> None:
        """vfree(): unmap and free a vmalloc()ed area; from an interrupt, deferred."""
        if not addr:
            return
        if self.k.sched.in_interrupt():
            self.deferred_free.append(addr)  # vfree_atomic(): llist + schedule_work()
            return
        self.k.sched.might_sleep("mm/vmalloc.c", "vfree")
        self._run_deferred()
        self._vfree(addr)

    @EXPORT_SYMBOL
    def vfree_atomic(self, addr: int) -> None:
        """vfree_atomic(): free later, from a work item."""
        if addr:
            self.deferred_free.append(addr)

    def _vfree(self, addr: int) -> None:
        area = self._remove_vm_area(addr)
        if area is None:
            from kmemsim.mm.debug import warn

            warn(
                self.k,
                "mm/vmalloc.c",
                "vfree",
                f"Trying to vfree() nonexistent vm area ({addr:#018x})",
                once=False,
            )
            return
        if area.flags & VM_ALLOC:
            self.nr_vmalloc_pages -= len(area.pages)
            k = self.k
            if k.kmemleak is not None:
                k.kmemleak.kmemleak_free(area.addr)  # vfree(): kmemleak_free()
            if k.kasan is not None:
                k.kasan.poison_vmalloc(area.addr, len(area.pages) << self.page_shift)
        pa = self.k.page_alloc
        for page, order in area.blocks:
            pa.free_pages_struct(page, order)
        area.blocks = []
        area.pages = []

    @EXPORT_SYMBOL
    def vmap(
        self, pages: list[Page], count: int, flags: int = VM_MAP, prot: int | None = None
    ) -> int:
        """vmap(): map `count` given pages contiguously; 0 on failure."""
        area = self.get_vm_area(count << self.page_shift, 1, flags | VM_MAP, _caller())
        if area is None:
            return 0
        aspace = self.k.address_space
        for i, page in enumerate(pages[:count]):
            aspace.map_page(
                area.addr + (i << self.page_shift), page.pfn << self.page_shift, prot=prot
            )
        if flags & VM_MAP_PUT_PAGES:
            area.blocks = [(p, 0) for p in pages[:count]]
        return area.addr

    @EXPORT_SYMBOL
    def vunmap(self, addr: int) -> None:
        """vunmap(): undo vmap(); the pages stay allocated."""
        if not addr:
            return
        self.k.sched.might_sleep("mm/vmalloc.c", "vunmap")
        if self._remove_vm_area(addr) is None:
            from kmemsim.mm.debug import warn

            warn(
                self.k,
                "mm/vmalloc.c",
                "vunmap",
                f"Trying to vunmap() nonexistent vm area ({addr:#018x})",
                once=False,
            )

    def vmap_range(self, phys: int, size: int, prot: int | None = None, caller: str = "") -> int:
        """Map [phys, phys + size) page by page into a new VM_IOREMAP area; its address
        (with phys's offset within its page), or 0. The shape ioremap() builds on."""
        offset = phys & (self.page_size - 1)
        last = phys + size - 1
        base = phys - offset
        length = -(-(last + 1 - base) // self.page_size) * self.page_size
        order = max(self.page_shift, min((length - 1).bit_length(), self.ioremap_max_order))
        area = self.get_vm_area(length, 1 << order, VM_IOREMAP, caller or _caller())
        if area is None:
            return 0
        area.phys_addr = base
        aspace = self.k.address_space
        for off in range(0, length, self.page_size):
            aspace.map_page(area.addr + off, base + off, prot=prot)
        return area.addr + offset

    def vunmap_range(self, addr: int) -> bool:
        """Undo vmap_range() (iounmap()'s part): unmap the area holding `addr`."""
        area = self.find_vm_area(addr)
        if area is None or not area.flags & VM_IOREMAP:
            return False
        self._remove_vm_area(area.addr)
        return True

    # ------------------------------------------------------------------ lookups
    @EXPORT_SYMBOL
    def is_vmalloc_addr(self, addr: int) -> bool:
        """is_vmalloc_addr(): VMALLOC_START <= addr < VMALLOC_END."""
        return self.start <= addr < self.end

    @EXPORT_SYMBOL
    def vmalloc_to_page(self, addr: int) -> Page | None:
        """vmalloc_to_page(): the struct page a vmalloc address is mapped to, or None."""
        pte = self.k.address_space.lookup_pte(addr)
        if not pte & 1:
            return None
        return self.k.page_alloc.pfn_to_page(self.vmalloc_to_pfn(addr))

    @EXPORT_SYMBOL
    def vmalloc_to_pfn(self, addr: int) -> int:
        """vmalloc_to_pfn(): page_to_pfn(vmalloc_to_page(addr)), 0 when unmapped."""
        pte = self.k.address_space.lookup_pte(addr)
        if not pte & 1:
            return 0
        return (pte & self.k.address_space._pte_pfn_mask) >> self.page_shift

    def vmalloc_used_kb(self) -> int:
        """/proc/meminfo VmallocUsed: vmalloc_nr_pages() in kB."""
        return self.nr_vmalloc_pages << (self.page_shift - 10)

    def vmallocinfo(self) -> str:
        """/proc/vmallocinfo (show_vmap_area, show_purge_info): every area by address."""
        self._run_deferred()
        width = 16 if self.k.machine.bits == 64 else 8
        lines: list[tuple[int, str]] = []
        for a in self.busy.values():
            text = f"0x{a.addr:0{width}x}-0x{a.addr + a.size:0{width}x} {a.size:7d}"
            if a.caller:
                text += f" {a.caller}"
            if a.nr_pages:
                text += f" pages={a.nr_pages}"
            if a.phys_addr:
                text += f" phys=0x{a.phys_addr:0{width}x}"
            if a.flags & VM_IOREMAP:
                text += " ioremap"
            if a.flags & VM_SPARSE:
                text += " sparse"
            if a.flags & VM_ALLOC:
                text += " vmalloc"
            if a.flags & VM_MAP:
                text += " vmap"
            if a.flags & VM_USERMAP:
                text += " user"
            if a.flags & VM_DMA_COHERENT:
                text += " dma-coherent"
            if a.nr_pages * (self.k.machine.bits // 8) > self.page_size:
                text += " vpages"  # the pages[] array itself came from vmalloc
            if a.nr_pages:
                text += f" N0={a.nr_pages}"
            lines.append((a.addr, text))
        for a in self.purge_list:
            lines.append(
                (
                    a.addr,
                    f"0x{a.addr:0{width}x}-0x{a.addr + a.size:0{width}x} {a.size:7d} "
                    "unpurged vm_area",
                )
            )
        return "".join(t + "\n" for _, t in sorted(lines))


def vmalloc_init(k: Kernel) -> None:
    """vmalloc_init(): the vmalloc area of the layout, its API on the Kernel, /proc/vmallocinfo."""
    from kmemsim.include.linux.export import export_symbols

    k.vmalloc_area = Vmalloc(k)
    export_symbols(k, k.vmalloc_area)
    k.fs.create_file("/proc/vmallocinfo", k.vmalloc_area.vmallocinfo)
