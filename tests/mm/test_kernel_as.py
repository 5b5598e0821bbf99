"""The kernel address space: translation, faults with the architecture's Oops, lib/string.c.

The report lines are pinned to the 6.18 sources that print them:
arch/x86/mm/fault.c show_fault_oops() / dump_pagetable() / page_fault_oops(),
arch/x86/kernel/dumpstack.c __die_header() ("Oops: %s: %04lx [#%d]" with
" SMP" and " NOPTI"), arch/arm/mm/fault.c die_kernel_fault() and show_pte(),
arch/arm/kernel/traps.c __die() ("Internal error: %s: %x [#%d]" " SMP" " ARM").
"""

from __future__ import annotations

from pathlib import Path

import pytest

import kmemsim
from kmemsim import __GFP_ZERO, GFP_KERNEL, Oops

PAGE_OFFSET_X86_64 = 0xFFFF888000000000


def oops_lines(k: kmemsim.Kernel, since: int) -> list[str]:
    """The texts of the log records from `since` on (no timestamps)."""
    return [r.text for r in k.log.records[since:]]


def expect_oops(k: kmemsim.Kernel, fn, *args) -> list[str]:  # type: ignore[no-untyped-def]
    since = len(k.log)
    with pytest.raises(Oops):
        fn(*args)
    return oops_lines(k, since)


@pytest.fixture(scope="module")
def x86() -> kmemsim.Kernel:
    return kmemsim.boot("x86_64", mem="4G", cpus=2)


# ---------------------------------------------------------------------- x86_64 faults
def test_null_pointer_read_is_the_x86_null_dereference_oops() -> None:
    k = kmemsim.boot("x86_64", mem="256M")
    since = len(k.log)
    with pytest.raises(Oops):
        k.read(0, 8)
    lines = oops_lines(k, since)
    assert lines[:5] == [
        "BUG: kernel NULL pointer dereference, address: 0000000000000000",
        "#PF: supervisor read access in kernel mode",
        "#PF: error_code(0x0000) - not-present page",
        "PGD 0 P4D 0 ",
        "Oops: Oops: 0000 [#1] SMP NOPTI",
    ]
    assert lines[5].startswith("CPU: 0 UID: 0 PID: 0 Comm: swapper/0 Not tainted 6.18")
    # The instruction pointer names the function that dereferenced NULL: this test.
    assert "RIP: 0010:test_null_pointer_read_is_the_x86_null_dereference_oops" in lines
    assert lines.index("Modules linked in:") < lines.index("CR2: 0000000000000000")
    assert "---[ end trace 0000000000000000 ]---" in lines
    # oops_end() taints the kernel 'D'; the next oops is #2 and says so.
    lines = expect_oops(k, k.write, 0x10, b"x")
    assert lines[:3] == [
        "BUG: kernel NULL pointer dereference, address: 0000000000000010",
        "#PF: supervisor write access in kernel mode",
        "#PF: error_code(0x0002) - not-present page",
    ]
    assert "Oops: Oops: 0002 [#2] SMP NOPTI" in lines
    assert any(" Tainted: D " in line for line in lines if line.startswith("CPU: "))


def test_first_page_only_is_a_null_dereference(x86: kmemsim.Kernel) -> None:
    lines = expect_oops(x86, x86.read, 0xFFF, 1)
    assert lines[0] == "BUG: kernel NULL pointer dereference, address: 0000000000000fff"
    lines = expect_oops(x86, x86.read, 0x1000, 1)
    assert lines[0] == "BUG: unable to handle page fault for address: 0000000000001000"


def test_user_address_from_kernel_mode_faults(x86: kmemsim.Kernel) -> None:
    lines = expect_oops(x86, x86.address_space.read_ulong, 0x400000)
    assert lines[0] == "BUG: unable to handle page fault for address: 0000000000400000"
    assert lines[1] == "#PF: supervisor read access in kernel mode"
    assert lines[3] == "PGD 0 P4D 0 "


def test_direct_map_hole_faults(x86: kmemsim.Kernel) -> None:
    # 4 GiB on the generic PC: RAM below the PCI hole at 3 GiB, the rest above 4 GiB.
    hole = PAGE_OFFSET_X86_64 + 0xD0000000
    lines = expect_oops(x86, x86.read, hole, 4)
    assert lines[0] == "BUG: unable to handle page fault for address: ffff8880d0000000"
    # A store into the hole faults too, and never creates the frame.
    resident = x86.mem.resident_frames
    lines = expect_oops(x86, x86.write, hole + 8, b"\x01")
    assert lines[1] == "#PF: supervisor write access in kernel mode"
    assert x86.mem.resident_frames == resident
    # Both sides of the hole are RAM.
    assert x86.address_space.translate(PAGE_OFFSET_X86_64 + 0xBFFFF000) == 0xBFFFF000
    assert x86.address_space.translate(PAGE_OFFSET_X86_64 + 0x100000000) == 0x100000000


