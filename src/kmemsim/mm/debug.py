"""Model of mm/debug.c (dump_page) and bad_page() of mm/page_alloc.c, with WARN().

When the page allocator finds a page in a state it must not be in (freed
twice, freed with the wrong order), the kernel prints "BUG: Bad page state in
process <comm>  pfn:<pfn>", dumps the struct page (refcount, mapcount,
mapping, index, pfn; the flags with the node and zone encoded in their top
bits; the raw words), says why, lists the modules and the stack, taints the
kernel with 'B' and leaves the page alone. kmemsim prints the same lines and,
as the kernel does, does not touch the free lists for such a page.

Numbers the kernel keeps in an unsigned long are printed as such, never
negative: an address modulo 2**BITS_PER_LONG (ulong()), and a pfn as the
kernel derives it, __pa(addr) >> PAGE_SHIFT with __pa() wrapping modulo
2**BITS_PER_LONG (pfn_ulong()), so the pfn of a bogus pointer below the direct
map (x86_64 __phys_addr(): addr - PAGE_OFFSET) is a large positive number below
2**(BITS_PER_LONG - PAGE_SHIFT), as dump_page()'s "pfn:%#lx" and bad_page()'s
"pfn:%05lx" show it.

WARN() and WARN_ON_ONCE() go through warn(): the "cut here" line (printed by
report_bug() in lib/bug.c, or by __warn_printk() before a WARN()'s message),
the message, "WARNING: CPU: n PID: p at <file> <function>", the modules, the
stack and "---[ end trace 0000000000000000 ]---" (__warn() in
kernel/panic.c). A _ONCE site that has fired prints nothing at all the next
times: report_bug() returns before the cut-here line when the site's
BUGFLAG_DONE is set, and WARN_ONCE()'s DO_ONCE_LITE_IF() never calls WARN().
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.include.linux.mm_types import PG, Page
from kmemsim.kernel.printk import LogLevel

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

# Page flag layout of a 64-bit SPARSEMEM_VMEMMAP kernel without NUMA balancing
# distribution quirks: zone number just below the node bits, LAST_CPUPID below it.
ZONES_PGSHIFT = 51
LAST_CPUPID_PGSHIFT = 30
LAST_CPUPID_MASK = 0x1FFFFF


def ulong(k: Kernel, value: int) -> int:
    """`value` as the kernel's unsigned long holds it (two's complement, BITS_PER_LONG bits)."""
    bits = int(getattr(k.machine, "bits", 64))
    return value & ((1 << bits) - 1)


def pfn_ulong(k: Kernel, pfn: int) -> int:
    """The pfn of a wrapped physical address: (phys mod 2**BITS_PER_LONG) >> PAGE_SHIFT."""
    bits = int(getattr(k.machine, "bits", 64))
    shift = int(getattr(k.machine, "page_shift", 12))
    return pfn & ((1 << (bits - shift)) - 1)


def _zone_index(k: Kernel, pfn: int) -> int:
    pa = k.page_alloc
    zb = pa.page_zone(pfn)
    return zb.idx if zb is not None else 0


def _page_flags_word(k: Kernel, page: Page) -> int:
    zone = _zone_index(k, page.pfn)
    return int(page.flags) | (zone << ZONES_PGSHIFT) | (LAST_CPUPID_MASK << LAST_CPUPID_PGSHIFT)


def format_page_flags(k: Kernel, page: Page) -> str:
    """%pGp: the flags word, then the names of set flags and the node/zone fields."""
    word = _page_flags_word(k, page)
    names = [f.name for f in PG if f.name and page.flags & f]
    fields = [
        *names,
        "node=0",
        f"zone={_zone_index(k, page.pfn)}",
        f"lastcpupid={LAST_CPUPID_MASK:#x}",
    ]
    return f"{word:#x}({'|'.join(fields)})"


# enum pagetype (include/linux/page-flags.h): the top byte of page_type.
PGTY_BUDDY = 0xF0


def _is_buddy(k: Kernel, pfn: int) -> bool:
    """PageBuddy(): the first frame of a free block on the buddy lists."""
    zb = k.page_alloc.page_zone(pfn)
    return zb is not None and zb.free_block_order(pfn) >= 0


def dump_page(k: Kernel, page: Page, reason: str) -> None:
    """dump_page(): the struct page, then "page dumped because: <reason>"."""
    log = k.log
    log.pr_warn(
        f"page: refcount:{page.refcount} mapcount:0 mapping:0000000000000000 "
        f"index:0x0 pfn:{pfn_ulong(k, page.pfn):#x}"
    )
    if page.flags & PG.head:
        log.pr_warn(
            f"head: order:{page.order} mapcount:0 entire_mapcount:0 nr_pages_mapped:0 pincount:0"
        )
    log.pr_warn(f"flags: {format_page_flags(k, page)}")
    if _is_buddy(k, page.pfn):
        log.pr_warn(f"page_type: {PGTY_BUDDY:x}(buddy)")
    word = _page_flags_word(k, page)
    raw = [
        word,
        0xDEAD000000000100,
        0xDEAD000000000122,
        0,
        0,
        0,
        (page.refcount & 0xFFFFFFFF) << 32 | 0xFFFFFFFF,
        0,
    ]
    log.pr_warn("raw: " + " ".join(f"{w:016x}" for w in raw[:4]))
    log.pr_warn("raw: " + " ".join(f"{w:016x}" for w in raw[4:]))
    log.pr_warn(f"page dumped because: {reason}")


# The callers of bad_page() in the stack it dumps: on the free path
# (free_pages_prepare() inlined in __free_frozen_pages()) or on allocation.
_BAD_PAGE_STACKS = {
    "free": ["bad_page", "free_frozen_pages", "__free_pages"],
    "check_new_pages": [
        "bad_page",
        "check_new_pages",
        "get_page_from_freelist",
        "__alloc_frozen_pages_noprof",
        "alloc_pages_noprof",
    ],
}


def bad_page(k: Kernel, page: Page, reason: str, caller: str = "free") -> None:
    """bad_page(): report a page in a bad state and taint the kernel ('B').

    `caller` picks the stack: "free" (free_pages_prepare()) or
    "check_new_pages" (an allocation finding a frame that is not clean).
    """
    sched = getattr(k, "sched", None)
    comm = sched.comm if sched is not None else "swapper/0"
    pfn = pfn_ulong(k, page.pfn)
    k.log.printk(f"BUG: Bad page state in process {comm}  pfn:{pfn:05x}", LogLevel.ALERT)
    dump_page(k, page, reason)
    k.log.pr_warn("Modules linked in:")
    if sched is not None:
        sched.dump_stack(_BAD_PAGE_STACKS[caller])
    taint(k, "B")


def taint(k: Kernel, flag: str) -> None:
    """add_taint(): remember a taint letter (shown by later reports)."""
    sched = getattr(k, "sched", None)
    if sched is not None:
        sched.taint(flag)


CUT_HERE = "------------[ cut here ]------------"
END_TRACE = "---[ end trace 0000000000000000 ]---"


def _warn_once_fired(k: Kernel, file: str, function: str) -> bool:
    """Test and set the site's once-flag (BUGFLAG_DONE / the __already_done of DO_ONCE_LITE)."""
    sched = getattr(k, "sched", None)
    if sched is None:
        return False
    site = f"{file}:{function}"
    if site in sched.warned_once:
        return True
    sched.warned_once.add(site)
    return False


