"""Model of mm/kfence/core.c and report.c: KFENCE, the sampling memory-safety detector.

KFENCE sets aside a pool of (CONFIG_KFENCE_NUM_OBJECTS + 1) * 2 pages: two
guard pages first, then for each object a data page followed by a guard
page. Once per kfence.sample_interval milliseconds (of simulated time) the
allocation gate opens and the next eligible slab allocation (at most a page,
not from a DMA cache or zone) is served from the pool instead of its cache:
the object sits at the left or the right edge of its page (chosen at
random), the rest of the page is filled with canary bytes (0xaa ^ (addr &
7)). An access that reaches a guard page, or the page of a freed object,
faults, and the fault handler reports an out-of-bounds or use-after-free
access and lets it proceed (the page stays unprotected); the canary is
checked when the object is freed ("memory corruption"); freeing anything but
a live object's start is an invalid free. Objects freed go to the tail of
the pool's freelist, so a freed object keeps its page protected as long as
possible.

Only a sample of the allocations is guarded: KFENCE costs next to nothing
and misses whatever it did not sample, and bytes between the object and
the page edge (the canary) are checked only at free. In kmemsim the
"protection" is checked on the address space's loads and stores of the pool.

Reports are the kernel's ("BUG: KFENCE: out-of-bounds read in FUNC", "Out-of-
bounds read at 0x... (32B right of kfence-#17):", the stack, the object with
its allocation and free stacks and times); /sys/kernel/debug/kfence/stats and
objects are generated from the pool.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from kmemsim.include.linux.export import EXPORT_SYMBOL
from kmemsim.lib import stackdepot
from kmemsim.mm.slab import SlabHooks

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

PAGE_SIZE = 4096
UNUSED, ALLOCATED, RCU_FREEING, FREED = 0, 1, 2, 3
OOB, UAF, CORRUPTION, INVALID, INVALID_FREE = range(5)
SEPARATOR = "=" * 66
COUNTER_NAMES = (
    "currently allocated",
    "total allocations",
    "total frees",
    "zombie allocations",
    "total bugs",
    "skipped allocations (incompatible)",
    "skipped allocations (capacity)",
    "skipped allocations (covered)",
)
(
    C_ALLOCATED,
    C_ALLOCS,
    C_FREES,
    C_ZOMBIES,
    C_BUGS,
    C_SKIP_INCOMPAT,
    C_SKIP_CAPACITY,
    C_SKIP_COVERED,
) = range(8)
# GFP_ZONEMASK: __GFP_DMA | __GFP_HIGHMEM | __GFP_DMA32 | __GFP_MOVABLE
GFP_ZONEMASK = 0x0F
_GFP_THISNODE = 0x40000


def canary(addr: int) -> int:
    """KFENCE_CANARY_PATTERN_U8(addr)."""
    return 0xAA ^ (addr & 7)


class Track:
    """struct kfence_track: who, where and when."""

    __slots__ = ("cpu", "pid", "stack", "ts_nsec")

    def __init__(self, pid: int = 0, cpu: int = 0, ts_nsec: int = 0, stack: tuple[str, ...] = ()):
        self.pid = pid
        self.cpu = cpu
        self.ts_nsec = ts_nsec
        self.stack = stack


class Meta:
    """struct kfence_metadata of one pool object."""

    __slots__ = (
        "addr",
        "alloc_track",
        "cache",
        "free_track",
        "index",
        "size",
        "slab",
        "state",
        "unprotected_page",
    )

    def __init__(self, index: int, addr: int) -> None:
        self.index = index
        self.addr = addr
        self.size = 0
        self.cache: Any = None
        self.state = UNUSED
        self.alloc_track = Track()
        self.free_track = Track()
        self.unprotected_page = 0
        self.slab: Any = None


class Kfence:
    """KFENCE of one kernel: the pool, its metadata and freelist, the gate, the counters."""

    def __init__(self, k: Kernel) -> None:
        self.k = k
        cfg = k.config
        self.num_objects = int(cfg["KFENCE_NUM_OBJECTS"])
        self.sample_interval = int(cfg["kfence.sample_interval"])
        self.pool_size = (self.num_objects + 1) * 2 * PAGE_SIZE
        self.enabled = False
        self.start = 0
        self.end = 0
        self.metadata: list[Meta] = []
        self.freelist: list[Meta] = []
        self.protected: set[int] = set()  # page addresses that fault
        self.counters = [0] * len(COUNTER_NAMES)
        self.next_gate = 0  # jiffies at which toggle_allocation_gate() opens the gate
        self._rng = random.Random(0xFE1CE)
        self.in_report = False

    # ------------------------------------------------------------------ init
    def init_pool(self) -> bool:
        """kfence_init(): the pool from the page allocator, guards protected, freelist built."""
        k = self.k
        order = max(0, (self.pool_size - 1) >> 12).bit_length()
        page = k.page_alloc.alloc_pages(0xCC0, order)  # the kernel takes it from memblock
        if page is None:
            return False
        page.owner = "kfence"
        self.start = int(k.page_alloc.page_address(page))
        self.end = self.start + self.pool_size
        self.protected = {self.start, self.start + PAGE_SIZE}
        addr = self.start + 2 * PAGE_SIZE
        for i in range(self.num_objects):
            meta = Meta(i, addr)
            self.metadata.append(meta)
            self.freelist.append(meta)
            self.protected.add(addr + PAGE_SIZE)  # the right redzone
            addr += 2 * PAGE_SIZE
        self.enabled = self.sample_interval > 0
        self.next_gate = self._gate_after_interval()
        k.log.pr_info(
            f"kfence: initialized - using {self.pool_size} bytes for {self.num_objects} objects "
            f"at 0x{self.start:016x}-0x{self.end:016x}"
        )
        return True

    def _gate_after_interval(self) -> int:
        """queue_delayed_work(..., msecs_to_jiffies(kfence_sample_interval))."""
        return int(self.k.jiffies) + int(self.k.msecs_to_jiffies(self.sample_interval))

    @EXPORT_SYMBOL
    def is_kfence_address(self, addr: int) -> bool:
        """is_kfence_address(): inside the pool."""
        return self.start <= addr < self.end

    def addr_to_metadata(self, addr: int) -> Meta | None:
        """addr_to_metadata(): the object whose data page holds `addr`."""
        if not self.start <= addr < self.end:
            return None
        index = (addr - self.start) // (PAGE_SIZE * 2) - 1
        if 0 <= index < self.num_objects:
            return self.metadata[index]
        return None

    # ------------------------------------------------------------------ allocation
    def _track(self) -> Track:
        """The current task, CPU, time and stack, the allocator's entry point left out."""
        sched = self.k.sched
        stack = stackdepot.capture(3)[1:]
        return Track(int(sched.pid), int(sched.current_cpu), int(self.k.clock.ns), stack)

    def kfence_alloc(self, s: Any, size: int, gfp: int) -> int:
        """kfence_alloc(): a pool object for this allocation if the gate is open, else 0."""
        if not self.enabled or int(self.k.jiffies) < self.next_gate:
            return 0
        if size > PAGE_SIZE:
            self.counters[C_SKIP_INCOMPAT] += 1
            return 0
        from kmemsim.include.linux.slab import SLAB_CACHE_DMA, SLAB_CACHE_DMA32

        if gfp & GFP_ZONEMASK or s.flags & (SLAB_CACHE_DMA | SLAB_CACHE_DMA32):
            self.counters[C_SKIP_INCOMPAT] += 1
            return 0
        # The gate closes with this allocation; the timer reopens it an interval later.
        self.next_gate = self._gate_after_interval()
        if not self.freelist:
            self.counters[C_SKIP_CAPACITY] += 1
            return 0
        meta = self.freelist.pop(0)
        page = self.start + (meta.index + 1) * 2 * PAGE_SIZE
        self.protected.discard(page)  # kfence_unprotect() of a freed object's page
        addr = page
        if self._rng.getrandbits(1):
            # The right edge of the page, aligned down to the cache's alignment.
            addr = (page + PAGE_SIZE - size) & ~(max(int(s.align), 1) - 1)
        meta.addr = addr
        meta.size = size
        meta.cache = s
        meta.state = ALLOCATED
        meta.alloc_track = self._track()
        meta.free_track = Track()
        self._set_canary(meta)
        self._register_slab(meta)
        if gfp & 0x100:  # __GFP_ZERO (slab_want_init_on_alloc())
            self._raw_fill(addr, 0, size)
        if s.ctor is not None:
            s.ctor(addr)
        self.counters[C_ALLOCATED] += 1
        self.counters[C_ALLOCS] += 1
        return addr

    def _register_slab(self, meta: Meta) -> None:
        """The struct slab of a KFENCE page: one object of the cache (virt_to_slab() finds it)."""
        from kmemsim.mm.slab import Slab

        k = self.k
        page_addr = meta.addr & ~(PAGE_SIZE - 1)
        pfn = k.virt_to_phys(page_addr) >> 12
        pg = k.page_alloc.pfn_to_page(pfn)
        slab = Slab(meta.cache, pg, pfn, page_addr, 0, 1)
        slab.inuse = 1
        slab.frozen = True  # on no list: never the CPU slab, never on a partial list
        meta.slab = slab
        k.slab.slab_of_pfn[pfn] = slab

    def _raw_read(self, addr: int, n: int) -> bytes:
        return bytes(self.k.address_space.read(addr, n))

    def _raw_fill(self, addr: int, byte: int, n: int) -> None:
        if n > 0:
            self.k.address_space.fill(addr, byte, n)

    def _set_canary(self, meta: Meta) -> None:
        """set_canary(): the page around the object filled with the canary pattern."""
        page = meta.addr & ~(PAGE_SIZE - 1)
        left = bytes(canary(a) for a in range(page, meta.addr))
        right = bytes(canary(a) for a in range(meta.addr + meta.size, page + PAGE_SIZE))
        aspace = self.k.address_space
        aspace.write(page, left)
        aspace.write(meta.addr + meta.size, right)

    # ------------------------------------------------------------------ free
    def kfence_free(self, addr: int) -> bool:
        """kfence_free(): True when `addr` is in the pool (and KFENCE dealt with it)."""
        if not self.start <= addr < self.end:
            return False
        meta = self.addr_to_metadata(addr)
        if meta is None or meta.state != ALLOCATED or meta.addr != addr:
            self.counters[C_BUGS] += 1
            self.report(addr, False, meta, INVALID_FREE)
            return True
        from kmemsim.include.linux.slab import SLAB_TYPESAFE_BY_RCU

        if meta.cache is not None and meta.cache.flags & SLAB_TYPESAFE_BY_RCU:
            # Readers may still look at it until a grace period ends (rcu_guarded_free()).
            meta.state = RCU_FREEING
            meta.free_track = self._track()
            rcu = self.k.rcu
            assert rcu is not None, "kfence_guarded_free() before rcu_init()"
            rcu.queue(addr, lambda _a: self._guarded_free(meta))
            return True
        meta.free_track = self._track()
        self._guarded_free(meta)
        return True

    def _guarded_free(self, meta: Meta) -> None:
        """kfence_guarded_free(): canary check, page protected, object to the freelist tail."""
        if meta.unprotected_page:
            page = meta.unprotected_page & ~(PAGE_SIZE - 1)
            self._raw_fill(page, 0, PAGE_SIZE)
            self.protected.add(page)
            meta.unprotected_page = 0
        meta.state = FREED
        self._check_canary(meta)
        self.protected.add(meta.addr & ~(PAGE_SIZE - 1))
        self.freelist.append(meta)
        self.counters[C_ALLOCATED] -= 1
        self.counters[C_FREES] += 1

    def _check_canary(self, meta: Meta) -> None:
        """check_canary(): report the first corrupted canary byte on each side."""
        page = meta.addr & ~(PAGE_SIZE - 1)
        left = self._raw_read(page, meta.addr - page)
        for i, b in enumerate(left):
            if b != canary(page + i):
                self._corruption(page + i, meta)
                break
        start = meta.addr + meta.size
        right = self._raw_read(start, page + PAGE_SIZE - start)
        for i, b in enumerate(right):
            if b != canary(start + i):
                self._corruption(start + i, meta)
                break

    def _corruption(self, addr: int, meta: Meta) -> None:
        self.counters[C_BUGS] += 1
        self.report(addr, False, meta, CORRUPTION)

    # ------------------------------------------------------------------ faults
    def check_access(self, addr: int, size: int, write: bool) -> None:
        """A load or store of [addr, addr + size) in the pool: fault on a protected page."""
        if self.in_report or size <= 0:
            return
        end = min(addr + size, self.end)
        page = max(addr, self.start) & ~(PAGE_SIZE - 1)
        while page < end:
            if page in self.protected:
                self.handle_page_fault(max(addr, page), write)
            page += PAGE_SIZE

    def handle_page_fault(self, addr: int, write: bool) -> bool:
        """kfence_handle_page_fault(): report, unprotect the page, let the access proceed."""
        if not self.start <= addr < self.end:
            return False
        page_index = (addr - self.start) // PAGE_SIZE
        self.counters[C_BUGS] += 1
        to_report: Meta | None = None
        if page_index % 2:
            distance = 0
            meta = self.addr_to_metadata(addr - PAGE_SIZE)
            if meta is not None and meta.state in (ALLOCATED, RCU_FREEING):
                to_report = meta
                distance = addr - (meta.addr + meta.size)
            meta = self.addr_to_metadata(addr + PAGE_SIZE)
            if (
                meta is not None
                and meta.state in (ALLOCATED, RCU_FREEING)
                and (to_report is None or distance > meta.addr - addr)
            ):
                to_report = meta
            if to_report is not None:
                to_report.unprotected_page = addr
                self.report(addr, write, to_report, OOB)
        else:
            to_report = self.addr_to_metadata(addr)
            if to_report is not None:
                self.report(addr, write, to_report, UAF)
        if to_report is None:
            self.report(addr, write, None, INVALID)
        self.protected.discard(addr & ~(PAGE_SIZE - 1))
        return True

    # ------------------------------------------------------------------ reports
    def print_stack(self, out: list[str], meta: Meta, show_alloc: bool) -> None:
        """kfence_print_stack()."""
        track = meta.alloc_track if show_alloc else meta.free_track
        now = int(self.k.clock.ns)
        ts, ago = track.ts_nsec, max(now - track.ts_nsec, 0)
        what = "allocated" if show_alloc else "freed"
        if not show_alloc and meta.state == RCU_FREEING:
            what = "rcu freed"
        out.append(
            f"{what} by task {track.pid} on cpu {track.cpu} at {_secs(ts)}s ({_secs(ago)}s ago):"
        )
        if track.stack:
            out.extend(f" {frame}" for frame in track.stack)
        else:
            out.append(f"  no {'allocation' if show_alloc else 'deallocation'} stack")

    def print_object(self, out: list[str], meta: Meta) -> None:
        """kfence_print_object()."""
        if meta.state == UNUSED:
            out.append(f"kfence-#{meta.index} unused")
            return
        name = meta.cache.name if meta.cache is not None else "<destroyed>"
        out.append(
            f"kfence-#{meta.index}: 0x{meta.addr:016x}-0x{meta.addr + meta.size - 1:016x}, "
            f"size={meta.size}, cache={name}"
        )
        out.append("")
        self.print_stack(out, meta, True)
        if meta.state in (FREED, RCU_FREEING):
            out.append("")
            self.print_stack(out, meta, False)

    def report(self, addr: int, write: bool, meta: Meta | None, etype: int) -> None:
        """kfence_report_error()."""
        k = self.k
        log = k.log
        self.in_report = True
        try:
            stack = list(stackdepot.capture(2))
            func = _report_func(stack)
            access = "write" if write else "read"
            log.pr_err(SEPARATOR)
            if etype == OOB and meta is not None:
                left = addr < meta.addr
                dist = meta.addr - addr if left else addr - (meta.addr + meta.size)
                log.pr_err(f"BUG: KFENCE: out-of-bounds {access} in {func}")
                log.pr_err("")
                log.pr_err(
                    f"Out-of-bounds {access} at 0x{addr:016x} ({dist}B "
                    f"{'left' if left else 'right'} of kfence-#{meta.index}):"
                )
            elif etype == UAF and meta is not None:
                log.pr_err(f"BUG: KFENCE: use-after-free {access} in {func}")
                log.pr_err("")
                log.pr_err(f"Use-after-free {access} at 0x{addr:016x} (in kfence-#{meta.index}):")
            elif etype == CORRUPTION and meta is not None:
                log.pr_err(f"BUG: KFENCE: memory corruption in {func}")
                log.pr_err("")
                log.pr_err(
                    f"Corrupted memory at 0x{addr:016x} {self._diff_canary(addr, meta)} "
                    f"(in kfence-#{meta.index}):"
                )
            elif etype == INVALID_FREE:
                log.pr_err(f"BUG: KFENCE: invalid free in {func}")
                log.pr_err("")
                idx = f" (in kfence-#{meta.index})" if meta is not None else ""
                log.pr_err(f"Invalid free of 0x{addr:016x}{idx}:")
            else:
                log.pr_err(f"BUG: KFENCE: invalid {access} in {func}")
                log.pr_err("")
                log.pr_err(f"Invalid {access} at 0x{addr:016x}:")
            for frame in stack:
                log.pr_err(f" {frame}")
            if meta is not None:
                log.pr_err("")
                out: list[str] = []
                self.print_object(out, meta)
                for line in out:
                    log.pr_err(line)
            log.pr_err("")
            from kmemsim.kernel.sched.core import UTS_RELEASE

            sched = k.sched
            log.pr_err(
                f"CPU: {sched.current_cpu} UID: 0 PID: {sched.pid} Comm: {sched.comm} "
                f"{sched._tainted()} {UTS_RELEASE} #1 PREEMPT(voluntary) "
            )
            log.pr_err(f"Hardware name: {self.k.machine.name}")
            log.pr_err(SEPARATOR)
            sched.taint("B")
        finally:
            self.in_report = False

    def _diff_canary(self, addr: int, meta: Meta) -> str:
        """print_diff_canary(): 16 bytes from `addr`, '.' where the canary is intact."""
        page_end = (addr & ~(PAGE_SIZE - 1)) + PAGE_SIZE
        end = min(addr + 16, meta.addr) if addr < meta.addr else min(addr + 16, page_end)
        data = self._raw_read(addr, max(end - addr, 0))
        marks = ["." if b == canary(addr + i) else "!" for i, b in enumerate(data)]
        return "[ " + " ".join(marks) + " ]"

    # ------------------------------------------------------------------ debugfs
    def stats(self) -> str:
        """/sys/kernel/debug/kfence/stats."""
        lines = [f"enabled: {int(self.enabled)}"]
        lines += [f"{name}: {n}" for name, n in zip(COUNTER_NAMES, self.counters, strict=True)]
        return "".join(line + "\n" for line in lines)

    def objects(self) -> str:
        """/sys/kernel/debug/kfence/objects."""
        out: list[str] = []
        for meta in self.metadata:
            self.print_object(out, meta)
            out.append("---------------------------------")
        return "".join(line + "\n" for line in out)

    def ksize(self, addr: int) -> int:
        """kfence_ksize()."""
        meta = self.addr_to_metadata(addr)
        return meta.size if meta is not None and meta.state == ALLOCATED else 0


