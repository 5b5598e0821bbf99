"""Model of init/main.c: start_kernel() and the kernel object a boot returns.

`kmemsim.boot(profile, mem=..., cpus=..., config={...})` builds the machine of a
profile (hw/), then runs the memory-management part of start_kernel() on it
in the kernel's order:

    setup_arch()          e820 / device-tree memory, memblock, zone limits,
                          free_area_init(): "Zone ranges:" ... "Initmem setup"
    build_all_zonelists() "Built 1 zonelists, mobility grouping on. ..."
    mm_core_init()        memblock_free_all() hands RAM to the buddy allocator,
                          "Memory: ...K/...K available (...)",
                          kmem_cache_init(): the kmalloc caches, "SLUB: ..."
    initcalls             init_per_zone_wmark_min(): watermarks, lowmem_reserve

The returned Kernel is the one public interface: kernel APIs are its methods,
under their kernel names (`k.kmalloc(64, GFP_KERNEL)`, `k.alloc_pages(gfp,
order)`); `k.cat(path)` reads /proc and /sys; `k.dmesg()` the log. Names with
two leading underscores, which Python would mangle inside a class, are set on
the class after it is defined, so `getattr(k, "__get_free_pages")` works, and
each also has a plain spelling (`k.get_free_pages`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kmemsim.errors import Oops
from kmemsim.fs.libfs import PseudoFS
from kmemsim.init.config import KernelConfig
from kmemsim.kernel.printk import Printk

if TYPE_CHECKING:
    from kmemsim.arch.memory import DirectMap
    from kmemsim.hw.machine import Machine
    from kmemsim.include.linux.mm_types import Page
    from kmemsim.include.linux.mmzone import PglistData
    from kmemsim.kernel.sched.core import ExecContext
    from kmemsim.mm.memblock import Memblock
    from kmemsim.mm.page_alloc import PageAllocator
    from kmemsim.mm.slab_common import SlabAllocator


class Kernel:
    """A booted simulated kernel. Build one with `kmemsim.boot()`."""

    machine: Machine
    config: KernelConfig
    log: Printk
    fs: PseudoFS
    memblock: Memblock
    direct_map: DirectMap
    pgdat: PglistData
    page_alloc: PageAllocator
    slab: SlabAllocator
    sched: ExecContext

    def __init__(self, machine: Machine, config: KernelConfig) -> None:
        self.machine = machine
        self.config = config
        self.log = Printk()
        self.fs = PseudoFS()
        self.mem = machine.ram

    def __getattr__(self, name: str) -> Any:
        """Kernel names with two leading underscores, written inside a class.

        Python mangles `self.k.__get_free_pages` in a method of class Driver
        into `_Driver__get_free_pages`; undo that, so driver-like classes can
        call the kernel names too. Only reached for names not found otherwise.
        """
        if name.startswith("_") and "__" in name[1:]:
            kernel_name = "__" + name.split("__", 1)[1]
            if kernel_name in _DUNDER_NAMES:
                return getattr(self, kernel_name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # ------------------------------------------------------------------ log, /proc, /sys
    def dmesg(self, since: int = 0) -> str:
        """The kernel log, as `dmesg` prints it (from record `since` on)."""
        return self.log.dmesg(since)

    def printk(self, text: str) -> None:
        """printk(KERN_INFO ...) from a scenario."""
        self.log.pr_info(text)

    def cat(self, path: str) -> str:
        """The text of a /proc or /sys file, generated from the live model."""
        return self.fs.read(path)

    # ------------------------------------------------------------------ memory access
    def virt_to_phys(self, vaddr: int) -> int:
        """virt_to_phys(): physical address of a direct-map address."""
        return self.direct_map.virt_to_phys(vaddr)

    def phys_to_virt(self, paddr: int) -> int:
        """phys_to_virt(): direct-map address of a lowmem physical address."""
        return self.direct_map.phys_to_virt(paddr)

    def read(self, vaddr: int, size: int) -> bytes:
        """Load `size` bytes at kernel virtual address `vaddr` (a pointer dereference)."""
        return self.mem.read(self.direct_map.virt_to_phys(vaddr), size)

    def write(self, vaddr: int, data: bytes) -> None:
        """Store `data` at kernel virtual address `vaddr`."""
        self.mem.write(self.direct_map.virt_to_phys(vaddr), data)

    def memset(self, vaddr: int, c: int, n: int) -> int:
        """memset(): fill `n` bytes at `vaddr` with byte `c`; returns `vaddr`."""
        self.mem.fill(self.direct_map.virt_to_phys(vaddr), c & 0xFF, n)
        return vaddr

    def memcpy(self, dst: int, src: int, n: int) -> int:
        """memcpy(): copy `n` bytes from `src` to `dst`; returns `dst`."""
        self.write(dst, self.read(src, n))
        return dst

    # ------------------------------------------------------------------ page allocator
    def alloc_pages(self, gfp: int, order: int) -> Page | None:
        """alloc_pages(): a block of 2**order pages as its head struct page, or None."""
        return self.page_alloc.alloc_pages(int(gfp), order)

    def alloc_page(self, gfp: int) -> Page | None:
        """alloc_page(): alloc_pages(gfp, 0)."""
        return self.page_alloc.alloc_pages(int(gfp), 0)

    def free_pages_struct(self, page: Page, order: int) -> None:
        """__free_pages(page, order): give back a block obtained from alloc_pages()."""
        self.page_alloc.free_pages_struct(page, order)

    def free_page_struct(self, page: Page) -> None:
        """__free_page(page)."""
        self.page_alloc.free_pages_struct(page, 0)

    def get_free_pages(self, gfp: int, order: int) -> int:
        """__get_free_pages(): the direct-map address of 2**order pages, or 0."""
        return self.page_alloc.get_free_pages(int(gfp), order)

    def get_free_page(self, gfp: int) -> int:
        """__get_free_page(): __get_free_pages(gfp, 0)."""
        return self.page_alloc.get_free_pages(int(gfp), 0)

    def get_zeroed_page(self, gfp: int) -> int:
        """get_zeroed_page(): one zeroed page's address, or 0."""
        from kmemsim.include.linux.gfp_types import GFP

        return self.page_alloc.get_free_pages(int(gfp) | GFP.ZERO, 0)

    def free_pages(self, addr: int, order: int) -> None:
        """free_pages(addr, order): free what __get_free_pages() returned (0 is a no-op)."""
        self.page_alloc.free_pages(addr, order)

    def free_page(self, addr: int) -> None:
        """free_page(addr)."""
        self.page_alloc.free_pages(addr, 0)

    @staticmethod
    def get_order(size: int) -> int:
        """get_order(): the buddy order that holds `size` bytes."""
        from kmemsim.mm.page_alloc import get_order

        return get_order(size)

    def page_address(self, page: Page) -> int:
        """page_address(): the direct-map address of a page (0 for an unmapped highmem page)."""
        return self.page_alloc.page_address(page)

    def virt_to_page(self, vaddr: int) -> Page:
        """virt_to_page(): the struct page of a direct-map address."""
        return self.page_alloc.pfn_to_page(self.direct_map.virt_to_pfn(vaddr))

    def pfn_to_page(self, pfn: int) -> Page:
        """pfn_to_page()."""
        return self.page_alloc.pfn_to_page(pfn)

    @staticmethod
    def page_to_pfn(page: Page) -> int:
        """page_to_pfn()."""
        return page.pfn

    # ------------------------------------------------------------------ execution context
    def irq_context(self) -> contextlib.AbstractContextManager[None]:
        """Run the block as a hard interrupt handler (in_irq(), may not sleep)."""
        return self.sched.irq_context()

    def softirq_context(self) -> contextlib.AbstractContextManager[None]:
        """Run the block as a softirq / tasklet (in_softirq(), may not sleep)."""
        return self.sched.softirq_context()

    def spin_lock(self, name: str = "lock") -> contextlib.AbstractContextManager[None]:
        """Hold a spinlock for the block: preemption off, may not sleep."""
        return self.sched.spin_lock(name)

    def spin_lock_irqsave(self, name: str = "lock") -> contextlib.AbstractContextManager[None]:
        """Hold a spinlock with interrupts off for the block."""
        return self.sched.spin_lock_irqsave(name)

    def local_irq_disable_context(self) -> contextlib.AbstractContextManager[None]:
        """Interrupts off for the block (local_irq_disable ... local_irq_enable)."""
        return self.sched.irqs_disabled_context()

    def might_sleep(self) -> None:
        """might_sleep(): report a sleep from atomic context."""
        self.sched.might_sleep()

    # ------------------------------------------------------------------ slab (mm/slub.c)
    def kmem_cache_create(
        self,
        name: str,
        size: int,
        align: int = 0,
        flags: int = 0,
        ctor: Any = None,
        *,
        useroffset: int | None = None,
        usersize: int | None = None,
        freeptr_offset: int | None = None,
    ) -> Any:
        """kmem_cache_create(): a new cache (or an alias of a mergeable one); None on failure.

        The keyword arguments are those of kmem_cache_create_usercopy() and of
        struct kmem_cache_args (the usercopy region; the free pointer offset of a
        SLAB_TYPESAFE_BY_RCU cache). The kernel's own callers pass them for
        many caches (dentry, names_cache, vm_area_struct, filp, ...), and they
        change how the cache merges and where its free pointer lives. On a
        profile that recorded its kernel's caches (linux-6.18-x86_64), creating
        one of those caches by its name and object size takes what its kernel
        caller passes from the profile, unless given here.
        """
        known = self.slab.known_caches().get(name)
        if known is not None and int(known["object_size"]) == size:
            if usersize is None:
                usersize = int(known.get("usersize", 0))
            if freeptr_offset is None and known.get("freeptr_offset") is not None:
                from kmemsim.include.linux.slab import SLAB_TYPESAFE_BY_RCU

                if int(flags) & SLAB_TYPESAFE_BY_RCU:
                    freeptr_offset = int(known["freeptr_offset"])
        return self.slab.kmem_cache_create(
            name, size, align, int(flags), ctor, useroffset or 0, usersize or 0, freeptr_offset
        )

    def kmem_cache_destroy(self, s: Any) -> None:
        """kmem_cache_destroy()."""
        self.slab.kmem_cache_destroy(s)

    def kmem_cache_alloc(self, s: Any, gfp: int) -> int:
        """kmem_cache_alloc(): an object's address, or 0."""
        return self.slab.kmem_cache_alloc(s, int(gfp))

    def kmem_cache_zalloc(self, s: Any, gfp: int) -> int:
        """kmem_cache_zalloc(): a zeroed object's address, or 0."""
        from kmemsim.include.linux.gfp_types import GFP

        return self.slab.kmem_cache_alloc(s, int(gfp) | GFP.ZERO)

    def kmem_cache_free(self, s: Any, addr: int) -> None:
        """kmem_cache_free()."""
        self.slab.kmem_cache_free(s, addr)

    def kmem_cache_shrink(self, s: Any) -> int:
        """kmem_cache_shrink(): give empty slabs back to the page allocator."""
        return self.slab.kmem_cache_shrink(s)

    def kmalloc(self, size: int, gfp: int) -> int:
        """kmalloc(): at least `size` bytes, or 0 (NULL); kmalloc(0) is ZERO_SIZE_PTR."""
        return self.slab.kmalloc(size, int(gfp))

    def kmalloc_node(self, size: int, gfp: int, node: int = -1) -> int:
        """kmalloc_node(): kmalloc() on a node (one node here)."""
        return self.slab.kmalloc(size, int(gfp))

    def kzalloc(self, size: int, gfp: int) -> int:
        """kzalloc(): zeroed kmalloc()."""
        from kmemsim.include.linux.gfp_types import GFP

        return self.slab.kmalloc(size, int(gfp) | GFP.ZERO)

    def kmalloc_array(self, n: int, size: int, gfp: int) -> int:
        """kmalloc_array(): n * size bytes; NULL when the product overflows size_t."""
        return self.slab.kmalloc_array(n, size, int(gfp))

    def kcalloc(self, n: int, size: int, gfp: int) -> int:
        """kcalloc(): zeroed kmalloc_array()."""
        from kmemsim.include.linux.gfp_types import GFP

        return self.slab.kmalloc_array(n, size, int(gfp) | GFP.ZERO)

    def krealloc(self, p: int, new_size: int, gfp: int) -> int:
        """krealloc(): resize in place when it fits, else copy to a new object."""
        return self.slab.krealloc(p, new_size, int(gfp))

    def ksize(self, p: int) -> int:
        """ksize(): how many bytes the object at `p` really has."""
        return self.slab.ksize(p)

    def kfree(self, p: int) -> None:
        """kfree(): NULL and ZERO_SIZE_PTR are no-ops."""
        self.slab.kfree(p)

    def kfree_sensitive(self, p: int) -> None:
        """kfree_sensitive(): zero the object, then kfree() it."""
        self.slab.kfree_sensitive(p)

    def kmemdup(self, src: int, size: int, gfp: int) -> int:
        """kmemdup(): a kmalloc()ed copy of `size` bytes at `src`."""
        return self.slab.kmemdup(src, size, int(gfp))

    def kstrdup(self, s: str | int, gfp: int) -> int:
        """kstrdup(): a kmalloc()ed NUL-terminated copy of a string (a str, or an address)."""
        return self.slab.kstrdup(s, int(gfp))

    def find_cache(self, name: str) -> Any:
        """The kmem_cache named `name` (following merge aliases), or None."""
        return self.slab.find_cache(name)

    def kmem_cache_alloc_node(self, s: Any, gfp: int, node: int = -1) -> int:
        """kmem_cache_alloc_node(): kmem_cache_alloc() on a node (one node here)."""
        return self.slab.kmem_cache_alloc(s, int(gfp))

    def kmem_cache_alloc_bulk(self, s: Any, gfp: int, nr: int) -> list[int]:
        """kmem_cache_alloc_bulk(): `nr` objects, or none."""
        return self.slab.kmem_cache_alloc_bulk(s, int(gfp), nr)

    def kmem_cache_free_bulk(self, s: Any, objs: list[int]) -> None:
        """kmem_cache_free_bulk()."""
        self.slab.kmem_cache_free_bulk(s, objs)

    def kfree_bulk(self, objs: list[int]) -> None:
        """kfree_bulk(): kmem_cache_free_bulk(NULL, ...)."""
        self.slab.kmem_cache_free_bulk(None, objs)

    def kmalloc_size_roundup(self, size: int) -> int:
        """kmalloc_size_roundup(): the size kmalloc(size) really hands out."""
        return self.slab.kmalloc_size_roundup(size)

    def kmem_buckets_create(
        self, name: str, flags: int = 0, useroffset: int = 0, usersize: int = 0, ctor: Any = None
    ) -> Any:
        """kmem_buckets_create(): a private set of kmalloc caches "<name>-<size>"."""
        return self.slab.kmem_buckets_create(name, int(flags), useroffset, usersize, ctor)

    def kmem_buckets_alloc(self, b: Any, size: int, gfp: int) -> int:
        """kmem_buckets_alloc(): kmalloc() from a bucket set."""
        return self.slab.kmem_buckets_alloc(b, size, int(gfp))


