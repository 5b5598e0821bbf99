"""Model of drivers/base/init.c: driver_init(), the driver model's start at boot.

do_basic_setup() calls driver_init() before the initcalls: the devices and
buses ksets (/sys/devices, /sys/bus), then the platform bus
(platform_bus_init(): /sys/devices/platform, /sys/bus/platform). The
driver model's API (device, devres, platform) is bound onto the kernel here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.include.linux.export import export_symbols

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel


def driver_init(k: Kernel) -> None:
    """driver_init(): the driver core, devres, the managed I/O helpers and the platform bus."""
    from kmemsim.drivers.base.core import DriverCore
    from kmemsim.drivers.base.devres import Devres
    from kmemsim.drivers.base.platform import platform_bus_init
    from kmemsim.lib.devres import ManagedIO

    k.driver_core = DriverCore(k)
    export_symbols(k, k.driver_core)
    k.devres = Devres(k)
    export_symbols(k, k.devres)
    k.managed_io = ManagedIO(k)
    export_symbols(k, k.managed_io)
    platform_bus_init(k)
    export_symbols(k, k.platform)
