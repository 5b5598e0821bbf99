"""Simulated buses: devices decode ranges of the physical address space and of the x86 port space.

A device is a block of registers. The CPU (or a DMA master) reaches it with a
transfer of 1, 2, 4 or 8 bytes at an address; the device answers with the
bytes its register holds, laid out in the device's own byte order (a
big-endian device puts the most significant byte of a 32-bit register at the
lowest address). The CPU then reads those bytes in its own byte order: a
little-endian CPU loading a big-endian device's 0x12345678 sees 0x78563412
unless the accessor swaps (ioread32be). That is why the kernel has
readl/ioread32be/__raw_readl, and kmemsim's accessors work on these bytes.

Define a device in a few lines:

    class Scratch(MMIODevice):
        size = 0x10
        def read_reg(self, offset, size):
            return self.regs.get(offset, 0)
        def write_reg(self, offset, size, value):
            self.regs[offset] = value

    k.machine.bus.attach(Scratch("scratch"), 0x4C200000)

`access_sizes` lists the transfer sizes the device accepts; any other raises
BusError, which the CPU reports as its architecture does (an external abort
on ARM). An address no device decodes reads as all ones on x86 (the PCI
master abort) and its writes are dropped; on ARM the interconnect answers
with an error: BusError.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import Any


class BusError(Exception):
    """A transfer the bus or the device refused (no device there, or a size it does not take)."""

    def __init__(self, paddr: int, size: int, write: bool, why: str) -> None:
        super().__init__(
            f"bus error: {why} at {paddr:#x} ({size}-byte {'write' if write else 'read'})"
        )
        self.paddr = paddr
        self.size = size
        self.write = write
        self.why = why


class MMIODevice:
    """A register block: subclass and override read_reg/write_reg (register values as ints).

    `big_endian`: the byte order of the registers on the bus. `access_sizes`:
    the transfer sizes accepted. `regs` is a plain register store the default
    handlers use. `name` is the device's name, `base` where it was attached.
    """

    size: int = 0x1000
    big_endian: bool = False
    access_sizes: frozenset[int] = frozenset({1, 2, 4})

    def __init__(self, name: str, **params: Any) -> None:
        self.name = name
        self.params = params
        self.base = 0
        self.regs: dict[int, int] = {}
        self.bus: Bus | None = None

    # ---------------------------------------------------------------- to override
    def read_reg(self, offset: int, size: int) -> int:
        """The value of the `size`-byte register at `offset` (default: the store)."""
        return self.regs.get(offset, 0)

    def write_reg(self, offset: int, size: int, value: int) -> None:
        """Store `value` in the `size`-byte register at `offset` (default: the store)."""
        self.regs[offset] = value

    # ---------------------------------------------------------------- bus side
    def bus_read(self, offset: int, size: int) -> bytes:
        """A read transfer: the register's bytes in the device's byte order."""
        value = self.read_reg(offset, size) & ((1 << (8 * size)) - 1)
        return value.to_bytes(size, "big" if self.big_endian else "little")

    def bus_write(self, offset: int, data: bytes) -> None:
        """A write transfer: the bytes on the bus, taken in the device's byte order."""
        self.write_reg(
            offset, len(data), int.from_bytes(data, "big" if self.big_endian else "little")
        )

    def now_ns(self) -> int:
        """The machine's time (the simulated clock), for devices that count."""
        return self.bus.clock() if self.bus is not None else 0

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} at {self.base:#x}>"


class Bus:
    """A set of devices decoding address ranges: the physical address space, or x86 ports."""

    def __init__(self, name: str, *, undecoded_reads_ones: bool) -> None:
        self.name = name
        self.undecoded_reads_ones = undecoded_reads_ones
        self._starts: list[int] = []
        self._devices: list[MMIODevice] = []
        self.clock: Callable[[], int] = lambda: 0
        # Every transfer, for tools and tests: (kind, address, size, value bytes).
        self.trace: list[tuple[str, int, int, bytes]] | None = None

    def attach(self, dev: MMIODevice, base: int) -> MMIODevice:
        """Place `dev` at `base`: it decodes [base, base + dev.size)."""
        i = bisect.bisect_right(self._starts, base)
        if i > 0:
            prev = self._devices[i - 1]
            if prev.base + prev.size > base:
                raise ValueError(f"{dev.name} at {base:#x} overlaps {prev.name}")
        if i < len(self._devices) and base + dev.size > self._starts[i]:
            raise ValueError(f"{dev.name} at {base:#x} overlaps {self._devices[i].name}")
        dev.base = base
        dev.bus = self
        self._starts.insert(i, base)
        self._devices.insert(i, dev)
        return dev

    def detach(self, dev: MMIODevice) -> None:
        i = self._devices.index(dev)
        del self._starts[i]
        del self._devices[i]
        dev.bus = None

    def devices(self) -> list[MMIODevice]:
        return list(self._devices)

    def find(self, addr: int) -> MMIODevice | None:
        """The device that decodes `addr`, or None."""
        i = bisect.bisect_right(self._starts, addr) - 1
        if i >= 0:
            dev = self._devices[i]
            if addr < dev.base + dev.size:
                return dev
        return None

    def _device_for(self, addr: int, size: int, write: bool) -> MMIODevice | None:
        dev = self.find(addr)
        if dev is None:
            if self.undecoded_reads_ones:
                return None
            raise BusError(addr, size, write, "no device decodes the address")
        if size not in dev.access_sizes or addr + size > dev.base + dev.size:
            raise BusError(addr, size, write, f"{dev.name} does not take {size}-byte accesses")
        return dev

    def read(self, addr: int, size: int) -> bytes:
        """A read transfer of `size` bytes at `addr`."""
        dev = self._device_for(addr, size, False)
        data = b"\xff" * size if dev is None else dev.bus_read(addr - dev.base, size)
        if self.trace is not None:
            self.trace.append(("R", addr, size, data))
        return data

    def write(self, addr: int, data: bytes) -> None:
        """A write transfer of `data` at `addr` (dropped where nothing decodes, on x86)."""
        dev = self._device_for(addr, len(data), True)
        if self.trace is not None:
            self.trace.append(("W", addr, len(data), bytes(data)))
        if dev is not None:
            dev.bus_write(addr - dev.base, bytes(data))
