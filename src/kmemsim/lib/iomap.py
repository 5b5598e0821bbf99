"""Model of lib/iomap.c (x86, CONFIG_GENERIC_IOMAP) and asm-generic/iomap.h (ARM): ioread*/iowrite*.

ioread32() and family take an __iomem cookie that is either an MMIO address
(ioremap()) or, on x86, a port cookie from ioport_map(): the port plus
PIO_OFFSET (0x10000). IO_COND() tells them apart: an address from
PIO_RESERVED (0x40000) up is MMIO, one above PIO_OFFSET is a port, anything
else is a bad cookie: "Bad IO access at port 0x... (return inl(port))" as a
WARN, at most ten times, and the read returns all ones. The be forms swap:
ioread32be() is swab32(readl()) on a little-endian CPU. On ARM (no
GENERIC_IOMAP) ioread32() is readl() and ioport_map() gives PCI_IOBASE + port.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.include.linux.export import EXPORT_SYMBOL

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

PIO_OFFSET = 0x10000
PIO_MASK = 0x0FFFF
PIO_RESERVED = 0x40000


class IoMap:
    """ioread8..iowrite64be, the _rep forms, ioport_map/ioport_unmap of one kernel."""

    def __init__(self, k: Kernel) -> None:
        self.k = k
        self.generic = k.machine.arch != "arm"
        self.bad_io_count = 10

    def _cond(self, addr: int, pio_text: str) -> int | None:
        """IO_COND(): None for MMIO, the port for a port cookie; a bad cookie warns, -1."""
        if not self.generic or addr >= PIO_RESERVED:
            return None
        if addr > PIO_OFFSET:
            return addr & PIO_MASK
        if self.bad_io_count:
            self.bad_io_count -= 1
            from kmemsim.mm.debug import warn

            warn(
                self.k,
                "lib/iomap.c",
                "bad_io_access",
                f"Bad IO access at port {addr:#x} ({pio_text})",
                once=False,
            )
        return -1

    def _read(self, name: str, addr: int, size: int, be: bool, pio: str) -> int:
        port = self._cond(addr, pio)
        mmio = self.k.mmio
        if port is None:
            return mmio.mmio_read(name, "read", "big" if be else "little", addr, size)
        if port < 0:
            return (1 << (8 * size)) - 1
        value = self.k.portio._in(name, port, size)
        if be:
            value = int.from_bytes(value.to_bytes(size, "little"), "big")
        return value

    def _write(self, name: str, value: int, addr: int, size: int, be: bool, pio: str) -> None:
        port = self._cond(addr, pio)
        mmio = self.k.mmio
        if port is None:
            mmio.mmio_write(name, "write", "big" if be else "little", value, addr, size)
            return
        if port < 0:
            return
        value &= (1 << (8 * size)) - 1
        if be:
            value = int.from_bytes(value.to_bytes(size, "little"), "big")
        self.k.portio._out(name, value, port, size)

    @EXPORT_SYMBOL
    def ioread8(self, addr: int) -> int:
        """ioread8(addr): readb() of MMIO, inb() of a port cookie."""
        return self._read("ioread8", addr, 1, False, "return inb(port)")

    @EXPORT_SYMBOL
    def ioread16(self, addr: int) -> int:
        """ioread16(addr)."""
        return self._read("ioread16", addr, 2, False, "return inw(port)")

    @EXPORT_SYMBOL
    def ioread32(self, addr: int) -> int:
        """ioread32(addr)."""
        return self._read("ioread32", addr, 4, False, "return inl(port)")

    @EXPORT_SYMBOL
    def ioread64(self, addr: int) -> int:
        """ioread64(addr): readq() (no 64-bit port accessor exists)."""
        return self._read("ioread64", addr, 8, False, "return inq(port)")

    @EXPORT_SYMBOL
    def ioread16be(self, addr: int) -> int:
        """ioread16be(addr): a big-endian register (swab16(readw()) on a little-endian CPU)."""
        return self._read("ioread16be", addr, 2, True, "return pio_read16be(port)")

    @EXPORT_SYMBOL
    def ioread32be(self, addr: int) -> int:
        """ioread32be(addr)."""
        return self._read("ioread32be", addr, 4, True, "return pio_read32be(port)")

    @EXPORT_SYMBOL
    def ioread64be(self, addr: int) -> int:
        """ioread64be(addr)."""
        return self._read("ioread64be", addr, 8, True, "return pio_read64be(port)")

    @EXPORT_SYMBOL
    def iowrite8(self, value: int, addr: int) -> None:
        """iowrite8(value, addr)."""
        self._write("iowrite8", value, addr, 1, False, "outb(val,port)")

    @EXPORT_SYMBOL
    def iowrite16(self, value: int, addr: int) -> None:
        """iowrite16(value, addr)."""
        self._write("iowrite16", value, addr, 2, False, "outw(val,port)")

    @EXPORT_SYMBOL
    def iowrite32(self, value: int, addr: int) -> None:
        """iowrite32(value, addr)."""
        self._write("iowrite32", value, addr, 4, False, "outl(val,port)")

    @EXPORT_SYMBOL
    def iowrite64(self, value: int, addr: int) -> None:
        """iowrite64(value, addr)."""
        self._write("iowrite64", value, addr, 8, False, "outq(val,port)")

    @EXPORT_SYMBOL
    def iowrite16be(self, value: int, addr: int) -> None:
        """iowrite16be(value, addr)."""
        self._write("iowrite16be", value, addr, 2, True, "pio_write16be(val,port)")

    @EXPORT_SYMBOL
    def iowrite32be(self, value: int, addr: int) -> None:
        """iowrite32be(value, addr)."""
        self._write("iowrite32be", value, addr, 4, True, "pio_write32be(val,port)")

    @EXPORT_SYMBOL
    def iowrite64be(self, value: int, addr: int) -> None:
        """iowrite64be(value, addr)."""
        self._write("iowrite64be", value, addr, 8, True, "pio_write64be(val,port)")

    def _rep(self, name: str, addr: int, buf: int, count: int, size: int, write: bool) -> None:
        letter = {1: "b", 2: "w", 4: "l", 8: "q"}[size]
        port = self._cond(
            addr, f"{'outs' if write else 'ins'}{letter}(port,{'src' if write else 'dst'},count)"
        )
        if port is not None and port < 0:
            return
        if port is None:
            mmio = self.k.mmio
            (mmio._writes if write else mmio._reads)(name, addr, buf, count, size)
        elif write:
            self.k.portio._outs(name, port, buf, count, size)
        else:
            self.k.portio._ins(name, port, buf, count, size)

    @EXPORT_SYMBOL
    def ioread8_rep(self, addr: int, dst: int, count: int) -> None:
        """ioread8_rep(addr, dst, count)."""
        self._rep("ioread8_rep", addr, dst, count, 1, False)

    @EXPORT_SYMBOL
    def ioread16_rep(self, addr: int, dst: int, count: int) -> None:
        """ioread16_rep(addr, dst, count)."""
        self._rep("ioread16_rep", addr, dst, count, 2, False)

    @EXPORT_SYMBOL
    def ioread32_rep(self, addr: int, dst: int, count: int) -> None:
        """ioread32_rep(addr, dst, count)."""
        self._rep("ioread32_rep", addr, dst, count, 4, False)

    @EXPORT_SYMBOL
    def iowrite8_rep(self, addr: int, src: int, count: int) -> None:
        """iowrite8_rep(addr, src, count)."""
        self._rep("iowrite8_rep", addr, src, count, 1, True)

    @EXPORT_SYMBOL
    def iowrite16_rep(self, addr: int, src: int, count: int) -> None:
        """iowrite16_rep(addr, src, count)."""
        self._rep("iowrite16_rep", addr, src, count, 2, True)

    @EXPORT_SYMBOL
    def iowrite32_rep(self, addr: int, src: int, count: int) -> None:
        """iowrite32_rep(addr, src, count)."""
        self._rep("iowrite32_rep", addr, src, count, 4, True)

    @EXPORT_SYMBOL
    def ioport_map(self, port: int, nr: int) -> int:
        """ioport_map(port, nr): the __iomem cookie of I/O ports (0 when out of range)."""
        if not self.generic:
            from kmemsim.include.asm_generic.io import ARM_PCI_IOBASE

            return ARM_PCI_IOBASE + (port & self.k.ioport_resource.end)
        if port > PIO_MASK:
            return 0
        return port + PIO_OFFSET

    @EXPORT_SYMBOL
    def ioport_unmap(self, addr: int) -> None:
        """ioport_unmap(addr): nothing to undo."""
