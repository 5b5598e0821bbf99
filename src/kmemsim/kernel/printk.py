"""Model of kernel/printk/printk.c: the kernel log buffer that dmesg reads.

Each record has a log level and a timestamp taken from the simulated clock
(kernel/time/timekeeping.py, the one the whole model shares: jiffies, timers,
msleep), and prints as dmesg prints it: "[    0.002622] Zone ranges:". Each
record moves the clock on by TICK_NSEC, so a log is the same on every run and
no two records share a timestamp unless something else stood still.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from kmemsim.kernel.time.timekeeping import Timekeeper


class LogLevel(enum.IntEnum):
    """The KERN_* levels of include/linux/kern_levels.h."""

    EMERG = 0
    ALERT = 1
    CRIT = 2
    ERR = 3
    WARNING = 4
    NOTICE = 5
    INFO = 6
    DEBUG = 7


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One printk record (struct printk_info): when, how loud, what."""

    ts_nsec: int
    level: LogLevel
    text: str

    def format(self) -> str:
        """The line as `dmesg` shows it, timestamp in seconds with microseconds."""
        sec, nsec = divmod(self.ts_nsec, 1_000_000_000)
        return f"[{sec:5d}.{nsec // 1000:06d}] {self.text}"


class Printk:
    """The log buffer. `printk()` appends; `dmesg()` renders."""

    # Each record moves the simulated clock on by this much when nothing else does.
    TICK_NSEC = 1_000

    def __init__(self, clock: Timekeeper | None = None) -> None:
        self.records: list[LogRecord] = []
        # The kernel's clock; a log on its own (a tool reading a table) gets a private one.
        self.clock = clock if clock is not None else Timekeeper()

    @property
    def clock_nsec(self) -> int:
        """local_clock(): the simulated clock in ns, as the next record will be stamped."""
        return self.clock.ns

    @clock_nsec.setter
    def clock_nsec(self, ns: int) -> None:
        self.clock.advance_to(ns)

    def printk(self, text: str, level: LogLevel = LogLevel.INFO) -> None:
        """Log `text`; a multi-line text becomes one record per line."""
        clock = self.clock
        for line in text.split("\n"):
            self.records.append(LogRecord(clock.ns, level, line))
            clock.ns += self.TICK_NSEC

    def pr_emerg(self, text: str) -> None:
        self.printk(text, LogLevel.EMERG)

    def pr_err(self, text: str) -> None:
        self.printk(text, LogLevel.ERR)

    def pr_warn(self, text: str) -> None:
        self.printk(text, LogLevel.WARNING)

    def pr_notice(self, text: str) -> None:
        self.printk(text, LogLevel.NOTICE)

    def pr_info(self, text: str) -> None:
        self.printk(text, LogLevel.INFO)

    def pr_debug(self, text: str) -> None:
        self.printk(text, LogLevel.DEBUG)

    def dmesg(self, since: int = 0, level: LogLevel = LogLevel.DEBUG) -> str:
        """The log from record `since` on, records up to `level`, one line each, as `dmesg`."""
        return "".join(r.format() + "\n" for r in self.records[since:] if r.level <= level)

    def __len__(self) -> int:
        return len(self.records)
