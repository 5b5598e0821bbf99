"""The Kernel class declares the state a booted kernel has (init/main.py).

Optional parts are declared `X | None = None` (kasan, kfence, kmemleak, rcu before
rcu_init(), the e820 table off x86) and read directly; everything declared must
exist after a boot on every shipped profile, so that no reader needs a default.
"""

from __future__ import annotations

import pytest

import kmemsim
from kmemsim.init.main import Kernel


@pytest.mark.parametrize(
    "profile,mem",
    [("x86_64", "256M"), ("linux-6.18-x86_64", None), ("i386", "1G"), ("beaglebone-black", None)],
)
def test_every_declared_kernel_attribute_exists_after_boot(profile: str, mem: str | None) -> None:
    k = kmemsim.boot(profile, mem=mem)
    assert [name for name in Kernel.__annotations__ if not hasattr(k, name)] == []


def test_optional_parts_are_none_where_the_kernel_has_none() -> None:
    arm = kmemsim.boot("beaglebone-black")
    assert arm.e820_table is None and arm.kasan is None and arm.kfence is None
    pc = kmemsim.boot("x86_64", mem="256M", config={"KASAN": "y"})
    assert pc.e820_table is not None and pc.e820_table.res and pc.kasan is not None
    assert pc.rcu is not None  # rcu_init() ran
