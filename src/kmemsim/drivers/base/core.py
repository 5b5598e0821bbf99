"""Model of drivers/base/core.c: struct device, its name, its sysfs directory and dev_printk.

A struct device is what the driver model knows of a piece of hardware: a
kobject name (dev_name(), "44e09000.serial", "foo.0"), a parent (the
platform bus device "platform" for platform devices), the bus it sits on,
the driver bound to it and that driver's private pointer (driver_data,
dev_set_drvdata()), and the list of managed resources devres keeps for it
(devres_head, drivers/base/devres.c). device_add() makes it visible: its
directory under /sys/devices (/sys/devices/platform/foo.0), the bus's link to
it, and a probe for a matching driver (bus_probe_device(), dd.c).

dev_printk() and the dev_err()/dev_warn()/dev_info() family prefix a message
with the driver's name (or the bus's when no driver is bound) and the
device's name, as __dev_printk() does: "foo 44e09000.serial: message",
"platform foo.0: probe with driver foo failed with error -16".
dev_dbg() prints nothing: the captured 6.18 kernel has no
CONFIG_DYNAMIC_DEBUG, and a driver is not built with DEBUG defined.

dev_err_probe() is the probe helper of 6.18: for -EPROBE_DEFER it records the
reason that /sys/kernel/debug/devices_deferred shows and prints nothing
(dev_dbg), for -ENOMEM nothing at all, otherwise dev_err(dev, "error %pe:
...") with the error's name ("error -EBUSY: can't request region ...").

The device structures themselves are host objects: their size in a real
kernel depends on its configuration (struct device is some 700 bytes on
x86_64), which no captured data pins, so they are not taken from the slab.
What a driver allocates for a device (devres) is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kmemsim.include.linux.errno import ENOMEM, EPROBE_DEFER, errname
from kmemsim.include.linux.export import EXPORT_SYMBOL
from kmemsim.include.linux.gfp_types import GFP_KERNEL
from kmemsim.kernel.printk import LogLevel

if TYPE_CHECKING:
    from kmemsim.drivers.base.bus import BusType
    from kmemsim.drivers.base.devres import DevresNode
    from kmemsim.drivers.base.driver import DeviceDriver
    from kmemsim.init.main import Kernel


@dataclass(eq=False)
class OfNode:
    """The part of a device-tree node (struct device_node) the driver model matches on."""

    name: str
    compatible: tuple[str, ...] = ()
    full_name: str = ""


@dataclass(eq=False)
class DevicePrivate:
    """struct device_private (drivers/base/base.h): the driver core's own view of a device."""

    # On the deferred probe pending or active list (dev->p->deferred_probe not empty).
    deferred_probe: bool = False
    # kasprintf()'ed "driver: reason" of the last dev_err_probe(-EPROBE_DEFER), its address.
    deferred_probe_reason: str | None = None
    deferred_probe_reason_addr: int = 0
    dead: bool = False


@dataclass(eq=False)
class Device:
    """struct device (include/linux/device.h): the fields the driver model uses.

    `container` is the structure the device is embedded in (a
    PlatformDevice: to_platform_device()), `devres_head` the device's
    managed resources in the order they were added.
    """

    init_name: str | None = None
    parent: Device | None = None
    bus: BusType | None = None
    driver: DeviceDriver | None = None
    driver_data: Any = None
    platform_data: Any = None
    of_node: OfNode | None = None
    release: Callable[[Device], None] | None = None
    container: Any = None
    kobj_name: str | None = None
    devres_head: list[DevresNode] | None = None
    p: DevicePrivate | None = None
    refcount: int = 0
    can_match: bool = False
    registered: bool = False
    # sysfs paths this device created (removed by device_del)
    sysfs_files: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"<device {self.kobj_name or self.init_name}>"

    @property
    def name(self) -> str:
        """dev_name()."""
        return dev_name(self)


def dev_name(dev: Device) -> str:
    """dev_name(): the kobject name, or init_name before device_add() set it."""
    if dev.init_name is not None and dev.kobj_name is None:
        return dev.init_name
    return dev.kobj_name or ""


def dev_bus_name(dev: Device) -> str:
    """dev_bus_name(): the name of the device's bus ("" without one)."""
    return dev.bus.name if dev.bus is not None else ""


def dev_driver_string(dev: Device) -> str:
    """dev_driver_string(): the bound driver's name, else the bus's name."""
    drv = dev.driver
    return drv.name if drv is not None else dev_bus_name(dev)


