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
from typing import TYPE_CHECKING

from kmemsim.kernel.time.timekeeping import Timekeeper

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel


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


# kernel/printk/printk.c and printk_ringbuffer.h sizes of the 6.18 x86_64 build.
PRB_AVGBITS = 5  # average record text size 2**5 bytes: one descriptor per 32 bytes
SIZEOF_PRB_DESC = 24  # state_var and text_blk_lpos (begin, next)
SIZEOF_PRINTK_INFO = 88  # seq, ts_nsec, text_len, facility, flags/level, caller_id, dev_info
LOG_ALIGN = 8  # __alignof__(unsigned long)


def setup_log_buf(k: Kernel) -> int:
    """setup_log_buf(0) (start_kernel()): a larger log buffer for many CPUs, from memblock.

    The static buffer is CONFIG_LOG_BUF_SHIFT bytes (__LOG_BUF_LEN).
    log_buf_add_cpu() asks for __LOG_CPU_MAX_BUF_LEN (CONFIG_LOG_CPU_MAX_BUF_SHIFT)
    more per possible CPU past the first, but only when that extra is more than
    half the static buffer (more than 17 CPUs with the defaults 17 and 12);
    log_buf_len_update() rounds the total up to a power of two. The new text ring,
    its descriptors (one per 2**PRB_AVGBITS bytes) and their printk_info come
    from memblock_alloc(); the records so far are copied over, and "early log buf
    free" is the static buffer less their text. Returns the bytes taken."""
    log_buf_len = 1 << int(k.config["LOG_BUF_SHIFT"])
    cpu_max = 1 << int(k.config["LOG_CPU_MAX_BUF_SHIFT"])
    cpus = int(k.machine.cpus)
    if cpus == 1:
        return 0
    cpu_extra = (cpus - 1) * cpu_max
    if cpu_extra <= log_buf_len // 2:
        return 0
    log = k.log
    log.pr_info(f"log_buf_len individual max cpu contribution: {cpu_max} bytes")
    log.pr_info(f"log_buf_len total cpu_extra contributions: {cpu_extra} bytes")
    log.pr_info(f"log_buf_len min size: {log_buf_len} bytes")
    new_len = 1 << (cpu_extra + log_buf_len - 1).bit_length()
    descs = new_len >> PRB_AVGBITS
    taken = 0
    for size, what in (
        (new_len, "log_buf"),
        (descs * SIZEOF_PRB_DESC, "log_buf descs"),
        (descs * SIZEOF_PRINTK_INFO, "log_buf infos"),
    ):
        if k.memblock.phys_alloc_range(size, LOG_ALIGN, owner=what):
            taken += size
    used = sum(len(r.text) for r in log.records)
    free = max(0, log_buf_len - used)
    log.pr_info(f"log_buf_len: {new_len} bytes")
    log.pr_info(f"early log buf free: {free}({free * 100 // log_buf_len}%)")
    return taken
