"""The public five-argument kmem_cache_create() on the 6.18 profile, with the real cache names.

A kernel caller also passes a usercopy region or a free pointer offset for
many caches; kmem_cache_create(name, size, align, flags, ctor) cannot say
them, so the linux-6.18-x86_64 profile supplies what the kernel's own caller
passes for the caches it recorded. Each cache with a directory of its own on
the captured machine, created this way with the name, size, align argument,
flags and constructor its call site passes, shows the real geometry, which
the model computes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import kmemsim
from kmemsim.mm.slab_boot import profile_caches, slab_flags

ATTRS = ("slab_size", "order", "objs_per_slab", "min_partial", "cpu_partial", "align")


@pytest.mark.parametrize("boot_caches", ["y", "n"])
def test_real_names_through_the_public_interface(shared_data: Path, boot_caches: str) -> None:
    k = kmemsim.boot("linux-6.18-x86_64", config={"boot_caches": boot_caches})
    real = {e["name"]: e for e in json.loads((shared_data / "slab_caches.json").read_text())}
    profile = profile_caches("linux-6.18-x86_64")
    assert profile is not None
    checked = 0
    for e in profile["caches"]:
        d = real.get(e["name"])
        if d is None or e["size_from"] != "sysfs" or e["sheaf_capacity"]:
            continue  # merged on the real machine, or a size not settled
        ctor = (lambda addr: None) if e["ctor"] else None
        s = k.kmem_cache_create(e["name"], e["size"], e["align"], slab_flags(e["flags"]), ctor)
        assert s is not None, e["name"]
        for attr in ATTRS:
            got = int(k.cat(f"/sys/kernel/slab/{e['name']}/{attr}"))
            assert got == d[attr], (e["name"], attr, got, d[attr])
        checked += 1
    assert checked >= 25


def test_the_profile_supplies_what_the_kernel_caller_passes() -> None:
    k = kmemsim.boot("linux-6.18-x86_64")
    rcu = kmemsim.SLAB_HWCACHE_ALIGN | kmemsim.SLAB_TYPESAFE_BY_RCU
    # vm_area_struct's caller puts the free pointer inside the object (vm_freeptr) ...
    assert k.kmem_cache_create("vm_area_struct", 192, 0, rcu, None) is not None
    assert int(k.cat("/sys/kernel/slab/vm_area_struct/slab_size")) == 192
    # ... an unknown RCU cache gets it after the object, as calculate_sizes() does.
    assert k.kmem_cache_create("my_rcu_objs", 192, 0, rcu, None) is not None
    assert int(k.cat("/sys/kernel/slab/my_rcu_objs/slab_size")) == 256


def test_explicit_arguments_win_over_the_profile() -> None:
    clean = {"boot_caches": "n"}  # SLUB's own and the kmalloc caches only
    flags = kmemsim.SLAB_PANIC | kmemsim.SLAB_ACCOUNT
    # uts_ns_init() whitelists the utsname for usercopy, so it never merges and is a directory ...
    k = kmemsim.boot("linux-6.18-x86_64", config=clean)
    assert k.kmem_cache_create("uts_namespace", 488, 0, flags, None) is not None
    assert k.fs.readlink("/sys/kernel/slab/uts_namespace") is None
    assert k.cat("/sys/kernel/slab/uts_namespace/usersize") == "390\n"
    # ... without one it is mergeable, shown as a link to its unique id.
    k2 = kmemsim.boot("linux-6.18-x86_64", config=clean)
    assert k2.kmem_cache_create("uts_namespace", 488, 0, flags, None, usersize=0) is not None
    assert k2.fs.readlink("/sys/kernel/slab/uts_namespace") == ":A-0000488"
