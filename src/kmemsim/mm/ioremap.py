"""Model of ioremap: arch/x86/mm/ioremap.c (__ioremap_caller, iounmap) and arch/arm/mm/ioremap.c.

ioremap(phys, size) gives a kernel virtual address for device registers: it
takes a VM_IOREMAP area of the vmalloc space (mm/vmalloc.py vmap_range(), page
granular, with the offset of `phys` within its page kept), maps every page of
the physical range with an uncached kernel PTE, and shows in
/proc/vmallocinfo as "phys=... ioremap". The accessors (readl, ...) then reach
the device through that mapping.

Refusals, as each architecture has them:

* x86: a size of 0 or a wrapping range is NULL; a range with RAM pages in use
  (System RAM in iomem_resource whose frames are not reserved) is refused
  with WARN_ONCE "ioremap on RAM at <start> - <last>" and NULL.
* ARM: RAM of the linear map with anything but MT_MEMORY_RW is refused with a
  bare WARN_ON in __arm_ioremap_pfn_caller() and NULL.

The cache modes: ioremap() is UC- on x86 (PCD in the PTE), ioremap_uc() UC
(PCD|PWT), ioremap_wc() WC (PWT with the kernel's PAT layout), ioremap_cache()
WB. ioremap_np() exists on neither architecture (asm-generic returns NULL),
nor does ioremap_uc() on ARM. iounmap() of an address that is not an ioremap
mapping warns (x86: WARN_ON_ONCE(!is_ioremap_addr()), "iounmap: bad address").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.include.linux.export import EXPORT_SYMBOL
from kmemsim.include.linux.ioport import IORESOURCE_SYSTEM_RAM

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

# arch/x86/include/asm/pgtable_types.h cache bits of a PTE (default PAT layout).
_PAGE_PWT = 1 << 3
_PAGE_PCD = 1 << 4
X86_CACHE_BITS = {"UC_MINUS": _PAGE_PCD, "UC": _PAGE_PCD | _PAGE_PWT, "WC": _PAGE_PWT, "WB": 0}
# x86_64: __PHYSICAL_MASK_SHIFT 52; i386 without PAE: 32.
ISA_START_ADDRESS = 0xA0000
ISA_END_ADDRESS = 0x100000


class IoRemap:
    """ioremap() and family of one kernel, over its vmalloc area."""

    def __init__(self, k: Kernel) -> None:
        self.k = k
        self.arm = k.machine.arch == "arm"
        self.phys_bits = 52 if k.machine.bits == 64 else 32

    # ---------------------------------------------------------------- checks
    def _ram_in_use(self, start: int, last: int) -> bool:
        """__ioremap_check_ram(): System RAM pages of the range that are not PageReserved."""
        shift = self.k.machine.page_shift
        tree = self.k.resource
        found = False

        def check(res: object, _arg: object) -> int:
            nonlocal found
            from kmemsim.include.linux.ioport import Resource

            assert isinstance(res, Resource)
            first, stop = res.start >> shift, res.end >> shift
            for pfn in range(first, stop + 1):
                if not self.k.memblock.reserved.overlaps(pfn << shift, (pfn + 1) << shift):
                    found = True
                    return 1
            return 0

        tree.walk_iomem_res_desc(0, IORESOURCE_SYSTEM_RAM, start, last, None, check)
        return found

    def _arm_is_map_memory(self, phys: int) -> bool:
        """memblock_is_map_memory(): RAM of memblock.memory that is not no-map."""
        m = self.k.machine
        if not any(b <= phys < b + n for b, n in self.k.memblock.memory.regions):
            return False
        return not any(r.no_map and r.base <= phys < r.base + r.size for r in m.dt_reserved)

    def _pa(self, value: int) -> str:
        width = 16 if self.k.machine.bits == 64 else 8
        return f"0x{value:0{width}x}"

    # ---------------------------------------------------------------- the mapping
    def ioremap_caller(self, phys: int, size: int, mode: str) -> int:
        """__ioremap_caller() / __arm_ioremap_caller(): the __iomem address, or 0 (NULL)."""
        last = phys + size - 1
        if not size or last < phys:
            return 0
        if last >> self.phys_bits:
            self.k.log.pr_warn(f"ioremap: invalid physical address {phys:x}")
            from kmemsim.mm.debug import warn

            warn(self.k, "arch/x86/mm/ioremap.c", "__ioremap_caller")
            return 0
        if self.arm:
            shift = self.k.machine.page_shift
            if any(
                self._arm_is_map_memory(pfn << shift)
                for pfn in range(phys >> shift, (last >> shift) + 1)
            ):
                from kmemsim.mm.debug import warn

                warn(self.k, "arch/arm/mm/ioremap.c", "__arm_ioremap_pfn_caller", once=False)
                return 0
            prot = None
        else:
            if self._ram_in_use(phys, last):
                from kmemsim.mm.debug import warn

                warn(
                    self.k,
                    "arch/x86/mm/ioremap.c",
                    "__ioremap_caller",
                    f"ioremap on RAM at {self._pa(phys)} - {self._pa(last)}",
                )
                return 0
            prot = self.k.address_space.page_kernel | X86_CACHE_BITS[mode]
        return int(self.k.vmalloc_area.vmap_range(phys, size, prot))

    @EXPORT_SYMBOL
    def ioremap(self, phys_addr: int, size: int) -> int:
        """ioremap(phys_addr, size): map device registers; their __iomem address, or 0."""
        return self.ioremap_caller(phys_addr, size, "UC_MINUS")

    @EXPORT_SYMBOL
    def ioremap_uc(self, phys_addr: int, size: int) -> int:
        """ioremap_uc(): strongly uncached on x86; NULL on ARM (asm-generic)."""
        if self.arm:
            return 0
        return self.ioremap_caller(phys_addr, size, "UC")

    @EXPORT_SYMBOL
    def ioremap_wc(self, phys_addr: int, size: int) -> int:
        """ioremap_wc(): write-combining."""
        return self.ioremap_caller(phys_addr, size, "WC")

    @EXPORT_SYMBOL
    def ioremap_cache(self, phys_addr: int, size: int) -> int:
        """ioremap_cache(): write-back cached (never for registers with side effects)."""
        return self.ioremap_caller(phys_addr, size, "WB")

    @EXPORT_SYMBOL
    def ioremap_np(self, phys_addr: int, size: int) -> int:
        """ioremap_np(): non-posted; neither x86 nor ARM32 has it: NULL (asm-generic)."""
        return 0

    @EXPORT_SYMBOL
    def is_ioremap_addr(self, addr: int) -> bool:
        """is_ioremap_addr(): inside the vmalloc (ioremap) area."""
        va = self.k.vmalloc_area
        return bool(va.start <= addr < va.end)

    @EXPORT_SYMBOL
    def iounmap(self, addr: int) -> None:
        """iounmap(addr): undo ioremap(); a bad address warns, as the kernel does."""
        from kmemsim.mm.debug import warn

        if not addr:
            return
        if not self.is_ioremap_addr(addr):
            if not self.arm:
                warn(self.k, "arch/x86/mm/ioremap.c", "iounmap")
            return
        page = self.k.machine.page_size
        if not self.k.vmalloc_area.vunmap_range(addr & ~(page - 1)):
            if self.arm:  # vunmap() of arch/arm: "Trying to vunmap() nonexistent vm area"
                warn(
                    self.k,
                    "mm/vmalloc.c",
                    "vunmap",
                    f"Trying to vunmap() nonexistent vm area ({addr & ~(page - 1):#010x})",
                    once=False,
                )
            else:
                self.k.log.pr_err(f"iounmap: bad address {addr & ~(page - 1):016x}")


def ioremap_init(k: Kernel) -> None:
    """Bind ioremap() and family once the vmalloc area exists."""
    from kmemsim.include.linux.export import export_symbols

    k.ioremap_ops = IoRemap(k)
    export_symbols(k, k.ioremap_ops)
