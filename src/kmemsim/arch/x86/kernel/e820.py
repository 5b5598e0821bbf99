"""Model of arch/x86/kernel/e820.c: the firmware memory map as the x86 kernel keeps it.

The BIOS hands over a list of physical ranges, each with a type (usable RAM,
reserved, ACPI data, ...). The kernel copies it (e820_table), prints it
("BIOS-provided physical RAM map:" and one "BIOS-e820:" line per entry),
edits it (e820__range_update, e820__range_remove: the first page turned
reserved, the legacy BIOS area 640K-1M removed, a mem= limit) and then
registers every usable range with memblock (e820__memblock_setup), trimmed to
whole pages. e820__end_of_ram_pfn() finds max_pfn, the end of the last
usable range, capped by the architecture's MAX_ARCH_PFN.

After each edit the table is sanitized (e820__update_table): sorted,
overlaps resolved with the higher type number winning, neighbours of the
same type merged.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from kmemsim.hw.machine import E820Entry, E820Type
from kmemsim.include.linux.ioport import (
    IORES_DESC,
    IORESOURCE_BUSY,
    IORESOURCE_MEM,
    IORESOURCE_SYSTEM_RAM,
    Resource,
)
from kmemsim.kernel.printk import Printk
from kmemsim.mm.memblock import Memblock

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

ULLONG_MAX = (1 << 64) - 1
BIOS_BEGIN = 0x000A0000
BIOS_END = 0x00100000


class E820Table:
    """struct e820_table: the kernel's working copy of the firmware map."""

    def __init__(self, entries: list[E820Entry], log: Printk) -> None:
        self.entries = list(entries)
        self.log = log
        # e820_res: the iomem resource of each entry, made by e820__reserve_resources().
        self.res: list[Resource] = []

    def print_table(self, who: str) -> None:
        """e820__print_table(): one "<who>: [mem first-last] type" line per entry."""
        for e in self.entries:
            self.log.pr_info(f"{who}: [mem {e.addr:#018x}-{e.end - 1:#018x}] {e.type.label}")

    def update_table(self) -> None:
        """e820__update_table(): sort, let the higher type win overlaps, merge neighbours."""
        points = sorted({p for e in self.entries for p in (e.addr, e.end)})
        out: list[E820Entry] = []
        for lo, hi in itertools.pairwise(points):
            types = [e.type for e in self.entries if e.addr <= lo and e.end >= hi]
            if not types:
                continue
            t = max(types)
            if out and out[-1].type == t and out[-1].end == lo:
                out[-1] = E820Entry(out[-1].addr, hi - out[-1].addr, t)
            else:
                out.append(E820Entry(lo, hi - lo, t))
        self.entries = out

    def range_update(self, start: int, size: int, old: E820Type, new: E820Type) -> int:
        """e820__range_update(): retype the `old` parts of [start, start+size); bytes changed."""
        end = min(start + size, ULLONG_MAX)
        self.log.pr_info(
            f"e820: update [mem {start:#010x}-{end - 1:#010x}] {old.label} ==> {new.label}"
        )
        changed = 0
        out: list[E820Entry] = []
        for e in self.entries:
            if e.type != old or e.end <= start or e.addr >= end:
                out.append(e)
                continue
            lo, hi = max(e.addr, start), min(e.end, end)
            if e.addr < lo:
                out.append(E820Entry(e.addr, lo - e.addr, e.type))
            out.append(E820Entry(lo, hi - lo, new))
            if hi < e.end:
                out.append(E820Entry(hi, e.end - hi, e.type))
            changed += hi - lo
        self.entries = out
        return changed

    def range_remove(self, start: int, size: int, old: E820Type | None) -> int:
        """e820__range_remove(): drop [start, start+size) from `old` entries (any if None)."""
        end = min(start + size, ULLONG_MAX)
        label = f" {old.label}" if old is not None else ""
        self.log.pr_info(f"e820: remove [mem {start:#010x}-{end - 1:#010x}]{label}")
        removed = 0
        out: list[E820Entry] = []
        for e in self.entries:
            if (old is not None and e.type != old) or e.end <= start or e.addr >= end:
                out.append(e)
                continue
            if e.addr < start:
                out.append(E820Entry(e.addr, start - e.addr, e.type))
            if e.end > end:
                out.append(E820Entry(end, e.end - end, e.type))
            removed += min(e.end, end) - max(e.addr, start)
        self.entries = out
        return removed

    def end_pfn(self, limit_pfn: int, max_arch_pfn: int, page_shift: int) -> int:
        """e820_end_pfn(): the end of usable RAM below `limit_pfn`, capped at MAX_ARCH_PFN."""
        last_pfn = 0
        for e in self.entries:
            if e.type != E820Type.RAM:
                continue
            start_pfn = e.addr >> page_shift
            end_pfn = e.end >> page_shift
            if start_pfn >= limit_pfn:
                continue
            last_pfn = max(last_pfn, min(end_pfn, limit_pfn))
        last_pfn = min(last_pfn, max_arch_pfn)
        self.log.pr_info(f"last_pfn = {last_pfn:#x} max_arch_pfn = {max_arch_pfn:#x}")
        return last_pfn

    def memblock_setup(self, memblock: Memblock, page_size: int, phys_limit: int) -> None:
        """e820__memblock_setup(): usable RAM into memblock.memory, soft-reserved reserved.

        An entry whose end does not fit in phys_addr_t (`phys_limit`) is skipped."""
        for e in self.entries:
            if e.end > phys_limit:
                continue
            if e.type == E820Type.SOFT_RESERVED:
                memblock.reserve(e.addr, e.size, "e820 soft reserved")
            if e.type != E820Type.RAM:
                continue
            memblock.add(e.addr, e.size)
        memblock.trim_memory(page_size)

    def ram_ranges(self) -> list[tuple[int, int]]:
        return [(e.addr, e.end) for e in self.entries if e.type == E820Type.RAM]


