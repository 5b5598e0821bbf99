"""Model of the kernel's view of memory: init_mm's page tables as the MMU walks them, and the
memory functions of lib/string.c that load and store through them.

Every load and store the kernel makes, and every one a scenario makes through
the Kernel (`k.read`, `k.write`, `k.memset`, `k.memcpy`, `k.strlen`, ...),
goes through one KernelAddressSpace: the kernel virtual address is translated
to a physical one, or the access faults and the kernel dies with the
architecture's report (arch/x86/mm/fault.c page_fault_oops(), arch/arm/mm/
fault.c die_kernel_fault()), which ends in kmemsim.Oops.

What is mapped, as the kernel maps it:

* the direct map (the linear map of RAM at PAGE_OFFSET): the kernel builds it
  at boot with large pages from the memblock memory ranges (x86
  init_mem_mapping(), arm map_lowmem()), lowmem only on 32-bit. Here it is an
  O(1) range check followed by a frame lookup, which is what the SLUB free
  pointer path (read_ulong/write_ulong) pays; only an access to a frame that
  holds no host memory yet asks whether the frame is RAM the direct map covers
  (a hole of the firmware map is not mapped, and faults);
* the kernel image mapping on x86_64 (__START_KERNEL_map, where _text and
  .rodata live), a second linear range;
* everything else through page-table entries: `map_page()` / `unmap_page()`
  set and clear the PTE of one virtual page (vmalloc, ioremap, kmap and the
  fixmap install theirs there), and a walk finds them.

Physical memory is hw/physmem.py: this module and hw/ are the only ones that
touch frames. `clear_pages()` is clear_page() of whole frames and gives their
host memory back (the page allocator's __GFP_ZERO and init_on_free, slab).

Sizes are size_t: a negative size is taken modulo 2**BITS_PER_LONG, as C
converts it, so `memset(p, 0, -1)` runs until it faults, as the kernel's would.
A string argument may be a kernel address or a Python str/bytes standing for a
string literal: it is placed once in the image's .rodata (NUL-terminated) and
its address is used, so strchr("abc", ord("b")) returns an address into it.
"""

from __future__ import annotations

import bisect
import itertools
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

from kmemsim.include.linux.export import EXPORT_SYMBOL
from kmemsim.lib import stackdepot

if TYPE_CHECKING:
    from kmemsim.arch.memory import Region
    from kmemsim.hw.physmem import PhysicalMemory
    from kmemsim.init.main import Kernel

# include/uapi/asm-generic/errno-base.h
E2BIG = 7
INT_MAX = (1 << 31) - 1

# lib/string.c functions whose own name is the faulting instruction's function.
_STRING_FUNCTIONS = frozenset(
    {
        "fill",
        "memset",
        "memcpy",
        "memmove",
        "memchr",
        "memcmp",
        "strlen",
        "strnlen",
        "strscpy",
        "strchr",
        "strrchr",
        "strcmp",
        "strncmp",
    }
)

# A page-table entry as the model keeps it: the frame's physical address with
# the low bits of the architecture's PTE (present, writable, ...).
PTE_PRESENT = 1 << 0
PTE_RW = 1 << 1

StrArg = int | str | bytes | bytearray
ArchFault = Callable[["Kernel", int, bool, bool, list[str]], NoReturn]
_HERE = __file__
stackdepot.ENTERED_WITH_FRAME.update(_STRING_FUNCTIONS)  # the Oops names them (_backtrace)
# Tool modules: a call trace stops where the model was entered from them.
_TOOL_DIRS = ("/kmemsim/cli/", "/kmemsim/trace/")


