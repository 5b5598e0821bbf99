"""Model of the boot-time kmem_cache_create() calls (mm/slub.c kmem_cache_init(), init/main.c).

Every kernel first makes the two caches SLUB itself lives in, kmem_cache_node
and kmem_cache (mm/slub.c kmem_cache_init() -> create_boot_cache(): refcount
-1, "exempt from merging"), then the kmalloc caches. After that start_kernel()
and the initcalls create a few hundred more: mm_core_init() (vmap_area,
mm_struct), maple_tree_init(), radix_tree_init(), workqueue_init_early(),
trace_init(), acpi_early_init(), pid_idr_init(), anon_vma_init(), cred_init(),
fork_init() (task_struct), proc_caches_init() (sighand_cache, signal_cache,
files_cache, fs_cache, vm_area_struct, nsproxy), uts_ns_init(), key_init(),
security_init(), net_ns_init(), vfs_caches_init() (names_cache, dentry,
inode_cache, filp, mnt_cache, kernfs, bdev_cache), signals_init(),
seq_file_init(), proc_root_init(), pidfs_init(), mem_cgroup_init(),
delayacct_init(), and then every built-in subsystem, file system and protocol
from its initcall, level by level in link order.

Which caches a kernel makes, with which arguments, is per-kernel data:
profiles/<profile>.caches.json (made by tools/slab_profile.py from the 6.18
call sites) lists each call, in creation order, with the Kconfig symbols its
call site depends on and the captured kernel's values of them. Booting runs
the calls the configuration selects through the one kmem_cache_create() (or
kmem_buckets_create()), so that merging happens as in the kernel: a later
cache merges into the first compatible one, whose name /proc/slabinfo shows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from kmemsim.errors import Oops
from kmemsim.include.linux.gfp_types import GFP, GFP_NOWAIT
from kmemsim.include.linux.slab import (
    SLAB_HWCACHE_ALIGN,
    SLAB_NO_MERGE,
    SLAB_NO_OBJ_EXT,
    SlabFlags,
)
from kmemsim.mm.slab import KmemCache, SlabState
from kmemsim.mm.slub import calculate_alignment

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel
    from kmemsim.mm.slab_common import SlabAllocator

BOOT_CACHES = ("kmem_cache_node", "kmem_cache")


@cache
def profile_caches(profile: str) -> dict[str, Any] | None:
    """profiles/<profile>.caches.json, or None when the profile recorded no caches."""
    try:
        text = (resources.files("kmemsim.profiles") / f"{profile}.caches.json").read_text()
    except (FileNotFoundError, OSError, ValueError):
        return None
    data: dict[str, Any] = json.loads(text)
    return data


def known_caches(k: Kernel) -> dict[str, dict[str, Any]]:
    """The recorded kmem_cache_create() calls of the booted profile's kernel, by cache name."""
    data = profile_caches(k.machine.name)
    if data is None:
        return {}
    return {e["name"]: e for e in data["caches"]}


def selected(entry: dict[str, Any], kconfig: dict[str, str]) -> bool:
    """Whether the kernel's configuration builds the call site (every symbol it needs is y)."""
    return all(kconfig.get(sym, "n") == "y" for sym in entry["config"])


def slab_flags(names: list[str]) -> int:
    """["SLAB_HWCACHE_ALIGN", "SLAB_PANIC"] -> their bits (include/linux/slab.h)."""
    value = 0
    for name in names:
        value |= int(SlabFlags[name.removeprefix("SLAB_")])
    return value


def named_ctor(name: str) -> Callable[[int], Any]:
    """A constructor standing for the kernel's (known by name only): it leaves the object as is."""

    def ctor(addr: int) -> None:
        return None

    ctor.__name__ = name
    return ctor


