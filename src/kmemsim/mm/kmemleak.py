"""Model of mm/kmemleak.c: the kernel memory leak detector (CONFIG_DEBUG_KMEMLEAK).

kmemleak tracks every slab object, large kmalloc, vmalloc area and per-CPU
area (kmemleak_alloc() from the allocators' hooks, with a min_count: how
many references the object needs to count as referenced, 1 for ordinary
allocations), and finds leaks the way a tracing garbage collector finds
garbage. A scan (kmemleak_scan()) colours every object white (count 0),
then scans the roots word by word (the kernel image's .data and .bss, every
CPU's static per-CPU area and, with stack=on, the task's stack) for values
that point at or into an object; each such value raises the object's
count, and an object whose count reaches min_count turns gray and is
scanned in turn. Objects that are gray from the start (min_count 0:
kmemleak_not_leak()) are scanned but never reported; black ones
(kmemleak_ignore()) are neither scanned nor reported; kmemleak_no_scan()
objects are not scanned. What stays white is unreferenced, but is reported
only if its contents did not change since the previous scan (the CRC32
checksum: an object being filled in is given another scan) and it is at
least 5 s old (MSECS_MIN_AGE, in simulated jiffies, before the scan).

The task's stack is the Python stack of the scenario: the integer locals
of its frames (and the integers in lists, tuples, sets and dicts they hold)
are the words a stack scan sees. Objects allocated while the kernel boots
are gray: the model keeps its own references to them in Python, where a
scan cannot see them.

/sys/kernel/debug/kmemleak lists the reported leaks ("unreferenced object
0x... (size N):", comm, pid, jiffies, a hex dump of the first 32 bytes, the
allocation backtrace) and takes the commands off, stack=on|off,
scan=on|off|SECS, scan, clear and dump=ADDR. Without a scan= command the
kmemleak thread scans 60 s after boot and every 600 s (simulated, when the
task sleeps).
"""

from __future__ import annotations

import bisect
import sys
import zlib
from typing import TYPE_CHECKING, Any

from kmemsim.include.linux.export import EXPORT_SYMBOL
from kmemsim.lib import stackdepot
from kmemsim.lib.stackdepot import StackDepot

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

MSECS_MIN_AGE = 5000
SECS_FIRST_SCAN = 60
SECS_SCAN_WAIT = 600
KMEMLEAK_GREY = 0
KMEMLEAK_BLACK = -1
OBJECT_ALLOCATED = 1 << 0
OBJECT_REPORTED = 1 << 1
OBJECT_NO_SCAN = 1 << 2
OBJECT_FULL_SCAN = 1 << 3
OBJECT_PHYS = 1 << 4
OBJECT_PERCPU = 1 << 5
HEX_ROW_SIZE = 16
HEX_MAX_LINES = 2
DEBUGFS = "/sys/kernel/debug/kmemleak"
EINVAL = 22
EPERM = 1


def crc32_le(data: bytes) -> int:
    """The kernel's crc32(0, data, len): crc32_le without the pre/post inversion."""
    return ~zlib.crc32(data, 0xFFFFFFFF) & 0xFFFFFFFF


class KmemleakObject:
    """struct kmemleak_object."""

    __slots__ = (
        "checksum",
        "comm",
        "count",
        "flags",
        "jiffies",
        "min_count",
        "pid",
        "pointer",
        "size",
        "trace_handle",
    )

    def __init__(self, pointer: int, size: int, min_count: int) -> None:
        self.pointer = pointer
        self.size = size
        self.min_count = min_count
        self.count = 0
        self.flags = OBJECT_ALLOCATED
        self.jiffies = 0
        self.comm = ""
        self.pid = 0
        self.trace_handle = 0
        self.checksum = 0

    def color_white(self) -> bool:
        return self.count != KMEMLEAK_BLACK and self.count < self.min_count

    def color_gray(self) -> bool:
        return self.min_count != KMEMLEAK_BLACK and self.count >= self.min_count