def _warn_body(k: Kernel, file: str, function: str) -> None:
    """__warn(): the WARNING line, the modules, the stack; then taint 'W'."""
    sched = getattr(k, "sched", None)
    cpu = sched.current_cpu if sched is not None else 0
    pid = sched.pid if sched is not None else 0
    k.log.pr_warn(f"WARNING: CPU: {cpu} PID: {pid} at {file} {function}")
    k.log.pr_warn("Modules linked in:")
    if sched is not None:
        sched.dump_stack([function])


def warn(k: Kernel, file: str, function: str, message: str = "", *, once: bool = True) -> bool:
    """WARN_ON_ONCE() / WARN_ONCE(): the whole report, or nothing once the site has fired.

    Prints the cut-here line, `message` (a WARN()'s format, printed by
    __warn_printk() before the trap), the WARNING line with the stack, and
    the end-trace marker, then taints the kernel 'W' (__warn() adds the taint
    after printing). With `once` (the _ONCE variants) a second call at the
    same file and function prints nothing. Returns whether it printed.
    The kernel prints the line number of the WARN as well; kmemsim names the
    file and the function that warns.
    """
    if once and _warn_once_fired(k, file, function):
        return False
    log = k.log
    log.pr_warn(CUT_HERE)
    if message:
        log.pr_warn(message)
    _warn_body(k, file, function)
    log.pr_warn(END_TRACE)
    taint(k, "W")
    return True


def warn_on(k: Kernel, file: str, function: str) -> bool:
    """The middle of a WARN_ON_ONCE() report, once per site, for callers that print the
    cut-here and end-trace lines themselves; returns whether it printed.

    Such a caller prints its framing lines even when the site has already
    fired, which the kernel never does: use warn(), which prints all of the
    report or none of it.
    """
    if _warn_once_fired(k, file, function):
        return False
    _warn_body(k, file, function)
    taint(k, "W")
    return True
