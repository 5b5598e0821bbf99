"""Model of kernel/fork.c for kernel threads (their memory), and the threads 6.18 starts at boot.

copy_process() of a kernel thread takes, in the order dup_task_struct() and
its helpers take them:

- a task_struct from task_struct_cachep (fork_init()'s "task_struct" cache);
- its stack, alloc_thread_stack_node(): with CONFIG_VMAP_STACK THREAD_SIZE
  (16 KiB on x86_64 without KASAN) from __vmalloc_node_range(), aligned to
  THREAD_ALIGN, THREADINFO_GFP (GFP_KERNEL_ACCOUNT | __GFP_ZERO), so 4 pages
  and the page tables the vmalloc area needs to map them (the per-CPU cache
  of freed stacks is empty at boot);
- a struct kthread (set_kthread_struct(), kzalloc) for a kernel thread;
- creds: copy_creds() prepares new ones (cred_jar) unless CLONE_THREAD;
- a sighand_struct (sighand_cachep) unless CLONE_SIGHAND, a signal_struct
  (signal_cachep) unless CLONE_THREAD: kthreadd's children pass
  CLONE_FS | CLONE_FILES only, so each kernel thread has its own;
- files_struct (files_cachep) unless CLONE_FILES: only init (pid 1);
- a struct pid (alloc_pid(), pid_cachep) except for the idle threads, which
  share init_struct_pid.

Workqueue workers also get their struct worker (alloc_worker(), kzalloc_node),
kthread workers their struct kthread_worker.

boot_kernel_threads() creates the threads 6.18 has running when
page_alloc_init_late() prints the "Memory:" line, each from the code that
starts it (the source function is given per entry of BOOT_THREADS): rest_init()'s
init and kthreadd; workqueue_init()'s pool_workqueue_release, the rescuers of
the WQ_MEM_RECLAIM workqueues created so far and the first workers of the
online CPU's pools and of the unbound pool; rcu_init_tasks_generic()'s Tasks
RCU threads; the early_initcalls' ksoftirqd, rcu_preempt (rcu_sched without
PREEMPT_RCU), the expedited-GP kthread workers (one per leaf rcu_node:
RCU_FANOUT_LEAF CPUs each) and migration threads; smp_init()'s cpuhp threads,
idle threads and, as each further CPU comes online, its per-CPU threads and
workers.

Where a profile records no boot caches (the generic profiles), the caches
above do not exist in the model and the threads take their stacks and
kmalloc'd parts only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kmemsim.include.linux.gfp_types import GFP, GFP_KERNEL, GFP_KERNEL_ACCOUNT

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

THREAD_SIZE = 16 << 10  # arch/x86/include/asm/page_64_types.h: PAGE_SIZE << 2 (no KASAN)
THREAD_ALIGN = THREAD_SIZE
# sizeof() on the 6.18 x86_64 build, for the kzalloc()ed parts (include/linux,
# kernel/kthread.c, kernel/workqueue.c): struct kthread with its completions,
# blkcg_css and preferred_affinity; struct worker with its 32-byte description;
# struct kthread_worker.
# The stack's caller as /proc/vmallocinfo prints it (%pS of __builtin_return_address(0)):
# alloc_thread_stack_node() is inlined into kernel_clone(), or into fork_idle(). The
# offsets are the captured 6.18 build's (proc-vmallocinfo.txt); other builds differ.
STACK_CALLER = "kernel_clone+0x94/0x3e0"
STACK_CALLER_IDLE = "fork_idle+0x74/0x120"
SIZEOF_KTHREAD = 152
SIZEOF_WORKER = 176
SIZEOF_KTHREAD_WORKER = 96


@dataclass(frozen=True, slots=True)
class BootThread:
    """One kernel thread (or one per CPU) started before page_alloc_init_late()."""

    name: str  # as ps shows it; {cpu} for per-CPU threads
    source: str  # the kernel function that starts it
    per_cpu: bool = False
    own_files: bool = False  # no CLONE_FILES (init)
    worker: int = 0  # sizeof the kzalloc()ed worker struct that comes with it
    idle: bool = False  # fork_idle(): no struct pid, only for CPUs other than 0
    config: str = ""  # the Kconfig option it needs


# The WQ_MEM_RECLAIM workqueues that exist when workqueue_init() creates rescuers
# (rcu_init(), kvfree_rcu_init(), kmem_cache_init_late(), net_ns_init(), ...),
# and mm_percpu_wq, created right after it by init_mm_internals().
MEM_RECLAIM_WQS_AT_BOOT = (
    "rcu_gp",
    "sync_wq",
    "kvfree_rcu_reclaim",
    "slub_flushwq",
    "netns",
    "mm_percpu_wq",
)

BOOT_THREADS: tuple[BootThread, ...] = (
    BootThread("init", "rest_init", own_files=True),
    BootThread("kthreadd", "rest_init"),
    BootThread("pool_workqueue_release", "workqueue_init", worker=SIZEOF_KTHREAD_WORKER),
    *(
        BootThread(f"kworker/R-{wq}", "workqueue_init", worker=SIZEOF_WORKER)
        for wq in MEM_RECLAIM_WQS_AT_BOOT
    ),
    BootThread("kworker/{cpu}:0", "workqueue_init", per_cpu=True, worker=SIZEOF_WORKER),
    BootThread("kworker/{cpu}:0H", "workqueue_init", per_cpu=True, worker=SIZEOF_WORKER),
    BootThread("kworker/u:0", "workqueue_init", worker=SIZEOF_WORKER),
    BootThread("rcu_tasks_kthread", "rcu_init_tasks_generic", config="TASKS_RCU"),
    BootThread("rcu_tasks_rude_kthread", "rcu_init_tasks_generic", config="TASKS_RUDE_RCU"),
    BootThread("rcu_tasks_trace_kthread", "rcu_init_tasks_generic", config="TASKS_TRACE_RCU"),
    BootThread("ksoftirqd/{cpu}", "spawn_ksoftirqd", per_cpu=True),
    BootThread("rcu_preempt", "rcu_spawn_gp_kthread"),
    BootThread("rcu_exp_gp_kthread_worker", "rcu_start_exp_gp_kworkers", worker=96),
    BootThread("migration/{cpu}", "cpu_stop_init", per_cpu=True),
    BootThread("cpuhp/{cpu}", "cpuhp_threads_init", per_cpu=True),
    BootThread("idle_inject/{cpu}", "idle_inject_init", per_cpu=True, config="IDLE_INJECT"),
    BootThread("swapper/{cpu}", "idle_threads_init", per_cpu=True, idle=True),
)
RCU_FANOUT_LEAF = 16


def boot_thread_names(k: Kernel) -> list[str]:
    """The threads boot_kernel_threads() starts on this machine, in order."""
    cpus = int(k.machine.cpus)
    names: list[str] = []
    for t in BOOT_THREADS:
        if t.config and not k.config[t.config]:
            continue
        if t.per_cpu:
            names += [t.name.format(cpu=c) for c in range(1 if t.idle else 0, cpus)]
        else:
            names.append(t.name)
        if t.name == "rcu_exp_gp_kthread_worker":
            leaves = -(-cpus // RCU_FANOUT_LEAF)
            names += [f"rcu_exp_par_gp_kthread_worker/{n}" for n in range(leaves)]
    return names


class BootTask:
    """What one kernel thread holds: its stack and its objects, to give back if it exits."""

    __slots__ = ("name", "objects", "stack")

    def __init__(self, name: str) -> None:
        self.name = name
        self.stack = 0
        self.objects: list[tuple[str, int]] = []


def _cache_alloc(k: Kernel, task: BootTask, cache: str, gfp: int) -> None:
    s = k.slab.find_cache(cache)
    if s is None:  # a profile without fork_init()'s caches
        return
    obj = k.kmem_cache_alloc(s, gfp)
    if obj:
        task.objects.append((cache, obj))


def _kzalloc(k: Kernel, task: BootTask, size: int) -> None:
    obj = k.kmalloc(size, int(GFP_KERNEL | GFP.ZERO))
    if obj:
        task.objects.append(("kmalloc", obj))


def copy_process_kthread(
    k: Kernel, name: str, *, own_files: bool = False, idle: bool = False, worker: int = 0
) -> BootTask:
    """copy_process() of a kernel thread: its task_struct, stack, creds, signal state, pid."""
    task = BootTask(name)
    account = int(GFP_KERNEL_ACCOUNT)
    _cache_alloc(k, task, "task_struct", account)  # dup_task_struct(): alloc_task_struct_node()
    va = k.vmalloc_area
    task.stack = va.vmalloc_node_range(  # alloc_thread_stack_node()
        THREAD_SIZE,
        THREAD_ALIGN,
        0,
        0,
        int(GFP_KERNEL | GFP.ZERO),
        0,
        STACK_CALLER_IDLE if idle else STACK_CALLER,
    )
    _kzalloc(k, task, SIZEOF_KTHREAD)  # set_kthread_struct()
    _cache_alloc(k, task, "cred", account)  # copy_creds() -> prepare_creds()
    if own_files:
        _cache_alloc(k, task, "files_cache", account)  # copy_files() -> dup_fd()
    _cache_alloc(k, task, "sighand_cache", account)  # copy_sighand()
    _cache_alloc(k, task, "signal_cache", account)  # copy_signal()
    if not idle:
        _cache_alloc(k, task, "pid", account)  # alloc_pid()
    if worker:
        _kzalloc(k, task, worker)  # alloc_worker(), kthread_create_worker()
    return task


def boot_kernel_threads(k: Kernel) -> list[BootTask]:
    """The kernel threads running when page_alloc_init_late() runs, made as copy_process() does."""
    cpus = int(k.machine.cpus)
    tasks: list[BootTask] = []
    for t in BOOT_THREADS:
        if t.config and not k.config[t.config]:
            continue
        if t.per_cpu:
            for c in range(1 if t.idle else 0, cpus):
                tasks.append(
                    copy_process_kthread(k, t.name.format(cpu=c), idle=t.idle, worker=t.worker)
                )
        else:
            tasks.append(copy_process_kthread(k, t.name, own_files=t.own_files, worker=t.worker))
        if t.name == "rcu_exp_gp_kthread_worker":
            for n in range(-(-cpus // RCU_FANOUT_LEAF)):
                tasks.append(
                    copy_process_kthread(
                        k, f"rcu_exp_par_gp_kthread_worker/{n}", worker=SIZEOF_KTHREAD_WORKER
                    )
                )
    k.boot_tasks = tasks
    return tasks
