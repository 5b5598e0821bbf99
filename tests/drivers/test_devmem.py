"""drivers/char/mem.c: /dev/mem with STRICT_DEVMEM / IO_STRICT_DEVMEM (x86 and ARM rules)."""

from __future__ import annotations

import errno

import pytest
from click.testing import CliRunner

import kmemsim
from kmemsim.cli.main import cli
from kmemsim.drivers.char.mem import devmem_is_allowed


def test_x86_strict_devmem_refuses_ram_beyond_the_first_mib_and_zeros_it_below() -> None:
    k = kmemsim.boot("x86_64")
    assert k.devmem is not None
    mark = len(k.log)
    with pytest.raises(PermissionError) as e:
        k.devmem.read(0x1000000, 16)  # Kernel code, in System RAM
    assert e.value.errno == errno.EPERM
    with pytest.raises(PermissionError):
        k.devmem.mmap(0x20000000, 4096)
    assert k.dmesg(mark) == ""  # 6.18 logs nothing for a refused access
    # The first MiB: RAM reads as zeros (allowed == 2), writes are dropped.
    k.machine.ram.write(0x2000, b"secret")
    assert k.devmem.read(0x2000, 6) == bytes(6)
    k.devmem.write(0x2000, b"XXXXXX")
    assert k.machine.ram.read(0x2000, 6) == b"secret"
    # Page 0 is e820 "Reserved", not System RAM: readable as it is, as is the BIOS ROM.
    k.machine.ram.write(0x400, b"BDA")
    assert k.devmem.read(0x400, 3) == b"BDA"
    assert [devmem_is_allowed(k, pfn) for pfn in (0x0, 0x9F, 0xF0, 0x100, 0xFEBF0)] == [
        1,
        2,
        1,
        0,
        1,
    ]


def test_x86_without_strict_devmem_ram_is_open() -> None:
    k = kmemsim.boot("x86_64", config={"STRICT_DEVMEM": False})
    assert k.devmem is not None
    k.machine.ram.write(0x1000000, b"\x0f\x1f")
    assert k.devmem.read(0x1000000, 2) == b"\x0f\x1f"
    k.devmem.write(0x2000000, b"hi")
    assert k.machine.ram.read(0x2000000, 2) == b"hi"


@pytest.mark.parametrize("profile", ["x86_64", "beaglebone-black"])
def test_io_strict_devmem_refuses_a_busy_region_and_allows_it_without(profile: str) -> None:
    base = 0xFEBF0000 if profile == "x86_64" else 0x50000000
    for io_strict, refused in ((True, True), (False, False)):
        k = kmemsim.boot(profile, config={"IO_STRICT_DEVMEM": io_strict})
        assert k.devmem is not None
        k.devmem.mmap(base, 4096).munmap()  # idle: allowed either way
        assert k.request_mem_region(base, 0x100, "fpga") is not None
        if refused:
            with pytest.raises(PermissionError):
                k.devmem.mmap(base, 4096)
        else:
            m = k.devmem.mmap(base, 4096)
            assert m.read(0, 4) == 0x78563412  # the big-endian ID, loaded little-endian


def test_an_exclusive_region_is_refused_even_without_io_strict() -> None:
    k = kmemsim.boot("x86_64")
    assert k.devmem is not None
    assert k.request_mem_region_exclusive(0xFEBF1000, 0x100, "dma") is not None
    with pytest.raises(PermissionError):
        k.devmem.mmap(0xFEBF1000, 4096)


def test_arm_refuses_ram_and_reads_registers_through_mmap() -> None:
    k = kmemsim.boot("beaglebone-black")
    assert k.devmem is not None
    with pytest.raises(PermissionError):
        k.devmem.read(0x80100000, 4)
    with pytest.raises(OSError) as e:
        k.devmem.read(0x44E07000, 4)  # below PHYS_OFFSET: not valid for read()
    assert e.value.errno == errno.EFAULT
    # 44e07000 is busy (gpio0's driver) but STRICT_DEVMEM alone does not refuse it.
    gpio = k.devmem.mmap(0x44E07000, 4096)
    assert gpio.read(0, 4) == 0x50600801
    k2 = kmemsim.boot("beaglebone-black", config={"STRICT_DEVMEM": False})
    assert k2.devmem is not None and k2.devmem.read(0x80100000, 4) == bytes(4)


def test_the_captured_kernel_has_no_dev_mem() -> None:
    assert kmemsim.boot("linux-6.18-x86_64").devmem is None


def test_kmemsim_devmem_mimics_busybox() -> None:
    runner = CliRunner()
    r = runner.invoke(cli, ["devmem", "--profile", "beaglebone-black", "0x44e07000"])
    assert (r.exit_code, r.output) == (0, "0x50600801\n")
    r = runner.invoke(cli, ["devmem", "--profile", "beaglebone-black", "0x50000000", "8"])
    assert r.output == "0x12\n"
    r = runner.invoke(cli, ["devmem", "--profile", "beaglebone-black", "0x50000000", "64"])
    assert r.output == "0x0000000078563412\n"
    r = runner.invoke(cli, ["devmem", "0x1000000"])
    assert r.exit_code == 1 and "devmem: mmap: Operation not permitted" in r.output
    r = runner.invoke(cli, ["devmem", "0x1000000", "32", "0x1"])
    assert r.exit_code == 1
    r = runner.invoke(cli, ["devmem", "--config", "STRICT_DEVMEM=n", "0x1000000", "16", "0xbeef"])
    assert (r.exit_code, r.output) == (0, "")
    r = runner.invoke(cli, ["devmem", "--profile", "linux-6.18-x86_64", "0x1000"])
    assert r.exit_code == 1 and "can't open '/dev/mem'" in r.output
    r = runner.invoke(cli, ["devmem", "zzz"])
    assert r.exit_code == 2
