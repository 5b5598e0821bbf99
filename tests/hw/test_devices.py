"""hw/: the simulated buses and devices, and the port I/O accessors (asm-generic/io.h)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import kmemsim
from kmemsim.hw.devices import (
    DMA_CTRL,
    DMA_CTRL_START,
    DMA_DESC,
    DMA_DESC_DONE,
    DMA_DESC_LO,
    DMA_STATUS,
    DMA_STATUS_DONE,
    DMA_STATUS_ERROR,
    GPIO_DATAIN,
    GPIO_OE,
    GPIO_SETDATAOUT,
    TIMER_TCLR,
    TIMER_TCRR,
    OmapGPIO,
)
from kmemsim.hw.mmio import BusError, MMIODevice
from kmemsim.include.asm_generic.io import BARRIERS, IoAccess


def test_serial_port_0x3f8_transmits_to_the_console_and_receives() -> None:
    k = kmemsim.boot("x86_64")
    for c in b"hello\n":
        while not k.inb(0x3F8 + 5) & 0x20:  # LSR.THRE
            pass
        k.outb(c, 0x3F8)
    assert k.console() == "hello\n"
    uart = k.machine.device_models["serial8250"]
    uart.receive(b"ok")
    assert k.inb(0x3FD) & 0x01  # LSR.DR
    assert bytes([k.inb(0x3F8), k.inb(0x3F8)]) == b"ok"
    assert not k.inb(0x3FD) & 0x01
    k.outb(0x80, 0x3FB)  # LCR.DLAB: divisor latch
    k.outb(0x01, 0x3F8)
    assert k.console() == "hello\n"  # a divisor write is not a character


def test_an_undecoded_port_reads_all_ones_and_writes_vanish() -> None:
    k = kmemsim.boot("x86_64")
    assert (k.inb(0x2F8), k.inw(0x2F8), k.inl(0x2F8)) == (0xFF, 0xFFFF, 0xFFFFFFFF)
    k.outl(0x12345678, 0x2F8)
    assert k.machine.bus.read(0xFED00000, 4) == b"\xff\xff\xff\xff"  # x86 MMIO master abort


def test_arm_has_no_port_space_and_its_interconnect_refuses_undecoded_addresses() -> None:
    k = kmemsim.boot("beaglebone-black")
    with pytest.raises(BusError):
        k.machine.bus.read(0x40000000, 4)
    with pytest.raises(kmemsim.Oops):
        k.outb(0x41, 0x3F8)  # writeb(PCI_IOBASE + port): no PCI I/O window is mapped
    assert "Unable to handle kernel paging request at virtual address fee003f8 when write" in (
        k.dmesg()
    )


def test_cmos_rtc_index_and_data_ports() -> None:
    k = kmemsim.boot("x86_64")
    k.outb(0x0A, 0x70)
    assert k.inb(0x71) == 0x26  # register A: 32.768 kHz divider, 1024 Hz rate
    k.outb(0x0D, 0x70)
    assert k.inb(0x71) & 0x80  # register D: valid RAM and time
    k.outb(0x20, 0x70)
    k.outb(0x5A, 0x71)  # NVRAM
    k.outb(0x20, 0x70)
    assert k.inb(0x71) == 0x5A
    k.clock.advance(75 * 1_000_000_000)  # 75 s after boot
    k.outb(0x00, 0x70)
    assert k.inb(0x71) == 0x15  # seconds, BCD
    k.outb(0x02, 0x70)
    assert k.inb(0x71) == 0x01  # minutes
    k.outb(0x09, 0x70)
    assert k.inb(0x71) == 0x26  # year 2026, BCD


def test_string_port_io_moves_memory_without_swapping() -> None:
    k = kmemsim.boot("x86_64")
    buf = k.kmalloc(16, kmemsim.GFP_KERNEL)
    k.write(buf, b"ABCD")
    k.outsb(0x3F8, buf, 4)
    assert k.console() == "ABCD"
    uart = k.machine.device_models["serial8250"]
    uart.receive(b"wxyz")
    k.insb(0x3F8, buf + 8, 4)
    assert k.read(buf + 8, 4) == b"wxyz"


def test_big_endian_block_puts_the_msb_first_on_the_bus() -> None:
    k = kmemsim.boot("x86_64")
    bus = k.machine.bus
    assert bus.read(0xFEBF0000, 4) == bytes.fromhex("12345678")
    assert bus.read(0xFEBF0000, 1) == b"\x12"  # the byte at the lowest address
    bus.write(0xFEBF0004, (0xCAFEF00D).to_bytes(4, "big"))
    assert bus.read(0xFEBF0004, 4) == bytes.fromhex("cafef00d")
    assert bus.read(0xFEBF0008, 4) == (1).to_bytes(4, "big")  # COUNT


def test_gpio_bank_takes_32_bit_accesses_only() -> None:
    k = kmemsim.boot("beaglebone-black")
    gpio = k.machine.device_models["44e07000.gpio"]
    assert isinstance(gpio, OmapGPIO)
    base, bus = 0x44E07000, k.machine.bus
    assert int.from_bytes(bus.read(base, 4), "little") == 0x50600801
    bus.write(base + GPIO_OE, (0xFFFFFFFE).to_bytes(4, "little"))  # pin 0 an output
    bus.write(base + GPIO_SETDATAOUT, (1).to_bytes(4, "little"))
    gpio.set_input(5, 1)
    assert int.from_bytes(bus.read(base + GPIO_DATAIN, 4), "little") == (1 << 5) | 1
    assert gpio.level(0) == 1
    with pytest.raises(BusError, match="does not take 1-byte accesses"):
        bus.read(base + GPIO_DATAIN, 1)


def test_timer_counts_at_24_mhz_on_the_simulated_clock() -> None:
    k = kmemsim.boot("beaglebone-black")
    base, bus = 0x48040000, k.machine.bus
    bus.write(base + TIMER_TCLR, (1).to_bytes(4, "little"))  # start
    k.clock.advance(1_000_000)  # 1 ms
    assert int.from_bytes(bus.read(base + TIMER_TCRR, 4), "little") == 24_000


def test_dma_engine_copies_the_buffers_its_descriptors_in_ram_describe() -> None:
    k = kmemsim.boot("beaglebone-black")
    src = k.kmalloc(64, kmemsim.GFP_KERNEL)
    dst = k.kzalloc(64, kmemsim.GFP_KERNEL)
    desc = k.kzalloc(64, kmemsim.GFP_KERNEL)
    k.write(src, b"DMA payload!")
    pa = k.virt_to_phys
    d2 = desc + DMA_DESC.size
    k.write(desc, DMA_DESC.pack(pa(src), pa(dst), 6, 0, pa(d2)))
    k.write(d2, DMA_DESC.pack(pa(src) + 6, pa(dst) + 32, 6, 0, 0))
    base, bus = 0x50001000, k.machine.bus
    bus.write(base + DMA_DESC_LO, pa(desc).to_bytes(4, "little"))
    bus.write(base + DMA_CTRL, DMA_CTRL_START.to_bytes(4, "little"))
    assert int.from_bytes(bus.read(base + DMA_STATUS, 4), "little") == DMA_STATUS_DONE
    assert k.read(dst, 6) == b"DMA pa" and k.read(dst + 32, 6) == b"yload!"
    (flags,) = struct.unpack("<I", k.read(desc + 20, 4))
    assert flags & DMA_DESC_DONE
    # A descriptor pointing outside RAM stops the engine with ERROR.
    k.write(desc, DMA_DESC.pack(0x10000000, pa(dst), 4, 0, 0))
    bus.write(base + DMA_CTRL, DMA_CTRL_START.to_bytes(4, "little"))
    assert int.from_bytes(bus.read(base + DMA_STATUS, 4), "little") == DMA_STATUS_ERROR


def test_a_users_device_in_a_few_lines() -> None:
    class Counter(MMIODevice):
        size = 0x10

        def read_reg(self, offset: int, size: int) -> int:
            self.regs[offset] = self.regs.get(offset, 0) + 1
            return self.regs[offset]

    k = kmemsim.boot("x86_64")
    k.machine.add_device(Counter("counter"), 0xFED10000)
    assert [k.machine.bus.read(0xFED10000, 4) for _ in range(2)] == [
        (1).to_bytes(4, "little"),
        (2).to_bytes(4, "little"),
    ]
    with pytest.raises(ValueError, match="overlaps counter"):
        k.machine.add_device(Counter("other"), 0xFED10008)


def test_port_accesses_are_recorded_with_their_barriers() -> None:
    k = kmemsim.boot("x86_64")
    k.io_trace = []
    k.outb(0x0A, 0x70)
    value = k.inb(0x71)
    assert k.io_trace == [
        IoAccess("outb", 0x70, 1, 0x0A, (), ()),
        IoAccess("inb", 0x71, 1, value, (), ()),
    ]
    # ARM's inb/outb are readb/writeb of PCI_IOBASE: rmb() after, wmb() before.
    assert BARRIERS["arm"]["in"] == ((), ("rmb()",))
    assert BARRIERS["arm"]["out"] == (("wmb()",), ())


def test_a_profile_device_with_an_unknown_model_is_one_error_line(tmp_path: Path) -> None:
    src = Path(kmemsim.__file__).parent / "profiles" / "x86_64.toml"
    path = tmp_path / "bad.toml"
    path.write_text(src.read_text().replace('model = "be-regs"', 'model = "bogus"'))
    with pytest.raises(kmemsim.KmemsimError, match="unknown model 'bogus'"):
        kmemsim.boot(str(path))
