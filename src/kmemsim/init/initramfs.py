"""Model of init/initramfs.c: the initrd's memory goes back once the rootfs is unpacked.

The boot loader's initrd was reserved in memblock at setup_arch() (the
"RAMDISK: [mem ...]" line); populate_rootfs(), a rootfs_initcall, unpacks it
and frees its pages with free_initrd_mem(): "Freeing initrd memory: 7360K"
on the 6.18 machine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.mm.memblock import free_reserved_area

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel


def free_initrd_mem(k: Kernel) -> int:
    """free_initrd_mem(): the initrd's pages to the buddy allocator (0 without an initrd)."""
    img = k.machine.kernel_image
    if not img.initrd_size:
        return 0
    page = k.machine.page_size
    end = (img.initrd_start + img.initrd_size + page - 1) & ~(page - 1)  # PAGE_ALIGN
    return free_reserved_area(k, img.initrd_start, end, "initrd")
