"""Model of kernel/trace/trace_events.c's trace_event_init() (start_kernel()'s trace_init()).

trace_event_init() runs before the "Memory:" line and takes, for every
trace event built into the image (the __start_ftrace_events table):

- event_trace_memsetup(): the caches ftrace_event_field (field_cachep) and
  trace_event_file (file_cachep), both KMEM_CACHE(..., SLAB_PANIC);
- init_ftrace_syscalls() (CONFIG_FTRACE_SYSCALLS): syscalls_metadata, a
  kcalloc(NR_syscalls, sizeof(pointer));
- event_trace_enable(): per event, __trace_early_add_new_event() on the
  global trace array: a struct trace_event_file (trace_create_new_event(),
  kmem_cache_alloc(file_cachep, GFP_TRACE)), and the event's fields
  (event_define_fields()): one struct ftrace_event_field per field of the
  event's class, defined once per class (DEFINE_EVENT shares its class's
  fields; each syscall event has its own);
- event_trace_init_fields(): the generic fields (CPU, cpu, common_cpu, COMM,
  comm, stacktrace, STACKTRACE: trace_define_generic_fields()) and the four
  common ones (common_type, common_flags, common_preempt_count, common_pid).

The kernel takes each event's file and then its class's fields, event by event;
the model, which knows the totals and not which events share a class, takes the
files and then the fields: the same slabs, the objects in another order.

How many events and class fields an image has is a property of its build:
the profile's [kernel] trace_events and trace_event_fields. A tracing
instance made later (mkdir /sys/kernel/tracing/instances/NAME) takes another
trace_event_file per event; that is not modelled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.include.linux.gfp_types import GFP, GFP_KERNEL

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

GFP_TRACE = int(GFP_KERNEL | GFP.ZERO)  # kernel/trace/trace_events.c
# trace_define_generic_fields() and trace_define_common_fields().
GENERIC_FIELDS = ("CPU", "cpu", "common_cpu", "COMM", "comm", "stacktrace", "STACKTRACE")
COMMON_FIELDS = ("common_type", "common_flags", "common_preempt_count", "common_pid")
# NR_syscalls of 6.18 x86_64 (arch/x86/entry/syscalls/syscall_64.tbl ends at 469,
# file_setattr); the other architectures' tables are not modelled.
NR_SYSCALLS = {"x86_64": 470}


def trace_event_init(k: Kernel) -> tuple[int, int]:
    """trace_event_init(): the global array's event files and every class's fields.

    Returns (trace_event_file objects, ftrace_event_field objects) allocated."""
    img = k.machine.kernel_image
    if not k.config["TRACING"] or not img.trace_events:
        return 0, 0
    from kmemsim.mm.slab_boot import kmem_cache_create_known

    field_cachep = kmem_cache_create_known(k, "ftrace_event_field")
    file_cachep = kmem_cache_create_known(k, "trace_event_file")
    if field_cachep is None or file_cachep is None:
        return 0, 0
    nr_syscalls = NR_SYSCALLS.get(k.machine.arch, 0)
    if nr_syscalls:  # init_ftrace_syscalls(): syscalls_metadata
        k.kcalloc(nr_syscalls, k.arch.bits // 8, int(GFP_KERNEL))
    files = fields = 0
    for _ in range(int(img.trace_events)):
        if k.kmem_cache_alloc(file_cachep, GFP_TRACE):
            files += 1
    for _ in range(int(img.trace_event_fields) + len(GENERIC_FIELDS) + len(COMMON_FIELDS)):
        if k.kmem_cache_alloc(field_cachep, GFP_TRACE):
            fields += 1
    return files, fields
