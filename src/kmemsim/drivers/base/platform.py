"""Model of drivers/base/platform.c: the platform bus, platform devices and platform drivers.

A platform device is a device the CPU reaches directly, without a
discoverable bus: a block of an SoC described by the device tree (the
profile's devices, "44e09000.serial"), or one a driver or board file
registers with platform_device_register_simple("foo", 0, resources) ("foo.0";
id -1 gives "foo", PLATFORM_DEVID_AUTO "foo.0.auto"). Its resources are the
MMIO ranges and interrupts it uses: platform_get_resource(pdev,
IORESOURCE_MEM, 0), platform_get_irq(pdev, 0). A device registered with
resources has them inserted into /proc/iomem and /proc/ioports under its
name (platform_device_add()); a device-tree device does not (of_device_add()
only adds the device), its driver's request is the first line.

A platform driver is written as in the slides, in Python:

    def foo_probe(pdev):
        foo = k.devm_kzalloc(pdev.dev, 64, GFP_KERNEL)
        if not foo:
            return -kmemsim.ENOMEM
        k.platform_set_drvdata(pdev, foo)
        return 0

    drv = kmemsim.platform_driver("foo", foo_probe, remove=None,
                                  of_match_table=["ti,am3352-uart"])
    k.platform_driver_register(drv)

platform_match() binds by, in order: driver_override, the device tree
(`of_match_table` compatible strings against the node's compatible list),
the driver's id_table, and finally the names. platform_probe() calls the
driver's probe(pdev), platform_remove() its remove(pdev); the driver core
(dd.c) does the rest, devres included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kmemsim.drivers.base.bus import BusType, bus_register
from kmemsim.drivers.base.core import Device, DriverCore, OfNode, dev_name
from kmemsim.drivers.base.driver import DeviceDriver, driver_register, driver_unregister
from kmemsim.include.linux.err import ERR_PTR
from kmemsim.include.linux.errno import EBUSY, EINVAL, ENOMEM, ENXIO, EPROBE_DEFER
from kmemsim.include.linux.export import EXPORT_SYMBOL
from kmemsim.include.linux.ioport import (
    IORESOURCE_IO,
    IORESOURCE_IRQ,
    IORESOURCE_MEM,
    Resource,
    pR,
    resource_type,
)

if TYPE_CHECKING:
    from kmemsim.hw.machine import DeviceSpec
    from kmemsim.init.main import Kernel

PLATFORM_DEVID_NONE = -1
PLATFORM_DEVID_AUTO = -2


@dataclass(eq=False)
class OfDeviceId:
    """struct of_device_id: a compatible string and the driver's data for it."""

    compatible: str
    data: Any = None


@dataclass(eq=False)
class PlatformDeviceId:
    """struct platform_device_id: a device name a driver takes, with its driver_data."""

    name: str
    driver_data: Any = None


@dataclass(eq=False)
class PlatformDevice:
    """struct platform_device: a name, an id, its struct device `dev` and its resources."""

    name: str
    id: int
    dev: Device = field(default_factory=Device)
    resource: list[Resource] = field(default_factory=list)
    id_auto: bool = False
    driver_override: str | None = None
    id_entry: PlatformDeviceId | None = None

    def __post_init__(self) -> None:
        self.dev.container = self

    def __repr__(self) -> str:
        return f"<platform_device {dev_name(self.dev) or self.name}>"

    @property
    def num_resources(self) -> int:
        return len(self.resource)

    def modalias(self) -> str:
        """modalias_show(): "of:N<name>T(null)C<compatible>..." for a device-tree device,
        else "platform:<name>"."""
        node = self.dev.of_node
        if node is not None:
            return f"of:N{node.name}T(null)" + "".join(f"C{c}" for c in node.compatible)
        return f"platform:{self.name}"


