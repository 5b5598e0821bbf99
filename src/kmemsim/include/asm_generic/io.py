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
        trace = self.k.io_trace
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
    k.mmio = MMIOAccessors(k)
    export_symbols(k, k.mmio)
    from kmemsim.lib.iomap import IoMap

    k.iomap = IoMap(k)
    export_symbols(k, k.iomap)


# Accessor families beyond port I/O, and what they convert: "le" read/written as a
# little-endian value, "be" as big-endian, "raw" in the CPU's own byte order.
_MMIO_FAMILIES = {
    "read": ("read", "le"),
    "read_relaxed": ("read_relaxed", "le"),
    "raw_read": ("raw", "raw"),
    "write": ("write", "le"),
    "write_relaxed": ("write_relaxed", "le"),
    "raw_write": ("raw", "raw"),
}


class MMIOAccessors:
    """readb..writeq, their _relaxed and __raw_ forms, the string forms and memcpy_*io.

    An __iomem address is a kernel virtual address (an ioremap() mapping): it is
    translated through the kernel page tables (an unmapped one faults as any
    pointer does), then the access goes to the device that decodes the physical
    address, or to RAM. The value is converted exactly as the kernel's accessors
    convert it: readl() is le32_to_cpu(__raw_readl()), ioread32be() is
    be32_to_cpu(__raw_readl()), __raw_readl() takes the bus bytes in the CPU's
    byte order. A transfer the device refuses (a size it does not take, or no
    device there on ARM) is an external abort on ARM (the kernel dies) and reads
    all ones on x86.
    """

    def __init__(self, k: Kernel) -> None:
        self.k = k
        self.cpu_order: str = "big" if k.machine.big_endian else "little"
        self.arm = k.machine.arch == "arm"

    # ---------------------------------------------------------------- the transfer
    def _phys(self, addr: int, write: bool) -> int:
        return int(self.k.address_space.translate(addr, write))

    def _bus_read(self, addr: int, size: int) -> bytes:
        pa = self._phys(addr, False)
        m = self.k.machine
        if m.is_ram(pa, size):
            return bytes(m.ram.read(pa, size))
        try:
            return m.bus.read(pa, size)
        except BusError:
            if self.arm:
                external_abort(self.k, addr, False)
            return b"\xff" * size

    def _bus_write(self, addr: int, data: bytes) -> None:
        pa = self._phys(addr, True)
        m = self.k.machine
        if m.is_ram(pa, len(data)):
            m.ram.write(pa, data)
            return
        try:
            m.bus.write(pa, data)
        except BusError:
            if self.arm:
                external_abort(self.k, addr, True)

    def _record(self, name: str, family: str, addr: int, size: int, value: int) -> None:
        trace = self.k.io_trace
        if trace is not None:
            before, after = BARRIERS[arch_family(self.k)][family]
            trace.append(IoAccess(name, addr, size, value, before, after))

    def mmio_read(self, name: str, family: str, order: str, addr: int, size: int) -> int:
        """One read accessor: the transfer, the byte-order conversion, the record."""
        data = self._bus_read(addr, size)
        value = int.from_bytes(data, self.cpu_order if order == "raw" else order)  # type: ignore[arg-type]
        self._record(name, family, addr, size, value)
        return value

    def mmio_write(
        self, name: str, family: str, order: str, value: int, addr: int, size: int
    ) -> None:
        """One write accessor."""
        value &= (1 << (8 * size)) - 1
        self._record(name, family, addr, size, value)
        data = value.to_bytes(size, self.cpu_order if order == "raw" else order)  # type: ignore[arg-type]
        self._bus_write(addr, data)

    # ---------------------------------------------------------------- read/write
    @EXPORT_SYMBOL
    def readb(self, addr: int) -> int:
        """readb(addr): a byte from MMIO, ordered (include/asm-generic/io.h)."""
        return self.mmio_read("readb", "read", "little", addr, 1)

    @EXPORT_SYMBOL
    def readw(self, addr: int) -> int:
        """readw(addr): le16_to_cpu(__raw_readw(addr)), ordered."""
        return self.mmio_read("readw", "read", "little", addr, 2)

    @EXPORT_SYMBOL
    def readl(self, addr: int) -> int:
        """readl(addr): le32_to_cpu(__raw_readl(addr)), ordered."""
        return self.mmio_read("readl", "read", "little", addr, 4)

    @EXPORT_SYMBOL
    def readq(self, addr: int) -> int:
        """readq(addr): le64_to_cpu(__raw_readq(addr)), ordered."""
        return self.mmio_read("readq", "read", "little", addr, 8)

    @EXPORT_SYMBOL
    def writeb(self, value: int, addr: int) -> None:
        """writeb(value, addr)."""
        self.mmio_write("writeb", "write", "little", value, addr, 1)

    @EXPORT_SYMBOL
    def writew(self, value: int, addr: int) -> None:
        """writew(value, addr): __raw_writew(cpu_to_le16(value), addr), ordered."""
        self.mmio_write("writew", "write", "little", value, addr, 2)

    @EXPORT_SYMBOL
    def writel(self, value: int, addr: int) -> None:
        """writel(value, addr): __raw_writel(cpu_to_le32(value), addr), ordered."""
        self.mmio_write("writel", "write", "little", value, addr, 4)

    @EXPORT_SYMBOL
    def writeq(self, value: int, addr: int) -> None:
        """writeq(value, addr)."""
        self.mmio_write("writeq", "write", "little", value, addr, 8)

    # ---------------------------------------------------------------- _relaxed
    @EXPORT_SYMBOL
    def readb_relaxed(self, addr: int) -> int:
        """readb_relaxed(): readb() without the barriers."""
        return self.mmio_read("readb_relaxed", "read_relaxed", "little", addr, 1)

    @EXPORT_SYMBOL
    def readw_relaxed(self, addr: int) -> int:
        """readw_relaxed()."""
        return self.mmio_read("readw_relaxed", "read_relaxed", "little", addr, 2)

    @EXPORT_SYMBOL
    def readl_relaxed(self, addr: int) -> int:
        """readl_relaxed()."""
        return self.mmio_read("readl_relaxed", "read_relaxed", "little", addr, 4)

    @EXPORT_SYMBOL
    def readq_relaxed(self, addr: int) -> int:
        """readq_relaxed()."""
        return self.mmio_read("readq_relaxed", "read_relaxed", "little", addr, 8)

    @EXPORT_SYMBOL
    def writeb_relaxed(self, value: int, addr: int) -> None:
        """writeb_relaxed()."""
        self.mmio_write("writeb_relaxed", "write_relaxed", "little", value, addr, 1)

    @EXPORT_SYMBOL
    def writew_relaxed(self, value: int, addr: int) -> None:
        """writew_relaxed()."""
        self.mmio_write("writew_relaxed", "write_relaxed", "little", value, addr, 2)

    @EXPORT_SYMBOL
    def writel_relaxed(self, value: int, addr: int) -> None:
        """writel_relaxed()."""
        self.mmio_write("writel_relaxed", "write_relaxed", "little", value, addr, 4)

    @EXPORT_SYMBOL
    def writeq_relaxed(self, value: int, addr: int) -> None:
        """writeq_relaxed()."""
        self.mmio_write("writeq_relaxed", "write_relaxed", "little", value, addr, 8)

    # ---------------------------------------------------------------- __raw_
    @EXPORT_SYMBOL("__raw_readb", "raw_readb")
    def raw_readb(self, addr: int) -> int:
        """__raw_readb(addr): no barrier, no byte swap."""
        return self.mmio_read("__raw_readb", "raw", "raw", addr, 1)

    @EXPORT_SYMBOL("__raw_readw", "raw_readw")
    def raw_readw(self, addr: int) -> int:
        """__raw_readw(addr): the bus bytes in the CPU's order."""
        return self.mmio_read("__raw_readw", "raw", "raw", addr, 2)

    @EXPORT_SYMBOL("__raw_readl", "raw_readl")
    def raw_readl(self, addr: int) -> int:
        """__raw_readl(addr): the bus bytes in the CPU's order."""
        return self.mmio_read("__raw_readl", "raw", "raw", addr, 4)

    @EXPORT_SYMBOL("__raw_readq", "raw_readq")
    def raw_readq(self, addr: int) -> int:
        """__raw_readq(addr)."""
        return self.mmio_read("__raw_readq", "raw", "raw", addr, 8)

    @EXPORT_SYMBOL("__raw_writeb", "raw_writeb")
    def raw_writeb(self, value: int, addr: int) -> None:
        """__raw_writeb(value, addr)."""
        self.mmio_write("__raw_writeb", "raw", "raw", value, addr, 1)

    @EXPORT_SYMBOL("__raw_writew", "raw_writew")
    def raw_writew(self, value: int, addr: int) -> None:
        """__raw_writew(value, addr)."""
        self.mmio_write("__raw_writew", "raw", "raw", value, addr, 2)

    @EXPORT_SYMBOL("__raw_writel", "raw_writel")
    def raw_writel(self, value: int, addr: int) -> None:
        """__raw_writel(value, addr)."""
        self.mmio_write("__raw_writel", "raw", "raw", value, addr, 4)

    @EXPORT_SYMBOL("__raw_writeq", "raw_writeq")
    def raw_writeq(self, value: int, addr: int) -> None:
        """__raw_writeq(value, addr)."""
        self.mmio_write("__raw_writeq", "raw", "raw", value, addr, 8)

    # ---------------------------------------------------------------- string forms
    def _reads(self, name: str, addr: int, buffer: int, count: int, size: int) -> None:
        out = bytearray()
        for _ in range(count):
            data = self._bus_read(addr, size)
            self._record(name, "raw", addr, size, int.from_bytes(data, self.cpu_order))  # type: ignore[arg-type]
            out += data
        if out:
            self.k.write(buffer, bytes(out))

    def _writes(self, name: str, addr: int, buffer: int, count: int, size: int) -> None:
        data = self.k.read(buffer, count * size) if count > 0 else b""
        for i in range(count):
            chunk = data[i * size : (i + 1) * size]
            self._record(name, "raw", addr, size, int.from_bytes(chunk, self.cpu_order))  # type: ignore[arg-type]
            self._bus_write(addr, chunk)

    @EXPORT_SYMBOL
    def readsb(self, addr: int, buffer: int, count: int) -> None:
        """readsb(addr, buffer, count): `count` reads of one byte register into memory."""
        self._reads("readsb", addr, buffer, count, 1)

    @EXPORT_SYMBOL
    def readsw(self, addr: int, buffer: int, count: int) -> None:
        """readsw(addr, buffer, count): no byte swap (a FIFO's bytes land in order)."""
        self._reads("readsw", addr, buffer, count, 2)

    @EXPORT_SYMBOL
    def readsl(self, addr: int, buffer: int, count: int) -> None:
        """readsl(addr, buffer, count)."""
        self._reads("readsl", addr, buffer, count, 4)

    @EXPORT_SYMBOL
    def readsq(self, addr: int, buffer: int, count: int) -> None:
        """readsq(addr, buffer, count)."""
        self._reads("readsq", addr, buffer, count, 8)

    @EXPORT_SYMBOL
    def writesb(self, addr: int, buffer: int, count: int) -> None:
        """writesb(addr, buffer, count): `count` bytes from memory to one register."""
        self._writes("writesb", addr, buffer, count, 1)

    @EXPORT_SYMBOL
    def writesw(self, addr: int, buffer: int, count: int) -> None:
        """writesw(addr, buffer, count)."""
        self._writes("writesw", addr, buffer, count, 2)

    @EXPORT_SYMBOL
    def writesl(self, addr: int, buffer: int, count: int) -> None:
        """writesl(addr, buffer, count)."""
        self._writes("writesl", addr, buffer, count, 4)

    @EXPORT_SYMBOL
    def writesq(self, addr: int, buffer: int, count: int) -> None:
        """writesq(addr, buffer, count)."""
        self._writes("writesq", addr, buffer, count, 8)

    # ---------------------------------------------------------------- memcpy_*io
    def _chunks(self, addr: int, count: int) -> list[tuple[int, int]]:
        """(offset, size) of the accesses a copy of `count` bytes at `addr` makes: bytes up
        to a 4-byte boundary, 4-byte words, then the tail (x86 __memcpy_fromio's movs,
        the generic version's long-sized loop)."""
        out = []
        off = 0
        while count and (addr + off) & 3:
            out.append((off, 1))
            off, count = off + 1, count - 1
        while count >= 4:
            out.append((off, 4))
            off, count = off + 4, count - 4
        while count:
            out.append((off, 1))
            off, count = off + 1, count - 1
        return out

    @EXPORT_SYMBOL
    def memcpy_fromio(self, to: int, src: int, count: int) -> None:
        """memcpy_fromio(to, from, count): device bytes to memory, in bus order."""
        out = bytearray()
        for off, size in self._chunks(src, count):
            out += self._bus_read(src + off, size)
        if out:
            self.k.write(to, bytes(out))

    @EXPORT_SYMBOL
    def memcpy_toio(self, dst: int, src: int, count: int) -> None:
        """memcpy_toio(to, from, count): memory bytes to the device, in order."""
        data = self.k.read(src, count) if count > 0 else b""
        for off, size in self._chunks(dst, count):
            self._bus_write(dst + off, data[off : off + size])

    @EXPORT_SYMBOL
    def memset_io(self, addr: int, value: int, count: int) -> None:
        """memset_io(addr, value, count)."""
        for off, size in self._chunks(addr, count):
            self._bus_write(addr + off, bytes([value & 0xFF]) * size)


def external_abort(k: Kernel, addr: int, write: bool) -> None:
    """do_DataAbort() of arch/arm/mm/fault.c for an external abort (the interconnect's
    error response): "Unhandled fault: external abort on non-linefetch", then die()."""
    from kmemsim.errors import Oops
    from kmemsim.kernel.printk import LogLevel

    fsr = 0x1008 | (0x800 if write else 0)
    log = k.log
    log.printk("8<--- cut here ---", LogLevel.ALERT)
    log.printk(
        f"Unhandled fault: external abort on non-linefetch ({fsr:#05x}) at {addr:#010x}",
        LogLevel.ALERT,
    )
    from kmemsim.arch.arm.mm.fault import show_pte

    log.printk(show_pte(k, addr), LogLevel.ALERT)
    aspace = k.address_space
    aspace.die_counter += 1
    log.pr_emerg(f"Internal error: : {fsr:x} [#{aspace.die_counter}] SMP ARM")
    k.sched.taint("D")
    log.pr_warn("---[ end trace 0000000000000000 ]---")
    raise Oops(f"external abort on non-linefetch ({fsr:#05x}) at {addr:#010x}")
