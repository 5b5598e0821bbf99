"""Configuration: Kconfig options and boot parameters, strictly parsed."""

from __future__ import annotations

import pytest

from kmemsim.errors import KmemsimError
from kmemsim.init.config import KernelConfig, parse_assignment
from kmemsim.lib.cmdline import memparse


def test_memparse_suffixes() -> None:
    assert memparse("4G") == 4 << 30
    assert memparse("512M") == 512 << 20
    assert memparse("1T") == 1 << 40
    assert memparse("64k") == 64 << 10
    assert memparse("0x1000") == 4096


@pytest.mark.parametrize("bad", ["4X", "", "G", "-1G", "four"])
def test_memparse_rejects_junk(bad: str) -> None:
    with pytest.raises(KmemsimError, match="bad size"):
        memparse(bad)


def test_config_prefix_and_aliases() -> None:
    c = KernelConfig({"CONFIG_SLUB_TINY": "y", "slab_max_order": "1"})
    assert c["SLUB_TINY"] is True
    assert c["slub_max_order"] == 1
    assert c.is_set("slub_max_order") and not c.is_set("slub_min_order")


def test_unknown_option_and_bad_value_are_one_line_errors() -> None:
    with pytest.raises(KmemsimError, match="unknown configuration option 'NO_SUCH'"):
        KernelConfig({"NO_SUCH": "1"})
    with pytest.raises(KmemsimError, match="bad value 'lots' for slub_max_order"):
        KernelConfig({"slub_max_order": "lots"})
    with pytest.raises(KmemsimError, match="expected one of"):
        KernelConfig({"VMSPLIT": "5G"})


def test_assignment_syntax() -> None:
    assert parse_assignment("SLUB_TINY") == ("SLUB_TINY", "y")
    assert parse_assignment("min_free_kbytes=8192") == ("min_free_kbytes", "8192")
    with pytest.raises(KmemsimError):
        parse_assignment("=3")
