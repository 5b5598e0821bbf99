"""Device managed allocations: the slides' foo driver, both ways.

Run it with a booted kernel bound to `k`:

    kmemsim run examples/driver_devm.py --profile beaglebone-black

or as a plain script (`python examples/driver_devm.py`), which boots its own.

The foo driver's probe allocates its state, registers with a "framework" and
sets up a buffer; a check half-way fails and probe returns -EBUSY. Written
with kmalloc()/kfree() every error path must undo what came before it, in
reverse, by hand (and the version here forgets one kfree: the leak shows in
the slab counts). Written with devm_kmalloc() and devm_add_action(), the
driver core undoes everything itself, newest first, when probe fails and
again after remove() when the device is unbound.
"""

from __future__ import annotations

import kmemsim

if "k" not in globals():
    k = kmemsim.boot("beaglebone-black")

GFP_KERNEL = kmemsim.GFP_KERNEL
SIZEOF_FOO_T = 96  # struct foo_t


def say(text: str) -> None:
    print(text)


def kmalloc_objects() -> int:
    """Objects allocated from the kmalloc caches (exact: a model can count them)."""
    slab = k.slab
    return sum(slab.objects_inuse(s) for s in slab.caches if s.name.startswith("kmalloc-"))


# The device both drivers bind to: a platform device named "foo", instance 0.
pdev = k.platform_device_register_simple("foo", 0, [kmemsim.DEFINE_RES_IRQ(42)])
say(f'platform_device_register_simple("foo", 0, ...) -> {k.dev_name(pdev.dev)}')

# ---------------------------------------------------------------------------------
# 1. Without devm functions.
say("\n1. foo driver with kmalloc()/kfree()")
fail = True
framework: list[int] = []  # what the "framework" holds


def foo_probe(pdev):  # type: ignore[no-untyped-def]
    foo = k.kmalloc(SIZEOF_FOO_T, GFP_KERNEL)
    if not foo:
        return -kmemsim.ENOMEM
    framework.append(foo)  # register to framework, keep a reference in foo
    buf = k.kmalloc(512, GFP_KERNEL)
    if not buf:
        framework.remove(foo)
        k.kfree(foo)
        return -kmemsim.ENOMEM
    if fail:
        # The error path undoes by hand, in reverse: unregister, then free...
        framework.remove(foo)
        k.kfree(foo)
        # ... and forgets kfree(buf): a leak no one sees until the memory is gone.
        return -kmemsim.EBUSY
    k.platform_set_drvdata(pdev, (foo, buf))
    return 0


def foo_remove(pdev):  # type: ignore[no-untyped-def]
    foo, buf = k.platform_get_drvdata(pdev)
    framework.remove(foo)
    k.kfree(buf)
    k.kfree(foo)


before = kmalloc_objects()
since = len(k.log)
drv = kmemsim.platform_driver("foo", foo_probe, foo_remove)
k.platform_driver_register(drv)
say("   probe fails half-way:")
for line in k.dmesg(since).splitlines():
    say("   " + line)
say(f"   kmalloc objects in use: {kmalloc_objects() - before:+d} after the probe: one leaked")
k.platform_driver_unregister(drv)

# ---------------------------------------------------------------------------------
# 2. With devm functions.
say("\n2. foo driver with devm_kmalloc() and devm_add_action()")
released: list[str] = []


def framework_unregister(foo: int) -> None:
    released.append(f"framework_unregister(foo={foo:#x})")
    framework.remove(foo)


def buffer_stop(buf: int) -> None:
    released.append(f"buffer_stop(buf={buf:#x})")


def foo_devm_probe(pdev):  # type: ignore[no-untyped-def]
    dev = pdev.dev
    foo = k.devm_kmalloc(dev, SIZEOF_FOO_T, GFP_KERNEL)
    if not foo:
        return -kmemsim.ENOMEM
    framework.append(foo)  # register to framework ...
    ret = k.devm_add_action_or_reset(dev, framework_unregister, foo)  # ... undone on release
    if ret:
        return ret
    buf = k.devm_kzalloc(dev, 512, GFP_KERNEL)
    if not buf:
        return -kmemsim.ENOMEM
    k.devm_add_action(dev, buffer_stop, buf)
    if fail:
        return -kmemsim.EBUSY  # nothing to undo by hand
    k.platform_set_drvdata(pdev, foo)
    k.dev_info(dev, "foo %#x, buffer %#x", foo, buf)
    return 0


def foo_devm_remove(pdev):  # type: ignore[no-untyped-def]
    foo = k.platform_get_drvdata(pdev)
    released.append(f"foo_remove(): drvdata {foo:#x} still valid")
    # foo automatically freed


before = kmalloc_objects()
log_from = len(k.devres.release_log)
since = len(k.log)
drv = kmemsim.platform_driver("foo", foo_devm_probe, foo_devm_remove)
k.platform_driver_register(drv)
say("   probe fails half-way:")
for line in k.dmesg(since).splitlines():
    say("   " + line)
say("   the driver core released, newest first (devres names as the kernel's):")
for dev_name, what in k.devres.release_log[log_from:]:
    say(f"     {dev_name}: {what}")
say(f"   the actions ran in that order: {', '.join(released)}")
say(f"   kmalloc objects in use: {kmalloc_objects() - before:+d} after the probe: nothing leaked")

# Probe again, successfully, through sysfs; then unbind.
fail = False
released.clear()
since = len(k.log)
k.echo("foo.0", "/sys/bus/platform/drivers/foo/bind")
say("\n   echo foo.0 > /sys/bus/platform/drivers/foo/bind:")
for line in k.dmesg(since).splitlines():
    say("   " + line)
link = k.fs.readlink("/sys/devices/platform/foo.0/driver")
say(f"   /sys/devices/platform/foo.0/driver -> {link}")
log_from = len(k.devres.release_log)
k.echo("foo.0", "/sys/bus/platform/drivers/foo/unbind")
say("   echo foo.0 > /sys/bus/platform/drivers/foo/unbind: remove() first, then the devres:")
for what in released:
    say(f"     {what}")
for dev_name, what in k.devres.release_log[log_from:]:
    say(f"     {dev_name}: released {what}")
say(f"   kmalloc objects in use: {kmalloc_objects() - before:+d} since before the devm driver came")
k.platform_driver_unregister(drv)
k.platform_device_unregister(pdev)
