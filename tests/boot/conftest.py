"""Boot-test helpers: a kernel taken through setup_arch() only (a real machine and profile),
so that a test can look at, or run, the boot steps that follow one at a time."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kmemsim.hw.machine import Machine
from kmemsim.init.config import KernelConfig
from kmemsim.init.main import Kernel


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
