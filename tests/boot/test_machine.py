"""Machine profiles: the shipped ones, users' TOML files, and the one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from kmemsim.errors import KmemsimError
from kmemsim.hw.machine import E820Type, Machine


def test_the_6_18_machine_is_the_captured_one(shared_data: Path) -> None:
    m = Machine.from_profile("linux-6.18-x86_64")
    assert (m.arch, m.bits, m.cpus, m.page_shift, m.big_endian) == ("x86_64", 64, 2, 12, False)
    info = (shared_data / "system-info.txt").read_text()
    assert "nproc: 2" in info and "PAGESIZE: 4096" in info
    # Its e820 table is the one dmesg printed.
    printed = [
        line.split("] ", 1)[1]
        for line in (shared_data / "dmesg-memory.txt").read_text().splitlines()
        if "BIOS-e820:" in line
    ]
    ours = [f"BIOS-e820: [mem {e.addr:#018x}-{e.end - 1:#018x}] {e.type.label}" for e in m.e820]
    assert ours == printed
    # 24 GiB less the 384 KiB legacy hole the firmware does not call RAM.
    assert m.ram_size == (24 << 30) - 0x60400
    assert m.profile_config["NR_CPUS"] == 256


def test_iomem_kernel_image_matches_profile(shared_data: Path) -> None:
    iomem = (shared_data / "proc-iomem.txt").read_text()
    m = Machine.from_profile("linux-6.18-x86_64")
    code = next(line for line in iomem.splitlines() if "Kernel code" in line)
    bss = next(line for line in iomem.splitlines() if "Kernel bss" in line)
    assert int(code.split("-")[0], 16) == m.kernel_image.start
    assert int(bss.split("-")[1].split()[0], 16) + 1 == m.kernel_image.end


def test_generic_pc_puts_ram_above_4g_past_the_pci_hole() -> None:
    m = Machine.from_profile("x86_64", mem="8G", cpus=4)
    assert m.cpus == 4
    ram = [(e.addr, e.end) for e in m.e820 if e.type == E820Type.RAM]
    assert ram == [(0, 0x9FC00), (0x100000, 0xC0000000), (1 << 32, (1 << 32) + (5 << 30))]
    assert m.ram_size == (8 << 30) - 0x60400


def test_small_pc_has_no_high_ram() -> None:
    m = Machine.from_profile("x86_64", mem="512M")
    assert max(e.end for e in m.e820 if e.type == E820Type.RAM) == 512 << 20


def test_i386_defaults_to_highmem_and_3g_split() -> None:
    m = Machine.from_profile("i386")
    assert (m.arch, m.bits) == ("i386", 32)
    assert m.profile_config["HIGHMEM"] is True and m.profile_config["VMSPLIT"] == "3G"


def test_beaglebone_black_has_512m_at_2g_from_its_device_tree() -> None:
    m = Machine.from_profile("beaglebone-black")
    assert (m.arch, m.bits, m.cpus) == ("arm", 32, 1)
    assert m.dt_memory == [(0x80000000, 512 << 20)]
    assert m.e820 == []
    assert "BeagleBone Black" in m.dt_model
    uart0 = next(d for d in m.devices if d.name == "44e09000.serial")
    assert uart0.reg == ((0x44E09000, 0x1000),) and uart0.interrupts == (72,)
    assert uart0.claims == ((0x44E09000, 0x44E0901F, "serial"),)


def test_user_profile_by_path(tmp_path: Path) -> None:
    text = (Path(__file__).parents[2] / "src/kmemsim/profiles/x86_64.toml").read_text()
    path = tmp_path / "mine.toml"
    path.write_text(text.replace('size = "1G"', 'size = "256M"'))
    m = Machine.from_profile(str(path))
    assert m.ram_size == (256 << 20) - 0x60400


@pytest.mark.parametrize(
    ("profile", "mem", "cpus", "message"),
    [
        ("x86_65", None, None, "unknown profile 'x86_65'"),
        ("x86_64", "4X", None, "bad size '4X'"),
        ("x86_64", "128T", None, "takes at most 64T"),
        ("x86_64", "1M", None, "needs at least 32M"),
        ("x86_64", None, 0, "at least one CPU"),
        ("x86_64", None, 257, "at most 256 CPUs (NR_CPUS=256)"),
        ("beaglebone-black", None, 2, "at most 1 CPUs"),
        ("beaglebone-black", "2G", None, "takes at most 1G"),
        ("i386", "8G", None, "takes at most 4G"),
        ("linux-6.18-x86_64", "4M", None, "no room for its kernel"),
    ],
)
def test_bad_requests_are_one_line_errors(
    profile: str, mem: str | None, cpus: int | None, message: str
) -> None:
    with pytest.raises(KmemsimError, match=message.replace("(", r"\(").replace(")", r"\)")) as e:
        Machine.from_profile(profile, mem=mem, cpus=cpus)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("arch = ", "arhc = "), "unknown key machine.arhc"),
        (("[memory]", "[memroy]"), r"unknown table \[memroy\]"),
        (('size = "1G"', 'size = "1Q"'), "memory.size"),
        (("NR_CPUS = 256", "NR_CPUZ = 256"), r"\[config\]: unknown configuration option"),
        (("[machine]", "[machine"), "invalid TOML"),
        (('layout = "pc"', 'layout = "mac"'), "memory.layout must be pc, e820 or dt"),
        (('type = "reserved"', 'type = "reserverd"'), "unknown e820 type"),
    ],
)
def test_a_typo_in_a_user_profile_names_the_file_and_key(
    tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    text = (Path(__file__).parents[2] / "src/kmemsim/profiles/x86_64.toml").read_text()
    assert edit[0] in text
    path = tmp_path / "typo.toml"
    path.write_text(text.replace(edit[0], edit[1], 1))
    with pytest.raises(KmemsimError, match=message) as e:
        Machine.from_profile(str(path))
    assert str(path) in str(e.value)
    assert "\n" not in str(e.value)


def test_unreadable_profile_file(tmp_path: Path) -> None:
    with pytest.raises(KmemsimError, match="cannot read profile"):
        Machine.from_profile(str(tmp_path / "missing.toml"))


def test_ram_is_sparse_whatever_its_size() -> None:
    m = Machine.from_profile("x86_64", mem="1T")
    assert m.ram_size == (1 << 40) - 0x60400
    assert m.ram.resident_frames == 0


def test_user_e820_profile_with_acpi_ranges(tmp_path: Path) -> None:
    text = (Path(__file__).parents[2] / "src/kmemsim/profiles/linux-6.18-x86_64.toml").read_text()
    text = text.replace(
        '[0x00000000eec00000, 0x00000000febfffff, "reserved"],',
        '[0xbfff0000, 0xbfffffff, "ACPI data"],\n'
        '    [0xeec00000, 0xfebfffff, "reserved"],\n'
        '    [0xfec00000, 0xfec00fff, "ACPI NVS"],',
    ).replace(
        '[0x0000000000100000, 0x00000000bfffffff, "usable"]', '[0x100000, 0xbffeffff, "usable"]'
    )
    path = tmp_path / "acpi.toml"
    path.write_text(text)
    m = Machine.from_profile(str(path))
    types = [e.type for e in m.e820]
    assert E820Type.ACPI in types and E820Type.NVS in types
    assert m.e820[3].type.label == "ACPI data"
