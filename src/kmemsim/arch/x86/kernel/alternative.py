"""Model of arch/x86/kernel/alternative.c: alternative_instructions() freeing .smp_locks.

start_kernel() -> arch_cpu_finalize_init() -> alternative_instructions()
patches the kernel for the CPU it runs on. The .smp_locks section lists the
LOCK prefixes to patch out on a uniprocessor; on CONFIG_SMP, unless the
kernel was just patched to UP and more CPUs could still come (one present
CPU of several possible ones), the list is not needed any more and
free_init_pages("SMP alternatives", __smp_locks, __smp_locks_end) gives its
pages to the buddy allocator: "Freeing SMP alternatives memory: 52K". The
section sits after __init_end (arch/x86/kernel/vmlinux.lds.S), page aligned;
its size is the profile's [kernel] smp_locks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.arch.sections import kernel_sections
from kmemsim.mm.memblock import free_reserved_area

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel


def smp_locks_section(k: Kernel) -> tuple[int, int]:
    """(__smp_locks, __smp_locks_end), physical: from the page after __init_end."""
    page = k.machine.page_size
    start = -(-kernel_sections(k)["__init_end"] // page) * page
    return start, start + -(-int(k.machine.kernel_image.smp_locks) // page) * page


def alternative_instructions(k: Kernel) -> int:
    """alternative_instructions(): free .smp_locks on an SMP kernel; the pages freed."""
    if k.machine.arch not in ("x86_64", "i386") or not k.machine.kernel_image.smp_locks:
        return 0
    # Every CPU the model has is present and possible: uniproc_patched is set on
    # one CPU only, and then num_possible_cpus() == 1, so the section goes.
    start, end = smp_locks_section(k)
    return free_reserved_area(k, start, end, "SMP alternatives")
