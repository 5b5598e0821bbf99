"""Kernel virtual address space layouts, each constant pinned to the source that defines it."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import kmemsim
from kmemsim.arch.arm.mm import layout as arm
from kmemsim.arch.x86.mm import layout as x86
from kmemsim.cli.main import cli
from kmemsim.lib.random32 import RndState


def regions(k: kmemsim.Kernel) -> dict[str, tuple[int, int]]:
    return {r.what: (r.start, r.end - 1) for r in k.layout()}


def test_x86_64_constants_are_the_kernel_headers() -> None:
    # arch/x86/include/asm/page_64_types.h
    assert x86.PAGE_OFFSET_BASE_L4 == 0xFFFF888000000000
    assert x86.PAGE_OFFSET_BASE_L5 == 0xFF11000000000000
    assert x86.START_KERNEL_MAP == 0xFFFFFFFF80000000
    assert x86.KERNEL_IMAGE_SIZE == 512 << 20
    assert x86.KERNEL_IMAGE_SIZE_KASLR == 1 << 30
    # arch/x86/include/asm/pgtable_64_types.h
    assert (x86.GUARD_HOLE_PGD_ENTRY, x86.GUARD_HOLE_PGD_SLOTS, x86.LDT_PGD_ENTRY) == (
        -256,
        16,
        -240,
    )
    assert (x86.VMALLOC_BASE_L4, x86.VMALLOC_BASE_L5) == (0xFFFFC90000000000, 0xFFA0000000000000)
    assert (x86.VMALLOC_SIZE_TB_L4, x86.VMALLOC_SIZE_TB_L5) == (32, 12800)
    assert (x86.VMEMMAP_BASE_L4, x86.VMEMMAP_BASE_L5) == (0xFFFFEA0000000000, 0xFFD4000000000000)
    assert x86.MODULES_END_64 == 0xFFFFFFFFFF000000
    assert (x86.CPU_ENTRY_AREA_PGD, x86.ESPFIX_PGD_ENTRY) == (-4, -2)
    assert (x86.EFI_VA_START, x86.EFI_VA_END) == (-4 << 30, -68 << 30)
    # arch/x86/include/asm/sparsemem.h MAX_PHYSMEM_BITS; vsyscall.h VSYSCALL_ADDR
    assert (x86.MAX_PHYSMEM_BITS_L4, x86.MAX_PHYSMEM_BITS_L5) == (46, 52)
    assert x86.VSYSCALL_ADDR == 0xFFFFFFFFFF600000
    # fixmap.h: FIXADDR_TOP = round_up(VSYSCALL_ADDR + PAGE_SIZE, PMD_SIZE) - PAGE_SIZE
    assert x86.fixaddr_top_64() == 0xFFFFFFFFFF7FF000


def test_x86_32_and_arm_constants_are_the_kernel_headers() -> None:
    # arch/x86/Kconfig PAGE_OFFSET; pgtable_32_areas.h; pgtable_32.c __VMALLOC_RESERVE
    assert x86.X86_32_PAGE_OFFSET == {
        "3G": 0xC0000000,
        "3G_OPT": 0xB0000000,
        "2G": 0x80000000,
        "2G_OPT": 0x78000000,
        "1G": 0x40000000,
    }
    assert (x86.VMALLOC_OFFSET, x86.VMALLOC_RESERVE_32, x86.LAST_PKMAP_32) == (
        8 << 20,
        128 << 20,
        1024,
    )
    # arch/arm/include/asm/pgtable.h, highmem.h, fixmap.h, memory.h; mm/mmu.c vmalloc_size
    assert (arm.VMALLOC_END, arm.VMALLOC_OFFSET) == (0xFF800000, 8 << 20)
    assert (arm.FIXADDR_START, arm.FIXADDR_END, arm.LAST_PKMAP) == (0xFFC80000, 0xFFF00000, 512)
    assert arm.VMALLOC_SIZE_DEFAULT == 240 << 20
    assert arm.ARM_PAGE_OFFSET["3G"] == 0xC0000000


def test_x86_64_4_level_layout_is_mm_rst() -> None:
    r = regions(kmemsim.boot("x86_64", mem="512M"))
    # Documentation/arch/x86/x86_64/mm.rst, "Complete virtual memory map with 4-level page tables"
    assert r["user-space virtual memory, different per mm"] == (0, 0x00007FFFFFFFFFFF)
    assert r["guard hole, for a hypervisor"] == (0xFFFF800000000000, 0xFFFF87FFFFFFFFFF)
    assert r["LDT remap for PTI"] == (0xFFFF880000000000, 0xFFFF887FFFFFFFFF)
    assert r["direct mapping of all physical memory (page_offset_base)"] == (
        0xFFFF888000000000,
        0xFFFFC87FFFFFFFFF,
    )
    assert r["vmalloc/ioremap space (vmalloc_base)"] == (0xFFFFC90000000000, 0xFFFFE8FFFFFFFFFF)
    assert r["virtual memory map (vmemmap_base)"] == (0xFFFFEA0000000000, 0xFFFFEAFFFFFFFFFF)
    assert r["cpu_entry_area mapping"] == (0xFFFFFE0000000000, 0xFFFFFE7FFFFFFFFF)
    assert r["%esp fixup stacks"] == (0xFFFFFF0000000000, 0xFFFFFF7FFFFFFFFF)
    assert r["EFI region mapping space"] == (0xFFFFFFEF00000000, 0xFFFFFFFEFFFFFFFF)
    assert r["kernel text mapping, mapped to physical address 0"] == (
        0xFFFFFFFF80000000,
        0xFFFFFFFF9FFFFFFF,
    )
    assert r["module mapping space"] == (0xFFFFFFFFA0000000, 0xFFFFFFFFFEFFFFFF)
    assert r["legacy vsyscall ABI"] == (0xFFFFFFFFFF600000, 0xFFFFFFFFFF600FFF)
    assert r["kernel-internal fixmap range"][1] == 0xFFFFFFFFFF5FFFFF


def test_x86_64_5_level_layout_is_mm_rst() -> None:
    k = kmemsim.boot("x86_64", mem="512M", config={"X86_5LEVEL": "y"})
    r = regions(k)
    assert r["user-space virtual memory, different per mm"] == (0, 0x00FFFFFFFFFFFFFF)
    assert r["guard hole, for a hypervisor"] == (0xFF00000000000000, 0xFF0FFFFFFFFFFFFF)
    assert r["LDT remap for PTI"] == (0xFF10000000000000, 0xFF10FFFFFFFFFFFF)
    assert r["direct mapping of all physical memory (page_offset_base)"] == (
        0xFF11000000000000,
        0xFF90FFFFFFFFFFFF,
    )
    assert r["vmalloc/ioremap space (vmalloc_base)"] == (0xFFA0000000000000, 0xFFD1FFFFFFFFFFFF)
    assert r["virtual memory map (vmemmap_base)"] == (0xFFD4000000000000, 0xFFD5FFFFFFFFFFFF)
    assert r["cpu_entry_area mapping"] == (0xFFFFFE0000000000, 0xFFFFFE7FFFFFFFFF)
    # The direct map moved, and everything in it is reached there.
    p = k.kmalloc(64, kmemsim.GFP_KERNEL)
    assert 0xFF11000000000000 <= p < 0xFF91000000000000
    k.write(p, b"la57")
    assert k.read(p, 4) == b"la57"
    assert k.address_space.virtual_mask_shift == 56


def test_kasan_shadow_region_only_with_kasan() -> None:
    assert "KASAN shadow memory" not in regions(kmemsim.boot("x86_64", mem="256M"))
    r = regions(kmemsim.boot("x86_64", mem="256M", config={"KASAN": "y"}))
    # KASAN_SHADOW_START/END: offset 0xdffffc0000000000 + (-1UL << 47) >> 3, 1/8 of 2**47
    assert r["KASAN shadow memory"] == (0xFFFFEC0000000000, 0xFFFFFBFFFFFFFFFF)


def test_randomize_base_moves_the_modules() -> None:
    r = regions(kmemsim.boot("x86_64", mem="256M", config={"RANDOMIZE_BASE": "y"}))
    assert r["module mapping space"] == (0xFFFFFFFFC0000000, 0xFFFFFFFFFEFFFFFF)


def test_prandom_is_lib_random32() -> None:
    # prandom_seed_state(0): i = 0, so s1..s4 = 2, 8, 16, 128 before the warm-up.
    s = RndState.__new__(RndState)
    s.s1, s.s2, s.s3, s.s4 = 2, 8, 16, 128
    # One step of the four Tausworthe components, computed by hand from random32.c.
    assert s.u32() == (
        (((2 & 4294967294) << 18) ^ (((2 << 6) ^ 2) >> 13))
        ^ (((8 & 4294967288) << 2) ^ (((8 << 2) ^ 8) >> 27))
        ^ (((16 & 4294967280) << 7) ^ (((16 << 13) ^ 16) >> 21))
        ^ (((128 & 4294967168) << 13) ^ (((128 << 3) ^ 128) >> 12))
    )


@pytest.mark.parametrize("seed", [1, 42, 0xDEADBEEF, (1 << 64) - 1])
def test_randomize_memory_follows_kernel_randomize_memory(seed: int) -> None:
    k = kmemsim.boot("x86_64", mem="2G", config={"RANDOMIZE_MEMORY": "y", "kaslr_seed": seed})
    lay = k.vm_layout
    r = {x.what: x for x in lay.regions}
    direct = r["direct mapping of all physical memory (page_offset_base)"]
    vmalloc = r["vmalloc/ioremap space (vmalloc_base)"]
    vmemmap = r["virtual memory map (vmemmap_base)"]
    pud = 1 << 30
    # Order kept, PUD-aligned bases, between __PAGE_OFFSET_BASE_L4 and CPU_ENTRY_AREA_BASE.
    assert 0xFFFF888000000000 <= direct.start < vmalloc.start < vmemmap.start
    assert vmemmap.end <= 0xFFFFFE0000000000
    assert all((x.start - 0xFFFF888000000000) % pud == 0 for x in (direct, vmalloc, vmemmap))
    assert direct.end < vmalloc.start and vmalloc.end < vmemmap.start
    # Sizes: 2 GiB of RAM is 1 TiB plus the 10 TiB padding; 32 TiB; 11 TiB of struct pages.
    assert (direct.size, vmalloc.size, vmemmap.size) == (11 << 40, 32 << 40, 1 << 40)
    assert lay.page_offset == direct.start == k.direct_map.page_offset
    p = k.get_free_page(kmemsim.GFP_KERNEL)
    assert direct.start <= p < direct.end
    assert k.address_space.translate(p) == k.virt_to_phys(p)
    # The same seed gives the same layout; another seed another one.
    again = kmemsim.boot("x86_64", mem="2G", config={"RANDOMIZE_MEMORY": "y", "kaslr_seed": seed})
    assert again.vm_layout == lay
    other = kmemsim.boot(
        "x86_64", mem="2G", config={"RANDOMIZE_MEMORY": "y", "kaslr_seed": seed ^ 0x5A5A}
    )
    assert other.vm_layout.page_offset != lay.page_offset


def test_x86_64_only_options_are_refused_on_32_bit() -> None:
    with pytest.raises(kmemsim.KmemsimError, match="X86_5LEVEL=y does not exist on i386"):
        kmemsim.boot("i386", config={"X86_5LEVEL": "y"})
    with pytest.raises(kmemsim.KmemsimError, match="RANDOMIZE_MEMORY=y does not exist on arm"):
        kmemsim.boot("beaglebone-black", config={"RANDOMIZE_MEMORY": "y"})


@pytest.mark.parametrize(
    ("split", "page_offset", "low_mb"),
    [("3G", 0xC0000000, 887), ("2G", 0x80000000, 1911), ("1G", 0x40000000, 2048)],
)
def test_i386_lowmem_from_maxmem(split: str, page_offset: int, low_mb: int) -> None:
    k = kmemsim.boot("i386", mem="2G", config={"VMSPLIT": split})
    lay = k.vm_layout
    assert lay.page_offset == page_offset == lay.task_size
    # MAXMEM = VMALLOC_END - PAGE_OFFSET - __VMALLOC_RESERVE; lowmem is min(RAM, MAXMEM).
    maxmem = 0xFF7FE000 - page_offset - (128 << 20)
    ram_pfns = max(e for _, e in k.memblock.mem_pfn_ranges(12))
    assert k.direct_map.max_low_pfn == min(ram_pfns, maxmem >> 12)
    assert f"{low_mb}MB LOWMEM available." in k.dmesg()
    # vmalloc starts VMALLOC_OFFSET past high_memory; PKMAP_BASE is two pages past VMALLOC_END.
    high_memory = page_offset + (k.direct_map.max_low_pfn << 12)
    assert lay.vmalloc_start == high_memory + (8 << 20)
    assert (lay.vmalloc_end, lay.pkmap_base, lay.last_pkmap) == (0xFF7FE000, 0xFF800000, 1024)


def test_i386_vmalloc_parameter_moves_the_lowmem_limit() -> None:
    k = kmemsim.boot("i386", mem="2G", config={"vmalloc": "256M"})
    # parse_vmalloc(): __VMALLOC_RESERVE = 256 MiB + VMALLOC_OFFSET
    maxmem = 0xFF7FE000 - 0xC0000000 - (256 << 20) - (8 << 20)
    assert k.direct_map.max_low_pfn == maxmem >> 12
    assert f"{maxmem >> 20}MB LOWMEM available." in k.dmesg()


def test_arm_layout_and_the_lowmem_split_of_a_1g_board() -> None:
    k = kmemsim.boot("beaglebone-black", mem="1G")
    r = regions(k)
    # memory.h: TASK_SIZE and MODULES_VADDR = PAGE_OFFSET - 16M;
    # highmem.h: PKMAP_BASE = PAGE_OFFSET - PMD_SIZE
    assert r["modules"] == (0xBF000000, 0xBFDFFFFF)
    assert r["persistent kmap area (PKMAP_BASE)"] == (0xBFE00000, 0xBFFFFFFF)
    # mmu.c: lowmem ends at vmalloc_min = VMALLOC_END - 240 MiB - VMALLOC_OFFSET = 0xf0000000.
    assert r["direct mapping of lowmem (PAGE_OFFSET .. high_memory)"] == (0xC0000000, 0xEFFFFFFF)
    assert r["vmalloc/ioremap space"] == (0xF0800000, 0xFF7FFFFF)
    meminfo = k.cat("/proc/meminfo")
    assert "LowTotal:" in meminfo and "HighTotal:" in meminfo
    high_kb = int(meminfo.split("HighTotal:")[1].split()[0])
    assert high_kb == (1 << 20) - (768 << 10)  # 256 MiB of the 1 GiB are highmem
    # vmalloc=: a bigger vmalloc area means less lowmem; a too small one is raised to 16 MiB.
    k = kmemsim.boot("beaglebone-black", mem="1G", config={"vmalloc": "400M"})
    assert regions(k)["direct mapping of lowmem (PAGE_OFFSET .. high_memory)"][1] == (
        0xFF800000 - (400 << 20) - (8 << 20) - 1
    )
    k = kmemsim.boot("beaglebone-black", mem="1G", config={"vmalloc": "1M"})
    assert "vmalloc area is too small, limiting to 16MiB" in k.dmesg()


def test_layout_command_prints_the_regions() -> None:
    out = CliRunner().invoke(cli, ["layout", "--profile", "x86_64"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].startswith("# x86_64 (x86_64, 4-level paging), PAGE_OFFSET 0xffff888000000000")
    assert (
        "ffff888000000000 | ffffc87fffffffff |     64 TB | "
        "direct mapping of all physical memory (page_offset_base)" in lines
    )
    assert (
        "ffffc90000000000 | ffffe8ffffffffff |     32 TB | vmalloc/ioremap space (vmalloc_base)"
        in lines
    )
    out = CliRunner().invoke(cli, ["layout", "--profile", "x86_64", "--config", "X86_5LEVEL=y"])
    assert "ff11000000000000 | ff90ffffffffffff |     32 PB | " in out.output
    out = CliRunner().invoke(cli, ["layout", "--profile", "i386", "--config", "X86_5LEVEL=y"])
    assert out.exit_code == 2
