"""Model of include/linux/ioport.h: struct resource, the IORESOURCE_* flags and helpers.

A resource is a range [start, end] (end inclusive) of the physical address
space (IORESOURCE_MEM) or of the x86 I/O port space (IORESOURCE_IO), with a
name and flags, kept in a tree: each resource has a parent, its first child
and its next sibling, siblings sorted by address and never overlapping
(kernel/resource.c keeps the tree; kernel/resource.py models it).

The flag values are the kernel's (6.18): the low byte is bus-specific, bits
8-12 the type, then the attribute bits, IORESOURCE_BUSY at bit 31.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class IORESOURCE(enum.IntFlag):
    """IORESOURCE_* of include/linux/ioport.h (Linux 6.18)."""

    BITS = 0x000000FF
    TYPE_BITS = 0x00001F00
    IO = 0x00000100
    MEM = 0x00000200
    REG = 0x00000300
    IRQ = 0x00000400
    DMA = 0x00000800
    BUS = 0x00001000
    PREFETCH = 0x00002000
    READONLY = 0x00004000
    CACHEABLE = 0x00008000
    RANGELENGTH = 0x00010000
    SHADOWABLE = 0x00020000
    SIZEALIGN = 0x00040000
    STARTALIGN = 0x00080000
    MEM_64 = 0x00100000
    WINDOW = 0x00200000
    MUXED = 0x00400000
    EXT_TYPE_BITS = 0x01000000
    SYSRAM = 0x01000000
    SYSRAM_DRIVER_MANAGED = 0x02000000
    SYSRAM_MERGEABLE = 0x04000000
    EXCLUSIVE = 0x08000000
    DISABLED = 0x10000000
    UNSET = 0x20000000
    AUTO = 0x40000000
    BUSY = 0x80000000


IORESOURCE_IO = int(IORESOURCE.IO)
IORESOURCE_MEM = int(IORESOURCE.MEM)
IORESOURCE_REG = int(IORESOURCE.REG)
IORESOURCE_IRQ = int(IORESOURCE.IRQ)
IORESOURCE_DMA = int(IORESOURCE.DMA)
IORESOURCE_BUS = int(IORESOURCE.BUS)
IORESOURCE_TYPE_BITS = int(IORESOURCE.TYPE_BITS)
IORESOURCE_EXT_TYPE_BITS = int(IORESOURCE.EXT_TYPE_BITS)
IORESOURCE_PREFETCH = int(IORESOURCE.PREFETCH)
IORESOURCE_READONLY = int(IORESOURCE.READONLY)
IORESOURCE_MEM_64 = int(IORESOURCE.MEM_64)
IORESOURCE_WINDOW = int(IORESOURCE.WINDOW)
IORESOURCE_MUXED = int(IORESOURCE.MUXED)
IORESOURCE_SYSRAM = int(IORESOURCE.SYSRAM)
IORESOURCE_EXCLUSIVE = int(IORESOURCE.EXCLUSIVE)
IORESOURCE_DISABLED = int(IORESOURCE.DISABLED)
IORESOURCE_UNSET = int(IORESOURCE.UNSET)
IORESOURCE_BUSY = int(IORESOURCE.BUSY)
IORESOURCE_SYSTEM_RAM = IORESOURCE_MEM | IORESOURCE_SYSRAM


class IORES_DESC(enum.IntEnum):
    """enum { IORES_DESC_* }: what a resource is, for walk_iomem_res_desc() and friends."""

    NONE = 0
    CRASH_KERNEL = 1
    ACPI_TABLES = 2
    ACPI_NV_STORAGE = 3
    PERSISTENT_MEMORY = 4
    PERSISTENT_MEMORY_LEGACY = 5
    DEVICE_PRIVATE_MEMORY = 6
    RESERVED = 7
    SOFT_RESERVED = 8
    CXL = 9


IORES_DESC_NONE = 0

# enum { REGION_DISJOINT, REGION_INTERSECTS, REGION_MIXED }: region_intersects() answers.
REGION_DISJOINT = 0
REGION_INTERSECTS = 1
REGION_MIXED = 2


@dataclass(eq=False)
class Resource:
    """struct resource: [start, end] with a name, flags, a descriptor, and its tree links.

    `addr` is where the structure lives in kernel memory when it was
    allocated (kzalloc by __request_region; 0 for a static or boot-time one).
    """

    start: int = 0
    end: int = 0
    name: str | None = None
    flags: int = 0
    desc: int = 0
    parent: Resource | None = field(default=None, repr=False)
    sibling: Resource | None = field(default=None, repr=False)
    child: Resource | None = field(default=None, repr=False)
    addr: int = field(default=0, repr=False)

    def __repr__(self) -> str:
        return f"<Resource {pR(self)} {self.name!r}>"

    # ---------------------------------------------------------------- static inlines
    def size(self) -> int:
        """resource_size(): end - start + 1."""
        return self.end - self.start + 1

    def type(self) -> int:
        """resource_type(): the IORESOURCE_TYPE_BITS of the flags."""
        return self.flags & IORESOURCE_TYPE_BITS

    def children(self) -> list[Resource]:
        """The direct children, in address order."""
        out = []
        c = self.child
        while c is not None:
            out.append(c)
            c = c.sibling
        return out


def resource_size(res: Resource) -> int:
    """resource_size()."""
    return res.end - res.start + 1


def resource_type(res: Resource) -> int:
    """resource_type()."""
    return res.flags & IORESOURCE_TYPE_BITS


def resource_ext_type(res: Resource) -> int:
    """resource_ext_type()."""
    return res.flags & IORESOURCE_EXT_TYPE_BITS


def resource_contains(r1: Resource, r2: Resource) -> bool:
    """resource_contains(): r1 holds all of r2 (same type, neither unset)."""
    if resource_type(r1) != resource_type(r2):
        return False
    if r1.flags & IORESOURCE_UNSET or r2.flags & IORESOURCE_UNSET:
        return False
    return r1.start <= r2.start and r1.end >= r2.end


def resource_overlaps(r1: Resource, r2: Resource) -> bool:
    """resource_overlaps()."""
    return r1.start <= r2.end and r1.end >= r2.start


def resource_intersection(r1: Resource, r2: Resource, r: Resource) -> bool:
    """resource_intersection(): the common part of r1 and r2 into r; False when disjoint."""
    if not resource_overlaps(r1, r2):
        return False
    r.start = max(r1.start, r2.start)
    r.end = min(r1.end, r2.end)
    return True


def resource_union(r1: Resource, r2: Resource, r: Resource) -> bool:
    """resource_union(): the span of two overlapping resources into r; False when disjoint."""
    if not resource_overlaps(r1, r2):
        return False
    r.start = min(r1.start, r2.start)
    r.end = max(r1.end, r2.end)
    return True


def pR(res: Resource) -> str:
    """The %pR format of lib/vsprintf.c resource_string(): "[mem 0x44e09000-0x44e0901f]".

    Memory ranges print with at least 8 hex digits (mem_spec: field width 10
    with "0x"), I/O ranges with at least 4 (io_spec), bus numbers with 2,
    then the attributes (" 64bit", " pref", " window", " disabled").
    """
    t = resource_type(res)
    if t == IORESOURCE_IO:
        kind, width = "io", 4
    elif t == IORESOURCE_MEM:
        kind, width = "mem", 8
    elif t == IORESOURCE_IRQ:
        kind, width = "irq", 0
    elif t == IORESOURCE_DMA:
        kind, width = "dma", 0
    elif t == IORESOURCE_BUS:
        kind, width = "bus", 2
    else:
        return f"[??? {res.start:#010x}-{res.end:#010x} flags {res.flags:#x}]"
    if width:
        text = f"{kind} {res.start:#0{width + 2}x}"
        if res.start != res.end:
            text += f"-{res.end:#0{width + 2}x}"
    else:
        text = f"{kind} {res.start}" + (f"-{res.end}" if res.start != res.end else "")
    if res.flags & IORESOURCE_UNSET:
        text = f"{kind} size {res.size():#x}"
    if t == IORESOURCE_MEM and res.flags & IORESOURCE_MEM_64:
        text += " 64bit"
    if t == IORESOURCE_MEM and res.flags & IORESOURCE_PREFETCH:
        text += " pref"
    if res.flags & IORESOURCE_WINDOW:
        text += " window"
    if res.flags & IORESOURCE_DISABLED:
        text += " disabled"
    return f"[{text}]"


# ---------------------------------------------------------------- DEFINE_RES_* initialisers
def DEFINE_RES_NAMED_DESC(
    start: int, size: int, name: str | None, flags: int, desc: int = IORES_DESC_NONE
) -> Resource:
    """DEFINE_RES_NAMED_DESC(): a resource [start, start + size - 1]."""
    return Resource(start=start, end=start + size - 1, name=name, flags=flags, desc=desc)


def DEFINE_RES_NAMED(start: int, size: int, name: str | None, flags: int) -> Resource:
    """DEFINE_RES_NAMED()."""
    return DEFINE_RES_NAMED_DESC(start, size, name, flags)


def DEFINE_RES(start: int, size: int, flags: int) -> Resource:
    """DEFINE_RES()."""
    return DEFINE_RES_NAMED(start, size, None, flags)


def DEFINE_RES_MEM_NAMED(start: int, size: int, name: str | None) -> Resource:
    """DEFINE_RES_MEM_NAMED()."""
    return DEFINE_RES_NAMED(start, size, name, IORESOURCE_MEM)


def DEFINE_RES_MEM(start: int, size: int) -> Resource:
    """DEFINE_RES_MEM(): an unnamed memory resource."""
    return DEFINE_RES_MEM_NAMED(start, size, None)


def DEFINE_RES_IO_NAMED(start: int, size: int, name: str | None) -> Resource:
    """DEFINE_RES_IO_NAMED()."""
    return DEFINE_RES_NAMED(start, size, name, IORESOURCE_IO)


def DEFINE_RES_IO(start: int, size: int) -> Resource:
    """DEFINE_RES_IO()."""
    return DEFINE_RES_IO_NAMED(start, size, None)


def DEFINE_RES_IRQ_NAMED(irq: int, name: str | None) -> Resource:
    """DEFINE_RES_IRQ_NAMED(): an interrupt number as a one-element resource."""
    return DEFINE_RES_NAMED(irq, 1, name, IORESOURCE_IRQ)


def DEFINE_RES_IRQ(irq: int) -> Resource:
    """DEFINE_RES_IRQ()."""
    return DEFINE_RES_IRQ_NAMED(irq, None)
