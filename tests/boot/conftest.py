"""Boot-test helpers: a kernel taken through setup_arch() only, and a recording allocator."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kmemsim.hw.machine import Machine
from kmemsim.init.config import KernelConfig
from kmemsim.init.main import Kernel


class RecordingAllocator:
    """Stands in for the buddy allocator: records what memblock_free_all() hands over."""

    def __init__(self, k: Kernel) -> None:
        self.k = k
        self.blocks: list[tuple[int, int]] = []

    def free_pages_core(self, pfn: int, order: int) -> None:
        self.blocks.append((pfn, order))
        for z in self.k.pgdat.zones:
            if z.spans(pfn):
                z.managed_pages += 1 << order
                return
        raise AssertionError(f"pfn {pfn:#x} outside every zone")

    def free_pages_core_blocks(self, pfn: int, count: int) -> None:
        """`count` MAX_PAGE_ORDER blocks from pfn: the same as one free_pages_core() each."""
        order = int(self.k.config["ARCH_FORCE_MAX_ORDER"])
        for i in range(count):
            self.free_pages_core(pfn + (i << order), order)


def arch_only(
    profile: str, mem: str | None = None, cpus: int | None = None, **config: object
) -> Kernel:
    """A kernel after setup_arch() (memblock, direct map, zones, the empty page allocator)."""
    from kmemsim.arch.setup import setup_arch
    from kmemsim.include.linux.export import export_symbols
    from kmemsim.kernel.resource import ResourceTree
    from kmemsim.kernel.sched.core import ExecContext

    machine = Machine.from_profile(profile, mem=mem, cpus=cpus)
    kconfig = KernelConfig()
    kconfig.update(machine.profile_config)
    kconfig.update(config)
    k = Kernel(machine, kconfig)
    k.sched = ExecContext(k)
    export_symbols(k, k.sched)
    k.resource = ResourceTree(k)
    setup_arch(k)
    return k


@pytest.fixture
def setup_only() -> Callable[..., Kernel]:
    return arch_only
