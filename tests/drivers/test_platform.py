"""The platform bus and the driver core (drivers/base/platform.c, dd.c, bus.c, core.c)."""

from __future__ import annotations

import errno

import pytest

import kmemsim
from kmemsim import GFP_KERNEL
from kmemsim.drivers.base.core import OfNode
from kmemsim.errors import KmemsimError


@pytest.fixture
def k() -> kmemsim.Kernel:
    return kmemsim.boot("x86_64", mem="512M")


def of_device(k, name, compatible):
    """A device-tree platform device (of_device_alloc() + of_device_add())."""
    pdev = k.platform_device_alloc(name, kmemsim.PLATFORM_DEVID_NONE)
    pdev.dev.of_node = OfNode(name.split(".", 1)[-1], tuple(compatible))
    assert k.platform_device_add(pdev) == 0
    return pdev


def test_device_names_follow_the_id(k):
    assert k.dev_name(k.platform_device_register_simple("foo", 0).dev) == "foo.0"
    assert k.dev_name(k.platform_device_register_simple("bar", -1).dev) == "bar"
    a = k.platform_device_register_simple("baz", kmemsim.PLATFORM_DEVID_AUTO)
    b = k.platform_device_register_simple("baz", kmemsim.PLATFORM_DEVID_AUTO)
    assert (k.dev_name(a.dev), k.dev_name(b.dev)) == ("baz.0.auto", "baz.1.auto")
    k.platform_device_unregister(a)
    c = k.platform_device_register_simple("baz", kmemsim.PLATFORM_DEVID_AUTO)
    assert k.dev_name(c.dev) == "baz.0.auto"  # the ida gave 0 back
    assert set(k.fs.listdir("/sys/bus/platform/devices")) >= {"foo.0", "bar", "baz.1.auto"}
    assert k.cat("/sys/bus/platform/devices/foo.0/modalias") == "platform:foo\n"
    assert k.cat("/sys/devices/platform/bar/driver_override") == "(null)\n"


def test_resources_by_index_name_and_irq(k):
    res = [
        kmemsim.DEFINE_RES_MEM_NAMED(0xFED40000, 0x1000, "regs"),
        kmemsim.DEFINE_RES_IRQ(9),
        kmemsim.DEFINE_RES_MEM(0xFED50000, 0x100),
        kmemsim.DEFINE_RES_IRQ_NAMED(10, "tx"),
    ]
    pdev = k.platform_device_register_simple("foo", 3, res)
    r0 = k.platform_get_resource(pdev, kmemsim.IORESOURCE_MEM, 0)
    r1 = k.platform_get_resource(pdev, kmemsim.IORESOURCE_MEM, 1)
    assert (r0.start, r0.end, r1.start, r1.end) == (0xFED40000, 0xFED40FFF, 0xFED50000, 0xFED500FF)
    assert k.platform_get_resource(pdev, kmemsim.IORESOURCE_MEM, 2) is None
    assert r1.name == "foo.3"  # platform_device_add() names the unnamed ones
    assert k.platform_get_resource_byname(pdev, kmemsim.IORESOURCE_MEM, "regs") is r0
    assert k.platform_get_irq(pdev, 0) == 9 and k.platform_get_irq(pdev, 1) == 10
    assert k.platform_get_irq_byname(pdev, "tx") == 10
    assert k.platform_irq_count(pdev) == 2
    assert res[0].parent is None  # the device holds copies
    since = len(k.log)
    assert k.platform_get_irq(pdev, 2) == -kmemsim.ENXIO
    assert k.platform_get_irq_optional(pdev, 5) == -kmemsim.ENXIO
    assert k.platform_get_irq_byname(pdev, "rx") == -kmemsim.ENXIO
    assert (
        k.dmesg(since)
        .splitlines()[0]
        .endswith("] platform foo.3: error -ENXIO: IRQ index 2 not found")
    )
    assert (
        k.dmesg(since).splitlines()[1].endswith("] platform foo.3: error -ENXIO: IRQ rx not found")
    )


def test_irq_0_is_invalid(k):
    pdev = k.platform_device_register_simple("foo", 0, [kmemsim.DEFINE_RES_IRQ(0)])
    assert k.platform_get_irq_optional(pdev, 0) == -kmemsim.EINVAL
    assert "0 is an invalid IRQ number" in k.dmesg()


