"""Model of drivers/base/devres.c: device resource management (the devm_* functions).

Every managed resource of a device is a struct devres on the device's
devres_head list: a node (the list links, the release function, a name and
a size for debugging) followed by the resource's data, allocated in one
kmalloc of kmalloc_size_roundup(sizeof(struct devres) + size). The data is
aligned to ARCH_DMA_MINALIGN, so sizeof(struct devres) is 40 bytes on x86_64
(five 8-byte words), 24 on i386 (20 rounded up to 8) and 64 on ARM (one L1
cache line): devm_kmalloc(dev, 100, GFP_KERNEL) takes a kmalloc-192 object
on x86_64 and returns the address 40 bytes into it.

devres_add() appends to the list; devres_release_all(), called by the
driver core when a probe fails and after remove() on unbind, takes every
node off the list and releases them in reverse order, newest first: each
release function is called, then the node is kfree()d. devm_kfree() and
devm_release_action() free one resource early; given one that the device
does not manage, they WARN_ON() (drivers/base/devres.c devm_kfree+...).

Groups (devres_open_group() / devres_close_group()) put an opening and a
closing marker on the list, so that devres_release_group() releases only
what was added between them (and groups nested inside), with the same
two-pass colouring of remove_nodes() as the kernel: a group is released with
its contents only when both of its markers are in the range (or it is still
open and its opening marker is).

With CONFIG_DEBUG_DEVRES and the devres.log parameter (boot option
`devres.log=1`, or `echo 1 > /sys/module/devres/parameters/log`) every
operation is logged as devres_log() does: "foo foo.0: DEVRES ADD
000000003c8a41b2 devm_kzalloc_release (100 bytes)", the node's address hashed
as %p hashes pointers.

The resource data lives in simulated memory, in the kmalloc'ed block; what
the kernel's release functions keep in it (a function pointer, an iomem
cookie, a region) is kept beside it on the node as Python values, since a
Python callable has no address.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kmemsim.drivers.base.core import Device
from kmemsim.include.linux.errno import EINVAL, ENODEV, ENOENT, ENOMEM
from kmemsim.include.linux.export import EXPORT_SYMBOL
from kmemsim.include.linux.gfp_types import GFP, GFP_KERNEL
from kmemsim.include.linux.slab import ZERO_SIZE_PTR

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

# dr_release_t: void (*)(struct device *dev, void *res)
Release = Callable[[Device, int], None]
# dr_match_t: int (*)(struct device *dev, void *res, void *match_data)
Match = Callable[[Device, int, Any], bool]

SIZE_MAX = (1 << 64) - 1


@dataclass(eq=False)
class DevresNode:
    """struct devres (its node and the address of its data[]), or one marker of a group.

    `addr` is the kmalloc'ed block, `data` the address of data[] inside it
    (what devres_alloc() returns); `payload` holds the Python values a
    release function needs (an action and its argument, a mapping)."""

    release: Release
    name: str
    size: int
    addr: int = 0
    data: int = 0
    payload: Any = None
    group: DevresGroup | None = None
    on_list: bool = False

    def __repr__(self) -> str:
        return f"<devres {self.name} {self.size} bytes at {self.data:#x}>"


@dataclass(eq=False)
class DevresGroup:
    """struct devres_group: an opening and a closing marker, an id, a colour."""

    addr: int
    id: Any
    open: DevresNode = field(init=False)
    close: DevresNode = field(init=False)
    color: int = 0


def group_open_release(dev: Device, res: int) -> None:
    """group_open_release(): a marker; releasing it does nothing."""


def group_close_release(dev: Device, res: int) -> None:
    """group_close_release(): a marker; releasing it does nothing."""


def devm_kmalloc_release(dev: Device, res: int) -> None:
    """devm_kmalloc_release(): nothing to undo, the node's kfree() frees the memory."""


def devm_action_release(dev: Device, res: int) -> None:
    """devm_action_release(): placeholder identity; the action runs through the node."""


def devm_pages_release(dev: Device, res: int) -> None:
    """devm_pages_release(): placeholder identity; free_pages() runs through the node."""


