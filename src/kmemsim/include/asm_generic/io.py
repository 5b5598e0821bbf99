"""Model of include/asm-generic/io.h with arch/x86/include/asm/io.h and arch/arm/include/asm/io.h:
the port I/O accessors (inb/outb and family) and the record of the barriers each I/O access
implies.

Port I/O on x86 is its own address space (0..0xffff), reached with the in and
out instructions: `inb(port)`, `outb(value, port)` (the value first, as in the
kernel), the string forms `insb(port, addr, count)` / `outsb(port, addr,
count)` that move `count` items between kernel memory and one port without
byte swapping, and the `_p` forms that add the ISA delay. A port no device
decodes reads as all ones.

On ARM there is no port space: inb(port) is readb(PCI_IOBASE + port), an
access to the PCI I/O window the kernel maps only when a PCI host bridge
registers it. The AM335x has none, so the access faults as an unmapped
kernel address does.

Every access is recorded in `k.io_trace` (when it is a list) as an IoAccess:
the accessor, the address or port, the size, the value, and the barriers
the accessor implies before and after the access on the machine's
architecture, as the kernel defines them (include/asm-generic/io.h __io_br /
__io_ar / __io_bw / __io_aw; ARM's __iormb() / __iowmb(); x86's "memory"
clobber), summarised by Documentation/driver-api/device-io.rst and the
slides' table: read/write and ioread/iowrite (and the be forms) have
barriers, _relaxed and __raw_ forms have none.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kmemsim.hw.mmio import BusError
from kmemsim.include.linux.export import EXPORT_SYMBOL

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

# arch/arm/include/asm/io.h: PCI_IO_VIRT_BASE, the virtual window of the PCI I/O space.
ARM_PCI_IOBASE = 0xFEE00000


@dataclass(frozen=True, slots=True)
class IoAccess:
    """One I/O access: accessor name, address (or port), size, value, implied barriers."""

    accessor: str
    addr: int
    size: int
    value: int
    before: tuple[str, ...]
    after: tuple[str, ...]


# Barriers by accessor family and architecture, as the kernel's headers define them.
#   x86: build_mmio_read/write with the "memory" clobber (a compiler barrier) for
#        readX/writeX, none for the _relaxed/__raw forms; in/out are plain asm volatile.
#   arm: readX = readX_relaxed + __iormb() (rmb(): dsb); writeX = __iowmb() (wmb():
#        dsb st) + writeX_relaxed; inX/outX are readX/writeX on PCI_IOBASE.
BARRIERS: dict[str, dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "x86": {
        "read": (("barrier()",), ("barrier()",)),
        "write": (("barrier()",), ("barrier()",)),
        "read_relaxed": ((), ()),
        "write_relaxed": ((), ()),
        "raw": ((), ()),
        "in": ((), ()),
        "out": ((), ()),
    },
    "arm": {
        "read": ((), ("rmb()",)),
        "write": (("wmb()",), ()),
        "read_relaxed": ((), ()),
        "write_relaxed": ((), ()),
        "raw": ((), ()),
        "in": ((), ("rmb()",)),
        "out": (("wmb()",), ()),
    },
}


def arch_family(k: Kernel) -> str:
    return "arm" if k.machine.arch == "arm" else "x86"


class PortIO:
    """inb/outb and family of one kernel (the x86 port space, or ARM's PCI_IOBASE)."""

    def __init__(self, k: Kernel) -> None:
        self.k = k
        self.x86 = k.machine.arch != "arm"

    def record(self, accessor: str, family: str, addr: int, size: int, value: int) -> None:
        trace = getattr(self.k, "io_trace", None)
        if trace is not None:
            before, after = BARRIERS[arch_family(self.k)][family]
            trace.append(IoAccess(accessor, addr, size, value, before, after))

    def _in(self, name: str, port: int, size: int) -> int:
        port &= 0xFFFF if self.x86 else 0xFFFFFFFF
        if not self.x86:
            self.k.address_space.translate(ARM_PCI_IOBASE + port)  # faults: no PCI I/O window
        try:
            data = self.k.machine.ports.read(port, size)
        except BusError:  # a width the device does not decode: nobody drives the bus
            data = b"\xff" * size
        value = int.from_bytes(data, "little")
        self.record(name, "in", port, size, value)
        return value

    def _out(self, name: str, value: int, port: int, size: int) -> None:
        port &= 0xFFFF if self.x86 else 0xFFFFFFFF
        if not self.x86:
            self.k.address_space.translate(ARM_PCI_IOBASE + port, True)
        value &= (1 << (8 * size)) - 1
        self.record(name, "out", port, size, value)
        # A device that does not take this width ignores the cycle.
        with contextlib.suppress(BusError):
            self.k.machine.ports.write(port, value.to_bytes(size, "little"))

    @EXPORT_SYMBOL("inb", "inb_p")
    def inb(self, port: int) -> int:
        """inb(port): read a byte from an I/O port (arch/x86/include/asm/shared/io.h)."""
        return self._in("inb", port, 1)

    @EXPORT_SYMBOL("inw", "inw_p")
    def inw(self, port: int) -> int:
        """inw(port): read 16 bits from an I/O port."""
        return self._in("inw", port, 2)

    @EXPORT_SYMBOL("inl", "inl_p")
    def inl(self, port: int) -> int:
        """inl(port): read 32 bits from an I/O port."""
        return self._in("inl", port, 4)

    @EXPORT_SYMBOL("outb", "outb_p")
    def outb(self, value: int, port: int) -> None:
        """outb(value, port): write a byte to an I/O port."""
        self._out("outb", value, port, 1)

    @EXPORT_SYMBOL("outw", "outw_p")
    def outw(self, value: int, port: int) -> None:
        """outw(value, port): write 16 bits to an I/O port."""
        self._out("outw", value, port, 2)

    @EXPORT_SYMBOL("outl", "outl_p")
    def outl(self, value: int, port: int) -> None:
        """outl(value, port): write 32 bits to an I/O port."""
        self._out("outl", value, port, 4)

    def _ins(self, name: str, port: int, addr: int, count: int, size: int) -> None:
        out = bytearray()
        for _ in range(count):
            out += self._in(name, port, size).to_bytes(size, "little")
        if out:
            self.k.write(addr, bytes(out))

    def _outs(self, name: str, port: int, addr: int, count: int, size: int) -> None:
        data = self.k.read(addr, count * size) if count > 0 else b""
        for i in range(count):
            self._out(name, int.from_bytes(data[i * size : (i + 1) * size], "little"), port, size)

    @EXPORT_SYMBOL
    def insb(self, port: int, addr: int, count: int) -> None:
        """insb(port, addr, count): `count` bytes from one port into memory at addr (rep insb)."""
        self._ins("insb", port, addr, count, 1)

    @EXPORT_SYMBOL
    def insw(self, port: int, addr: int, count: int) -> None:
        """insw(port, addr, count): `count` 16-bit items from one port into memory."""
        self._ins("insw", port, addr, count, 2)

    @EXPORT_SYMBOL
    def insl(self, port: int, addr: int, count: int) -> None:
        """insl(port, addr, count): `count` 32-bit items from one port into memory."""
        self._ins("insl", port, addr, count, 4)

    @EXPORT_SYMBOL
    def outsb(self, port: int, addr: int, count: int) -> None:
        """outsb(port, addr, count): `count` bytes from memory at addr to one port (rep outsb)."""
        self._outs("outsb", port, addr, count, 1)

    @EXPORT_SYMBOL
    def outsw(self, port: int, addr: int, count: int) -> None:
        """outsw(port, addr, count)."""
        self._outs("outsw", port, addr, count, 2)

    @EXPORT_SYMBOL
    def outsl(self, port: int, addr: int, count: int) -> None:
        """outsl(port, addr, count)."""
        self._outs("outsl", port, addr, count, 4)

    @EXPORT_SYMBOL
    def console(self) -> str:
        """What the machine's console UARTs have transmitted (the serial console's output)."""
        return self.k.machine.console_output.decode("latin-1")


def io_init(k: Kernel) -> None:
    """Bind the port accessors and wire the devices' clock to the kernel's simulated clock."""
    from kmemsim.include.linux.export import export_symbols

    k.machine.bus.clock = lambda: k.clock.ns
    k.machine.ports.clock = lambda: k.clock.ns
    k.io_trace = None
    k.portio = PortIO(k)
    export_symbols(k, k.portio)
