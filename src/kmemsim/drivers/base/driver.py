"""Model of drivers/base/driver.c: struct device_driver, driver_register(), driver_unregister().

A driver joins a bus with driver_register(): the bus refuses a second driver
of the same name ("Error: Driver 'foo' is already registered, aborting...",
-EBUSY), otherwise bus_add_driver() lists it, creates its sysfs directory
(/sys/bus/platform/drivers/foo with bind and unbind) and, when the bus
autoprobes, tries it on every device of the bus (driver_attach(), dd.c).
driver_unregister() unbinds it from every device it holds, newest first
(driver_detach()), and removes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kmemsim.include.linux.errno import EBUSY, EINVAL

if TYPE_CHECKING:
    from kmemsim.drivers.base.bus import BusType
    from kmemsim.drivers.base.core import Device
    from kmemsim.init.main import Kernel


@dataclass(eq=False)
class DeviceDriver:
    """struct device_driver (include/linux/device/driver.h): what the driver core calls.

    `devices` is the driver's klist_devices: the devices bound to it, in
    binding order. `container` is the structure it is embedded in (a
    platform_driver). `probe` and `remove` are used when the bus has none.
    """

    name: str
    bus: BusType | None = None
    of_match_table: Any = None
    probe: Callable[[Device], int] | None = None
    remove: Callable[[Device], None] | None = None
    suppress_bind_attrs: bool = False
    container: Any = None
    devices: list[Device] = field(default_factory=list)
    registered: bool = False
    sysfs_files: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"<device_driver {self.name}>"


def driver_find(k: Kernel, name: str, bus: BusType) -> DeviceDriver | None:
    """driver_find(name, bus): the bus's driver of that name."""
    return bus.drivers.get(name)


def driver_register(k: Kernel, drv: DeviceDriver) -> int:
    """driver_register(drv): add a driver to its bus and bind it to the devices it matches."""
    from kmemsim.drivers.base.bus import bus_add_driver

    bus = drv.bus
    if bus is None or bus.name not in k.driver_core.buses:
        k.log.pr_err(
            f"Driver '{drv.name}' was unable to register with bus_type "
            f"'{bus.name if bus else ''}' because the bus was not initialized."
        )
        return -EINVAL
    if driver_find(k, drv.name, bus) is not None:
        k.log.pr_err(f"Error: Driver '{drv.name}' is already registered, aborting...")
        return -EBUSY
    from kmemsim.drivers.base.dd import driver_core_operation

    with driver_core_operation(k):
        return bus_add_driver(k, drv)


def driver_unregister(k: Kernel, drv: DeviceDriver) -> None:
    """driver_unregister(drv): unbind it from all its devices and remove it from its bus."""
    from kmemsim.drivers.base.bus import bus_remove_driver

    if drv.bus is None or not drv.registered:
        from kmemsim.mm.debug import warn

        warn(
            k,
            "drivers/base/driver.c",
            "driver_unregister",
            "Unexpected driver unregister!",
            once=False,
        )
        return
    from kmemsim.drivers.base.dd import driver_core_operation

    with driver_core_operation(k):
        bus_remove_driver(k, drv)
