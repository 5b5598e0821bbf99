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


@pytest.mark.parametrize(
    "profile,option,why",
    [
        ("x86_64", {"HIGHMEM": "y"}, "HIGHMEM=y does not exist on x86_64"),
        ("x86_64", {"VMSPLIT": "2G"}, "VMSPLIT=2G does not exist on x86_64"),
        ("i386", {"ZONE_DMA32": "y"}, "ZONE_DMA32=y does not exist on i386"),
        ("i386", {"DEFERRED_STRUCT_PAGE_INIT": "y"}, "depends on SPARSEMEM && 64BIT"),
        ("beaglebone-black", {"DEFERRED_STRUCT_PAGE_INIT": "y"}, "does not exist on arm"),
    ],
)
def test_options_the_architecture_lacks_are_refused(
    profile: str, option: dict[str, str], why: str
) -> None:
    import kmemsim

    with pytest.raises(KmemsimError, match=why) as e:
        kmemsim.boot(profile, mem="256M" if profile != "beaglebone-black" else None, config=option)
    assert "\n" not in str(e.value)


def test_options_the_architecture_has_are_accepted() -> None:
    import kmemsim

    assert kmemsim.boot("i386", mem="1G", config={"VMSPLIT": "2G"}).config["VMSPLIT"] == "2G"
    k = kmemsim.boot("x86_64", mem="1G", config={"HIGHMEM": "n", "DEFERRED_STRUCT_PAGE_INIT": "y"})
    assert "node 0 deferred pages initialised" in k.dmesg()


@pytest.mark.parametrize("option", ["min_free_kbytes", "watermark_boost_factor"])
def test_int_sysctls_refuse_values_beyond_int_max(option: str) -> None:
    """proc_dointvec_minmax(): a value that does not fit an int is -EINVAL."""
    assert KernelConfig({option: str(2**31 - 1)})[option] == 2**31 - 1
    with pytest.raises(KmemsimError, match="from 0 to 2147483647"):
        KernelConfig({option: str(2**31)})
