"""Model of kernel/trace/trace.c's tracer_alloc_buffers() (early_trace_init()): its boot memory.

With CONFIG_TRACING, start_kernel() calls early_trace_init(), whose
tracer_alloc_buffers() takes, before any tracing is asked for:

- temp_buffer, the ring buffer of event triggers: ring_buffer_alloc(PAGE_SIZE);
- the saved command lines (trace_create_savedcmd(), kernel/trace/
  trace_sched_switch.c: allocate_cmdlines_buffer(SAVED_CMDLINES_DEFAULT)): one
  alloc_pages() block of get_order(sizeof(struct saved_cmdlines_buffer) +
  128 * (TASK_COMM_LEN + sizeof(int))) pages; the struct holds
  map_pid_to_cmdline[PID_MAX_DEFAULT + 1], so the block is order 6 (256 KiB);
- the global trace array's ring buffer, allocate_trace_buffers(&global_trace, 1)
  (ring_buffer_expanded is false until tracing is used), and with
  CONFIG_TRACER_MAX_TRACE its max (snapshot) buffer of the same size.

A ring buffer of `size` bytes has, per CPU, DIV_ROUND_UP(size, the sub-buffer
size) pages but at least two, plus the reader page, each one page from
alloc_pages_node() with its struct buffer_page kzalloc'ed
(rb_allocate_cpu_buffer(), __rb_allocate_pages()). ring_buffer_alloc() fills
the boot CPU's buffer; trace_rb_cpu_prepare() (CPUHP_TRACE_RB_PREPARE) those of
the CPUs smp_init() brings up, so by the Memory: line every CPU has its pages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.include.linux.gfp_types import GFP, GFP_KERNEL

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

PID_MAX_DEFAULT = 0x8000
TASK_COMM_LEN = 16
SAVED_CMDLINES_DEFAULT = 128
# struct saved_cmdlines_buffer: unsigned map_pid_to_cmdline[PID_MAX_DEFAULT + 1], then
# a pointer (8-aligned), cmdline_num and cmdline_idx, then saved_cmdlines[].
SIZEOF_SAVED_CMDLINES_BUFFER = -(-(PID_MAX_DEFAULT + 1) * 4 // 8) * 8 + 8 + 4 + 4
# struct buffer_page (list, write, read, entries, real_end, order, id, page): kzalloc'ed.
SIZEOF_BUFFER_PAGE = 64
BUF_PAGE_HDR_SIZE = 16  # struct buffer_data_page: time_stamp, commit


def get_order(size: int, page_shift: int) -> int:
    """get_order(): the smallest order whose block holds `size` bytes."""
    return max(0, (size - 1) >> page_shift).bit_length()


def saved_cmdlines_order(page_shift: int) -> int:
    """The order allocate_cmdlines_buffer(SAVED_CMDLINES_DEFAULT) takes."""
    size = SIZEOF_SAVED_CMDLINES_BUFFER + SAVED_CMDLINES_DEFAULT * (TASK_COMM_LEN + 4)
    return get_order(size, page_shift)


def ring_buffer_pages_per_cpu(size: int, page_size: int) -> int:
    """Pages one CPU's buffer of a `size`-byte ring buffer takes: data pages and the reader."""
    nr_pages = max(2, -(-size // (page_size - BUF_PAGE_HDR_SIZE)))
    return nr_pages + 1


def tracer_alloc_buffers(k: Kernel) -> int:
    """tracer_alloc_buffers(): temp_buffer, the saved cmdlines, the global trace buffer(s).

    Returns the pages taken from the buddy allocator."""
    if not k.config["TRACING"]:
        return 0
    pa = k.page_alloc
    shift = k.machine.page_shift
    page_size = 1 << shift
    taken = 0

    def ring_buffer_alloc(size: int, what: str) -> None:
        nonlocal taken
        for _cpu in range(int(k.machine.cpus)):
            for _ in range(ring_buffer_pages_per_cpu(size, page_size)):
                page = pa.alloc_pages(int(GFP_KERNEL | GFP.COMP | GFP.ZERO), 0)
                if page is not None:
                    page.owner = what
                    taken += 1
                k.kmalloc(SIZEOF_BUFFER_PAGE, int(GFP_KERNEL | GFP.ZERO))

    ring_buffer_alloc(page_size, "trace temp_buffer")
    order = saved_cmdlines_order(shift)
    block = pa.alloc_pages(int(GFP_KERNEL), order)
    if block is not None:
        block.owner = "trace savedcmd"
        taken += 1 << order
    ring_buffer_alloc(1, "trace global_trace buffer")
    if k.config["TRACER_MAX_TRACE"]:
        ring_buffer_alloc(1, "trace max_buffer")
    return taken