def test_match_by_compatible_best_entry_and_its_data(k):
    pdev = of_device(k, "44e09000.serial", ["ti,am3352-uart", "ti,omap3-uart"])
    seen = []

    def probe(p):
        seen.append(k.of_device_get_match_data(p.dev))
        return 0

    table = [
        kmemsim.of_device_id("ti,omap3-uart", "omap3"),
        kmemsim.of_device_id("ti,am3352-uart", "am3352"),
    ]
    drv = kmemsim.platform_driver("omap_uart", probe, of_match_table=table)
    k.platform_driver_register(drv)
    # the node's first compatible string is the most specific: its entry wins
    assert seen == ["am3352"] and pdev.dev.driver is drv.driver
    other = kmemsim.platform_driver("serial", lambda p: 0, of_match_table=["ns16550a"])
    k.platform_driver_register(other)
    assert pdev.dev.driver is drv.driver
    assert k.cat("/sys/bus/platform/devices/44e09000.serial/modalias") == (
        "of:NserialT(null)Cti,am3352-uartCti,omap3-uart\n"
    )
    uevent = k.cat("/sys/devices/platform/44e09000.serial/uevent")
    assert "DRIVER=omap_uart\n" in uevent and "OF_COMPATIBLE_1=ti,omap3-uart\n" in uevent
    # platform_uevent(): the bus adds the OF-style MODALIAS after dev_uevent()'s lines.
    assert uevent.endswith("MODALIAS=of:NserialT(null)Cti,am3352-uartCti,omap3-uart\n")


def test_uevent_of_a_device_without_a_node_has_the_platform_modalias(k):
    pdev = k.platform_device_register_simple("foo", 0)
    uevent = k.cat(f"/sys/devices/platform/{k.dev_name(pdev.dev)}/uevent")
    # platform_uevent(): "MODALIAS=" PLATFORM_MODULE_PREFIX "%s", pdev->name (not the dev name)
    assert uevent.splitlines()[-1] == "MODALIAS=platform:foo"


def test_match_by_id_table_and_by_name_and_override(k):
    a = k.platform_device_register_simple("gpio-a", 0)
    b = k.platform_device_register_simple("gpio-b", 0)
    drv = kmemsim.platform_driver("gpio", lambda p: 0, id_table=["gpio-b"])
    k.platform_driver_register(drv)
    assert a.dev.driver is None and b.dev.driver is drv.driver
    assert b.id_entry.name == "gpio-b"
    k.echo("gpio", "/sys/bus/platform/devices/gpio-a.0/driver_override")
    assert k.cat("/sys/devices/platform/gpio-a.0/driver_override") == "gpio\n"
    k.echo("gpio-a.0", "/sys/bus/platform/drivers_probe")
    assert a.dev.driver is drv.driver  # driver_override beats the id table


def test_a_second_driver_of_the_same_name_is_refused(k):
    assert k.platform_driver_register(kmemsim.platform_driver("foo", lambda p: 0)) == 0
    again = kmemsim.platform_driver("foo", lambda p: 0)
    assert k.platform_driver_register(again) == -kmemsim.EBUSY
    assert "Error: Driver 'foo' is already registered, aborting..." in k.dmesg()


def test_a_declining_driver_lets_the_next_one_try(k):
    tried = []

    def decline(pdev):
        tried.append("a")
        return -kmemsim.ENODEV

    k.platform_driver_register(kmemsim.platform_driver("a", decline, id_table=["dev"]))
    b = kmemsim.platform_driver("b", lambda p: tried.append("b") or 0, id_table=["dev"])
    k.platform_driver_register(b)
    since = len(k.log)
    pdev = k.platform_device_register_simple("dev", -1)
    assert tried == ["a", "b"] and pdev.dev.driver is b.driver
    assert k.dmesg(since) == ""  # -ENODEV is a polite "not mine": nothing logged


def test_deferred_probe_retried_when_another_driver_binds(k):
    supplier_ready = []

    def consumer_probe(pdev):
        if not supplier_ready:
            return k.dev_err_probe(
                pdev.dev, -kmemsim.EPROBE_DEFER, "supplier %s not ready\n", "clk"
            )
        k.dev_info(pdev.dev, "got the supplier")
        return 0

    def supplier_probe(pdev):
        supplier_ready.append(pdev)
        return 0

    consumer = kmemsim.platform_driver("consumer", consumer_probe)
    k.platform_driver_register(consumer)
    cdev = k.platform_device_register_simple("consumer", 0)
    assert cdev.dev.driver is None
    assert k.cat("/sys/kernel/debug/devices_deferred") == (
        "consumer.0\tconsumer: supplier clk not ready\n"
    )
    assert "not ready" not in k.dmesg()  # -EPROBE_DEFER is dev_dbg()
    reason = cdev.dev.p.deferred_probe_reason_addr
    text = b"consumer: supplier clk not ready\n\0"  # kasprintf()'ed, strlen + 1 bytes
    assert k.read(reason, len(text)) == text and k.ksize(reason) == 64
    # an unrelated device binding retries it too; here the supplier itself comes
    k.platform_driver_register(kmemsim.platform_driver("supplier", supplier_probe))
    k.platform_device_register_simple("supplier", 0)
    assert cdev.dev.driver is consumer.driver
    assert k.cat("/sys/kernel/debug/devices_deferred") == ""
    assert "consumer consumer.0: got the supplier" in k.dmesg()


