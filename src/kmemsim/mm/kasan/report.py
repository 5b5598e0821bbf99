"""Model of mm/kasan/report.c and report_generic.c: what KASAN prints about a bad access.

kasan_report() (a bad load or store) and kasan_report_invalid_free() (a bad
kfree) print, between two lines of '=', the kernel's report: "BUG: KASAN:
<bug type> in <function>", what was accessed by which task, the stack, the
allocation and free stacks of the object, where the address lies relative
to the object ("The buggy address is located 13 bytes to the right of
allocated 115-byte region [...)"), the page, and the shadow bytes around
the address with a caret under the first bad granule. The bug type of an
access is chosen from the shadow byte of the first bad address as
report_generic.c chooses it (the next byte when that one is a partial
granule); addresses without shadow (below the kernel half) are a NULL
pointer dereference, a user memory access or a wild access.

Only the first report is printed unless the kasan_multi_shot boot parameter
is given; after the report the kernel is tainted B ("Disabling lock
debugging due to kernel taint" the first time), and with kasan.fault=panic
(or panic_on_write for a write) it panics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kmemsim.errors import Oops
from kmemsim.mm.kasan.shadow import (
    KASAN_GLOBAL_REDZONE,
    KASAN_GRANULE_SIZE,
    KASAN_PAGE_FREE,
    KASAN_PAGE_REDZONE,
    KASAN_SLAB_FREE,
    KASAN_SLAB_FREE_META,
    KASAN_SLAB_REDZONE,
    KASAN_VMALLOC_INVALID,
)

if TYPE_CHECKING:
    from kmemsim.mm.kasan import Kasan
    from kmemsim.mm.slab import KmemCache

SEPARATOR = "=" * 66
META_ROWS_AROUND_ADDR = 2
META_BYTES_PER_ROW = 16
META_MEM_BYTES_PER_ROW = META_BYTES_PER_ROW * KASAN_GRANULE_SIZE
# x86_64: kasan_shadow_to_mem(KASAN_SHADOW_START), TASK_SIZE_MAX, PAGE_SIZE.
SHADOW_START_MEM = 0xFFFF800000000000
TASK_SIZE = 0x00007FFFFFFFF000

REPORT_ACCESS, REPORT_INVALID_FREE, REPORT_DOUBLE_FREE = 0, 1, 2


@dataclass
class ReportInfo:
    """struct kasan_report_info."""

    type: int
    access_addr: int
    access_size: int = 0
    is_write: bool = False
    ip: str = ""
    first_bad_addr: int = 0
    bug_type: str = ""
    cache: KmemCache | None = None
    obj: int = 0
    alloc_size: int = 0


def shadow_bug_type(ka: Kasan, addr: int) -> str:
    """report_generic.c get_shadow_bug_type()."""
    v = ka.shadow.byte(addr)
    if 0 < v < KASAN_GRANULE_SIZE:
        v = ka.shadow.byte(addr + KASAN_GRANULE_SIZE)
    if v < KASAN_GRANULE_SIZE:
        return "out-of-bounds"
    if v in (KASAN_PAGE_REDZONE, KASAN_SLAB_REDZONE):
        return "slab-out-of-bounds"
    if v == KASAN_GLOBAL_REDZONE:
        return "global-out-of-bounds"
    if v == KASAN_PAGE_FREE:
        return "use-after-free"
    if v in (KASAN_SLAB_FREE, KASAN_SLAB_FREE_META):
        return "slab-use-after-free"
    if v == KASAN_VMALLOC_INVALID:
        return "vmalloc-out-of-bounds"
    if v in (0xF1, 0xF2, 0xF3, 0xF4):
        return "stack-out-of-bounds"
    if v in (0xCA, 0xCB):
        return "alloca-out-of-bounds"
    return "unknown-crash"


def wild_bug_type(addr: int) -> str:
    """report_generic.c get_wild_bug_type()."""
    if addr < 4096:
        return "null-ptr-deref"
    if addr < TASK_SIZE:
        return "user-memory-access"
    return "wild-memory-access"


def get_bug_type(ka: Kasan, info: ReportInfo) -> str:
    """kasan_get_bug_type(): a size that wraps is out-of-bounds; then shadow or wild."""
    if info.access_addr + info.access_size >= 1 << 64:
        return "out-of-bounds"
    if info.access_addr >= SHADOW_START_MEM:
        return shadow_bug_type(ka, info.first_bad_addr)
    return wild_bug_type(info.access_addr)


def report_enabled(ka: Kasan) -> bool:
    """report_enabled(): every report with kasan_multi_shot, else the first only."""
    if ka.multi_shot:
        return True
    if ka.reported:
        return False
    ka.reported = True
    return True


def complete_report_info(ka: Kasan, info: ReportInfo) -> None:
    """complete_report_info(): the first bad address, the object and its cache."""
    addr = info.access_addr
    has_meta = addr >= SHADOW_START_MEM
    info.first_bad_addr = ka.shadow.first_bad_addr(addr, info.access_size) if has_meta else addr
    slab = ka.addr_to_slab(addr) if has_meta else None
    if slab is not None:
        s = slab.cache
        info.cache = s
        info.obj = ka.nearest_obj(s, slab, addr)
        info.alloc_size = ka.get_alloc_size(info.obj, s) or s.object_size
    if info.type == REPORT_INVALID_FREE:
        info.bug_type = "invalid-free"
    elif info.type == REPORT_DOUBLE_FREE:
        info.bug_type = "double-free"
    else:
        info.bug_type = get_bug_type(ka, info)


def print_report(ka: Kasan, info: ReportInfo) -> None:
    """print_report(): the description, the stack, the object, the shadow around it."""
    k = ka.k
    log = k.log
    sched = k.sched
    log.pr_err(f"BUG: KASAN: {info.bug_type} in {info.ip}")
    if info.type != REPORT_ACCESS:
        log.pr_err(f"Free of addr {info.access_addr:016x} by task {sched.comm}/{sched.pid}")
    else:
        what = "Write" if info.is_write else "Read"
        size = f" of size {info.access_size}" if info.access_size else ""
        log.pr_err(
            f"{what}{size} at addr {info.access_addr & ((1 << 64) - 1):016x} "
            f"by task {sched.comm}/{sched.pid}"
        )
    log.pr_err("")
    sched.dump_stack(["print_report", "kasan_report", *ka.report_stack])
    if info.access_addr < SHADOW_START_MEM:
        return
    log.pr_err("")
    if info.cache is not None:
        describe_object(ka, info)
        log.pr_err("")
    pfn = ka.addr_to_pfn(info.access_addr)
    vm = ka.vmalloc_area(info.access_addr)
    if vm is not None:
        start, end, caller = vm
        log.pr_err("The buggy address belongs to the virtual mapping at")
        log.pr_err(f" [{start:016x}, {end:016x}) created by:")
        log.pr_err(f" {caller}")
        log.pr_err("")
    if pfn is not None:
        from kmemsim.mm.debug import dump_page

        log.pr_err("The buggy address belongs to the physical page:")
        dump_page(k, k.page_alloc.pfn_to_page(pfn), "kasan: bad access detected")
        log.pr_err("")
    print_memory_metadata(ka, info.first_bad_addr)


def print_track(ka: Kasan, prefix: str, pid: int, handle: int) -> None:
    """print_track(): "<prefix> by task <pid>:" and the saved stack."""
    log = ka.k.log
    log.pr_err(f"{prefix} by task {pid}:")
    for frame in ka.depot.fetch(handle):
        log.pr_err(f" {frame}")


def describe_object(ka: Kasan, info: ReportInfo) -> None:
    """describe_object(): the alloc and free stacks, then where the address lies."""
    s = info.cache
    assert s is not None
    log = ka.k.log
    alloc, free, aux = ka.object_tracks(s, info.obj)
    if alloc[1]:
        print_track(ka, "Allocated", *alloc)
        log.pr_err("")
    if free[1]:
        print_track(ka, "Freed", *free)
        log.pr_err("")
    for title, handle in zip(
        (
            "Last potentially related work creation:",
            "Second to last potentially related work creation:",
        ),
        aux,
        strict=True,
    ):
        if handle:
            log.pr_err(title)
            for frame in ka.depot.fetch(handle):
                log.pr_err(f" {frame}")
            log.pr_err("")
    addr, obj = info.access_addr, info.obj
    log.pr_err(f"The buggy address belongs to the object at {obj:016x}")
    log.pr_err(f" which belongs to the cache {s.name} of size {s.object_size}")
    if addr < obj:
        rel_type, rel_bytes = "to the left", obj - addr
    elif addr >= obj + info.alloc_size:
        rel_type, rel_bytes = "to the right", addr - (obj + info.alloc_size)
    else:
        rel_type, rel_bytes = "inside", addr - obj
    state = {"slab-out-of-bounds": "allocated ", "slab-use-after-free": "freed "}.get(
        info.bug_type, ""
    )
    log.pr_err(f"The buggy address is located {rel_bytes} bytes {rel_type} of")
    log.pr_err(f" {state}{info.alloc_size}-byte region [{obj:016x}, {obj + info.alloc_size:016x})")


def print_memory_metadata(ka: Kasan, addr: int) -> None:
    """print_memory_metadata(): five rows of 16 shadow bytes, a caret under `addr`'s."""
    log = ka.k.log
    log.pr_err("Memory state around the buggy address:")
    row = (addr & ~(META_MEM_BYTES_PER_ROW - 1)) - META_ROWS_AROUND_ADDR * META_MEM_BYTES_PER_ROW
    for i in range(-META_ROWS_AROUND_ADDR, META_ROWS_AROUND_ADDR + 1):
        mark = ">" if i == 0 else " "
        shadow = ka.shadow.row(row, META_BYTES_PER_ROW)
        log.pr_err(f"{mark}{row:016x}: " + " ".join(f"{b:02x}" for b in shadow))
        if row <= addr < row + META_MEM_BYTES_PER_ROW:
            # meta_pointer_offset(): the caret under the first hex digit of the granule.
            offset = 3 + 16 + (addr - row) // KASAN_GRANULE_SIZE * 3 + 1
            log.pr_err(" " * (offset - 1) + "^")
        row += META_MEM_BYTES_PER_ROW


