"""Model of the execution context: preempt_count (include/linux/preempt.h), the current task
and __might_sleep()/__might_resched() of kernel/sched/core.c.

Whether kernel code may sleep depends on where it runs. The kernel keeps that
in one per-CPU word, preempt_count: bits 0-7 count preempt_disable() (each
spin_lock() adds one), bits 8-15 softirq nesting (SOFTIRQ_OFFSET 0x100; a
softirq being served adds one offset, local_bh_disable() two), bits 16-19
hard interrupt nesting (HARDIRQ_OFFSET 0x10000), bit 20 NMI. Separately the
CPU's interrupt flag says whether interrupts are disabled. in_atomic() is
preempt_count != 0; in_interrupt() is any of the irq/softirq/NMI bits.

ExecContext holds that state for the CPU the model currently runs on, plus
the current task (comm, pid) and `current_cpu`, which selects the per-CPU page
lists and which the trace replay sets from a trace's CPU column. Context
managers enter and leave each context (`irq_context()`, `softirq_context()`,
`spin_lock()`, `spin_lock_irqsave()`, `irqs_disabled_context()`,
`on_cpu(cpu)`). `might_sleep()` reports a sleeping call from atomic context as
__might_resched() does: once per call site, in the kernel's words, with the
dump_stack() lines that follow.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, ClassVar

from kmemsim.include.linux.export import EXPORT_SYMBOL
from kmemsim.include.linux.gfp_types import GFP

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

# include/linux/preempt.h
PREEMPT_BITS = 8
SOFTIRQ_BITS = 8
HARDIRQ_BITS = 4
NMI_BITS = 4
PREEMPT_SHIFT = 0
SOFTIRQ_SHIFT = PREEMPT_SHIFT + PREEMPT_BITS
HARDIRQ_SHIFT = SOFTIRQ_SHIFT + SOFTIRQ_BITS
NMI_SHIFT = HARDIRQ_SHIFT + HARDIRQ_BITS
PREEMPT_OFFSET = 1 << PREEMPT_SHIFT
SOFTIRQ_OFFSET = 1 << SOFTIRQ_SHIFT
HARDIRQ_OFFSET = 1 << HARDIRQ_SHIFT
NMI_OFFSET = 1 << NMI_SHIFT
SOFTIRQ_DISABLE_OFFSET = 2 * SOFTIRQ_OFFSET
PREEMPT_MASK = ((1 << PREEMPT_BITS) - 1) << PREEMPT_SHIFT
SOFTIRQ_MASK = ((1 << SOFTIRQ_BITS) - 1) << SOFTIRQ_SHIFT
HARDIRQ_MASK = ((1 << HARDIRQ_BITS) - 1) << HARDIRQ_SHIFT
NMI_MASK = ((1 << NMI_BITS) - 1) << NMI_SHIFT

# The might_sleep_if() inside might_alloc() (include/linux/sched/mm.h, Linux 6.18).
MIGHT_ALLOC_LOCATION = "include/linux/sched/mm.h:321"
UTS_RELEASE = "6.18.44"


def _caller_location() -> str:
    """The "file:line" of the scenario code that called might_sleep() (outside kmemsim)."""
    import os
    import sys

    package_dir = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(package_dir):
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return "kernel/sched/core.c"
    return f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"


class ExecContext:
    """preempt_count, irqs_disabled and the current task of the CPU the model runs on."""

    def __init__(self, k: Kernel, *, comm: str = "swapper/0", pid: int = 0) -> None:
        self.k = k
        self.preempt_count = 0
        self.irqs_disabled = False
        self.rcu_read_lock_nesting = 0
        self.comm = comm
        self.pid = pid
        self.current_cpu = 0
        self.held_locks: list[str] = []
        # Taint letters (kernel/panic.c): 'B' bad page, 'W' warning.
        self.taints: list[str] = []
        # WARN_ON_ONCE() sites that have fired (their __warned flags).
        self.warned_once: set[str] = set()
        # __might_resched() warns once per call site ("prev_jiffy" ratelimit aside).
        self._reported: set[str] = set()

    # ------------------------------------------------------------------ queries
    def in_atomic(self) -> bool:
        """in_atomic(): preempt_count() != 0."""
        return self.preempt_count != 0

    def in_interrupt(self) -> bool:
        """in_interrupt(): in NMI, hard irq, or softirq (served or bh-disabled)."""
        return bool(self.preempt_count & (NMI_MASK | HARDIRQ_MASK | SOFTIRQ_MASK))

    def in_irq(self) -> bool:
        """in_hardirq()."""
        return bool(self.preempt_count & HARDIRQ_MASK)

    def in_softirq(self) -> bool:
        """in_softirq(): serving a softirq or with bottom halves disabled."""
        return bool(self.preempt_count & SOFTIRQ_MASK)

    def in_serving_softirq(self) -> bool:
        return bool(self.preempt_count & SOFTIRQ_OFFSET)

    def in_task(self) -> bool:
        """in_task(): process context."""
        return not (self.preempt_count & (NMI_MASK | HARDIRQ_MASK | SOFTIRQ_OFFSET))

    def may_sleep(self) -> bool:
        """May the code running now sleep (not atomic, interrupts on)?"""
        return self.preempt_count == 0 and not self.irqs_disabled

    @property
    def nr_cpus(self) -> int:
        return self.k.machine.cpus

    def set_task(self, comm: str, pid: int) -> None:
        """Make (comm, pid) the current task: `current->comm` and `current->pid`.

        Every report names the current task as the kernel does: __might_resched()
        ("pid: <pid>, name: <comm>"), warn_alloc() ("<comm>: page allocation
        failure"), bad_page() ("in process <comm>"), WARN ("PID: <pid>") and
        dump_stack() ("PID: <pid> Comm: <comm>"). The model starts as the boot
        task, "swapper/0" PID 0; a scenario (`k.sched.set_task("python3", 4242)`,
        e.g. what `kmemsim run` does for its script) or a replayed trace line
        switches it. An interrupt handler (irq_context()) restores it on exit.
        """
        self.comm = comm
        self.pid = pid

    # ------------------------------------------------------------------ contexts
    @contextlib.contextmanager
    def on_cpu(self, cpu: int) -> Iterator[None]:
        """Run the block on CPU `cpu` (its per-CPU lists and counters)."""
        saved = self.current_cpu
        self.current_cpu = cpu
        try:
            yield
        finally:
            self.current_cpu = saved

    @EXPORT_SYMBOL
    @contextlib.contextmanager
    def irq_context(self) -> Iterator[None]:
        """A hard interrupt handler: irq_enter() ... irq_exit(), interrupts off."""
        saved_irqs = self.irqs_disabled
        saved_task = (self.comm, self.pid)
        self.preempt_count += HARDIRQ_OFFSET
        self.irqs_disabled = True
        try:
            yield
        finally:
            self.preempt_count -= HARDIRQ_OFFSET
            self.irqs_disabled = saved_irqs
            self.comm, self.pid = saved_task

    @contextlib.contextmanager
    def _preempt_count_add(self, offset: int) -> Iterator[None]:
        """preempt_count_add() ... preempt_count_sub() around the block."""
        self.preempt_count += offset
        try:
            yield
        finally:
            self.preempt_count -= offset

    @EXPORT_SYMBOL
    def softirq_context(self) -> contextlib.AbstractContextManager[None]:
        """Serving a softirq or tasklet (__do_softirq): SOFTIRQ_OFFSET, interrupts on."""
        return self._preempt_count_add(SOFTIRQ_OFFSET)

    @EXPORT_SYMBOL
    def local_bh_disable(self) -> contextlib.AbstractContextManager[None]:
        """local_bh_disable() ... local_bh_enable()."""
        return self._preempt_count_add(SOFTIRQ_DISABLE_OFFSET)

    @EXPORT_SYMBOL
    def preempt_disable(self) -> contextlib.AbstractContextManager[None]:
        """preempt_disable() ... preempt_enable()."""
        return self._preempt_count_add(PREEMPT_OFFSET)

    @EXPORT_SYMBOL
    @contextlib.contextmanager
    def spin_lock(self, name: str = "lock") -> Iterator[None]:
        """spin_lock() ... spin_unlock(): preemption disabled while held."""
        self.preempt_count += PREEMPT_OFFSET
        self.held_locks.append(name)
        try:
            yield
        finally:
            self.held_locks.remove(name)
            self.preempt_count -= PREEMPT_OFFSET

    @EXPORT_SYMBOL
    @contextlib.contextmanager
    def spin_lock_irqsave(self, name: str = "lock") -> Iterator[None]:
        """spin_lock_irqsave() ... spin_unlock_irqrestore()."""
        saved = self.irqs_disabled
        self.irqs_disabled = True
        self.preempt_count += PREEMPT_OFFSET
        self.held_locks.append(name)
        try:
            yield
        finally:
            self.held_locks.remove(name)
            self.preempt_count -= PREEMPT_OFFSET
            self.irqs_disabled = saved

    @EXPORT_SYMBOL("local_irq_disable_context", "local_irq_save_context")
    @contextlib.contextmanager
    def irqs_disabled_context(self) -> Iterator[None]:
        """local_irq_save() ... local_irq_restore()."""
        saved = self.irqs_disabled
        self.irqs_disabled = True
        try:
            yield
        finally:
            self.irqs_disabled = saved

    @EXPORT_SYMBOL
    @contextlib.contextmanager
    def rcu_read_lock(self) -> Iterator[None]:
        """rcu_read_lock() ... rcu_read_unlock() (preemptible RCU nesting depth)."""
        self.rcu_read_lock_nesting += 1
        try:
            yield
        finally:
            self.rcu_read_lock_nesting -= 1

    # ------------------------------------------------------------------ might_sleep
    @EXPORT_SYMBOL
    def might_sleep(self, location: str = "", caller: str = "") -> bool:
        """__might_sleep(): report (once per location) a sleep from atomic context.

        Returns True when the context was invalid. `location` is the "file:line"
        the kernel prints; `caller` the function that would sleep, for the trace.
        """
        if self.preempt_count == 0 and not self.irqs_disabled and not self.rcu_read_lock_nesting:
            return False
        where = location or _caller_location()
        if where in self._reported:
            return True
        self._reported.add(where)
        log = self.k.log
        log.pr_err(f"BUG: sleeping function called from invalid context at {where}")
        log.pr_err(
            f"in_atomic(): {int(self.in_atomic())}, irqs_disabled(): {int(self.irqs_disabled)}, "
            f"non_block: 0, pid: {self.pid}, name: {self.comm}"
        )
        log.pr_err(f"preempt_count: {self.preempt_count:x}, expected: 0")
        log.pr_err(f"RCU nest depth: {self.rcu_read_lock_nesting}, expected: 0")
        frames = ["__might_resched", "__might_sleep"]
        if caller:
            frames.append(caller)
        self.dump_stack(frames)
        return True

    def might_alloc(self, gfp: int, caller: str = "") -> None:
        """might_alloc(): might_sleep_if(gfpflags_allow_blocking(gfp))."""
        if gfp & GFP.DIRECT_RECLAIM:
            self.might_sleep(MIGHT_ALLOC_LOCATION, caller)

    # kernel/panic.c taint_flags[], in the order print_tainted() lists them.
    _TAINT_NAMES: ClassVar[dict[str, str]] = {"W": "WARN", "B": "BAD_PAGE", "D": "DIE"}

    def taint(self, flag: str) -> None:
        """add_taint(): remember a taint letter for later reports."""
        if flag not in self.taints:
            self.taints.append(flag)

    def _tainted(self) -> str:
        if not self.taints:
            return "Not tainted"
        return "Tainted: " + "".join(sorted(self.taints, key="PFSRMBUDAWCIOELKXTN".find))

    def dump_stack(self, frames: list[str]) -> None:
        """dump_stack(): the CPU/Comm line, the hardware name and a call trace."""
        log = self.k.log
        log.pr_warn(
            f"CPU: {self.current_cpu} UID: 0 PID: {self.pid} Comm: {self.comm} "
            f"{self._tainted()} {UTS_RELEASE} #1 PREEMPT(voluntary) "
        )
        if self.taints:
            flags = sorted(self.taints, key="PFSRMBUDAWCIOELKXTN".find)
            log.pr_warn(
                "Tainted: " + ", ".join(f"[{t}]={self._TAINT_NAMES.get(t, t)}" for t in flags)
            )
        log.pr_warn(f"Hardware name: {self.k.machine.name}")
        log.pr_warn("Call Trace:")
        context = "<IRQ>" if self.in_irq() else "<TASK>"
        log.pr_warn(f" {context}")
        log.pr_warn(" dump_stack_lvl")
        for frame in frames:
            log.pr_warn(f" {frame}")
        log.pr_warn(f" </{context[1:]}")