class KernelAddressSpace:
    """init_mm's kernel mappings of one kernel, and the loads and stores through them.

    `arch_fault(k, address, write, protection, frames)` is the architecture's
    kernel-mode fault handler (arch/*/mm/fault.py): it prints the report and
    raises Oops, never returning. `frames` names the kernel functions on the
    way to the access, innermost first: the string function or the model
    function that made it, then its callers up to the scenario's own function.
    """

    # The die_counter of the architecture's die() ("[#1]", "[#2]", ...).
    die_counter: int = 0
    # x86_64: __VIRTUAL_MASK_SHIFT and the paging levels (the layout sets them).
    virtual_mask_shift: int = 47
    pgtable_levels: int = 4

    def __init__(
        self,
        k: Kernel,
        *,
        page_offset: int,
        phys_offset: int,
        direct_pfn_ranges: list[tuple[int, int]],
        arch_fault: ArchFault,
    ) -> None:
        m = k.machine
        self.k = k
        self.mem: PhysicalMemory = m.ram
        self.bits = int(m.bits)
        self.ulong_mask = (1 << self.bits) - 1
        self.page_shift = int(m.page_shift)
        self.page_size = 1 << self.page_shift
        self._off_mask = self.page_size - 1
        self.word = self.bits // 8
        self.byteorder = self.mem.byteorder
        self._ulong = struct.Struct(
            ("<" if self.byteorder == "little" else ">") + ("Q" if self.word == 8 else "I")
        )
        self._unpack_from = self._ulong.unpack_from
        self._pack_into = self._ulong.pack_into
        # The last offset in a page where a whole word still fits.
        self._word_limit = self.page_size - self.word
        self._frames: dict[int, bytearray] = self.mem._frames
        self._arch_fault = arch_fault
        # The direct map: [dm_start, dm_start + dm_size) -> [phys_start, ...).
        ranges = sorted((s, e) for s, e in direct_pfn_ranges if e > s)
        shift = self.page_shift
        self.direct_pfn_ranges = ranges
        self._range_starts = [s for s, _ in ranges]
        self.phys_start = ranges[0][0] << shift if ranges else phys_offset
        self.dm_start = self.phys_start - phys_offset + page_offset
        end = ranges[-1][1] << shift if ranges else self.phys_start
        self.dm_size = end - self.phys_start
        self._v2p = phys_offset - page_offset
        # Other linear ranges (the x86_64 kernel image mapping): (vstart, vend, pstart, writable).
        self.linear: list[tuple[int, int, int, bool]] = []
        # Page-table entries of everything else: virtual page number -> PTE.
        self.ptes: dict[int, int] = {}
        self.tables: dict[tuple[str, int], int] = {}
        # PTE_PFN_MASK: the frame address bits of a PTE (12..51 on x86_64).
        self._pte_pfn_mask = (
            ((1 << 52) - 1) & ~self._off_mask if self.bits == 64 else (0xFFFFFFFF & ~self._off_mask)
        )
        # PAGE_KERNEL: present, RW, accessed, dirty, global (+ NX on x86_64).
        if m.arch == "arm":
            self.page_kernel = 0x0000065F  # L_PTE_PRESENT|YOUNG|DIRTY|XN|MT_WRITEALLOC, RW
        else:
            self.page_kernel = 0x163 | ((1 << 63) if self.bits == 64 else 0)
        # .rodata literals placed so far, and where the next one goes (downwards).
        self._literals: dict[bytes, int] = {}
        self._rodata_top = 0
        self._rodata_floor = 0

    # ------------------------------------------------------------------ mappings
    def add_linear(self, vstart: int, vend: int, pstart: int, writable: bool = True) -> None:
        """Map [vstart, vend) linearly at pstart (the x86_64 kernel image mapping)."""
        self.linear.append((vstart, vend, pstart, writable))

    def set_rodata(self, vstart: int, vend: int) -> None:
        """Where string literals may be placed: the image's .rodata, from its end down."""
        self._rodata_top = vend
        self._rodata_floor = vstart

    def map_page(
        self, vaddr: int, paddr: int, writable: bool = True, prot: int | None = None
    ) -> None:
        """set_pte_at(init_mm, ...): map the virtual page of `vaddr` to the frame at `paddr`.

        `prot` is the PTE's low bits (pgprot_val) when the caller has them (PAGE_KERNEL,
        PAGE_KERNEL_IO, ...); the page tables down to the PTE are allocated first
        (pte_alloc_kernel() and the levels above), from the page allocator."""
        vaddr &= self.ulong_mask
        self._alloc_tables(vaddr)
        if prot is None:
            prot = self.page_kernel if writable else self.page_kernel & ~PTE_RW
        self.ptes[vaddr >> self.page_shift] = (paddr & ~self._off_mask) | prot

    def unmap_page(self, vaddr: int) -> int:
        """pte_clear(): unmap the virtual page of `vaddr`; returns the old PTE (0 if none)."""
        return self.ptes.pop(vaddr >> self.page_shift, 0)

    # ------------------------------------------------------------------ page tables
    # The tables below the top level that PTE mappings need, keyed by (level,
    # the address bits above that level's span): their physical addresses. The
    # top level (swapper_pg_dir) is in the kernel image; its entries, and the
    # direct map's large-page entries, are not modelled as tables.
    def _levels(self) -> list[tuple[str, int]]:
        """(level, shift of the span one entry of it maps) from the top, PTE last."""
        if self.bits == 32:
            return [("PGD", 22 if self.k.machine.arch != "arm" else 21), ("PTE", 12)]
        if self.pgtable_levels == 5:
            return [("PGD", 48), ("P4D", 39), ("PUD", 30), ("PMD", 21), ("PTE", 12)]
        return [("PGD", 39), ("PUD", 30), ("PMD", 21), ("PTE", 12)]

    def _alloc_tables(self, vaddr: int) -> None:
        levels = self._levels()
        for (_name, shift), (below, _s) in itertools.pairwise(levels):
            key = (below, vaddr >> shift)
            if key not in self.tables:
                self.tables[key] = self._alloc_table_page()

    def alloc_table(self, vaddr: int, level: str) -> None:
        """pud_alloc() and family on init_mm: the `level` table that maps `vaddr`, if missing."""
        vaddr &= self.ulong_mask
        for (_name, shift), (below, _s) in itertools.pairwise(self._levels()):
            if below == level:
                key = (below, vaddr >> shift)
                if key not in self.tables:
                    self.tables[key] = self._alloc_table_page()
                return

    def _alloc_table_page(self) -> int:
        """A zeroed page for a page table (__get_free_page(GFP_PGTABLE_KERNEL))."""
        from kmemsim.include.linux.gfp_types import GFP, GFP_ATOMIC, GFP_KERNEL

        gfp = GFP_KERNEL if self.k.sched.may_sleep() else GFP_ATOMIC
        page = self.k.page_alloc.alloc_pages(int(gfp | GFP.ZERO), 0)
        if page is None:
            from kmemsim.errors import Oops

            raise Oops("out of memory for a kernel page table")
        return int(page.pfn) << self.page_shift

    def pgtable_walk(self, vaddr: int) -> list[tuple[str, int]]:
        """The entries a walk of `vaddr` reads, top level first, as (level, value), down to
        the first one that is empty (0). A table entry is the table's physical address
        with the architecture's table bits (_PAGE_TABLE 0x067 on x86; on ARM the
        hardware table at +2 KiB with _PAGE_KERNEL_TABLE 0x11)."""
        vaddr &= self.ulong_mask
        levels = self._levels()
        arm = self.k.machine.arch == "arm"
        out: list[tuple[str, int]] = []
        for (name, shift), (below, _s) in itertools.pairwise(levels):
            table = self.tables.get((below, vaddr >> shift), 0)
            if not table:
                out.append((name, 0))
                return out
            out.append((name, (table + 0x800) | 0x11 if arm else table | 0x067))
        out.append(("PTE", self.lookup_pte(vaddr)))
        return out

    # ------------------------------------------------------------------ faults
    def _fault(self, vaddr: int, write: bool, protection: bool) -> NoReturn:
        self._arch_fault(self.k, vaddr & self.ulong_mask, write, protection, self._backtrace())

    @staticmethod
    def _backtrace() -> list[str]:
        """The kernel functions on the way to a faulting access, innermost first."""
        import sys

        # Compiled (setup.py), this module's functions have no frames: the walk starts at
        # the innermost Python frame, and a string function's frame is its entry frame.
        frame = sys._getframe(0)
        ip = ""
        names: list[str] = []
        while frame is not None:
            code = frame.f_code
            path = code.co_filename
            if path == _HERE or (
                path == stackdepot.ENTRY_FILE and code.co_name in _STRING_FUNCTIONS
            ):
                if code.co_name in _STRING_FUNCTIONS:
                    ip = "memset" if code.co_name == "fill" else code.co_name
            elif "/kmemsim/arch/" in path and path.endswith("fault.py"):
                pass
            elif any(d in path for d in _TOOL_DIRS):
                break
            elif "/kmemsim/" in path.replace("\\", "/"):
                if not code.co_name.startswith("<"):
                    names.append(code.co_name)
            else:
                # The scenario's own function; module-level code is named after its file.
                name = code.co_name
                if name == "<module>":
                    name = path.rsplit("/", 1)[-1].removesuffix(".py")
                if not name.startswith("<"):
                    names.append(name)
                break
            frame = frame.f_back  # type: ignore[assignment]
        if ip:
            names.insert(0, ip)
        return names[:16]

    def lookup_pte(self, vaddr: int) -> int:
        """The PTE of `vaddr`'s page (0 when none is set): lookup_address() of a 4K mapping."""
        return self.ptes.get((vaddr & self.ulong_mask) >> self.page_shift, 0)

    @EXPORT_SYMBOL
    def pfn_valid(self, pfn: int) -> bool:
        """pfn_valid(): does the frame have a struct page (the memory model's answer)?"""
        return bool(self.k.page_alloc.pfn_valid(pfn))

    @EXPORT_SYMBOL
    def virt_addr_valid(self, vaddr: int) -> bool:
        """virt_addr_valid() (__virt_addr_valid on x86): a linear-map address (the direct
        map; on x86_64 also the kernel image mapping) whose frame pfn_valid() accepts.
        vmalloc, kmap and fixmap addresses are not: virt_to_page() does not work on them."""
        vaddr &= self.ulong_mask
        for vstart, vend, pstart, _writable in self.linear:
            if vstart <= vaddr < vend:
                return self.pfn_valid((vaddr - vstart + pstart) >> self.page_shift)
        off = vaddr - self.dm_start
        if not 0 <= off < self.dm_size:
            return False
        return self.pfn_valid((off + self.phys_start) >> self.page_shift)

    def in_direct_map(self, vaddr: int) -> bool:
        """Is `vaddr` a direct-map address of RAM the direct map covers?"""
        off = vaddr - self.dm_start
        if not 0 <= off < self.dm_size:
            return False
        return self._ram_pfn((off + self.phys_start) >> self.page_shift)

    def _ram_pfn(self, pfn: int) -> bool:
        ranges = self.direct_pfn_ranges
        i = bisect.bisect_right(self._range_starts, pfn) - 1
        return i >= 0 and pfn < ranges[i][1]

    # ------------------------------------------------------------------ translation
    def translate(self, vaddr: int, write: bool = False) -> int:
        """The physical address of kernel virtual address `vaddr`, or a fault (Oops)."""
        off = vaddr - self.dm_start
        if 0 <= off < self.dm_size:
            pa = off + self.phys_start
            if (pa >> self.page_shift) in self._frames or self._ram_pfn(pa >> self.page_shift):
                return pa
        return self._translate_slow(vaddr, write)

    def _translate_slow(self, vaddr: int, write: bool) -> int:
        vaddr &= self.ulong_mask
        off = vaddr - self.dm_start
        if 0 <= off < self.dm_size and self._ram_pfn((off + self.phys_start) >> self.page_shift):
            return off + self.phys_start
        for vstart, vend, pstart, writable in self.linear:
            if vstart <= vaddr < vend:
                if write and not writable:
                    self._fault(vaddr, True, True)
                return vaddr - vstart + pstart
        pte = self.ptes.get(vaddr >> self.page_shift, 0)
        if pte & PTE_PRESENT:
            if write and not pte & PTE_RW:
                self._fault(vaddr, True, True)
            return (pte & self._pte_pfn_mask) | (vaddr & self._off_mask)
        self._fault(vaddr, write, False)

    # ------------------------------------------------------------------ loads and stores
    def read(self, vaddr: int, size: int) -> bytes:
        """Load `size` bytes at `vaddr` (a pointer dereference, memcpy from it)."""
        size &= self.ulong_mask
        off = vaddr - self.dm_start
        po = vaddr & self._off_mask
        if 0 <= off < self.dm_size and po + size <= self.page_size:
            pa = off + self.phys_start
            frame = self._frames.get(pa >> self.page_shift)
            if frame is not None:
                return bytes(frame[po : po + size])
            if self._ram_pfn(pa >> self.page_shift):
                return bytes(size)
        out = bytearray()
        psize = self.page_size
        while size > 0:
            chunk = min(size, psize - (vaddr & self._off_mask))
            out += self.mem.read(self.translate(vaddr), chunk)
            vaddr = (vaddr + chunk) & self.ulong_mask
            size -= chunk
        return bytes(out)

    def write(self, vaddr: int, data: bytes | bytearray | memoryview) -> None:
        """Store `data` at `vaddr`."""
        view = memoryview(data)
        size = len(view)
        off = vaddr - self.dm_start
        po = vaddr & self._off_mask
        if 0 <= off < self.dm_size and po + size <= self.page_size:
            pa = off + self.phys_start
            frame = self._frames.get(pa >> self.page_shift)
            if frame is not None:
                frame[po : po + size] = view
                return
        pos = 0
        psize = self.page_size
        while pos < size:
            chunk = min(size - pos, psize - (vaddr & self._off_mask))
            self.mem.write(self.translate(vaddr, True), view[pos : pos + chunk])
            vaddr = (vaddr + chunk) & self.ulong_mask
            pos += chunk

    def fill(self, vaddr: int, byte: int, size: int) -> None:
        """Set `size` bytes at `vaddr` to `byte` (memset's store loop)."""
        size &= self.ulong_mask
        byte &= 0xFF
        psize = self.page_size
        while size > 0:
            chunk = min(size, psize - (vaddr & self._off_mask))
            self.mem.fill(self.translate(vaddr, True), byte, chunk)
            vaddr = (vaddr + chunk) & self.ulong_mask
            size -= chunk

    def read_ulong(self, vaddr: int) -> int:
        """Load an unsigned long (a pointer) at `vaddr`, in the machine's byte order."""
        off = vaddr - self.dm_start
        if 0 <= off < self.dm_size:
            pa = off + self.phys_start
            frame = self._frames.get(pa >> self.page_shift)
            if frame is not None:
                po = pa & self._off_mask
                if po <= self._word_limit:
                    return self._unpack_from(frame, po)[0]  # type: ignore[no-any-return]
        return int.from_bytes(self.read(vaddr, self.word), self.byteorder)  # type: ignore[arg-type]

    def write_ulong(self, vaddr: int, value: int) -> None:
        """Store an unsigned long (a pointer) at `vaddr`, in the machine's byte order."""
        off = vaddr - self.dm_start
        if 0 <= off < self.dm_size:
            pa = off + self.phys_start
            frame = self._frames.get(pa >> self.page_shift)
            if frame is not None:
                po = pa & self._off_mask
                if po <= self._word_limit:
                    self._pack_into(frame, po, value & self.ulong_mask)
                    return
        self.write(vaddr, (value & self.ulong_mask).to_bytes(self.word, self.byteorder))  # type: ignore[arg-type]

    # ------------------------------------------------------------------ instrumented accesses
    # The model's own accesses above are those of code the kernel builds without
    # KASAN instrumentation (mm/slub.c, mm/kasan/); what a scenario does through
    # the Kernel, and the string functions, are checked first when KASAN is on,
    # as the compiler's __asan_load/__asan_store calls and the memset/memcpy/
    # memmove interceptors of mm/kasan/shadow.c check them.
    def _kasan_ok(self, addr: int, size: int, write: bool) -> bool:
        kfence = self.k.kfence
        if kfence is not None and addr < kfence.end and addr + size > kfence.start:
            kfence.check_access(addr, size, write)  # a fault on a KFENCE guard page
        kasan = self.k.kasan
        return kasan is None or bool(kasan.kasan_check_range(addr, size, write))

    @EXPORT_SYMBOL("read")
    def kernel_read(self, vaddr: int, size: int) -> bytes:
        """A load of `size` bytes at kernel virtual address `vaddr` (a pointer dereference)."""
        kasan = self.k.kasan
        if kasan is not None:
            kasan.kasan_check_range(vaddr, size & self.ulong_mask, False)
        kfence = self.k.kfence
        if kfence is not None and vaddr < kfence.end and vaddr + size > kfence.start:
            kfence.check_access(vaddr, size, False)  # a fault on a KFENCE guard page
        return self.read(vaddr, size)

    @EXPORT_SYMBOL("write")
    def kernel_write(self, vaddr: int, data: bytes | bytearray | memoryview) -> None:
        """A store of `data` at kernel virtual address `vaddr`."""
        kasan = self.k.kasan
        if kasan is not None:
            kasan.kasan_check_range(vaddr, len(data), True)
        kfence = self.k.kfence
        if kfence is not None and vaddr < kfence.end and vaddr + len(data) > kfence.start:
            kfence.check_access(vaddr, len(data), True)  # a fault on a KFENCE guard page
        self.write(vaddr, data)

    def clear_pages(self, pfn: int, count: int) -> None:
        """clear_page() of `count` whole frames from `pfn` on, giving their host memory back."""
        self.mem.zero_frames(pfn, count)

    @EXPORT_SYMBOL
    def layout(self) -> list[Region]:
        """The kernel's virtual address space, region by region (what `kmemsim layout` prints)."""
        return list(self.k.vm_layout.regions)

    # ------------------------------------------------------------------ string literals
    def _addr(self, s: StrArg) -> int:
        """A string argument as an address: a literal goes to .rodata once (with its NUL)."""
        if isinstance(s, int):
            return s
        data = s.encode() if isinstance(s, str) else bytes(s)
        addr = self._literals.get(data)
        if addr is None:
            size = len(data) + 1
            top = self._rodata_top - size
            if not self._rodata_top or top < self._rodata_floor:
                from kmemsim.errors import KmemsimError

                raise KmemsimError("no room left in .rodata for string literals")
            self._rodata_top = top
            pa = self.translate(top)
            self.mem.write(pa, data + b"\0")
            self._literals[data] = addr = top
        return addr

    # ------------------------------------------------------------------ lib/string.c
    @EXPORT_SYMBOL
    def memset(self, s: int, c: int, n: int) -> int:
        """memset(): fill `n` bytes at `s` with byte `c`; returns `s`.

        With KASAN, a range that may not be written is reported and nothing is
        written: the interceptor returns NULL (mm/kasan/shadow.c memset())."""
        if not self._kasan_ok(s, n & self.ulong_mask, True):
            return 0
        self.fill(s, c, n)
        return s

    @EXPORT_SYMBOL
    def memcpy(self, dest: int, src: StrArg, n: int) -> int:
        """memcpy(): copy `n` bytes from `src` to `dest`; returns `dest`."""
        return self.memmove(dest, src, n)

    @EXPORT_SYMBOL
    def memmove(self, dest: int, src: StrArg, n: int) -> int:
        """memmove(): copy `n` bytes from `src` to `dest`, which may overlap; returns `dest`.

        Copied a page-bounded piece at a time, so a copy that runs off a
        mapping faults where the kernel's would, after copying what came before."""
        src_addr = self._addr(src)
        n &= self.ulong_mask
        if not (self._kasan_ok(src_addr, n, False) and self._kasan_ok(dest, n, True)):
            return 0  # the __asan_memcpy/memmove interceptor: NULL, nothing copied
        if n <= self.page_size:
            self.write(dest, self.read(src_addr, n))
            return dest
        psize = self.page_size
        pieces = []
        pos = 0
        while pos < n:
            chunk = min(n - pos, psize - ((src_addr + pos) & self._off_mask))
            pieces.append((pos, chunk))
            pos += chunk
        if dest > src_addr and dest < src_addr + n:  # overlap: copy from the end
            pieces.reverse()
            for pos, chunk in pieces:
                self.write(dest + pos, self.read(src_addr + pos, chunk))
        else:
            for pos, chunk in pieces:
                self.write(dest + pos, self.read(src_addr + pos, chunk))
        return dest

    def _kasan_loads(self, addr: int, n: int) -> None:
        """KASAN on the byte loads of a lib/string.c loop over [addr, addr + n): the first
        inaccessible byte is reported as a 1-byte read, as its instrumented load would be."""
        kfence = self.k.kfence
        if kfence is not None and addr < kfence.end and addr + n > kfence.start:
            kfence.check_access(addr, n, False)
        kasan = self.k.kasan
        if kasan is None or n <= 0 or not kasan.shadow.is_poisoned(addr, n):
            return
        for a in range(addr, addr + n):
            if not kasan.kasan_check_range(a, 1, False):
                return

    def _scan(self, s: int, n: int, stop: Callable[[bytes], int]) -> int:
        """Walk [s, s + n) page piece by page piece; the offset `stop` finds, or -1."""
        psize = self.page_size
        pos = 0
        while pos < n:
            chunk = min(n - pos, psize - ((s + pos) & self._off_mask))
            i = stop(self.read(s + pos, chunk))
            if i >= 0:
                return pos + i
            pos += chunk
        return -1

    @EXPORT_SYMBOL
    def memchr(self, s: StrArg, c: int, n: int) -> int:
        """memchr(): the address of the first byte `c` in `n` bytes at `s`, or 0 (NULL)."""
        addr = self._addr(s)
        byte = bytes([c & 0xFF])
        n &= self.ulong_mask
        i = self._scan(addr, n, lambda b: b.find(byte))
        self._kasan_loads(addr, i + 1 if i >= 0 else n)
        return addr + i if i >= 0 else 0

    def _compare(
        self, cs: StrArg, ct: StrArg, count: int, stop: Callable[[int, int], bool]
    ) -> tuple[int, int] | None:
        """Walk `count` bytes of two buffers page by page until `stop(u, v)`.

        The shared loop of memcmp() and strncmp(): the bytes (u, v) where it
        stopped, or None. KASAN sees loads up to and including that byte.
        """
        a, b = self._addr(cs), self._addr(ct)
        count &= self.ulong_mask
        pos = 0
        while pos < count:
            chunk = min(
                count - pos,
                self.page_size - ((a + pos) & self._off_mask),
                self.page_size - ((b + pos) & self._off_mask),
            )
            x, y = self.read(a + pos, chunk), self.read(b + pos, chunk)
            for j, (u, v) in enumerate(zip(x, y, strict=True)):
                if stop(u, v):
                    self._kasan_loads(a, pos + j + 1)
                    self._kasan_loads(b, pos + j + 1)
                    return u, v
            pos += chunk
        self._kasan_loads(a, count)
        self._kasan_loads(b, count)
        return None

    @EXPORT_SYMBOL
    def memcmp(self, cs: StrArg, ct: StrArg, count: int) -> int:
        """memcmp(): the difference of the first differing bytes (0 when equal)."""
        at = self._compare(cs, ct, count, lambda u, v: u != v)
        return 0 if at is None else at[0] - at[1]

    @EXPORT_SYMBOL
    def strnlen(self, s: StrArg, count: int) -> int:
        """strnlen(): the length of the string at `s`, at most `count`."""
        count &= self.ulong_mask
        addr = self._addr(s)
        i = self._scan(addr, count, lambda b: b.find(b"\0"))
        self._kasan_loads(addr, i + 1 if i >= 0 else count)
        return i if i >= 0 else count

    @EXPORT_SYMBOL
    def strlen(self, s: StrArg) -> int:
        """strlen(): the length of the NUL-terminated string at `s`."""
        return self.strnlen(s, self.ulong_mask)

    def _cstr(self, s: int, limit: int) -> bytes:
        """The bytes of the string at `s` up to its NUL or `limit` bytes, whichever first."""
        n = self.strnlen(s, limit)
        return self.read(s, n)

    @EXPORT_SYMBOL
    def strscpy(self, dest: int, src: StrArg, count: int) -> int:
        """strscpy() (sized_strscpy in lib/string.c): copy a NUL-terminated string.

        Returns the number of characters copied, or -E2BIG when `count` is 0,
        larger than INT_MAX (with a WARN), or the string had to be truncated (the
        copy is NUL-terminated all the same)."""
        count &= self.ulong_mask
        if count == 0:
            return -E2BIG
        if count > INT_MAX:
            from kmemsim.mm.debug import warn

            warn(self.k, "lib/string.c", "sized_strscpy")
            return -E2BIG
        data = self._cstr(self._addr(src), count)
        truncated = len(data) >= count
        if truncated:
            data = data[: count - 1]
        if self._kasan_ok(dest, len(data) + 1, True):
            self.write(dest, data + b"\0")
        return -E2BIG if truncated else len(data)

    @EXPORT_SYMBOL
    def strchr(self, s: StrArg, c: int) -> int:
        """strchr(): the address of the first character `c` (the NUL too), or 0."""
        addr = self._addr(s)
        byte = c & 0xFF
        data = self._cstr(addr, self.ulong_mask)
        if byte == 0:
            return addr + len(data)
        i = data.find(bytes([byte]))
        return addr + i if i >= 0 else 0

    @EXPORT_SYMBOL
    def strrchr(self, s: StrArg, c: int) -> int:
        """strrchr(): the address of the last character `c` (the NUL too), or 0."""
        addr = self._addr(s)
        byte = c & 0xFF
        data = self._cstr(addr, self.ulong_mask)
        if byte == 0:
            return addr + len(data)
        i = data.rfind(bytes([byte]))
        return addr + i if i >= 0 else 0

    @EXPORT_SYMBOL
    def strncmp(self, cs: StrArg, ct: StrArg, count: int) -> int:
        """strncmp(): -1, 0 or 1 over at most `count` characters (lib/string.c)."""
        at = self._compare(cs, ct, count, lambda u, v: u != v or not u)
        if at is None or at[0] == at[1]:
            return 0
        return -1 if at[0] < at[1] else 1

    @EXPORT_SYMBOL
    def strcmp(self, cs: StrArg, ct: StrArg) -> int:
        """strcmp(): -1, 0 or 1 (lib/string.c compares as unsigned char)."""
        return self.strncmp(cs, ct, self.ulong_mask)
