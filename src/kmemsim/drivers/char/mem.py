"""Model of drivers/char/mem.c: /dev/mem, with devmem_is_allowed() of arch/x86/mm/init.c and
arch/arm/mm/mmap.c.

`k.devmem` is an open /dev/mem (None when the kernel has no CONFIG_DEVMEM):
`read(offset, size)` and `write(offset, data)` are read_mem()/write_mem() at
file position `offset`, `mmap(offset, size)` is mmap_mem() of a shared
mapping, whose `read(off, width)` / `write(off, width, value)` are the
program's loads and stores through it.

With CONFIG_STRICT_DEVMEM each page is checked by devmem_is_allowed():

* x86: a page that intersects System RAM is refused, except in the first MiB
  where it reads as zeros (and writes are dropped: the BIOS area X servers and
  dosemu map whole); a page of an exclusive iomem resource
  (iomem_is_exclusive(): IORESOURCE_EXCLUSIVE, or with IO_STRICT_DEVMEM any
  busy one, i.e. a region a driver claimed) is refused above the first MiB;
  anything else is allowed.
* ARM: an exclusive page is refused, RAM is refused, the rest allowed.

A refused access fails with EPERM (a PermissionError, errno EPERM). The
kernel logs nothing: the "Program ... tried to access /dev/mem between ..."
line of older kernels was removed (returning EPERM was judged enough), and
6.18's drivers/char/mem.c and arch/x86/mm/pat/memtype.c print none.

read() and write() only reach what valid_phys_addr_range() allows: RAM of
the direct map (on ARM from PHYS_OFFSET); past it they fail with EFAULT, so
device registers are reached with mmap(), as busybox devmem does.
"""

from __future__ import annotations

import errno as _errno
from typing import TYPE_CHECKING

from kmemsim.include.linux.ioport import IORES_DESC_NONE, IORESOURCE_SYSTEM_RAM, REGION_DISJOINT

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel


def _oserror(err: int) -> OSError:
    cls = PermissionError if err == _errno.EPERM else OSError
    return cls(err, _errno_message(err), "/dev/mem")


def _errno_message(err: int) -> str:
    import os

    return os.strerror(err)


def devmem_is_allowed(k: Kernel, pfn: int) -> int:
    """devmem_is_allowed(pfn): 0 refused, 1 allowed, 2 (x86, first MiB RAM) shown as zeros."""
    shift = k.machine.page_shift
    tree = k.resource
    if k.machine.arch == "arm":
        if tree.iomem_is_exclusive(pfn << shift):
            return 0
        return 0 if tree.page_is_ram(pfn) else 1
    if (
        tree.region_intersects(pfn << shift, 1 << shift, IORESOURCE_SYSTEM_RAM, IORES_DESC_NONE)
        != REGION_DISJOINT
    ):
        return 2 if pfn < 256 else 0
    if tree.iomem_is_exclusive(pfn << shift):
        return 1 if pfn < 256 else 0
    return 1


