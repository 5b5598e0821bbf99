"""Model of kernel/resource.c: the iomem and ioport resource trees, /proc/iomem, /proc/ioports.

Two roots: iomem_resource ("PCI mem", the whole physical address space) and
ioport_resource ("PCI IO", 0..IO_SPACE_LIMIT: 0xffff on x86, 0xfffff on ARM).
Below a root, each resource's children are kept sorted by address and never
overlap. The rules are the kernel's:

* request_resource(root, new) puts `new` among root's children when it
  overlaps none of them, else returns the first one it overlaps (the
  conflict); -EBUSY.
* insert_resource(parent, new) goes down into a resource that contains
  `new`, and when `new` covers some siblings completely it becomes their
  parent: a producer (firmware, a bus) describes a range around what is
  already there. A partial overlap fails.
* __request_region(parent, start, n, name, flags) is a driver's claim: a new
  IORESOURCE_BUSY resource, allocated with kzalloc(sizeof(struct resource)).
  It goes down into a conflicting resource that is not busy (a bus window,
  "Reserved", a PCI BAR) and fails on a busy one (System RAM, another
  driver's claim): the second request_mem_region() of a range returns NULL.
* __release_region(parent, start, n) frees the busy resource of exactly that
  range, looking down through non-busy ones; anything else is "Trying to
  free nonexistent resource".

/proc/iomem and /proc/ioports walk the tree depth first (r_next) and print
each resource as r_show() does: two spaces of indent per level below the
root (at most MAX_IORES_LEVEL), start and end in hex zero-padded to 4 digits
when the root ends below 0x10000 and to 8 otherwise, and only zeros for a
reader without CAP_SYS_ADMIN (`k.cat(path, user=True)`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from kmemsim.include.linux.errno import EBUSY, EINVAL, ENOMEM, ERANGE
from kmemsim.include.linux.export import EXPORT_SYMBOL
from kmemsim.include.linux.gfp_types import GFP, GFP_KERNEL
from kmemsim.include.linux.ioport import (
    IORES_DESC,
    IORES_DESC_NONE,
    IORESOURCE_BUSY,
    IORESOURCE_EXCLUSIVE,
    IORESOURCE_EXT_TYPE_BITS,
    IORESOURCE_IO,
    IORESOURCE_MEM,
    IORESOURCE_MUXED,
    IORESOURCE_SYSTEM_RAM,
    IORESOURCE_TYPE_BITS,
    IORESOURCE_UNSET,
    REGION_DISJOINT,
    REGION_INTERSECTS,
    REGION_MIXED,
    Resource,
    resource_contains,
    resource_intersection,
    resource_overlaps,
)

if TYPE_CHECKING:
    from kmemsim.hw.machine import MMIOWindow
    from kmemsim.init.main import Kernel

MAX_IORES_LEVEL = 5

# IO_SPACE_LIMIT of arch/*/include/asm/io.h.
IO_SPACE_LIMIT = {"x86_64": 0xFFFF, "i386": 0xFFFF, "arm": 0xFFFFF}

# get_free_mem_region() flags (kernel/resource.c).
GFR_DESCENDING = 1 << 0
GFR_REQUEST_REGION = 1 << 1

WalkFunc = Callable[[Resource, Any], int]


def next_resource(
    p: Resource, skip_children: bool, subtree_root: Resource | None
) -> Resource | None:
    """next_resource(): depth-first successor of `p`, not leaving `subtree_root`."""
    if not skip_children and p.child is not None:
        return p.child
    while p.sibling is None and p.parent is not None:
        p = p.parent
        if p is subtree_root:
            return None
    return p.sibling


def for_each_resource(root: Resource, skip_children: bool = False) -> Iterator[Resource]:
    """for_each_resource(root, p, false): every resource below `root`, depth first."""
    p = root.child
    while p is not None:
        yield p
        p = next_resource(p, skip_children, root)


def _is_type_match(p: Resource, flags: int, desc: int) -> bool:
    """is_type_match(): all of `flags` set, and `desc` equal unless IORES_DESC_NONE."""
    return (p.flags & flags) == flags and (desc == IORES_DESC_NONE or desc == p.desc)


class ResourceTree:
    """The resource roots of one kernel and the kernel/resource.c API over them."""

    def __init__(self, k: Kernel) -> None:
        self.k = k
        arch = k.machine.arch
        # resource_size_t is phys_addr_t: 64 bits on x86_64, 32 on i386/ARM without (L)PAE.
        self.phys_bits = 64 if k.machine.bits == 64 else 32
        self.iomem_resource = Resource(
            start=0, end=(1 << self.phys_bits) - 1, name="PCI mem", flags=IORESOURCE_MEM
        )
        self.ioport_resource = Resource(
            start=0, end=IO_SPACE_LIMIT[arch], name="PCI IO", flags=IORESOURCE_IO
        )
        # sizeof(struct resource): start, end, name, flags, desc, parent, sibling, child.
        self.sizeof_resource = 8 * (8 if k.machine.bits == 64 else 4)
        self.booting = False

    # ------------------------------------------------------------------ allocation
    def alloc_resource(self) -> Resource | None:
        """alloc_resource(): kzalloc(sizeof(struct resource), GFP_KERNEL); None when it fails."""
        from kmemsim.mm.slab_common import slab_is_available

        if not slab_is_available(self.k) or self.booting:
            # Before kmem_cache_init(), and for the regions the profile's built-in
            # drivers claim while booting: a resource of no kmalloc object (the model
            # keeps the kmalloc caches empty after boot, as its other parts expect).
            return Resource()
        addr = self.k.slab.kmalloc(self.sizeof_resource, int(GFP_KERNEL | GFP.ZERO))
        if not addr:
            return None
        return Resource(addr=addr)

    def free_resource(self, res: Resource | None) -> None:
        """free_resource(): kfree() what alloc_resource() took from the slab."""
        if res is not None and res.addr:
            self.k.slab.kfree(res.addr)
            res.addr = 0

    # ------------------------------------------------------------------ the tree
    @staticmethod
    def _request(root: Resource, new: Resource) -> Resource | None:
        """__request_resource(): None when inserted, else the conflict (or root itself)."""
        start, end = new.start, new.end
        if end < start or start < root.start or end > root.end:
            return root
        prev: Resource | None = None
        tmp = root.child
        while True:
            if tmp is None or tmp.start > end:
                new.sibling = tmp
                if prev is None:
                    root.child = new
                else:
                    prev.sibling = new
                new.parent = root
                return None
            if tmp.end < start:
                prev, tmp = tmp, tmp.sibling
                continue
            return tmp

    @staticmethod
    def _release(old: Resource, release_child: bool) -> int:
        """__release_resource(): unlink `old`; its children move up unless release_child."""
        parent = old.parent
        if parent is None:
            return -EINVAL
        prev: Resource | None = None
        tmp = parent.child
        while tmp is not None:
            if tmp is old:
                if release_child or old.child is None:
                    repl = old.sibling
                else:
                    chd = old.child
                    while True:
                        chd.parent = parent
                        if chd.sibling is None:
                            break
                        chd = chd.sibling
                    repl = old.child
                    chd.sibling = old.sibling
                if prev is None:
                    parent.child = repl
                else:
                    prev.sibling = repl
                old.parent = None
                return 0
            prev, tmp = tmp, tmp.sibling
        return -EINVAL

    def _insert(self, parent: Resource, new: Resource) -> Resource | None:
        """__insert_resource(): None when inserted, else the conflicting resource."""
        while True:
            first = self._request(parent, new)
            if first is None or first is parent:
                return first
            if first is new:  # duplicated insertion
                self._warn("__insert_resource")
                return first
            if first.start > new.start or first.end < new.end:
                break
            if first.start == new.start and first.end == new.end:
                break
            parent = first
        nxt = first
        while True:
            if nxt.start < new.start or nxt.end > new.end:  # partial overlap: unfixable
                return nxt
            if nxt.sibling is None or nxt.sibling.start > new.end:
                break
            nxt = nxt.sibling
        new.parent = parent
        new.sibling = nxt.sibling
        new.child = first
        nxt.sibling = None
        c: Resource | None = first
        while c is not None:
            c.parent = new
            c = c.sibling
        if parent.child is first:
            parent.child = new
        else:
            c = parent.child
            while c is not None and c.sibling is not first:
                c = c.sibling
            assert c is not None
            c.sibling = new
        return None

    def _warn(self, function: str) -> None:
        from kmemsim.mm.debug import warn

        warn(self.k, "kernel/resource.c", function)

    # ------------------------------------------------------------------ exported API
    @EXPORT_SYMBOL
    def request_resource_conflict(self, root: Resource, new: Resource) -> Resource | None:
        """request_resource_conflict(): None when `new` went in, else the resource in the way."""
        return self._request(root, new)

    @EXPORT_SYMBOL
    def request_resource(self, root: Resource, new: Resource) -> int:
        """request_resource(root, new): 0, or -EBUSY when `new` overlaps a child of root."""
        return -EBUSY if self._request(root, new) is not None else 0

    @EXPORT_SYMBOL
    def release_resource(self, old: Resource) -> int:
        """release_resource(old): unlink `old` and everything below it; 0 or -EINVAL."""
        return self._release(old, True)

    @EXPORT_SYMBOL
    def insert_resource_conflict(self, parent: Resource, new: Resource) -> Resource | None:
        """insert_resource_conflict(): None when inserted, else the conflicting resource."""
        return self._insert(parent, new)

    @EXPORT_SYMBOL
    def insert_resource(self, parent: Resource, new: Resource) -> int:
        """insert_resource(parent, new): 0, or -EBUSY on a partial overlap."""
        return -EBUSY if self._insert(parent, new) is not None else 0

    @EXPORT_SYMBOL
    def insert_resource_expand_to_fit(self, root: Resource, new: Resource) -> None:
        """insert_resource_expand_to_fit(): grow `new` over what it partly overlaps, insert."""
        if new.parent is not None:
            return
        while True:
            conflict = self._insert(root, new)
            if conflict is None or conflict is root:
                break
            new.start = min(new.start, conflict.start)
            new.end = max(new.end, conflict.end)
            self.k.log.pr_info(f"Expanded resource {new.name} due to conflict with {conflict.name}")

    @EXPORT_SYMBOL
    def remove_resource(self, old: Resource) -> int:
        """remove_resource(old): unlink `old`, its children move up to where they were."""
        return self._release(old, False)

    @EXPORT_SYMBOL
    def adjust_resource(self, res: Resource, start: int, size: int) -> int:
        """adjust_resource(res, start, size): move/resize within parent and siblings, or -EBUSY."""
        end = start + size - 1
        parent = res.parent
        if parent is not None:
            if start < parent.start or end > parent.end:
                return -EBUSY
            if res.sibling is not None and res.sibling.start <= end:
                return -EBUSY
            tmp = parent.child
            if tmp is not res:
                while tmp is not None and tmp.sibling is not res:
                    tmp = tmp.sibling
                if tmp is not None and start <= tmp.end:
                    return -EBUSY
        for c in res.children():
            if c.start < start or c.end > end:
                return -EBUSY
        res.start, res.end = start, end
        return 0

    @EXPORT_SYMBOL
    def lookup_resource(self, root: Resource, start: int) -> Resource | None:
        """lookup_resource(root, start): the child of root that starts at `start`, or None."""
        for r in root.children():
            if r.start == start:
                return r
        return None

    @EXPORT_SYMBOL
    def allocate_resource(
        self,
        root: Resource,
        new: Resource,
        size: int,
        min: int,
        max: int,
        align: int,
        alignf: Callable[[Any, Resource, int, int], int] | None = None,
        alignf_data: Any = None,
    ) -> int:
        """allocate_resource(): the first free aligned slot of `size` in [min, max]; 0 or -EBUSY."""
        if alignf is None:
            alignf = _simple_align_resource
        if new.parent is not None:
            return self._reallocate(root, new, size, min, max, align, alignf, alignf_data)
        err = self._find_resource(root, None, new, size, min, max, align, alignf, alignf_data)
        if err >= 0 and self._request(root, new) is not None:
            err = -EBUSY
        return err

    def _find_resource(
        self,
        root: Resource,
        old: Resource | None,
        new: Resource,
        size: int,
        cmin: int,
        cmax: int,
        align: int,
        alignf: Callable[[Any, Resource, int, int], int],
        alignf_data: Any,
    ) -> int:
        """__find_resource(): an empty slot among root's children (old's own range counts free)."""
        this = root.child
        tstart = root.start
        if this is not None and this.start == root.start:
            tstart = old.start if this is old and old is not None else this.end + 1
            this = this.sibling
        while True:
            if this is not None:
                tend = this.end if this is old else this.start - 1
            else:
                tend = root.end
            if tend >= tstart:
                s, e = max(tstart, cmin), min(tend, cmax)
                a = align or 1
                avail_start = (s + a - 1) // a * a
                if avail_start >= s:
                    avail = Resource(start=avail_start, end=e, flags=new.flags & ~IORESOURCE_UNSET)
                    astart = alignf(alignf_data, avail, size, align)
                    aend = astart + size - 1
                    if astart <= aend and avail.start <= astart and aend <= avail.end:
                        new.start, new.end = astart, aend
                        return 0
            if this is None or this.end == root.end:
                break
            if this is not old:
                tstart = this.end + 1
            this = this.sibling
        return -EBUSY

    def _reallocate(
        self,
        root: Resource,
        old: Resource,
        newsize: int,
        cmin: int,
        cmax: int,
        align: int,
        alignf: Callable[[Any, Resource, int, int], int],
        alignf_data: Any,
    ) -> int:
        """reallocate_resource()."""
        new = Resource(start=old.start, end=old.end, name=old.name, flags=old.flags, desc=old.desc)
        err = self._find_resource(root, old, new, newsize, cmin, cmax, align, alignf, alignf_data)
        if err:
            return err
        if resource_contains(new, old):
            old.start, old.end = new.start, new.end
            return 0
        if old.child is not None:
            return -EBUSY
        if resource_contains(old, new):
            old.start, old.end = new.start, new.end
        else:
            self._release(old, True)
            old.start, old.end = new.start, new.end
            if self._request(root, old) is not None:
                raise AssertionError("reallocate_resource: BUG_ON(conflict)")
        return 0

    # ------------------------------------------------------------------ regions (drivers)
    def _request_region_locked(
        self, res: Resource, parent: Resource, start: int, n: int, name: str | None, flags: int
    ) -> int:
        """__request_region_locked(): claim [start, start+n) below `parent`; 0 or -EBUSY."""
        res.name = name
        res.start = start
        res.end = start + n - 1
        while True:
            res.flags = (parent.flags & (IORESOURCE_TYPE_BITS | IORESOURCE_EXT_TYPE_BITS)) | (
                IORESOURCE_BUSY | flags
            )
            res.desc = parent.desc
            conflict = self._request(parent, res)
            if conflict is None:
                return 0
            if parent is self.iomem_resource and conflict.desc == IORES_DESC.DEVICE_PRIVATE_MEMORY:
                from kmemsim.include.linux.ioport import pR

                self.k.log.pr_warn(
                    f"resource: Unaddressable device {conflict.name} {pR(conflict)} "
                    f"conflicts with {pR(res)}"
                )
            if conflict is not parent and not conflict.flags & IORESOURCE_BUSY:
                parent = conflict
                continue
            # IORESOURCE_MUXED: the kernel sleeps until the holder releases it; with
            # one task in the model that never happens, so the claim fails as busy.
            return -EBUSY

    @EXPORT_SYMBOL("__request_region")
    def request_region_in(
        self, parent: Resource, start: int, n: int, name: str | None, flags: int = 0
    ) -> Resource | None:
        """__request_region(parent, start, n, name, flags): a busy resource, or None (NULL)."""
        res = self.alloc_resource()
        if res is None:
            return None
        if self._request_region_locked(res, parent, start, n, name, int(flags)):
            self.free_resource(res)
            return None
        return res

    @EXPORT_SYMBOL
    def request_mem_region(self, start: int, n: int, name: str | None) -> Resource | None:
        """request_mem_region(start, n, name): claim I/O memory; NULL when someone holds it."""
        return self.request_region_in(self.iomem_resource, start, n, name, 0)

    @EXPORT_SYMBOL
    def request_mem_region_muxed(self, start: int, n: int, name: str | None) -> Resource | None:
        """request_mem_region_muxed()."""
        return self.request_region_in(self.iomem_resource, start, n, name, IORESOURCE_MUXED)

    @EXPORT_SYMBOL
    def request_mem_region_exclusive(self, start: int, n: int, name: str | None) -> Resource | None:
        """request_mem_region_exclusive(): also closed to /dev/mem (IORESOURCE_EXCLUSIVE)."""
        return self.request_region_in(self.iomem_resource, start, n, name, IORESOURCE_EXCLUSIVE)

    @EXPORT_SYMBOL
    def request_region(self, start: int, n: int, name: str | None) -> Resource | None:
        """request_region(start, n, name): claim I/O ports; NULL when someone holds them."""
        return self.request_region_in(self.ioport_resource, start, n, name, 0)

    @EXPORT_SYMBOL
    def request_muxed_region(self, start: int, n: int, name: str | None) -> Resource | None:
        """request_muxed_region()."""
        return self.request_region_in(self.ioport_resource, start, n, name, IORESOURCE_MUXED)

    @EXPORT_SYMBOL("__release_region")
    def release_region_in(self, parent: Resource, start: int, n: int) -> None:
        """__release_region(parent, start, n): free the busy resource of exactly that range."""
        end = start + n - 1
        prev: Resource | None = None
        owner = parent
        res = parent.child
        while res is not None:
            if res.start <= start and res.end >= end:
                if not res.flags & IORESOURCE_BUSY:
                    owner, prev, res = res, None, res.child
                    continue
                if res.start != start or res.end != end:
                    break
                if prev is None:
                    owner.child = res.sibling
                else:
                    prev.sibling = res.sibling
                res.parent = None
                self.free_resource(res)
                return
            prev, res = res, res.sibling
        w = self.phys_bits // 4
        self.k.log.pr_warn(
            f"resource: Trying to free nonexistent resource <{start:#0{w + 2}x}-{end:#0{w + 2}x}>"
        )

    @EXPORT_SYMBOL
    def release_mem_region(self, start: int, n: int) -> None:
        """release_mem_region(start, n)."""
        self.release_region_in(self.iomem_resource, start, n)

    @EXPORT_SYMBOL
    def release_region(self, start: int, n: int) -> None:
        """release_region(start, n): give back I/O ports."""
        self.release_region_in(self.ioport_resource, start, n)

    @EXPORT_SYMBOL
    def iomem_is_exclusive(self, addr: int) -> bool:
        """iomem_is_exclusive(): may /dev/mem not touch the page of `addr`?"""
        page = self.k.machine.page_size
        return self.resource_is_exclusive(self.iomem_resource, addr & ~(page - 1), page)

    def resource_is_exclusive(self, root: Resource, addr: int, size: int) -> bool:
        """resource_is_exclusive(): exclusive System RAM, or (strict) a busy resource in range."""
        # strict_iomem_checks: 1 with CONFIG_STRICT_DEVMEM (the iomem= parameter aside).
        strict = bool(self.k.config["STRICT_DEVMEM"])
        io_strict = bool(self.k.config["IO_STRICT_DEVMEM"])
        excl_ram = IORESOURCE_SYSTEM_RAM | IORESOURCE_EXCLUSIVE
        skip = False
        p = root.child
        while p is not None:
            if p.start >= addr + size:
                break
            if p.end < addr:
                skip = True
            else:
                skip = False
                if p.flags & excl_ram == excl_ram:
                    return True
                if (
                    strict
                    and p.flags & IORESOURCE_BUSY
                    and (io_strict or p.flags & IORESOURCE_EXCLUSIVE)
                ):
                    return True
            p = next_resource(p, skip, root)
        return False

    # ------------------------------------------------------------------ queries
    def _region_intersects(
        self, parent: Resource, start: int, size: int, flags: int, desc: int
    ) -> int:
        """__region_intersects(): matching resources overlap, with no other one uncovered?"""
        res = Resource(start=start, end=start + size - 1)
        o = Resource()
        type_, other = 0, 0
        for p in parent.children():
            if not resource_intersection(p, res, o):
                continue
            if _is_type_match(p, flags, desc):
                type_ += 1
                continue
            # A matching descendant covers part of p: search below, as if p were split.
            covered = False
            for dp in for_each_resource(p):
                if not resource_overlaps(dp, o):
                    continue
                if _is_type_match(dp, flags, desc):
                    type_ += 1
                    if dp.start > o.start:
                        break
                    if dp.end >= o.end:
                        covered = True
                        break
                    o.start = max(o.start, dp.end + 1)
            if not covered:
                other += 1
        if type_ == 0:
            return REGION_DISJOINT
        if other == 0:
            return REGION_INTERSECTS
        return REGION_MIXED

    @EXPORT_SYMBOL
    def region_intersects(self, start: int, size: int, flags: int, desc: int) -> int:
        """region_intersects(start, size, flags, desc): REGION_DISJOINT, _INTERSECTS or _MIXED."""
        return self._region_intersects(self.iomem_resource, start, size, int(flags), int(desc))

    def find_next_iomem_res(self, start: int, end: int, flags: int, desc: int) -> Resource | None:
        """find_next_iomem_res(): the first matching resource in [start, end], clipped to it."""
        if start >= end:
            return None
        for p in for_each_resource(self.iomem_resource):
            if p.start > end:
                return None
            if p.end < start:
                continue
            if _is_type_match(p, flags, desc):
                return Resource(
                    start=max(start, p.start),
                    end=min(end, p.end),
                    name=p.name,
                    flags=p.flags,
                    desc=p.desc,
                    parent=p.parent,
                )
        return None

    def _walk_iomem_res_desc(
        self, start: int, end: int, flags: int, desc: int, arg: Any, func: WalkFunc
    ) -> int:
        """__walk_iomem_res_desc(): func(res, arg) for each match until one returns non-zero."""
        ret = -EINVAL
        while start < end:
            res = self.find_next_iomem_res(start, end, flags, desc)
            if res is None:
                break
            ret = func(res, arg)
            if ret:
                break
            start = res.end + 1
        return ret

    @EXPORT_SYMBOL
    def walk_iomem_res_desc(
        self, desc: int, flags: int, start: int, end: int, arg: Any, func: WalkFunc
    ) -> int:
        """walk_iomem_res_desc(desc, flags, start, end, arg, func): the whole tree, depth first."""
        return self._walk_iomem_res_desc(start, end, int(flags), int(desc), arg, func)

    @EXPORT_SYMBOL
    def walk_system_ram_res(self, start: int, end: int, arg: Any, func: WalkFunc) -> int:
        """walk_system_ram_res(): func over busy System RAM in [start, end]."""
        flags = IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY
        return self._walk_iomem_res_desc(start, end, flags, IORES_DESC_NONE, arg, func)

    @EXPORT_SYMBOL
    def walk_mem_res(self, start: int, end: int, arg: Any, func: WalkFunc) -> int:
        """walk_mem_res(): func over busy memory resources in [start, end]."""
        flags = IORESOURCE_MEM | IORESOURCE_BUSY
        return self._walk_iomem_res_desc(start, end, flags, IORES_DESC_NONE, arg, func)

    @EXPORT_SYMBOL
    def walk_system_ram_range(
        self, start_pfn: int, nr_pages: int, arg: Any, func: Callable[[int, int, Any], int]
    ) -> int:
        """walk_system_ram_range(): func(pfn, nr_pages, arg) over whole System RAM pages."""
        shift = self.k.machine.page_shift
        start = start_pfn << shift
        end = ((start_pfn + nr_pages) << shift) - 1
        flags = IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY
        ret = -EINVAL
        while start < end:
            res = self.find_next_iomem_res(start, end, flags, IORES_DESC_NONE)
            if res is None:
                break
            pfn = (res.start + (1 << shift) - 1) >> shift
            end_pfn = (res.end + 1) >> shift
            if end_pfn > pfn:
                ret = func(pfn, end_pfn - pfn, arg)
            if ret:
                break
            start = res.end + 1
        return ret

    @EXPORT_SYMBOL
    def page_is_ram(self, pfn: int) -> bool:
        """page_is_ram(pfn): is the frame registered as System RAM in iomem_resource?"""
        return self.walk_system_ram_range(pfn, 1, None, lambda _p, _n, _a: 1) == 1

    @EXPORT_SYMBOL
    def alloc_free_mem_region(
        self, base: Resource, size: int, align: int, name: str | None
    ) -> Resource | int:
        """alloc_free_mem_region(): a free, aligned, exclusive range of `base`, inserted.

        Returns the new resource, or ERR_PTR(-ERANGE) / ERR_PTR(-ENOMEM) as an
        error pointer (a negative int)."""
        return self.get_free_mem_region(base, size, align, name, IORES_DESC_NONE, 0)

    def get_free_mem_region(
        self, base: Resource, size: int, align: int, name: str | None, desc: int, flags: int
    ) -> Resource | int:
        """get_free_mem_region() without a device: ascending (or GFR_DESCENDING) search."""
        size = (size + align - 1) // align * align
        res = self.alloc_resource()
        if res is None:
            return -ENOMEM
        max_phys = (1 << (46 if self.phys_bits == 64 else 32)) - 1
        if flags & GFR_DESCENDING:
            addr = min(base.end, max_phys) - size + 1
        else:
            addr = max(base.start, align)
            addr = (addr + align - 1) // align * align
        while True:
            if flags & GFR_DESCENDING:
                if not (addr > size and addr >= base.start):
                    break
            elif not (addr > addr - size and addr <= min(base.end, max_phys)):
                break
            if self._region_intersects(base, addr, size, 0, IORES_DESC_NONE) == REGION_DISJOINT:
                if flags & GFR_REQUEST_REGION:
                    if self._request_region_locked(res, self.iomem_resource, addr, size, name, 0):
                        break
                    res.desc = desc
                    return res
                res.start, res.end, res.name, res.desc = addr, addr + size - 1, name, desc
                res.flags = IORESOURCE_MEM
                if self._insert(base, res) is not None or res.child is not None:
                    break
                return res
            addr = addr - align if flags & GFR_DESCENDING else addr + align
        self.free_resource(res)
        return -ERANGE

    # ------------------------------------------------------------------ /proc
    def r_show(self, root: Resource, capable: bool) -> str:
        """/proc/iomem and /proc/ioports: r_start/r_next/r_show over the tree."""
        width = 4 if root.end < 0x10000 else 8
        lines = []
        for r in for_each_resource(root):
            depth = 0
            p = r
            while depth < MAX_IORES_LEVEL:
                if p.parent is root or p.parent is None:
                    break
                p = p.parent
                depth += 1
            start, end = (r.start, r.end) if capable else (0, 0)
            lines.append(
                f"{'':{depth * 2}}{start:0{width}x}-{end:0{width}x} : "
                f"{r.name if r.name is not None else '<BAD>'}\n"
            )
        return "".join(lines)


def _simple_align_resource(data: Any, avail: Resource, size: int, align: int) -> int:
    """simple_align_resource(): the start of the available range."""
    return avail.start


def _place(tree: ResourceTree, root: Resource, w: MMIOWindow) -> None:
    """A profile range: a bus window or firmware range is inserted (insert_resource, it may
    nest what is there); a busy one is a built-in driver's __request_region()."""
    if w.busy:
        tree.request_region_in(root, w.start, w.end - w.start + 1, w.name, 0)
        return
    res = Resource(start=w.start, end=w.end, name=w.name, flags=root.flags & IORESOURCE_TYPE_BITS)
    tree.insert_resource(root, res)


