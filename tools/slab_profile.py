"""Build or check profiles/linux-6.18-x86_64.caches.json: the kmem_cache_create() calls of 6.18.

    python tools/slab_profile.py [--check] [DATA_DIR]

The file records what each creating call site of the captured kernel passes
to kmem_cache_create() (or KMEM_CACHE(), kmem_cache_create_usercopy(),
kmem_buckets_create(), proto_register(), ...): the name, the object size,
the align argument, the flags, whether a constructor is given, the usercopy
region, the free pointer offset, the sheaf capacity, and who calls it (the
init function and its source file), in the order 6.18's boot runs them. The
CALL_SITES table below is that record, written from the 6.18 source of each
call site (init/main.c start_kernel(), the initcall levels of
include/linux/init.h, the link order of the top-level Kbuild); this tool
turns it into JSON, resolving the object sizes the captured data implies:

  size_from "source"   the size the source states or a sizeof computed from it
  size_from "sysfs"    object_size of the cache's own /sys/kernel/slab directory
                       (slab_caches.json): a cache nothing merged with keeps
                       the size argument as its object_size
  size_from "trace"    bytes_req of the cache's kmem_cache_alloc events: the
                       object_size of an unmergeable cache (constructor,
                       usercopy region or a never-merge flag), its size argument
  size_from "guess"    not settled: bytes_req of the name's events, or
                       object_size of the directory it was merged into (the
                       largest size among its creators); "guessed": true

Results are never inputs: no align, slab_size, order or objs_per_slab of
sysfs, and never the size a merged directory's unique id spells. A name the
source does not size and no captured datum sizes goes to "not_modelled" with
its creator. Where the creation order within an initcall level was not read
from the source (link order inside a directory), "order_guessed": true.
Entries name the Kconfig symbols their call site depends on; the captured
kernel's values of those symbols (kernel-config.txt) are copied into
"kconfig", and boot (kmemsim/mm/slab_boot.py) creates the entries they select.

--check rebuilds the file in memory and fails (exit 1) if it differs from the
stored one, or if a rule above is broken.
"""

from __future__ import annotations

import json
import lzma
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "kmemsim" / "profiles" / "linux-6.18-x86_64.caches.json"
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "linux-6.18-x86_64"

# The creation phases in the order 6.18 runs them: start_kernel()'s steps
# (init/main.c, mm/mm_init.c mm_core_init()), then do_initcalls() level by level.
PHASES = (
    "kmem_cache_init",
    "mm_core_init",
    "maple_tree_init",
    "sched_init",
    "radix_tree_init",
    "workqueue_init_early",
    "trace_init",
    "perf_event_init",
    "numa_policy_init",
    "acpi_early_init",
    "pid_idr_init",
    "anon_vma_init",
    "cred_init",
    "fork_init",
    "proc_caches_init",
    "uts_ns_init",
    "key_init",
    "security_init",
    "net_ns_init",
    "vfs_caches_init",
    "signals_init",
    "seq_file_init",
    "proc_root_init",
    "pidfs_init",
    "mem_cgroup_init",
    "taskstats_init_early",
    "delayacct_init",
    "core_initcall",
    "postcore_initcall",
    "arch_initcall",
    "subsys_initcall",
    "fs_initcall",
    "rootfs_initcall",
    "device_initcall",
    "late_initcall",
    "after_boot",
)
INITCALL_LEVELS = {p for p in PHASES if p.endswith("_initcall") or p == "after_boot"}

# Link order of the built-in objects (the top-level Kbuild: init, arch/x86,
# kernel, certs, mm, fs, ipc, security, crypto, block, io_uring, drivers,
# sound, net, virt, lib): initcalls of one level run in this order.
LINK_ORDER = (
    "init/",
    "arch/x86/",
    "kernel/",
    "mm/",
    "fs/",
    "ipc/",
    "security/",
    "crypto/",
    "block/",
    "io_uring/",
    "drivers/",
    "net/",
    "lib/",
)


def C(
    name: str,
    size: int | str,
    flags: str,
    creator: str,
    file: str,
    phase: str,
    *,
    align: int = 0,
    ctor: str | None = None,
    useroffset: int = 0,
    usersize: int | str = 0,
    freeptr_offset: int | None = None,
    sheaf_capacity: int = 0,
    config: str = "",
    call: str = "",
    note: str = "",
    read: bool = False,
) -> dict[str, Any]:
    """One kmem_cache_create() call of 6.18: what the call site passes.

    `size` is an int (the source's size), "sysfs", "trace" or "guess" (see the
    module docstring); `usersize` an int or "sysfs" (a sizeof_field() of the
    source, whose value the cache's own directory shows: s->usersize is the
    argument). `read` marks the call sites read in the 6.18-era tree
    (linux-mm/linux-mm) while writing this table; the others were written
    from the source as known and carry the same kind of facts.
    """
    return {
        "name": name,
        "size": size,
        "align": align,
        "flags": [f"SLAB_{f}" for f in flags.split("|") if f],
        "ctor": ctor,
        "useroffset": useroffset,
        "usersize": usersize,
        "freeptr_offset": freeptr_offset,
        "sheaf_capacity": sheaf_capacity,
        "creator": creator,
        "file": file,
        "phase": phase,
        "config": [c for c in config.split() if c],
        "call": call,
        "note": note,
        "read": read,
    }


def B(
    name: str,
    flags: str,
    useroffset: int,
    usersize: int,
    creator: str,
    file: str,
    phase: str,
    config: str = "",
    note: str = "",
) -> dict[str, Any]:
    """kmem_buckets_create(name, flags, useroffset, usersize, NULL): one cache per kmalloc size."""
    e = C(
        name,
        "source",
        flags,
        creator,
        file,
        phase,
        useroffset=useroffset,
        usersize=usersize,
        config=config,
        note=note,
    )
    e["kind"] = "kmem_buckets"
    return e


