"""Model of kernel/time/sleep_timeout.c: msleep() and friends on the simulated clock.

msleep(ms) sleeps for at least `ms` milliseconds: schedule_timeout() of
msecs_to_jiffies(ms) ticks (6.13 dropped the historical extra tick; the timer
wheel already never expires early), so msleep(1) at HZ=250 sleeps one tick,
4 ms. Here the clock moves to the tick the sleeper wakes at, running the
timers and background work due on the way. Sleeping needs a context that may
schedule: from atomic context schedule_debug() reports "BUG: scheduling while
atomic: comm/pid/0x%08x" (the preempt count includes __schedule()'s own
preempt_disable()) and taints the kernel W, and the sleep happens anyway.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.include.linux.export import EXPORT_SYMBOL
from kmemsim.kernel.time.jiffies import jiffies_to_msecs, msecs_to_jiffies

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

# PREEMPT_DISABLE_OFFSET: __schedule() runs with preemption disabled once more.
PREEMPT_DISABLE_OFFSET = 1


def schedule_timeout(k: Kernel, timeout: int) -> int:
    """schedule_timeout() in TASK_UNINTERRUPTIBLE: wake `timeout` ticks later; 0 left."""
    sched = k.sched
    if sched.preempt_count or sched.irqs_disabled:
        # schedule_debug(): in_atomic_preempt_off() -> __schedule_bug()
        count = sched.preempt_count + PREEMPT_DISABLE_OFFSET
        k.log.pr_err(f"BUG: scheduling while atomic: {sched.comm}/{sched.pid}/0x{count:08x}")
        sched.dump_stack(["__schedule_bug", "__schedule", "schedule", "schedule_timeout", "msleep"])
        sched.taint("W")
    clock = k.clock
    expire = clock.jiffies + max(timeout, 0)
    clock.advance_to(clock.jiffies_to_ns(expire))
    rcu = k.rcu
    if rcu is not None:
        rcu.rcu_advance()  # a sleeping task is in a quiescent state: grace periods end
    kmemleak = k.kmemleak
    if kmemleak is not None:
        kmemleak.on_sleep()  # the kmemleak thread's periodic scan
    return 0


@EXPORT_SYMBOL
def msleep(k: Kernel, msecs: int) -> None:
    """msleep(): sleep at least `msecs` milliseconds of simulated time."""
    timeout = msecs_to_jiffies(int(msecs), k.clock.hz)
    if timeout:
        schedule_timeout(k, timeout)


@EXPORT_SYMBOL
def ssleep(k: Kernel, seconds: int) -> None:
    """ssleep(): msleep(seconds * 1000)."""
    msleep(k, int(seconds) * 1000)


@EXPORT_SYMBOL("jiffies_to_msecs")
def export_jiffies_to_msecs(k: Kernel, j: int) -> int:
    """jiffies_to_msecs() at the kernel's HZ."""
    return jiffies_to_msecs(int(j), k.clock.hz)


@EXPORT_SYMBOL("msecs_to_jiffies")
def export_msecs_to_jiffies(k: Kernel, ms: int) -> int:
    """msecs_to_jiffies() at the kernel's HZ."""
    return msecs_to_jiffies(int(ms), k.clock.hz)
