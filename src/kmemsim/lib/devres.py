"""Model of lib/devres.c (managed ioremap) and of kernel/resource.c's managed regions.

devm_ioremap() is ioremap() with a devres holding the cookie: iounmap() runs
when the device's resources are released. devm_request_mem_region() is
__devm_request_region(dev, &iomem_resource, ...) of kernel/resource.c: the
region is requested with __request_region() and a devres (parent, start, n)
releases it with __release_region().

devm_ioremap_resource(dev, res) does what a driver needs for a memory
resource, each step managed, in this order (so released in the reverse):

1. a "pretty name" for /proc/iomem, devm_kasprintf("%s %s", dev_name(dev),
   res->name) or devm_kstrdup(dev_name(dev)) when the resource has no name
   (failure: -ENOMEM, "can't generate pretty name for resource %pR");
2. devm_request_mem_region(dev, res->start, size, pretty_name) (failure:
   -EBUSY, "can't request region for resource %pR");
3. devm_ioremap(), or devm_ioremap_np() for IORESOURCE_MEM_NONPOSTED
   (failure: the region is given back, -ENOMEM, "ioremap failed for
   resource %pR").

A resource that is missing or not IORESOURCE_MEM is -EINVAL ("invalid
resource %pR", "(null)" for none). Errors are reported with dev_err_probe()
("error -EBUSY: can't request region for resource [mem
0x44e09000-0x44e0901f]"; -ENOMEM silently) and returned as ERR_PTR() values.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kmemsim.drivers.base.core import Device, dev_name
from kmemsim.include.linux.err import ERR_PTR
from kmemsim.include.linux.errno import EBUSY, EINVAL, ENOMEM
from kmemsim.include.linux.export import EXPORT_SYMBOL
from kmemsim.include.linux.gfp_types import GFP_KERNEL
from kmemsim.include.linux.ioport import IORESOURCE_MEM, Resource, pR, resource_type

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

# include/linux/ioport.h: IORESOURCE_MEM_NONPOSTED, a bus-specific bit of a memory resource.
IORESOURCE_MEM_NONPOSTED = 1 << 5


def devm_ioremap_release(dev: Device, res: int) -> None:
    """devm_ioremap_release(): iounmap() of the cookie (run through the node's payload)."""


def devm_region_release(dev: Device, res: int) -> None:
    """devm_region_release() (kernel/resource.c): __release_region() (through the payload)."""


class DevmIoremapType(enum.IntEnum):
    """enum devm_ioremap_type (lib/devres.c): which ioremap() __devm_ioremap() calls."""

    DEVM_IOREMAP = 0
    DEVM_IOREMAP_UC = 1
    DEVM_IOREMAP_WC = 2
    DEVM_IOREMAP_NP = 3


@dataclass(eq=False)
class _IoMap:
    """The cookie devm_ioremap() keeps in its devres (void __iomem *)."""

    k: Any
    addr: int

    def release(self) -> None:
        self.k.iounmap(self.addr)


@dataclass(eq=False)
class _Region:
    """struct region_devres (kernel/resource.c): parent, start, n."""

    k: Any
    parent: Resource
    start: int
    n: int

    def release(self) -> None:
        self.k.resource.release_region_in(self.parent, self.start, self.n)  # __release_region()


def _pr(res: Resource | None) -> str:
    """%pR, "(null)" for a NULL pointer (check_pointer())."""
    return pR(res) if res is not None else "(null)"


class ManagedIO:
    """lib/devres.c and the devm_ parts of kernel/resource.c for one kernel."""

    def __init__(self, k: Kernel) -> None:
        self.k = k

    def _err_ptr(self, err: int) -> int:
        return ERR_PTR(err, self.k.machine.bits)

    # ------------------------------------------------------------------ regions
    @EXPORT_SYMBOL("__devm_request_region", "devm_request_region_in")
    def devm_request_region_in(
        self, dev: Device, parent: Resource, start: int, n: int, name: str | None
    ) -> Resource | None:
        """__devm_request_region(dev, parent, start, n, name) (kernel/resource.c)."""
        devres = self.k.devres
        word = devres.word
        node = devres.alloc_payload(devm_region_release, 3 * word, "devm_region_release", None)
        if node is None:
            return None
        res = self.k.resource.request_region_in(parent, start, n, name, 0)  # __request_region()
        if res is not None:
            node.payload = _Region(self.k, parent, start, n)
            devres.devres_add(dev, node.data)
        else:
            devres.devres_free(node.data)
        return res

    @EXPORT_SYMBOL
    def devm_request_mem_region(
        self, dev: Device, start: int, n: int, name: str | None
    ) -> Resource | None:
        """devm_request_mem_region(dev, start, n, name) (include/linux/ioport.h): a managed
        request_mem_region(); None (NULL) when the range is busy."""
        return self.devm_request_region_in(dev, self.k.resource.iomem_resource, start, n, name)

    @EXPORT_SYMBOL
    def devm_request_region(
        self, dev: Device, start: int, n: int, name: str | None
    ) -> Resource | None:
        """devm_request_region(dev, start, n, name) (include/linux/ioport.h): I/O ports."""
        return self.devm_request_region_in(dev, self.k.resource.ioport_resource, start, n, name)

    def _release_region(self, dev: Device, parent: Resource, start: int, n: int, fn: str) -> None:
        """__devm_release_region(): WARN_ON when the device holds no such region."""
        devres = self.k.devres
        for node in reversed(dev.devres_head or []):
            p = node.payload
            if (
                node.release is devm_region_release
                and isinstance(p, _Region)
                and (p.parent is parent and p.start == start and p.n == n)
            ):
                devres._remove(dev, node)
                devres._call_release(dev, node)
                devres._free_dr(node)
                return
        from kmemsim.mm.debug import warn

        warn(self.k, "kernel/resource.c", fn, once=False)

    @EXPORT_SYMBOL("__devm_release_region", "devm_release_region_in")
    def devm_release_region_in(self, dev: Device, parent: Resource, start: int, n: int) -> None:
        """__devm_release_region(dev, parent, start, n) (kernel/resource.c)."""
        self._release_region(dev, parent, start, n, "__devm_release_region")

    @EXPORT_SYMBOL
    def devm_release_mem_region(self, dev: Device, start: int, n: int) -> None:
        """devm_release_mem_region(dev, start, n) (include/linux/ioport.h)."""
        self._release_region(dev, self.k.resource.iomem_resource, start, n, "__devm_release_region")

    # ------------------------------------------------------------------ ioremap
    def _devm_ioremap(self, dev: Device, offset: int, size: int, how: DevmIoremapType) -> int:
        """__devm_ioremap(): a devres for the cookie, then the mapping; 0 (NULL) on failure."""
        k = self.k
        ioremap: Callable[[int, int], int] = {
            DevmIoremapType.DEVM_IOREMAP: k.ioremap,
            DevmIoremapType.DEVM_IOREMAP_UC: k.ioremap_uc,
            DevmIoremapType.DEVM_IOREMAP_WC: k.ioremap_wc,
            DevmIoremapType.DEVM_IOREMAP_NP: k.ioremap_np,
        }[how]
        devres = self.k.devres
        node = devres.alloc_payload(devm_ioremap_release, devres.word, "devm_ioremap_release", None)
        if node is None:
            return 0
        addr = int(ioremap(offset, size) or 0)
        if addr:
            node.payload = _IoMap(self.k, addr)
            devres.devres_add(dev, node.data)
        else:
            devres.devres_free(node.data)
        return addr

    @EXPORT_SYMBOL
    def devm_ioremap(self, dev: Device, offset: int, size: int) -> int:
        """devm_ioremap(dev, offset, size) (lib/devres.c): a managed ioremap(); 0 on failure."""
        return self._devm_ioremap(dev, offset, size, DevmIoremapType.DEVM_IOREMAP)

    @EXPORT_SYMBOL
    def devm_ioremap_uc(self, dev: Device, offset: int, size: int) -> int:
        """devm_ioremap_uc(dev, offset, size) (lib/devres.c)."""
        return self._devm_ioremap(dev, offset, size, DevmIoremapType.DEVM_IOREMAP_UC)

    @EXPORT_SYMBOL
    def devm_ioremap_wc(self, dev: Device, offset: int, size: int) -> int:
        """devm_ioremap_wc(dev, offset, size) (lib/devres.c)."""
        return self._devm_ioremap(dev, offset, size, DevmIoremapType.DEVM_IOREMAP_WC)

    @EXPORT_SYMBOL
    def devm_ioremap_np(self, dev: Device, offset: int, size: int) -> int:
        """devm_ioremap_np(dev, offset, size) (lib/devres.c): non-posted writes."""
        return self._devm_ioremap(dev, offset, size, DevmIoremapType.DEVM_IOREMAP_NP)

    @EXPORT_SYMBOL
    def devm_iounmap(self, dev: Device, addr: int) -> None:
        """devm_iounmap(dev, addr) (lib/devres.c): WARN_ON when not devm-mapped; iounmap()."""
        devres = self.k.devres
        for node in reversed(dev.devres_head or []):
            p = node.payload
            if node.release is devm_ioremap_release and isinstance(p, _IoMap) and p.addr == addr:
                devres._remove(dev, node)
                devres._free_dr(node)
                break
        else:
            from kmemsim.mm.debug import warn

            warn(self.k, "lib/devres.c", "devm_iounmap", once=False)
        self.k.iounmap(addr)

    def _ioremap_resource(self, dev: Device, res: Resource | None, how: DevmIoremapType) -> int:
        """__devm_ioremap_resource(): name, request, map; ERR_PTR() values on failure."""
        k = self.k
        if res is None or resource_type(res) != IORESOURCE_MEM:
            return self._err_ptr(k.dev_err_probe(dev, -EINVAL, "invalid resource %s\n", _pr(res)))
        if how == DevmIoremapType.DEVM_IOREMAP and res.flags & IORESOURCE_MEM_NONPOSTED:
            how = DevmIoremapType.DEVM_IOREMAP_NP
        size = res.end - res.start + 1
        if res.name:
            pretty = k.devm_kasprintf(dev, GFP_KERNEL, "%s %s", dev_name(dev), res.name)
            pretty_name = f"{dev_name(dev)} {res.name}"
        else:
            pretty = k.devm_kstrdup(dev, dev_name(dev), GFP_KERNEL)
            pretty_name = dev_name(dev)
        if not pretty:
            err = k.dev_err_probe(
                dev, -ENOMEM, "can't generate pretty name for resource %s\n", pR(res)
            )
            return self._err_ptr(err)
        if self.devm_request_mem_region(dev, res.start, size, pretty_name) is None:
            err = k.dev_err_probe(dev, -EBUSY, "can't request region for resource %s\n", pR(res))
            return self._err_ptr(err)
        dest = self._devm_ioremap(dev, res.start, size, how)
        if not dest:
            self.devm_release_mem_region(dev, res.start, size)
            err = k.dev_err_probe(dev, -ENOMEM, "ioremap failed for resource %s\n", pR(res))
            return self._err_ptr(err)
        return dest

    @EXPORT_SYMBOL
    def devm_ioremap_resource(self, dev: Device, res: Resource | None) -> int:
        """devm_ioremap_resource(dev, res) (lib/devres.c): check, request and map a memory
        resource, all managed; the __iomem address, or an ERR_PTR() value (-EINVAL,
        -EBUSY, -ENOMEM) with the kernel's message."""
        return self._ioremap_resource(dev, res, DevmIoremapType.DEVM_IOREMAP)

    @EXPORT_SYMBOL
    def devm_ioremap_resource_wc(self, dev: Device, res: Resource | None) -> int:
        """devm_ioremap_resource_wc(dev, res) (lib/devres.c): write-combined."""
        return self._ioremap_resource(dev, res, DevmIoremapType.DEVM_IOREMAP_WC)
