"""The simulated clock (kernel/time/): jiffies, msleep, timers and printk timestamps share it."""

from __future__ import annotations

import pytest

import kmemsim
from kmemsim.errors import KmemsimError
from kmemsim.kernel.time.jiffies import (
    initial_jiffies,
    jiffies_to_msecs,
    msecs_to_jiffies,
    tick_nsec,
)
from kmemsim.kernel.time.timekeeping import Timekeeper


@pytest.fixture(scope="module")
def k() -> kmemsim.Kernel:
    return kmemsim.boot("x86_64", mem="256M", cpus=2)


def test_jiffies_start_at_initial_jiffies_five_minutes_before_the_32_bit_wrap() -> None:
    clock = Timekeeper(250)
    assert clock.jiffies == 2**32 - 300 * 250 == initial_jiffies(250)
    clock.advance(3 * tick_nsec(250) + 1)
    assert clock.jiffies == initial_jiffies(250) + 3


def test_conversions_round_up_to_whole_ticks() -> None:
    assert [msecs_to_jiffies(ms, 250) for ms in (0, 1, 4, 5, 1000)] == [0, 1, 1, 2, 250]
    assert msecs_to_jiffies(1, 1000) == 1 and msecs_to_jiffies(1, 100) == 1
    assert jiffies_to_msecs(250, 250) == 1000 and jiffies_to_msecs(1, 300) == 4


def test_msleep_advances_jiffies_and_printk_timestamps(k: kmemsim.Kernel) -> None:
    before = k.jiffies
    k.msleep(100)  # 25 ticks at HZ=250
    assert k.jiffies - before == 25
    k.printk("after the sleep")
    last = k.dmesg().splitlines()[-1]
    stamp = float(last[1:13])
    assert stamp * 1e9 == pytest.approx(k.clock.ns - k.log.TICK_NSEC, abs=1000)
    assert stamp >= 0.1


def test_hz_comes_from_the_configuration() -> None:
    k = kmemsim.boot("x86_64", mem="256M", config={"HZ": 1000})
    before = k.jiffies
    k.msleep(100)
    assert k.jiffies - before == 100
    with pytest.raises(KmemsimError, match="HZ"):
        kmemsim.boot("x86_64", mem="256M", config={"HZ": 123})


def test_timers_run_in_expiry_order_when_the_clock_passes_them() -> None:
    clock = Timekeeper(250)
    fired: list[str] = []
    clock.add_timer(2_000_000, lambda: fired.append("b"))
    clock.add_timer(1_000_000, lambda: fired.append("a"))
    clock.add_timer(9_000_000, lambda: fired.append("c"))
    clock.advance(2_500_000)
    assert fired == ["a", "b"] and clock.pending_timers() == 1


def test_msleep_in_atomic_context_is_the_kernels_scheduling_while_atomic_bug() -> None:
    k = kmemsim.boot("x86_64", mem="256M")
    n = len(k.log)
    with k.preempt_disable():
        k.msleep(10)
    text = k.dmesg(n)
    assert "BUG: scheduling while atomic: swapper/0/0/0x00000002" in text
    assert " schedule_timeout\n" in text and "Not tainted" in text
    assert "W" in k.sched.taints
