"""setup_arch(): the architecture's part of start_kernel(), dispatched by machine.

Each architecture turns its firmware's description of memory (the e820 map
on x86, the device tree on ARM) into memblock, sets up the direct map and the
zone limits, and calls free_area_init() (mm/mm_init.py), which builds
k.pgdat. After it the page allocator is created over the zones; it is filled
later by memblock_free_all().

  x86_64, i386: arch/x86/kernel/setup.py (e820.py, arch/x86/mm/init.py)
  arm:          arch/arm/kernel/setup.py (arch/arm/mm/init.py)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
    from kmemsim.include.linux.export import export_symbols
    from kmemsim.mm.page_alloc import PageAllocator

    k.page_alloc = PageAllocator(k)
    export_symbols(k, k.page_alloc)
