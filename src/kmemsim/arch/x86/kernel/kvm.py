"""Model of arch/x86/kernel/kvm.c: kvm_spinlock_init() and the PV qspinlock hash table.

On a KVM guest with CONFIG_PARAVIRT_SPINLOCKS (and the host's
KVM_FEATURE_PV_UNHALT), smp_prepare_boot_cpu() -> kvm_smp_prepare_boot_cpu()
-> kvm_spinlock_init() switches to paravirt queued spinlocks and
__pv_init_lock_hash() (kernel/locking/qspinlock_paravirt.h) takes their hash
from memblock: 4 entries per possible CPU rounded up to a cache line of
16-byte pv_hash_entry, at least a page (PV_HE_MIN), as an early
alloc_large_system_hash(): "PV qspinlock hash table entries: 256 (order: 0,
4096 bytes, linear)". A single-CPU guest prints "PV spinlocks disabled,
single CPU" instead and allocates nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.mm.mm_init import alloc_large_system_hash

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

PV_HASH_ENTRY_SIZE = 16  # struct pv_hash_entry { struct qspinlock *lock; struct pv_node *node; }
SMP_CACHE_BYTES = 64


def pv_init_lock_hash(k: Kernel) -> int:
    """__pv_init_lock_hash(): the hash of halted vCPUs' locks; its physical address."""
    per_line = SMP_CACHE_BYTES // PV_HASH_ENTRY_SIZE  # PV_HE_PER_LINE
    size = -(-4 * int(k.machine.cpus) // per_line) * per_line
    size = max(size, k.machine.page_size // PV_HASH_ENTRY_SIZE)  # PV_HE_MIN
    return alloc_large_system_hash(
        k, "PV qspinlock", PV_HASH_ENTRY_SIZE, size, 0, low_limit=size, high_limit=size
    )


def kvm_spinlock_init(k: Kernel) -> int:
    """kvm_spinlock_init(): PV spinlocks on an SMP KVM guest; the hash's address or 0."""
    if not k.config["PARAVIRT_SPINLOCKS"] or k.machine.arch not in ("x86_64", "i386"):
        return 0
    if int(k.machine.cpus) == 1:
        k.log.pr_info("kvm-guest: PV spinlocks disabled, single CPU")
        return 0
    return pv_init_lock_hash(k)