class PlatformDriver:
    """struct platform_driver: `kmemsim.platform_driver(name, probe, remove, of_match_table)`.

    `probe(pdev)` returns 0 or a negative errno (returning None counts as
    0); `remove(pdev)` returns nothing. `of_match_table` lists compatible
    strings (or OfDeviceId entries with data for of_device_get_match_data());
    `id_table` lists device names (or PlatformDeviceId entries).
    """

    def __init__(
        self,
        name: str,
        probe: Callable[[PlatformDevice], int | None] | None,
        remove: Callable[[PlatformDevice], None] | None = None,
        of_match_table: Iterable[str | OfDeviceId] | None = None,
        *,
        id_table: Iterable[str | PlatformDeviceId] | None = None,
        prevent_deferred_probe: bool = False,
        suppress_bind_attrs: bool = False,
    ) -> None:
        self.probe = probe
        self.remove = remove
        self.of_match_table = (
            [e if isinstance(e, OfDeviceId) else OfDeviceId(e) for e in of_match_table]
            if of_match_table is not None
            else None
        )
        self.id_table = (
            [e if isinstance(e, PlatformDeviceId) else PlatformDeviceId(e) for e in id_table]
            if id_table is not None
            else None
        )
        self.prevent_deferred_probe = prevent_deferred_probe
        self.driver = DeviceDriver(
            name,
            of_match_table=self.of_match_table,
            suppress_bind_attrs=suppress_bind_attrs,
            container=self,
        )

    @property
    def name(self) -> str:
        return self.driver.name

    def __repr__(self) -> str:
        return f"<platform_driver {self.driver.name}>"


def to_platform_device(dev: Device) -> PlatformDevice:
    """to_platform_device(): the platform_device a struct device is embedded in."""
    pdev = dev.container
    assert isinstance(pdev, PlatformDevice)
    return pdev


def platform_uevent(dev: Device) -> list[str]:
    """platform_uevent(): the OF-style MODALIAS of a device-tree device, else "platform:NAME"."""
    return [f"MODALIAS={to_platform_device(dev).modalias()}"]


def to_platform_driver(drv: DeviceDriver) -> PlatformDriver:
    """to_platform_driver()."""
    pdrv = drv.container
    assert isinstance(pdrv, PlatformDriver)
    return pdrv


def of_match_device(matches: Sequence[OfDeviceId] | None, dev: Device) -> OfDeviceId | None:
    """of_match_device() / __of_match_node(): the entry whose compatible best matches the node.

    The node's first compatible string scores highest (__of_device_is_compatible():
    INT_MAX/2 - (index << 2)); the table's first entry wins a tie."""
    node = dev.of_node
    if matches is None or node is None:
        return None
    best: OfDeviceId | None = None
    best_score = 0
    for entry in matches:
        if entry.compatible in node.compatible:
            score = (1 << 30) - 1 - (node.compatible.index(entry.compatible) << 2)
            if score > best_score:
                best, best_score = entry, score
    return best


def platform_match(dev: Device, drv: DeviceDriver) -> int:
    """platform_match(): driver_override, then OF, then id_table, then the names."""
    pdev = to_platform_device(dev)
    pdrv = to_platform_driver(drv)
    if pdev.driver_override is not None:
        return int(pdev.driver_override == drv.name)
    if of_match_device(pdrv.of_match_table, dev) is not None:
        return 1
    if pdrv.id_table is not None:
        for entry in pdrv.id_table:
            if entry.name == pdev.name:
                pdev.id_entry = entry
                return 1
        return 0
    return int(pdev.name == drv.name)