def test_address_past_ram_faults(x86: kmemsim.Kernel) -> None:
    end = x86.address_space.dm_start + x86.address_space.dm_size
    assert x86.address_space.in_direct_map(end - 1)
    lines = expect_oops(x86, x86.read, end, 1)
    assert lines[0] == f"BUG: unable to handle page fault for address: {end:016x}"


def test_access_straddling_the_end_of_ram_faults_at_the_first_unmapped_byte(
    x86: kmemsim.Kernel,
) -> None:
    end = x86.address_space.dm_start + x86.address_space.dm_size
    lines = expect_oops(x86, x86.memset, end - 16, 0xAA, 64)
    assert lines[0] == f"BUG: unable to handle page fault for address: {end:016x}"
    assert lines[1] == "#PF: supervisor write access in kernel mode"
    assert "RIP: 0010:memset" in lines
    assert x86.read(end - 16, 16) == b"\xaa" * 16  # the bytes before the fault were stored


def test_non_canonical_address_is_a_general_protection_fault(x86: kmemsim.Kernel) -> None:
    lines = expect_oops(x86, x86.address_space.read_ulong, 0xDEAD000000000100)
    assert lines[0] == (
        "Oops: general protection fault, probably for non-canonical address "
        f"0xdead000000000100: 0000 [#{x86.address_space.die_counter}] SMP NOPTI"
    )
    assert not any(line.startswith("BUG:") for line in lines)


def test_oops_in_an_interrupt_panics() -> None:
    k = kmemsim.boot("x86_64", mem="256M")
    since = len(k.log)
    with k.irq_context(), pytest.raises(Oops, match="Fatal exception in interrupt"):
        k.read(0, 1)
    lines = oops_lines(k, since)
    assert " <IRQ>" in lines
    assert lines[-1] == "Kernel panic - not syncing: Fatal exception in interrupt"


# ---------------------------------------------------------------------- 32-bit faults
def test_i386_null_and_highmem_addresses_fault() -> None:
    k = kmemsim.boot("i386", mem="2G")
    lines = expect_oops(k, k.read, 0, 4)
    assert lines[:5] == [
        "BUG: kernel NULL pointer dereference, address: 00000000",
        "#PF: supervisor read access in kernel mode",
        "#PF: error_code(0x0000) - not-present page",
        "*pde = 00000000 ",
        "Oops: Oops: 0000 [#1] SMP",  # no PTI without PAE
    ]
    assert "CR2: 0000000000000000" in lines
    # Lowmem ends at max_low_pfn (887 MiB with VMSPLIT_3G): past it there is no direct map.
    low_end = 0xC0000000 + (k.direct_map.max_low_pfn << 12)
    assert k.address_space.translate(low_end - 4096) == (k.direct_map.max_low_pfn - 1) << 12
    lines = expect_oops(k, k.read, low_end, 4)
    assert lines[0] == f"BUG: unable to handle page fault for address: {low_end:08x}"


def test_arm_null_dereference_and_paging_request() -> None:
    k = kmemsim.boot("beaglebone-black")
    lines = expect_oops(k, k.read, 0, 4)
    assert lines[:4] == [
        "8<--- cut here ---",
        "Unable to handle kernel NULL pointer dereference at virtual address 00000000 when read",
        "[00000000] *pgd=00000000",
        "Internal error: Oops: 5 [#1] SMP ARM",
    ]
    lines = expect_oops(k, k.write, 0xE0000000, b"\0")
    assert lines[1] == (
        "Unable to handle kernel paging request at virtual address e0000000 when write"
    )
    assert lines[3] == "Internal error: Oops: 805 [#2] SMP ARM"


# ---------------------------------------------------------------------- translation
def test_direct_map_translation_and_roundtrip(x86: kmemsim.Kernel) -> None:
    p = x86.get_free_pages(GFP_KERNEL, 1)
    assert x86.address_space.translate(p) == x86.virt_to_phys(p)
    data = bytes(range(256)) * 20  # crosses the page boundary
    x86.write(p + 100, data)
    assert x86.read(p + 100, len(data)) == data
    assert x86.read(p + 4096, 4) == x86.mem.read(x86.virt_to_phys(p) + 4096, 4)
    x86.free_pages(p, 1)