def create_boot_caches(sa: SlabAllocator) -> None:
    """mm/slub.c kmem_cache_init(): create_boot_cache() of kmem_cache_node, then kmem_cache.

    Both are SLAB_HWCACHE_ALIGN | SLAB_NO_OBJ_EXT and get refcount -1, so
    nothing ever merges into them (slab_unmergeable()); they are listed before
    the kmalloc caches, as in the kernel's slab_caches list. Their sizes come
    from the profile's record where it has one; otherwise they are counted
    from the 6.18 structures in words: struct kmem_cache_node (list_lock,
    nr_partial, partial, nr_slabs, total_objects, full, barn) is 9 words,
    struct kmem_cache up to its node[] array 28 words, plus one pointer per
    node (nr_node_ids is 1 here).
    """
    recorded = profile_caches(sa.k.machine.name)
    sizes = {"kmem_cache_node": 9 * sa.word, "kmem_cache": 29 * sa.word}
    if recorded is not None:
        for e in recorded["caches"]:
            if e["name"] in sizes:
                sizes[e["name"]] = int(e["size"])
    flags = int(SLAB_HWCACHE_ALIGN | SLAB_NO_OBJ_EXT)
    made: dict[str, KmemCache] = {}
    for name in BOOT_CACHES:
        size = sizes[name]
        align = calculate_alignment(flags, sa.kmalloc_minalign, size, sa.cache_line, sa.word)
        s = KmemCache(name, size, align, flags, None, 0, 0)
        s.refcount = -1  # "Exempt from merging for now"
        if not sa.kmem_cache_open(s):
            raise Oops(f"Creation of kmalloc slab {name} size={size} failed.")
        sa.add_cache(s)
        made[name] = s
        node_cache = made["kmem_cache_node"]
        # init_kmem_cache_nodes(): kmem_cache_node's own node structure is the first
        # object of its first slab (early_kmem_cache_node_alloc(), slab_state DOWN);
        # kmem_cache's comes from kmem_cache_node, usable from then on (PARTIAL).
        s.node_addr = sa.kmem_cache_alloc_node(node_cache, int(GFP_NOWAIT), 0)
        if name == "kmem_cache_node":
            sa.k.slab_state = SlabState.PARTIAL  # kmem_cache_node is usable
    # bootstrap(): each static boot descriptor is copied into an object of kmem_cache,
    # kmem_cache's own first, and from now on every new cache's descriptor and node
    # structure are objects of these two caches (SlabAllocator.alloc_descriptor()).
    for name in ("kmem_cache", "kmem_cache_node"):
        made[name].addr = sa.kmem_cache_alloc(made["kmem_cache"], int(GFP_NOWAIT | GFP.ZERO))
    sa.kmem_cache_cache = made["kmem_cache"]
    sa.kmem_cache_node_cache = made["kmem_cache_node"]
    sa.link_slab_caches()


def kmem_cache_create_known(k: Kernel, name: str) -> KmemCache | None:
    """The cache `name` as its kernel creator makes it (the recorded call), or None if unknown.

    An existing cache of that name (or the cache it was merged into) is
    returned as is.
    """
    existing = k.slab.find_cache(name)
    if existing is not None:
        return existing
    entry = known_caches(k).get(name)
    if entry is None or entry["name"] in BOOT_CACHES:
        return None
    return _create(k, entry)


def _create(k: Kernel, e: dict[str, Any]) -> KmemCache | None:
    flags = slab_flags(e["flags"])
    if e.get("kind") == "kmem_buckets":
        k.slab.kmem_buckets_create(e["name"], flags, e["useroffset"], e["usersize"])
        return None
    if e["sheaf_capacity"]:
        # __kmem_cache_create_args(): "Caches with specific capacity are special
        # enough. It's simpler to make them unmergeable."
        flags |= int(SLAB_NO_MERGE)
    ctor = named_ctor(e["ctor"]) if e["ctor"] else None
    s: KmemCache | None = k.slab.kmem_cache_create(
        e["name"],
        int(e["size"]),
        int(e["align"]),
        flags,
        ctor,
        int(e["useroffset"]),
        int(e["usersize"]),
        e["freeptr_offset"],
    )
    return s


FIRST_INITCALL_PHASE = "core_initcall"


def boot_caches_init(k: Kernel, initcalls: bool = False) -> int:
    """Run the profile kernel's boot-time kmem_cache_create() calls its configuration selects.

    In the recorded creation order, each through kmem_cache_create() with the
    arguments its call site passes, so that /proc/slabinfo and
    /sys/kernel/slab show the caches and merges of the real machine after
    boot. Called twice, as the kernel creates them: for start_kernel()'s steps
    (before rest_init(), so before the "Memory:" line), then with
    `initcalls` for the initcall levels, which do_basic_setup() runs after
    page_alloc_init_late(). `boot_caches=n` boots with SLUB's own and the
    kmalloc caches only. Returns how many calls ran.
    """
    data = profile_caches(k.machine.name)
    if data is None or not k.config["boot_caches"]:
        return 0
    kconfig: dict[str, str] = data["kconfig"]
    phases: list[str] = data["phases"]
    initcall_phases = set(phases[phases.index(FIRST_INITCALL_PHASE) :])
    count = 0
    for e in data["caches"]:
        if e["name"] in BOOT_CACHES or not selected(e, kconfig):
            continue
        if (e["phase"] in initcall_phases) != initcalls:
            continue
        _create(k, e)
        count += 1
    return count