class Platform:
    """The platform bus of one kernel (platform_bus_type, platform_bus) and its API."""

    def __init__(self, k: Kernel) -> None:
        self.k = k
        self.core: DriverCore = k.driver_core
        self.bus_type = BusType(
            "platform",
            match=platform_match,
            probe=self._probe,
            remove=self._remove,
            uevent=platform_uevent,
        )
        # platform_devid_ida
        self._ida: set[int] = set()

    # ------------------------------------------------------------------ bus callbacks
    def _probe(self, _dev: Device) -> int:
        """platform_probe(): the driver's probe(pdev); deferral refused when prevented."""
        assert _dev.driver is not None
        drv = to_platform_driver(_dev.driver)
        pdev = to_platform_device(_dev)
        ret = 0
        if drv.probe is not None:
            ret = drv.probe(pdev) or 0
        if drv.prevent_deferred_probe and ret == -EPROBE_DEFER:
            self.k.dev_warn(_dev, "probe deferral not supported\n")
            ret = -ENXIO
        return ret

    def _remove(self, _dev: Device) -> None:
        """platform_remove(): the driver's remove(pdev)."""
        assert _dev.driver is not None
        drv = to_platform_driver(_dev.driver)
        if drv.remove is not None:
            drv.remove(to_platform_device(_dev))

    # ------------------------------------------------------------------ drivers
    @EXPORT_SYMBOL("__platform_driver_register", "platform_driver_register")
    def platform_driver_register(self, drv: PlatformDriver) -> int:
        """platform_driver_register(drv) (drivers/base/platform.c): 0, or -EBUSY for a
        name already registered; binds it at once to every device it matches."""
        drv.driver.bus = self.bus_type
        return driver_register(self.k, drv.driver)

    @EXPORT_SYMBOL
    def platform_driver_unregister(self, drv: PlatformDriver) -> None:
        """platform_driver_unregister(drv) (drivers/base/platform.c): unbind all, remove."""
        driver_unregister(self.k, drv.driver)

    # ------------------------------------------------------------------ devices
    @EXPORT_SYMBOL
    def platform_device_alloc(self, name: str, id: int) -> PlatformDevice | None:
        """platform_device_alloc(name, id) (drivers/base/platform.c)."""
        pdev = PlatformDevice(name, id)
        self.core.device_initialize(pdev.dev)
        pdev.dev.release = lambda dev: None  # platform_device_release()
        return pdev

    @EXPORT_SYMBOL
    def platform_device_add_resources(
        self, pdev: PlatformDevice, res: Sequence[Resource] | None, num: int | None = None
    ) -> int:
        """platform_device_add_resources(pdev, res, num) (drivers/base/platform.c): a copy."""
        items = list(res or [])[: num if num is not None else None]
        pdev.resource = [
            Resource(start=r.start, end=r.end, name=r.name, flags=r.flags, desc=r.desc)
            for r in items
        ]
        return 0

    @EXPORT_SYMBOL
    def platform_device_add_data(self, pdev: PlatformDevice, data: Any, size: int = 0) -> int:
        """platform_device_add_data(pdev, data, size) (drivers/base/platform.c)."""
        pdev.dev.platform_data = data
        return 0

    @EXPORT_SYMBOL
    def platform_device_add(self, pdev: PlatformDevice) -> int:
        """platform_device_add(pdev) (drivers/base/platform.c): name it, claim its resources
        in iomem/ioport ("failed to claim resource %d: %pR" on a conflict), add it."""
        dev = pdev.dev
        if dev.parent is None:
            dev.parent = self.core.platform_bus
        dev.bus = self.bus_type
        if pdev.id == PLATFORM_DEVID_NONE:
            self.k.dev_set_name(dev, pdev.name)
        elif pdev.id == PLATFORM_DEVID_AUTO:
            ida = 0
            while ida in self._ida:
                ida += 1
            self._ida.add(ida)
            pdev.id, pdev.id_auto = ida, True
            self.k.dev_set_name(dev, f"{pdev.name}.{pdev.id}.auto")
        else:
            self.k.dev_set_name(dev, f"{pdev.name}.{pdev.id}")
        tree = self.k.resource
        inserted: list[Resource] = []
        for i, r in enumerate(pdev.resource):
            if r.name is None:
                r.name = dev_name(dev)
            p = r.parent
            if p is None:
                if resource_type(r) == IORESOURCE_MEM:
                    p = tree.iomem_resource
                elif resource_type(r) == IORESOURCE_IO:
                    p = tree.ioport_resource
            if p is not None:
                ret = int(tree.insert_resource(p, r))
                if ret:
                    self.k.dev_err(dev, "failed to claim resource %d: %s\n", i, pR(r))
                    self._add_failed(pdev, inserted)
                    return ret
                inserted.append(r)
        platform_dev_attrs(self.k, pdev)
        if self.core.device_add(dev):
            self._add_failed(pdev, inserted)
            return -EINVAL
        return 0

    def _add_failed(self, pdev: PlatformDevice, inserted: list[Resource]) -> None:
        if pdev.id_auto:
            self._ida.discard(pdev.id)
            pdev.id, pdev.id_auto = PLATFORM_DEVID_AUTO, False
        for r in reversed(inserted):
            self.k.resource.release_resource(r)

    @EXPORT_SYMBOL
    def platform_device_register(self, pdev: PlatformDevice) -> int:
        """platform_device_register(pdev) (drivers/base/platform.c)."""
        self.core.device_initialize(pdev.dev)
        return self.platform_device_add(pdev)

    @EXPORT_SYMBOL
    def platform_device_del(self, pdev: PlatformDevice | None) -> None:
        """platform_device_del(pdev) (drivers/base/platform.c): unbind, remove, give back
        its resources."""
        if pdev is None or not isinstance(pdev, PlatformDevice):
            return
        self.core.device_del(pdev.dev)
        if pdev.id_auto:
            self._ida.discard(pdev.id)
            pdev.id = PLATFORM_DEVID_AUTO
        for r in pdev.resource:
            if r.parent is not None:
                self.k.resource.release_resource(r)

    @EXPORT_SYMBOL
    def platform_device_put(self, pdev: PlatformDevice | None) -> None:
        """platform_device_put(pdev) (drivers/base/platform.c)."""
        if isinstance(pdev, PlatformDevice):
            self.core.put_device(pdev.dev)

    @EXPORT_SYMBOL
    def platform_device_unregister(self, pdev: PlatformDevice | None) -> None:
        """platform_device_unregister(pdev) (drivers/base/platform.c): del + put."""
        from kmemsim.drivers.base.dd import driver_core_operation

        with driver_core_operation(self.k):
            self.platform_device_del(pdev)
            self.platform_device_put(pdev)

    @EXPORT_SYMBOL
    def platform_device_register_resndata(
        self,
        parent: Device | None,
        name: str,
        id: int,
        res: Sequence[Resource] | None,
        num: int | None,
        data: Any = None,
        size: int = 0,
    ) -> PlatformDevice | int:
        """platform_device_register_resndata() (include/linux/platform_device.h): the device,
        or an ERR_PTR() value."""
        from kmemsim.drivers.base.dd import driver_core_operation

        pdev = self.platform_device_alloc(name, id)
        if pdev is None:
            return ERR_PTR(-ENOMEM, self.k.machine.bits)
        pdev.dev.parent = parent
        self.platform_device_add_resources(pdev, res, num)
        self.platform_device_add_data(pdev, data, size)
        with driver_core_operation(self.k):
            ret = self.platform_device_add(pdev)
        if ret:
            self.platform_device_put(pdev)
            return ERR_PTR(ret, self.k.machine.bits)
        return pdev

    @EXPORT_SYMBOL
    def platform_device_register_simple(
        self, name: str, id: int, res: Sequence[Resource] | None = None, num: int | None = None
    ) -> PlatformDevice | int:
        """platform_device_register_simple(name, id, res, num) (include/linux/platform_device.h).

        `res` is a list of DEFINE_RES_MEM()/DEFINE_RES_IRQ() resources (`num`
        defaults to all of them). Returns the device, or an ERR_PTR() value."""
        return self.platform_device_register_resndata(None, name, id, res, num, None, 0)

    @EXPORT_SYMBOL
    def platform_device_register_data(
        self, parent: Device | None, name: str, id: int, data: Any, size: int = 0
    ) -> PlatformDevice | int:
        """platform_device_register_data(parent, name, id, data, size)."""
        return self.platform_device_register_resndata(parent, name, id, None, 0, data, size)

    # ------------------------------------------------------------------ resources
    @staticmethod
    @EXPORT_SYMBOL
    def platform_get_resource(dev: PlatformDevice, type: int, num: int) -> Resource | None:
        """platform_get_resource(dev, type, num) (drivers/base/platform.c): the num-th
        resource of that type, or None."""
        for r in dev.resource:
            if type == resource_type(r):
                if num == 0:
                    return r
                num -= 1
        return None

    @staticmethod
    @EXPORT_SYMBOL
    def platform_get_mem_or_io(dev: PlatformDevice, num: int) -> Resource | None:
        """platform_get_mem_or_io(dev, num) (drivers/base/platform.c)."""
        for r in dev.resource:
            if resource_type(r) & (IORESOURCE_MEM | IORESOURCE_IO):
                if num == 0:
                    return r
                num -= 1
        return None

    @staticmethod
    @EXPORT_SYMBOL
    def platform_get_resource_byname(dev: PlatformDevice, type: int, name: str) -> Resource | None:
        """platform_get_resource_byname(dev, type, name) (drivers/base/platform.c)."""
        for r in dev.resource:
            if r.name is None:
                continue
            if type == resource_type(r) and r.name == name:
                return r
        return None

    def _warn_irq0(self) -> int:
        from kmemsim.mm.debug import warn

        warn(
            self.k,
            "drivers/base/platform.c",
            "platform_get_irq_optional",
            "0 is an invalid IRQ number",
            once=False,
        )
        return -EINVAL

    @EXPORT_SYMBOL
    def platform_get_irq_optional(self, dev: PlatformDevice, num: int) -> int:
        """platform_get_irq_optional(dev, num) (drivers/base/platform.c): -ENXIO, quietly."""
        r = self.platform_get_resource(dev, IORESOURCE_IRQ, num)
        if r is None:
            return -ENXIO
        if r.start == 0:
            return self._warn_irq0()
        return r.start

    @EXPORT_SYMBOL
    def platform_get_irq(self, dev: PlatformDevice, num: int) -> int:
        """platform_get_irq(dev, num) (drivers/base/platform.c): the IRQ, or an error logged
        with dev_err_probe(): "error -ENXIO: IRQ index 0 not found"."""
        ret = self.platform_get_irq_optional(dev, num)
        if ret < 0:
            return self.core.dev_err_probe(dev.dev, ret, "IRQ index %u not found\n", num)
        return ret

    @EXPORT_SYMBOL
    def platform_irq_count(self, dev: PlatformDevice) -> int:
        """platform_irq_count(dev) (drivers/base/platform.c)."""
        nr = 0
        while (ret := self.platform_get_irq_optional(dev, nr)) >= 0:
            nr += 1
        return ret if ret == -EPROBE_DEFER else nr

    def _irq_byname(self, dev: PlatformDevice, name: str) -> int:
        r = self.platform_get_resource_byname(dev, IORESOURCE_IRQ, name)
        if r is not None:
            if r.start == 0:
                return self._warn_irq0()
            return r.start
        return -ENXIO

    @EXPORT_SYMBOL
    def platform_get_irq_byname(self, dev: PlatformDevice, name: str) -> int:
        """platform_get_irq_byname(dev, name) (drivers/base/platform.c)."""
        ret = self._irq_byname(dev, name)
        if ret < 0:
            return self.core.dev_err_probe(dev.dev, ret, "IRQ %s not found\n", name)
        return ret

    @EXPORT_SYMBOL
    def platform_get_irq_byname_optional(self, dev: PlatformDevice, name: str) -> int:
        """platform_get_irq_byname_optional(dev, name) (drivers/base/platform.c)."""
        return self._irq_byname(dev, name)

    @staticmethod
    @EXPORT_SYMBOL
    def platform_get_drvdata(pdev: PlatformDevice) -> Any:
        """platform_get_drvdata(pdev) (include/linux/platform_device.h)."""
        return pdev.dev.driver_data

    @staticmethod
    @EXPORT_SYMBOL
    def platform_set_drvdata(pdev: PlatformDevice, data: Any) -> None:
        """platform_set_drvdata(pdev, data) (include/linux/platform_device.h)."""
        pdev.dev.driver_data = data

    @staticmethod
    @EXPORT_SYMBOL
    def to_platform_device(dev: Device) -> PlatformDevice:
        """to_platform_device(dev) (include/linux/platform_device.h)."""
        return to_platform_device(dev)

    @staticmethod
    @EXPORT_SYMBOL
    def of_device_get_match_data(dev: Device) -> Any:
        """of_device_get_match_data(dev) (drivers/of/device.c): the matching entry's data."""
        if dev.driver is None:
            return None
        entry = of_match_device(dev.driver.of_match_table, dev)
        return entry.data if entry is not None else None

    @staticmethod
    @EXPORT_SYMBOL
    def device_get_match_data(dev: Device) -> Any:
        """device_get_match_data(dev) (drivers/base/property.c): OF data here."""
        return Platform.of_device_get_match_data(dev)

    # ------------------------------------------------------------------ ioremap helpers
    @EXPORT_SYMBOL
    def devm_platform_get_and_ioremap_resource(
        self, pdev: PlatformDevice, index: int
    ) -> tuple[int, Resource | None]:
        """devm_platform_get_and_ioremap_resource(pdev, index, &res) (drivers/base/platform.c).

        Python returns the C function's output parameter too: (base, res),
        base an __iomem address or an ERR_PTR() value."""
        r = self.platform_get_resource(pdev, IORESOURCE_MEM, index)
        return self.k.devm_ioremap_resource(pdev.dev, r), r

    @EXPORT_SYMBOL
    def devm_platform_ioremap_resource(self, pdev: PlatformDevice, index: int) -> int:
        """devm_platform_ioremap_resource(pdev, index) (drivers/base/platform.c):
        platform_get_resource() + devm_ioremap_resource(); an ERR_PTR() value on failure."""
        return self.devm_platform_get_and_ioremap_resource(pdev, index)[0]

    @EXPORT_SYMBOL
    def devm_platform_ioremap_resource_byname(self, pdev: PlatformDevice, name: str) -> int:
        """devm_platform_ioremap_resource_byname(pdev, name) (drivers/base/platform.c)."""
        r = self.platform_get_resource_byname(pdev, IORESOURCE_MEM, name)
        return int(self.k.devm_ioremap_resource(pdev.dev, r))


