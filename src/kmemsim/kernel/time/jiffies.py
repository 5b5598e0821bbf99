"""Model of include/linux/jiffies.h and kernel/time/jiffies.c: HZ, jiffies and their conversions.

`jiffies` counts timer ticks, HZ per second (CONFIG_HZ: 250 on the captured
6.18 machine and the x86 default). It does not start at 0: INITIAL_JIFFIES is
-300 * HZ as a 32-bit value, so that the 32-bit counter wraps five minutes
after boot and code that compares jiffies carelessly breaks early; on a
64-bit kernel `jiffies` is the 64-bit jiffies_64 and starts at the same
unsigned 32-bit value (2**32 - 300 * HZ).
"""

from __future__ import annotations

NSEC_PER_SEC = 1_000_000_000
NSEC_PER_MSEC = 1_000_000
MSEC_PER_SEC = 1_000

# kernel/Kconfig.hz: the HZ values a kernel can be built with.
HZ_CHOICES = (100, 250, 300, 1000)


def initial_jiffies(hz: int) -> int:
    """INITIAL_JIFFIES: ((unsigned long)(unsigned int)(-300 * HZ))."""
    return (-300 * hz) & 0xFFFF_FFFF


def tick_nsec(hz: int) -> int:
    """TICK_NSEC: the length of one tick in ns, rounded to nearest ((NSEC_PER_SEC + HZ/2) / HZ)."""
    return (NSEC_PER_SEC + hz // 2) // hz


def msecs_to_jiffies(ms: int, hz: int) -> int:
    """msecs_to_jiffies(): ms rounded up to whole ticks (negative: MAX_JIFFY_OFFSET, here 0).

    >>> msecs_to_jiffies(1, 250), msecs_to_jiffies(4, 250), msecs_to_jiffies(5, 250)
    (1, 1, 2)
    """
    if ms < 0:
        return 0
    return -(-ms * hz // MSEC_PER_SEC)


def jiffies_to_msecs(j: int, hz: int) -> int:
    """jiffies_to_msecs(): ticks as milliseconds (exact when HZ divides 1000).

    >>> jiffies_to_msecs(1, 250), jiffies_to_msecs(250, 250)
    (4, 1000)
    """
    if MSEC_PER_SEC % hz == 0:
        return j * (MSEC_PER_SEC // hz)
    return -(-j * MSEC_PER_SEC // hz)
