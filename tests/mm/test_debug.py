"""dump_page() and bad_page() of mm/debug.c and mm/page_alloc.c, WARN() of lib/bug.c and
kernel/panic.c: the numbers and lines the kernel prints."""

from __future__ import annotations

import kmemsim
from kmemsim.mm.debug import warn


def test_warn_prints_the_message_after_cut_here_and_nothing_once_fired() -> None:
    k = kmemsim.boot("x86_64", mem="256M")
    n = len(k.dmesg().splitlines())
    assert warn(k, "mm/slab_common.c", "kmem_cache_destroy", "kmem_cache_destroy x: still busy")
    lines = [x.split("] ", 1)[1] for x in k.dmesg().splitlines()[n:]]
    assert lines[:3] == [
        "------------[ cut here ]------------",
        "kmem_cache_destroy x: still busy",
        "WARNING: CPU: 0 PID: 0 at mm/slab_common.c kmem_cache_destroy",
    ]
    assert lines[-1] == "---[ end trace 0000000000000000 ]---"
    assert "Tainted: W" not in "\n".join(lines)  # __warn() taints after printing
    total = k.dmesg()
    assert not warn(k, "mm/slab_common.c", "kmem_cache_destroy", "again")
    assert k.dmesg() == total
    # A plain WARN() (once=False) fires every time, now tainted W.
    assert warn(k, "mm/slab_common.c", "kmem_cache_destroy", once=False)
    assert "Tainted: W " in k.dmesg()[len(total) :]