# The address space's accessors stand for a plain load or store: the fault is in
# the function that made it. A free is reported in the caller of kfree() and
# friends (get_stack_skipnr() skips the allocator's entry points).
_SKIPPED_ENTRIES = ("read", "write", "read_ulong", "write_ulong", "kfree", "kmem_cache_free")


def _secs(ns: int) -> str:
    """A time as printk stamps it: seconds and microseconds."""
    return f"{ns // 10**9}.{ns % 10**9 // 1000:06d}"


def _report_func(stack: list[str]) -> str:
    """The function a report is "in"; drops the skipped entry point from `stack` too."""
    if (stack and stack[0].split("+", 1)[0] in _SKIPPED_ENTRIES) or (
        stack and stack[0].split("+", 1)[0].startswith(("kfree", "kmem_cache_free", "krealloc"))
    ):
        del stack[0]
    return stack[0] if stack else "0x0"


class KfenceSlabHooks(SlabHooks):
    """The kfence_* calls of mm/slub.c: kfence_alloc() before the fast path, kfence_free()."""

    def __init__(self, kfence: Kfence) -> None:
        self.kfence = kfence

    def kfence_alloc(self, s: Any, size: int, gfp: int) -> int:
        return self.kfence.kfence_alloc(s, size, gfp)

    def slab_free(self, s: Any, slab: Any, obj: int, after_rcu_delay: bool) -> bool:
        kf = self.kfence
        if kf.start <= obj < kf.end:
            if not after_rcu_delay:  # (KASAN's SLUB_RCU_DEBUG delay: KFENCE has its own)
                kf.kfence_free(obj)  # __slab_free(): KFENCE takes its objects back
            return True
        return False


def kfence_init(k: Kernel) -> Kfence | None:
    """kfence_alloc_pool_and_metadata() + kfence_init(): KFENCE of `k` if configured."""
    from kmemsim.include.linux.export import export_symbols

    if not k.config["KFENCE"]:
        k.kfence = None
        return None
    kf = Kfence(k)
    if not kf.init_pool():
        k.kfence = None
        return None
    k.kfence = kf
    export_symbols(k, kf)
    # The slab allocator's kfence_alloc() / kfence_free() hook points.
    k.slab.attach_hooks(KfenceSlabHooks(kf))
    k.fs.create_file("/sys/kernel/debug/kfence/stats", kf.stats)
    k.fs.create_file("/sys/kernel/debug/kfence/objects", kf.objects)
    return kf
