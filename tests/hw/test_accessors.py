"""The MMIO accessors (include/asm-generic/io.h, arch io.h) and lib/iomap.c's ioread/iowrite.

The device registers are mapped with a kernel PTE (what ioremap() installs) at
an address of the vmalloc area, so the accessors go through the kernel page
tables to the device, as the kernel's do.
"""

from __future__ import annotations

import pytest

import kmemsim
from kmemsim.hw.devices import BigEndianRegs

# The slides' "MMIO access functions summary" (and device-io.rst): which families imply
# memory barriers.
WITH_BARRIERS = ["readl", "writel", "ioread32", "iowrite32", "ioread32be", "iowrite32be"]
WITHOUT_BARRIERS = ["readl_relaxed", "writel_relaxed", "__raw_readl", "__raw_writel"]


def _map(k: kmemsim.Kernel, phys: int) -> int:
    v = k.vm_layout.vmalloc_start + 0x200000 + (phys & 0xFFF)
    k.address_space.map_page(v, phys & ~0xFFF)
    return v


@pytest.fixture(params=["x86_64", "beaglebone-black"])
def be_dev(request: pytest.FixtureRequest) -> tuple[kmemsim.Kernel, int, BigEndianRegs]:
    k = kmemsim.boot(request.param)
    dev = next(d for d in k.machine.bus.devices() if isinstance(d, BigEndianRegs))
    return k, _map(k, dev.base), dev


def test_a_big_endian_register_reads_right_only_through_the_be_accessors(be_dev) -> None:
    k, regs, _dev = be_dev
    assert k.ioread32be(regs) == 0x12345678  # the value the device holds
    assert k.readl(regs) == 0x78563412  # readl assumes a little-endian device
    assert k.__raw_readl(regs) == 0x78563412  # the bus bytes in the (little-endian) CPU's order
    assert k.readl_relaxed(regs) == 0x78563412
    assert k.ioread16be(regs) == 0x1234 and k.readw(regs) == 0x3412
    assert k.readb(regs) == 0x12  # one byte has no order


def test_writes_reach_a_big_endian_device_swapped_unless_be(be_dev) -> None:
    k, regs, dev = be_dev
    k.iowrite32be(0xCAFEF00D, regs + 4)
    assert dev.read_reg(4, 4) == 0xCAFEF00D
    k.writel(0xCAFEF00D, regs + 4)
    assert dev.read_reg(4, 4) == 0x0DF0FECA
    k.__raw_writel(0xCAFEF00D, regs + 4)
    assert dev.read_reg(4, 4) == 0x0DF0FECA
    k.writeq(0x0102030405060708, regs + 0x10)
    assert k.readq(regs + 0x10) == 0x0102030405060708
    assert k.ioread64be(regs + 0x10) == 0x0807060504030201
    assert dev.read_reg(8, 4) == 3  # COUNT: three writes to SCRATCH


@pytest.mark.parametrize("profile", ["x86_64", "beaglebone-black"])
def test_each_accessor_records_the_barriers_the_table_gives_it(profile: str) -> None:
    k = kmemsim.boot(profile)
    dev = next(d for d in k.machine.bus.devices() if isinstance(d, BigEndianRegs))
    regs = _map(k, dev.base)
    k.io_trace = []
    for name in WITH_BARRIERS + WITHOUT_BARRIERS:
        fn = getattr(k, name)
        if "write" in name:
            fn(0, regs + 4)
        else:
            fn(regs)
    records = {r.accessor: r for r in k.io_trace}
    for name in WITH_BARRIERS:
        assert records[name].before or records[name].after, name
    for name in WITHOUT_BARRIERS:
        assert records[name].before == records[name].after == (), name
    if profile == "beaglebone-black":
        # arch/arm/include/asm/io.h: readl() = readl_relaxed() + __iormb() (rmb()),
        # writel() = __iowmb() (wmb()) + writel_relaxed().
        assert (records["readl"].before, records["readl"].after) == ((), ("rmb()",))
        assert (records["writel"].before, records["writel"].after) == (("wmb()",), ())
        assert records["ioread32be"].after == ("rmb()",)
    else:
        # x86 build_mmio_read/write: the "memory" clobber, a compiler barrier only.
        assert records["readl"].before == records["readl"].after == ("barrier()",)


def test_string_forms_and_memcpy_io_move_bytes_unswapped(be_dev) -> None:
    k, regs, dev = be_dev
    buf = k.kzalloc(64, kmemsim.GFP_KERNEL)
    k.readsl(regs, buf, 2)  # the ID register twice: its bytes as they are on the bus
    assert k.read(buf, 8) == bytes.fromhex("1234567812345678")
    k.write(buf, b"Hello, MMIO!")
    k.memcpy_toio(regs + 0x21, buf, 12)  # unaligned start: bytes, then words
    assert bytes(dev.mem[0x21:0x2D]) == b"Hello, MMIO!"
    k.memcpy_fromio(buf + 32, regs + 0x21, 12)
    assert k.read(buf + 32, 12) == b"Hello, MMIO!"
    k.memset_io(regs + 0x40, 0xA5, 7)
    assert bytes(dev.mem[0x40:0x48]) == b"\xa5" * 7 + b"\x00"
    k.writesw(regs + 0x60, buf, 2)  # FIFO-style: the last item stays
    assert bytes(dev.mem[0x60:0x62]) == b"ll"


def test_arm_device_that_refuses_a_size_is_an_external_abort() -> None:
    k = kmemsim.boot("beaglebone-black")
    gpio = _map(k, 0x44E07000)
    assert k.readl(gpio) == 0x50600801
    with pytest.raises(kmemsim.Oops):
        k.readb(gpio + 0x138)
    log = k.dmesg()
    assert "Unhandled fault: external abort on non-linefetch (0x1008) at 0x" in log
    assert "Internal error: : 1008 [#1] SMP ARM" in log


def test_an_accessor_on_an_address_nothing_maps_oopses() -> None:
    k = kmemsim.boot("x86_64")
    with pytest.raises(kmemsim.Oops):
        k.readl(0xFEBF0000)  # a physical address is no __iomem pointer
    assert "BUG: unable to handle page fault for address: 00000000febf0000" in k.dmesg()


def test_ioread_iowrite_take_port_cookies_and_warn_on_bad_ones() -> None:
    k = kmemsim.boot("x86_64")
    com1 = k.ioport_map(0x3F8, 8)
    assert com1 == 0x103F8
    assert k.ioread8(com1 + 5) & 0x60 == 0x60  # LSR: THRE | TEMT
    for c in b"ok\n":
        k.iowrite8(c, com1)
    assert k.console() == "ok\n"
    assert k.ioread32(0x100) == 0xFFFFFFFF
    assert "Bad IO access at port 0x100 (return inl(port))" in k.dmesg()
    k.iowrite16(1, 0x200)
    assert "Bad IO access at port 0x200 (outw(val,port))" in k.dmesg()
    for _ in range(20):
        k.ioread8(0x300)
    assert k.dmesg().count("Bad IO access at port 0x300") == 8  # ten WARNs in all


def test_arm_port_cookies_point_into_the_unmapped_pci_io_window() -> None:
    k = kmemsim.boot("beaglebone-black")
    cookie = k.ioport_map(0x3F8, 8)
    assert cookie == 0xFEE003F8
    with pytest.raises(kmemsim.Oops):
        k.ioread8(cookie)
