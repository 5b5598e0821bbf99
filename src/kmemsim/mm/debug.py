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
from kmemsim.include.linux.poison import LIST_POISON1, LIST_POISON2
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
    return value & ((1 << k.arch.bits) - 1)


def pfn_ulong(k: Kernel, pfn: int) -> int:
    """The pfn of a wrapped physical address: (phys mod 2**BITS_PER_LONG) >> PAGE_SHIFT."""
    return pfn & ((1 << (k.arch.bits - k.machine.page_shift)) - 1)


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
        LIST_POISON1,  # page->lru, poisoned by list_del()
        LIST_POISON2,
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
    sched = k.sched
    pfn = pfn_ulong(k, page.pfn)
    k.log.printk(f"BUG: Bad page state in process {sched.comm}  pfn:{pfn:05x}", LogLevel.ALERT)
    dump_page(k, page, reason)
    k.log.pr_warn("Modules linked in:")
    sched.dump_stack(_BAD_PAGE_STACKS[caller])
    taint(k, "B")


def taint(k: Kernel, flag: str) -> None:
    """add_taint(): remember a taint letter (shown by later reports)."""
    k.sched.taint(flag)


CUT_HERE = "------------[ cut here ]------------"
END_TRACE = "---[ end trace 0000000000000000 ]---"


def _warn_once_fired(k: Kernel, file: str, function: str) -> bool:
    """Test and set the site's once-flag (BUGFLAG_DONE / the __already_done of DO_ONCE_LITE)."""
    sched = k.sched
    site = f"{file}:{function}"
    if site in sched.warned_once:
        return True
    sched.warned_once.add(site)
    return False


def _warn_body(k: Kernel, file: str, function: str) -> None:
    """__warn(): the WARNING line, the modules, the stack; then taint 'W'."""
    sched = k.sched
    k.log.pr_warn(f"WARNING: CPU: {sched.current_cpu} PID: {sched.pid} at {file} {function}")
    k.log.pr_warn("Modules linked in:")
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


def kernel_page_fault(k: Kernel, addr: int, *, write: bool, frames: list[str]) -> None:
    """A kernel-mode load or store at an address that maps nothing: the oops, then Oops.

    x86 (page_fault_oops() of arch/x86/mm/fault.c, die() of dumpstack.c): "BUG:
    kernel NULL pointer dereference" below PAGE_SIZE, else "BUG: unable to
    handle page fault for address", the #PF access and error-code lines, the
    empty page-table walk, "Oops: Oops: 000N [#1] PREEMPT SMP NOPTI"; a
    non-canonical x86_64 address is a general protection fault instead. ARM
    (__do_kernel_fault() of arch/arm/mm/fault.c): "Unable to handle kernel
    NULL pointer dereference" / "paging request at virtual address", then
    "Internal error: Oops: 805 [#1] SMP ARM". The kernel taints D, the stack
    is dumped and the task dies: kmemsim.errors.Oops is raised. The address
    space of the model (arch/*/mm) reports its own faults; this is for the
    loads the allocators make through a pointer they were handed.
    """
    from kmemsim.errors import Oops

    log = k.log
    arch = k.arch
    page = 1 << k.machine.page_shift
    width = arch.bits // 4
    null = addr < page

    def alert(text: str) -> None:
        log.printk(text, LogLevel.ALERT)

    if arch.name == "arm":
        what = "NULL pointer dereference" if null else "paging request"
        alert("8<--- cut here ---")
        alert(
            f"Unable to handle kernel {what} at virtual address {addr:08x} when "
            f"{'write' if write else 'read'}"
        )
        alert(f"[{addr:08x}] *pgd=00000000")
        fsr = 0x805 if write else 0x5
        log.pr_emerg(f"Internal error: Oops: {fsr:x} [#1] SMP ARM")
    elif arch.bits == 64 and (addr >> 47) not in (0, (1 << 17) - 1):
        log.pr_emerg(
            "Oops: general protection fault, probably for non-canonical address "
            f"{addr:#018x}: 0000 [#1] PREEMPT SMP NOPTI"
        )
    else:
        if null:
            alert(f"BUG: kernel NULL pointer dereference, address: {addr:0{width}x}")
        else:
            alert(f"BUG: unable to handle page fault for address: {addr:0{width}x}")
        access = "write access" if write else "read access"
        alert(f"#PF: supervisor {access} in kernel mode")
        error_code = 0x0002 if write else 0x0000
        alert(f"#PF: error_code({error_code:#06x}) - not-present page")
        log.pr_info("PGD 0 P4D 0 " if arch.bits == 64 else "*pde = 00000000 ")
        log.pr_emerg(
            f"Oops: Oops: {error_code:04x} [#1] PREEMPT SMP{' NOPTI' if arch.bits == 64 else ''}"
        )
    k.sched.dump_stack(frames)
    taint(k, "D")  # oops_end(), after the report
    raise Oops(f"kernel page fault at {addr:#0{width + 2}x} in {frames[0]}")