def platform_bus_init(k: Kernel) -> None:
    """platform_bus_init() (driver_init()): /sys/devices/platform and /sys/bus/platform."""
    core = k.driver_core
    plat = Platform(k)
    k.platform = plat
    bus_dev = Device(init_name="platform")
    bus_dev.release = lambda dev: None
    core.device_register(bus_dev)
    core.platform_bus = bus_dev
    bus_register(k, plat.bus_type)


def of_platform_populate(k: Kernel) -> None:
    """of_platform_default_populate_init() (drivers/of/platform.c, arch_initcall_sync):
    a platform device for each of the profile's enabled device nodes.

    Named as of_device_make_bus_id() names them ("44e09000.serial"), with
    their reg ranges as IORESOURCE_MEM (named by reg-names), their
    interrupts as IORESOURCE_IRQ and their I/O ports as IORESOURCE_IO, and
    an of_node carrying the compatible strings. As of_device_add() does,
    the resources are not inserted into /proc/iomem."""
    plat: Platform = k.platform
    for spec in k.machine.devices:
        if spec.status not in ("okay", "ok"):
            continue
        res: list[Resource] = []
        names = spec.reg_names
        for i, (start, size) in enumerate(spec.reg):
            name = names[i] if i < len(names) else None
            res.append(Resource(start=start, end=start + size - 1, name=name, flags=IORESOURCE_MEM))
        for start, size in spec.ioports:
            res.append(Resource(start=start, end=start + size - 1, flags=IORESOURCE_IO))
        for irq in spec.interrupts:
            res.append(Resource(start=irq, end=irq, flags=IORESOURCE_IRQ))
        pdev = PlatformDevice(spec.name, PLATFORM_DEVID_NONE)
        k.driver_core.device_initialize(pdev.dev)
        pdev.dev.release = lambda dev: None
        node_name = spec.name.split(".", 1)[1] if "." in spec.name else spec.name
        pdev.dev.of_node = OfNode(node_name, spec.compatible)
        pdev.resource = res
        pdev.dev.parent = k.driver_core.platform_bus
        pdev.dev.bus = plat.bus_type
        k.dev_set_name(pdev.dev, spec.name)
        platform_dev_attrs(k, pdev)
        k.driver_core.device_add(pdev.dev)


