"""Model of arch/arm/mm/fault.c for kernel-mode faults, with die() of arch/arm/kernel/traps.c.

A data abort from kernel mode at an address nothing maps reaches
__do_kernel_fault() (a translation fault in kernel space through
do_translation_fault()'s bad_area, one in user space because kernel code has
no user context to fault in) and die_kernel_fault() prints:

    8<--- cut here ---
    Unable to handle kernel NULL pointer dereference at virtual address 00000000 when read
    [00000000] *pgd=00000000
    Internal error: Oops: 5 [#1] SMP ARM

"paging request" instead of "NULL pointer dereference" past the first page,
"when write" for a store; show_pte() prints the first-level entry and, below a
page table, the Linux and hardware PTEs; die() prints "Internal error: Oops:
<fsr in hex> [#n] SMP ARM" (__die()), the modules, the CPU/Comm line, the
registers (the model names the function that made the access: "PC is at
..."), the process and the backtrace; oops_end() taints 'D', prints the end
marker, and panics when the fault came from an interrupt.

The fault status (FSR, short-descriptor format): 5 is a section (first-level)
translation fault, 7 a page (second-level) translation fault, 0xd/0xf a
section/page permission fault; bit 11 (FSR_WRITE) marks a store.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, NoReturn

from kmemsim.kernel.printk import LogLevel

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

FSR_WRITE = 1 << 11
FS_L1_TRANS = 0x5
FS_L2_TRANS = 0x7
FS_L1_PERM = 0xD
FS_L2_PERM = 0xF

END_TRACE = "---[ end trace 0000000000000000 ]---"


def arm_kernel_fault(
    k: Kernel, address: int, write: bool, protection: bool, frames: list[str]
) -> NoReturn:
    """do_DataAbort() of a kernel-mode access to `address`, and the kernel's death."""
    entries = k.address_space.pgtable_walk(address)
    l2 = len(entries) > 1
    if protection:
        fsr = FS_L2_PERM if l2 else FS_L1_PERM
    else:
        fsr = FS_L2_TRANS if l2 else FS_L1_TRANS
    if write:
        fsr |= FSR_WRITE
    die_kernel_fault(k, address, fsr, frames)


def show_pte(k: Kernel, address: int) -> str:
    """show_pte() of init_mm: "[addr] *pgd=..." and, under a page table, "*pte=..., *ppte=..."."""
    entries = k.address_space.pgtable_walk(address)
    pgd = entries[0][1] if entries else 0
    line = f"[{address:08x}] *pgd={pgd:08x}"
    if len(entries) > 1:
        pte = entries[1][1]
        line += f", *pte={pte:08x}, *ppte={entries[2][1] if len(entries) > 2 else 0:08x}"
    return line


def die_kernel_fault(k: Kernel, address: int, fsr: int, frames: list[str]) -> NoReturn:
    """die_kernel_fault(): the report and die("Oops", regs, fsr)."""
    from kmemsim.errors import Oops
    from kmemsim.kernel.sched.core import UTS_RELEASE

    log = k.log
    sched = k.sched
    msg = "NULL pointer dereference" if address < k.machine.page_size else "paging request"
    access = "write" if fsr & FSR_WRITE else "read"
    log.printk("8<--- cut here ---", LogLevel.ALERT)
    log.printk(
        f"Unable to handle kernel {msg} at virtual address {address:08x} when {access}",
        LogLevel.ALERT,
    )
    log.printk(show_pte(k, address), LogLevel.ALERT)
    aspace = k.address_space
    aspace.die_counter += 1
    log.pr_emerg(f"Internal error: Oops: {fsr:x} [#{aspace.die_counter}] SMP ARM")
    log.pr_warn("Modules linked in:")
    log.pr_warn(
        f"CPU: {sched.current_cpu} UID: 0 PID: {sched.pid} Comm: {sched.comm} "
        f"{sched._tainted()} {UTS_RELEASE} #1 NONE "
    )
    log.pr_warn(f"Hardware name: {k.machine.name}")
    pc = frames[0] if frames else "0x0"
    log.pr_emerg(f"PC is at {pc}")
    log.pr_emerg(f"LR is at {frames[1] if len(frames) > 1 else pc}")
    log.pr_emerg(f"Process {sched.comm} (pid: {sched.pid}, stack limit = 0x(ptrval))")
    for callee, caller in itertools.pairwise(frames):
        log.pr_emerg(f" {callee} from {caller}")
    sched.taint("D")
    log.pr_warn(END_TRACE)
    summary = f"unable to handle kernel {msg} ({access}) at {address:#010x}"
    if sched.in_interrupt():
        log.pr_emerg("Kernel panic - not syncing: Fatal exception in interrupt")
        raise Oops(f"Fatal exception in interrupt: {summary}")
    raise Oops(summary)
