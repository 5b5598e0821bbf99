"""Model of kernel/time/timekeeping.c and timer.c: the one simulated clock and its timers.

The simulated kernel has one clock, in nanoseconds since boot (what
local_clock()/sched_clock() return and printk stamps each record with), and
`jiffies` derived from it (kernel/time/jiffies.py). Nothing in the model runs
on host time: the clock moves only as the model runs, by the amounts the model
decides:

- every printk record moves it on by Printk.TICK_NSEC (1 us), so a boot log
  reads as a sequence of distinct, reproducible timestamps;
- sleeping (msleep(), kernel/time/sleep_timeout.py) moves it to the tick at
  which the sleeper would wake;
- work that takes simulated time (the deferred struct-page init thread)
  moves it by its duration when it runs.

Timers (struct timer_list of kernel/time/timer.c, reduced to an expiry in ns
and a function) run in expiry order when the clock passes their expiry, as the
timer softirq runs them on the next tick: run_timers() is called by whatever
advances the clock.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

from kmemsim.kernel.time.jiffies import initial_jiffies, tick_nsec


class Timekeeper:
    """The simulated clock: `ns` since boot, `jiffies`, and the pending timers."""

    __slots__ = ("_seq", "_timers", "hz", "initial_jiffies", "ns", "tick_nsec")

    def __init__(self, hz: int = 250) -> None:
        self.hz = hz
        self.tick_nsec = tick_nsec(hz)
        self.initial_jiffies = initial_jiffies(hz)
        self.ns = 0
        self._timers: list[tuple[int, int, Callable[[], None]]] = []
        self._seq = itertools.count()

    @property
    def jiffies(self) -> int:
        """jiffies (jiffies_64 on a 64-bit kernel): INITIAL_JIFFIES plus the ticks since boot."""
        return self.initial_jiffies + self.ns // self.tick_nsec

    def jiffies_to_ns(self, j: int) -> int:
        """The clock value at which `jiffies` reaches j (the start of that tick)."""
        return (j - self.initial_jiffies) * self.tick_nsec

    def add_timer(self, expires_ns: int, fn: Callable[[], None]) -> None:
        """add_timer(): run `fn` once the clock reaches `expires_ns`."""
        heapq.heappush(self._timers, (expires_ns, next(self._seq), fn))

    def advance(self, ns: int) -> None:
        """Move the clock on by `ns` (never back) and run the timers that expired."""
        if ns > 0:
            self.ns += ns
        self.run_timers()

    def advance_to(self, when_ns: int) -> None:
        """Move the clock on to `when_ns` (a no-op when it is already past it)."""
        self.advance(when_ns - self.ns)

    def run_timers(self) -> None:
        """run_timer_softirq(): every timer whose expiry has passed, in expiry order.

        A timer function may advance the clock itself (simulated work); the
        timers that makes due run in the same pass."""
        timers = self._timers
        while timers and timers[0][0] <= self.ns:
            _, _, fn = heapq.heappop(timers)
            fn()

    def pending_timers(self) -> int:
        return len(self._timers)
