"""Model of include/linux/gfp_types.h and the GFP names of include/trace/events/mmflags.h.

GFP ("get free pages") flags tell an allocator where the memory may come from
(zone modifiers), how mobile it is (placement hints), how deep into the
reserves it may dig (watermark modifiers), whether it may sleep to reclaim
(reclaim modifiers) and what to do with it (action modifiers). The bit values
are those of Linux 6.18 on x86_64 with CONFIG_KASAN_HW_TAGS and CONFIG_LOCKDEP
off, so __GFP_SKIP_ZERO, __GFP_SKIP_KASAN and __GFP_NOLOCKDEP are 0.

The trace name table is __def_gfpflag_names: composite masks first, most bits
first, so that show_gfp_flags() prints "GFP_KERNEL|__GFP_ZERO" rather than
a list of single bits; parse_gfp() reads such a string back.
"""

from __future__ import annotations

import enum
from functools import lru_cache


class GFP(enum.IntFlag):
    """The ___GFP_* bits of include/linux/gfp_types.h (Linux 6.18, x86_64)."""

    DMA = 0x01
    HIGHMEM = 0x02
    DMA32 = 0x04
    MOVABLE = 0x08
    RECLAIMABLE = 0x10
    HIGH = 0x20
    IO = 0x40
    FS = 0x80
    ZERO = 0x100
    # 0x200 is ___GFP_UNUSED_BIT
    DIRECT_RECLAIM = 0x400
    KSWAPD_RECLAIM = 0x800
    WRITE = 0x1000
    NOWARN = 0x2000
    RETRY_MAYFAIL = 0x4000
    NOFAIL = 0x8000
    NORETRY = 0x10000
    MEMALLOC = 0x20000
    COMP = 0x40000
    NOMEMALLOC = 0x80000
    HARDWALL = 0x100000
    THISNODE = 0x200000
    ACCOUNT = 0x400000
    ZEROTAGS = 0x800000
    # Bit 24 with CONFIG_KASAN_HW_TAGS and CONFIG_LOCKDEP off, which give their bits
    # no number; exists with CONFIG_SLAB_OBJ_EXT (memcg, memory allocation profiling).
    NO_OBJ_EXT = 0x1000000


__GFP_DMA = GFP.DMA
__GFP_HIGHMEM = GFP.HIGHMEM
__GFP_DMA32 = GFP.DMA32
__GFP_MOVABLE = GFP.MOVABLE
__GFP_RECLAIMABLE = GFP.RECLAIMABLE
__GFP_HIGH = GFP.HIGH
__GFP_IO = GFP.IO
__GFP_FS = GFP.FS
__GFP_ZERO = GFP.ZERO
__GFP_DIRECT_RECLAIM = GFP.DIRECT_RECLAIM
__GFP_KSWAPD_RECLAIM = GFP.KSWAPD_RECLAIM
__GFP_WRITE = GFP.WRITE
__GFP_NOWARN = GFP.NOWARN
__GFP_RETRY_MAYFAIL = GFP.RETRY_MAYFAIL
__GFP_NOFAIL = GFP.NOFAIL
__GFP_NORETRY = GFP.NORETRY
__GFP_MEMALLOC = GFP.MEMALLOC
__GFP_COMP = GFP.COMP
__GFP_NOMEMALLOC = GFP.NOMEMALLOC
__GFP_HARDWALL = GFP.HARDWALL
__GFP_THISNODE = GFP.THISNODE
__GFP_ACCOUNT = GFP.ACCOUNT
__GFP_ZEROTAGS = GFP.ZEROTAGS
__GFP_NO_OBJ_EXT = GFP.NO_OBJ_EXT
__GFP_SKIP_ZERO = GFP(0)
__GFP_SKIP_KASAN = GFP(0)
__GFP_NOLOCKDEP = GFP(0)
__GFP_RECLAIM = GFP.DIRECT_RECLAIM | GFP.KSWAPD_RECLAIM

GFP_ZONEMASK = GFP.DMA | GFP.HIGHMEM | GFP.DMA32 | GFP.MOVABLE
__GFP_BITS_SHIFT = 26
__GFP_BITS_MASK = (1 << __GFP_BITS_SHIFT) - 1
GFP_MOVABLE_MASK = GFP.RECLAIMABLE | GFP.MOVABLE
GFP_MOVABLE_SHIFT = 3

