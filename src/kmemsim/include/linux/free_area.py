"""Model of a free_area's free_list (struct free_area of include/linux/mmzone.h).

Each zone keeps free_area[order] for every order up to MAX_PAGE_ORDER, and in
each one list per migrate type (free_list[MIGRATE_TYPES]) of the free blocks
of 2**order pages, known by their first frame. The kernel's list is a
list_head threaded through the blocks' struct pages; FreeList keeps the same
ordered set of pfns (add at the head or the tail, delete a given block, take
the first) in host memory that grows with the blocks the simulated system
splits and frees, not with the RAM size: the long stretches of consecutive
MAX_PAGE_ORDER blocks memblock_free_all() appends at boot are held as runs
(first pfn, count), one small object whatever their length.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections import OrderedDict
from collections.abc import Iterator
from operator import attrgetter


class _Run:
    """`count` free blocks of one order back to back from `start` (a FreeList stretch)."""

    __slots__ = ("count", "start")

    def __init__(self, start: int, count: int) -> None:
        self.start = start
        self.count = count


_run_start = attrgetter("start")


class FreeList:
    """free_area[order].free_list[migratetype]: the pfns of free blocks, head first.

    Behaves like the kernel's list as the allocator uses it (an ordered set:
    len, iteration head first, `pfn in lst`, add at the head or the tail,
    delete a given block, first()), and holds it in three parts, in list order:

    - `head`: an ordered dict of pfns;
    - `runs`: stretches of consecutive aligned blocks (start, count; block i
      is start + i * 2**order), yielded lazily. memblock_free_all() appends
      the MAX_PAGE_ORDER blocks of boot here (append_run_block), so millions
      of blocks cost one object per stretch of RAM. Deleting a block inside a
      run splits it; taking the first block of a run moves its start;
    - `tail`: an ordered dict, used only while there are runs (without runs a
      block added at the tail goes to the end of `head`, and when the last run
      goes the tail's blocks join the end of `head`; a run block appended
      behind a non-empty tail first turns the tail's blocks into one-block runs).

    Blocks in the dict parts have their entry pfn -> order in the zone's
    `index` (ZoneBuddy.buddy_order, PageBuddy() plus buddy_order()), kept here;
    blocks in runs have none: ZoneBuddy.free_block_order() finds them.
    """

    __slots__ = ("by_pfn", "head", "index", "nr_run", "order", "runs", "tail")

    def __init__(self, order: int, index: dict[int, int]) -> None:
        self.order = order
        self.index = index
        self.head: OrderedDict[int, None] = OrderedDict()
        self.tail: OrderedDict[int, None] = OrderedDict()
        self.runs: list[_Run] = []  # in list order, none empty
        self.by_pfn: list[_Run] = []  # the same runs by start pfn (they never overlap)
        self.nr_run = 0  # blocks held in runs

    def __len__(self) -> int:
        return len(self.head) + self.nr_run + len(self.tail)

    def __bool__(self) -> bool:
        return bool(self.head) or bool(self.runs)

    def __iter__(self) -> Iterator[int]:
        yield from self.head
        step = 1 << self.order
        for start, count in [(r.start, r.count) for r in self.runs]:
            yield from range(start, start + count * step, step)
        yield from self.tail

    def __contains__(self, pfn: object) -> bool:
        if pfn in self.head or pfn in self.tail:
            return True
        return isinstance(pfn, int) and self.in_run(pfn)

    def __repr__(self) -> str:
        runs = ", ".join(f"{r.start:#x}+{r.count}" for r in self.runs)
        return (
            f"FreeList(order={self.order}, head={list(self.head)}, runs=[{runs}], "
            f"tail={list(self.tail)})"
        )

    def _run_of(self, pfn: int) -> _Run | None:
        by_pfn = self.by_pfn
        i = bisect_right(by_pfn, pfn, key=_run_start) - 1
        if i < 0:
            return None
        run = by_pfn[i]
        off = pfn - run.start
        if off < run.count << self.order and not off & ((1 << self.order) - 1):
            return run
        return None

    def in_run(self, pfn: int) -> bool:
        """Is pfn a block held in one of the runs?"""
        return bool(self.runs) and self._run_of(pfn) is not None

    def first(self) -> int:
        """The block at the head of the list (list_first_entry)."""
        if self.head:
            return next(iter(self.head))
        if self.runs:
            return self.runs[0].start
        if self.tail:
            return next(iter(self.tail))
        raise IndexError("first() of an empty free list")

    def add(self, pfn: int, tail: bool) -> None:
        """__add_to_free_list(): pfn at the head, or at the tail."""
        if tail and self.runs:
            self.tail[pfn] = None
        else:
            head = self.head
            head[pfn] = None
            if not tail:
                head.move_to_end(pfn, last=False)
        self.index[pfn] = self.order

    def append_run_block(self, pfn: int, count: int = 1) -> None:
        """Add the `count` blocks from pfn at the tail as run blocks (extending the last run)."""
        tail = self.tail
        if tail:
            # Keep the list order: the tail's blocks become one-block runs before pfn.
            index = self.index
            for p in tail:
                del index[p]
                self._new_run(p, 1, len(self.runs))
                self.nr_run += 1
            tail.clear()
        runs = self.runs
        self.nr_run += count
        if runs:
            last = runs[-1]
            if pfn == last.start + (last.count << self.order):
                last.count += count
                return
        self._new_run(pfn, count, len(runs))

    def _new_run(self, start: int, count: int, pos: int) -> _Run:
        run = _Run(start, count)
        self.runs.insert(pos, run)
        insort(self.by_pfn, run, key=_run_start)
        return run

    def remove(self, pfn: int) -> None:
        """__del_page_from_free_list(): take pfn off the list wherever it sits."""
        try:
            del self.head[pfn]
        except KeyError:
            pass
        else:
            del self.index[pfn]
            return
        if pfn in self.tail:
            del self.tail[pfn]
            del self.index[pfn]
            return
        run = self._run_of(pfn) if self.runs else None
        if run is None:
            raise KeyError(pfn)
        self.nr_run -= 1
        order = self.order
        if pfn == run.start:
            run.start += 1 << order
            run.count -= 1
            if not run.count:
                self._drop(run)
        elif pfn == run.start + ((run.count - 1) << order):
            run.count -= 1
        else:
            n = (pfn - run.start) >> order
            rest = run.count - n - 1
            run.count = n
            self._new_run(pfn + (1 << order), rest, self.runs.index(run) + 1)

    def _drop(self, run: _Run) -> None:
        self.runs.remove(run)
        self.by_pfn.remove(run)
        if not self.runs and self.tail:
            self.head.update(self.tail)
            self.tail.clear()
