"""The x86 kernel virtual address space: arch/x86/include/asm/page_64_types.h,
pgtable_64_types.h, fixmap.h (x86_64), page_32_types.h and pgtable_32_areas.h (i386),
as Documentation/arch/x86/x86_64/mm.rst draws them.

x86_64 with 4-level paging (a 47-bit virtual address, __VIRTUAL_MASK_SHIFT
47): user space below 0x0000800000000000, the non-canonical hole, then the
kernel half from 0xffff800000000000: the hypervisor guard hole (16 PGD slots
from GUARD_HOLE_PGD_ENTRY -256), the LDT remap of PTI (PGD slot -240), the
direct map at page_offset_base (0xffff888000000000), vmalloc/ioremap at
vmalloc_base (0xffffc90000000000, VMALLOC_SIZE_TB 32), the struct page array
at vmemmap_base (0xffffea0000000000), the KASAN shadow (with KASAN), the
cpu_entry_area (P4D slot -4), the espfix stacks (P4D slot -2), the EFI
region (-68 GiB to -4 GiB), the kernel text mapping at __START_KERNEL_map
(0xffffffff80000000, KERNEL_IMAGE_SIZE: 512 MiB, 1 GiB with RANDOMIZE_BASE),
the modules up to 0xffffffffff000000, the fixmap below FIXADDR_TOP and the
vsyscall page at 0xffffffffff600000. 5-level paging (X86_5LEVEL=y: the CPU
has LA57 and the kernel uses it) moves the first four to 0xff11000000000000
(direct map), 0xffa0000000000000 (vmalloc, 12800 TiB), 0xffd4000000000000
(vmemmap); from the cpu_entry_area on, both layouts are the same. With
RANDOMIZE_MEMORY the direct map, vmalloc and vmemmap bases move
(arch/x86/mm/kaslr.py).

i386 puts the kernel at PAGE_OFFSET (the VMSPLIT choice). The direct map
holds lowmem up to high_memory; VMALLOC_START is high_memory plus the 8 MiB
VMALLOC_OFFSET guard; VMALLOC_END sits two pages below PKMAP_BASE (the
LAST_PKMAP = 1024 pages of kmap() slots), which sits below the LDT, the
cpu_entry_area and the fixmap at the top. How far down these reach depends on
the build (NR_CPUS, the fixmap slots), so a profile pins VMALLOC_END
(`[arch] vmalloc_end`); MAXMEM, the most lowmem there can be, is VMALLOC_END -
PAGE_OFFSET - __VMALLOC_RESERVE (128 MiB, or `vmalloc=` plus VMALLOC_OFFSET).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.arch.memory import KernelLayout, Region, fill_holes

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

TB = 1 << 40
# page_64_types.h
PAGE_OFFSET_BASE_L4 = 0xFFFF888000000000
PAGE_OFFSET_BASE_L5 = 0xFF11000000000000
START_KERNEL_MAP = 0xFFFFFFFF80000000
KERNEL_IMAGE_SIZE = 512 << 20  # 1 GiB with CONFIG_RANDOMIZE_BASE
KERNEL_IMAGE_SIZE_KASLR = 1 << 30
# sparsemem.h: MAX_PHYSMEM_BITS (4-level / 5-level)
MAX_PHYSMEM_BITS_L4 = 46
MAX_PHYSMEM_BITS_L5 = 52
# pgtable_64_types.h
PGDIR_SHIFT_L4 = 39
PGDIR_SHIFT_L5 = 48
P4D_SHIFT = 39
PUD_SHIFT = 30
PMD_SHIFT = 21
GUARD_HOLE_PGD_ENTRY = -256
GUARD_HOLE_PGD_SLOTS = 16
LDT_PGD_ENTRY = -240
VMALLOC_BASE_L4 = 0xFFFFC90000000000
VMALLOC_BASE_L5 = 0xFFA0000000000000
VMALLOC_SIZE_TB_L4 = 32
VMALLOC_SIZE_TB_L5 = 12800
VMEMMAP_BASE_L4 = 0xFFFFEA0000000000
VMEMMAP_BASE_L5 = 0xFFD4000000000000
MODULES_END_64 = 0xFFFFFFFFFF000000
ESPFIX_PGD_ENTRY = -2
CPU_ENTRY_AREA_PGD = -4
EFI_VA_START = -4 << 30
EFI_VA_END = -68 << 30
# vsyscall.h / fixmap.h
VSYSCALL_ADDR = 0xFFFFFFFFFF600000
# kasan.h: KASAN_SHADOW_OFFSET (Kconfig, x86_64) and the 1/8 scale.
KASAN_SHADOW_OFFSET = 0xDFFFFC0000000000
KASAN_SHADOW_SCALE_SHIFT = 3
# mm/sparse-vmemmap: sizeof(struct page) on 64-bit.
STRUCT_PAGE_SIZE_64 = 64
# The mm.rst sizes of the three randomizable regions without KASLR (their slots).
SLOT_TB_L4 = {"direct": 64, "vmalloc": 32, "vmemmap": 1}
SLOT_TB_L5 = {"direct": 32 << 10, "vmalloc": 12800, "vmemmap": 512}

# pgtable_32_areas.h / page_32_types.h
VMALLOC_OFFSET = 8 << 20
VMALLOC_RESERVE_32 = 128 << 20  # __VMALLOC_RESERVE without vmalloc=
LAST_PKMAP_32 = 1024  # non-PAE (512 with PAE)
PMD_SIZE_32 = 4 << 20  # non-PAE: the PMD is folded into the 4 MiB PGD entry
FIXADDR_TOP_32 = 0xFFFFF000  # __FIXADDR_TOP without reserve_top_address()
# CONFIG_PAGE_OFFSET of each VMSPLIT choice (arch/x86/Kconfig)
X86_32_PAGE_OFFSET = {
    "3G": 0xC0000000,
    "3G_OPT": 0xB0000000,
    "2G": 0x80000000,
    "2G_OPT": 0x78000000,
    "1G": 0x40000000,
}
# The default VMALLOC_END of a HIGHMEM i386 build (a profile may pin its own).
VMALLOC_END_32 = 0xFF7FE000


def pgd_entry_base(entry: int, shift: int) -> int:
    """The address of (negative) PGD/P4D slot `entry`: entry << shift as an unsigned long."""
    return (entry << shift) & ((1 << 64) - 1)


def x86_64_fixmap_slots() -> int:
    """__end_of_fixed_addresses of enum fixed_addresses (fixmap.h) on the modelled x86_64 build.

    From FIXADDR_TOP down: the vsyscall page (VSYSCALL_PAGE, 511), FIX_DBGP_BASE,
    FIX_EARLYCON_MEM_BASE, FIX_APIC_BASE, MAX_IO_APICS (128) FIX_IO_APIC_BASE_*
    slots, FIX_PARAVIRT_BOOTMAP (PARAVIRT_XXL, as the captured kernel's config
    has it); then the 512 boot-time FIX_BTMAP slots, moved up to a 512-slot
    boundary when they would straddle one."""
    vsyscall_page = (fixaddr_top_64() - VSYSCALL_ADDR) >> 12
    end_permanent = vsyscall_page + 1 + 3 + 128 + 1
    total_btmaps = 64 * 8
    if (end_permanent ^ (end_permanent + total_btmaps - 1)) & -512:
        btmap_end = end_permanent + total_btmaps - (end_permanent & (total_btmaps - 1))
    else:
        btmap_end = end_permanent
    return btmap_end + total_btmaps


def fixaddr_top_64() -> int:
    """FIXADDR_TOP: the PMD above the vsyscall page, less one page."""
    pmd = 1 << PMD_SHIFT
    return ((VSYSCALL_ADDR + 4096 + pmd - 1) & ~(pmd - 1)) - 4096


def kaslr_memory_enabled(k: Kernel) -> bool:
    """kaslr_memory_enabled(): a RANDOMIZE_MEMORY build with KASLR on at run time, no KASAN."""
    return bool(k.config["RANDOMIZE_MEMORY"]) and not k.config["nokaslr"] and not k.config["KASAN"]


def x86_64_layout(k: Kernel, max_pfn: int) -> KernelLayout:
    """The x86_64 layout of kernel `k` (4- or 5-level, RANDOMIZE_MEMORY)."""
    from kmemsim.arch.x86.mm.kaslr import kernel_randomize_memory

    five = bool(k.config["X86_5LEVEL"])
    shift = 56 if five else 47
    pgdir_shift = PGDIR_SHIFT_L5 if five else PGDIR_SHIFT_L4
    slots = SLOT_TB_L5 if five else SLOT_TB_L4
    bases = {
        "direct": PAGE_OFFSET_BASE_L5 if five else PAGE_OFFSET_BASE_L4,
        "vmalloc": VMALLOC_BASE_L5 if five else VMALLOC_BASE_L4,
        "vmemmap": VMEMMAP_BASE_L5 if five else VMEMMAP_BASE_L4,
    }
    sizes = {name: tb * TB for name, tb in slots.items()}
    vmalloc_size = (VMALLOC_SIZE_TB_L5 if five else VMALLOC_SIZE_TB_L4) * TB
    if kaslr_memory_enabled(k):
        bases, sizes = kernel_randomize_memory(k, five, vmalloc_size, max_pfn)
    image_size = KERNEL_IMAGE_SIZE_KASLR if k.config["RANDOMIZE_BASE"] else KERNEL_IMAGE_SIZE
    modules_vaddr = START_KERNEL_MAP + image_size
    fix_top = fixaddr_top_64()
    fix_start = fix_top - (x86_64_fixmap_slots() << 12)
    guard = pgd_entry_base(GUARD_HOLE_PGD_ENTRY, pgdir_shift)
    ldt = pgd_entry_base(LDT_PGD_ENTRY, pgdir_shift)
    cea = pgd_entry_base(CPU_ENTRY_AREA_PGD, P4D_SHIFT)
    espfix = pgd_entry_base(ESPFIX_PGD_ENTRY, P4D_SHIFT)
    regions = [
        Region(0, 1 << shift, "user-space virtual memory, different per mm"),
        Region(1 << shift, guard, "... non-canonical hole"),
        Region(
            guard, guard + (GUARD_HOLE_PGD_SLOTS << pgdir_shift), "guard hole, for a hypervisor"
        ),
        Region(ldt, ldt + (1 << pgdir_shift), "LDT remap for PTI"),
        Region(
            bases["direct"],
            bases["direct"] + sizes["direct"],
            "direct mapping of all physical memory (page_offset_base)",
        ),
        Region(
            bases["vmalloc"],
            bases["vmalloc"] + sizes["vmalloc"],
            "vmalloc/ioremap space (vmalloc_base)",
        ),
        Region(
            bases["vmemmap"],
            bases["vmemmap"] + sizes["vmemmap"],
            "virtual memory map (vmemmap_base)",
        ),
        Region(cea, cea + (1 << P4D_SHIFT), "cpu_entry_area mapping"),
        Region(espfix, espfix + (1 << P4D_SHIFT), "%esp fixup stacks"),
        Region(
            pgd_entry_base(EFI_VA_END, 0),
            pgd_entry_base(EFI_VA_START, 0),
            "EFI region mapping space",
        ),
        Region(
            START_KERNEL_MAP, modules_vaddr, "kernel text mapping, mapped to physical address 0"
        ),
        Region(modules_vaddr, MODULES_END_64, "module mapping space"),
        Region(fix_start, VSYSCALL_ADDR, "kernel-internal fixmap range"),
        Region(VSYSCALL_ADDR, VSYSCALL_ADDR + 4096, "legacy vsyscall ABI"),
    ]
    if k.config["KASAN"]:
        start = (KASAN_SHADOW_OFFSET + (((-1 << shift) & ((1 << 64) - 1)) >> 3)) & ((1 << 64) - 1)
        regions.append(Region(start, start + (1 << (shift - 3)), "KASAN shadow memory"))
    return KernelLayout(
        bits=64,
        page_offset=bases["direct"],
        task_size=(1 << shift) - 4096,
        vmalloc_start=bases["vmalloc"],
        vmalloc_end=bases["vmalloc"] + vmalloc_size,
        modules_vaddr=modules_vaddr,
        modules_end=MODULES_END_64,
        pkmap_base=0,
        last_pkmap=0,
        fixaddr_start=fix_start,
        fixaddr_top=fix_top,
        regions=fill_holes(regions, 1 << 64),
        virtual_mask_shift=shift,
        pgtable_levels=5 if five else 4,
    )


def vmalloc_reserve_32(k: Kernel) -> int:
    """__VMALLOC_RESERVE: 128 MiB, or the `vmalloc=` size plus VMALLOC_OFFSET (parse_vmalloc)."""
    size = int(k.config["vmalloc"])
    return size + VMALLOC_OFFSET if size else VMALLOC_RESERVE_32


def vmalloc_end_32(k: Kernel) -> int:
    """VMALLOC_END of the build: the profile's pinned value, else the HIGHMEM default."""
    pinned = k.machine.arch_data.vmalloc_end
    end = VMALLOC_END_32 if pinned is None else pinned
    if not k.config["HIGHMEM"]:
        # Without HIGHMEM, VMALLOC_END is LDT_BASE_ADDR - 2 pages, and the PKMAP
        # PMD below LDT_BASE_ADDR is vmalloc space too.
        end += PMD_SIZE_32
    return end