def test_native_word_in_machine_byte_order(x86: kmemsim.Kernel) -> None:
    p = x86.kmalloc(64, GFP_KERNEL)
    x86.address_space.write_ulong(p, 0x1122334455667788)
    assert x86.read(p, 8) == bytes.fromhex("8877665544332211")
    assert x86.address_space.read_ulong(p) == 0x1122334455667788
    x86.address_space.write_ulong(p + 8, -1)  # an unsigned long: modulo 2**64
    assert x86.address_space.read_ulong(p + 8) == (1 << 64) - 1
    x86.kfree(p)


def test_native_word_straddling_a_page(x86: kmemsim.Kernel) -> None:
    p = x86.get_free_pages(GFP_KERNEL, 1)
    x86.address_space.write_ulong(p + 4092, 0x0102030405060708)
    assert x86.address_space.read_ulong(p + 4092) == 0x0102030405060708
    assert x86.read(p + 4096, 4) == bytes([4, 3, 2, 1])
    x86.free_pages(p, 1)


def test_i386_word_is_four_bytes() -> None:
    k = kmemsim.boot("i386", mem="256M")
    p = k.kmalloc(16, GFP_KERNEL)
    k.address_space.write_ulong(p, 0xA1B2C3D4E5)
    assert k.read(p, 8) == bytes([0xE5, 0xD4, 0xC3, 0xB2, 0, 0, 0, 0])
    assert k.address_space.read_ulong(p) == 0xB2C3D4E5


def test_big_endian_machine_stores_words_big_endian(tmp_path: Path) -> None:
    import kmemsim.profiles

    src = Path(kmemsim.profiles.__file__).parent / "beaglebone-black.toml"
    profile = tmp_path / "bbb-be.toml"
    profile.write_text(
        src.read_text().replace("big_endian = false", "big_endian = true"), encoding="utf-8"
    )
    k = kmemsim.boot(str(profile))
    p = k.kmalloc(16, GFP_KERNEL)
    k.address_space.write_ulong(p, 0x11223344)
    assert k.read(p, 4) == bytes.fromhex("11223344")
    assert k.address_space.read_ulong(p) == 0x11223344


def test_clear_pages_gives_host_memory_back(x86: kmemsim.Kernel) -> None:
    page = x86.alloc_pages(GFP_KERNEL, 2)
    assert page is not None
    addr = x86.page_address(page)
    resident = x86.mem.resident_frames
    for i in range(4):
        x86.write(addr + i * 4096, b"\xff")
    assert x86.mem.resident_frames == resident + 4
    x86.address_space.clear_pages(page.pfn, 4)
    assert x86.mem.resident_frames == resident
    assert x86.read(addr, 4 * 4096) == bytes(4 * 4096)
    x86.free_pages_struct(page, 2)


def test_kernel_image_mapping_holds_the_rodata_literals(x86: kmemsim.Kernel) -> None:
    s = x86.strchr("hello, world", ord("w"))
    # __START_KERNEL_map + phys: the literal sits in the image's .rodata.
    assert 0xFFFFFFFF80000000 <= s < 0xFFFFFFFFC0000000
    assert x86.read(s, 6) == b"world\0"
    assert x86.address_space.translate(s) == s - 0xFFFFFFFF80000000
    assert x86.strchr("hello, world", ord("w")) == s  # one literal, one address


# ---------------------------------------------------------------------- lib/string.c
def test_memmove_overlapping_both_ways(x86: kmemsim.Kernel) -> None:
    p = x86.get_free_pages(GFP_KERNEL, 2)
    data = bytes(i % 251 for i in range(10000))
    x86.write(p, data)
    assert x86.memmove(p + 3, p, 10000) == p + 3
    assert x86.read(p + 3, 10000) == data
    assert x86.memmove(p, p + 3, 10000) == p
    assert x86.read(p, 10000) == data
    x86.free_pages(p, 2)


