"""Model of mm/highmem.c and include/linux/highmem-internal.h: kmap, kmap_local, kmap_atomic.

On a 32-bit HIGHMEM kernel a page above max_low_pfn has no kernel address
until it is mapped, so page_address() of it is NULL. Three ways map it:

* kmap(page) (may sleep): a slot of the PKMAP pool (LAST_PKMAP pages from
  PKMAP_BASE). map_new_virtual() scans from the last slot used for a free one;
  on wrapping around it first recycles the slots that were kunmap()ed
  (flush_all_zero_pkmaps(): pkmap_count 1 -> 0, PTE cleared). A kmapped page
  has an address (page_address_htable) until its slot is recycled, even after
  kunmap(). When no slot is free the task sleeps until one is: in the model no
  other task will kunmap, so the hung-task detector reports it and the
  scenario stops (KmemsimError). kmap() from atomic context is might_sleep()'s
  bug report. kunmap() of a page that was not kmapped is a BUG().
* kmap_local_page(page): a per-CPU fixmap slot (FIX_KMAP_BEGIN + idx +
  KM_MAX_IDX * cpu), pushed on the task's stack of at most KM_MAX_IDX (16);
  kunmap_local() must undo them in reverse order: unmapping another than the
  last one warns (WARN_ON_ONCE in kunmap_local_indexed) and clears the last one.
* kmap_atomic(page): kmap_local with preemption and page faults off, undone
  by kunmap_atomic().

A lowmem page needs none of this: all three return its direct-map address.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.errors import KmemsimError
from kmemsim.include.linux.export import EXPORT_SYMBOL

if TYPE_CHECKING:
    from kmemsim.include.linux.mm_types import Page
    from kmemsim.init.main import Kernel

KM_MAX_IDX = 16  # include/linux/highmem-internal.h (without DEBUG_KMAP_LOCAL)
# The fixmap slot where the kmap_local slots begin: arch/x86/include/asm/fixmap.h on
# i386 (FIX_HOLE, FIX_DBGP_BASE, FIX_EARLYCON_MEM_BASE, FIX_APIC_BASE, MAX_IO_APICS 64
# FIX_IO_APIC_BASE_* slots), arch/arm/include/asm/fixmap.h (after FIX_EARLYCON_MEM_BASE).
FIX_KMAP_BEGIN = {"i386": 4 + 64, "arm": 1}


class Highmem:
    """The PKMAP pool, page_address_htable and the kmap_local stacks of one kernel."""

    def __init__(self, k: Kernel) -> None:
        self.k = k
        layout = k.vm_layout
        self.page_shift = k.machine.page_shift
        self.pkmap_base = layout.pkmap_base
        self.last_pkmap = layout.last_pkmap
        self.fixaddr_top = layout.fixaddr_top - (4096 if k.machine.arch == "arm" else 0)
        self.fix_kmap_begin = FIX_KMAP_BEGIN.get(k.machine.arch, 0)
        self.pkmap_count = [0] * self.last_pkmap
        self.pkmap_page: list[int] = [-1] * self.last_pkmap  # pfn in each slot
        self.last_pkmap_nr = 0
        self.page_address_htable: dict[int, int] = {}  # pfn -> pkmap address
        # The kmap_local stack of the task on each CPU: (pfn) per pushed slot.
        self.kmap_local: dict[int, list[int]] = {}

    def is_highmem(self, page: Page) -> bool:
        """PageHighMem(): a frame above max_low_pfn."""
        return bool(self.last_pkmap) and page.pfn >= self.k.direct_map.max_low_pfn

    def page_address_high(self, pfn: int) -> int:
        """page_address() of a highmem frame: its kmap() address, or 0."""
        return self.page_address_htable.get(pfn, 0)

    # ------------------------------------------------------------------ kmap / kunmap
    @EXPORT_SYMBOL
    def kmap(self, page: Page) -> int:
        """kmap(): the page's address, mapping a highmem page into the PKMAP pool."""
        self.k.sched.might_sleep("include/linux/highmem-internal.h", "kmap")
        if not self.is_highmem(page):
            return int(self.k.page_address(page))
        return self.kmap_high(page)

    def kmap_high(self, page: Page) -> int:
        """kmap_high(): reuse the page's slot or map it in a new one; count the user."""
        vaddr = self.page_address_htable.get(page.pfn, 0)
        if not vaddr:
            vaddr = self._map_new_virtual(page)
        self.pkmap_count[self._pkmap_nr(vaddr)] += 1
        return vaddr

    def _pkmap_nr(self, vaddr: int) -> int:
        return (vaddr - self.pkmap_base) >> self.page_shift

    def _flush_all_zero_pkmaps(self) -> None:
        """flush_all_zero_pkmaps(): slots kunmap()ed (count 1) become free, unmapped."""
        aspace = self.k.address_space
        for i, count in enumerate(self.pkmap_count):
            if count != 1:
                continue
            self.pkmap_count[i] = 0
            vaddr = self.pkmap_base + (i << self.page_shift)
            aspace.unmap_page(vaddr)
            self.page_address_htable.pop(self.pkmap_page[i], None)
            self.pkmap_page[i] = -1

    def _map_new_virtual(self, page: Page) -> int:
        """map_new_virtual(): the next free slot from last_pkmap_nr on."""
        for _ in range(2):
            for _n in range(self.last_pkmap):
                self.last_pkmap_nr = (self.last_pkmap_nr + 1) % self.last_pkmap
                if not self.last_pkmap_nr:
                    self._flush_all_zero_pkmaps()
                if not self.pkmap_count[self.last_pkmap_nr]:
                    nr = self.last_pkmap_nr
                    vaddr = self.pkmap_base + (nr << self.page_shift)
                    self.k.address_space.map_page(vaddr, page.pfn << self.page_shift)
                    self.pkmap_count[nr] = 1
                    self.pkmap_page[nr] = page.pfn
                    self.page_address_htable[page.pfn] = vaddr
                    return vaddr
        self._hung_task()
        raise AssertionError("unreachable")

    def _hung_task(self) -> None:
        """No slot: the task sleeps on pkmap_map_wait for good; khungtaskd reports it."""
        from kmemsim.kernel.sched.core import UTS_RELEASE

        sched = self.k.sched
        log = self.k.log
        log.pr_err(f"INFO: task {sched.comm}:{sched.pid} blocked for more than 122 seconds.")
        log.pr_err(f"      {sched._tainted()} {UTS_RELEASE} #1")
        log.pr_err('"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.')
        sched.dump_stack(["__schedule", "schedule", "kmap_high", "kmap"])
        raise KmemsimError(
            "kmap(): all LAST_PKMAP slots are in use and nothing will kunmap() one: "
            "the task sleeps forever (kunmap() what you kmap())"
        )

    @EXPORT_SYMBOL
    def kunmap(self, page: Page) -> None:
        """kunmap(): drop one user of the page's PKMAP slot (the slot stays mapped)."""
        if not self.is_highmem(page):
            return
        vaddr = self.page_address_htable.get(page.pfn, 0)
        if not vaddr or self.pkmap_count[self._pkmap_nr(vaddr)] <= 1:
            self._bug("kunmap_high")
        self.pkmap_count[self._pkmap_nr(vaddr)] -= 1

    def _bug(self, func: str) -> None:
        """BUG(): "kernel BUG at mm/highmem.c!" and the kernel dies."""
        from kmemsim.errors import Oops

        log = self.k.log
        log.pr_emerg("------------[ cut here ]------------")
        log.pr_emerg("kernel BUG at mm/highmem.c!")
        if self.k.machine.arch == "arm":
            self.k.address_space.die_counter += 1
            log.pr_emerg(
                f"Internal error: Oops - BUG: 0 [#{self.k.address_space.die_counter}] SMP ARM"
            )
        else:
            from kmemsim.arch.x86.mm.fault import die_body, die_header

            die_header(self.k, "invalid opcode", 0)
            die_body(self.k, [func])
        self.k.sched.taint("D")
        log.pr_warn("---[ end trace 0000000000000000 ]---")
        raise Oops(f"kernel BUG at mm/highmem.c ({func})")

    # ------------------------------------------------------------------ kmap_local
    def _fix_to_virt(self, idx: int) -> int:
        return self.fixaddr_top - (idx << self.page_shift)

    @EXPORT_SYMBOL
    def kmap_local_page(self, page: Page) -> int:
        """kmap_local_page(): a CPU-local mapping, undone by kunmap_local() in reverse order."""
        if not self.is_highmem(page):
            return int(self.k.page_address(page))
        cpu = int(self.k.sched.current_cpu)
        stack = self.kmap_local.setdefault(cpu, [])
        idx = len(stack)
        if idx >= KM_MAX_IDX:
            self._bug("kmap_local_idx_push")
        vaddr = self._fix_to_virt(self.fix_kmap_begin + idx + KM_MAX_IDX * cpu)
        self.k.address_space.map_page(vaddr, page.pfn << self.page_shift)
        stack.append(page.pfn)
        return vaddr

    @EXPORT_SYMBOL
    def kunmap_local(self, vaddr: int) -> None:
        """kunmap_local(): clear the last kmap_local slot, warning if `vaddr` is not it."""
        cpu = int(self.k.sched.current_cpu)
        addr = vaddr & ~((1 << self.page_shift) - 1)
        first = self._fix_to_virt(self.fix_kmap_begin + KM_MAX_IDX * cpu)
        last = self._fix_to_virt(self.fix_kmap_begin + KM_MAX_IDX * (cpu + 1) - 1)
        if not last <= addr <= first:
            if addr < self.k.vm_layout.page_offset:
                from kmemsim.mm.debug import warn

                warn(self.k, "mm/highmem.c", "kunmap_local_indexed")
            return
        stack = self.kmap_local.get(cpu, [])
        if not stack:
            return
        idx = len(stack) - 1
        top = self._fix_to_virt(self.fix_kmap_begin + idx + KM_MAX_IDX * cpu)
        if addr != top:
            from kmemsim.mm.debug import warn

            warn(self.k, "mm/highmem.c", "kunmap_local_indexed")
        self.k.address_space.unmap_page(top)
        stack.pop()

    @EXPORT_SYMBOL
    def kmap_atomic(self, page: Page) -> int:
        """kmap_atomic(): preemption and page faults off, then kmap_local_page()."""
        self.k.sched.preempt_count += 1
        return self.kmap_local_page(page)

    @EXPORT_SYMBOL
    def kunmap_atomic(self, vaddr: int) -> None:
        """kunmap_atomic(): kunmap_local(), then preemption back on."""
        self.kunmap_local(vaddr)
        if self.k.sched.preempt_count > 0:
            self.k.sched.preempt_count -= 1


def kmap_init(k: Kernel) -> None:
    """kmap_init() / permanent_kmaps_init(): the PKMAP pool and the kmap_local slots."""
    from kmemsim.include.linux.export import export_symbols

    k.highmem = Highmem(k)
    export_symbols(k, k.highmem)