GFP_ATOMIC = GFP.HIGH | GFP.KSWAPD_RECLAIM
GFP_KERNEL = __GFP_RECLAIM | GFP.IO | GFP.FS
GFP_KERNEL_ACCOUNT = GFP_KERNEL | GFP.ACCOUNT
GFP_NOWAIT = GFP.KSWAPD_RECLAIM | GFP.NOWARN
GFP_NOIO = __GFP_RECLAIM
GFP_NOFS = __GFP_RECLAIM | GFP.IO
GFP_USER = __GFP_RECLAIM | GFP.IO | GFP.FS | GFP.HARDWALL
GFP_DMA = GFP.DMA
GFP_DMA32 = GFP.DMA32
GFP_HIGHUSER = GFP_USER | GFP.HIGHMEM
GFP_HIGHUSER_MOVABLE = GFP_HIGHUSER | GFP.MOVABLE | __GFP_SKIP_KASAN
GFP_TRANSHUGE_LIGHT = (
    GFP_HIGHUSER_MOVABLE | GFP.COMP | GFP.NOMEMALLOC | GFP.NOWARN
) & ~__GFP_RECLAIM
GFP_TRANSHUGE = GFP_TRANSHUGE_LIGHT | GFP.DIRECT_RECLAIM

# Every 6.18 name a kernel prints or a driver writes, name -> value.
GFP_NAMES: dict[str, GFP] = {
    name: value
    for name, value in globals().items()
    if name.startswith(("GFP_", "__GFP_"))
    and name not in ("GFP_ZONEMASK", "GFP_MOVABLE_MASK", "GFP_MOVABLE_SHIFT")
    and not name.startswith("__GFP_BITS")
}

# Names that older kernels' tracepoints print, read by parse_gfp() only; the bits
# that no longer exist read as 0.
_OLD_TRACE_NAMES: dict[str, int] = {
    "GFP_TEMPORARY": GFP_KERNEL | GFP.RECLAIMABLE,
    "GFP_IOFS": GFP.IO | GFP.FS,
    "__GFP_WAIT": GFP.DIRECT_RECLAIM,
    "__GFP_REPEAT": GFP.RETRY_MAYFAIL,
    "__GFP_NO_KSWAPD": 0,
    "__GFP_NOTRACK": 0,
    "__GFP_COLD": 0,
    "__GFP_OTHER_NODE": 0,
    "__GFP_ATOMIC": 0,
    "__GFP_NOACCOUNT": 0,
    "__GFP_NOTRACK_FALSE_POSITIVE": 0,
}

# __def_gfpflag_names: the order in which show_gfp_flags() matches masks.
_TRACE_ORDER: tuple[tuple[str, int], ...] = (
    ("GFP_TRANSHUGE", GFP_TRANSHUGE),
    ("GFP_TRANSHUGE_LIGHT", GFP_TRANSHUGE_LIGHT),
    ("GFP_HIGHUSER_MOVABLE", GFP_HIGHUSER_MOVABLE),
    ("GFP_HIGHUSER", GFP_HIGHUSER),
    ("GFP_USER", GFP_USER),
    ("GFP_KERNEL_ACCOUNT", GFP_KERNEL_ACCOUNT),
    ("GFP_KERNEL", GFP_KERNEL),
    ("GFP_NOFS", GFP_NOFS),
    ("GFP_ATOMIC", GFP_ATOMIC),
    ("GFP_NOIO", GFP_NOIO),
    ("GFP_NOWAIT", GFP_NOWAIT),
    ("GFP_DMA", GFP_DMA),
    ("GFP_DMA32", GFP_DMA32),
    ("__GFP_RECLAIM", __GFP_RECLAIM),
    *((f"__GFP_{bit.name}", int(bit)) for bit in GFP),
)


@lru_cache(maxsize=4096)
def show_gfp_flags(gfp: int) -> str:
    """Format a GFP mask as the kmem tracepoints print it (show_gfp_flags / __print_flags).

    >>> show_gfp_flags(GFP_KERNEL | __GFP_ZERO)
    'GFP_KERNEL|__GFP_ZERO'
    >>> show_gfp_flags(0)
    'none'
    """
    if not gfp:
        return "none"
    parts = []
    rest = int(gfp)
    for name, mask in _TRACE_ORDER:
        if mask and rest & mask == mask:
            parts.append(name)
            rest &= ~mask
    if rest:
        parts.append(f"0x{rest:x}")
    return "|".join(parts)


@lru_cache(maxsize=4096)
def parse_gfp(text: str) -> int:
    """Read a GFP mask as tracepoints print it: "GFP_NOFS|__GFP_ZERO", "0xcc0", or "none".

    Raises ValueError naming the unknown flag.

    >>> parse_gfp("GFP_KERNEL|__GFP_ZERO") == GFP_KERNEL | __GFP_ZERO
    True
    """
    if text in ("none", "0", ""):
        return 0
    value = 0
    for part in text.split("|"):
        flag: int | None = GFP_NAMES.get(part)
        if flag is None:
            flag = _OLD_TRACE_NAMES.get(part)
        if flag is not None:
            value |= flag
        elif part.startswith("0x"):
            value |= int(part, 16)
        else:
            raise ValueError(f"unknown GFP flag {part!r}")
    return value


def format_gfp_mask(gfp: int) -> str:
    """The %pGg form of lib/vsprintf.c, as warn_alloc prints it: "0xcc0(GFP_KERNEL)"."""
    return f"{int(gfp):#x}({show_gfp_flags(gfp)})"
