"""The simulated devices a profile can place on a machine (its [[device]] tables' `model`).

* ns16550: an 8250/16550A-compatible UART (include/uapi/linux/serial_reg.h),
  registers `8 << reg_shift` bytes apart: reg_shift 0 on the PC's port
  0x3f8, 2 on the AM335x (32-bit register spacing). Bytes written to THR are
  "transmitted": a console UART's land in the machine's console output.
* dmtimer: the AM335x DMTimer (a 32-bit up-counter at 24 MHz: TCLR start and
  auto-reload, TCRR the counter, TLDR the reload value).
* omap-gpio: an OMAP4/AM335x GPIO bank of 32 pins (OE, DATAIN, DATAOUT,
  SETDATAOUT, CLEARDATAOUT), 32-bit accesses only; `set_input(pin, level)`
  drives a pin from outside.
* be-regs: a big-endian register block (an ID register 0x12345678, a scratch
  register and a byte-wise status), for the be accessors.
* dma: a DMA engine that copies between RAM buffers described by a chain of
  descriptors in RAM, read and written as a bus master.
* mc146818: the PC's CMOS RTC at ports 0x70 (index) / 0x71 (data), BCD time
  from the machine's clock and 114 bytes of NVRAM.
"""

from __future__ import annotations

import datetime as _dt
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kmemsim.hw.mmio import MMIODevice

if TYPE_CHECKING:
    from kmemsim.hw.physmem import PhysicalMemory

# serial_reg.h register numbers and bits
UART_RX = 0
UART_TX = 0
UART_DLL = 0
UART_IER = 1
UART_DLM = 1
UART_IIR = 2
UART_FCR = 2
UART_LCR = 3
UART_MCR = 4
UART_LSR = 5
UART_MSR = 6
UART_SCR = 7
UART_LCR_DLAB = 0x80
UART_LSR_DR = 0x01
UART_LSR_THRE = 0x20
UART_LSR_TEMT = 0x40
UART_IIR_NO_INT = 0x01
UART_IIR_FIFO_ENABLED = 0xC0
UART_FCR_ENABLE_FIFO = 0x01
UART_MSR_DCD = 0x80
UART_MSR_DSR = 0x20
UART_MSR_CTS = 0x10


class UART16550(MMIODevice):
    """An 8250/16550A UART: THR/RBR, IER, IIR/FCR, LCR (DLAB), MCR, LSR, MSR, SCR."""

    def __init__(self, name: str, reg_shift: int = 0, console: bool = False, **params: Any) -> None:
        super().__init__(name, **params)
        self.reg_shift = reg_shift
        self.size = 8 << reg_shift
        self.access_sizes = frozenset({1}) if reg_shift == 0 else frozenset({1, 2, 4})
        self.console = console
        self.transmitted = bytearray()
        self.rx = bytearray()
        self.ier = 0
        self.lcr = 0x03  # 8N1
        self.mcr = 0
        self.scr = 0
        self.fcr = 0
        self.dll = 0
        self.dlm = 0
        self.output: Callable[[bytes], None] | None = None

    def receive(self, data: bytes) -> None:
        """Bytes arriving on the line: RBR gives them, LSR.DR says they are there."""
        self.rx += data

    def read_reg(self, offset: int, size: int) -> int:
        reg = offset >> self.reg_shift
        if offset & ((1 << self.reg_shift) - 1):
            return 0
        dlab = self.lcr & UART_LCR_DLAB
        if reg == UART_RX:
            if dlab:
                return self.dll
            if self.rx:
                c = self.rx[0]
                del self.rx[0]
                return c
            return 0
        if reg == UART_IER:
            return self.dlm if dlab else self.ier
        if reg == UART_IIR:
            fifo = UART_IIR_FIFO_ENABLED if self.fcr & UART_FCR_ENABLE_FIFO else 0
            return fifo | UART_IIR_NO_INT
        if reg == UART_LCR:
            return self.lcr
        if reg == UART_MCR:
            return self.mcr
        if reg == UART_LSR:
            return UART_LSR_THRE | UART_LSR_TEMT | (UART_LSR_DR if self.rx else 0)
        if reg == UART_MSR:
            return UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS
        return self.scr

    def write_reg(self, offset: int, size: int, value: int) -> None:
        reg = offset >> self.reg_shift
        if offset & ((1 << self.reg_shift) - 1):
            return
        value &= 0xFF
        dlab = self.lcr & UART_LCR_DLAB
        if reg == UART_TX:
            if dlab:
                self.dll = value
                return
            self.transmitted.append(value)
            if self.output is not None:
                self.output(bytes([value]))
        elif reg == UART_IER:
            if dlab:
                self.dlm = value
            else:
                self.ier = value & 0x0F
        elif reg == UART_FCR:
            self.fcr = value
        elif reg == UART_LCR:
            self.lcr = value
        elif reg == UART_MCR:
            self.mcr = value & 0x1F
        elif reg == UART_SCR:
            self.scr = value