def test_memcpy_memset_memchr_memcmp(x86: kmemsim.Kernel) -> None:
    a = x86.kmalloc(64, GFP_KERNEL)
    b = x86.kmalloc(64, GFP_KERNEL)
    assert x86.memset(a, 0x141, 64) == a  # the byte is (unsigned char)c
    assert x86.read(a, 64) == b"\x41" * 64
    assert x86.memcpy(b, a, 64) == b
    assert x86.memcmp(a, b, 64) == 0
    x86.write(b + 10, b"\x40")
    assert x86.memcmp(a, b, 64) == 1  # 0x41 - 0x40
    assert x86.memcmp(b, a, 64) == -1
    x86.write(b + 20, b"\xff")
    assert x86.memcmp(a, b, 11) == 1
    assert x86.memcmp(b"\x00\x80", b"\x00\x01", 2) == 0x7F  # unsigned bytes
    assert x86.memchr(b, 0x40, 64) == b + 10
    assert x86.memchr(b, 0x40, 10) == 0
    assert x86.memcpy(b, "literal", 8) == b
    assert x86.read(b, 8) == b"literal\0"


def test_strlen_strnlen_across_pages(x86: kmemsim.Kernel) -> None:
    p = x86.get_free_pages(GFP_KERNEL | __GFP_ZERO, 1)
    x86.memset(p, ord("x"), 5000)
    assert x86.strlen(p) == 5000
    assert x86.strnlen(p, 4097) == 4097
    assert x86.strnlen(p + 4990, 100) == 10
    assert x86.strlen("") == 0
    assert x86.strlen(b"bytes") == 5
    x86.free_pages(p, 1)


def test_strscpy_returns_length_or_e2big(x86: kmemsim.Kernel) -> None:
    d = x86.kmalloc(16, GFP_KERNEL)
    assert x86.strscpy(d, "short", 16) == 5
    assert x86.read(d, 6) == b"short\0"
    assert x86.strscpy(d, "exactly 15 char", 16) == 15
    assert x86.strscpy(d, "sixteen chars!!!", 16) == -7  # -E2BIG, truncated
    assert x86.read(d, 16) == b"sixteen chars!!\0"
    x86.write(d, b"untouched\0")
    assert x86.strscpy(d, "x", 0) == -7
    assert x86.read(d, 10) == b"untouched\0"
    since = len(x86.log)
    assert x86.strscpy(d, "x", 1 << 31) == -7  # count > INT_MAX: WARN_ON_ONCE
    assert any("sized_strscpy" in line for line in oops_lines(x86, since))


def test_strchr_strrchr_find_the_nul_too(x86: kmemsim.Kernel) -> None:
    s = x86.kstrdup("a/b/c", GFP_KERNEL)
    assert x86.strchr(s, ord("/")) == s + 1
    assert x86.strrchr(s, ord("/")) == s + 3
    assert x86.strchr(s, 0) == s + 5
    assert x86.strrchr(s, 0) == s + 5
    assert x86.strchr(s, ord("z")) == 0
    assert x86.strchr(s, ord("/") + 256) == s + 1  # compared as char


def test_strcmp_strncmp_are_unsigned_and_signed_as_lib_string(x86: kmemsim.Kernel) -> None:
    s = x86.kstrdup("abc", GFP_KERNEL)
    assert x86.strcmp(s, "abc") == 0
    assert x86.strcmp(s, "abd") == -1
    assert x86.strcmp(s, "ab") == 1
    assert x86.strcmp("\x7f", b"\x80") == -1  # unsigned char
    assert x86.strncmp(s, "abX", 2) == 0
    assert x86.strncmp(s, "abX", 3) == 1


def test_sizes_are_size_t(x86: kmemsim.Kernel) -> None:
    # memset(p, 0, -1) is memset(p, 0, SIZE_MAX): it runs to the end of the
    # direct map and faults there, as the kernel's would.
    end = x86.address_space.dm_start + x86.address_space.dm_size
    lines = expect_oops(x86, x86.memset, end - 8192, 0, -1)
    assert lines[0] == f"BUG: unable to handle page fault for address: {end:016x}"
    assert x86.strnlen("abc", -1) == 3


def test_virt_addr_valid_and_pfn_valid(x86: kmemsim.Kernel) -> None:
    p = x86.kmalloc(64, GFP_KERNEL)
    assert x86.virt_addr_valid(p) and x86.pfn_valid(x86.virt_to_phys(p) >> 12)
    assert x86.virt_addr_valid(x86.strchr("literal in .rodata", ord("r")))  # image mapping
    v = x86.vmalloc(4096)
    assert not x86.virt_addr_valid(v) and not x86.virt_addr_valid(0)
    end = x86.address_space.dm_start + x86.address_space.dm_size
    assert not x86.virt_addr_valid(end) and not x86.pfn_valid(1 << 30)
    x86.vfree(v)
