"""Model of kernel/rcu/tree.c and update.c: grace periods and RCU callbacks, with kvfree_rcu.

An RCU updater unpublishes an object and frees it only after a grace
period: once every CPU has passed a quiescent state, so that no reader
that might still see the object is inside rcu_read_lock(). call_rcu()
queues a callback (its struct rcu_head lives inside the object, in
simulated memory) to run after the next grace period; synchronize_rcu()
waits for one; rcu_barrier() waits until every callback queued so far has
run; kfree_rcu(ptr, rhf) frees the object after a grace period (6.18 keeps
kvfree_rcu in mm/slab_common.c: batched, but never before the grace period
ends).

The model has one task running at a time, so a grace period can end
whenever that task is outside any read-side critical section and something
lets time pass: synchronize_rcu(), rcu_barrier(), or simulated time moving
on (`rcu_advance()`, called when jiffies advance). Callbacks run in softirq
context, in the order they were queued (rcu_do_batch()). A SLAB_TYPESAFE_BY_RCU
cache hands its slabs' pages back only after a grace period (rcu_free_slab()),
and with KASAN and CONFIG_SLUB_RCU_DEBUG its objects are poisoned only
after one (slab_free_after_rcu_debug()).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kmemsim.include.linux.export import EXPORT_SYMBOL

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

RcuCallback = Callable[[int], Any]
# A kvfree_rcu() head's func field holds the offset of the head in the object
# (__is_kvfree_rcu_offset(): below 4096), not a function.
_KVFREE_OFFSET_LIMIT = 4096


class Rcu:
    """RCU state of one kernel: the grace-period sequence and the queued callbacks."""

    def __init__(self, k: Kernel) -> None:
        self.k = k
        self.gp_seq = 0
        # (grace period that must end first, rcu_head address, callback)
        self.cblist: deque[tuple[int, int, RcuCallback]] = deque()
        self.in_callbacks = False
        self.nr_invoked = 0

    # ------------------------------------------------------------------ internals
    def _can_end_gp(self) -> bool:
        sched = self.k.sched
        return not sched.rcu_read_lock_nesting

    def _end_grace_period(self) -> bool:
        """One grace period ends (if no reader holds it back); the ripe callbacks run."""
        if not self._can_end_gp():
            return False
        self.gp_seq += 1
        self._invoke(self.gp_seq)
        return True

    def _invoke(self, upto: int) -> None:
        """rcu_do_batch(): run, in softirq context, the callbacks whose grace period ended."""
        if self.in_callbacks:
            return
        self.in_callbacks = True
        try:
            with self.k.sched.softirq_context():
                while self.cblist and self.cblist[0][0] <= upto:
                    _, head, func = self.cblist.popleft()
                    self.nr_invoked += 1
                    func(head)
        finally:
            self.in_callbacks = False

    def queue(self, head: int, func: RcuCallback) -> None:
        """Queue `func(head)` for after the next grace period (no KASAN aux stack)."""
        self.cblist.append((self.gp_seq + 1, head, func))

    def rcu_advance(self) -> None:
        """Time passed: the pending grace period ends if no reader holds it."""
        if self.cblist:
            self._end_grace_period()

    # ------------------------------------------------------------------ kernel API
    @EXPORT_SYMBOL
    def call_rcu(self, head: int, func: RcuCallback) -> None:
        """call_rcu(): run func(head) after a grace period; `head` is the object's rcu_head."""
        kasan = self.k.kasan
        if kasan is not None:
            kasan.kasan_record_aux_stack(head)
        self.queue(head, func)

    @EXPORT_SYMBOL
    def synchronize_rcu(self) -> None:
        """synchronize_rcu(): wait for a grace period (it may sleep)."""
        sched = self.k.sched
        if sched.rcu_read_lock_nesting:
            # A reader waiting for itself: lockdep's "Illegal synchronize_rcu() in RCU
            # read-side critical section", and might_sleep()'s report.
            self.k.log.pr_warn("WARNING: suspicious RCU usage")
            self.k.log.pr_warn(
                "kernel/rcu/tree.c: Illegal synchronize_rcu() in RCU read-side critical section!"
            )
            sched.might_sleep(caller="synchronize_rcu")
            return
        sched.might_sleep(caller="synchronize_rcu")
        self._end_grace_period()

    @EXPORT_SYMBOL
    def rcu_barrier(self) -> None:
        """rcu_barrier(): wait until every callback queued before the call has run."""
        sched = self.k.sched
        sched.might_sleep(caller="rcu_barrier")
        if sched.rcu_read_lock_nesting:
            return
        if self.cblist:
            last = self.cblist[-1][0]
            while self.gp_seq < last and self._end_grace_period():
                pass

    @EXPORT_SYMBOL("kfree_rcu", "kvfree_rcu")
    def kfree_rcu(self, ptr: int, rhf: int = 0) -> None:
        """kfree_rcu(ptr, rhf): kfree(ptr) after a grace period; `rhf` is the rcu_head's offset.

        The rcu_head inside the object gets the offset as its func, as
        kvfree_call_rcu() stores it; NULL is a no-op.
        """
        if not ptr:
            return
        if not 0 <= rhf < _KVFREE_OFFSET_LIMIT:
            from kmemsim.mm.debug import warn

            warn(self.k, "include/linux/rcupdate.h", "kvfree_rcu_arg_2")
            return
        head = ptr + rhf
        word = self.k.arch.bits // 8
        dm = self.k.direct_map
        if dm.virt_addr_valid(head):
            # struct rcu_head { next; func }: raw stores, the object is still the caller's.
            self.k.address_space.write(head, bytes(word) + rhf.to_bytes(word, "little"))
        self.queue(head, lambda h: self.k.kvfree(h - rhf))

    @EXPORT_SYMBOL
    def kfree_rcu_mightsleep(self, ptr: int) -> None:
        """kfree_rcu_mightsleep(ptr): no rcu_head in the object; may wait for a grace period."""
        if not ptr:
            return
        self.k.sched.might_sleep(caller="kvfree_call_rcu")
        self.queue(ptr, lambda p: self.k.kvfree(p))

    @EXPORT_SYMBOL
    def rcu_read_lock_held(self) -> bool:
        """rcu_read_lock_held(): inside an rcu_read_lock() section."""
        return bool(self.k.sched.rcu_read_lock_nesting)


def rcu_init(k: Kernel) -> Rcu:
    """rcu_init(): RCU of a booted kernel, its API bound onto `k`."""
    from kmemsim.include.linux.export import export_symbols

    rcu = Rcu(k)
    k.rcu = rcu
    export_symbols(k, rcu)
    return rcu