HW = "HWCACHE_ALIGN"
# fmt: off
CALL_SITES: list[dict[str, Any]] = [
    # ---- kmem_cache_init(), mm/slub.c: the two boot caches (create_boot_cache(),
    # refcount -1: never merged), then create_kmalloc_caches() (made by the model's
    # kmem_cache_init itself, with kmalloc_buckets under CONFIG_SLAB_BUCKETS).
    C("kmem_cache_node", "guess", "HWCACHE_ALIGN|NO_OBJ_EXT", "kmem_cache_init", "mm/slub.c",
      "kmem_cache_init", call="create_boot_cache(kmem_cache_node, \"kmem_cache_node\", "
      "sizeof(struct kmem_cache_node), SLAB_HWCACHE_ALIGN | SLAB_NO_OBJ_EXT, 0, 0)",
      note="sizeof(struct kmem_cache_node) with CONFIG_SLUB_DEBUG and 6.18's barn pointer: "
      "72 (not checked against a build)", read=True),
    C("kmem_cache", "guess", "HWCACHE_ALIGN|NO_OBJ_EXT", "kmem_cache_init", "mm/slub.c",
      "kmem_cache_init", call="create_boot_cache(kmem_cache, \"kmem_cache\", offsetof(struct "
      "kmem_cache, node) + nr_node_ids * sizeof(struct kmem_cache_node *), ...)",
      note="offsetof(struct kmem_cache, node) counted as 224 for this configuration, plus one "
      "node pointer (nr_node_ids 1): 232 (not checked against a build)", read=True),
    # ---- mm_core_init(), mm/mm_init.c: vmalloc_init(), mm_cache_init()
    C("vmap_area", 72, "PANIC", "vmalloc_init", "mm/vmalloc.c", "mm_core_init",
      align=8, call="KMEM_CACHE(vmap_area, SLAB_PANIC)",
      note="sizeof(struct vmap_area): va_start, va_end, rb_node (24), list (16), "
      "subtree_max_size/vm, flags"),
    C("mm_struct", "sysfs", "HWCACHE_ALIGN|PANIC|ACCOUNT", "mm_cache_init", "kernel/fork.c",
      "mm_core_init", usersize="sysfs", call="kmem_cache_create_usercopy(\"mm_struct\", mm_size, "
      "ARCH_MIN_MMSTRUCT_ALIGN, ..., offsetof(struct mm_struct, saved_auxv), "
      "sizeof_field(struct mm_struct, saved_auxv), NULL)", read=True),
    # ---- start_kernel(): maple_tree_init() right after mm_core_init()
    C("maple_node", 256, "PANIC", "maple_tree_init", "lib/maple_tree.c", "maple_tree_init",
      align=256, sheaf_capacity=32,
      call="kmem_cache_create(\"maple_node\", sizeof(struct maple_node), &args, SLAB_PANIC) "
      "with args.align = sizeof(struct maple_node), args.sheaf_capacity = 32",
      note="sizeof(struct maple_node) = 256 (MAPLE_NODE_SLOTS 31 slots and the parent)"),
    C("task_group", "guess", "", "sched_init", "kernel/sched/core.c", "sched_init",
      align=64, config="CONFIG_CGROUP_SCHED", call="KMEM_CACHE(task_group, 0)",
      note="struct task_group holds ____cacheline_aligned members: __alignof__ 64"),
    C("radix_tree_node", "trace", "PANIC|RECLAIM_ACCOUNT", "radix_tree_init", "lib/radix-tree.c",
      "radix_tree_init", ctor="radix_tree_node_ctor", read=True,
      call="kmem_cache_create(\"radix_tree_node\", sizeof(struct radix_tree_node), 0, "
      "SLAB_PANIC | SLAB_RECLAIM_ACCOUNT, radix_tree_node_ctor)"),
    C("pool_workqueue", "guess", "PANIC", "workqueue_init_early", "kernel/workqueue.c",
      "workqueue_init_early", align=256, call="KMEM_CACHE(pool_workqueue, SLAB_PANIC)",
      note="struct pool_workqueue is __aligned(1 << WORK_STRUCT_PWQ_SHIFT): __alignof__ 256"),
    C("ftrace_event_field", "guess", "PANIC", "event_trace_enable",
      "kernel/trace/trace_events.c", "trace_init", align=8, config="CONFIG_EVENT_TRACING",
      call="KMEM_CACHE(ftrace_event_field, SLAB_PANIC)"),
    C("trace_event_file", "guess", "PANIC", "event_trace_enable", "kernel/trace/trace_events.c",
      "trace_init", align=8, config="CONFIG_EVENT_TRACING",
      call="KMEM_CACHE(trace_event_file, SLAB_PANIC)"),
    C("perf_event", "guess", "PANIC", "perf_event_init", "kernel/events/core.c",
      "perf_event_init", align=8, config="CONFIG_PERF_EVENTS",
      call="KMEM_CACHE(perf_event, SLAB_PANIC)"),
    C("numa_policy", "guess", "PANIC", "numa_policy_init", "mm/mempolicy.c", "numa_policy_init",
      config="CONFIG_NUMA",
      call="kmem_cache_create(\"numa_policy\", sizeof(struct mempolicy), 0, SLAB_PANIC, NULL)"),
    C("shared_policy_node", "guess", "PANIC", "numa_policy_init", "mm/mempolicy.c",
      "numa_policy_init", config="CONFIG_NUMA",
      call="kmem_cache_create(\"shared_policy_node\", sizeof(struct sp_node), 0, SLAB_PANIC, "
      "NULL)"),
    # acpi_early_init() -> acpi_initialize_subsystem() -> acpi_ut_create_caches():
    # acpi_os_create_cache(name, size, depth) is kmem_cache_create(name, size, 0, 0, NULL).
    C("Acpi-Namespace", "guess", "", "acpi_ut_create_caches", "drivers/acpi/acpica/utalloc.c",
      "acpi_early_init", config="CONFIG_ACPI",
      note="sizeof(struct acpi_namespace_node)"),
    C("Acpi-State", "guess", "", "acpi_ut_create_caches", "drivers/acpi/acpica/utalloc.c",
      "acpi_early_init", config="CONFIG_ACPI", note="sizeof(union acpi_generic_state)"),
    C("Acpi-Parse", "guess", "", "acpi_ut_create_caches", "drivers/acpi/acpica/utalloc.c",
      "acpi_early_init", config="CONFIG_ACPI", note="sizeof(struct acpi_parse_obj_common)"),
    C("Acpi-ParseExt", "guess", "", "acpi_ut_create_caches", "drivers/acpi/acpica/utalloc.c",
      "acpi_early_init", config="CONFIG_ACPI", note="sizeof(struct acpi_parse_obj_named)"),
    C("Acpi-Operand", "guess", "", "acpi_ut_create_caches", "drivers/acpi/acpica/utalloc.c",
      "acpi_early_init", config="CONFIG_ACPI", note="sizeof(union acpi_operand_object)"),
    C("pid", "guess", "HWCACHE_ALIGN|PANIC|ACCOUNT", "pid_idr_init", "kernel/pid.c",
      "pid_idr_init", align=8, call="kmem_cache_create(\"pid\", struct_size_t(struct pid, "
      "numbers, 1), __alignof__(struct pid), SLAB_HWCACHE_ALIGN | SLAB_PANIC | SLAB_ACCOUNT, "
      "NULL)"),
    C("anon_vma", "sysfs", "TYPESAFE_BY_RCU|PANIC|ACCOUNT", "anon_vma_init", "mm/rmap.c",
      "anon_vma_init", ctor="anon_vma_ctor",
      call="kmem_cache_create(\"anon_vma\", sizeof(struct anon_vma), 0, SLAB_TYPESAFE_BY_RCU|"
      "SLAB_PANIC|SLAB_ACCOUNT, anon_vma_ctor)"),
    C("anon_vma_chain", "guess", "PANIC|ACCOUNT", "anon_vma_init", "mm/rmap.c", "anon_vma_init",
      align=8, call="KMEM_CACHE(anon_vma_chain, SLAB_PANIC|SLAB_ACCOUNT)"),
    C("cred", "guess", "HWCACHE_ALIGN|PANIC|ACCOUNT", "cred_init", "kernel/cred.c", "cred_init",
      align=8, call="KMEM_CACHE(cred, SLAB_HWCACHE_ALIGN|SLAB_PANIC|SLAB_ACCOUNT)"),
    C("task_struct", "sysfs", "PANIC|ACCOUNT", "fork_init", "kernel/fork.c", "fork_init",
      align=64, usersize="sysfs",
      call="kmem_cache_create_usercopy(\"task_struct\", arch_task_struct_size, align, "
      "SLAB_PANIC|SLAB_ACCOUNT, useroffset, usersize, NULL)",
      note="align = max(L1_CACHE_BYTES, ARCH_MIN_TASKALIGN) = 64; the usercopy region is "
      "the FPU state task_struct_whitelist() finds"),
    C("sighand_cache", "trace", "HWCACHE_ALIGN|PANIC|TYPESAFE_BY_RCU|ACCOUNT", "proc_caches_init",
      "kernel/fork.c", "proc_caches_init", ctor="sighand_ctor", read=True),
    C("signal_cache", "guess", "HWCACHE_ALIGN|PANIC|ACCOUNT", "proc_caches_init",
      "kernel/fork.c", "proc_caches_init", read=True),
    C("files_cache", "sysfs", "HWCACHE_ALIGN|PANIC|ACCOUNT", "proc_caches_init", "kernel/fork.c",
      "proc_caches_init", read=True, note="the only creator of its merged directory"),
    C("fs_cache", 56, "HWCACHE_ALIGN|PANIC|ACCOUNT", "proc_caches_init", "kernel/fork.c",
      "proc_caches_init", read=True,
      note="sizeof(struct fs_struct): users, lock, seq (no lockdep), umask, in_exec, root, pwd"),
    C("vm_area_struct", "sysfs", "HWCACHE_ALIGN|PANIC|TYPESAFE_BY_RCU|ACCOUNT", "vma_state_init",
      "mm/vma_init.c", "proc_caches_init", freeptr_offset=0, read=True,
      call="kmem_cache_create(\"vm_area_struct\", sizeof(struct vm_area_struct), &args, ...) "
      "with args.use_freeptr_offset, args.freeptr_offset = offsetof(struct vm_area_struct, "
      "vm_freeptr)", note="freeptr_offset: where vm_freeptr sits is not computed; any "
      "in-object offset gives the same geometry"),
    C("nsproxy", 72, "PANIC|ACCOUNT", "nsproxy_cache_init", "kernel/nsproxy.c",
      "proc_caches_init", align=8, call="KMEM_CACHE(nsproxy, SLAB_PANIC|SLAB_ACCOUNT)",
      note="sizeof(struct nsproxy): a refcount and eight namespace pointers"),
    C("uts_namespace", "sysfs", "PANIC|ACCOUNT", "uts_ns_init", "kernel/utsname.c", "uts_ns_init",
      usersize=390, config="CONFIG_UTS_NS",
      call="kmem_cache_create_usercopy(\"uts_namespace\", sizeof(struct uts_namespace), 0, "
      "SLAB_PANIC|SLAB_ACCOUNT, offsetof(struct uts_namespace, name), sizeof_field(struct "
      "uts_namespace, name), NULL)", note="usersize: struct new_utsname, 6 x 65 bytes"),
    C("key_jar", "guess", "HWCACHE_ALIGN|PANIC", "key_init", "security/keys/key.c", "key_init",
      config="CONFIG_KEYS",
      call="kmem_cache_create(\"key_jar\", sizeof(struct key), 0, SLAB_HWCACHE_ALIGN|SLAB_PANIC, "
      "NULL)"),
    C("lsm_file_cache", "guess", "PANIC", "lsm_init", "security/security.c", "security_init",
      config="CONFIG_SECURITY", call="kmem_cache_create(\"lsm_file_cache\", "
      "blob_sizes.lbs_file, 0, SLAB_PANIC, NULL)", note="the file blob of the enabled LSMs"),
    C("lsm_inode_cache", "guess", "PANIC", "lsm_init", "security/security.c", "security_init",
      config="CONFIG_SECURITY", note="the inode blob of the enabled LSMs"),
    C("net_namespace", "sysfs", "PANIC|ACCOUNT", "net_ns_init", "net/core/net_namespace.c",
      "net_ns_init", align=64, config="CONFIG_NET_NS",
      call="kmem_cache_create(\"net_namespace\", sizeof(struct net), SMP_CACHE_BYTES, "
      "SLAB_PANIC|SLAB_ACCOUNT, NULL)", note="the only creator of its merged directory"),
    # ---- vfs_caches_init(), fs/dcache.c
    C("names_cache", 4096, "HWCACHE_ALIGN|PANIC", "filename_init", "fs/namei.c",
      "vfs_caches_init", usersize=4096,
      call="kmem_cache_create_usercopy(\"names_cache\", PATH_MAX, 0, SLAB_HWCACHE_ALIGN|"
      "SLAB_PANIC, 0, PATH_MAX, NULL)"),
    C("dentry", "trace", "RECLAIM_ACCOUNT|PANIC|ACCOUNT", "dcache_init", "fs/dcache.c",
      "vfs_caches_init", align=8, usersize=40, read=True,
      call="KMEM_CACHE_USERCOPY(dentry, SLAB_RECLAIM_ACCOUNT|SLAB_PANIC|SLAB_ACCOUNT, "
      "d_shortname.string)", note="usersize: DNAME_INLINE_LEN, 40 on 64-bit"),
    C("inode_cache", "sysfs", "RECLAIM_ACCOUNT|PANIC|ACCOUNT", "inode_init", "fs/inode.c",
      "vfs_caches_init", ctor="init_once",
      call="kmem_cache_create(\"inode_cache\", sizeof(struct inode), 0, (SLAB_RECLAIM_ACCOUNT|"
      "SLAB_PANIC|SLAB_ACCOUNT), init_once)"),
    C("filp", "sysfs", "HWCACHE_ALIGN|PANIC|ACCOUNT|TYPESAFE_BY_RCU", "files_init",
      "fs/file_table.c", "vfs_caches_init", freeptr_offset=0, read=True,
      note="freeptr_offset = offsetof(struct file, f_freeptr), inside the object"),
    C("bfilp", "sysfs", "HWCACHE_ALIGN|PANIC|ACCOUNT|TYPESAFE_BY_RCU", "files_init",
      "fs/file_table.c", "vfs_caches_init", freeptr_offset=0, read=True,
      note="freeptr_offset = offsetof(struct backing_file, bf_freeptr), inside the object"),
    C("mnt_cache", "guess", "HWCACHE_ALIGN|PANIC|ACCOUNT", "mnt_init", "fs/namespace.c",
      "vfs_caches_init",
      call="kmem_cache_create(\"mnt_cache\", sizeof(struct mount), 0, SLAB_HWCACHE_ALIGN|"
      "SLAB_PANIC|SLAB_ACCOUNT, NULL)"),
    C("kernfs_node_cache", "guess", "PANIC", "kernfs_init", "fs/kernfs/mount.c",
      "vfs_caches_init", read=True),
    C("kernfs_iattrs_cache", "guess", "PANIC", "kernfs_init", "fs/kernfs/mount.c",
      "vfs_caches_init", read=True),
    C("shmem_inode_cache", "guess", "PANIC|ACCOUNT", "shmem_init_inodecache", "mm/shmem.c",
      "vfs_caches_init", ctor="shmem_init_inode", config="CONFIG_SHMEM",
      note="mnt_init() -> shmem_init()"),
    C("bdev_cache", "sysfs", "HWCACHE_ALIGN|RECLAIM_ACCOUNT|ACCOUNT|PANIC", "bdev_cache_init",
      "block/bdev.c", "vfs_caches_init", ctor="init_once", config="CONFIG_BLOCK"),
    C("sigqueue", "guess", "PANIC|ACCOUNT", "signals_init", "kernel/signal.c", "signals_init",
      align=8, call="KMEM_CACHE(sigqueue, SLAB_PANIC | SLAB_ACCOUNT)"),
    C("seq_file", "guess", "ACCOUNT|PANIC", "seq_file_init", "fs/seq_file.c", "seq_file_init",
      align=8, call="KMEM_CACHE(seq_file, SLAB_ACCOUNT|SLAB_PANIC)"),
    C("proc_inode_cache", "trace", "RECLAIM_ACCOUNT|ACCOUNT|PANIC", "proc_init_kmemcache",
      "fs/proc/inode.c", "proc_root_init", ctor="init_once", read=True),
    C("pde_opener", "guess", "ACCOUNT|PANIC", "proc_init_kmemcache", "fs/proc/inode.c",
      "proc_root_init", read=True),
    C("proc_dir_entry", 192, "PANIC", "proc_init_kmemcache", "fs/proc/inode.c", "proc_root_init",
      usersize="sysfs", call="kmem_cache_create_usercopy(\"proc_dir_entry\", SIZEOF_PDE, 0, "
      "SLAB_PANIC, offsetof(struct proc_dir_entry, inline_name), SIZEOF_PDE_INLINE_NAME, NULL)",
      note="SIZEOF_PDE rounds sizeof(struct proc_dir_entry) up to 192", read=True),
    C("pidfs_attr_cache", "guess", "HWCACHE_ALIGN|RECLAIM_ACCOUNT|ACCOUNT|PANIC", "pidfs_init",
      "fs/pidfs.c", "pidfs_init", read=True),
    C("pidfs_xattr_cache", "sysfs", "HWCACHE_ALIGN|RECLAIM_ACCOUNT|ACCOUNT|PANIC", "pidfs_init",
      "fs/pidfs.c", "pidfs_init", note="the only creator of its merged directory", read=True),
    C("mem_cgroup", "sysfs", "PANIC|HWCACHE_ALIGN", "mem_cgroup_init", "mm/memcontrol.c",
      "mem_cgroup_init", config="CONFIG_MEMCG",
      call="kmem_cache_create(\"mem_cgroup\", struct_size_t(struct mem_cgroup, nodeinfo, "
      "nr_node_ids), 0, SLAB_PANIC | SLAB_HWCACHE_ALIGN, NULL)",
      note="the only creator of its merged directory"),
    C("mem_cgroup_per_node", "guess", "PANIC|HWCACHE_ALIGN", "mem_cgroup_init", "mm/memcontrol.c",
      "mem_cgroup_init", align=64, config="CONFIG_MEMCG",
      call="KMEM_CACHE(mem_cgroup_per_node, SLAB_PANIC | SLAB_HWCACHE_ALIGN)"),
    C("taskstats", "guess", "PANIC", "taskstats_init_early", "kernel/taskstats.c",
      "taskstats_init_early", align=8, config="CONFIG_TASKSTATS",
      call="KMEM_CACHE(taskstats, SLAB_PANIC)"),
    C("task_delay_info", "guess", "PANIC|ACCOUNT", "delayacct_init", "kernel/delayacct.c",
      "delayacct_init", align=8, config="CONFIG_TASK_DELAY_ACCT",
      call="KMEM_CACHE(task_delay_info, SLAB_PANIC|SLAB_ACCOUNT)"),
    # ---- core_initcall
    C("fsnotify_mark_connector", 24, "PANIC", "fsnotify_init", "fs/notify/fsnotify.c",
      "core_initcall", align=8, call="KMEM_CACHE(fsnotify_mark_connector, SLAB_PANIC)",
      note="sizeof: lock, type, flags, the object pointer, the mark list head"),
    C("file_lock_ctx", "guess", "PANIC", "filelock_init", "fs/locks.c", "core_initcall"),
    C("file_lock_cache", "guess", "PANIC", "filelock_init", "fs/locks.c", "core_initcall"),
    C("file_lease_cache", "sysfs", "PANIC", "filelock_init", "fs/locks.c", "core_initcall",
      note="the only creator of its merged directory"),
    C("debugfs_inode_cache", "sysfs", "RECLAIM_ACCOUNT|ACCOUNT", "debugfs_init",
      "fs/debugfs/inode.c", "core_initcall", ctor="init_once", config="CONFIG_DEBUG_FS"),
    C("skbuff_head_cache", "sysfs", "HWCACHE_ALIGN|PANIC", "skb_init", "net/core/skbuff.c",
      "core_initcall", usersize="sysfs", config="CONFIG_NET",
      call="kmem_cache_create_usercopy(\"skbuff_head_cache\", sizeof(struct sk_buff), 0, "
      "SLAB_HWCACHE_ALIGN|SLAB_PANIC, offsetof(struct sk_buff, cb), sizeof_field(struct "
      "sk_buff, cb), NULL)", note="sock_init() -> skb_init()"),
    C("skbuff_fclone_cache", "guess", "HWCACHE_ALIGN|PANIC", "skb_init", "net/core/skbuff.c",
      "core_initcall", config="CONFIG_NET"),
    C("skbuff_small_head", "trace", "HWCACHE_ALIGN|PANIC", "skb_init", "net/core/skbuff.c",
      "core_initcall", usersize=64, config="CONFIG_NET",
      note="usersize SKB_SMALL_HEAD_HEADROOM (not computed; any usercopy region keeps it "
      "unmerged)"),
    C("skbuff_ext_cache", "guess", "HWCACHE_ALIGN|PANIC", "skb_extensions_init",
      "net/core/skbuff.c", "core_initcall", config="CONFIG_NET"),
    C("sock_inode_cache", "sysfs", "HWCACHE_ALIGN|RECLAIM_ACCOUNT|ACCOUNT", "init_inodecache",
      "net/socket.c", "core_initcall", ctor="init_once", config="CONFIG_NET"),
    # ---- postcore / arch
    C("audit_buffer", "guess", "PANIC", "audit_init", "kernel/audit.c", "postcore_initcall",
      config="CONFIG_AUDIT"),
    C("dmaengine-unmap-2", "guess", "HWCACHE_ALIGN", "dmaengine_init_unmap_pool",
      "drivers/dma/dmaengine.c", "arch_initcall", config="CONFIG_DMA_ENGINE"),
    # ---- subsys_initcall
    C("uid_cache", "guess", "HWCACHE_ALIGN|PANIC", "uid_cache_init", "kernel/user.c",
      "subsys_initcall"),
    C("user_namespace", "sysfs", "PANIC|ACCOUNT", "user_namespaces_init",
      "kernel/user_namespace.c", "subsys_initcall", align=8, config="CONFIG_USER_NS",
      call="KMEM_CACHE(user_namespace, SLAB_PANIC | SLAB_ACCOUNT)",
      note="the only creator of its merged directory"),
    C("mm_slot", "guess", "", "khugepaged_init", "mm/khugepaged.c", "subsys_initcall",
      config="CONFIG_TRANSPARENT_HUGEPAGE"),
    C("ksm_rmap_item", "guess", "", "ksm_slab_init", "mm/ksm.c", "subsys_initcall",
      config="CONFIG_KSM"),
    C("ksm_stable_node", "guess", "", "ksm_slab_init", "mm/ksm.c", "subsys_initcall",
      config="CONFIG_KSM"),
    C("ksm_mm_slot", "guess", "", "ksm_slab_init", "mm/ksm.c", "subsys_initcall",
      config="CONFIG_KSM"),
    B("memdup_user", "", 0, 0x7FFFFFFF, "init_user_buckets", "mm/util.c", "subsys_initcall",
      config="CONFIG_SLAB_BUCKETS"),
    C("damon_region", "guess", "", "damon_init", "mm/damon/core.c", "subsys_initcall",
      config="CONFIG_DAMON"),
    B("msg_msg", "ACCOUNT", 48, 4096 - 48, "init_msg_buckets", "ipc/msgutil.c",
      "subsys_initcall", config="CONFIG_SYSVIPC CONFIG_SLAB_BUCKETS",
      note="useroffset sizeof(struct msg_msg) = 48, usersize DATALEN_MSG"),
    C("biovec-16", 256, "HWCACHE_ALIGN|PANIC", "biovec_init_slabs", "block/bio.c",
      "subsys_initcall", config="CONFIG_BLOCK", note="16 x sizeof(struct bio_vec)"),
    C("biovec-64", 1024, "HWCACHE_ALIGN|PANIC", "biovec_init_slabs", "block/bio.c",
      "subsys_initcall", config="CONFIG_BLOCK", note="64 x sizeof(struct bio_vec)"),
    C("biovec-128", 2048, "HWCACHE_ALIGN|PANIC", "biovec_init_slabs", "block/bio.c",
      "subsys_initcall", config="CONFIG_BLOCK", note="128 x sizeof(struct bio_vec)"),
    C("biovec-max", 4096, "HWCACHE_ALIGN|PANIC", "biovec_init_slabs", "block/bio.c",
      "subsys_initcall", config="CONFIG_BLOCK", note="BIO_MAX_VECS x sizeof(struct bio_vec)"),
    C("bio-184", "sysfs", "HWCACHE_ALIGN|TYPESAFE_BY_RCU", "bio_find_or_create_slab",
      "block/bio.c", "subsys_initcall", align=8, config="CONFIG_BLOCK",
      note="init_bio(): bioset_init(&fs_bio_set, BIO_POOL_SIZE, 0, BIOSET_NEED_BVECS): "
      "sizeof(struct bio) and BIO_INLINE_VECS bio_vecs"),
    C("bio-120", "trace", "HWCACHE_ALIGN|TYPESAFE_BY_RCU", "bio_find_or_create_slab",
      "block/bio.c", "subsys_initcall", align=8, config="CONFIG_BLOCK",
      note="a bioset without inline bio_vecs; which one was not settled"),
    C("blkdev_ioc", "guess", "PANIC", "blk_ioc_init", "block/blk-ioc.c", "subsys_initcall",
      config="CONFIG_BLOCK"),
    C("request_queue", "sysfs", "PANIC", "blk_dev_init", "block/blk-core.c", "subsys_initcall",
      align=8, config="CONFIG_BLOCK", call="KMEM_CACHE(request_queue, SLAB_PANIC)",
      note="genhd_device_init() -> blk_dev_init(); the only creator of its merged directory"),
    C("iommu_iova", "guess", "HWCACHE_ALIGN", "iova_cache_get", "drivers/iommu/iova.c",
      "subsys_initcall", config="CONFIG_IOMMU_IOVA"),
    C("iommu_iova_magazine", "guess", "", "iova_cache_get", "drivers/iommu/iova.c",
      "subsys_initcall", config="CONFIG_IOMMU_IOVA"),
    C("sgpool-8", 256, "HWCACHE_ALIGN", "sg_pool_init", "lib/sg_pool.c", "subsys_initcall",
      note="8 x sizeof(struct scatterlist)"),
    C("sgpool-16", 512, "HWCACHE_ALIGN", "sg_pool_init", "lib/sg_pool.c", "subsys_initcall"),
    C("sgpool-32", 1024, "HWCACHE_ALIGN", "sg_pool_init", "lib/sg_pool.c", "subsys_initcall"),
    C("sgpool-64", 2048, "HWCACHE_ALIGN", "sg_pool_init", "lib/sg_pool.c", "subsys_initcall"),
    C("sgpool-128", 4096, "HWCACHE_ALIGN", "sg_pool_init", "lib/sg_pool.c", "subsys_initcall"),
    # ---- fs_initcall
    C("inotify_inode_mark", "guess", "PANIC|ACCOUNT", "inotify_user_setup",
      "fs/notify/inotify/inotify_user.c", "fs_initcall", config="CONFIG_INOTIFY_USER"),
    C("eventpoll_epi", "guess", "HWCACHE_ALIGN|PANIC|ACCOUNT", "eventpoll_init",
      "fs/eventpoll.c", "fs_initcall", config="CONFIG_EPOLL"),
    C("eventpoll_pwq", 64, "PANIC|ACCOUNT", "eventpoll_init", "fs/eventpoll.c",
      "fs_initcall", config="CONFIG_EPOLL",
      note="sizeof(struct eppoll_entry): next, base, a wait_queue_entry (40), whead"),
    C("ep_head", 16, "PANIC|ACCOUNT", "eventpoll_init", "fs/eventpoll.c", "fs_initcall",
      config="CONFIG_EPOLL",
      note="sizeof(struct epitems_head): an hlist_head and a next pointer"),
    C("backing_aio", "guess", "HWCACHE_ALIGN", "backing_aio_init", "fs/backing-file.c",
      "fs_initcall"),
    C("buffer_head", "guess", "RECLAIM_ACCOUNT|PANIC", "buffer_init", "fs/buffer.c",
      "fs_initcall", align=8, config="CONFIG_BLOCK",
      note="where 6.18 calls buffer_init() was not read: placed among the fs initcalls"),
    C("hugetlbfs_inode_cache", "sysfs", "ACCOUNT", "init_hugetlbfs_fs", "fs/hugetlbfs/inode.c",
      "fs_initcall", ctor="init_once", config="CONFIG_HUGETLBFS"),
    C("dquot", "guess", "HWCACHE_ALIGN|RECLAIM_ACCOUNT|PANIC", "dquot_init",
      "fs/quota/dquot.c", "fs_initcall", align=32, config="CONFIG_QUOTA",
      note="align sizeof(unsigned long) * 4"),
    C("TCP", "guess", "HWCACHE_ALIGN|ACCOUNT|TYPESAFE_BY_RCU", "proto_register",
      "net/ipv4/af_inet.c", "fs_initcall", config="CONFIG_INET",
      note="inet_init(): proto_register(&tcp_prot, 1)"),
    C("request_sock_TCP", "guess", "ACCOUNT|TYPESAFE_BY_RCU", "req_prot_init",
      "net/ipv4/af_inet.c", "fs_initcall", config="CONFIG_INET"),
    C("tw_sock_TCP", "sysfs", "ACCOUNT|TYPESAFE_BY_RCU", "tw_prot_init", "net/ipv4/af_inet.c",
      "fs_initcall", config="CONFIG_INET"),
    C("UDP", "guess", "HWCACHE_ALIGN|ACCOUNT", "proto_register", "net/ipv4/af_inet.c",
      "fs_initcall", config="CONFIG_INET"),
    C("UDP-Lite", "guess", "HWCACHE_ALIGN|ACCOUNT", "proto_register", "net/ipv4/af_inet.c",
      "fs_initcall", config="CONFIG_INET"),
    C("RAW", "guess", "HWCACHE_ALIGN|ACCOUNT", "proto_register", "net/ipv4/af_inet.c",
      "fs_initcall", usersize=32, config="CONFIG_INET",
      note="raw_prot whitelists the ICMP filter"),
    C("PING", "sysfs", "HWCACHE_ALIGN|ACCOUNT", "proto_register", "net/ipv4/af_inet.c",
      "fs_initcall", config="CONFIG_INET", note="the only creator of its merged directory"),
    C("rtable", "guess", "HWCACHE_ALIGN|PANIC", "ip_rt_init", "net/ipv4/route.c",
      "fs_initcall", config="CONFIG_INET"),
    C("inet_peer", "guess", "HWCACHE_ALIGN|PANIC", "inet_initpeers", "net/ipv4/inetpeer.c",
      "fs_initcall", config="CONFIG_INET"),
    C("ip_fib_alias", "sysfs", "PANIC|ACCOUNT", "fib_trie_init", "net/ipv4/fib_trie.c",
      "fs_initcall", config="CONFIG_INET", note="the only creator of its merged directory"),
    C("ip_fib_trie", "guess", "PANIC|ACCOUNT", "fib_trie_init", "net/ipv4/fib_trie.c",
      "fs_initcall", config="CONFIG_INET"),
    C("tcp_bind_bucket", "guess", "HWCACHE_ALIGN|PANIC|ACCOUNT", "tcp_init", "net/ipv4/tcp.c",
      "fs_initcall", config="CONFIG_INET"),
    C("tcp_bind2_bucket", "guess", "HWCACHE_ALIGN|PANIC|ACCOUNT", "tcp_init", "net/ipv4/tcp.c",
      "fs_initcall", config="CONFIG_INET"),
    C("MPTCP", "sysfs", "HWCACHE_ALIGN|ACCOUNT|TYPESAFE_BY_RCU", "mptcp_proto_init",
      "net/mptcp/protocol.c", "fs_initcall", config="CONFIG_MPTCP",
      note="tcp_init() -> mptcp_init()"),
    C("ip4-frags", "guess", "HWCACHE_ALIGN", "inet_frags_init", "net/ipv4/ip_fragment.c",
      "fs_initcall", config="CONFIG_INET"),
    C("mfc_cache", "guess", "HWCACHE_ALIGN|PANIC", "ip_mr_init", "net/ipv4/ipmr.c",
      "fs_initcall", config="CONFIG_IP_MROUTE"),
    C("xfrm_dst", "guess", "HWCACHE_ALIGN|PANIC", "xfrm4_policy_init", "net/ipv4/xfrm4_policy.c",
      "fs_initcall", config="CONFIG_XFRM"),
    C("xfrm_state", "guess", "HWCACHE_ALIGN|PANIC", "xfrm_state_init", "net/xfrm/xfrm_state.c",
      "fs_initcall", config="CONFIG_XFRM"),
    C("UNIX", "guess", "HWCACHE_ALIGN|ACCOUNT", "af_unix_init", "net/unix/af_unix.c",
      "fs_initcall", config="CONFIG_UNIX"),
    C("UNIX-STREAM", "guess", "HWCACHE_ALIGN|ACCOUNT", "af_unix_init", "net/unix/af_unix.c",
      "fs_initcall", config="CONFIG_UNIX"),
    C("xsk_generic_xmit_cache", "guess", "HWCACHE_ALIGN", "xsk_init", "net/xdp/xsk.c",
      "fs_initcall", config="CONFIG_XDP_SOCKETS"),
    # ---- device_initcall (module_init of built-in code)
    C("pid_namespace", "sysfs", "PANIC|ACCOUNT", "pid_namespaces_init",
      "kernel/pid_namespace.c", "device_initcall", align=8, config="CONFIG_PID_NS",
      call="KMEM_CACHE(pid_namespace, SLAB_PANIC | SLAB_ACCOUNT)",
      note="the only creator of its merged directory"),
    C("posix_timers_cache", "guess", "ACCOUNT", "init_posix_timers",
      "kernel/time/posix-timers.c", "device_initcall", align=8, config="CONFIG_POSIX_TIMERS"),
    C("audit_tree_mark", "guess", "PANIC", "audit_tree_init", "kernel/audit_tree.c",
      "device_initcall", config="CONFIG_AUDITSYSCALL"),
    C("dnotify_struct", "sysfs", "PANIC|ACCOUNT", "dnotify_init", "fs/notify/dnotify/dnotify.c",
      "device_initcall", align=8, config="CONFIG_DNOTIFY",
      note="the only creator of its merged directory"),
    C("dnotify_mark", "guess", "PANIC|ACCOUNT", "dnotify_init", "fs/notify/dnotify/dnotify.c",
      "device_initcall", align=8, config="CONFIG_DNOTIFY"),
    C("fanotify_mark", "guess", "PANIC|ACCOUNT", "fanotify_user_setup",
      "fs/notify/fanotify/fanotify_user.c", "device_initcall", config="CONFIG_FANOTIFY"),
    C("fanotify_fid_event", "guess", "PANIC", "fanotify_user_setup",
      "fs/notify/fanotify/fanotify_user.c", "device_initcall", config="CONFIG_FANOTIFY"),
    C("fanotify_path_event", "guess", "PANIC", "fanotify_user_setup",
      "fs/notify/fanotify/fanotify_user.c", "device_initcall", config="CONFIG_FANOTIFY"),
    C("fanotify_perm_event", "guess", "PANIC", "fanotify_user_setup",
      "fs/notify/fanotify/fanotify_user.c", "device_initcall",
      config="CONFIG_FANOTIFY CONFIG_FANOTIFY_ACCESS_PERMISSIONS"),
    C("fanotify_mnt_event", "guess", "PANIC", "fanotify_user_setup",
      "fs/notify/fanotify/fanotify_user.c", "device_initcall", config="CONFIG_FANOTIFY"),
    C("aio_kiocb", "guess", "HWCACHE_ALIGN|PANIC", "aio_setup", "fs/aio.c", "device_initcall",
      align=8, config="CONFIG_AIO"),
    C("kioctx", "guess", "HWCACHE_ALIGN|PANIC", "aio_setup", "fs/aio.c", "device_initcall",
      align=8, config="CONFIG_AIO"),
    C("userfaultfd_ctx_cache", "sysfs", "HWCACHE_ALIGN|PANIC", "userfaultfd_init",
      "fs/userfaultfd.c", "device_initcall", ctor="init_once_userfaultfd_ctx",
      config="CONFIG_USERFAULTFD"),
    C("fasync_cache", 48, "PANIC|ACCOUNT", "fcntl_init", "fs/fcntl.c", "device_initcall",
      note="sizeof(struct fasync_struct): fa_lock, magic, fa_fd, fa_next, fa_file, fa_rcu"),
    C("mb_cache_entry", "guess", "RECLAIM_ACCOUNT", "mbcache_init", "fs/mbcache.c",
      "device_initcall", config="CONFIG_EXT4_FS"),
    # ext4: init_ext4_fs()
    C("extent_status", "guess", "RECLAIM_ACCOUNT", "ext4_init_es", "fs/ext4/extents_status.c",
      "device_initcall", align=8, config="CONFIG_EXT4_FS"),
    C("pending_reservation", 32, "RECLAIM_ACCOUNT", "ext4_init_pending",
      "fs/ext4/extents_status.c", "device_initcall", align=8, config="CONFIG_EXT4_FS",
      note="sizeof(struct pending_reservation): rb_node (24), lclu"),
    C("ext4_system_zone", 40, "", "ext4_init_system_zone", "fs/ext4/block_validity.c",
      "device_initcall", config="CONFIG_EXT4_FS",
      note="sizeof(struct ext4_system_zone): rb_node (24), start_blk, count, ino"),
    C("ext4_io_end", "guess", "RECLAIM_ACCOUNT", "ext4_init_pageio", "fs/ext4/page-io.c",
      "device_initcall", config="CONFIG_EXT4_FS"),
    C("ext4_io_end_vec", 32, "", "ext4_init_pageio", "fs/ext4/page-io.c",
      "device_initcall", config="CONFIG_EXT4_FS",
      note="sizeof(struct ext4_io_end_vec): list, offset, size"),
    C("bio_post_read_ctx", "sysfs", "RECLAIM_ACCOUNT", "ext4_init_post_read_processing",
      "fs/ext4/readpage.c", "device_initcall", config="CONFIG_EXT4_FS",
      note="the only creator of its merged directory"),
    C("ext4_prealloc_space", "guess", "RECLAIM_ACCOUNT", "ext4_init_mballoc",
      "fs/ext4/mballoc.c", "device_initcall", config="CONFIG_EXT4_FS"),
    C("ext4_allocation_context", "guess", "RECLAIM_ACCOUNT", "ext4_init_mballoc",
      "fs/ext4/mballoc.c", "device_initcall", config="CONFIG_EXT4_FS"),
    C("ext4_free_data", "guess", "RECLAIM_ACCOUNT", "ext4_init_mballoc", "fs/ext4/mballoc.c",
      "device_initcall", config="CONFIG_EXT4_FS"),
    C("ext4_fc_dentry_update", "guess", "RECLAIM_ACCOUNT", "ext4_fc_init_dentry_cache",
      "fs/ext4/fast_commit.c", "device_initcall", config="CONFIG_EXT4_FS"),
    C("ext4_inode_cache", "trace", "RECLAIM_ACCOUNT|ACCOUNT", "init_inodecache",
      "fs/ext4/super.c", "device_initcall", ctor="init_once", config="CONFIG_EXT4_FS"),
    C("ext4_groupinfo_4k", "guess", "RECLAIM_ACCOUNT", "ext4_groupinfo_create_slab",
      "fs/ext4/mballoc.c", "after_boot", config="CONFIG_EXT4_FS",
      note="created when the first ext4 file system with 4k blocks is mounted"),
    # jbd2: journal_init()
    C("jbd2_revoke_record_s", 32, "HWCACHE_ALIGN|RECLAIM_ACCOUNT",
      "jbd2_journal_init_revoke_record_cache", "fs/jbd2/revoke.c", "device_initcall",
      config="CONFIG_JBD2",
      note="sizeof(struct jbd2_revoke_record_s): hash (16), sequence, blocknr"),
    C("jbd2_revoke_table_s", "sysfs", "RECLAIM_ACCOUNT", "jbd2_journal_init_revoke_table_cache",
      "fs/jbd2/revoke.c", "device_initcall", config="CONFIG_JBD2",
      note="the only creator of its merged directory"),
    C("jbd2_journal_handle", "guess", "RECLAIM_ACCOUNT", "jbd2_journal_init_handle_cache",
      "fs/jbd2/journal.c", "device_initcall", config="CONFIG_JBD2"),
    C("jbd2_inode", "guess", "", "jbd2_journal_init_inode_cache", "fs/jbd2/journal.c",
      "device_initcall", config="CONFIG_JBD2"),
    C("jbd2_transaction_s", "guess", "RECLAIM_ACCOUNT", "jbd2_journal_init_transaction_cache",
      "fs/jbd2/transaction.c", "device_initcall", config="CONFIG_JBD2"),
    # xfs: init_xfs_fs() -> xfs_init_caches(), read in an xfs_super.c of 2024: buf, log_ticket,
    # the btree cursors, the defer items, da_state, ifork, trans, buf_item, efd, efi, inode,
    # ili, icr, rud, rui, cud, cui, bud, bui, attrd, attri, iul (6.18 adds xmd, xmi)
    C("xfs_buf", "sysfs", "HWCACHE_ALIGN|RECLAIM_ACCOUNT", "xfs_init_caches", "fs/xfs/xfs_super.c",
      "device_initcall", config="CONFIG_XFS_FS", note="the only creator of its merged directory",
      read=True),
    C("xfs_log_ticket", "guess", "", "xfs_init_caches", "fs/xfs/xfs_super.c", "device_initcall",
      config="CONFIG_XFS_FS", read=True),
    C("xfs_bnobt_cur", "guess", "", "xfs_allocbt_init_cur_cache", "fs/xfs/libxfs/xfs_alloc_btree.c",
      "device_initcall", config="CONFIG_XFS_FS"),
    C("xfs_inobt_cur", "guess", "", "xfs_inobt_init_cur_cache", "fs/xfs/libxfs/xfs_ialloc_btree.c",
      "device_initcall", config="CONFIG_XFS_FS"),
    C("xfs_bmbt_cur", "guess", "", "xfs_bmbt_init_cur_cache", "fs/xfs/libxfs/xfs_bmap_btree.c",
      "device_initcall", config="CONFIG_XFS_FS"),
    C("xfs_rmapbt_cur", "guess", "", "xfs_rmapbt_init_cur_cache", "fs/xfs/libxfs/xfs_rmap_btree.c",
      "device_initcall", config="CONFIG_XFS_FS"),
    C("xfs_refcbt_cur", "guess", "", "xfs_refcountbt_init_cur_cache",
      "fs/xfs/libxfs/xfs_refcount_btree.c", "device_initcall", config="CONFIG_XFS_FS"),
    C("xfs_rtrmapbt_cur", "sysfs", "", "xfs_rtrmapbt_init_cur_cache",
      "fs/xfs/libxfs/xfs_rtrmap_btree.c", "device_initcall", config="CONFIG_XFS_FS",
      note="the only creator of its merged directory"),
    C("xfs_rtrefcountbt_cur", "guess", "", "xfs_rtrefcountbt_init_cur_cache",
      "fs/xfs/libxfs/xfs_rtrefcount_btree.c", "device_initcall", config="CONFIG_XFS_FS"),
    C("xfs_defer_pending", "guess", "", "xfs_defer_init_cache", "fs/xfs/libxfs/xfs_defer.c",
      "device_initcall", config="CONFIG_XFS_FS"),
    C("xfs_bmap_intent", "guess", "", "xfs_defer_init_item_caches", "fs/xfs/libxfs/xfs_defer.c",
      "device_initcall", config="CONFIG_XFS_FS"),
    C("xfs_extfree_intent", "guess", "", "xfs_defer_init_item_caches",
      "fs/xfs/libxfs/xfs_defer.c", "device_initcall", config="CONFIG_XFS_FS"),
    C("xfs_rmap_intent", "guess", "", "xfs_defer_init_item_caches", "fs/xfs/libxfs/xfs_defer.c",
      "device_initcall", config="CONFIG_XFS_FS"),
    C("xfs_refc_intent", "guess", "", "xfs_defer_init_item_caches", "fs/xfs/libxfs/xfs_defer.c",
      "device_initcall", config="CONFIG_XFS_FS"),
    C("xfs_attr_intent", "guess", "", "xfs_defer_init_item_caches", "fs/xfs/libxfs/xfs_defer.c",
      "device_initcall", config="CONFIG_XFS_FS"),
    C("xfs_exchmaps_intent", "guess", "", "xfs_defer_init_item_caches",
      "fs/xfs/libxfs/xfs_defer.c", "device_initcall", config="CONFIG_XFS_FS"),
    C("xfs_da_state", "guess", "", "xfs_init_caches", "fs/xfs/xfs_super.c", "device_initcall",
      config="CONFIG_XFS_FS", read=True),
    C("xfs_ifork", "guess", "", "xfs_init_caches", "fs/xfs/xfs_super.c", "device_initcall",
      config="CONFIG_XFS_FS", read=True),
    C("xfs_trans", "guess", "", "xfs_init_caches", "fs/xfs/xfs_super.c", "device_initcall",
      config="CONFIG_XFS_FS", read=True),
    C("xfs_buf_item", "sysfs", "", "xfs_init_caches", "fs/xfs/xfs_super.c", "device_initcall",
      config="CONFIG_XFS_FS", note="the only creator of its merged directory", read=True),
    C("xfs_efd_item", "sysfs", "", "xfs_init_caches", "fs/xfs/xfs_super.c", "device_initcall",
      config="CONFIG_XFS_FS", note="the only creator of its merged directory", read=True),
    C("xfs_efi_item", "guess", "", "xfs_init_caches", "fs/xfs/xfs_super.c", "device_initcall",
      config="CONFIG_XFS_FS", read=True),
    C("xfs_inode", "guess", "HWCACHE_ALIGN|RECLAIM_ACCOUNT|ACCOUNT", "xfs_init_caches",
      "fs/xfs/xfs_super.c", "device_initcall", ctor="xfs_fs_inode_init_once",
      config="CONFIG_XFS_FS", read=True),
    C("xfs_ili", "guess", "RECLAIM_ACCOUNT", "xfs_init_caches", "fs/xfs/xfs_super.c",
      "device_initcall", config="CONFIG_XFS_FS", read=True),
    C("xfs_icr", "guess", "", "xfs_init_caches", "fs/xfs/xfs_super.c", "device_initcall",
      config="CONFIG_XFS_FS", read=True),
    C("xfs_rud_item", "guess", "", "xfs_init_caches", "fs/xfs/xfs_super.c", "device_initcall",
      config="CONFIG_XFS_FS", read=True),
    C("xfs_rui_item", "sysfs", "", "xfs_init_caches", "fs/xfs/xfs_super.c", "device_initcall",
      config="CONFIG_XFS_FS", note="the only creator of its merged directory", read=True),
    C("xfs_cud_item", "guess", "", "xfs_init_caches", "fs/xfs/xfs_super.c", "device_initcall",
      config="CONFIG_XFS_FS", read=True),
    C("xfs_cui_item", "guess", "", "xfs_init_caches", "fs/xfs/xfs_super.c", "device_initcall",
      config="CONFIG_XFS_FS", read=True),
    C("xfs_bud_item", "guess", "", "xfs_init_caches", "fs/xfs/xfs_super.c", "device_initcall",
      config="CONFIG_XFS_FS", read=True),
    C("xfs_bui_item", "guess", "", "xfs_init_caches", "fs/xfs/xfs_super.c", "device_initcall",
      config="CONFIG_XFS_FS", read=True),
    C("xfs_attrd_item", "guess", "", "xfs_init_caches", "fs/xfs/xfs_super.c", "device_initcall",
      config="CONFIG_XFS_FS", read=True),
    C("xfs_attri_item", "guess", "", "xfs_init_caches", "fs/xfs/xfs_super.c", "device_initcall",
      config="CONFIG_XFS_FS", read=True),
    C("xfs_iul_item", "guess", "", "xfs_init_caches", "fs/xfs/xfs_super.c", "device_initcall",
      config="CONFIG_XFS_FS", read=True),
    C("xfs_xmd_item", "guess", "", "xfs_init_caches", "fs/xfs/xfs_super.c", "device_initcall",
      config="CONFIG_XFS_FS"),
    C("xfs_xmi_item", "sysfs", "", "xfs_init_caches", "fs/xfs/xfs_super.c", "device_initcall",
      config="CONFIG_XFS_FS", note="the only creator of its merged directory"),
    C("xfs_parent_args", "guess", "", "xfs_init_caches", "fs/xfs/xfs_super.c", "device_initcall",
      config="CONFIG_XFS_FS"),
    # btrfs: init_btrfs_fs() runs mod_init_seq[]
    C("btrfs_trans_handle", "guess", "RECLAIM_ACCOUNT", "btrfs_transaction_init",
      "fs/btrfs/transaction.c", "device_initcall", config="CONFIG_BTRFS_FS"),
    C("btrfs_path", "guess", "", "btrfs_ctree_init", "fs/btrfs/ctree.c", "device_initcall",
      config="CONFIG_BTRFS_FS"),
    C("btrfs_free_space", "guess", "", "btrfs_free_space_init", "fs/btrfs/free-space-cache.c",
      "device_initcall", config="CONFIG_BTRFS_FS"),
    C("btrfs_free_space_bitmap", 4096, "", "btrfs_free_space_init",
      "fs/btrfs/free-space-cache.c", "device_initcall", align=4096, config="CONFIG_BTRFS_FS",
      note="PAGE_SIZE objects aligned to PAGE_SIZE"),
    C("btrfs_extent_state", "guess", "", "extent_state_init_cachep", "fs/btrfs/extent-io-tree.c",
      "device_initcall", config="CONFIG_BTRFS_FS"),
    C("btrfs_extent_buffer", "sysfs", "", "extent_buffer_init_cachep", "fs/btrfs/extent_io.c",
      "device_initcall", config="CONFIG_BTRFS_FS", note="the only creator of its merged directory"),
    C("btrfs_extent_map", "guess", "", "btrfs_extent_map_init", "fs/btrfs/extent_map.c",
      "device_initcall", config="CONFIG_BTRFS_FS"),
    C("btrfs_ordered_extent", "guess", "", "ordered_data_init", "fs/btrfs/ordered-data.c",
      "device_initcall", config="CONFIG_BTRFS_FS"),
    C("btrfs_delayed_node", "guess", "", "btrfs_delayed_inode_init", "fs/btrfs/delayed-inode.c",
      "device_initcall", config="CONFIG_BTRFS_FS"),
    C("btrfs_inode_defrag", "guess", "", "btrfs_auto_defrag_init", "fs/btrfs/defrag.c",
      "device_initcall", config="CONFIG_BTRFS_FS"),
    C("btrfs_delayed_ref_head", "guess", "", "btrfs_delayed_ref_init", "fs/btrfs/delayed-ref.c",
      "device_initcall", config="CONFIG_BTRFS_FS"),
    C("btrfs_delayed_ref_node", "guess", "", "btrfs_delayed_ref_init", "fs/btrfs/delayed-ref.c",
      "device_initcall", config="CONFIG_BTRFS_FS"),
    C("btrfs_delayed_extent_op", "guess", "", "btrfs_delayed_ref_init", "fs/btrfs/delayed-ref.c",
      "device_initcall", config="CONFIG_BTRFS_FS"),
    C("btrfs_prelim_ref", "guess", "", "btrfs_prelim_ref_init", "fs/btrfs/backref.c",
      "device_initcall", config="CONFIG_BTRFS_FS"),
    # fuse, erofs
    C("fuse_request", "guess", "", "fuse_dev_init", "fs/fuse/dev.c", "device_initcall",
      config="CONFIG_FUSE_FS"),
    C("erofs_pcluster-1", "guess", "RECLAIM_ACCOUNT", "z_erofs_create_pcluster_pool",
      "fs/erofs/zdata.c", "device_initcall", config="CONFIG_EROFS_FS CONFIG_EROFS_FS_ZIP"),
    C("erofs_pcluster-4", "guess", "RECLAIM_ACCOUNT", "z_erofs_create_pcluster_pool",
      "fs/erofs/zdata.c", "device_initcall", config="CONFIG_EROFS_FS CONFIG_EROFS_FS_ZIP"),
    C("erofs_pcluster-16", "guess", "RECLAIM_ACCOUNT", "z_erofs_create_pcluster_pool",
      "fs/erofs/zdata.c", "device_initcall", config="CONFIG_EROFS_FS CONFIG_EROFS_FS_ZIP"),
    C("erofs_pcluster-64", "guess", "RECLAIM_ACCOUNT", "z_erofs_create_pcluster_pool",
      "fs/erofs/zdata.c", "device_initcall", config="CONFIG_EROFS_FS CONFIG_EROFS_FS_ZIP"),
    C("erofs_pcluster-128", "guess", "RECLAIM_ACCOUNT", "z_erofs_create_pcluster_pool",
      "fs/erofs/zdata.c", "device_initcall", config="CONFIG_EROFS_FS CONFIG_EROFS_FS_ZIP"),
    C("erofs_pcluster-257", "sysfs", "RECLAIM_ACCOUNT", "z_erofs_create_pcluster_pool",
      "fs/erofs/zdata.c", "device_initcall", config="CONFIG_EROFS_FS CONFIG_EROFS_FS_ZIP",
      note="the only creator of its merged directory"),
    C("fscrypt_inode_info", "sysfs", "RECLAIM_ACCOUNT", "fscrypt_init", "fs/crypto/crypto.c",
      "late_initcall", align=8, config="CONFIG_FS_ENCRYPTION",
      note="the only creator of its merged directory"),
    # block: io schedulers
    C("bfq_queue", "guess", "", "bfq_slab_setup", "block/bfq-iosched.c", "device_initcall",
      align=8, config="CONFIG_IOSCHED_BFQ"),
    C("bfq_io_cq", "guess", "", "elv_register", "block/elevator.c", "device_initcall",
      config="CONFIG_IOSCHED_BFQ"),
    C("io_kiocb", "sysfs", "HWCACHE_ALIGN|PANIC|ACCOUNT|TYPESAFE_BY_RCU", "io_uring_init",
      "io_uring/io_uring.c", "device_initcall", usersize="sysfs", config="CONFIG_IO_URING"),
    # drivers, kvm (arch/x86/kvm links before kernel/: arch order)
    C("kvm_async_pf", "guess", "", "kvm_async_pf_init", "virt/kvm/async_pf.c",
      "device_initcall", config="CONFIG_KVM"),
    C("kvm_mmu_page_header", "guess", "ACCOUNT", "kvm_mmu_vendor_module_init",
      "arch/x86/kvm/mmu/mmu.c", "device_initcall", config="CONFIG_KVM"),
    C("pte_list_desc", "guess", "ACCOUNT", "kvm_mmu_vendor_module_init", "arch/x86/kvm/mmu/mmu.c",
      "device_initcall", config="CONFIG_KVM"),
    C("x86_emulator", "sysfs", "ACCOUNT", "kvm_alloc_emulator_cache", "arch/x86/kvm/x86.c",
      "device_initcall", align=16, usersize="sysfs", config="CONFIG_KVM",
      note="align __alignof__(struct x86_emulate_ctxt)"),
    # net (device_initcall, after drivers/)
    C("net_bridge_fdb_entry", "guess", "HWCACHE_ALIGN", "br_fdb_init", "net/bridge/br_fdb.c",
      "device_initcall", config="CONFIG_BRIDGE"),
    C("nf_conntrack", "sysfs", "TYPESAFE_BY_RCU|HWCACHE_ALIGN", "nf_conntrack_init_start",
      "net/netfilter/nf_conntrack_core.c", "device_initcall", align=8,
      config="CONFIG_NF_CONNTRACK", note="align NFCT_INFOMASK + 1"),
    C("nf_conntrack_expect", "guess", "", "nf_conntrack_expect_init",
      "net/netfilter/nf_conntrack_expect.c", "device_initcall", config="CONFIG_NF_CONNTRACK"),
    C("nf_conncount_tuple", "guess", "", "nf_conncount_modinit", "net/netfilter/nf_conncount.c",
      "device_initcall", config="CONFIG_NETFILTER_XT_MATCH_CONNLIMIT"),
    C("nf_conncount_rb", "guess", "", "nf_conncount_modinit", "net/netfilter/nf_conncount.c",
      "device_initcall", config="CONFIG_NETFILTER_XT_MATCH_CONNLIMIT"),
    C("xt_hashlimit", "sysfs", "", "hashlimit_mt_init", "net/netfilter/xt_hashlimit.c",
      "device_initcall", config="CONFIG_NETFILTER_XT_MATCH_HASHLIMIT",
      note="the only creator of its merged directory"),
    C("TCPv6", "sysfs", "HWCACHE_ALIGN|ACCOUNT|TYPESAFE_BY_RCU", "proto_register",
      "net/ipv6/af_inet6.c", "device_initcall", config="CONFIG_IPV6",
      note="inet6_init(): proto_register(&tcpv6_prot, 1)"),
    C("request_sock_TCPv6", "sysfs", "ACCOUNT|TYPESAFE_BY_RCU", "req_prot_init",
      "net/ipv6/af_inet6.c", "device_initcall", config="CONFIG_IPV6"),
    C("tw_sock_TCPv6", "sysfs", "ACCOUNT|TYPESAFE_BY_RCU", "tw_prot_init", "net/ipv6/af_inet6.c",
      "device_initcall", config="CONFIG_IPV6"),
    C("UDPv6", "guess", "HWCACHE_ALIGN|ACCOUNT", "proto_register", "net/ipv6/af_inet6.c",
      "device_initcall", config="CONFIG_IPV6"),
    C("UDPLITEv6", "guess", "HWCACHE_ALIGN|ACCOUNT", "proto_register", "net/ipv6/af_inet6.c",
      "device_initcall", config="CONFIG_IPV6"),
    C("RAWv6", "sysfs", "HWCACHE_ALIGN|ACCOUNT", "proto_register", "net/ipv6/af_inet6.c",
      "device_initcall", usersize="sysfs", config="CONFIG_IPV6"),
    C("PINGv6", "guess", "HWCACHE_ALIGN|ACCOUNT", "proto_register", "net/ipv6/af_inet6.c",
      "device_initcall", config="CONFIG_IPV6"),
    C("request_sock_subflow_v6", "sysfs", "ACCOUNT|TYPESAFE_BY_RCU", "mptcp_subflow_init",
      "net/mptcp/subflow.c", "device_initcall", config="CONFIG_MPTCP_IPV6"),
    C("ip6_dst_cache", "guess", "HWCACHE_ALIGN|ACCOUNT", "ip6_route_init", "net/ipv6/route.c",
      "device_initcall", config="CONFIG_IPV6"),
    C("fib6_node", "guess", "HWCACHE_ALIGN|ACCOUNT", "fib6_init", "net/ipv6/ip6_fib.c",
      "device_initcall", config="CONFIG_IPV6"),
    C("ip6-frags", "guess", "HWCACHE_ALIGN", "inet_frags_init", "net/ipv6/reassembly.c",
      "device_initcall", config="CONFIG_IPV6"),
    C("mfc6_cache", "guess", "HWCACHE_ALIGN|PANIC", "ip6_mr_init", "net/ipv6/ip6mr.c",
      "device_initcall", config="CONFIG_IPV6_MROUTE"),
    C("nf-frags", "guess", "HWCACHE_ALIGN", "inet_frags_init",
      "net/ipv6/netfilter/nf_conntrack_reasm.c", "device_initcall",
      config="CONFIG_NF_DEFRAG_IPV6"),
    C("AF_VSOCK", "guess", "HWCACHE_ALIGN|ACCOUNT", "proto_register", "net/vmw_vsock/af_vsock.c",
      "device_initcall", config="CONFIG_VSOCKETS"),
    # the bio-N caches of the block layer's and file systems' biosets
    C("bio-264", "sysfs", "HWCACHE_ALIGN|TYPESAFE_BY_RCU", "bio_find_or_create_slab",
      "block/bio.c", "device_initcall", align=8, config="CONFIG_BLOCK"),
    C("bio-312", "sysfs", "HWCACHE_ALIGN|TYPESAFE_BY_RCU", "bio_find_or_create_slab",
      "block/bio.c", "after_boot", align=8, config="CONFIG_BLOCK",
      note="the newest caches of the captured /proc/slabinfo: a bioset made after boot "
      "(a mount); which one was not settled"),
    C("bio-376", "sysfs", "HWCACHE_ALIGN|TYPESAFE_BY_RCU", "bio_find_or_create_slab",
      "block/bio.c", "after_boot", align=8, config="CONFIG_BLOCK",
      note="the newest caches of the captured /proc/slabinfo: a bioset made after boot "
      "(a mount); which one was not settled"),
    C("bio-448", "sysfs", "HWCACHE_ALIGN|TYPESAFE_BY_RCU", "bio_find_or_create_slab",
      "block/bio.c", "after_boot", align=8, config="CONFIG_BLOCK",
      note="the newest caches of the captured /proc/slabinfo: a bioset made after boot "
      "(a mount); which one was not settled"),
]
# fmt: on


