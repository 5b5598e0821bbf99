"""Execution contexts (include/linux/preempt.h) and __might_sleep() of kernel/sched/core.c."""

from __future__ import annotations

import kmemsim
from kmemsim.include.linux.gfp_types import GFP_ATOMIC, GFP_KERNEL, GFP_NOWAIT
from kmemsim.kernel.sched.core import HARDIRQ_OFFSET, SOFTIRQ_OFFSET


def test_preempt_count_follows_the_kernel_bit_layout() -> None:
    ctx = kmemsim.boot("x86_64", mem="64M", cpus=2).sched
    assert ctx.in_task() and not ctx.in_atomic()
    with ctx.spin_lock("a"):
        assert ctx.preempt_count == 1 and ctx.in_atomic() and ctx.in_task()
        with ctx.spin_lock("b"):
            assert ctx.preempt_count == 2
    with ctx.softirq_context():
        assert ctx.preempt_count == SOFTIRQ_OFFSET == 0x100
        assert ctx.in_softirq() and ctx.in_interrupt() and not ctx.in_task()
    with ctx.irq_context():
        assert ctx.preempt_count == HARDIRQ_OFFSET == 0x10000
        assert ctx.in_irq() and ctx.irqs_disabled
    with ctx.irqs_disabled_context():
        assert ctx.irqs_disabled and not ctx.in_atomic()
    with ctx.spin_lock_irqsave("c"):
        assert ctx.irqs_disabled and ctx.preempt_count == 1
    assert ctx.preempt_count == 0 and not ctx.irqs_disabled


def test_on_cpu_selects_and_restores_the_cpu() -> None:
    ctx = kmemsim.boot("x86_64", mem="64M", cpus=2).sched
    with ctx.on_cpu(1):
        assert ctx.current_cpu == 1
    assert ctx.current_cpu == 0


def test_might_sleep_in_process_context_is_silent() -> None:
    k = kmemsim.boot("x86_64", mem="256M", cpus=2)
    n = len(k.log)
    k.might_sleep()
    assert len(k.log) == n


def test_sleeping_allocation_under_spinlock_is_reported_once_in_the_kernel_words() -> None:
    k = kmemsim.boot("x86_64", mem="256M", cpus=2)
    k.sched.set_task("insmod", 4242)
    with k.spin_lock("dev->lock"):
        assert k.get_free_page(GFP_KERNEL) != 0
        assert k.get_free_page(GFP_KERNEL) != 0
    lines = [line.split("] ", 1)[1] for line in k.dmesg().splitlines()]
    start = lines.index(
        "BUG: sleeping function called from invalid context at include/linux/sched/mm.h:321"
    )
    assert lines[start + 1] == (
        "in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 4242, name: insmod"
    )
    assert lines[start + 2] == "preempt_count: 1, expected: 0"
    assert lines[start + 3] == "RCU nest depth: 0, expected: 0"
    assert lines[start + 4].startswith("CPU: 0 UID: 0 PID: 4242 Comm: insmod ")
    assert "Call Trace:" in lines[start + 5 : start + 8]
    assert sum("sleeping function" in line for line in lines) == 1


def test_atomic_and_nowait_allocations_from_an_interrupt_handler_are_fine() -> None:
    k = kmemsim.boot("x86_64", mem="256M", cpus=2)
    with k.irq_context():
        a = k.get_free_page(GFP_ATOMIC)
        b = k.get_free_page(GFP_NOWAIT)
    assert a and b
    assert "BUG" not in k.dmesg()
    k.free_page(a)
    k.free_page(b)


def test_irqs_disabled_alone_is_an_invalid_context_too() -> None:
    k = kmemsim.boot("x86_64", mem="256M", cpus=2)
    with k.local_irq_disable_context():
        k.might_sleep()
    assert "in_atomic(): 0, irqs_disabled(): 1" in k.dmesg()


def test_might_sleep_from_a_scenario_names_the_scenario_line() -> None:
    k = kmemsim.boot("x86_64", mem="256M", cpus=2)
    with k.softirq_context():
        k.might_sleep()
    assert "invalid context at test_sched_core.py:" in k.dmesg()


def test_set_task_names_the_current_task_in_every_report() -> None:
    from kmemsim.mm.debug import bad_page

    k = kmemsim.boot("x86_64", mem="256M", cpus=2)
    k.sched.set_task("python3", 4242)
    assert (k.sched.comm, k.sched.pid) == ("python3", 4242)
    with k.sched.spin_lock():
        k.might_sleep()
    k.page_alloc.warn_alloc(GFP_KERNEL, 10)
    page = k.alloc_pages(GFP_KERNEL, 0)
    assert page is not None
    bad_page(k, page, "nonzero _refcount")
    log = k.dmesg()
    assert "non_block: 0, pid: 4242, name: python3" in log
    assert "python3: page allocation failure: order:10, " in log
    assert "BUG: Bad page state in process python3  pfn:" in log
    assert "PID: 4242 Comm: python3 " in log
    assert "swapper/0" not in log.split("python3", 1)[1]
