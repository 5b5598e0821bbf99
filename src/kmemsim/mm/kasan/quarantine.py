"""Model of mm/kasan/quarantine.c: freed objects wait before the allocator may reuse them.

A freed slab object is poisoned and put on the current CPU's quarantine
list instead of the slab's freelist, so that a use after free hits poisoned
memory for a while rather than somebody else's new object. When a CPU's list
holds more than QUARANTINE_PERCPU_SIZE bytes it moves to the global
quarantine, a ring of QUARANTINE_BATCHES batches; when the global quarantine
is larger than its limit (1/32 of RAM less the per-CPU lists), each
allocation that may block (kasan_quarantine_reduce()) frees its oldest
batch for real. Objects are counted by their cache's full size (s->size).
kmem_cache_destroy() and kmem_cache_shrink() take a cache's objects out of
every list first (kasan_quarantine_remove_cache()).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kmemsim.mm.slab import KmemCache

QUARANTINE_PERCPU_SIZE = 1 << 20
QUARANTINE_BATCHES = 1024  # ilog2(NR_CPUS) < 7: 1024 batches
QUARANTINE_FRACTION = 32


class QList:
    """struct qlist_head: objects (cache, address) in free order, and their bytes."""

    __slots__ = ("bytes", "objs")

    def __init__(self) -> None:
        self.objs: list[tuple[KmemCache, int]] = []
        self.bytes = 0


class Quarantine:
    """The per-CPU and global quarantine of one kernel."""

    def __init__(self, nr_cpus: int, total_bytes: int, free: Callable[[KmemCache, int], None]):
        self.percpu = [QList() for _ in range(nr_cpus)]
        self.batches = [QList() for _ in range(QUARANTINE_BATCHES)]
        self.head = 0
        self.tail = 0
        self.size = 0
        # kasan_quarantine_reduce(): the limit and the batch size from the RAM size.
        self.max_size = max(
            0, total_bytes // QUARANTINE_FRACTION - QUARANTINE_PERCPU_SIZE * nr_cpus
        )
        self.batch_size = max(QUARANTINE_PERCPU_SIZE, self.max_size // QUARANTINE_BATCHES)
        self._free = free  # qlink_free(): the object back to its slab, for real

    def put(self, cpu: int, s: KmemCache, obj: int) -> None:
        """kasan_quarantine_put(): onto the CPU's list; a full list moves to the global ring."""
        q = self.percpu[cpu]
        q.objs.append((s, obj))
        q.bytes += s.size
        if q.bytes > QUARANTINE_PERCPU_SIZE:
            batch = self.batches[self.tail]
            batch.objs.extend(q.objs)
            batch.bytes += q.bytes
            self.size += q.bytes
            q.objs, q.bytes = [], 0
            if batch.bytes >= self.batch_size:
                new_tail = (self.tail + 1) % QUARANTINE_BATCHES
                if new_tail != self.head:
                    self.tail = new_tail

    def reduce(self) -> None:
        """kasan_quarantine_reduce(): free the oldest batch while over the limit."""
        if self.size <= self.max_size:
            return
        batch = self.batches[self.head]
        self.size -= batch.bytes
        objs = batch.objs
        batch.objs, batch.bytes = [], 0
        if self.head != self.tail:
            self.head = (self.head + 1) % QUARANTINE_BATCHES
        for s, obj in objs:
            self._free(s, obj)

    def remove_cache(self, s: KmemCache) -> None:
        """kasan_quarantine_remove_cache(): free every quarantined object of `s` now."""
        for q in (*self.percpu, *self.batches):
            keep = [(c, o) for c, o in q.objs if c is not s]
            if len(keep) == len(q.objs):
                continue
            gone = [o for c, o in q.objs if c is s]
            q.objs = keep
            freed = len(gone) * s.size
            q.bytes -= freed
            if q not in self.percpu:
                self.size -= freed
            for obj in gone:
                self._free(s, obj)

    def contains(self, obj: int) -> bool:
        """Is `obj` in the quarantine (for tests and kmemleak)."""
        return any(o == obj for q in (*self.percpu, *self.batches) for _, o in q.objs)
