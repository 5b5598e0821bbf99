"""devres (drivers/base/devres.c): layout, release order, groups, misuse."""

from __future__ import annotations

import pytest

import kmemsim
from kmemsim import GFP_KERNEL
from tests.drivers.support import Recorder, counters, objects


@pytest.fixture
def k() -> kmemsim.Kernel:
    return kmemsim.boot("x86_64", mem="512M")


def bound_device(k: kmemsim.Kernel, name: str = "foo") -> kmemsim.Kernel:
    """A device bound to a driver that takes nothing: its dev for devm_ calls."""
    drv = kmemsim.platform_driver(name, lambda pdev: 0)
    assert k.platform_driver_register(drv) == 0
    pdev = k.platform_device_register_simple(name, 0)
    assert pdev.dev.driver is drv.driver
    return pdev.dev


@pytest.mark.parametrize(
    ("profile", "header", "cache"),
    [("x86_64", 40, 192), ("i386", 24, 128), ("beaglebone-black", 64, 192)],
)
def test_devm_kmalloc_is_data_of_a_devres(profile, header, cache):
    # struct devres: five words of node, data[] aligned to ARCH_DMA_MINALIGN (8; 64 on ARM);
    # alloc_dr() takes kmalloc_size_roundup(sizeof(struct devres) + size).
    k = kmemsim.boot(profile, mem="512M")
    dev = bound_device(k)
    p = k.devm_kmalloc(dev, 100, GFP_KERNEL)
    assert k.devres.sizeof_devres == header
    assert k.ksize(p - header) == cache
    assert p % (64 if profile == "beaglebone-black" else 8) == 0
    assert k.devm_kmalloc(dev, 0, GFP_KERNEL) == 16  # ZERO_SIZE_PTR
    z = k.devm_kzalloc(dev, 300, GFP_KERNEL)
    assert k.read(z, 300) == bytes(300)


def test_probe_failure_releases_everything_newest_first(k):
    rec = Recorder(k, fail_with=-kmemsim.EBUSY)
    start = objects(k)
    assert k.platform_driver_register(rec.drv) == 0
    k.platform_device_register_simple("foo", 0)
    assert rec.probes == 1
    assert rec.events == ["undo 3", "undo 2", "undo 1", "undo 0"]
    # the kmallocs went back too: the release log interleaves them, newest first
    names = [n for _, n in k.devres.release_log]
    assert names == ["append", "devm_kzalloc_release"] * 4
    assert "foo foo.0: probe with driver foo failed with error -16" in k.dmesg()
    assert objects(k) == start
    assert k.fs.readlink("/sys/devices/platform/foo.0/driver") is None
    assert "foo.0" not in k.fs.listdir("/sys/bus/platform/drivers/foo")


def test_unbind_calls_remove_first_then_releases_in_reverse(k):
    rec = Recorder(k)
    k.platform_driver_register(rec.drv)
    pdev = k.platform_device_register_simple("foo", 0)
    assert pdev.dev.driver is rec.drv.driver and rec.events == []
    assert k.echo("foo.0", "/sys/bus/platform/drivers/foo/unbind") == 5
    assert rec.events == ["remove state", "undo 3", "undo 2", "undo 1", "undo 0"]
    assert pdev.dev.driver is None and k.platform_get_drvdata(pdev) is None


def test_release_order_breaks_when_the_list_is_walked_forward(k, monkeypatch):
    # A check that can fail: release_nodes() walking the list head to tail instead.
    from kmemsim.drivers.base import devres

    monkeypatch.setattr(
        devres.Devres,
        "_release_nodes",
        lambda self, dev, todo: [self._call_release(dev, n) for n in todo if n.group is None],
    )
    rec = Recorder(k, fail_with=-kmemsim.EBUSY)
    k.platform_driver_register(rec.drv)
    k.platform_device_register_simple("foo", 0)
    assert rec.events != ["undo 3", "undo 2", "undo 1", "undo 0"]


def test_bind_unbind_a_thousand_times_leaks_nothing(k):
    rec = Recorder(k, steps=3)
    k.platform_driver_register(rec.drv)
    pdev = k.platform_device_register_simple("foo", 0, [kmemsim.DEFINE_RES_IRQ(7)])
    k.echo("foo.0", "/sys/bus/platform/drivers/foo/unbind")  # warm the caches up
    k.echo("foo.0", "/sys/bus/platform/drivers/foo/bind")
    k.echo("foo.0", "/sys/bus/platform/drivers/foo/unbind")
    start = counters(k)
    for _ in range(1000):
        k.echo("foo.0", "/sys/bus/platform/drivers/foo/bind")
        assert pdev.dev.driver is not None
        k.echo("foo.0", "/sys/bus/platform/drivers/foo/unbind")
    assert rec.probes == 1002
    assert counters(k) == start