def device_path(dev: Device) -> str:
    """The device's directory in sysfs: /sys/devices/<parents>/<name>."""
    parts = []
    d: Device | None = dev
    while d is not None:
        parts.append(dev_name(d))
        d = d.parent
    return "/sys/devices/" + "/".join(reversed(parts))


def _message(fmt: str, args: tuple[Any, ...]) -> str:
    text = fmt % args if args else fmt
    return text[:-1] if text.endswith("\n") else text


class DriverCore:
    """The driver model of one kernel: its devices, buses and the deferred probe lists."""

    def __init__(self, k: Kernel) -> None:
        self.k = k
        # devices_kset: every registered device, in the order device_add() saw them.
        self.devices: list[Device] = []
        self.buses: dict[str, BusType] = {}
        # dd.c: deferred_probe_pending_list, deferred_probe_active_list.
        self.deferred_pending: list[Device] = []
        self.deferred_active: list[Device] = []
        self.deferred_trigger_count = 0
        self.deferred_probe_enable = False
        self.initcalls_done = False
        self.defer_all_probes = False
        self.probe_count = 0
        # schedule_work(&deferred_probe_work) was called and has not run yet.
        self.deferred_work_pending = False
        self.deferred_work_running = False
        # Nesting of driver-core operations (dd.driver_core_operation()).
        self.depth = 0
        # The root device of the platform bus (drivers/base/platform.c platform_bus).
        self.platform_bus: Device | None = None

    # ------------------------------------------------------------------ printk
    def _dev_printk(self, level: LogLevel, dev: Device | None, text: str) -> None:
        """__dev_printk(): "<driver or bus> <device>: message", or "(NULL device *): ..."."""
        if dev is None:
            self.k.log.printk(f"(NULL device *): {text}", level)
        else:
            self.k.log.printk(f"{dev_driver_string(dev)} {dev_name(dev)}: {text}", level)

    @EXPORT_SYMBOL
    def dev_printk(self, level: int, dev: Device | None, fmt: str, *args: Any) -> None:
        """dev_printk(level, dev, fmt, ...) (drivers/base/core.c)."""
        self._dev_printk(LogLevel(level), dev, _message(fmt, args))

    @EXPORT_SYMBOL
    def dev_emerg(self, dev: Device | None, fmt: str, *args: Any) -> None:
        """dev_emerg(dev, fmt, ...) (drivers/base/core.c)."""
        self._dev_printk(LogLevel.EMERG, dev, _message(fmt, args))

    @EXPORT_SYMBOL
    def dev_alert(self, dev: Device | None, fmt: str, *args: Any) -> None:
        """dev_alert(dev, fmt, ...) (drivers/base/core.c)."""
        self._dev_printk(LogLevel.ALERT, dev, _message(fmt, args))

    @EXPORT_SYMBOL
    def dev_crit(self, dev: Device | None, fmt: str, *args: Any) -> None:
        """dev_crit(dev, fmt, ...) (drivers/base/core.c)."""
        self._dev_printk(LogLevel.CRIT, dev, _message(fmt, args))

    @EXPORT_SYMBOL
    def dev_err(self, dev: Device | None, fmt: str, *args: Any) -> None:
        """dev_err(dev, fmt, ...) (drivers/base/core.c): "foo foo.0: message" at KERN_ERR."""
        self._dev_printk(LogLevel.ERR, dev, _message(fmt, args))

    @EXPORT_SYMBOL
    def dev_warn(self, dev: Device | None, fmt: str, *args: Any) -> None:
        """dev_warn(dev, fmt, ...) (drivers/base/core.c)."""
        self._dev_printk(LogLevel.WARNING, dev, _message(fmt, args))

    @EXPORT_SYMBOL
    def dev_notice(self, dev: Device | None, fmt: str, *args: Any) -> None:
        """dev_notice(dev, fmt, ...) (drivers/base/core.c)."""
        self._dev_printk(LogLevel.NOTICE, dev, _message(fmt, args))

    @EXPORT_SYMBOL
    def dev_info(self, dev: Device | None, fmt: str, *args: Any) -> None:
        """dev_info(dev, fmt, ...) (drivers/base/core.c)."""
        self._dev_printk(LogLevel.INFO, dev, _message(fmt, args))

    @EXPORT_SYMBOL
    def dev_dbg(self, dev: Device | None, fmt: str, *args: Any) -> None:
        """dev_dbg(dev, fmt, ...) (include/linux/dev_printk.h): compiled out.

        Without CONFIG_DYNAMIC_DEBUG (the captured 6.18 kernel has none) and
        without DEBUG defined in the driver, dev_dbg() is no_printk(): the
        arguments are checked, nothing reaches the log."""
        _message(fmt, args)

    def _probe_failed(self, dev: Device, err: int, fatal: bool, fmt: str, args: Any) -> int:
        """dev_probe_failed(): the body of dev_err_probe() and dev_warn_probe()."""
        text = _message(fmt, args)
        if err == -EPROBE_DEFER:
            self.device_set_deferred_probe_reason(dev, text)
            self.dev_dbg(dev, "error %s: %s", pe(err), text)
        elif err == -ENOMEM:
            pass  # "Don't print anything on -ENOMEM, there's already enough output"
        elif fatal:
            self.dev_err(dev, "error %s: %s", pe(err), text)
        else:
            self.dev_warn(dev, "error %s: %s", pe(err), text)
        return err

    @EXPORT_SYMBOL
    def dev_err_probe(self, dev: Device, err: int, fmt: str, *args: Any) -> int:
        """dev_err_probe(dev, err, fmt, ...) (drivers/base/core.c): log a probe error, return it.

        -EPROBE_DEFER: remembered as the deferral reason (devices_deferred),
        not printed; -ENOMEM: silent; else dev_err "error -EBUSY: message"."""
        return self._probe_failed(dev, err, True, fmt, args)

    @EXPORT_SYMBOL
    def dev_warn_probe(self, dev: Device, err: int, fmt: str, *args: Any) -> int:
        """dev_warn_probe(dev, err, fmt, ...) (drivers/base/core.c): at KERN_WARNING."""
        return self._probe_failed(dev, err, False, fmt, args)

    def device_set_deferred_probe_reason(self, dev: Device, text: str) -> None:
        """device_set_deferred_probe_reason() (dd.c): kasprintf("%s: %pV", driver, reason)."""
        assert dev.p is not None
        slab = self.k.slab
        if dev.p.deferred_probe_reason_addr:
            slab.kfree(dev.p.deferred_probe_reason_addr)
        reason = f"{dev_driver_string(dev)}: {text}\n"
        addr = slab.kstrdup(reason, int(GFP_KERNEL))  # kasprintf(): strlen + 1 bytes
        dev.p.deferred_probe_reason = reason if addr else None
        dev.p.deferred_probe_reason_addr = addr

    # ------------------------------------------------------------------ drvdata
    @staticmethod
    @EXPORT_SYMBOL
    def dev_set_drvdata(dev: Device, data: Any) -> None:
        """dev_set_drvdata(dev, data) (include/linux/device.h)."""
        dev.driver_data = data

    @staticmethod
    @EXPORT_SYMBOL
    def dev_get_drvdata(dev: Device) -> Any:
        """dev_get_drvdata(dev) (include/linux/device.h)."""
        return dev.driver_data

    @staticmethod
    @EXPORT_SYMBOL
    def dev_name(dev: Device) -> str:
        """dev_name(dev) (include/linux/device.h)."""
        return dev_name(dev)

    @staticmethod
    @EXPORT_SYMBOL
    def dev_set_name(dev: Device, fmt: str, *args: Any) -> int:
        """dev_set_name(dev, fmt, ...) (drivers/base/core.c): the kobject name; 0."""
        dev.kobj_name = fmt % args if args else fmt
        return 0

    # ------------------------------------------------------------------ lifetime
    @EXPORT_SYMBOL
    def device_initialize(self, dev: Device) -> None:
        """device_initialize(dev) (drivers/base/core.c): refcount 1, empty devres list."""
        dev.refcount = 1
        dev.devres_head = []
        dev.p = DevicePrivate()

    @EXPORT_SYMBOL
    def get_device(self, dev: Device | None) -> Device | None:
        """get_device(dev) (drivers/base/core.c)."""
        if dev is not None:
            dev.refcount += 1
        return dev

    @EXPORT_SYMBOL
    def put_device(self, dev: Device | None) -> None:
        """put_device(dev) (drivers/base/core.c): the last reference calls dev->release()."""
        if dev is None:
            return
        dev.refcount -= 1
        if dev.refcount == 0:
            if dev.release is not None:
                dev.release(dev)
            elif dev.bus is not None or dev.parent is not None:
                self.k.log.printk(
                    f"Device '{dev_name(dev)}' does not have a release() function, "
                    "it is broken and must be fixed. See Documentation/core-api/kobject.rst.",
                    LogLevel.ERR,
                )

    @EXPORT_SYMBOL
    def device_add(self, dev: Device) -> int:
        """device_add(dev) (drivers/base/core.c): name it, show it in sysfs, probe a driver."""
        from kmemsim.drivers.base.dd import driver_core_operation

        with driver_core_operation(self.k):
            return self._device_add(dev)

    def _device_add(self, dev: Device) -> int:
        from kmemsim.drivers.base.bus import bus_add_device, bus_probe_device

        if dev.init_name is not None:
            dev.kobj_name = dev.init_name
            dev.init_name = None
        if not dev.kobj_name:
            return -22  # -EINVAL: a device without a name
        if dev.p is None:
            self.device_initialize(dev)
        self.get_device(dev.parent)
        path = device_path(dev)
        fs = self.k.fs
        fs.create_file(f"{path}/uevent", lambda: _uevent(dev))
        dev.sysfs_files.append(f"{path}/uevent")
        if dev.bus is not None:
            fs.create_link(f"{path}/subsystem", _relative(path, f"/sys/bus/{dev.bus.name}"))
            dev.sysfs_files.append(f"{path}/subsystem")
        self.devices.append(dev)
        dev.registered = True
        ret = bus_add_device(self.k, dev)
        if ret:
            self.device_del(dev)
            return ret
        bus_probe_device(self.k, dev)
        return 0

    @EXPORT_SYMBOL
    def device_register(self, dev: Device) -> int:
        """device_register(dev) (drivers/base/core.c): device_initialize() + device_add()."""
        self.device_initialize(dev)
        return self.device_add(dev)

    @EXPORT_SYMBOL
    def device_del(self, dev: Device) -> None:
        """device_del(dev) (drivers/base/core.c): unbind, leave the bus and sysfs."""
        from kmemsim.drivers.base.bus import bus_remove_device
        from kmemsim.drivers.base.dd import driver_core_operation, driver_deferred_probe_del

        with driver_core_operation(self.k):
            self._device_del(dev, bus_remove_device, driver_deferred_probe_del)

    def _device_del(self, dev: Device, bus_remove_device: Any, deferred_del: Any) -> None:

        if dev.p is not None:
            dev.p.dead = True
        if dev.registered:
            bus_remove_device(self.k, dev)
            deferred_del(self.k, dev)
        for path in dev.sysfs_files:
            self.k.fs.remove(path)
        dev.sysfs_files.clear()
        if dev in self.devices:
            self.devices.remove(dev)
            self.put_device(dev.parent)
        dev.registered = False

    @EXPORT_SYMBOL
    def device_unregister(self, dev: Device) -> None:
        """device_unregister(dev) (drivers/base/core.c): device_del() + put_device()."""
        self.device_del(dev)
        self.put_device(dev)

    @staticmethod
    @EXPORT_SYMBOL
    def device_is_bound(dev: Device) -> bool:
        """device_is_bound(dev) (drivers/base/dd.c): a driver finished probing it."""
        return dev.driver is not None and dev in dev.driver.devices


def pe(err: int) -> str:
    """printk's %pe of ERR_PTR(err): the errno's name ("-EBUSY"), or the number."""
    return errname(err) or str(err)


def _relative(frm: str, to: str) -> str:
    import posixpath

    return posixpath.relpath(to, frm)


def _uevent(dev: Device) -> str:
    lines = []
    if dev.driver is not None:
        lines.append(f"DRIVER={dev.driver.name}")
    if dev.of_node is not None:
        lines.append(f"OF_NAME={dev.of_node.name}")
        if dev.of_node.full_name:
            lines.append(f"OF_FULLNAME={dev.of_node.full_name}")
        lines.append(f"OF_COMPATIBLE_N={len(dev.of_node.compatible)}")
        for i, c in enumerate(dev.of_node.compatible):
            lines.append(f"OF_COMPATIBLE_{i}={c}")
    if dev.bus is not None and dev.bus.uevent is not None:
        lines += dev.bus.uevent(dev)  # the bus specific part (platform: MODALIAS)
    return "".join(line + "\n" for line in lines)
