"""Model of struct page (include/linux/mm_types.h) and its flags (include/linux/page-flags.h).

The kernel keeps one struct page for every page frame (the memmap). kmemsim
keeps one only for frames in use: the page allocator creates a Page when it
hands out a block (for the head frame) and drops it when the block comes back.
pfn_to_page() of any other frame returns a short-lived view: a tail frame of a
compound block knows its head (compound_head()), a free frame has refcount 0.
A free frame's state lives in the buddy free lists, a never-used frame has no
state at all; so host memory follows the pages in use, not the RAM size.

Fields are those the models read: the frame number, flags, the reference
count, the order of the block it heads, its migrate type at allocation, who
owns it (a slab cache, a large kmalloc, a user of alloc_pages) and, for slab
pages, the struct slab that overlays it in the kernel.
"""

from __future__ import annotations

import enum
from typing import Any


class PG(enum.IntFlag):
    """enum pageflags of include/linux/page-flags.h (Linux 6.18), the bits dump_page prints."""

    locked = 1 << 0
    writeback = 1 << 1
    referenced = 1 << 2
    uptodate = 1 << 3
    dirty = 1 << 4
    lru = 1 << 5
    head = 1 << 6
    waiters = 1 << 7
    active = 1 << 8
    workingset = 1 << 9
    owner_priv_1 = 1 << 10
    owner_2 = 1 << 11
    arch_1 = 1 << 12
    reserved = 1 << 13
    private = 1 << 14
    private_2 = 1 << 15
    reclaim = 1 << 16
    swapbacked = 1 << 17
    unevictable = 1 << 18
    dropbehind = 1 << 19
    mlocked = 1 << 20


_PG_NONE = 0  # page->flags is a plain int inside the model; PG names it when printed


class Page:
    """A struct page in use: the head frame of an allocated block of 2**order frames."""

    __slots__ = (
        "_refcount",
        "flags",
        "head",
        "migratetype",
        "order",
        "owner",
        "pfn",
        "private",
        "slab",
    )

    def __init__(self, pfn: int, order: int = 0, migratetype: int = 0) -> None:
        self.pfn = pfn
        # The order of the block this page heads (compound_order() when PG_head).
        self.order = order
        self.migratetype = migratetype
        self.flags: int = _PG_NONE
        self._refcount = 1
        self.owner: str = ""
        self.private: int = 0
        # The struct slab that overlays this page when a slab cache owns it.
        self.slab: Any = None
        # For a view of a tail frame of a compound block: its head (compound_head()).
        self.head: Page | None = None

    def PageHead(self) -> bool:
        """PageHead(): the first page of a compound (__GFP_COMP) block."""
        return bool(self.flags & PG.head)

    def PageTail(self) -> bool:
        """PageTail(): a later page of a compound block."""
        return self.head is not None

    def get_page(self) -> None:
        """get_page(): take a reference."""
        self._refcount += 1

    @property
    def refcount(self) -> int:
        """page_ref_count()."""
        return self._refcount

    def __repr__(self) -> str:
        if self.head is not None:
            return f"<Page pfn={self.pfn:#x} tail of {self.head.pfn:#x}>"
        return f"<Page pfn={self.pfn:#x} order={self.order} refcount={self._refcount}>"