# AM335x TRM, DMTimer registers
TIMER_TIDR = 0x00
TIMER_TCLR = 0x38
TIMER_TCRR = 0x3C
TIMER_TLDR = 0x40
TIMER_TCLR_ST = 1 << 0
TIMER_TCLR_AR = 1 << 1


class DMTimer(MMIODevice):
    """An AM335x DMTimer: TCRR counts up at `rate` Hz from TLDR while TCLR.ST is set."""

    size = 0x400
    access_sizes = frozenset({4})
    TIDR_VALUE = 0x4FFF1301

    def __init__(self, name: str, rate: int = 24_000_000, **params: Any) -> None:
        super().__init__(name, **params)
        self.rate = rate
        self.tclr = 0
        self.tldr = 0
        self.count_at_start = 0
        self.started_ns = 0

    def _counter(self) -> int:
        if not self.tclr & TIMER_TCLR_ST:
            return self.count_at_start
        ticks = (self.now_ns() - self.started_ns) * self.rate // 1_000_000_000
        value = self.count_at_start + ticks
        if value < 1 << 32:
            return value
        if self.tclr & TIMER_TCLR_AR:  # overflow reloads TLDR
            span = (1 << 32) - self.tldr
            return self.tldr + (value - (1 << 32)) % span
        return value & 0xFFFFFFFF

    def read_reg(self, offset: int, size: int) -> int:
        if offset == TIMER_TIDR:
            return self.TIDR_VALUE
        if offset == TIMER_TCLR:
            return self.tclr
        if offset == TIMER_TCRR:
            return self._counter()
        if offset == TIMER_TLDR:
            return self.tldr
        return self.regs.get(offset, 0)

    def write_reg(self, offset: int, size: int, value: int) -> None:
        if offset == TIMER_TCLR:
            self.count_at_start = self._counter()
            self.started_ns = self.now_ns()
            self.tclr = value
        elif offset == TIMER_TCRR:
            self.count_at_start = value
            self.started_ns = self.now_ns()
        elif offset == TIMER_TLDR:
            self.tldr = value
        else:
            self.regs[offset] = value


# OMAP4/AM335x GPIO registers (drivers/gpio/gpio-omap.c, OMAP4_GPIO_*)
GPIO_REVISION = 0x000
GPIO_OE = 0x134
GPIO_DATAIN = 0x138
GPIO_DATAOUT = 0x13C
GPIO_CLEARDATAOUT = 0x190
GPIO_SETDATAOUT = 0x194


class OmapGPIO(MMIODevice):
    """A 32-pin GPIO bank: OE (1 = input), DATAIN, DATAOUT and its set/clear registers."""

    size = 0x1000
    access_sizes = frozenset({4})
    REVISION = 0x50600801

    def __init__(self, name: str, **params: Any) -> None:
        super().__init__(name, **params)
        self.oe = 0xFFFFFFFF
        self.dataout = 0
        self.pins_in = 0

    def set_input(self, pin: int, level: int) -> None:
        """Drive pin `pin` from outside (seen in DATAIN where OE makes it an input)."""
        if level:
            self.pins_in |= 1 << pin
        else:
            self.pins_in &= ~(1 << pin)

    def level(self, pin: int) -> int:
        """What the pin carries: the output latch for an output, the outside for an input."""
        mask = 1 << pin
        return int(bool((self.dataout if not self.oe & mask else self.pins_in) & mask))

    def read_reg(self, offset: int, size: int) -> int:
        if offset == GPIO_REVISION:
            return self.REVISION
        if offset == GPIO_OE:
            return self.oe
        if offset == GPIO_DATAIN:
            return (self.pins_in & self.oe) | (self.dataout & ~self.oe & 0xFFFFFFFF)
        if offset in (GPIO_DATAOUT, GPIO_SETDATAOUT, GPIO_CLEARDATAOUT):
            return self.dataout
        return self.regs.get(offset, 0)

    def write_reg(self, offset: int, size: int, value: int) -> None:
        if offset == GPIO_OE:
            self.oe = value
        elif offset == GPIO_DATAOUT:
            self.dataout = value
        elif offset == GPIO_SETDATAOUT:
            self.dataout |= value
        elif offset == GPIO_CLEARDATAOUT:
            self.dataout &= ~value
        elif offset != GPIO_DATAIN:
            self.regs[offset] = value