def x86_32_layout(k: Kernel) -> KernelLayout:
    """The i386 layout of kernel `k` (VMSPLIT, lowmem from max_low_pfn)."""
    page_offset = X86_32_PAGE_OFFSET[str(k.config["VMSPLIT"])]
    dm = k.direct_map
    high_memory = dm.pfn_to_virt(dm.max_low_pfn)
    vmalloc_start = high_memory + VMALLOC_OFFSET
    vmalloc_end = vmalloc_end_32(k)
    highmem = bool(k.config["HIGHMEM"])
    pkmap = vmalloc_end + 2 * 4096 if highmem else 0
    pkmap_end = pkmap + (LAST_PKMAP_32 << 12) if highmem else vmalloc_end + 2 * 4096
    regions = [
        Region(0, page_offset, "user-space virtual memory (TASK_SIZE = PAGE_OFFSET)"),
        Region(page_offset, high_memory, "direct mapping of lowmem (PAGE_OFFSET .. high_memory)"),
        Region(high_memory, vmalloc_start, "VMALLOC_OFFSET guard"),
        Region(vmalloc_start, vmalloc_end, "vmalloc/ioremap space, modules"),
        Region(vmalloc_end, vmalloc_end + 2 * 4096, "guard pages"),
        Region(pkmap_end, FIXADDR_TOP_32, "LDT remap, cpu_entry_area, fixmap"),
        Region(FIXADDR_TOP_32, 1 << 32, "top page (FIXADDR_TOP)"),
    ]
    if highmem:
        regions.append(Region(pkmap, pkmap_end, "persistent kmap area (PKMAP_BASE)"))
    return KernelLayout(
        bits=32,
        page_offset=page_offset,
        task_size=page_offset,
        vmalloc_start=vmalloc_start,
        vmalloc_end=vmalloc_end,
        modules_vaddr=vmalloc_start,
        modules_end=vmalloc_end,
        pkmap_base=pkmap,
        last_pkmap=LAST_PKMAP_32 if highmem else 0,
        fixaddr_start=pkmap_end,
        fixaddr_top=FIXADDR_TOP_32,
        regions=fill_holes(regions, 1 << 32),
    )