def e820__memory_setup(entries: list[E820Entry], log: Printk) -> E820Table:
    """e820__memory_setup(): take the BIOS table, sanitize it, print it."""
    table = E820Table(entries, log)
    table.update_table()
    log.pr_info("BIOS-provided physical RAM map:")
    table.print_table("BIOS-e820")
    return table


def parse_memopt(table: E820Table, mem_size: int) -> None:
    """The mem= boot parameter (parse_memopt + e820__finish_early_params): RAM above it goes."""
    table.range_remove(mem_size, ULLONG_MAX - mem_size, E820Type.RAM)
    table.update_table()
    table.log.pr_info("user-defined physical RAM map:")
    table.print_table("user")


def trim_bios_range(table: E820Table, page_size: int) -> None:
    """trim_bios_range() of arch/x86/kernel/setup.c: page 0 reserved, 640K-1M not RAM."""
    table.range_update(0, page_size, E820Type.RAM, E820Type.RESERVED)
    table.range_remove(BIOS_BEGIN, BIOS_END - BIOS_BEGIN, E820Type.RAM)
    table.update_table()


# e820_type_to_string(), e820_type_to_iomem_type(), e820_type_to_iores_desc().
_IOMEM_NAMES = {
    E820Type.RAM: "System RAM",
    E820Type.ACPI: "ACPI Tables",
    E820Type.NVS: "ACPI Non-volatile Storage",
    E820Type.UNUSABLE: "Unusable memory",
    E820Type.PRAM: "Persistent Memory (legacy)",
    E820Type.PMEM: "Persistent Memory",
    E820Type.RESERVED: "Reserved",
    E820Type.SOFT_RESERVED: "Soft Reserved",
}
_IORES_DESC = {
    E820Type.ACPI: IORES_DESC.ACPI_TABLES,
    E820Type.NVS: IORES_DESC.ACPI_NV_STORAGE,
    E820Type.PMEM: IORES_DESC.PERSISTENT_MEMORY,
    E820Type.PRAM: IORES_DESC.PERSISTENT_MEMORY_LEGACY,
    E820Type.RESERVED: IORES_DESC.RESERVED,
    E820Type.SOFT_RESERVED: IORES_DESC.SOFT_RESERVED,
}


