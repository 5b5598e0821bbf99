"""Model of mm/percpu.c, reduced: the per-CPU units, DEFINE_PER_CPU variables and alloc_percpu().

Each possible CPU has a unit of per-CPU memory; a __percpu pointer is the
address of a variable in the unit of CPU 0, and per_cpu_ptr(ptr, cpu) adds
__per_cpu_offset[cpu], the distance from CPU 0's unit to that CPU's. The
first PERCPU_STATIC_SIZE bytes of each unit hold the static variables
(DEFINE_PER_CPU, here `k.per_cpu_var(name, size)`), which kmemleak scans as
roots in every CPU's copy; the rest serves __alloc_percpu() (a bump
allocator: free_percpu() forgets the area without reusing it, which the
kernel's chunk allocator would). The units come from the page allocator the
first time per-CPU memory is needed (the kernel takes its first chunk from
memblock at boot).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.errors import KmemsimError
from kmemsim.include.linux.export import EXPORT_SYMBOL

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

PCPU_UNIT_ORDER = 3  # 32 KiB units
PERCPU_STATIC_SIZE = 8192


class PerCpuAreas:
    """The per-CPU units of one kernel and what is allocated in them."""

    def __init__(self, k: Kernel) -> None:
        self.k = k
        self.units: list[int] = []
        self.static_used = 0
        self.dyn_used = PERCPU_STATIC_SIZE
        self.vars: dict[str, int] = {}
        self.dynamic: dict[int, int] = {}  # __percpu pointer -> size

    @property
    def unit_size(self) -> int:
        return 4096 << PCPU_UNIT_ORDER

    def _units(self) -> list[int]:
        if not self.units:
            for _ in range(int(self.k.machine.cpus)):
                page = self.k.alloc_pages(0xCC0 | 0x100, PCPU_UNIT_ORDER)  # GFP_KERNEL|__GFP_ZERO
                if page is None:
                    raise KmemsimError("per-CPU units: out of memory")
                page.owner = "percpu"
                self.units.append(int(self.k.page_address(page)))
        return self.units

    def per_cpu_offset(self, cpu: int) -> int:
        """__per_cpu_offset[cpu]."""
        units = self._units()
        return units[cpu] - units[0]

    def static_areas(self) -> list[tuple[int, int]]:
        """[start, end) of the static per-CPU variables of every CPU (kmemleak's roots)."""
        return [(u, u + self.static_used) for u in self.units] if self.static_used else []

    @EXPORT_SYMBOL
    def per_cpu_var(self, name: str, size: int = 8) -> int:
        """DEFINE_PER_CPU(type, name): the __percpu address of a static per-CPU variable."""
        if name in self.vars:
            return self.vars[name]
        units = self._units()
        off = (self.static_used + 7) & ~7
        if size <= 0 or off + size > PERCPU_STATIC_SIZE:
            raise KmemsimError(f"per_cpu_var({name!r}, {size}): no room in the static per-CPU area")
        self.static_used = off + size
        self.vars[name] = units[0] + off
        return units[0] + off

    @EXPORT_SYMBOL
    def per_cpu_ptr(self, ptr: int, cpu: int) -> int:
        """per_cpu_ptr(): CPU `cpu`'s copy of the per-CPU variable at `ptr`."""
        return ptr + self.per_cpu_offset(cpu)

    @EXPORT_SYMBOL("__alloc_percpu", "alloc_percpu")
    def alloc_percpu(self, size: int, align: int = 8) -> int:
        """__alloc_percpu(): a zeroed per-CPU area of `size` bytes; 0 when none is left."""
        units = self._units()
        align = max(int(align), 1)
        off = (self.dyn_used + align - 1) // align * align
        if size <= 0 or off + size > self.unit_size:
            return 0
        self.dyn_used = off + size
        ptr = units[0] + off
        for u in units:
            self.k.address_space.fill(u + off, 0, size)
        self.dynamic[ptr] = size
        kmemleak = getattr(self.k, "kmemleak", None)
        if kmemleak is not None:
            kmemleak.kmemleak_alloc_percpu(ptr, size)
        return ptr

    @EXPORT_SYMBOL
    def free_percpu(self, ptr: int) -> None:
        """free_percpu(): NULL is a no-op."""
        if not ptr:
            return
        self.dynamic.pop(ptr, None)
        kmemleak = getattr(self.k, "kmemleak", None)
        if kmemleak is not None:
            kmemleak.kmemleak_free(ptr)


def percpu_init(k: Kernel) -> PerCpuAreas:
    """setup_per_cpu_areas(), reduced: the per-CPU API bound onto `k` (units made on first use)."""
    from kmemsim.include.linux.export import export_symbols

    pcpu = PerCpuAreas(k)
    k.percpu = pcpu
    export_symbols(k, pcpu)
    return pcpu