def test_a_forgotten_kfree_shows_in_the_counters(k):
    # The counters can see a leak: one kmalloc per bind that nobody frees.
    leaked = []

    def probe(pdev):
        leaked.append(k.kmalloc(64, GFP_KERNEL))
        return 0

    k.platform_driver_register(kmemsim.platform_driver("leaky", probe))
    k.platform_device_register_simple("leaky", -1)
    k.echo("leaky", "/sys/bus/platform/drivers/leaky/unbind")
    start = counters(k)
    for _ in range(10):
        k.echo("leaky", "/sys/bus/platform/drivers/leaky/bind")
        k.echo("leaky", "/sys/bus/platform/drivers/leaky/unbind")
    assert counters(k)["objs:kmalloc-64"] == start["objs:kmalloc-64"] + 10


def test_devm_kfree_of_memory_it_does_not_manage_warns(k):
    dev = bound_device(k)
    p = k.kmalloc(64, GFP_KERNEL)
    k.devm_kfree(dev, p)
    log = k.dmesg()
    assert "------------[ cut here ]------------" in log
    assert "at drivers/base/devres.c devm_kfree" in log
    assert log.count("---[ end trace") == 1
    q = k.devm_kmalloc(dev, 64, GFP_KERNEL)
    k.devm_kfree(dev, q)
    assert k.dmesg().count("WARNING:") == 1  # a managed one is freed quietly
    k.devm_kfree(dev, 0)  # NULL: nothing
    k.devm_kfree(dev, p)  # WARN_ON(), not WARN_ON_ONCE(): again
    assert k.dmesg().count("WARNING:") == 2
    k.kfree(p)


def test_devm_krealloc_keeps_the_place_in_the_release_order(k):
    dev = bound_device(k)
    order = []
    k.devm_add_action(dev, order.append, "a")
    p = k.devm_kmalloc(dev, 16, GFP_KERNEL)
    k.write(p, b"0123456789abcdef")
    k.devm_add_action(dev, order.append, "b")
    same = k.devm_krealloc(dev, p, 20, GFP_KERNEL)  # 40 + 20 still fits kmalloc-64
    assert same == p
    bigger = k.devm_krealloc(dev, p, 1000, GFP_KERNEL)
    assert bigger != p and k.read(bigger, 16) == b"0123456789abcdef"
    node_names = [n.name for n in dev.devres_head]
    assert node_names == ["append", "devm_krealloc_release", "append"]
    k.devres_release_all(dev)
    assert order == ["b", "a"]
    assert k.devm_krealloc(dev, k.kmalloc(32, GFP_KERNEL), 2000, GFP_KERNEL) == 0
    assert "WARNING:" in k.dmesg()


def test_devm_kstrdup_kasprintf_kmemdup(k):
    dev = bound_device(k)
    s = k.devm_kstrdup(dev, "hello", GFP_KERNEL)
    assert k.read(s, 6) == b"hello\0"
    t = k.devm_kstrdup(dev, s, GFP_KERNEL)  # from an address
    assert t != s and k.read(t, 6) == b"hello\0"
    f = k.devm_kasprintf(dev, GFP_KERNEL, "%s %s", "foo.0", "regs")
    assert k.read(f, 11) == b"foo.0 regs\0"
    d = k.devm_kmemdup(dev, s, 3, GFP_KERNEL)
    assert k.read(d, 3) == b"hel"
    assert k.devm_kstrdup(dev, None, GFP_KERNEL) == 0
    assert k.devm_kmalloc_array(dev, 1 << 62, 8, GFP_KERNEL) == 0
    c = k.devm_kcalloc(dev, 10, 12, GFP_KERNEL)
    assert k.read(c, 120) == bytes(120)


def test_actions(k):
    dev = bound_device(k)
    ran = []
    assert k.devm_add_action(dev, ran.append, 1) == 0
    assert k.devm_add_action_or_reset(dev, ran.append, 2) == 0
    k.devm_release_action(dev, ran.append, 1)
    assert ran == [1]
    k.devm_remove_action(dev, ran.append, 2)  # forgotten, never run
    k.devres_release_all(dev)
    assert ran == [1]
    k.devm_release_action(dev, ran.append, 3)
    assert "at drivers/base/devres.c devm_release_action" in k.dmesg()


