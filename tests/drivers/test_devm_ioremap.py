"""Managed regions and mappings (lib/devres.c, kernel/resource.c) on the BeagleBone's devices."""

from __future__ import annotations

import pytest

import kmemsim
from tests.drivers.support import counters


@pytest.fixture
def k() -> kmemsim.Kernel:
    return kmemsim.boot("beaglebone-black")


def uart_driver(k, seen):
    """A driver for the AM335x UART1, mapping its registers as the slides do."""

    def probe(pdev):
        base = k.devm_platform_ioremap_resource(pdev, 0)
        if kmemsim.IS_ERR(base):
            return kmemsim.PTR_ERR(base)
        seen.append(base)
        return 0

    return kmemsim.platform_driver("my_uart", probe, of_match_table=["ti,am3352-uart"])


def test_devm_platform_ioremap_resource_requests_and_maps(k):
    seen = []
    # someone holds part of UART3's registers: that probe will fail with -EBUSY
    held = k.request_mem_region(0x481A6000, 0x20, "serial")
    iomem_before = k.cat("/proc/iomem")
    drv = uart_driver(k, seen)
    k.platform_driver_register(drv)
    pdev = next(d for d in k.platform.bus_type.devices if d.name == "48022000.serial").container
    # the UARTs no built-in driver holds: UART1 and UART5 (UART3's region is busy)
    assert pdev.dev.driver is not None and len(seen) == 2 and held is not None
    base = seen[0]
    assert base & 0xFFF == 0  # the offset of 0x48022000 in its page
    assert "48022000-48022fff : 48022000.serial" in k.cat("/proc/iomem")
    assert "ioremap" in k.cat("/proc/vmallocinfo")
    assert (
        "my_uart 481a6000.serial: error -EBUSY: can't request region for resource "
        "[mem 0x481a6000-0x481a6fff]"
    ) in k.dmesg()
    assert "my_uart 481a6000.serial: probe with driver my_uart failed with error -16" in k.dmesg()
    # the console UART is the built-in omap8250's: my_uart never even probes it
    assert k.fs.readlink("/sys/devices/platform/44e09000.serial/driver").endswith("/omap8250")
    k.echo("48022000.serial", "/sys/bus/platform/drivers/my_uart/unbind")
    assert "48022000-48022fff" not in k.cat("/proc/iomem")
    assert "481aa000-481aafff : 481aa000.serial" in k.cat("/proc/iomem")
    k.platform_driver_unregister(drv)
    assert k.cat("/proc/iomem") == iomem_before


def test_ioremap_resource_errors(k):
    results = []

    def probe(pdev):
        dev = pdev.dev
        results.append(k.devm_ioremap_resource(dev, None))
        irq = k.platform_get_resource(pdev, kmemsim.IORESOURCE_IRQ, 0)
        results.append(k.devm_ioremap_resource(dev, irq))
        base, res = k.devm_platform_get_and_ioremap_resource(pdev, 0)
        results.append(base)
        results.append(res)
        return 0

    k.platform_driver_register(
        kmemsim.platform_driver("t", probe, of_match_table=["ti,am335x-timer"])
    )
    err_null, err_irq, base, res = results[:4]
    assert kmemsim.PTR_ERR(err_null) == -kmemsim.EINVAL
    assert kmemsim.PTR_ERR(err_irq) == -kmemsim.EINVAL
    assert err_null == 0xFFFFFFEA  # ERR_PTR(-EINVAL) as a 32-bit pointer
    assert not kmemsim.IS_ERR(base) and res.start == 0x48040000
    log = k.dmesg()
    assert "t 48040000.timer: error -EINVAL: invalid resource (null)" in log
    assert "t 48040000.timer: error -EINVAL: invalid resource [irq 68]" in log


def test_bind_unbind_a_thousand_times_with_mappings_leaks_nothing(k):
    seen = []
    drv = uart_driver(k, seen)
    k.platform_driver_register(drv)
    path = "/sys/bus/platform/drivers/my_uart"
    k.echo("48022000.serial", f"{path}/unbind")
    k.echo("48022000.serial", f"{path}/bind")
    k.echo("48022000.serial", f"{path}/unbind")
    start = counters(k)
    iomem, vmallocinfo = k.cat("/proc/iomem"), live_areas(k)
    for _ in range(1000):
        assert k.echo("48022000.serial", f"{path}/bind") > 0
        assert "phys=0x48022000 ioremap" in k.cat("/proc/vmallocinfo")
        k.echo("48022000.serial", f"{path}/unbind")
    assert counters(k) == start
    assert k.cat("/proc/iomem") == iomem
    # unmapped areas wait, "unpurged", for the lazy purge, as in the kernel: the live ones match
    assert live_areas(k) == vmallocinfo


def live_areas(k):
    return [line for line in k.cat("/proc/vmallocinfo").splitlines() if "unpurged" not in line]


def test_unbinding_a_built_in_driver_gives_its_regions_back(k):
    line = "44e09000-44e0901f : serial"
    assert line in k.cat("/proc/iomem")  # claimed by the console driver at boot
    assert k.echo("44e09000.serial", "/sys/bus/platform/drivers/omap8250/unbind") > 0
    assert line not in k.cat("/proc/iomem")
    seen = []
    k.platform_driver_register(uart_driver(k, seen))
    assert "44e09000-44e09fff : 44e09000.serial" in k.cat("/proc/iomem")
    assert len(seen) == 4
