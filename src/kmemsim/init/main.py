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
order)`); `k.cat(path)` reads /proc and /sys; `k.dmesg()` the log. The Kernel
class itself holds only what is the kernel's as a whole (the log, /proc and
/sys); every subsystem marks its kernel functions with @EXPORT_SYMBOL
(include/linux/export.py) and booting binds them onto the instance as the
subsystem comes up, so `k.kmalloc` is the slab allocator's own method. Names
with two leading underscores, which Python would mangle inside a class, are
exported under both spellings (`k.__get_free_pages`, `k.get_free_pages`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kmemsim.arch.facts import ArchFacts, arch_facts
from kmemsim.errors import Oops
from kmemsim.fs.libfs import PseudoFS
from kmemsim.include.linux.export import export_symbols, exported_names
from kmemsim.init.config import KernelConfig, check_arch_options, check_image_options
from kmemsim.kernel.printk import Printk
from kmemsim.kernel.time.timekeeping import Timekeeper
from kmemsim.mm.slab import SlabState

if TYPE_CHECKING:
    from kmemsim.arch.memory import DirectMap, KernelLayout
    from kmemsim.arch.x86.kernel.e820 import E820Table
    from kmemsim.drivers.base.core import DriverCore
    from kmemsim.drivers.base.devres import Devres
    from kmemsim.drivers.base.platform import Platform
    from kmemsim.drivers.char.mem import DevMem
    from kmemsim.hw.machine import Machine
    from kmemsim.include.asm_generic.io import IoAccess, MMIOAccessors, PortIO
    from kmemsim.include.linux.ioport import Resource
    from kmemsim.include.linux.mmzone import PglistData
    from kmemsim.kernel.fork import BootTask
    from kmemsim.kernel.rcu.tree import Rcu
    from kmemsim.kernel.resource import ResourceTree
    from kmemsim.kernel.sched.core import ExecContext
    from kmemsim.kernel.trace.ftrace import Ftrace
    from kmemsim.lib.devres import ManagedIO
    from kmemsim.lib.iomap import IoMap
    from kmemsim.mm.highmem import Highmem
    from kmemsim.mm.ioremap import IoRemap
    from kmemsim.mm.kasan import Kasan
    from kmemsim.mm.kernel_as import KernelAddressSpace
    from kmemsim.mm.kfence import Kfence
    from kmemsim.mm.kmemleak import Kmemleak
    from kmemsim.mm.memblock import Memblock
    from kmemsim.mm.page_alloc import PageAllocator
    from kmemsim.mm.percpu import PerCpuAreas
    from kmemsim.mm.slab_common import SlabAllocator
    from kmemsim.mm.vmalloc import Vmalloc


class Kernel:
    """A booted simulated kernel. Build one with `kmemsim.boot()`."""

    machine: Machine
    arch: ArchFacts
    config: KernelConfig
    clock: Timekeeper
    log: Printk
    fs: PseudoFS
    memblock: Memblock
    direct_map: DirectMap
    pgdat: PglistData
    page_alloc: PageAllocator
    slab: SlabAllocator
    # enum slab_state (mm/slab.h): slab_is_available() once kmem_cache_init() made kmalloc.
    slab_state: SlabState = SlabState.DOWN
    sched: ExecContext
    rcu: Rcu | None = None  # rcu_init() comes after kmem_cache_init()
    kasan: Kasan | None = None
    # The kernel address space (mm/kernel_as.py), made by setup_arch(); it
    # exports k.read, k.write, k.memset, k.memcpy and the lib/string.c functions.
    address_space: KernelAddressSpace
    kmemleak: Kmemleak | None = None
    kfence: Kfence | None = None
    percpu: PerCpuAreas
    resource: ResourceTree
    iomem_resource: Resource
    ioport_resource: Resource
    # x86: the kernel's e820 table after setup_arch() (with its iomem resources); else None.
    e820_table: E820Table | None = None
    # The virtual address space layout the architecture set up (arch/*/mm/layout.py).
    vm_layout: KernelLayout
    # Port I/O accessors; every I/O access with its barriers while io_trace is a list.
    portio: PortIO
    devmem: DevMem | None
    ioremap_ops: IoRemap
    mmio: MMIOAccessors
    iomap: IoMap
    io_trace: list[IoAccess] | None = None
    vmalloc_area: Vmalloc
    # The kernel threads started before page_alloc_init_late() (kernel/fork.py).
    boot_tasks: list[BootTask]
    ftrace: Ftrace | None = None  # ftrace_init()'s dyn_ftrace records (DYNAMIC_FTRACE)
    highmem: Highmem
    driver_core: DriverCore
    devres: Devres
    managed_io: ManagedIO
    platform: Platform
    # The zero-initialised globals scenarios declare in .bss: name -> (address, size)
    # (arch/sections.py global_var()).
    global_vars: dict[str, tuple[int, int]]

    def __init__(self, machine: Machine, config: KernelConfig) -> None:
        self.machine = machine
        self.arch = arch_facts(machine.arch)  # what the architecture defines (arch/facts.py)
        self.config = config
        # The one simulated clock (kernel/time/): printk timestamps, jiffies, timers, msleep.
        self.clock = Timekeeper(int(config["HZ"]))
        self.log = Printk(self.clock)
        self.fs = PseudoFS()
        self.mem = machine.ram
        self.global_vars = {}

    def __getattr__(self, name: str) -> Any:
        """Kernel names with two leading underscores, written inside a class.

        Python mangles `self.k.__get_free_pages` in a method of class Driver
        into `_Driver__get_free_pages`; undo that, so driver-like classes can
        call the kernel names too. Only reached for names not found otherwise.
        """
        if name.startswith("_") and "__" in name[1:]:
            kernel_name = "__" + name.split("__", 1)[1]
            if kernel_name in _DUNDER_NAMES or kernel_name in exported_names():
                return getattr(self, kernel_name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def jiffies(self) -> int:
        """jiffies: timer ticks of the simulated clock (include/linux/jiffies.h)."""
        return self.clock.jiffies

    # ------------------------------------------------------------------ log, /proc, /sys
    def dmesg(self, since: int = 0) -> str:
        """The kernel log, as `dmesg` prints it (from record `since` on)."""
        return self.log.dmesg(since)

    def printk(self, text: str) -> None:
        """printk(KERN_INFO ...) from a scenario."""
        self.log.pr_info(text)

    def echo(self, text: str, path: str) -> int:
        """`echo text > path`: write to a /proc, /sys or debugfs file; bytes taken or -errno."""
        return self.fs.write(path, text)

    def cat(self, path: str, user: bool = False) -> str:
        """The text of a /proc or /sys file, generated from the live model.

        `user=True` reads it as an unprivileged user (no CAP_SYS_ADMIN): files
        that hide addresses from such readers (/proc/iomem) show zeros."""
        return self.fs.read(path, user=user)

    # ------------------------------------------------------------------ memory access
    def virt_to_phys(self, vaddr: int) -> int:
        """virt_to_phys(): physical address of a direct-map address."""
        return self.direct_map.virt_to_phys(vaddr)

    def phys_to_virt(self, paddr: int) -> int:
        """phys_to_virt(): direct-map address of a lowmem physical address."""
        return self.direct_map.phys_to_virt(paddr)


# Kernel names that start with two underscores (mangled inside a class body).
Kernel.__pa = Kernel.virt_to_phys  # type: ignore[attr-defined]
Kernel.__va = Kernel.phys_to_virt  # type: ignore[attr-defined]
_DUNDER_NAMES = {"__pa", "__va"}


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
    check_arch_options(kconfig, arch_facts(machine.arch))
    check_image_options(kconfig, machine.kernel_image)
    return start_kernel(machine, kconfig)


def start_kernel(machine: Machine, config: KernelConfig) -> Kernel:
    """The memory-management steps of init/main.c:start_kernel(), in the 6.18 order."""
    from kmemsim.arch import sections
    from kmemsim.arch.sections import free_initmem, mark_rodata_ro
    from kmemsim.arch.setup import setup_arch
    from kmemsim.arch.x86.kernel.alternative import alternative_instructions
    from kmemsim.arch.x86.kernel.espfix_64 import init_espfix
    from kmemsim.arch.x86.kernel.kvm import kvm_spinlock_init
    from kmemsim.arch.x86.mm.cpu_entry_area import setup_cpu_entry_areas
    from kmemsim.arch.x86.mm.init_64 import mem_init, poking_init
    from kmemsim.drivers.base.dd import deferred_probe_initcall
    from kmemsim.drivers.base.init import driver_init
    from kmemsim.drivers.base.platform import of_platform_populate
    from kmemsim.drivers.char.mem import devmem_init
    from kmemsim.fs.dcache import vfs_caches_init_early
    from kmemsim.fs.namespace import mnt_init
    from kmemsim.fs.proc.meminfo import proc_meminfo_init
    from kmemsim.include.asm_generic.io import io_init
    from kmemsim.init.initramfs import free_initrd_mem
    from kmemsim.kernel.fork import boot_kernel_threads
    from kmemsim.kernel.printk import setup_log_buf
    from kmemsim.kernel.rcu.tree import rcu_init
    from kmemsim.kernel.resource import ResourceTree, ioresources_late_init
    from kmemsim.kernel.sched.core import ExecContext
    from kmemsim.kernel.time import sleep_timeout
    from kmemsim.kernel.trace.ftrace import ftrace_free_init_mem, ftrace_init
    from kmemsim.kernel.trace.trace import tracer_alloc_buffers
    from kmemsim.kernel.trace.trace_events import trace_event_init
    from kmemsim.lib.stackdepot import register_kernel_names
    from kmemsim.mm.highmem import kmap_init
    from kmemsim.mm.ioremap import ioremap_init
    from kmemsim.mm.kasan import kasan_init, kasan_late_init
    from kmemsim.mm.kfence import kfence_init
    from kmemsim.mm.kmemleak import kmemleak_init, kmemleak_late_init
    from kmemsim.mm.memblock import memblock_free_all
    from kmemsim.mm.mempool import mempool_init_api
    from kmemsim.mm.mm_init import page_alloc_init_late, report_meminit
    from kmemsim.mm.page_alloc import (
        build_all_zonelists,
        init_per_zone_wmark_min,
        kasan_page_hooks,
        setup_per_cpu_pageset,
    )
    from kmemsim.mm.percpu import percpu_init, setup_per_cpu_areas
    from kmemsim.mm.slab_boot import boot_caches_init
    from kmemsim.mm.slub import kmem_cache_init
    from kmemsim.mm.util import kvmalloc_init
    from kmemsim.mm.vmalloc import vmalloc_init
    from kmemsim.mm.vmstat import proc_vmstat_init

    k = Kernel(machine, config)
    try:
        k.sched = ExecContext(k)
        export_symbols(k, k.sched)
        export_symbols(k, sleep_timeout)  # msleep(), ssleep(), jiffies conversions
        k.resource = ResourceTree(k)  # kernel/resource.c: iomem_resource, ioport_resource
        export_symbols(k, k.resource)
        k.iomem_resource = k.resource.iomem_resource
        k.ioport_resource = k.resource.ioport_resource
        io_init(k)  # inb/outb & co., k.console(); the devices run on the simulated clock
        # e820 / DT memory, memblock, direct map, free_area_init() -> k.pgdat,
        # "Zone ranges:" ... "Initmem setup", and k.page_alloc over the zones.
        setup_arch(k)
        kasan_init(k)  # x86 setup_arch() ends with kasan_init(): the shadow, before any cache
        kasan_page_hooks(k.page_alloc)  # kasan_(un)poison_pages() at the page hook points
        kmemleak_init(k)  # objects are tracked from the first slab allocation on
        setup_per_cpu_areas(k)  # the first percpu chunk from memblock, "percpu: Embedded ..."
        kvm_spinlock_init(k)  # smp_prepare_boot_cpu(): "PV qspinlock hash table entries: ..."
        setup_log_buf(k)  # a larger log buffer for many CPUs, from memblock
        vfs_caches_init_early(k)  # dentry and inode hash tables, from memblock
        if machine.arch == "x86_64":
            setup_cpu_entry_areas(k)  # trap_init(): the CPU entry area's page tables
        build_all_zonelists(k)  # "Built 1 zonelists, mobility grouping on.  Total pages: N"
        # mm_core_init():
        report_meminit(k)  # "mem auto-init: stack:off, heap alloc:off, heap free:off"
        memblock_free_all(k)  # RAM to the buddy allocator (__free_pages_core, to the tail)
        if machine.arch == "x86_64":
            mem_init(k)  # preallocate_vmalloc_pages(): the vmalloc area's top-level tables
        kmem_cache_init(k)  # k.slab, the kmalloc caches, "SLUB: HWalign=64, Order=0-3, ..."
        vmalloc_init(k)  # the vmap_area allocator over VMALLOC_START..VMALLOC_END
        ioremap_init(k)  # ioremap() and family on the vmalloc area
        if machine.arch == "x86_64":
            init_espfix(k)  # init_espfix_bsp(), init_espfix_ap(): espfix stack pages
            poking_init(k)  # start_kernel(): text_poke_mm's page tables
        ftrace_init(k)  # "ftrace: allocating N entries in M pages": the dyn_ftrace records
        tracer_alloc_buffers(k)  # early_trace_init(): ring buffers, saved cmdlines
        kmap_init(k)  # the PKMAP pool and the kmap_local slots (32-bit HIGHMEM)
        kvmalloc_init(k)  # kvmalloc(): kmalloc, falling back to vmalloc
        kasan_late_init(k)  # the KASAN quarantine, sized from totalram_pages()
        rcu_init(k)  # call_rcu(), synchronize_rcu(), kfree_rcu()
        mempool_init_api(k)  # mempool_create_*(), mempool_alloc(), mempool_free()
        percpu_init(k)  # DEFINE_PER_CPU (k.per_cpu_var), alloc_percpu()
        kfence_init(k)  # the KFENCE pool; the slab allocator samples from now on
        export_symbols(k, sections)  # k.global_var(): variables in the image's .bss
        setup_per_cpu_pageset(k)  # the zones' real per-CPU lists
        alternative_instructions(k)  # arch_cpu_finalize_init(): "Freeing SMP alternatives ..."
        mnt_init(k)  # vfs_caches_init(): "Mount-cache hash table entries: ..."
        boot_caches_init(k)  # start_kernel(): fork_init, vfs_caches_init, ...: its caches
        trace_event_init(k)  # trace_init(): the trace events' files and fields
        boot_kernel_threads(k)  # rest_init(), kernel_init_freeable(): kthreads, smp_init()
        # kernel_init_freeable(): deferred struct pages, "Memory: ...K/...K available (...)"
        page_alloc_init_late(k)
        boot_caches_init(k, initcalls=True)  # the initcall levels' caches, in level order
        init_per_zone_wmark_min(k)  # core_initcall: watermarks, lowmem_reserve, pcp high/batch
        driver_init(k)  # do_basic_setup(): the driver model, the platform bus
        of_platform_populate(k)  # arch_initcall_sync: the profile's devices
        ioresources_late_init(k)  # initcalls: buses, firmware ranges, drivers' regions
        devmem_init(k)  # chr_dev_init(): /dev/mem (k.devmem) with CONFIG_DEVMEM
        free_initrd_mem(k)  # rootfs_initcall populate_rootfs(): "Freeing initrd memory: ..."
        ftrace_free_init_mem(k)  # kernel_init(): the records of .init.text's functions
        free_initmem(k)  # kernel_init(): the __init sections
        mark_rodata_ro(k)  # x86_64: the 2 MiB gaps around rodata
        proc_vmstat_init(k)  # /proc/buddyinfo, pagetypeinfo, zoneinfo, vmstat
        proc_meminfo_init(k)  # /proc/meminfo
        register_kernel_names(k)  # stack traces name the kernel functions a scenario calls
        kmemleak_late_init(k)  # /sys/kernel/debug/kmemleak, the scan thread
        deferred_probe_initcall(k)  # late_initcall: deferred probe on, devices_deferred
    except Oops as oops:
        oops.kernel = k  # a death while booting: its log is all there is
        raise
    return k