def platform_dev_attrs(k: Kernel, pdev: PlatformDevice) -> None:
    """platform_dev_group: modalias and driver_override in the device's directory."""
    from kmemsim.drivers.base.core import device_path

    path = device_path(pdev.dev)

    def override_store(text: str) -> int:
        value = text.removesuffix("\n")
        pdev.driver_override = value or None  # driver_set_override(): "" clears it
        return len(text)

    k.fs.create_file(f"{path}/modalias", lambda: pdev.modalias() + "\n")
    k.fs.create_file(
        f"{path}/driver_override",
        lambda: f"{pdev.driver_override or '(null)'}\n",
        override_store,
    )
    pdev.dev.sysfs_files += [f"{path}/modalias", f"{path}/driver_override"]


def builtin_drivers_init(k: Kernel) -> None:
    """The device_initcalls of the board's built-in drivers (module_platform_driver()).

    A profile device that names its kernel `driver` gets that driver bound at
    boot, as the kernel built with it does: a platform driver of that name,
    matching the device's compatible strings (or its name), whose probe
    claims the regions the real driver claims (`claims`, `io_claims`) with
    devm_request_mem_region()/devm_request_region(). The regions show in
    /proc/iomem and /proc/ioports under the driver's names, and unbinding
    the driver (echo NAME > /sys/bus/platform/drivers/DRIVER/unbind) gives
    them back, so that a driver of one's own can take the device."""
    from kmemsim.include.linux.ioport import DEFINE_RES_IO, DEFINE_RES_MEM

    specs: dict[str, list[DeviceSpec]] = {}
    for spec in k.machine.devices:
        if spec.driver and spec.status in ("okay", "ok"):
            specs.setdefault(spec.driver, []).append(spec)
    for name, group in specs.items():
        by_dev = {s.name: s for s in group}

        def probe(pdev: PlatformDevice, by_dev: dict[str, DeviceSpec] = by_dev) -> int:
            spec = by_dev.get(dev_name(pdev.dev))
            if spec is None:
                return -ENXIO
            for start, end, what in spec.claims:
                if k.devm_request_mem_region(pdev.dev, start, end - start + 1, what) is None:
                    res = DEFINE_RES_MEM(start, end - start + 1)
                    return k.driver_core.dev_err_probe(
                        pdev.dev, -EBUSY, "can't request region for resource %s\n", pR(res)
                    )
            for start, end, what in spec.io_claims:
                if k.devm_request_region(pdev.dev, start, end - start + 1, what) is None:
                    res = DEFINE_RES_IO(start, end - start + 1)
                    return k.driver_core.dev_err_probe(
                        pdev.dev, -EBUSY, "can't request region for resource %s\n", pR(res)
                    )
            return 0

        compatible = sorted({c for s in group for c in s.compatible})
        plain = [s.name.split(".")[0] for s in group if not s.compatible]
        drv = PlatformDriver(
            name,
            probe,
            of_match_table=compatible or None,
            id_table=plain or None,
        )
        k.platform.platform_driver_register(drv)