def _do_mark_busy(e: E820Entry) -> bool:
    """do_mark_busy(): the legacy first MiB, and RAM/ACPI/NVS/unusable, are busy at once;
    reserved and persistent memory are left for drivers and inserted late."""
    if e.addr < (1 << 20):
        return True
    return e.type not in (
        E820Type.RESERVED,
        E820Type.SOFT_RESERVED,
        E820Type.PRAM,
        E820Type.PMEM,
    )


def e820__reserve_resources(k: Kernel, table: E820Table) -> None:
    """e820__reserve_resources(): one iomem resource per e820 entry (memblock-allocated).

    Busy entries go into the tree now with insert_resource(), so the kernel
    sections and the ROMs already there end up below them; the others wait
    for e820__reserve_resources_late(). An entry that does not fit
    resource_size_t (past 4 GiB on i386 without PAE) is skipped."""
    tree = k.resource
    limit = (1 << tree.phys_bits) - 1
    table.res = []
    for e in table.entries:
        end = e.end - 1
        if end > limit:
            continue
        flags = IORESOURCE_SYSTEM_RAM if e.type == E820Type.RAM else IORESOURCE_MEM
        res = Resource(
            start=e.addr,
            end=end,
            name=_IOMEM_NAMES.get(e.type, "Unknown E820 type"),
            flags=flags,
            desc=int(_IORES_DESC.get(e.type, IORES_DESC.NONE)),
        )
        table.res.append(res)
        if _do_mark_busy(e):
            res.flags |= IORESOURCE_BUSY
            tree.insert_resource(tree.iomem_resource, res)


def _ram_alignment(pos: int) -> int:
    """ram_alignment(): 64K below 1 MiB, 1 MiB below 16 MiB, 64 MiB above."""
    mb = pos >> 20
    if not mb:
        return 64 << 10
    if mb < 16:
        return 1 << 20
    return 64 << 20


def e820__reserve_resources_late(k: Kernel, table: E820Table) -> None:
    """e820__reserve_resources_late() (pcibios_resource_survey, fs_initcall): the entries not
    inserted yet go in with insert_resource_expand_to_fit(), then the gaps after each RAM
    entry up to a "reasonable" boundary become "RAM buffer" (reserve_region_with_split)."""
    tree = k.resource
    for res in table.res:
        if res.parent is None and res.end:
            tree.insert_resource_expand_to_fit(tree.iomem_resource, res)
    max_resource = (1 << tree.phys_bits) - 1
    for e in table.entries:
        if e.type != E820Type.RAM:
            continue
        start = e.end
        align = _ram_alignment(start)
        end = min(-(-start // align) * align - 1, max_resource)
        if start >= end:
            continue
        k.log.pr_debug(f"e820: reserve RAM buffer [mem {start:#010x}-{end:#010x}]")
        reserve_region_with_split(k, tree.iomem_resource, start, end, "RAM buffer")


def reserve_region_with_split(k: Kernel, root: Resource, start: int, end: int, name: str) -> None:
    """reserve_region_with_split() of kernel/resource.c: a busy "name" in every free gap of
    [start, end] below `root` (the parts already taken are left as they are)."""
    tree = k.resource
    if start < root.start or end > root.end:
        k.log.pr_err(
            f"requested range [{start:#010x}-{end:#010x}] not in root "
            f"[{root.start:#010x}-{root.end:#010x}]"
        )
        start, end = max(start, root.start), min(end, root.end)
        if start > end:
            return
    res = Resource(start=start, end=end, name=name, flags=IORESOURCE_BUSY | IORESOURCE_MEM)
    conflict = tree.request_resource_conflict(root, res)
    if conflict is None:
        return
    # __reserve_region_with_split(): split around the conflict and try the parts again;
    # a conflict covering the whole range leaves nothing to reserve.
    if conflict.start <= start and conflict.end >= end:
        return
    if conflict.start > start:
        reserve_region_with_split(k, root, start, conflict.start - 1, name)
    if conflict.end < end:
        reserve_region_with_split(k, root, conflict.end + 1, end, name)