def end_report(ka: Kasan, is_write: bool) -> None:
    """end_report(): the closing line, the taint, kasan.fault=panic."""
    k = ka.k
    k.log.pr_err(SEPARATOR)
    fault = ka.fault
    if fault == "panic" or (fault == "panic_on_write" and is_write):
        msg = f"kasan.fault={fault} set ..."
        k.log.pr_emerg(f"Kernel panic - not syncing: {msg}")
        raise Oops(f"Kernel panic - not syncing: {msg}")
    k.sched.taint("B")
    if not ka.taint_warned:
        ka.taint_warned = True
        k.log.pr_warn("Disabling lock debugging due to kernel taint")


def kasan_report(ka: Kasan, addr: int, size: int, is_write: bool, ip: str) -> bool:
    """kasan_report(): report a bad access (once, or every time with kasan_multi_shot)."""
    if ka.in_report or not report_enabled(ka):
        return False
    ka.in_report = True
    try:
        ka.k.log.pr_err(SEPARATOR)
        info = ReportInfo(REPORT_ACCESS, addr, size, is_write, ip)
        complete_report_info(ka, info)
        ka.last_bug_type = info.bug_type
        ka.nr_reports += 1
        print_report(ka, info)
        end_report(ka, is_write)
    finally:
        ka.in_report = False
    return True


def kasan_report_invalid_free(ka: Kasan, ptr: int, ip: str, rtype: int) -> None:
    """kasan_report_invalid_free(): a double or invalid kfree()."""
    if ka.in_report or not report_enabled(ka):
        return
    ka.in_report = True
    try:
        ka.k.log.pr_err(SEPARATOR)
        info = ReportInfo(rtype, ptr, ip=ip)
        complete_report_info(ka, info)
        ka.last_bug_type = info.bug_type
        ka.nr_reports += 1
        print_report(ka, info)
        end_report(ka, False)
    finally:
        ka.in_report = False