def test_groups_release_only_their_contents(k):
    dev = bound_device(k)
    ran = []
    k.devm_add_action(dev, ran.append, "outside")
    g1 = k.devres_open_group(dev, None, GFP_KERNEL)
    k.devm_add_action(dev, ran.append, "g1-a")
    g2 = k.devres_open_group(dev, "inner", GFP_KERNEL)
    assert g2 == "inner"
    k.devm_add_action(dev, ran.append, "g2-a")
    k.devres_close_group(dev, g2)
    k.devm_add_action(dev, ran.append, "g1-b")
    k.devres_close_group(dev, None)  # the newest open group: g1
    k.devm_add_action(dev, ran.append, "after")
    # releasing the inner group takes only what lies between its markers
    assert k.devres_release_group(dev, "inner") == 1
    assert ran == ["g2-a"]
    # the outer one: its contents, newest first; "after" and "outside" stay
    assert k.devres_release_group(dev, g1) == 2
    assert ran == ["g2-a", "g1-b", "g1-a"]
    k.devres_release_all(dev)
    assert ran == ["g2-a", "g1-b", "g1-a", "after", "outside"]


def test_release_group_of_a_group_with_a_closed_group_inside(k):
    dev = bound_device(k)
    ran = []
    start = objects(k)
    g1 = k.devres_open_group(dev, None, GFP_KERNEL)
    k.devm_add_action(dev, ran.append, 1)
    g2 = k.devres_open_group(dev, None, GFP_KERNEL)
    k.devm_add_action(dev, ran.append, 2)
    k.devres_close_group(dev, g2)
    k.devm_add_action(dev, ran.append, 3)
    # g1 is still open: everything from its marker on goes, g2 (wholly inside) too
    assert k.devres_release_group(dev, g1) == 3
    assert ran == [3, 2, 1] and dev.devres_head == []
    assert objects(k) == start  # the group structures were kfree()d as well


def test_remove_group_keeps_the_contents(k):
    dev = bound_device(k)
    ran = []
    g = k.devres_open_group(dev, None, GFP_KERNEL)
    k.devm_add_action(dev, ran.append, 1)
    k.devres_remove_group(dev, g)
    assert [n.name for n in dev.devres_head] == ["append"]
    k.devres_close_group(dev, g)  # gone: WARN_ON(1)
    assert "at drivers/base/devres.c devres_close_group" in k.dmesg()


def test_generic_devres_alloc_add_find(k):
    dev = bound_device(k)
    seen = []

    def my_release(dev, res):
        seen.append(k.read(res, 4))

    res = k.devres_alloc(my_release, 4, GFP_KERNEL)
    k.write(res, b"abcd")
    k.devres_add(dev, res)
    assert k.devres_find(dev, my_release) == res
    assert k.devres_find(dev, my_release, lambda d, r, data: False) == 0
    assert k.devres_release(dev, my_release) == 0
    assert seen == [b"abcd"]
    assert k.devres_release(dev, my_release) == -kmemsim.ENOENT


def test_devm_get_free_pages(k):
    dev = bound_device(k)
    start = objects(k)
    addr = k.devm_get_free_pages(dev, GFP_KERNEL, 2)
    assert addr
    k.devm_free_pages(dev, addr)
    assert "WARNING" not in k.dmesg()
    again = k.devm_get_free_pages(dev, GFP_KERNEL, 2)
    assert again == addr  # the block went back (to the per-CPU list, taken again first)
    k.devres_release_all(dev)
    assert objects(k) == start
    assert k.get_free_pages(GFP_KERNEL, 2) == addr


def test_devres_log_with_debug_devres():
    k = kmemsim.boot("x86_64", mem="512M", config={"DEBUG_DEVRES": "y", "devres.log": 1})
    dev = bound_device(k)
    since = len(k.log)
    p = k.devm_kmalloc(dev, 100, GFP_KERNEL)
    k.devm_kfree(dev, p)
    lines = [r.text for r in k.log.records[since:]]
    assert len(lines) == 2 and all(r.level == 3 for r in k.log.records[since:])
    assert lines[0].startswith("foo foo.0: DEVRES ADD 00000000")
    assert lines[0].endswith(" devm_kzalloc_release (100 bytes)")
    assert lines[1].startswith("foo foo.0: DEVRES REM 00000000")
    assert lines[0].split()[4] == lines[1].split()[4]  # the same node, hashed alike
    assert hex(p - 40)[2:] not in lines[0]  # %p never shows the address
    k.echo("0", "/sys/module/devres/parameters/log")
    k.devm_kmalloc(dev, 8, GFP_KERNEL)
    assert len(k.log.records) == since + 2
    # the captured kernel has no CONFIG_DEBUG_DEVRES: no parameter there
    plain = kmemsim.boot("x86_64", mem="512M")
    assert "devres" not in plain.fs.listdir("/sys/module")
