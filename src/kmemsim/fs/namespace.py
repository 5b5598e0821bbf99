"""Model of fs/namespace.c, the boot part: mnt_init()'s mount and mountpoint hash tables.

vfs_caches_init() -> mnt_init() sizes the two hashes of struct hlist_head
buckets from the amount of memory, one bucket per 2**19 bytes of kernel pages
(scale 19), and takes them from the buddy allocator (the allocator is up by
then, so not HASH_EARLY): "Mount-cache hash table entries: 65536 (order: 7,
524288 bytes, linear)" and "Mountpoint-cache hash table entries: ..." on the
24 GiB 6.18 machine. The mhash_entries= and mphash_entries= boot parameters
set the counts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.mm.mm_init import alloc_large_system_hash

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel


def mnt_init(k: Kernel) -> tuple[int, int]:
    """mnt_init(): the mount_hashtable and mountpoint_hashtable; their addresses."""
    bucket = k.machine.bits // 8  # sizeof(struct hlist_head)
    mount = alloc_large_system_hash(
        k, "Mount-cache", bucket, int(k.config["mhash_entries"]), 19, flags_early=False
    )
    mountpoint = alloc_large_system_hash(
        k, "Mountpoint-cache", bucket, int(k.config["mphash_entries"]), 19, flags_early=False
    )
    return mount, mountpoint
