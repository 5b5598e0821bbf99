"""setup_arch(): the architecture's part of start_kernel(), dispatched by machine.

Each architecture turns its firmware's description of memory (the e820 map
on x86, the device tree on ARM) into memblock, sets up the direct map and the
zone limits, and calls free_area_init() (mm/mm_init.py), which builds
k.pgdat. After it the page allocator is created over the zones; it is filled
later by memblock_free_all().

  x86_64, i386: arch/x86/kernel/setup.py (e820.py, arch/x86/mm/init.py)
  arm:          arch/arm/kernel/setup.py (arch/arm/mm/init.py)

Once the direct map is known, init_address_space() makes the kernel's address
space (mm/kernel_as.py) with what the architecture maps at boot (the direct
map of RAM, on x86_64 the kernel image mapping) and its fault handler, and
binds its functions onto the Kernel (k.read, k.write, k.memset, ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.mm.kernel_as import KernelAddressSpace

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel


def setup_arch(k: Kernel) -> None:
    """setup_arch(): memblock, k.direct_map, k.pgdat, then k.page_alloc over the zones."""
    if k.machine.arch in ("x86_64", "i386"):
        from kmemsim.arch.x86.kernel.setup import setup_arch_x86

        setup_arch_x86(k)
    elif k.machine.arch == "arm":
        from kmemsim.arch.arm.kernel.setup import setup_arch_arm

        setup_arch_arm(k)
    else:  # the profile loader only lets the three through
        raise AssertionError(f"no setup_arch for {k.machine.arch}")
    init_address_space(k)
    from kmemsim.include.linux.export import export_symbols
    from kmemsim.mm.page_alloc import PageAllocator

    k.page_alloc = PageAllocator(k)
    export_symbols(k, k.page_alloc)


# arch/x86/include/asm/page_64_types.h: the kernel image mapping.
START_KERNEL_MAP_X86_64 = 0xFFFFFFFF80000000
PMD_SIZE_X86_64 = 2 << 20


def direct_map_pfn_ranges(k: Kernel) -> list[tuple[int, int]]:
    """The frames the boot code maps in the direct map (lowmem only on 32-bit).

    x86 init_mem_mapping() maps the ISA range [0, 1 MiB) and every memblock
    memory range; arm map_lowmem() maps the memory ranges below the lowmem
    limit except the /reserved-memory regions marked no-map."""
    shift = k.machine.page_shift
    limit = k.direct_map.max_low_pfn
    ranges = k.memblock.mem_pfn_ranges(shift)
    if k.machine.arch in ("x86_64", "i386"):
        ranges = [(0, (1 << 20) >> shift), *ranges]
    nomap = [
        (r.base >> shift, (r.base + r.size) >> shift) for r in k.machine.dt_reserved if r.no_map
    ]
    out: list[tuple[int, int]] = []
    for s, e in sorted(ranges):
        e = min(e, limit)
        pieces = [(s, e)]
        for ns, ne in nomap:
            pieces = [
                piece
                for a, b in pieces
                for piece in ((a, min(b, ns)), (max(a, ne), b))
                if piece[1] > piece[0]
            ]
        for a, b in pieces:
            if out and a <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], b))
            elif b > a:
                out.append((a, b))
    return out


def init_address_space(k: Kernel) -> None:
    """k.address_space: the direct map, the image mapping, the fault handler; export it."""
    from kmemsim.arch.sections import kernel_sections
    from kmemsim.include.linux.export import export_symbols

    dm = k.direct_map
    if k.machine.arch == "arm":
        from kmemsim.arch.arm.mm.fault import arm_kernel_fault as fault
    else:
        from kmemsim.arch.x86.mm.fault import x86_kernel_fault as fault
    aspace = KernelAddressSpace(
        k,
        page_offset=dm.page_offset,
        phys_offset=dm.phys_offset,
        direct_pfn_ranges=direct_map_pfn_ranges(k),
        arch_fault=fault,
    )
    aspace.virtual_mask_shift = k.vm_layout.virtual_mask_shift
    aspace.pgtable_levels = k.vm_layout.pgtable_levels
    sec = kernel_sections(k)
    img = k.machine.kernel_image
    if k.machine.arch == "x86_64":
        # __START_KERNEL_map + phys (phys_base 0): the PMDs from _text to _end
        # that cleanup_highmap() keeps.
        start = img.start & ~(PMD_SIZE_X86_64 - 1)
        end = -(-img.end // PMD_SIZE_X86_64) * PMD_SIZE_X86_64
        aspace.add_linear(START_KERNEL_MAP_X86_64 + start, START_KERNEL_MAP_X86_64 + end, start)
        aspace.set_rodata(
            START_KERNEL_MAP_X86_64 + sec["__start_rodata"],
            START_KERNEL_MAP_X86_64 + sec["__end_rodata"],
        )
    else:
        aspace.set_rodata(
            dm.phys_to_virt(sec["__start_rodata"]), dm.phys_to_virt(sec["__end_rodata"])
        )
    k.address_space = aspace
    export_symbols(k, aspace)
