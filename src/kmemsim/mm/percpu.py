"""Model of mm/percpu.c, reduced: the per-CPU units, DEFINE_PER_CPU variables and alloc_percpu().

Each possible CPU has a unit of per-CPU memory; a __percpu pointer is the
address of a variable in the unit of CPU 0, and per_cpu_ptr(ptr, cpu) adds
__per_cpu_offset[cpu], the distance from CPU 0's unit to that CPU's. The
first PERCPU_STATIC_SIZE bytes of each unit hold the static variables
(DEFINE_PER_CPU, here `k.per_cpu_var(name, size)`), which kmemleak scans as
roots in every CPU's copy; the rest serves __alloc_percpu() (a bump
allocator: free_percpu() forgets the area without reusing it, which the
kernel's chunk allocator would). The units come from the page allocator the
first time per-CPU memory is needed.

setup_per_cpu_areas() below models the boot side: the first chunk embedded
from memblock (pcpu_build_alloc_info(), pcpu_embed_first_chunk(),
pcpu_setup_first_chunk()), its log lines and the memory it leaves reserved,
for a profile that gives the image's static per-CPU size. The API above does
not use that chunk's units yet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
        kmemleak = self.k.kmemleak
        if kmemleak is not None:
            kmemleak.kmemleak_alloc_percpu(ptr, size)
        return ptr

    @EXPORT_SYMBOL
    def free_percpu(self, ptr: int) -> None:
        """free_percpu(): NULL is a no-op."""
        if not ptr:
            return
        self.dynamic.pop(ptr, None)
        kmemleak = self.k.kmemleak
        if kmemleak is not None:
            kmemleak.kmemleak_free(ptr)


def percpu_init(k: Kernel) -> PerCpuAreas:
    """setup_per_cpu_areas(), reduced: the per-CPU API bound onto `k` (units made on first use)."""
    from kmemsim.include.linux.export import export_symbols

    pcpu = PerCpuAreas(k)
    k.percpu = pcpu
    export_symbols(k, pcpu)
    return pcpu


# ---------------------------------------------------------------------------- the first chunk
# include/linux/percpu.h
PCPU_MIN_UNIT_SIZE = 32 << 10
PCPU_MIN_ALLOC_SHIFT = 2
PCPU_SLOT_BASE_SHIFT = 5  # mm/percpu.c
SMP_CACHE_BYTES = 64
# sizeof(struct pcpu_block_md): eight ints; sizeof(struct pcpu_chunk) on 64-bit
# (base_addr is ____cacheline_aligned_in_smp, so the struct is two cache lines
# and its flexible populated[] bitmap starts at 136).
PCPU_BLOCK_MD_SIZE = 32
PCPU_CHUNK_POPULATED_OFFSET = 136


def percpu_module_reserve(k: Kernel) -> int:
    """PERCPU_MODULE_RESERVE: 8K for modules' per-CPU variables, 0 without CONFIG_MODULES."""
    return 8 << 10 if k.config["MODULES"] else 0


def percpu_dynamic_reserve(k: Kernel) -> int:
    """PERCPU_DYNAMIC_RESERVE: 28K on 64-bit kernels, 20K on 32-bit ones."""
    return (28 if k.machine.bits > 32 else 20) << 10


