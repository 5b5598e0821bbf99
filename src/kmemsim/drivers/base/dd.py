"""Model of drivers/base/dd.c: binding a driver to a device, unbinding it, deferred probe.

really_probe() is the heart: it sets dev->driver, links the two in sysfs,
calls the bus's probe (platform_probe(), which calls the driver's probe) and,
when that fails, undoes everything in the kernel's order: the sysfs links,
then device_unbind_cleanup(): devres_release_all() (every managed resource
the probe took, newest first), dev->driver = NULL, drvdata = NULL. The
failure is logged by call_driver_probe(): dev_err "probe with driver %s
failed with error %d" (6.9 and later), nothing for -ENODEV/-ENXIO (a driver
declining the device) or -EPROBE_DEFER. A probe that returns an error makes
the bus try its next driver.

Unbinding (__device_release_driver()) removes the sysfs links, calls the
bus's remove (the driver's remove()) while the devres are still there, and
only then releases them: remove() may still use what the probe allocated.

Deferred probe: a probe that returns -EPROBE_DEFER puts the device on the
pending list; every successful bind (driver_bound()) moves the pending list
to the active list and schedules deferred_probe_work_func(), which retries
each active device. In the kernel a workqueue runs it soon after; in the
model it runs when the driver-core operation that scheduled it (a driver or
device registration, a bind or unbind through sysfs) returns, so a device
waiting for another driver binds as soon as that driver has bound. Until
the late_initcall deferred_probe_initcall() enables it, nothing is retried;
that initcall also creates /sys/kernel/debug/devices_deferred ("name\\treason"
per pending device).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from kmemsim.drivers.base.core import Device, dev_name, device_path
from kmemsim.include.linux.errno import (
    EAGAIN,
    EBUSY,
    ENODEV,
    ENXIO,
    EPROBE_DEFER,
)

if TYPE_CHECKING:
    from kmemsim.drivers.base.driver import DeviceDriver
    from kmemsim.init.main import Kernel


@contextlib.contextmanager
def driver_core_operation(k: Kernel) -> Iterator[None]:
    """One driver-core operation: when the outermost one returns, the deferred probe work
    it scheduled runs (the kernel's workqueue, made deterministic)."""
    core = k.driver_core
    core.depth += 1
    try:
        yield
    finally:
        core.depth -= 1
        if core.depth == 0:
            flush_deferred_probe_work(k)


# ---------------------------------------------------------------------- deferred probe
def driver_deferred_probe_add(k: Kernel, dev: Device) -> None:
    """driver_deferred_probe_add(): queue the device on the pending list (once)."""
    core = k.driver_core
    assert dev.p is not None
    if not dev.p.deferred_probe:
        k.dev_dbg(dev, "Added to deferred list\n")
        dev.p.deferred_probe = True
        core.deferred_pending.append(dev)


def driver_deferred_probe_del(k: Kernel, dev: Device) -> None:
    """driver_deferred_probe_del(): off the deferred lists, its reason freed."""
    core = k.driver_core
    p = dev.p
    if p is None or not p.deferred_probe:
        return
    k.dev_dbg(dev, "Removed from deferred list\n")
    p.deferred_probe = False
    for lst in (core.deferred_pending, core.deferred_active):
        if dev in lst:
            lst.remove(dev)
    if p.deferred_probe_reason_addr:
        k.slab.kfree(p.deferred_probe_reason_addr)
    p.deferred_probe_reason = None
    p.deferred_probe_reason_addr = 0


def driver_deferred_probe_trigger(k: Kernel) -> None:
    """driver_deferred_probe_trigger(): pending devices become active; schedule the retry."""
    core = k.driver_core
    if not core.deferred_probe_enable:
        return
    core.deferred_trigger_count += 1
    core.deferred_active.extend(core.deferred_pending)
    core.deferred_pending.clear()
    core.deferred_work_pending = True


def deferred_probe_work_func(k: Kernel) -> None:
    """deferred_probe_work_func(): retry every device on the active list, first in first."""
    core = k.driver_core
    core.deferred_work_pending = False
    while core.deferred_active:
        dev = core.deferred_active.pop(0)
        assert dev.p is not None
        dev.p.deferred_probe = False
        k.get_device(dev)
        k.dev_dbg(dev, "Retrying from deferred list\n")
        from kmemsim.drivers.base.bus import bus_probe_device

        bus_probe_device(k, dev)
        k.put_device(dev)


def flush_deferred_probe_work(k: Kernel) -> None:
    """Run the deferred probe work the finished operation scheduled (the workqueue)."""
    core = k.driver_core
    if core.deferred_work_running:
        return
    core.deferred_work_running = True
    try:
        while core.deferred_work_pending:
            deferred_probe_work_func(k)
    finally:
        core.deferred_work_running = False


def deferred_devs_show(k: Kernel) -> str:
    """deferred_devs_show(): /sys/kernel/debug/devices_deferred, "name\\treason" per device."""
    out = []
    for dev in k.driver_core.deferred_pending:
        assert dev.p is not None
        out.append(f"{dev_name(dev)}\t{dev.p.deferred_probe_reason or chr(10)}")
    return "".join(out)


def deferred_probe_initcall(k: Kernel) -> None:
    """deferred_probe_initcall() (late_initcall): devices_deferred, and retries from now on."""
    core = k.driver_core
    k.fs.create_file("/sys/kernel/debug/devices_deferred", lambda: deferred_devs_show(k))
    core.deferred_probe_enable = True
    driver_deferred_probe_trigger(k)
    flush_deferred_probe_work(k)
    core.initcalls_done = True
    driver_deferred_probe_trigger(k)
    flush_deferred_probe_work(k)


# ---------------------------------------------------------------------- sysfs links
def driver_sysfs_add(k: Kernel, dev: Device) -> int:
    """driver_sysfs_add(): drivers/DRV/<device> and <device>/driver links."""
    import posixpath

    drv = dev.driver
    assert drv is not None and drv.bus is not None
    drv_dir = f"/sys/bus/{drv.bus.name}/drivers/{drv.name}"
    path = device_path(dev)
    k.fs.create_link(f"{drv_dir}/{dev_name(dev)}", posixpath.relpath(path, drv_dir))
    k.fs.create_link(f"{path}/driver", posixpath.relpath(drv_dir, path))
    return 0


def driver_sysfs_remove(k: Kernel, dev: Device) -> None:
    """driver_sysfs_remove(): remove both links."""
    drv = dev.driver
    if drv is not None and drv.bus is not None:
        k.fs.remove(f"/sys/bus/{drv.bus.name}/drivers/{drv.name}/{dev_name(dev)}")
        k.fs.remove(f"{device_path(dev)}/driver")


# ---------------------------------------------------------------------- binding
def driver_match_device(drv: DeviceDriver, dev: Device) -> int:
    """driver_match_device() (base.h): the bus's match(), 1 when the bus has none."""
    bus = drv.bus
    if bus is not None and bus.match is not None:
        return bus.match(dev, drv)
    return 1


def driver_bound(k: Kernel, dev: Device) -> None:
    """driver_bound(): the device joins its driver's list; deferred devices get another try."""
    drv = dev.driver
    assert drv is not None
    if dev in drv.devices:
        k.log.pr_warn(f"driver_bound: device {dev_name(dev)} already bound")
        return
    drv.devices.append(dev)
    driver_deferred_probe_del(k, dev)
    driver_deferred_probe_trigger(k)


def device_unbind_cleanup(k: Kernel, dev: Device) -> None:
    """device_unbind_cleanup(): release every devres, forget the driver and its data."""
    k.devres.devres_release_all(dev)
    dev.driver = None
    dev.driver_data = None


def device_remove(k: Kernel, dev: Device) -> None:
    """device_remove(): the bus's remove(), else the driver's."""
    drv = dev.driver
    assert drv is not None
    if dev.bus is not None and dev.bus.remove is not None:
        dev.bus.remove(dev)
    elif drv.remove is not None:
        drv.remove(dev)


def call_driver_probe(k: Kernel, dev: Device, drv: DeviceDriver) -> int:
    """call_driver_probe(): the bus's (or driver's) probe, and its error logged as 6.18 does."""
    ret = 0
    if dev.bus is not None and dev.bus.probe is not None:
        ret = dev.bus.probe(dev)
    elif drv.probe is not None:
        ret = drv.probe(dev)
    if ret == 0:
        pass
    elif ret == -EPROBE_DEFER:
        k.dev_dbg(dev, "Driver %s requests probe deferral\n", drv.name)
    elif ret in (-ENODEV, -ENXIO):
        # pr_debug("%s: probe of %s rejects match %d\n"): compiled out without DEBUG.
        pass
    else:
        k.dev_err(dev, "probe with driver %s failed with error %d\n", drv.name, ret)
    return ret


def really_probe(k: Kernel, dev: Device, drv: DeviceDriver) -> int:
    """really_probe(): bind, probe, and on failure undo it all (devres released in reverse)."""
    core = k.driver_core
    if core.defer_all_probes:
        k.dev_dbg(dev, "Driver %s force probe deferral\n", drv.name)
        return -EPROBE_DEFER
    if dev.devres_head:
        k.dev_crit(dev, "Resources present before probing\n")
        return -EBUSY
    dev.driver = drv
    driver_sysfs_add(k, dev)
    ret = call_driver_probe(k, dev, drv)
    if ret:
        # Probe errors come back positive, to tell them from the driver core's own.
        ret = -ret
        driver_sysfs_remove(k, dev)
        device_unbind_cleanup(k, dev)
        return ret
    driver_bound(k, dev)
    return 0


def __driver_probe_device(k: Kernel, drv: DeviceDriver, dev: Device) -> int:
    """__driver_probe_device(): -ENODEV for a dead or unregistered device, -EBUSY if bound."""
    if (dev.p is not None and dev.p.dead) or not dev.registered:
        return -ENODEV
    if dev.driver is not None:
        return -EBUSY
    dev.can_match = True
    return really_probe(k, dev, drv)


def driver_probe_device(k: Kernel, drv: DeviceDriver, dev: Device) -> int:
    """driver_probe_device(): probe, and put a deferring device on the pending list."""
    core = k.driver_core
    trigger_count = core.deferred_trigger_count
    core.probe_count += 1
    try:
        ret = __driver_probe_device(k, drv, dev)
        if ret in (-EPROBE_DEFER, EPROBE_DEFER):
            driver_deferred_probe_add(k, dev)
            # Did a trigger occur while probing? Need to re-trigger if yes.
            if trigger_count != core.deferred_trigger_count and not core.defer_all_probes:
                driver_deferred_probe_trigger(k)
    finally:
        core.probe_count -= 1
    return ret


def _device_attach_driver(k: Kernel, drv: DeviceDriver, dev: Device) -> int:
    """__device_attach_driver(): 1 stops the walk over the bus's drivers (bound)."""
    ret = driver_match_device(drv, dev)
    if ret == 0:
        return 0
    if ret == -EPROBE_DEFER:
        k.dev_dbg(dev, "Device match requests probe deferral\n")
        dev.can_match = True
        driver_deferred_probe_add(k, dev)
        return ret
    if ret < 0:
        k.dev_dbg(dev, "Bus failed to match device: %d\n", ret)
        return ret
    ret = driver_probe_device(k, drv, dev)
    if ret < 0:
        return ret
    return 1 if ret == 0 else 0


def device_attach(k: Kernel, dev: Device) -> int:
    """device_attach() / __device_attach(): try the bus's drivers in registration order.

    1 when bound (or already bound), 0 when no driver took it, else an error."""
    if dev.p is not None and dev.p.dead:
        return 0
    if dev.driver is not None:
        return 1 if dev in dev.driver.devices else 0
    bus = dev.bus
    if bus is None:
        return 0
    for drv in list(bus.drivers.values()):
        ret = _device_attach_driver(k, drv, dev)
        if ret:
            return ret
    return 0


def device_initial_probe(k: Kernel, dev: Device) -> None:
    """device_initial_probe(): the probe a new device gets."""
    device_attach(k, dev)


def driver_attach(k: Kernel, drv: DeviceDriver) -> int:
    """driver_attach() / __driver_attach(): try a new driver on every device of its bus."""
    assert drv.bus is not None
    for dev in list(drv.bus.devices):
        ret = driver_match_device(drv, dev)
        if ret == 0:
            continue
        if ret == -EPROBE_DEFER:
            k.dev_dbg(dev, "Device match requests probe deferral\n")
            dev.can_match = True
            driver_deferred_probe_add(k, dev)
            continue
        if ret < 0:
            k.dev_dbg(dev, "Bus failed to match device: %d\n", ret)
            continue
        driver_probe_device(k, drv, dev)
    return 0


def device_driver_attach(k: Kernel, drv: DeviceDriver, dev: Device) -> int:
    """device_driver_attach(): bind on request (sysfs bind); probe errors as negative errnos."""
    ret = __driver_probe_device(k, drv, dev)
    if ret > 0:
        ret = -ret
    if ret == -EPROBE_DEFER:
        return -EAGAIN
    return ret


def __device_release_driver(k: Kernel, dev: Device) -> None:
    """__device_release_driver(): links, remove(), then every devres, newest first."""
    drv = dev.driver
    if drv is None:
        return
    driver_sysfs_remove(k, dev)
    device_remove(k, dev)
    device_unbind_cleanup(k, dev)
    if dev in drv.devices:
        drv.devices.remove(dev)


def device_release_driver(k: Kernel, dev: Device) -> None:
    """device_release_driver(dev): manually detach a device from its driver."""
    __device_release_driver(k, dev)


def device_driver_detach(k: Kernel, dev: Device) -> None:
    """device_driver_detach(dev): detach on request (sysfs unbind)."""
    __device_release_driver(k, dev)


def driver_detach(k: Kernel, drv: DeviceDriver) -> None:
    """driver_detach(drv): release every device of the driver, the last bound first."""
    while drv.devices:
        dev = drv.devices[-1]
        k.get_device(dev)
        if dev.driver is drv:
            __device_release_driver(k, dev)
        else:
            drv.devices.remove(dev)
        k.put_device(dev)