# Kernel names that start with two underscores (mangled inside a class body).
_DUNDER_NAMES: set[str] = set()
for _name, _plain in (
    ("__get_free_pages", "get_free_pages"),
    ("__get_free_page", "get_free_page"),
    ("__free_pages", "free_pages_struct"),
    ("__free_page", "free_page_struct"),
    ("__pa", "virt_to_phys"),
    ("__va", "phys_to_virt"),
):
    setattr(Kernel, _name, getattr(Kernel, _plain))
    _DUNDER_NAMES.add(_name)


def boot(
    profile: str = "x86_64",
    *,
    mem: str | int | None = None,
    cpus: int | None = None,
    config: Mapping[str, object] | None = None,
) -> Kernel:
    """Boot a simulated kernel on the machine of `profile` and return it.

    `profile` is a shipped profile name ("x86_64", "linux-6.18-x86_64", "i386",
    "beaglebone-black") or the path of a profile TOML file. `mem` ("4G", "512M",
    or bytes) and `cpus` override the profile's RAM size and CPU count where the
    profile allows; `config` sets Kconfig options and boot parameters.
    Raises KmemsimError for a bad profile, size or option.
    """
    from kmemsim.hw.machine import Machine

    machine = Machine.from_profile(profile, mem=mem, cpus=cpus)
    kconfig = KernelConfig()
    kconfig.update(machine.profile_config, user=True)
    if config:
        kconfig.update(config)
    return start_kernel(machine, kconfig)


