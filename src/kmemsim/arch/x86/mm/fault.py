"""Model of arch/x86/mm/fault.c (kernel-mode faults) and the oops of arch/x86/kernel/dumpstack.c.

A kernel-mode access to an address nothing maps ends in page_fault_oops():
show_fault_oops() names the fault ("BUG: kernel NULL pointer dereference,
address: ..." for the first page, else "BUG: unable to handle page fault for
address: ..."), decodes the error code ("#PF: supervisor read access in kernel
mode", "#PF: error_code(0x0000) - not-present page") and dumps the page-table
walk of the address (dump_pagetable(): "PGD 0 P4D 0"); __die() prints the
header ("Oops: Oops: 0000 [#1] SMP NOPTI", __die_header()) and the body (the
CPU/Comm line, the instruction pointer, the call trace, the modules);
"CR2: <address>" follows, and oops_end() taints the kernel 'D', prints the end
marker and the executive summary, and panics when the fault came from an
interrupt ("Fatal exception in interrupt"); in a task it kills the task, which
for kmemsim is the Oops exception the scenario sees.

An address that is not canonical on x86_64 never reaches the page-fault
handler: the CPU raises #GP, and exc_general_protection() dies with "Oops:
general protection fault, probably for non-canonical address 0x...: 0000".

The model has no registers: the instruction pointer line names the kernel
function that made the access ("RIP: 0010:memset", or the model's function)
and the register dump lines are left out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

from kmemsim.kernel.printk import LogLevel

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

# enum x86_pf_error_code (arch/x86/include/asm/trap_pf.h)
X86_PF_PROT = 1 << 0
X86_PF_WRITE = 1 << 1
X86_PF_USER = 1 << 2
X86_PF_RSVD = 1 << 3
X86_PF_INSTR = 1 << 4
X86_PF_PK = 1 << 5

END_TRACE = "---[ end trace 0000000000000000 ]---"


def x86_kernel_fault(
    k: Kernel, address: int, write: bool, protection: bool, frames: list[str]
) -> NoReturn:
    """The CPU's exception for a kernel-mode access to `address`, and the kernel's death."""
    bits = int(k.machine.bits)
    if bits == 64 and not is_canonical(k, address):
        die_general_protection(k, address, frames)
    error_code = (X86_PF_WRITE if write else 0) | (X86_PF_PROT if protection else 0)
    page_fault_oops(k, address, error_code, frames)


def is_canonical(k: Kernel, address: int) -> bool:
    """Are bits 63..(__VIRTUAL_MASK_SHIFT) all equal (47 with 4-level paging, 56 with 5)?"""
    shift = k.address_space.virtual_mask_shift
    top = address >> shift
    return top == 0 or top == (1 << (64 - shift)) - 1


def show_fault_oops(k: Kernel, address: int, error_code: int) -> None:
    """show_fault_oops(): what faulted, how, and the page-table walk."""
    log = k.log
    width = 16 if int(k.machine.bits) == 64 else 8
    if address < k.machine.page_size:
        what = "BUG: kernel NULL pointer dereference, address: "
    else:
        what = "BUG: unable to handle page fault for address: "
    log.printk(f"{what}{address:0{width}x}", LogLevel.ALERT)
    access = (
        "instruction fetch"
        if error_code & X86_PF_INSTR
        else "write access"
        if error_code & X86_PF_WRITE
        else "read access"
    )
    mode = "user" if error_code & X86_PF_USER else "supervisor"
    log.printk(f"#PF: {mode} {access} in kernel mode", LogLevel.ALERT)
    if not error_code & X86_PF_PROT:
        kind = "not-present page"
    elif error_code & X86_PF_RSVD:
        kind = "reserved bit violation"
    elif error_code & X86_PF_PK:
        kind = "protection keys violation"
    else:
        kind = "permissions violation"
    log.printk(f"#PF: error_code(0x{error_code:04x}) - {kind}", LogLevel.ALERT)
    log.pr_info(dump_pagetable(k, address))


def dump_pagetable(k: Kernel, address: int) -> str:
    """dump_pagetable(): the entries of the walk, as far as they are present.

    x86_64 prints "PGD <v> ", "P4D <v> ", "PUD <v> ", "PMD <v> ", "PTE <v>"
    and stops after the first entry that is not present or is a leaf; with
    4-level paging the P4D is folded into the PGD, whose entry always counts
    as present, so a walk that finds nothing prints "PGD 0 P4D 0 ". i386
    without PAE prints "*pde = <8 digits> " and, below a page table,
    "*pte = <8 digits> "."""
    entries = k.address_space.pgtable_walk(address)
    if int(k.machine.bits) == 32:
        pde = entries[0][1] if entries else 0
        line = f"*pde = {pde:08x} "
        if len(entries) > 1:
            line += f"*pte = {entries[1][1]:08x} "
        return line
    parts = []
    for name, value, last in _x86_64_levels(k, entries):
        parts.append(f"{name} {value:x}" + ("" if name == "PTE" else " "))
        if last:
            break
    return "".join(parts)


def _x86_64_levels(k: Kernel, entries: list[tuple[str, int]]) -> list[tuple[str, int, bool]]:
    """(level, value, stop here) along the walk, with the 4-level P4D folded into the PGD."""
    out: list[tuple[str, int, bool]] = []
    walk = dict(entries)
    five = k.address_space.pgtable_levels == 5
    order = ["PGD", "P4D", "PUD", "PMD", "PTE"]
    for name in order:
        if name == "P4D" and not five:
            value = walk.get("PGD", 0)
        else:
            value = walk.get(name, 0)
        present = bool(value & 1)
        if name == "PGD" and not five:
            present = True  # pgd_present() of a folded P4D level
        leaf = bool(value & (1 << 7)) and name in ("P4D", "PUD", "PMD")
        out.append((name, value, not present or leaf or name == "PTE"))
    return out


def die_header(k: Kernel, text: str, err: int) -> None:
    """__die_header(): "Oops: <what>: <err> [#n] SMP NOPTI" (KERN_DEFAULT)."""
    aspace = k.address_space
    aspace.die_counter += 1
    flags = " SMP"
    if int(k.machine.bits) == 64:
        flags += " NOPTI"  # MITIGATION_PAGE_TABLE_ISOLATION built in, not needed by the CPU
    k.log.printk(
        f"Oops: {text}: {err & 0xFFFF:04x} [#{aspace.die_counter}]{flags}", LogLevel.WARNING
    )


def die_body(k: Kernel, frames: list[str]) -> None:
    """__die_body(): show_regs() (CPU/Comm, hardware, instruction pointer, trace), modules."""
    sched = k.sched
    log = k.log
    print_cpu_info(k)
    ip = frames[0] if frames else "0x0"
    log.pr_warn(("RIP: 0010:" if int(k.machine.bits) == 64 else "EIP: ") + ip)
    log.pr_warn("Call Trace:")
    context = "<IRQ>" if sched.in_irq() else "<TASK>"
    log.pr_warn(f" {context}")
    for frame in frames[1:]:
        log.pr_warn(f" {frame}")
    log.pr_warn(f" </{context[1:]}")
    log.pr_warn("Modules linked in:")


def print_cpu_info(k: Kernel) -> None:
    """dump_stack_print_info(): "CPU: n UID: 0 PID: p Comm: c <taint> <release> ..." and the
    hardware name."""
    from kmemsim.kernel.sched.core import UTS_RELEASE

    sched = k.sched
    k.log.pr_warn(
        f"CPU: {sched.current_cpu} UID: 0 PID: {sched.pid} Comm: {sched.comm} "
        f"{sched._tainted()} {UTS_RELEASE} #1 PREEMPT(voluntary) "
    )
    k.log.pr_warn(f"Hardware name: {k.machine.name}")


def oops_end(k: Kernel, frames: list[str], summary: str) -> NoReturn:
    """oops_end(): taint 'D', the end marker, the executive summary; panic in an interrupt."""
    from kmemsim.errors import Oops

    sched = k.sched
    sched.taint("D")
    k.log.pr_warn(END_TRACE)
    ip = frames[0] if frames else "0x0"
    k.log.pr_warn(("RIP: 0010:" if int(k.machine.bits) == 64 else "EIP: ") + ip)
    if sched.in_interrupt():
        k.log.pr_emerg("Kernel panic - not syncing: Fatal exception in interrupt")
        raise Oops(f"Fatal exception in interrupt: {summary}")
    raise Oops(summary)


def page_fault_oops(k: Kernel, address: int, error_code: int, frames: list[str]) -> NoReturn:
    """page_fault_oops(): the report of a kernel-mode page fault, and the kernel's death."""
    show_fault_oops(k, address, error_code)
    die_header(k, "Oops", error_code)
    die_body(k, frames)
    k.log.pr_warn(f"CR2: {address:016x}")
    access = "write" if error_code & X86_PF_WRITE else "read"
    oops_end(k, frames, f"unable to handle page fault ({access}) at {address:#x}")


def die_general_protection(k: Kernel, address: int, frames: list[str]) -> NoReturn:
    """exc_general_protection() in kernel mode on a non-canonical address: die_addr()."""
    die_header(k, f"general protection fault, probably for non-canonical address {address:#x}", 0)
    die_body(k, frames)
    oops_end(k, frames, f"general protection fault at {address:#x}")