def test_prevent_deferred_probe(k):
    drv = kmemsim.platform_driver(
        "foo", lambda p: -kmemsim.EPROBE_DEFER, prevent_deferred_probe=True
    )
    k.platform_driver_register(drv)
    k.platform_device_register_simple("foo", 0)
    assert "foo foo.0: probe deferral not supported" in k.dmesg()
    assert k.cat("/sys/kernel/debug/devices_deferred") == ""


def test_bind_and_unbind_through_sysfs_errors(k):
    fails = [-kmemsim.EBUSY]

    def probe(pdev):
        return fails.pop() if fails else 0

    drv = kmemsim.platform_driver("foo", probe)
    k.platform_driver_register(drv)
    pdev = k.platform_device_register_simple("foo", 0)
    assert pdev.dev.driver is None  # the first probe failed
    assert k.echo("foo.0", "/sys/bus/platform/drivers/foo/bind") == 5
    assert pdev.dev.driver is drv.driver
    # write(2)'s result: the bytes taken, or the negative errno the store returned
    assert k.echo("foo.0\n", "/sys/bus/platform/drivers/foo/bind") == -errno.EBUSY  # bound
    assert k.echo("foo.0\n", "/sys/bus/platform/drivers/foo/unbind") == 6
    assert k.echo("foo.0", "/sys/bus/platform/drivers/foo/unbind") == -errno.ENODEV
    assert k.echo("nothing.0", "/sys/bus/platform/drivers/foo/bind") == -errno.ENODEV
    fails.append(-kmemsim.EIO)  # the probe's error is the write's
    assert k.echo("foo.0", "/sys/bus/platform/drivers/foo/bind") == -errno.EIO
    fails.append(-kmemsim.EPROBE_DEFER)
    assert k.echo("foo.0", "/sys/bus/platform/drivers/foo/bind") == -errno.EAGAIN
    with pytest.raises(KmemsimError, match="Permission denied"):
        k.cat("/sys/bus/platform/drivers/foo/bind")
    with pytest.raises(KmemsimError, match="No such file"):
        k.echo("foo.0", "/sys/bus/platform/drivers/bar/unbind")
    assert k.echo("x", "/sys/bus/platform/devices/foo.0/modalias") == -errno.EACCES


def test_resources_present_before_probing(k):
    pdev = k.platform_device_register_simple("foo", 0)
    k.devm_kmalloc(pdev.dev, 32, GFP_KERNEL)  # on a device no driver holds
    probed = []
    k.platform_driver_register(kmemsim.platform_driver("foo", lambda p: probed.append(p) or 0))
    assert probed == [] and pdev.dev.driver is None
    assert "platform foo.0: Resources present before probing" in k.dmesg()


def test_unregistering_releases_devices_newest_first(k):
    order = []

    def probe(pdev):
        k.devm_add_action(pdev.dev, order.append, f"release {k.dev_name(pdev.dev)}")
        return 0

    drv = kmemsim.platform_driver(
        "foo", probe, remove=lambda p: order.append(f"remove {k.dev_name(p.dev)}")
    )
    k.platform_driver_register(drv)
    devs = [k.platform_device_register_simple("foo", i) for i in range(3)]
    k.platform_driver_unregister(drv)
    assert order == [
        "remove foo.2",
        "release foo.2",
        "remove foo.1",
        "release foo.1",
        "remove foo.0",
        "release foo.0",
    ]
    assert all(d.dev.driver is None for d in devs)
    assert "foo" not in k.fs.listdir("/sys/bus/platform/drivers")
    k.platform_driver_register(drv)
    order.clear()
    k.platform_device_unregister(devs[1])  # a bound device going away is unbound first
    assert order == ["remove foo.1", "release foo.1"]
    assert "foo.1" not in k.fs.listdir("/sys/bus/platform/devices")


def test_dev_printk_formats_and_levels(k):
    pdev = k.platform_device_register_simple("foo", 0)
    since = len(k.log)
    k.dev_err(pdev.dev, "unbound %d\n", 1)
    k.dev_dbg(pdev.dev, "not printed")
    k.platform_driver_register(kmemsim.platform_driver("foo", lambda p: 0))
    k.dev_warn(pdev.dev, "bound")
    k.dev_info(None, "no device")
    assert k.dev_err_probe(pdev.dev, -kmemsim.ENOMEM, "silent") == -kmemsim.ENOMEM
    assert k.dev_err_probe(pdev.dev, -kmemsim.EIO, "loud %s", "x") == -kmemsim.EIO
    assert k.dev_warn_probe(pdev.dev, -kmemsim.EINVAL, "soft") == -kmemsim.EINVAL
    recs = k.log.records[since:]
    assert [(r.level, r.text) for r in recs] == [
        (3, "platform foo.0: unbound 1"),
        (4, "foo foo.0: bound"),
        (6, "(NULL device *): no device"),
        (3, "foo foo.0: error -EIO: loud x"),
        (4, "foo foo.0: error -EINVAL: soft"),
    ]
