"""Model of drivers/base/bus.c: struct bus_type, its devices and drivers, and /sys/bus.

A bus keeps two lists, its devices and its drivers (struct subsys_private),
and decides with its match() callback which driver may drive which device.
When a device is added the bus tries its drivers (bus_probe_device()); when
a driver is added it tries it on the devices (driver_attach()); both only
while drivers_autoprobe is 1.

sysfs shows the bus under /sys/bus/NAME: devices/ holds a link per device to
its directory under /sys/devices, drivers/DRV/ a directory per driver with a
link per bound device and the write-only attributes bind and unbind. Writing
a device's name to unbind detaches it from that driver (remove(), then every
managed resource released); writing it to bind probes the driver on it again
(a probe error comes back as the write's error, -EPROBE_DEFER as -EAGAIN).
Writing to drivers_probe probes a device against all the bus's drivers.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kmemsim.drivers.base.core import Device, dev_name, device_path
from kmemsim.drivers.base.dd import driver_core_operation
from kmemsim.include.linux.errno import EINVAL, ENODEV

if TYPE_CHECKING:
    from kmemsim.drivers.base.driver import DeviceDriver
    from kmemsim.init.main import Kernel


@dataclass(eq=False)
class BusType:
    """struct bus_type with its struct subsys_private (devices, drivers, autoprobe)."""

    name: str
    match: Callable[[Device, DeviceDriver], int] | None = None
    probe: Callable[[Device], int] | None = None
    remove: Callable[[Device], None] | None = None
    # uevent(): the bus's own KEY=value lines of a device's uevent (after dev_uevent()'s).
    uevent: Callable[[Device], list[str]] | None = None
    devices: list[Device] = field(default_factory=list)
    drivers: dict[str, DeviceDriver] = field(default_factory=dict)
    drivers_autoprobe: bool = True

    def __repr__(self) -> str:
        return f"<bus_type {self.name}>"


def sysfs_streq(s1: str, s2: str) -> bool:
    """sysfs_streq() (lib/string.c): equal, a trailing newline on either side ignored."""
    return s1.removesuffix("\n") == s2.removesuffix("\n")


def _write_only(path: str) -> Callable[[], str]:
    def show() -> str:
        from kmemsim.errors import KmemsimError

        raise KmemsimError(f"cat: {path}: Permission denied")

    return show


def bus_register(k: Kernel, bus: BusType) -> int:
    """bus_register(bus): /sys/bus/NAME: devices/, drivers/, drivers_autoprobe, drivers_probe."""
    k.driver_core.buses[bus.name] = bus
    base = f"/sys/bus/{bus.name}"
    fs = k.fs

    def autoprobe_store(text: str) -> int:
        bus.drivers_autoprobe = text[:1] != "0"
        return len(text)

    def drivers_probe_store(text: str) -> int:
        dev = bus_find_device_by_name(k, bus, text)
        if dev is None:
            return -ENODEV
        from kmemsim.drivers.base.dd import device_attach

        ret = 0
        with driver_core_operation(k):
            if dev.driver is None:  # bus_rescan_devices_helper()
                ret = device_attach(k, dev)
        return len(text) if ret >= 0 else -EINVAL

    fs.create_file(
        f"{base}/drivers_autoprobe", lambda: f"{int(bus.drivers_autoprobe)}\n", autoprobe_store
    )
    fs.create_file(
        f"{base}/drivers_probe", _write_only(f"{base}/drivers_probe"), drivers_probe_store
    )
    return 0


def bus_find_device_by_name(k: Kernel, bus: BusType, name: str) -> Device | None:
    """bus_find_device_by_name(bus, NULL, name): the device whose name sysfs_streq()s `name`."""
    for dev in bus.devices:
        if sysfs_streq(dev_name(dev), name):
            return dev
    return None


def bus_add_device(k: Kernel, dev: Device) -> int:
    """bus_add_device(dev): list the device on its bus, link it in /sys/bus/NAME/devices."""
    bus = dev.bus
    if bus is None:
        return 0
    link = f"/sys/bus/{bus.name}/devices/{dev_name(dev)}"
    k.fs.create_link(link, posixpath.relpath(device_path(dev), posixpath.dirname(link)))
    dev.sysfs_files.append(link)
    bus.devices.append(dev)
    return 0


def bus_probe_device(k: Kernel, dev: Device) -> None:
    """bus_probe_device(dev): look for a driver for a new device (when the bus autoprobes)."""
    from kmemsim.drivers.base.dd import device_initial_probe

    bus = dev.bus
    if bus is not None and bus.drivers_autoprobe:
        device_initial_probe(k, dev)


def bus_remove_device(k: Kernel, dev: Device) -> None:
    """bus_remove_device(dev): unbind it and take it off its bus."""
    from kmemsim.drivers.base.dd import device_release_driver

    bus = dev.bus
    if bus is None:
        return
    device_release_driver(k, dev)
    if dev in bus.devices:
        bus.devices.remove(dev)


def bus_add_driver(k: Kernel, drv: DeviceDriver) -> int:
    """bus_add_driver(drv): the driver's sysfs directory, then driver_attach() if autoprobing."""
    from kmemsim.drivers.base.dd import driver_attach

    bus = drv.bus
    assert bus is not None
    bus.drivers[drv.name] = drv
    drv.registered = True
    base = f"/sys/bus/{bus.name}/drivers/{drv.name}"
    fs = k.fs
    files = [f"{base}/uevent"]
    fs.create_file(f"{base}/uevent", _write_only(f"{base}/uevent"), lambda text: len(text))
    if not drv.suppress_bind_attrs:
        fs.create_file(f"{base}/bind", _write_only(f"{base}/bind"), lambda t: bind_store(k, drv, t))
        fs.create_file(
            f"{base}/unbind", _write_only(f"{base}/unbind"), lambda t: unbind_store(k, drv, t)
        )
        files += [f"{base}/bind", f"{base}/unbind"]
    drv.sysfs_files = files
    if bus.drivers_autoprobe:
        driver_attach(k, drv)
    return 0


def bus_remove_driver(k: Kernel, drv: DeviceDriver) -> None:
    """bus_remove_driver(drv): detach it from its devices and remove it from the bus."""
    from kmemsim.drivers.base.dd import driver_detach

    bus = drv.bus
    assert bus is not None
    driver_detach(k, drv)
    for path in drv.sysfs_files:
        k.fs.remove(path)
    drv.sysfs_files = []
    bus.drivers.pop(drv.name, None)
    drv.registered = False


def unbind_store(k: Kernel, drv: DeviceDriver, text: str) -> int:
    """unbind_store(): detach the named device if this driver holds it; else -ENODEV."""
    from kmemsim.drivers.base.dd import device_driver_detach

    assert drv.bus is not None
    dev = bus_find_device_by_name(k, drv.bus, text)
    if dev is not None and dev.driver is drv:
        with driver_core_operation(k):
            device_driver_detach(k, dev)
        return len(text)
    return -ENODEV


def bind_store(k: Kernel, drv: DeviceDriver, text: str) -> int:
    """bind_store(): probe this driver on the named device; the probe's error, or -ENODEV."""
    from kmemsim.drivers.base.dd import device_driver_attach, driver_match_device

    assert drv.bus is not None
    dev = bus_find_device_by_name(k, drv.bus, text)
    if dev is not None and driver_match_device(drv, dev) != 0:
        with driver_core_operation(k):
            err = device_driver_attach(k, drv, dev)
        return err if err else len(text)
    return -ENODEV
