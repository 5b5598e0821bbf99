"""Model of mm/kasan/: the generic Kernel Address Sanitizer (CONFIG_KASAN_GENERIC).

`config={"KASAN": "y"}` turns it on. kasan_init() (called from setup_arch(),
before the slab allocator exists, so that every cache gets KASAN's layout)
creates the shadow; the slab, page-allocator and mempool paths call the
hooks of common.py at the kernel's hook points, and every load and store
of the kernel address space goes through kasan_check_range(). Reports are
printed by report.py in the kernel's words. Boot parameters: kasan.fault=
report|panic|panic_on_write, kasan_multi_shot; KASAN_VMALLOC shadows the
vmalloc space; SLUB_RCU_DEBUG delays KASAN's view of a SLAB_TYPESAFE_BY_RCU
free to after its grace period.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.mm.kasan.common import Kasan

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

__all__ = ["Kasan", "kasan_init"]


def kasan_init(k: Kernel) -> Kasan | None:
    """arch kasan_init() -> kasan_init_generic(): KASAN of `k` if configured, else None."""
    from kmemsim.include.linux.export import export_symbols

    if not k.config["KASAN"]:
        k.kasan = None
        return None
    ka = Kasan(k)
    k.kasan = ka
    export_symbols(k, ka)
    return ka


def kasan_late_init(k: Kernel) -> None:
    """The quarantine, sized from the RAM the page allocator manages (totalram_pages())."""
    from kmemsim.mm.kasan.quarantine import Quarantine

    ka = k.kasan
    if ka is None:
        return
    total = int(k.page_alloc.totalram_pages()) << 12
    ka.quarantine = Quarantine(int(k.machine.cpus), total, ka.qlink_free)
