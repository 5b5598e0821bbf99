"""The pseudo files of /proc and /sys: a tree of generated files, in the spirit of fs/libfs.c.

The real procfs and sysfs (kernfs) generate a file's text when it is read,
from the live kernel structures; nothing is stored. Here too: a file is a
`show` callable, a directory may be static or generated (one entry per slab
cache, per zone...), and a symlink is a path (sysfs shows merged slab caches as
links). `k.cat(path)` reads through this tree, following links.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kmemsim.errors import KmemsimError

Show = Callable[[], str]
Store = Callable[[str], int]


@dataclass(slots=True)
class Link:
    """A symlink: its target, relative to the link's directory or absolute."""

    target: str


# A generated directory answers a lookup of a name below it: a Show for a file,
# a Link, or None when there is no such entry; and lists its entries.
Lookup = Callable[[str], "Show | Link | None"]
Lister = Callable[[], Iterable[str]]


class PseudoFS:
    """The /proc and /sys trees of one kernel."""

    def __init__(self) -> None:
        self._files: dict[str, Show | Link] = {}
        self._stores: dict[str, Store] = {}
        self._dirs: dict[str, tuple[Lookup, Lister]] = {}
        # file_ns_capable(file, &init_user_ns, CAP_SYS_ADMIN) of the reader being served.
        self.reader_capable = True

    def create_file(self, path: str, show: Show, store: Store | None = None) -> None:
        """proc_create_single / sysfs_create_file: `path` shows `show()`, and takes
        `store(text)` writes if given (which return the bytes taken or -errno)."""
        self._files[path] = show
        if store is not None:
            self._stores[path] = store

    def write(self, path: str, text: str) -> int:
        """A write(2) of `text` to a pseudo file: bytes taken, or -errno (-EACCES: read-only)."""
        self._resolve(path)
        store = self._stores.get(self.realpath(path))
        if store is None:
            return -13  # -EACCES: no write method
        return store(text)

    def create_link(self, path: str, target: str) -> None:
        """sysfs_create_link: `path` -> `target`."""
        self._files[path] = Link(target)

    def remove(self, path: str) -> None:
        """proc_remove / sysfs_remove_file."""
        self._files.pop(path, None)
        self._dirs.pop(path, None)
        self._stores.pop(path, None)

    def realpath(self, path: str, depth: int = 0) -> str:
        """The path with every link on the way followed (/sys/bus/platform/devices/foo.0/x
        is /sys/devices/platform/foo.0/x)."""
        path = posixpath.normpath(path)
        parts = path.strip("/").split("/")
        cur = ""
        for i, part in enumerate(parts):
            cur = f"{cur}/{part}"
            entry = self._files.get(cur)
            if isinstance(entry, Link) and depth < 8:
                target = posixpath.normpath(posixpath.join(posixpath.dirname(cur), entry.target))
                return self.realpath(posixpath.join(target, *parts[i + 1 :]), depth + 1)
        return cur

    def create_dir(self, path: str, lookup: Lookup, lister: Lister) -> None:
        """A directory whose entries are generated: lookup(name) and lister()."""
        self._dirs[path] = (lookup, lister)

    def _resolve(self, path: str, depth: int = 0) -> Show:
        if depth > 8:
            raise KmemsimError(f"cat: {path}: Too many levels of symbolic links")
        path = posixpath.normpath(path)
        entry = self._files.get(path)
        if entry is None:
            head, tail = posixpath.split(path)
            parts: list[str] = [tail]
            while head and head != "/":
                # a link to a directory: /sys/bus/platform/devices/foo.0 -> ../../../devices/...
                link = self._files.get(head)
                if isinstance(link, Link):
                    target = posixpath.join(posixpath.dirname(head), link.target)
                    return self._resolve(posixpath.join(target, *reversed(parts)), depth + 1)
                generated = self._dirs.get(head)
                if generated is not None:
                    rel = "/".join(reversed(parts))
                    entry = generated[0](rel)
                    first, _, rest = rel.partition("/")
                    if entry is None and rest:
                        # a generated link to a directory: slab/dentry -> :A-0000192
                        link = generated[0](first)
                        if isinstance(link, Link):
                            target = posixpath.join(head, link.target, rest)
                            return self._resolve(target, depth + 1)
                    break
                head, tail = posixpath.split(head)
                parts.append(tail)
        if entry is None:
            if self.listdir(path):
                raise KmemsimError(f"cat: {path}: Is a directory")
            raise KmemsimError(f"cat: {path}: No such file or directory")
        if isinstance(entry, Link):
            return self._resolve(posixpath.join(posixpath.dirname(path), entry.target), depth + 1)
        return entry

    def read(self, path: str, *, user: bool = False) -> str:
        """The text of a pseudo file, links followed; KmemsimError when it does not exist.

        As path walking does (fs/namei.c link_path_walk()), a file followed by
        anything, even a trailing "/" or ".", is ENOTDIR: "Not a directory".
        `user=True`: the reader has no CAP_SYS_ADMIN (`reader_capable` is False
        while the file is generated).
        """
        self._check_dirs_on_the_way(path)
        show = self._resolve(path)
        self.reader_capable = not user
        try:
            return show()
        finally:
            self.reader_capable = True

    def _check_dirs_on_the_way(self, path: str) -> None:
        parts = path.split("/")
        for i in range(1, len(parts) - 1):
            prefix = "/".join(parts[: i + 1])
            if not parts[i] or prefix in self._dirs:
                continue
            try:
                self._resolve(prefix)
            except KmemsimError:
                continue  # a directory, or missing: the full lookup says which
            raise KmemsimError(f"cat: {path}: Not a directory")

    def exists(self, path: str) -> bool:
        try:
            self._resolve(path)
        except KmemsimError:
            return False
        return True

    def listdir(self, path: str) -> list[str]:
        """Entries directly below `path`, sorted."""
        path = posixpath.normpath(path)
        names = {p[len(path) + 1 :].split("/")[0] for p in self._files if p.startswith(path + "/")}
        names |= {p[len(path) + 1 :].split("/")[0] for p in self._dirs if p.startswith(path + "/")}
        generated = self._dirs.get(path)
        if generated is not None:
            names |= set(generated[1]())
        return sorted(names)

    def readlink(self, path: str) -> str | None:
        """The target of a link, or None when `path` is not a link."""
        entry = self._files.get(posixpath.normpath(path))
        if isinstance(entry, Link):
            return entry.target
        head, name = posixpath.split(posixpath.normpath(path))
        generated = self._dirs.get(head)
        if generated is not None:
            found = generated[0](name)
            if isinstance(found, Link):
                return found.target
        return None