def ioresources_late_init(k: Kernel) -> None:
    """The initcalls that fill the resource trees after setup_arch(), in the kernel's order.

    subsys_initcall: the buses' windows and firmware ranges of the profile
    ([[mmio]], [[ioport]] in their order); fs_initcall: on x86,
    e820__reserve_resources_late(); device_initcall: the regions the board's
    built-in drivers claim (each [[device]]'s claims; when the driver model
    is up, k.platform, its built-in drivers claim them); late_initcall: the
    ranges marked late (the IOAPIC and local APIC resources of x86). Then
    /proc/iomem and /proc/ioports exist."""
    tree = k.resource
    m = k.machine
    tree.booting = True
    for w in m.mmio:
        if not w.late:
            _place(tree, tree.iomem_resource, w)
    for w in m.ioports:
        if not w.late:
            _place(tree, tree.ioport_resource, w)
    table = k.e820_table
    if table is not None:
        from kmemsim.arch.x86.kernel.e820 import e820__reserve_resources_late

        e820__reserve_resources_late(k, table)
    # A device with a built-in driver has its regions claimed by that driver, which binds
    # at device_initcall and claims them through devres (builtin_drivers_init), so that
    # unbinding gives them back; the claims of a device without one are placed here.
    for d in m.devices:
        if d.driver:
            continue  # its built-in driver claims them when it binds (builtin_drivers_init)
        for root, claims in ((tree.iomem_resource, d.claims), (tree.ioport_resource, d.io_claims)):
            for start, end, name in claims:
                if tree.request_region_in(root, start, end - start + 1, name, 0) is None:
                    digits = 4 if root is tree.ioport_resource else tree.phys_bits // 4
                    k.log.pr_err(
                        f"{d.name}: can't request region "
                        f"[{start:#0{digits + 2}x}-{end:#0{digits + 2}x}]"
                    )
    from kmemsim.drivers.base.platform import builtin_drivers_init

    builtin_drivers_init(k)  # device_initcall: the board's drivers bind and claim
    for w in m.mmio:
        if w.late:
            _place(tree, tree.iomem_resource, w)
    for w in m.ioports:
        if w.late:
            _place(tree, tree.ioport_resource, w)
    tree.booting = False
    ioresources_init(k)


def ioresources_init(k: Kernel) -> None:
    """ioresources_init(): /proc/ioports and /proc/iomem (root sees addresses, others zeros)."""
    tree = k.resource
    k.fs.create_file(
        "/proc/ioports", lambda: tree.r_show(tree.ioport_resource, k.fs.reader_capable)
    )
    k.fs.create_file("/proc/iomem", lambda: tree.r_show(tree.iomem_resource, k.fs.reader_capable))