class BigEndianRegs(MMIODevice):
    """A big-endian register block: ID (0x00) = 0x12345678, SCRATCH (0x04), COUNT (0x08)
    counts the writes to SCRATCH, a 64-bit SCRATCH64 at 0x10; 1-, 2-, 4- and 8-byte accesses.
    A sub-word read gives the bytes at that address, as a big-endian bus does."""

    size = 0x100
    big_endian = True
    access_sizes = frozenset({1, 2, 4, 8})
    ID = 0x12345678

    def __init__(self, name: str, **params: Any) -> None:
        super().__init__(name, **params)
        self.mem = bytearray(self.size)
        self.mem[0:4] = self.ID.to_bytes(4, "big")

    def bus_read(self, offset: int, size: int) -> bytes:
        return bytes(self.mem[offset : offset + size])

    def bus_write(self, offset: int, data: bytes) -> None:
        if offset < 4:
            return  # ID is read-only
        self.mem[offset : offset + len(data)] = data
        if 4 <= offset < 8:
            count = int.from_bytes(self.mem[8:12], "big") + 1
            self.mem[8:12] = (count & 0xFFFFFFFF).to_bytes(4, "big")

    def read_reg(self, offset: int, size: int) -> int:
        return int.from_bytes(self.bus_read(offset, size), "big")

    def write_reg(self, offset: int, size: int, value: int) -> None:
        self.bus_write(offset, value.to_bytes(size, "big"))


# DMA engine registers and descriptor layout (little-endian)
DMA_ID = 0x00
DMA_CTRL = 0x04
DMA_STATUS = 0x08
DMA_DESC_LO = 0x0C
DMA_DESC_HI = 0x10
DMA_COUNT = 0x14
DMA_BYTES = 0x18
DMA_CTRL_START = 1 << 0
DMA_CTRL_RESET = 1 << 1
DMA_STATUS_BUSY = 1 << 0
DMA_STATUS_DONE = 1 << 1
DMA_STATUS_ERROR = 1 << 2
DMA_DESC_DONE = 1 << 31
# struct dma_desc { u64 src; u64 dst; u32 len; u32 flags; u64 next; }  (32 bytes)
DMA_DESC = struct.Struct("<QQIIQ")


class DMAEngine(MMIODevice):
    """A memory-to-memory DMA engine: writing CTRL.START runs the descriptor chain at DESC.

    Each descriptor (32 bytes, little-endian, in RAM) is {u64 src, u64 dst, u32
    len, u32 flags, u64 next}; the engine copies len bytes from src to dst
    (physical addresses, as a bus master sees them), sets DMA_DESC_DONE in the
    descriptor's flags, and follows next until 0. STATUS says DONE (or ERROR
    for an address that is not RAM, or a chain longer than `max_chain`);
    COUNT and BYTES count descriptors and bytes done."""

    size = 0x100
    access_sizes = frozenset({4})
    ID = 0x444D4131  # "DMA1"

    def __init__(self, name: str, ram: PhysicalMemory | None = None, **params: Any) -> None:
        super().__init__(name, **params)
        self.ram = ram
        self.is_ram: Callable[[int, int], bool] = lambda addr, size: True
        self.status = 0
        self.desc = 0
        self.count = 0
        self.bytes = 0
        self.max_chain = int(params.get("max_chain", 4096))

    def read_reg(self, offset: int, size: int) -> int:
        return {
            DMA_ID: self.ID,
            DMA_CTRL: 0,
            DMA_STATUS: self.status,
            DMA_DESC_LO: self.desc & 0xFFFFFFFF,
            DMA_DESC_HI: self.desc >> 32,
            DMA_COUNT: self.count,
            DMA_BYTES: self.bytes & 0xFFFFFFFF,
        }.get(offset, 0)

    def write_reg(self, offset: int, size: int, value: int) -> None:
        if offset == DMA_DESC_LO:
            self.desc = (self.desc & ~0xFFFFFFFF) | value
        elif offset == DMA_DESC_HI:
            self.desc = (self.desc & 0xFFFFFFFF) | (value << 32)
        elif offset == DMA_CTRL:
            if value & DMA_CTRL_RESET:
                self.status = self.count = self.bytes = 0
            if value & DMA_CTRL_START:
                self.run()

    def run(self) -> None:
        """Walk the chain from DESC, copying each buffer."""
        ram = self.ram
        self.status = DMA_STATUS_BUSY
        addr = self.desc
        done = 0
        while addr:
            if ram is None or not self.is_ram(addr, DMA_DESC.size) or done >= self.max_chain:
                self.status = DMA_STATUS_ERROR
                return
            src, dst, length, flags, nxt = DMA_DESC.unpack(ram.read(addr, DMA_DESC.size))
            if not (self.is_ram(src, length) and self.is_ram(dst, length)):
                self.status = DMA_STATUS_ERROR
                return
            ram.write(dst, ram.read(src, length))
            ram.write(addr + 20, struct.pack("<I", flags | DMA_DESC_DONE))
            self.count += 1
            self.bytes += length
            done += 1
            addr = nxt
        self.status = DMA_STATUS_DONE