# ---------------------------------------------------------------------- captured data
def _trace_sizes(data_dir: Path) -> dict[str, int]:
    """bytes_req of each cache name's kmem_cache_alloc events in the shared traces."""
    pat = re.compile(r"kmem_cache_alloc: .*?name=(\S+) bytes_req=(\d+)")
    sizes: dict[str, int] = {}
    for path in sorted(data_dir.glob("trace-*.txt.xz")):
        with lzma.open(path, "rt") as fh:
            for line in fh:
                if "kmem_cache_alloc:" in line:
                    m = pat.search(line)
                    if m:
                        sizes[m.group(1)] = max(sizes.get(m.group(1), 0), int(m.group(2)))
    return sizes


def _kconfig(data_dir: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in (data_dir / "kernel-config.txt").read_text().splitlines():
        if line.startswith("CONFIG_") and "=" in line:
            key, _, value = line.partition("=")
            values[key] = value
        elif line.startswith("# CONFIG_") and line.endswith(" is not set"):
            values[line[2:].split()[0]] = "n"
    return values


def build(data_dir: Path) -> dict[str, Any]:
    dirs = {e["name"]: e for e in json.loads((data_dir / "slab_caches.json").read_text())}
    aliases: dict[str, str] = json.loads((data_dir / "slab_aliases.json").read_text())
    members: dict[str, list[str]] = {}
    for name, target in aliases.items():
        members.setdefault(target, []).append(name)
    traced = _trace_sizes(data_dir)
    kconfig = _kconfig(data_dir)

    def own_dir(name: str) -> dict[str, Any] | None:
        """The directory of a cache nothing else merged with: its object_size is its size."""
        if name in dirs and name not in aliases:
            return dirs[name]
        target = aliases.get(name)
        if target in dirs and members.get(target) == [name]:
            return dirs[target]
        return None

    caches: list[dict[str, Any]] = []
    not_modelled: list[dict[str, Any]] = []
    for row in CALL_SITES:
        e = {k: v for k, v in row.items() if k != "read"}
        e["checked"] = "read" if row["read"] else "written from the 6.18 source as known"
        guessed: list[str] = []
        name = e["name"]
        size = e["size"]
        if e.get("kind") == "kmem_buckets":
            e["size"], e["size_from"] = None, "source"
        elif isinstance(size, int):
            e["size_from"] = "source"
        elif size == "sysfs":
            d = own_dir(name)
            if d is None:
                raise SystemExit(f"{name}: no directory of its own in slab_caches.json")
            e["size"], e["size_from"] = int(d["object_size"]), "sysfs"
        elif size == "trace":
            if name not in traced:
                raise SystemExit(f"{name}: no kmem_cache_alloc event in the traces")
            e["size"], e["size_from"] = traced[name], "trace"
        else:
            guess = None
            how = ""
            if name in traced:
                guess, how = traced[name], "bytes_req of its kmem_cache_alloc events"
            elif aliases.get(name) in dirs:
                guess = int(dirs[aliases[name]]["object_size"])
                how = "object_size of the directory it was merged into (its largest creator)"
            elif name == "kmem_cache_node":
                guess, how = 72, "counted from struct kmem_cache_node"
            elif name == "kmem_cache":
                guess, how = 232, "counted from struct kmem_cache"
            if guess is None:
                not_modelled.append(
                    {
                        "name": name,
                        "creator": e["creator"],
                        "file": e["file"],
                        "why": "the struct size was not computed and no captured datum gives it",
                    }
                )
                continue
            e["size"], e["size_from"] = guess, f"guess: {how}"
            guessed.append("size")
        if e["usersize"] == "sysfs":
            d = own_dir(name)
            if d is None:
                raise SystemExit(f"{name}: usersize from sysfs needs its own directory")
            e["usersize"] = int(d["usersize"])
        if e["phase"] in INITCALL_LEVELS:
            guessed.append("order")
        e["guessed"] = bool(guessed)
        if guessed:
            e["guessed_what"] = guessed
        caches.append(e)

    def rank(e: dict[str, Any]) -> tuple[int, int]:
        phase = PHASES.index(e["phase"])
        if e["phase"] not in INITCALL_LEVELS:
            return phase, 0
        link = next((i for i, d in enumerate(LINK_ORDER) if e["file"].startswith(d)), 10)
        if e["file"].startswith("virt/"):
            link = LINK_ORDER.index("net/") + 1
        return phase, link

    order = sorted(range(len(caches)), key=lambda i: (*rank(caches[i]), i))
    symbols = sorted({c for e in caches for c in e["config"]} | {"CONFIG_NET"})
    return {
        "kernel": "Linux 6.18 x86_64",
        "source": "the kmem_cache_create() call sites of Linux 6.18 (tools/slab_profile.py "
        "CALL_SITES); object sizes the source does not state from slab_caches.json (own "
        "directories) and the traces (unmergeable caches); see size_from per entry",
        "phases": list(PHASES),
        "kconfig": {s: kconfig.get(s, "n") for s in symbols},
        "caches": [caches[i] for i in order],
        "not_modelled": not_modelled,
    }


def check(built: dict[str, Any]) -> list[str]:
    """Rule violations of a built profile (empty when it keeps the rules)."""
    problems = []
    for e in built["caches"]:
        for key in ("slab_size", "order", "objs_per_slab", "objects"):
            if key in e:
                problems.append(f"{e['name']}: carries {key}, a result")
        if "unique id" in str(e.get("size_from", "")):
            problems.append(f"{e['name']}: size read off a unique id")
    return problems


def main(argv: list[str]) -> int:
    check_only = "--check" in argv
    args = [a for a in argv if not a.startswith("--")]
    data_dir = Path(args[0]) if args else DEFAULT_DATA
    built = build(data_dir)
    problems = check(built)
    text = json.dumps(built, indent=1) + "\n"
    if check_only:
        if OUT.read_text() != text:
            problems.append(f"{OUT} is not what tools/slab_profile.py builds: run it")
        for p in problems:
            print(p)
        return 1 if problems else 0
    if problems:
        for p in problems:
            print(p)
        return 1
    OUT.write_text(text)
    n = len(built["caches"])
    g = sum(1 for e in built["caches"] if e["guessed"])
    print(
        f"wrote {OUT}: {n} caches ({g} with a guessed value), "
        f"{len(built['not_modelled'])} not modelled"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