class Kmemleak:
    """kmemleak of one kernel: its objects (by start address), the scan state, debugfs."""

    def __init__(self, k: Kernel) -> None:
        self.k = k
        self.enabled = True
        self.booted = False
        self.objects: dict[int, KmemleakObject] = {}
        self.starts: list[int] = []
        self.depot = StackDepot()
        self.stack_scan = True
        self.jiffies_last_scan = 0
        self.scan_thread = bool(k.config["DEBUG_KMEMLEAK_AUTO_SCAN"])
        self.scan_wait_secs = SECS_SCAN_WAIT
        self.next_scan_jiffies = 0
        self.found_leaks = False
        self.in_scan = False

    # ------------------------------------------------------------------ the object tree
    def _lookup(self, ptr: int) -> KmemleakObject | None:
        """lookup_object(ptr, alias=1): the object that `ptr` points at or into."""
        i = bisect.bisect_right(self.starts, ptr) - 1
        if i < 0:
            return None
        obj = self.objects[self.starts[i]]
        if ptr < obj.pointer + max(obj.size, 1):
            return obj
        return None

    def _now(self) -> int:
        return int(self.k.jiffies)

    # ------------------------------------------------------------------ hooks
    @EXPORT_SYMBOL
    def kmemleak_alloc(self, ptr: int, size: int, min_count: int = 1, gfp: int = 0) -> None:
        """kmemleak_alloc(): track a new object (create_object())."""
        if not self.enabled or not ptr:
            return
        if ptr in self.objects:
            self._delete(ptr)
        obj = KmemleakObject(ptr, int(size), min_count if self.booted else KMEMLEAK_GREY)
        sched = self.k.sched
        obj.comm = sched.comm
        obj.pid = int(sched.pid)
        obj.jiffies = self._now()
        obj.trace_handle = self.depot.save_current(2)
        self.objects[ptr] = obj
        bisect.insort(self.starts, ptr)

    def kmemleak_alloc_percpu(self, ptr: int, size: int) -> None:
        """kmemleak_alloc_percpu()."""
        self.kmemleak_alloc(ptr, size, 1)
        obj = self.objects.get(ptr)
        if obj is not None:
            obj.flags |= OBJECT_PERCPU

    def _delete(self, ptr: int) -> None:
        obj = self.objects.pop(ptr, None)
        if obj is not None:
            obj.flags &= ~OBJECT_ALLOCATED
            i = bisect.bisect_left(self.starts, ptr)
            if i < len(self.starts) and self.starts[i] == ptr:
                del self.starts[i]

    @EXPORT_SYMBOL
    def kmemleak_free(self, ptr: int) -> None:
        """kmemleak_free(): the object is gone (delete_object_full())."""
        if self.objects:
            self._delete(ptr)

    def _paint(self, ptr: int, color: int, caller: str) -> None:
        obj = self.objects.get(ptr)
        if obj is None:
            self.k.log.pr_warn(f"kmemleak: Trying to color unknown object at 0x{ptr:x} as {caller}")
            return
        obj.min_count = color

    @EXPORT_SYMBOL
    def kmemleak_not_leak(self, ptr: int) -> None:
        """kmemleak_not_leak(): never report the object, but scan it (gray)."""
        if ptr:
            self._paint(ptr, KMEMLEAK_GREY, "Grey")

    @EXPORT_SYMBOL
    def kmemleak_ignore(self, ptr: int) -> None:
        """kmemleak_ignore(): neither scan nor report the object (black)."""
        if ptr:
            self._paint(ptr, KMEMLEAK_BLACK, "Black")

    @EXPORT_SYMBOL
    def kmemleak_no_scan(self, ptr: int) -> None:
        """kmemleak_no_scan(): do not scan the object's memory for pointers."""
        obj = self.objects.get(ptr)
        if obj is not None:
            obj.flags |= OBJECT_NO_SCAN

    # ------------------------------------------------------------------ scanning
    def _words(self, start: int, end: int) -> list[int]:
        """The pointer-aligned words of [start, end), read from simulated memory."""
        start = (start + 7) & ~7
        if end <= start:
            return []
        data = self._raw(start, (end - start) & ~7)
        if not data.strip(b"\0"):
            return []
        return [w for w in memoryview(data).cast("Q") if w]

    def _scan_words(
        self, words: Any, scanned: KmemleakObject | None, gray: list[KmemleakObject]
    ) -> None:
        """scan_block(): every word that points at or into an object is a reference."""
        if not self.starts:
            return
        lo, hi = self.starts[0], self.starts[-1] + (1 << 22)
        for w in words:
            if w < lo or w >= hi:
                continue
            obj = self._lookup(w)
            if obj is None or obj is scanned:
                continue
            if obj.color_white():
                obj.count += 1
                if obj.color_gray():
                    gray.append(obj)

    def _stack_words(self) -> list[int]:
        """The scenario's stack: integer locals of its Python frames (not the model's)."""
        words: list[int] = []
        frame = sys._getframe(1)
        while frame is not None:
            if not stackdepot.is_model_frame(frame):
                for value in list(frame.f_locals.values()):
                    if isinstance(value, int):
                        words.append(value)
                    elif isinstance(value, list | tuple | set | frozenset):
                        words.extend(v for v in value if isinstance(v, int))
                    elif isinstance(value, dict):
                        words.extend(v for v in value.values() if isinstance(v, int))
            frame = frame.f_back  # type: ignore[assignment]
        return words

    def _roots(self) -> list[tuple[int, int]]:
        from kmemsim.arch.sections import bss_section, bss_used, kernel_sections

        k = self.k
        dm = k.direct_map
        areas: list[tuple[int, int]] = []
        sec = kernel_sections(k)
        bss_start, _ = bss_section(k)
        used = bss_used(k)
        for pstart, pend in ((sec["_sdata"], sec["_edata"]), (bss_start, bss_start + used)):
            if pend > pstart:
                areas.append(
                    (int(dm.phys_to_virt(pstart)), int(dm.phys_to_virt(pstart)) + pend - pstart)
                )
        areas.extend(k.percpu.static_areas())
        return areas

    def _scan_gray(self, gray: list[KmemleakObject]) -> None:
        """scan_gray_list(): scan each gray object; newly gray ones join the list."""
        i = 0
        while i < len(gray):
            obj = gray[i]
            i += 1
            if obj.flags & OBJECT_NO_SCAN or not obj.flags & OBJECT_ALLOCATED:
                continue
            if obj.flags & OBJECT_PERCPU:
                pcpu = self.k.percpu
                for cpu in range(int(self.k.machine.cpus)):
                    start = pcpu.per_cpu_ptr(obj.pointer, cpu)
                    self._scan_words(self._words(start, start + obj.size), obj, gray)
            else:
                self._scan_words(self._words(obj.pointer, obj.pointer + obj.size), obj, gray)

    def _update_checksum(self, obj: KmemleakObject) -> bool:
        """update_checksum(): True when the object's bytes changed since the last scan."""
        old = obj.checksum
        if obj.flags & OBJECT_PERCPU:
            pcpu = self.k.percpu
            crc = 0
            for cpu in range(int(self.k.machine.cpus)):
                start = pcpu.per_cpu_ptr(obj.pointer, cpu)
                crc ^= crc32_le(self._raw(start, obj.size))
            obj.checksum = crc
        else:
            obj.checksum = crc32_le(self._raw(obj.pointer, obj.size))
        return obj.checksum != old

    def _raw(self, addr: int, size: int) -> bytes:
        dm = self.k.direct_map
        if not dm.virt_addr_valid(addr):
            # A vmalloc area: its pages through the page tables (uninstrumented, no KASAN).
            aspace = self.k.address_space
            if not all(aspace.lookup_pte(a) for a in range(addr & ~4095, addr + size, 4096)):
                return b""
            return bytes(aspace.read(addr, size))
        return bytes(self.k.address_space.read(addr, size))

    def unreferenced(self, obj: KmemleakObject) -> bool:
        """unreferenced_object(): white, allocated, and old enough at the last scan."""
        min_age = self.k.msecs_to_jiffies(MSECS_MIN_AGE)
        return (
            obj.color_white()
            and bool(obj.flags & OBJECT_ALLOCATED)
            and obj.jiffies + min_age <= self.jiffies_last_scan
        )

    @EXPORT_SYMBOL
    def kmemleak_scan(self) -> int:
        """kmemleak_scan(): colour, scan the roots and the gray objects, report; new leaks."""
        if not self.enabled or self.in_scan:
            return 0
        self.in_scan = True
        try:
            return self._scan()
        finally:
            self.in_scan = False

    def _scan(self) -> int:
        self.jiffies_last_scan = self._now()
        gray: list[KmemleakObject] = []
        objects = list(self.objects.values())
        for obj in objects:
            obj.count = 0
            if obj.color_gray():
                gray.append(obj)
        for start, end in self._roots():
            self._scan_words(self._words(start, end), None, gray)
        if self.stack_scan:
            self._scan_words(self._stack_words(), None, gray)
        self._scan_gray(gray)
        # Objects that changed since the previous scan get one more chance (gray now).
        gray = []
        for obj in objects:
            if obj.color_white() and obj.flags & OBJECT_ALLOCATED and self._update_checksum(obj):
                obj.count = obj.min_count
                gray.append(obj)
        self._scan_gray(gray)
        new = 0
        for obj in objects:
            if self.unreferenced(obj) and not obj.flags & OBJECT_REPORTED:
                obj.flags |= OBJECT_REPORTED
                new += 1
        if new:
            self.found_leaks = True
            self.k.log.pr_info(
                f"kmemleak: {new} new suspected memory leaks (see /sys/kernel/debug/kmemleak)"
            )
        return new

    def on_sleep(self) -> None:
        """The kmemleak thread: scan when its period has passed (it runs while the task sleeps)."""
        if self.enabled and self.scan_thread and self._now() >= self.next_scan_jiffies:
            self.next_scan_jiffies = self._now() + self.k.msecs_to_jiffies(
                self.scan_wait_secs * 1000
            )
            self.kmemleak_scan()

    # ------------------------------------------------------------------ debugfs
    def print_unreferenced(self, obj: KmemleakObject) -> list[str]:
        """print_unreferenced(): one leak as the debugfs file shows it."""
        out = [
            f"unreferenced object 0x{obj.pointer:08x} (size {obj.size}):",
            f'  comm "{obj.comm}", pid {obj.pid}, jiffies {obj.jiffies}',
        ]
        n = min(obj.size, HEX_MAX_LINES * HEX_ROW_SIZE)
        out.append(f"  hex dump (first {n} bytes):")
        data = self._raw(obj.pointer, n)
        for off in range(0, len(data), HEX_ROW_SIZE):
            row = data[off : off + HEX_ROW_SIZE]
            hexes = " ".join(f"{b:02x}" for b in row)
            text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in row)
            out.append(f"    {hexes:<{HEX_ROW_SIZE * 3 - 1}}  {text}")
        out.append(f"  backtrace (crc {obj.checksum:x}):")
        out.extend(f"    {frame}" for frame in self.depot.fetch(obj.trace_handle))
        return out

    def show(self) -> str:
        """kmemleak_seq_show(): every reported object still unreferenced."""
        lines: list[str] = []
        for ptr in self.starts:
            obj = self.objects[ptr]
            if obj.flags & OBJECT_REPORTED and self.unreferenced(obj):
                lines.extend(self.print_unreferenced(obj))
        return "".join(line + "\n" for line in lines)

    def write(self, text: str) -> int:
        """kmemleak_write(): a command; the bytes taken, or -errno."""
        cmd = text.strip()
        log = self.k.log
        if cmd == "off":
            if self.enabled:
                self.enabled = False
                log.pr_info("kmemleak: Kernel memory leak detector disabled")
            return len(text)
        if not self.enabled:
            return -EPERM
        if cmd == "clear":
            for obj in self.objects.values():
                if obj.flags & OBJECT_REPORTED and self.unreferenced(obj):
                    obj.min_count = KMEMLEAK_GREY
            return len(text)
        if cmd in ("stack=on", "stack=off"):
            self.stack_scan = cmd == "stack=on"
            return len(text)
        if cmd in ("scan=on", "scan=off"):
            self.scan_thread = cmd == "scan=on"
            return len(text)
        if cmd.startswith("scan="):
            try:
                secs = int(cmd[5:], 0)
            except ValueError:
                return -EINVAL
            if secs < 0:
                return -EINVAL
            self.scan_thread = secs != 0
            if secs:
                self.scan_wait_secs = secs
                self.next_scan_jiffies = self._now() + self.k.msecs_to_jiffies(secs * 1000)
            return len(text)
        if cmd == "scan":
            self.kmemleak_scan()
            return len(text)
        if cmd.startswith("dump="):
            try:
                addr = int(cmd[5:], 16)
            except ValueError:
                return -EINVAL
            self.dump_object_info(addr)
            return len(text)
        return -EINVAL

    def dump_object_info(self, addr: int) -> None:
        """dump_str_object_info(): what kmemleak knows of the object at `addr`."""
        log = self.k.log
        obj = self.objects.get(addr)
        if obj is None:
            log.pr_info(f"kmemleak: Unknown object at 0x{addr:08x}")
            return
        log.pr_notice(f"kmemleak: Object 0x{obj.pointer:08x} (size {obj.size}):")
        log.pr_notice(f'kmemleak:   comm "{obj.comm}", pid {obj.pid}, jiffies {obj.jiffies}')
        log.pr_notice(f"kmemleak:   min_count = {obj.min_count}")
        log.pr_notice(f"kmemleak:   count = {obj.count}")
        log.pr_notice(f"kmemleak:   flags = 0x{obj.flags:x}")
        log.pr_notice(f"kmemleak:   checksum = {obj.checksum}")
        log.pr_notice("kmemleak:   backtrace:")
        for frame in self.depot.fetch(obj.trace_handle):
            log.pr_notice(f"    {frame}")


def kmemleak_init(k: Kernel) -> Kmemleak | None:
    """kmemleak_init(): kmemleak of `k` if configured and not kmemleak=off, else None."""
    from kmemsim.include.linux.export import export_symbols

    if not k.config["DEBUG_KMEMLEAK"] or k.config["kmemleak"] == "off":
        k.kmemleak = None
        return None
    kl = Kmemleak(k)
    k.kmemleak = kl
    export_symbols(k, kl)
    return kl


def kmemleak_late_init(k: Kernel) -> None:
    """kmemleak_late_init(): the debugfs file, the scan thread; boot objects stay gray."""
    kl = k.kmemleak
    if kl is None:
        return
    kl.booted = True
    k.fs.create_file(DEBUGFS, kl.show, kl.write)
    k.log.pr_info("kmemleak: Kernel memory leak detector initialized (mem pool available: 16000)")
    if kl.scan_thread:
        k.log.pr_info("kmemleak: Automatic memory scanning thread started")
        kl.next_scan_jiffies = kl._now() + k.msecs_to_jiffies(SECS_FIRST_SCAN * 1000)