def pcpu_build_alloc_info(
    k: Kernel, static_size: int, reserved_size: int, dyn_size: int, atom_size: int
) -> dict[str, Any]:
    """pcpu_build_alloc_info(): unit size and units per allocation of the first chunk.

    One group (one node, every CPU at LOCAL_DISTANCE). The unit holds the
    static, reserved and dynamic areas rounded up to a page (the dynamic area
    grows to fill the page), at least PCPU_MIN_UNIT_SIZE; an allocation is
    atom_size rounded up, split into as many units as fit while each unit stays
    page aligned (upa). Of the candidate upa, the kernel keeps the smallest
    number of allocations whose unused units stay within a third of the CPUs.
    """
    page = k.machine.page_size
    cpus = int(k.machine.cpus)
    size_sum = -(-(static_size + reserved_size + dyn_size) // page) * page
    dyn_size = size_sum - static_size - reserved_size
    min_unit_size = max(size_sum, PCPU_MIN_UNIT_SIZE)
    alloc_size = -(-min_unit_size // atom_size) * atom_size
    upa = alloc_size // min_unit_size
    while alloc_size % upa or (alloc_size // upa) % page:
        upa -= 1
    max_upa = upa
    best_upa, last_allocs = 0, 1 << 31
    for upa in range(max_upa, 0, -1):
        if alloc_size % upa or (alloc_size // upa) % page:
            continue
        allocs = -(-cpus // upa)
        wasted = allocs * upa - cpus
        if wasted > cpus // 3:
            continue
        if allocs > last_allocs:
            break
        last_allocs, best_upa = allocs, upa
    nr_units = -(-cpus // best_upa) * best_upa
    cpu_map = list(range(cpus)) + [int(k.config["NR_CPUS"])] * (nr_units - cpus)
    return {
        "static_size": static_size,
        "reserved_size": reserved_size,
        "dyn_size": dyn_size,
        "unit_size": alloc_size // best_upa,
        "atom_size": atom_size,
        "alloc_size": alloc_size,
        "groups": [{"nr_units": nr_units, "cpu_map": cpu_map}],
    }


def pcpu_dump_alloc_info(k: Kernel, ai: dict[str, Any]) -> None:
    """pcpu_dump_alloc_info(): "pcpu-alloc: s.. r.. d.. u.. alloc=N*S" and the unit map.

    Each allocation prints as "[group] cpu cpu ... " (an unused unit as dashes),
    as many allocations per line as fit in 60 columns, rounded down to a power
    of two; KERN_DEBUG, as pcpu_setup_first_chunk() calls it."""
    from kmemsim.kernel.printk import LogLevel

    groups = ai["groups"]
    nr_cpu = int(k.machine.cpus)
    group_width = len(str(len(groups)))
    cpu_width = len(str(nr_cpu))
    empty = "-" * min(cpu_width, 8)
    upa = ai["alloc_size"] // ai["unit_size"]
    width = upa * (cpu_width + 1) + group_width + 3
    apl = 1 << (max(60 // width, 1).bit_length() - 1)
    head = (
        f"pcpu-alloc: s{ai['static_size']} r{ai['reserved_size']} d{ai['dyn_size']} "
        f"u{ai['unit_size']} alloc={ai['alloc_size'] // ai['atom_size']}*{ai['atom_size']}"
    )
    lines = [head]
    alloc = 0
    nr_cpus_const = int(k.config["NR_CPUS"])
    for g, gi in enumerate(groups):
        for a in range(gi["nr_units"] // upa):
            if alloc % apl == 0:
                lines.append("pcpu-alloc: ")
            text = f"[{g:0{group_width}d}] "
            for cpu in gi["cpu_map"][a * upa : (a + 1) * upa]:
                text += f"{cpu:0{cpu_width}d} " if cpu != nr_cpus_const else f"{empty} "
            lines[-1] += text
            alloc += 1
    for line in lines:
        k.log.printk(line, LogLevel.DEBUG)


def _bits_to_longs(bits: int, long_bits: int) -> int:
    return -(-bits // long_bits)


def pcpu_setup_first_chunk(k: Kernel, ai: dict[str, Any], base: int) -> None:
    """pcpu_setup_first_chunk(): the first chunk's bookkeeping, from memblock.

    group_offsets, group_sizes, unit_map and unit_off; the chunk slot lists
    (__pcpu_size_to_slot(unit size) + 4 list heads); then
    pcpu_alloc_first_chunk() for the dynamic area (and the reserved one when
    there is one): the struct pcpu_chunk with its populated bitmap, the
    alloc_map and bound_map (one bit per PCPU_MIN_ALLOC_SIZE bytes) and one
    pcpu_block_md per page. Every allocation is SMP_CACHE_BYTES aligned."""
    mb = k.memblock
    ptr = k.machine.bits // 8
    page = k.machine.page_size
    shift = k.machine.page_shift
    cpus = int(k.machine.cpus)
    ngroups = len(ai["groups"])

    def alloc(size: int, what: str) -> None:
        if not mb.phys_alloc_range(size, SMP_CACHE_BYTES, owner=f"percpu {what}"):
            raise KmemsimError(f"pcpu_setup_first_chunk: Failed to allocate {size} bytes")

    pcpu_dump_alloc_info(k, ai)
    alloc(ngroups * ptr, "group_offsets")
    alloc(ngroups * ptr, "group_sizes")
    alloc(cpus * 4, "unit_map")
    alloc(cpus * ptr, "unit_off")
    slot = max(ai["unit_size"].bit_length() - PCPU_SLOT_BASE_SHIFT + 2, 1)
    alloc((slot + 4) * 2 * ptr, "chunk lists")
    static_size = -(-ai["static_size"] // 4) * 4
    dyn_size = ai["dyn_size"] - (static_size - ai["static_size"])
    tmp = base + static_size
    regions = []
    if ai["reserved_size"]:
        regions.append((tmp, ai["reserved_size"]))
    regions.append((tmp + ai["reserved_size"], dyn_size))
    long_bits = k.machine.bits
    for addr, map_size in regions:  # pcpu_alloc_first_chunk()
        start_offset = addr % page
        region_size = -(-(start_offset + map_size) // page) * page
        nr_pages = region_size >> shift
        populated = PCPU_CHUNK_POPULATED_OFFSET if ptr == 8 else PCPU_CHUNK_POPULATED_OFFSET // 2
        alloc(populated + _bits_to_longs(nr_pages, long_bits) * ptr, "chunk")
        region_bits = region_size >> PCPU_MIN_ALLOC_SHIFT
        alloc(_bits_to_longs(region_bits, long_bits) * ptr, "alloc_map")
        alloc(_bits_to_longs(region_bits + 1, long_bits) * ptr, "bound_map")
        alloc(nr_pages * PCPU_BLOCK_MD_SIZE, "md_blocks")


def pcpu_embed_first_chunk(
    k: Kernel, reserved_size: int, dyn_size: int, atom_size: int, min_addr: int = 0
) -> int:
    """pcpu_embed_first_chunk(): the first chunk, embedded in the linear map, from memblock.

    Each group's units are one memblock allocation of nr_units * unit_size,
    atom_size aligned (pcpu_fc_alloc(), from min_addr up); the static
    variables are copied into each unit and the tail of each unit beyond
    static + reserved + dynamic goes back to memblock (pcpu_fc_free()), so
    what stays reserved is PFN_DOWN(size_sum) pages per CPU. The alloc_info
    and the areas array are memblock allocations freed before it returns.
    Prints "percpu: Embedded N pages/cpu s.. r.. d.. u..". Returns the base
    (physical) of the first chunk, 0 if memblock had no room (-ENOMEM).
    """
    mb = k.memblock
    page = k.machine.page_size
    static_size = int(k.machine.kernel_image.percpu_static)
    ai = pcpu_build_alloc_info(k, static_size, reserved_size, dyn_size, atom_size)
    size_sum = ai["static_size"] + ai["reserved_size"] + ai["dyn_size"]
    ptr = k.machine.bits // 8
    # The alloc_info (header, groups, cpu_map) and the areas array, freed at the end.
    groups = ai["groups"]
    ai_size = -(-(6 * ptr + 2 * ptr + len(groups) * 2 * ptr) // 4) * 4
    ai_size += sum(g["nr_units"] for g in groups) * 4
    ai_size = -(-ai_size // page) * page
    temp = [(mb.phys_alloc_range(ai_size, SMP_CACHE_BYTES, owner="percpu alloc_info"), ai_size)]
    areas_size = -(-(len(groups) * ptr) // page) * page
    areas_addr = mb.phys_alloc_range(areas_size, SMP_CACHE_BYTES, owner="percpu areas")
    temp.append((areas_addr, areas_size))
    areas: list[tuple[int, int]] = []
    for gi in groups:
        size = gi["nr_units"] * ai["unit_size"]
        addr = mb.phys_alloc_range(size, atom_size, start=min_addr, owner="percpu first chunk")
        if not addr:
            for a, s in temp:
                if a:
                    mb.phys_free(a, s)
            for a, s in areas:
                mb.phys_free(a, s)
            k.log.pr_warn(f"percpu: failed to allocate first chunk ({size} bytes)")
            return 0
        areas.append((addr, size))
    base = min(a for a, _ in areas)
    nr_cpus_const = int(k.config["NR_CPUS"])
    for (addr, _), gi in zip(areas, groups, strict=True):
        for i, cpu in enumerate(gi["cpu_map"]):
            unit = addr + i * ai["unit_size"]
            if cpu == nr_cpus_const:
                mb.phys_free(unit, ai["unit_size"])  # an unused unit, whole
            else:
                mb.phys_free(unit + size_sum, ai["unit_size"] - size_sum)
    k.log.pr_info(
        f"percpu: Embedded {size_sum // page} pages/cpu s{ai['static_size']} "
        f"r{ai['reserved_size']} d{ai['dyn_size']} u{ai['unit_size']}"
    )
    pcpu_setup_first_chunk(k, ai, base)
    for a, s in temp:  # pcpu_free_alloc_info(), memblock_free(areas)
        if a:
            mb.phys_free(a, s)
    return base


def setup_per_cpu_areas(k: Kernel) -> int:
    """setup_per_cpu_areas() (mm/percpu.c generic, arch/x86/kernel/setup_percpu.c on x86).

    Runs when the profile gives the image's static per-CPU size
    ([kernel] percpu_static). x86 prints "setup_percpu: NR_CPUS:.. nr_cpumask_bits:..
    nr_cpu_ids:.. nr_node_ids:.." first and embeds with PMD-sized atoms on
    x86_64 (page-sized on i386) above MAX_DMA_ADDRESS; the generic version
    embeds with page-sized atoms. Both ask for PERCPU_MODULE_RESERVE reserved
    and PERCPU_DYNAMIC_RESERVE dynamic bytes. Returns the first chunk's base."""
    if not k.machine.kernel_image.percpu_static:
        return 0
    page = k.machine.page_size
    reserved = percpu_module_reserve(k)
    dyn = percpu_dynamic_reserve(k)
    if k.machine.arch in ("x86_64", "i386"):
        cpus = int(k.machine.cpus)
        # nr_cpumask_bits is nr_cpu_ids unless CONFIG_FORCE_NR_CPUS; one node.
        k.log.pr_info(
            f"setup_percpu: NR_CPUS:{k.config['NR_CPUS']} nr_cpumask_bits:{cpus} "
            f"nr_cpu_ids:{cpus} nr_node_ids:1"
        )
        atom = (2 << 20) if k.machine.arch == "x86_64" else page
        # PERCPU_FIRST_CHUNK_RESERVE is PERCPU_MODULE_RESERVE: dyn_size stays DYNAMIC_RESERVE.
        return pcpu_embed_first_chunk(k, reserved, dyn, atom, min_addr=16 << 20)
    return pcpu_embed_first_chunk(k, reserved, dyn, page)