class DevMem:
    """/dev/mem of one kernel (an open file: read, write, mmap)."""

    def __init__(self, k: Kernel) -> None:
        self.k = k
        self.page_size = k.machine.page_size

    # ---------------------------------------------------------------- checks
    def page_is_allowed(self, pfn: int) -> int:
        """page_is_allowed(): devmem_is_allowed() under STRICT_DEVMEM, else 1."""
        if not self.k.config["STRICT_DEVMEM"]:
            return 1
        return devmem_is_allowed(self.k, pfn)

    def range_is_allowed(self, pfn: int, size: int) -> bool:
        """range_is_allowed(): every page of the range allowed (silently; no log line)."""
        if not self.k.config["STRICT_DEVMEM"]:
            return True
        end = (pfn << self.k.machine.page_shift) + size
        cursor = pfn << self.k.machine.page_shift
        while cursor < end:
            if not devmem_is_allowed(self.k, pfn):
                return False
            cursor += self.page_size
            pfn += 1
        return True

    def valid_phys_addr_range(self, addr: int, count: int) -> bool:
        """valid_phys_addr_range(): inside the direct-mapped RAM (from PHYS_OFFSET on ARM)."""
        dm = self.k.direct_map
        high = dm.max_low_pfn << self.k.machine.page_shift  # __pa(high_memory)
        if self.k.machine.arch == "arm" and addr < dm.phys_offset:
            return False
        return addr + count <= high

    # ---------------------------------------------------------------- read/write
    def _phys_read(self, pa: int, size: int) -> bytes:
        m = self.k.machine
        if m.is_ram(pa, size):
            return bytes(m.ram.read(pa, size))
        return m.bus.read(pa, size)

    def read(self, offset: int, size: int) -> bytes:
        """read_mem(): `size` bytes at physical `offset`; PermissionError (EPERM) if refused."""
        if offset < 0 or size < 0:
            raise _oserror(_errno.EINVAL)
        if not self.valid_phys_addr_range(offset, size):
            raise _oserror(_errno.EFAULT)
        out = bytearray()
        p = offset
        while size > 0:
            sz = min(size, self.page_size - (p & (self.page_size - 1)))
            allowed = self.page_is_allowed(p >> self.k.machine.page_shift)
            if not allowed:
                raise _oserror(_errno.EPERM)
            out += bytes(sz) if allowed == 2 else self._phys_read(p, sz)
            p, size = p + sz, size - sz
        return bytes(out)

    def write(self, offset: int, data: bytes) -> int:
        """write_mem(): store `data` at physical `offset`; bytes written, or the error raised."""
        size = len(data)
        if offset < 0:
            raise _oserror(_errno.EINVAL)
        if not self.valid_phys_addr_range(offset, size):
            raise _oserror(_errno.EFAULT)
        p, pos = offset, 0
        while pos < size:
            sz = min(size - pos, self.page_size - (p & (self.page_size - 1)))
            allowed = self.page_is_allowed(p >> self.k.machine.page_shift)
            if not allowed:
                raise _oserror(_errno.EPERM)
            if allowed == 1:  # 2: restricted, the write is skipped
                self.k.machine.ram.write(p, data[pos : pos + sz])
            p, pos = p + sz, pos + sz
        return size

    # ---------------------------------------------------------------- mmap
    def mmap(self, offset: int, size: int) -> DevMemMapping:
        """mmap_mem(): a MAP_SHARED mapping of [offset, offset + size) (page aligned offset)."""
        shift = self.k.machine.page_shift
        if offset & (self.page_size - 1) or size <= 0:
            raise _oserror(_errno.EINVAL)
        size = -(-size // self.page_size) * self.page_size
        phys_bits = 64 if self.k.machine.bits == 64 else 32
        if offset + size - 1 >= 1 << phys_bits:
            raise _oserror(_errno.EINVAL)
        if not self.range_is_allowed(offset >> shift, size):
            raise _oserror(_errno.EPERM)
        return DevMemMapping(self, offset, size)


class DevMemMapping:
    """A program's mapping of /dev/mem: loads and stores go to RAM or to the device there."""

    def __init__(self, devmem: DevMem, offset: int, size: int) -> None:
        self.devmem = devmem
        self.offset = offset
        self.size = size
        self.order: str = "big" if devmem.k.machine.big_endian else "little"

    def _pa(self, off: int, width: int) -> int:
        if off < 0 or off + width > self.size:
            raise _oserror(_errno.EFAULT)  # SIGSEGV in the program
        return self.offset + off

    def read(self, off: int, width: int) -> int:
        """A `width`-byte load at `off` in the mapping, in the CPU's byte order."""
        pa = self._pa(off, width)
        m = self.devmem.k.machine
        if m.is_ram(pa, width):
            data = bytes(m.ram.read(pa, width))
        else:
            data = m.bus.read(pa, width)  # BusError: the program's SIGBUS
        return int.from_bytes(data, self.order)  # type: ignore[arg-type]

    def write(self, off: int, width: int, value: int) -> None:
        """A `width`-byte store at `off` in the mapping."""
        pa = self._pa(off, width)
        m = self.devmem.k.machine
        data = (value & ((1 << (8 * width)) - 1)).to_bytes(width, self.order)  # type: ignore[arg-type]
        if m.is_ram(pa, width):
            m.ram.write(pa, data)
        else:
            m.bus.write(pa, data)

    def munmap(self) -> None:
        """munmap(): nothing to undo in the model."""


def devmem_init(k: Kernel) -> None:
    """chr_dev_init(): /dev/mem exists with CONFIG_DEVMEM (k.devmem), else k.devmem is None."""
    k.devmem = DevMem(k) if k.config["DEVMEM"] else None
