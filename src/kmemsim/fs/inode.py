"""Model of fs/inode.c: the inode hash table sized at boot (inode_init_early).

One hlist_head bucket (a pointer) per 2**14 bytes of kernel pages, taken from
memblock before the buddy allocator exists; ihash_entries= sets the count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.mm.mm_init import alloc_large_system_hash

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel


def inode_init_early(k: Kernel) -> int:
    """inode_init_early(): the "Inode-cache hash table entries: ..." table; its address."""
    return alloc_large_system_hash(
        k, "Inode-cache", k.machine.bits // 8, k.config["ihash_entries"], 14
    )
