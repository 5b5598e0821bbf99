"""The public five-argument kmem_cache_create() on the 6.18 profile, with the real cache names.

A kernel caller also passes a usercopy region or a free pointer offset for
many caches; kmem_cache_create(name, size, align, flags, ctor) cannot say
them, so the linux-6.18-x86_64 profile supplies what the kernel's own caller
passes for the caches it recorded. Every captured cache, created this way by
its real name in one kernel, shows the real geometry in /sys/kernel/slab.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import kmemsim
from kmemsim.mm.slab_common import cache_args_from_sysfs

ATTRS = ("slab_size", "order", "objs_per_slab", "min_partial", "cpu_partial", "align")


@pytest.mark.parametrize("boot_caches", ["y", "n"])
def test_real_names_through_the_public_interface(shared_data: Path, boot_caches: str) -> None:
    k = kmemsim.boot("linux-6.18-x86_64", config={"boot_caches": boot_caches})
    entries = json.loads((shared_data / "slab_caches.json").read_text())
    checked = 0
    for e in entries:
        if e["kmalloc"]:
            continue
        args = cache_args_from_sysfs(e)
        flags = 0
        for name in args["flags"]:
            if name != "SLAB_KMALLOC":
                flags |= int(getattr(kmemsim, name))
        ctor = (lambda addr: None) if args["ctor"] else None
        s = k.kmem_cache_create(e["name"], args["object_size"], args["align"], flags, ctor)
        assert s is not None, e["name"]
        for attr in ATTRS:
            assert int(k.cat(f"/sys/kernel/slab/{e['name']}/{attr}")) == e[attr], (e["name"], attr)
        checked += 1
    assert checked > 80


def test_the_profile_supplies_what_the_kernel_caller_passes() -> None:
    k = kmemsim.boot("linux-6.18-x86_64")
    rcu = kmemsim.SLAB_HWCACHE_ALIGN | kmemsim.SLAB_TYPESAFE_BY_RCU
    # vm_area_struct's caller puts the free pointer inside the object (vm_freeptr) ...
    assert k.kmem_cache_create("vm_area_struct", 192, 64, rcu, None) is not None
    assert int(k.cat("/sys/kernel/slab/vm_area_struct/slab_size")) == 192
    # ... an unknown RCU cache gets it after the object, as calculate_sizes() does.
    assert k.kmem_cache_create("my_rcu_objs", 192, 64, rcu, None) is not None
    assert int(k.cat("/sys/kernel/slab/my_rcu_objs/slab_size")) == 256


def test_explicit_arguments_win_over_the_profile() -> None:
    clean = {"boot_caches": "n"}  # the kmalloc caches only
    k = kmemsim.boot("linux-6.18-x86_64", config=clean)
    # memdup_user-512 has a usercopy region, so it never merges and is a directory ...
    assert k.kmem_cache_create("memdup_user-512", 512, 8, 0, None) is not None
    assert k.fs.readlink("/sys/kernel/slab/memdup_user-512") is None
    # ... without one it is mergeable, shown as a link to its unique id.
    k2 = kmemsim.boot("linux-6.18-x86_64", config=clean)
    assert k2.kmem_cache_create("memdup_user-512", 512, 8, 0, None, usersize=0) is not None
    assert k2.fs.readlink("/sys/kernel/slab/memdup_user-512") is not None


def test_boot_creates_the_kernels_caches(shared_data: Path) -> None:
    """After boot, every cache the real machine shows is there, merged as on the real machine."""
    k = kmemsim.boot("linux-6.18-x86_64")
    aliases = json.loads((shared_data / "slab_aliases.json").read_text())
    for e in json.loads((shared_data / "slab_caches.json").read_text()):
        name = e["name"]
        if name.startswith(":"):
            continue  # reached through its aliases below
        assert k.fs.readlink(f"/sys/kernel/slab/{name}") is None, name  # a real directory
        assert int(k.cat(f"/sys/kernel/slab/{name}/slab_size")) == e["slab_size"], name
    merged = [n for n, target in aliases.items() if k.slab.find_cache(n) is not None]
    assert len(merged) > 150
    for name in merged:
        assert int(k.cat(f"/sys/kernel/slab/{name}/slab_size")) == int(
            aliases[name].rsplit("-", 1)[-1].lstrip(":")
        ), name
    slabinfo = k.cat("/proc/slabinfo")
    assert "\nfilp " in slabinfo and "\nvm_area_struct " in slabinfo