def _same(a: Any, b: Any) -> bool:
    """Pointer equality: the same object, or the same address."""
    if a is b:
        return True
    return isinstance(a, int) and isinstance(b, int) and a == b


class Devres:
    """The devres of one kernel: sizes of its structures and the node of every data[] address."""

    def __init__(self, k: Kernel) -> None:
        self.k = k
        word = k.machine.bits // 8
        # ARCH_DMA_MINALIGN: L1_CACHE_BYTES on ARM (64 for multi_v7), else
        # __alignof__(unsigned long long), 8.
        self.dma_minalign = 64 if k.machine.arch == "arm" else 8
        node = 5 * word  # entry (next, prev), release, name, size
        self.sizeof_devres = -(-node // self.dma_minalign) * self.dma_minalign
        # struct devres_group: node[2], void *id, int color; padded to a word.
        self.sizeof_devres_group = -(-(2 * node + word + 4) // word) * word
        self.word = word
        self.nodes: dict[int, DevresNode] = {}
        self.debug = bool(k.config["DEBUG_DEVRES"])
        self.log_devres = int(k.config["devres.log"]) if self.debug else 0
        if self.debug:
            k.fs.create_file(
                "/sys/module/devres/parameters/log", lambda: f"{self.log_devres}\n", self._set_log
            )
        # Recorded releases, for a learner to see the order: (device, name) per release.
        self.release_log: list[tuple[str, str]] = []

    def _set_log(self, text: str) -> int:
        try:
            self.log_devres = int(text.strip(), 0)
        except ValueError:
            return -EINVAL
        return len(text)

    def _log(self, dev: Device, node: DevresNode, op: str) -> None:
        """devres_log(): dev_err "DEVRES %3s %p %s (%zu bytes)" when devres.log is set."""
        if self.log_devres:
            self.k.dev_err(
                dev,
                "DEVRES %3s %s %s (%d bytes)\n",
                op,
                hashed_ptr(node.addr, self.k.machine.bits),
                node.name,
                node.size,
            )

    # ------------------------------------------------------------------ allocation
    def _alloc_dr(self, release: Release, size: int, gfp: int, name: str) -> DevresNode | None:
        """alloc_dr(): kmalloc(kmalloc_size_roundup(sizeof(struct devres) + size), gfp)."""
        if size < 0 or self.sizeof_devres + size > SIZE_MAX:
            return None  # check_add_overflow()
        slab = self.k.slab
        tot_size = slab.kmalloc_size_roundup(self.sizeof_devres + size)
        if tot_size == 0:
            return None
        addr = slab.kmalloc(tot_size, int(gfp))
        if not addr:
            return None
        if not int(gfp) & GFP.ZERO:
            self.k.memset(addr, 0, self.sizeof_devres)
        node = DevresNode(release, name, size, addr, addr + self.sizeof_devres)
        self.nodes[node.data] = node
        return node

    def _free_dr(self, node: DevresNode) -> None:
        self.nodes.pop(node.data, None)
        self.k.slab.kfree(node.addr)

    def _node_of(self, res: int) -> DevresNode:
        node = self.nodes.get(res)
        if node is None:
            raise ValueError(f"{res:#x} is not the data of a devres (devres_alloc())")
        return node

    @EXPORT_SYMBOL("__devres_alloc_node", "devres_alloc_node_named")
    def devres_alloc_node_named(
        self, release: Release, size: int, gfp: int, nid: int = -1, name: str = ""
    ) -> int:
        """__devres_alloc_node(release, size, gfp, nid, name) (drivers/base/devres.c)."""
        node = self._alloc_dr(release, size, int(gfp) | GFP.ZERO, name or release.__name__)
        return node.data if node is not None else 0

    @EXPORT_SYMBOL
    def devres_alloc(self, release: Release, size: int, gfp: int) -> int:
        """devres_alloc(release, size, gfp) (include/linux/device/devres.h): zeroed data, or 0."""
        return self.devres_alloc_node_named(release, size, gfp, -1, release.__name__)

    @EXPORT_SYMBOL
    def devres_free(self, res: int) -> None:
        """devres_free(res) (drivers/base/devres.c): free a devres that is not on a list."""
        if res:
            node = self._node_of(res)
            if node.on_list:
                from kmemsim.errors import Oops

                self.k.log.pr_emerg("kernel BUG at drivers/base/devres.c: devres_free!")
                raise Oops("BUG_ON(!list_empty(&dr->node.entry)) in devres_free()")
            self._free_dr(node)

    def _add(self, dev: Device, node: DevresNode) -> None:
        """add_dr(): to the tail of the device's list."""
        if dev.devres_head is None:
            dev.devres_head = []
        self._log(dev, node, "ADD")
        node.on_list = True
        dev.devres_head.append(node)

    @EXPORT_SYMBOL
    def devres_add(self, dev: Device, res: int) -> None:
        """devres_add(dev, res) (drivers/base/devres.c): released when the driver detaches."""
        self._add(dev, self._node_of(res))

    def _find_dr(
        self, dev: Device, release: Release, match: Match | None, data: Any
    ) -> DevresNode | None:
        """find_dr(): the newest node of `release` that `match` accepts."""
        for node in reversed(dev.devres_head or []):
            if node.release is not release or node.group is not None:
                continue
            if match is not None and not match(dev, node.data, data):
                continue
            return node
        return None

    @EXPORT_SYMBOL
    def devres_find(
        self, dev: Device, release: Release, match: Match | None = None, match_data: Any = None
    ) -> int:
        """devres_find(dev, release, match, match_data) (drivers/base/devres.c): data, or 0."""
        node = self._find_dr(dev, release, match, match_data)
        return node.data if node is not None else 0

    @EXPORT_SYMBOL
    def devres_get(
        self, dev: Device, new_res: int, match: Match | None = None, match_data: Any = None
    ) -> int:
        """devres_get(dev, new_res, match, match_data) (drivers/base/devres.c): find or add."""
        new = self._node_of(new_res)
        node = self._find_dr(dev, new.release, match, match_data)
        if node is None:
            self._add(dev, new)
            return new.data
        self.devres_free(new_res)
        return node.data

    def _remove(self, dev: Device, node: DevresNode) -> None:
        assert dev.devres_head is not None
        dev.devres_head.remove(node)
        node.on_list = False
        self._log(dev, node, "REM")

    @EXPORT_SYMBOL
    def devres_remove(
        self, dev: Device, release: Release, match: Match | None = None, match_data: Any = None
    ) -> int:
        """devres_remove(dev, release, match, match_data) (drivers/base/devres.c): unlink it."""
        node = self._find_dr(dev, release, match, match_data)
        if node is None:
            return 0
        self._remove(dev, node)
        return node.data

    @EXPORT_SYMBOL
    def devres_destroy(
        self, dev: Device, release: Release, match: Match | None = None, match_data: Any = None
    ) -> int:
        """devres_destroy() (drivers/base/devres.c): unlink and free without releasing; -ENOENT."""
        res = self.devres_remove(dev, release, match, match_data)
        if not res:
            return -ENOENT
        self.devres_free(res)
        return 0

    @EXPORT_SYMBOL
    def devres_release(
        self, dev: Device, release: Release, match: Match | None = None, match_data: Any = None
    ) -> int:
        """devres_release() (drivers/base/devres.c): unlink, release and free; -ENOENT."""
        res = self.devres_remove(dev, release, match, match_data)
        if not res:
            return -ENOENT
        self._call_release(dev, self._node_of(res))
        self.devres_free(res)
        return 0

    def _call_release(self, dev: Device, node: DevresNode) -> None:
        self._log(dev, node, "REL")
        self.release_log.append((dev.name, node.name))
        node.release(dev, node.data)
        if node.payload is not None:
            node.payload.release()  # every payload class has one (_Action, _Pages, _IoMap, ...)

    # ------------------------------------------------------------------ release
    def _remove_nodes(self, dev: Device, first: int, end: int) -> tuple[list[DevresNode], int]:
        """remove_nodes(): take the nodes of [first, end) off the list, in two passes.

        Regular nodes all go. Group markers are coloured: a group goes (its
        opening marker to `todo`, its closing one dropped) only when it lies
        wholly in the range, or is open with its opening marker in it."""
        head = dev.devres_head
        assert head is not None
        segment = head[first:end]
        todo = [n for n in segment if n.group is None]
        markers = [n for n in segment if n.group is not None]
        for n in todo:
            n.on_list = False
        for m in markers:
            assert m.group is not None
            m.group.color = 0
        for m in markers:
            grp = m.group
            assert grp is not None and grp.open.on_list
            if not m.on_list:
                continue  # the closing marker of a group already taken
            grp.color += 1
            if not grp.close.on_list:
                grp.color += 1
            if grp.color == 2:
                grp.open.on_list = False
                grp.close.on_list = False
                todo.append(grp.open)
        dev.devres_head = head[:first] + [n for n in segment if n.on_list] + head[end:]
        return todo, sum(1 for n in todo if n.group is None)

    def _release_nodes(self, dev: Device, todo: list[DevresNode]) -> None:
        """release_nodes(): newest first, call release() and kfree() each node."""
        for node in reversed(todo):
            if node.group is not None:
                self._log(dev, node, "REL")
                self.k.slab.kfree(node.group.addr)  # the group's kmalloc, via node[0]
                continue
            self._call_release(dev, node)
            self._free_dr(node)

    @EXPORT_SYMBOL
    def devres_release_all(self, dev: Device) -> int:
        """devres_release_all(dev) (drivers/base/devres.c): release everything, newest first.

        Called by the driver core after a failed probe and after remove();
        returns the number of (non-group) resources released."""
        if dev.devres_head is None:
            from kmemsim.mm.debug import warn

            warn(self.k, "drivers/base/devres.c", "devres_release_all", once=False)
            return -ENODEV
        if not dev.devres_head:
            return 0
        todo, cnt = self._remove_nodes(dev, 0, len(dev.devres_head))
        self._release_nodes(dev, todo)
        return cnt

    # ------------------------------------------------------------------ groups
    @EXPORT_SYMBOL
    def devres_open_group(self, dev: Device, id: Any = None, gfp: int = GFP_KERNEL) -> Any:
        """devres_open_group(dev, id, gfp) (drivers/base/devres.c): the group's id, or None."""
        addr = self.k.slab.kmalloc(self.sizeof_devres_group, int(gfp))
        if not addr:
            return None
        grp = DevresGroup(addr, id if id is not None else addr)
        grp.open = DevresNode(group_open_release, "grp<", 0, addr, addr, group=grp)
        grp.close = DevresNode(group_close_release, "grp>", 0, addr, addr, group=grp)
        self._add(dev, grp.open)
        return grp.id

    def _find_group(self, dev: Device, id: Any) -> DevresGroup | None:
        """find_group(): the group of `id`, or the newest open one for None."""
        for node in reversed(dev.devres_head or []):
            grp = node.group
            if grp is None or node is not grp.open:
                continue
            if id is not None:
                if _same(grp.id, id):
                    return grp
            elif not grp.close.on_list:
                return grp
        return None

    def _warn(self, function: str) -> None:
        from kmemsim.mm.debug import warn

        warn(self.k, "drivers/base/devres.c", function, once=False)

    @EXPORT_SYMBOL
    def devres_close_group(self, dev: Device, id: Any = None) -> None:
        """devres_close_group(dev, id) (drivers/base/devres.c): WARN_ON without such a group."""
        grp = self._find_group(dev, id)
        if grp is None:
            self._warn("devres_close_group")
            return
        self._add(dev, grp.close)

    @EXPORT_SYMBOL
    def devres_remove_group(self, dev: Device, id: Any = None) -> None:
        """devres_remove_group(dev, id) (drivers/base/devres.c): drop the markers, keep the rest."""
        grp = self._find_group(dev, id)
        if grp is None:
            self._warn("devres_remove_group")
            return
        for m in (grp.open, grp.close):
            if m.on_list:
                self._remove(dev, m)
        self.k.slab.kfree(grp.addr)

    @EXPORT_SYMBOL
    def devres_release_group(self, dev: Device, id: Any = None) -> int:
        """devres_release_group(dev, id) (drivers/base/devres.c): release the group's resources.

        Returns the number released (groups nested inside go too)."""
        grp = self._find_group(dev, id)
        if grp is None:
            self._warn("devres_release_group")
            return 0
        head = dev.devres_head
        assert head is not None
        first = head.index(grp.open)
        end = head.index(grp.close) + 1 if grp.close.on_list else len(head)
        todo, cnt = self._remove_nodes(dev, first, end)
        self._release_nodes(dev, todo)
        return cnt

    # ------------------------------------------------------------------ actions
    def _add_action(self, dev: Device, action: Callable[[Any], None], data: Any, name: str) -> int:
        node = self._alloc_dr(devm_action_release, 2 * self.word, int(GFP_KERNEL) | GFP.ZERO, name)
        if node is None:
            return -ENOMEM
        node.payload = _Action(action, data)
        self._add(dev, node)
        return 0

    @EXPORT_SYMBOL("__devm_add_action", "devm_add_action_named")
    def devm_add_action_named(
        self, dev: Device, action: Callable[[Any], None], data: Any, name: str
    ) -> int:
        """__devm_add_action(dev, action, data, name) (drivers/base/devres.c)."""
        return self._add_action(dev, action, data, name)

    @EXPORT_SYMBOL
    def devm_add_action(self, dev: Device, action: Callable[[Any], None], data: Any = None) -> int:
        """devm_add_action(dev, action, data) (include/linux/device/devres.h).

        `action(data)` is called when the device's resources are released
        (probe failure, unbind), in reverse order with the others; 0 or -ENOMEM."""
        return self._add_action(dev, action, data, getattr(action, "__name__", "action"))

    @EXPORT_SYMBOL
    def devm_add_action_or_reset(
        self, dev: Device, action: Callable[[Any], None], data: Any = None
    ) -> int:
        """devm_add_action_or_reset(dev, action, data) (include/linux/device/devres.h).

        As devm_add_action(), but when it fails `action(data)` is called at once."""
        ret = self._add_action(dev, action, data, getattr(action, "__name__", "action"))
        if ret:
            action(data)
        return ret

    def _find_action(
        self, dev: Device, action: Callable[[Any], None], data: Any
    ) -> DevresNode | None:
        """find_dr(dev, devm_action_release, devm_action_match, {action, data})."""
        for node in reversed(dev.devres_head or []):
            if node.release is not devm_action_release:
                continue
            p = node.payload
            if (p.action is action or p.action == action) and _same(p.data, data):
                return node
        return None

    @EXPORT_SYMBOL
    def devm_remove_action(
        self, dev: Device, action: Callable[[Any], None], data: Any = None
    ) -> None:
        """devm_remove_action(dev, action, data) (drivers/base/devres.c): forget it, not run it."""
        node = self._find_action(dev, action, data)
        if node is None:
            self._warn("devm_remove_action")
            return
        self._remove(dev, node)
        self._free_dr(node)

    @EXPORT_SYMBOL
    def devm_release_action(
        self, dev: Device, action: Callable[[Any], None], data: Any = None
    ) -> None:
        """devm_release_action(dev, action, data) (drivers/base/devres.c): run it now, forget it."""
        node = self._find_action(dev, action, data)
        if node is None:
            self._warn("devm_release_action")
            return
        self._remove(dev, node)
        self._call_release(dev, node)
        self._free_dr(node)

    @EXPORT_SYMBOL
    def devm_is_action_added(
        self, dev: Device, action: Callable[[Any], None], data: Any = None
    ) -> bool:
        """devm_is_action_added(dev, action, data) (drivers/base/devres.c)."""
        return self._find_action(dev, action, data) is not None

    # ------------------------------------------------------------------ managed kmalloc
    @EXPORT_SYMBOL
    def devm_kmalloc(self, dev: Device, size: int, gfp: int) -> int:
        """devm_kmalloc(dev, size, gfp) (drivers/base/devres.c): freed when the driver detaches.

        The memory is data[] of a devres: sizeof(struct devres) bytes into a
        kmalloc object of kmalloc_size_roundup(sizeof(struct devres) + size);
        ZERO_SIZE_PTR for 0 bytes, NULL (0) on failure."""
        if size == 0:
            return ZERO_SIZE_PTR
        node = self._alloc_dr(devm_kmalloc_release, size, int(gfp), "devm_kzalloc_release")
        if node is None:
            return 0
        self._add(dev, node)
        return node.data

    @EXPORT_SYMBOL
    def devm_kzalloc(self, dev: Device, size: int, gfp: int) -> int:
        """devm_kzalloc(dev, size, gfp) (include/linux/device/devres.h): zeroed devm_kmalloc()."""
        return self.devm_kmalloc(dev, size, int(gfp) | GFP.ZERO)

    @EXPORT_SYMBOL
    def devm_kmalloc_array(self, dev: Device, n: int, size: int, flags: int) -> int:
        """devm_kmalloc_array(dev, n, size, flags) (include/linux/device/devres.h)."""
        if size and n > SIZE_MAX // size:
            return 0
        return self.devm_kmalloc(dev, n * size, flags)

    @EXPORT_SYMBOL
    def devm_kcalloc(self, dev: Device, n: int, size: int, flags: int) -> int:
        """devm_kcalloc(dev, n, size, flags) (include/linux/device/devres.h): zeroed array."""
        return self.devm_kmalloc_array(dev, n, size, int(flags) | GFP.ZERO)

    def _find_kmalloc(self, dev: Device, p: int) -> DevresNode | None:
        for node in reversed(dev.devres_head or []):
            if node.release is devm_kmalloc_release and node.data == p:
                return node
        return None

    @EXPORT_SYMBOL
    def devm_kfree(self, dev: Device, p: int) -> None:
        """devm_kfree(dev, p) (drivers/base/devres.c): free early; WARN_ON if `p` is not managed."""
        if p <= ZERO_SIZE_PTR:
            return
        node = self._find_kmalloc(dev, p)
        if node is None:
            self._warn("devm_kfree")
            return
        self._remove(dev, node)
        self._free_dr(node)

    @EXPORT_SYMBOL
    def devm_krealloc(self, dev: Device, ptr: int, new_size: int, gfp: int) -> int:
        """devm_krealloc(dev, ptr, new_size, gfp) (drivers/base/devres.c).

        Same pointer when the kmalloc object already holds new_size, else a
        new devres that takes the old one's place in the list (the release
        order does not change), the contents copied, the old one freed."""
        from kmemsim.mm.debug import warn

        if new_size == 0:
            self.devm_kfree(dev, ptr)
            return ZERO_SIZE_PTR
        if ptr <= ZERO_SIZE_PTR:
            return self.devm_kmalloc(dev, new_size, gfp)
        slab = self.k.slab
        total_new = slab.kmalloc_size_roundup(self.sizeof_devres + new_size)
        old_addr = ptr - self.sizeof_devres
        old = self._find_kmalloc(dev, ptr)
        total_old = slab.ksize(old.addr) if old is not None else 0
        if total_old == 0:
            warn(
                self.k,
                "drivers/base/devres.c",
                "devm_krealloc",
                "Pointer doesn't point to dynamically allocated memory.",
                once=False,
            )
            return 0
        if total_new <= total_old:
            return ptr
        assert old is not None and old.addr == old_addr
        new = self._alloc_dr(devm_kmalloc_release, new_size, int(gfp), "devm_krealloc_release")
        if new is None:
            return 0
        head = dev.devres_head
        assert head is not None
        self._log(dev, old, "REPLACE")
        head[head.index(old)] = new  # replace_dr()
        new.on_list, old.on_list = True, False
        self.k.memcpy(new.data, old.data, total_old - self.sizeof_devres)
        self._free_dr(old)
        return new.data

    @EXPORT_SYMBOL
    def devm_kstrdup(self, dev: Device, s: str | int | None, gfp: int) -> int:
        """devm_kstrdup(dev, s, gfp) (drivers/base/devres.c): a managed copy of a C string."""
        if s is None or s == 0:
            return 0
        data = s.encode() if isinstance(s, str) else _read_cstring(self.k, s)
        buf = self.devm_kmalloc(dev, len(data) + 1, gfp)
        if buf:
            self.k.write(buf, data + b"\0")
        return buf

    @EXPORT_SYMBOL
    def devm_kstrdup_const(self, dev: Device, s: str | int | None, gfp: int) -> int:
        """devm_kstrdup_const(dev, s, gfp) (drivers/base/devres.c): a string in .rodata as is."""
        return self.devm_kstrdup(dev, s, gfp)

    @EXPORT_SYMBOL
    def devm_kasprintf(self, dev: Device, gfp: int, fmt: str, *args: Any) -> int:
        """devm_kasprintf(dev, gfp, fmt, ...) (drivers/base/devres.c): a managed printf string."""
        text = (fmt % args if args else fmt).encode()
        p = self.devm_kmalloc(dev, len(text) + 1, gfp)
        if p:
            self.k.write(p, text + b"\0")
        return p

    @EXPORT_SYMBOL
    def devm_kmemdup(self, dev: Device, src: int, len: int, gfp: int) -> int:
        """devm_kmemdup(dev, src, len, gfp) (drivers/base/devres.c)."""
        p = self.devm_kmalloc(dev, len, gfp)
        if p and p != ZERO_SIZE_PTR:
            self.k.memcpy(p, src, len)
        return p

    # ------------------------------------------------------------------ managed pages
    @EXPORT_SYMBOL
    def devm_get_free_pages(self, dev: Device, gfp_mask: int, order: int) -> int:
        """devm_get_free_pages(dev, gfp_mask, order) (drivers/base/devres.c): 0 on failure."""
        addr = self.k.page_alloc.get_free_pages(int(gfp_mask), order)
        if not addr:
            return 0
        node = self._alloc_dr(
            devm_pages_release, 2 * self.word, int(GFP_KERNEL) | GFP.ZERO, "devm_pages_release"
        )
        if node is None:
            self.k.page_alloc.free_pages(addr, order)
            return 0
        node.payload = _Pages(self.k, addr, order)
        self._add(dev, node)
        return addr

    @EXPORT_SYMBOL
    def devm_free_pages(self, dev: Device, addr: int) -> None:
        """devm_free_pages(dev, addr) (drivers/base/devres.c): WARN_ON when not managed."""
        for node in reversed(dev.devres_head or []):
            if node.release is devm_pages_release and node.payload.addr == addr:
                self._remove(dev, node)
                self._call_release(dev, node)
                self._free_dr(node)
                return
        self._warn("devm_free_pages")

    # ------------------------------------------------------------------ generic payloads
    def add_payload(
        self, dev: Device, release: Release, size: int, name: str, payload: Any
    ) -> DevresNode | None:
        """devres_alloc() + devres_add() of a resource whose release runs `payload.release()`."""
        node = self._alloc_dr(release, size, int(GFP_KERNEL) | GFP.ZERO, name)
        if node is None:
            return None
        node.payload = payload
        self._add(dev, node)
        return node

    def alloc_payload(
        self, release: Release, size: int, name: str, payload: Any
    ) -> DevresNode | None:
        """devres_alloc() of a resource not yet added (devres_add() it, or devres_free() it)."""
        node = self._alloc_dr(release, size, int(GFP_KERNEL) | GFP.ZERO, name)
        if node is not None:
            node.payload = payload
        return node


@dataclass(eq=False)
class _Action:
    """struct action_devres: the action and its argument."""

    action: Callable[[Any], None]
    data: Any

    def release(self) -> None:
        self.action(self.data)


@dataclass(eq=False)
class _Pages:
    """struct pages_devres: the address and order of the block."""

    k: Any
    addr: int
    order: int

    def release(self) -> None:
        self.k.page_alloc.free_pages(self.addr, self.order)


def hashed_ptr(addr: int, bits: int = 64) -> str:
    """printk's %p: the address hashed with the boot's key (ptr_to_id()), 32 bits, printed
    as BITS_PER_LONG / 4 hex digits ("000000003c8a41b2"), never the address itself."""
    import hashlib

    digest = hashlib.blake2b(addr.to_bytes(8, "little"), key=b"kmemsim-ptr-key", digest_size=4)
    return f"{int.from_bytes(digest.digest(), 'little'):0{bits // 4}x}"


def _read_cstring(k: Kernel, addr: int, limit: int = 1 << 16) -> bytes:
    out = bytearray()
    while len(out) < limit:
        chunk = k.read(addr + len(out), 64)
        nul = chunk.find(b"\0")
        if nul >= 0:
            out += chunk[:nul]
            return bytes(out)
        out += chunk
    return bytes(out)