def start_kernel(machine: Machine, config: KernelConfig) -> Kernel:
    """The memory-management steps of init/main.c:start_kernel(), in the 6.18 order."""
    from kmemsim.arch.sections import free_initmem, mark_rodata_ro
    from kmemsim.arch.setup import setup_arch
    from kmemsim.fs.dcache import vfs_caches_init_early
    from kmemsim.fs.proc.meminfo import proc_meminfo_init
    from kmemsim.init.initramfs import free_initrd_mem
    from kmemsim.kernel.sched.core import ExecContext
    from kmemsim.mm.memblock import memblock_free_all
    from kmemsim.mm.mm_init import mem_init_print_info, report_meminit
    from kmemsim.mm.page_alloc import (
        build_all_zonelists,
        init_per_zone_wmark_min,
        setup_per_cpu_pageset,
    )
    from kmemsim.mm.slab_common import boot_caches_init
    from kmemsim.mm.slub import kmem_cache_init
    from kmemsim.mm.vmstat import proc_vmstat_init

    k = Kernel(machine, config)
    try:
        k.sched = ExecContext(k)
        # e820 / DT memory, memblock, direct map, free_area_init() -> k.pgdat,
        # "Zone ranges:" ... "Initmem setup", and k.page_alloc over the zones.
        setup_arch(k)
        vfs_caches_init_early(k)  # dentry and inode hash tables, from memblock
        build_all_zonelists(k)  # "Built 1 zonelists, mobility grouping on.  Total pages: N"
        # mm_core_init():
        report_meminit(k)  # "mem auto-init: stack:off, heap alloc:off, heap free:off"
        memblock_free_all(k)  # RAM to the buddy allocator (__free_pages_core, to the tail)
        kmem_cache_init(k)  # k.slab, the kmalloc caches, "SLUB: HWalign=64, Order=0-3, ..."
        mem_init_print_info(k)  # "Memory: ...K/...K available (...)"
        setup_per_cpu_pageset(k)  # the zones' real per-CPU lists
        boot_caches_init(k)  # fork_init, vfs_caches_init, ...: the kernel's own caches
        init_per_zone_wmark_min(k)  # core_initcall: watermarks, lowmem_reserve, pcp high/batch
        free_initrd_mem(k)  # rootfs_initcall populate_rootfs(): "Freeing initrd memory: ..."
        free_initmem(k)  # kernel_init(): the __init sections
        mark_rodata_ro(k)  # x86_64: the 2 MiB gaps around rodata
        proc_vmstat_init(k)  # /proc/buddyinfo, pagetypeinfo, zoneinfo, vmstat
        proc_meminfo_init(k)  # /proc/meminfo
    except Oops as oops:
        oops.kernel = k  # a death while booting: its log is all there is
        raise
    return k