# MC146818 CMOS RTC (include/linux/mc146818rtc.h)
RTC_SECONDS = 0x00
RTC_MINUTES = 0x02
RTC_HOURS = 0x04
RTC_DAY_OF_WEEK = 0x06
RTC_DAY_OF_MONTH = 0x07
RTC_MONTH = 0x08
RTC_YEAR = 0x09
RTC_REG_A = 0x0A
RTC_REG_B = 0x0B
RTC_REG_C = 0x0C
RTC_REG_D = 0x0D
RTC_CENTURY = 0x32
RTC_24H = 0x02
RTC_DM_BINARY = 0x04
RTC_VRT = 0x80


class MC146818(MMIODevice):
    """The PC's CMOS RTC behind ports 0x70 (index; bit 7 masks NMI) and 0x71 (data).

    The time is `epoch` (a profile param, ISO 8601) plus the machine's clock,
    in BCD unless register B says binary; bytes 0x0E-0x7F are NVRAM."""

    size = 2
    access_sizes = frozenset({1})

    def __init__(self, name: str, epoch: str = "2026-12-01T00:00:00", **params: Any) -> None:
        super().__init__(name, **params)
        self.epoch = _dt.datetime.fromisoformat(epoch)
        self.index = 0
        self.nvram = bytearray(128)
        self.nvram[RTC_REG_A] = 0x26
        self.nvram[RTC_REG_B] = RTC_24H
        self.nvram[RTC_REG_D] = RTC_VRT

    def _time_reg(self, reg: int) -> int | None:
        now = self.epoch + _dt.timedelta(microseconds=self.now_ns() // 1000)
        value = {
            RTC_SECONDS: now.second,
            RTC_MINUTES: now.minute,
            RTC_HOURS: now.hour,
            RTC_DAY_OF_WEEK: now.isoweekday() % 7 + 1,
            RTC_DAY_OF_MONTH: now.day,
            RTC_MONTH: now.month,
            RTC_YEAR: now.year % 100,
            RTC_CENTURY: now.year // 100,
        }.get(reg)
        if value is None or self.nvram[RTC_REG_B] & RTC_DM_BINARY:
            return value
        return (value // 10) << 4 | value % 10

    def read_reg(self, offset: int, size: int) -> int:
        if offset == 0:
            return 0xFF  # the index port is write-only
        reg = self.index & 0x7F
        t = self._time_reg(reg)
        if t is not None:
            return t
        return self.nvram[reg]

    def write_reg(self, offset: int, size: int, value: int) -> None:
        if offset == 0:
            self.index = value & 0xFF
            return
        reg = self.index & 0x7F
        if reg not in (RTC_REG_C, RTC_REG_D):
            self.nvram[reg] = value & 0xFF


# The models a profile's [[device]] may name.
MODELS: dict[str, type[MMIODevice]] = {
    "ns16550": UART16550,
    "dmtimer": DMTimer,
    "omap-gpio": OmapGPIO,
    "be-regs": BigEndianRegs,
    "dma": DMAEngine,
    "mc146818": MC146818,
}
