"""Model of fs/dcache.c: the dentry hash table sized at boot, and vfs_caches_init_early().

Early in start_kernel(), before the buddy allocator exists, the VFS sizes its
two big lookup hashes from the amount of memory and takes them from memblock
(alloc_large_system_hash with HASH_EARLY): the dentry hash with one 8-byte
hlist_bl_head bucket per 2**13 bytes of kernel pages, the inode hash
(fs/inode.c) with one per 2**14. On the 24 GiB 6.18 machine they are 32 MiB
and 16 MiB of memory that the "Memory:" line counts as reserved. The
dhash_entries= and ihash_entries= boot parameters set the counts directly.
With hashdist (NUMA) the tables would come from vmalloc later; kmemsim models
one node, where hashdist is 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.fs.inode import inode_init_early
from kmemsim.mm.mm_init import alloc_large_system_hash

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel


# sizeof(struct hlist_bl_head) on 64-bit and 32-bit kernels alike: one pointer.
def _bucket_size(k: Kernel) -> int:
    return k.machine.bits // 8


def dcache_init_early(k: Kernel) -> int:
    """dcache_init_early(): the "Dentry cache hash table entries: ..." table; its address."""
    return alloc_large_system_hash(
        k, "Dentry cache", _bucket_size(k), k.config["dhash_entries"], 13
    )


def vfs_caches_init_early(k: Kernel) -> None:
    """vfs_caches_init_early(): the dentry and inode hashes, from memblock."""
    dcache_init_early(k)
    inode_init_early(k)
