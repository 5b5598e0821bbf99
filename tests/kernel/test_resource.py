"""kernel/resource.c: the resource tree, its conflict and nesting rules, /proc/iomem and ioports.

The first tests are kernel/resource_kunit.c's cases (6.18: resource_test_union,
resource_test_intersection, resource_test_region_intersects), written here as
the kunit file writes them.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kmemsim
from kmemsim.include.linux.ioport import (
    IORES_DESC_NONE,
    IORESOURCE_BUSY,
    IORESOURCE_MEM,
    IORESOURCE_SYSTEM_RAM,
    REGION_DISJOINT,
    REGION_INTERSECTS,
    REGION_MIXED,
    Resource,
    pR,
    resource_intersection,
    resource_union,
)

SZ_1M = 1 << 20
SZ_128K = 128 << 10
PAGE_SIZE = 4096

R0 = (0x0000, 0xFFFF)
R1 = (0x1234, 0x2345)
R2 = (0x4567, 0x5678)
R3 = (0x6789, 0x789A)
R4 = (0x2000, 0x7000)


def _r(se: tuple[int, int]) -> Resource:
    return Resource(start=se[0], end=se[1])


# results_for_union / results_for_intersection of resource_kunit.c: (r1, r2, result or None)
UNION = [
    (R1, R0, R0),
    (R2, R0, R0),
    (R3, R0, R0),
    (R4, R0, R0),
    (R2, R1, None),
    (R3, R1, None),
    (R4, R1, (R1[0], R4[1])),
    (R2, R3, None),
    (R2, R4, R4),
    (R3, R4, (R4[0], R3[1])),
]
INTERSECTION = [
    (R1, R0, R1),
    (R2, R0, R2),
    (R3, R0, R3),
    (R4, R0, R4),
    (R2, R1, None),
    (R3, R1, None),
    (R4, R1, (R4[0], R1[1])),
    (R2, R3, None),
    (R2, R4, R2),
    (R3, R4, (R3[0], R4[1])),
]


@pytest.mark.parametrize(("a", "b", "want"), UNION)
def test_kunit_resource_test_union(a, b, want) -> None:
    for r1, r2 in ((a, b), (b, a)):
        result = Resource()
        ret = resource_union(_r(r1), _r(r2), result)
        assert ret is (want is not None)
        assert (result.start, result.end) == (want or (0, 0))


@pytest.mark.parametrize(("a", "b", "want"), INTERSECTION)
def test_kunit_resource_test_intersection(a, b, want) -> None:
    for r1, r2 in ((a, b), (b, a)):
        result = Resource()
        ret = resource_intersection(_r(r1), _r(r2), result)
        assert ret is (want is not None)
        assert (result.start, result.end) == (want or (0, 0))


@pytest.mark.parametrize("profile", ["x86_64", "linux-6.18-x86_64", "beaglebone-black"])
def test_kunit_resource_test_region_intersects(profile: str) -> None:
    """The test tree of resource_kunit.c, in a free hole of iomem_resource:

    BASE-BASE+1M-1 : Test System RAM 0       (hole 0: BASE+1M-BASE+2M)
    BASE+2M-BASE+3M-1 : Test CXL Window 0
    BASE+3M-BASE+4M-1 : Test System RAM 1
    BASE+4M-BASE+7M-1 : Test CXL Window 1
      BASE+4M-BASE+5M-1 : Test System RAM 2
        BASE+4M+128K-BASE+4M+256K-1: Test Code
      BASE+5M-BASE+6M-1 : Test System RAM 3
    """
    k = kmemsim.boot(profile)
    flags = IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY
    ram0, hole0, win0, ram1, win1 = 0, SZ_1M, 2 * SZ_1M, 3 * SZ_1M, 4 * SZ_1M
    ram2, code, ram3 = win1, win1 + SZ_128K, win1 + SZ_1M
    total = win1 + 3 * SZ_1M
    parent = k.alloc_free_mem_region(k.iomem_resource, total, SZ_1M, "test resources")
    assert isinstance(parent, Resource)  # not an ERR_PTR(-ERANGE)
    start = parent.start

    def request(off: int, size: int, name: str) -> None:
        assert k.__request_region(parent, start + off, size, name, flags) is not None

    def insert(off: int, size: int, name: str, fl: int) -> None:
        res = Resource(start=start + off, end=start + off + size - 1, name=name, flags=fl)
        assert k.insert_resource(parent, res) == 0

    request(ram0, SZ_1M, "Test System RAM 0")
    insert(win0, SZ_1M, "Test CXL Window 0", IORESOURCE_MEM)
    request(ram1, SZ_1M, "Test System RAM 1")
    insert(win1, 3 * SZ_1M, "Test CXL Window 1", IORESOURCE_MEM)
    request(ram2, SZ_1M, "Test System RAM 2")
    insert(code, SZ_128K, "Test Code", flags)
    request(ram3, SZ_1M, "Test System RAM 3")
    assert k.remove_resource(parent) == 0  # kunit_release_action(remove_free_resource)

    def ri(off: int, size: int) -> int:
        return k.region_intersects(start + off, size, IORESOURCE_SYSTEM_RAM, IORES_DESC_NONE)

    assert ri(ram0, PAGE_SIZE) == REGION_INTERSECTS
    assert ri(ram0 + SZ_1M - PAGE_SIZE, 2 * PAGE_SIZE) == REGION_INTERSECTS
    assert ri(hole0, PAGE_SIZE) == REGION_DISJOINT
    assert ri(hole0 + SZ_1M - PAGE_SIZE, 2 * PAGE_SIZE) == REGION_DISJOINT
    assert ri(win0 + SZ_1M - PAGE_SIZE, 2 * PAGE_SIZE) == REGION_MIXED
    assert ri(ram1 + SZ_1M - PAGE_SIZE, 2 * PAGE_SIZE) == REGION_INTERSECTS
    assert ri(ram2 + SZ_1M - PAGE_SIZE, 2 * PAGE_SIZE) == REGION_INTERSECTS
    assert ri(code, PAGE_SIZE) == REGION_INTERSECTS
    assert ri(ram2, SZ_1M + PAGE_SIZE) == REGION_INTERSECTS
    assert ri(ram3, SZ_1M + PAGE_SIZE) == REGION_MIXED


# ------------------------------------------------------------------ /proc/iomem, /proc/ioports
def test_iomem_of_the_captured_machine_is_the_real_file(shared_data: Path) -> None:
    """e820 entries (the first page trimmed to Reserved), System ROM, the four kernel sections
    from the image's symbols, the PCI windows and BARs, IOAPIC: line for line."""
    k = kmemsim.boot("linux-6.18-x86_64")
    assert k.cat("/proc/iomem") == (shared_data / "proc-iomem.txt").read_text()


def test_ioports_of_the_captured_machine_is_the_real_file(shared_data: Path) -> None:
    """standard_io_resources[] nested under the PCI windows, PCI conf1, rtc_cmos, serial."""
    k = kmemsim.boot("linux-6.18-x86_64")
    assert k.cat("/proc/ioports") == (shared_data / "proc-ioports.txt").read_text()


def _slides_iomem_listing() -> list[str]:
    seed = Path(__file__).resolve().parents[2].parent / "shared" / "seed"
    text = "\n".join(p.read_text() for p in sorted(seed.glob("*.txt")))
    block = text.split("/proc/iomem example - ARM 32 bit (BeagleBone Black")[1]
    listing = block.split("```")[1]
    return [line for line in listing.strip("\n").splitlines() if line.strip()]


def test_beaglebone_black_iomem_is_the_slides_listing_with_the_kernels_indent() -> None:
    ours = kmemsim.boot("beaglebone-black").cat("/proc/iomem").splitlines()
    slides = _slides_iomem_listing()
    assert len(slides) == 32
    # The slides lost r_show()'s two-space indent of the kernel sections under System RAM.
    assert [line.lstrip() for line in ours] == slides
    assert ours[-3:] == [
        "80000000-9fdfffff : System RAM",
        "  80008000-80cfffff : Kernel code",
        "  80e00000-80f3d807 : Kernel data",
    ]


def test_a_reader_without_cap_sys_admin_sees_zeros() -> None:
    k = kmemsim.boot("x86_64")
    lines = k.cat("/proc/iomem", user=True).splitlines()
    assert lines[0] == "00000000-00000000 : Reserved"
    assert "  00000000-00000000 : Kernel code" in lines
    assert all(re.match(r"^ *0{8}-0{8} : ", line) for line in lines)
    assert k.cat("/proc/ioports", user=True).splitlines()[0] == "0000-0000 : PCI Bus 0000:00"
    assert k.cat("/proc/iomem").splitlines()[0] == "00000000-00000fff : Reserved"


def test_beaglebone_ioports_is_empty_and_wide() -> None:
    k = kmemsim.boot("beaglebone-black")
    assert k.cat("/proc/ioports") == ""
    assert k.ioport_resource.end == 0xFFFFF  # IO_SPACE_LIMIT of arch/arm
    res = k.request_region(0x1000, 8, "isa")
    assert res is not None
    assert k.cat("/proc/ioports") == "00001000-00001007 : isa\n"  # width 8: root ends past 0xffff


# ------------------------------------------------------------------ driver requests
def test_second_request_of_a_busy_range_is_null_and_iomem_names_the_first_owner() -> None:
    k = kmemsim.boot("beaglebone-black")
    uart1 = 0x48022000
    first = k.request_mem_region(uart1, 0x1000, "foo")
    assert first is not None and first.flags & IORESOURCE_BUSY
    assert k.request_mem_region(uart1 + 0x10, 4, "bar") is None
    assert "48022000-48022fff : foo" in k.cat("/proc/iomem").splitlines()
    k.release_mem_region(uart1, 0x1000)
    assert "foo" not in k.cat("/proc/iomem")
    assert k.request_mem_region(uart1 + 0x10, 4, "bar") is not None


def test_a_region_claimed_at_boot_is_busy() -> None:
    k = kmemsim.boot("beaglebone-black")
    assert k.request_mem_region(0x44E09000, 0x20, "mine") is None  # uart0: "serial"


def test_system_ram_and_kernel_code_cannot_be_requested() -> None:
    k = kmemsim.boot("x86_64")
    assert k.request_mem_region(0x1000000, 0x1000, "evil") is None  # Kernel code (busy RAM)
    assert k.request_mem_region(0x20000000, 0x1000, "evil") is None  # System RAM


def test_a_request_goes_down_into_non_busy_windows() -> None:
    k = kmemsim.boot("linux-6.18-x86_64")
    res = k.request_mem_region(0xEEC00100, 0x100, "mine")  # Reserved > ECAM > PCI Bus
    assert res is not None
    assert res.parent is not None and res.parent.name == "PCI Bus 0000:00"
    assert "      eec00100-eec001ff : mine" in k.cat("/proc/iomem").splitlines()
    io = k.request_region(0x2F8, 8, "serial")  # COM2 below the PCI Bus port window
    assert io is not None and io.parent is not None and io.parent.name == "PCI Bus 0000:00"


def test_release_of_a_range_nobody_holds_warns_as_the_kernel_does() -> None:
    k = kmemsim.boot("x86_64")
    mark = len(k.log)
    k.release_mem_region(0xFED00000, 0x400)
    assert (
        "resource: Trying to free nonexistent resource <0x00000000fed00000-0x00000000fed003ff>"
        in (k.dmesg(mark))
    )
    k32 = kmemsim.boot("beaglebone-black")
    k32.release_mem_region(0x48022000, 0x20)
    assert "<0x48022000-0x4802201f>" in k32.dmesg()


def test_requests_are_kzalloced_struct_resources_and_freed_on_release() -> None:
    """__request_region() kzalloc()s sizeof(struct resource) (64 bytes on 64-bit),
    __release_region() kfree()s it: the next request gets the object freed last."""
    k = kmemsim.boot("x86_64")
    regions = [k.request_mem_region(0xFED00000 + i * 0x100, 0x100, f"r{i}") for i in range(10)]
    addrs = [r.addr for r in regions if r is not None]
    assert len(set(addrs)) == 10 and all(k.ksize(a) == 64 for a in addrs)
    for i in range(10):
        k.release_mem_region(0xFED00000 + i * 0x100, 0x100)
    again = k.request_mem_region(0xFED00000, 0x100, "again")
    assert again is not None and again.addr == addrs[-1]
    assert kmemsim.boot("beaglebone-black").request_mem_region(0x48022000, 4, "x").addr


def test_insert_resource_nests_what_it_covers_and_refuses_a_partial_overlap() -> None:
    k = kmemsim.boot("x86_64")
    a = k.request_mem_region(0xFED00000, 0x100, "a")
    b = k.request_mem_region(0xFED00200, 0x100, "b")
    assert a is not None and b is not None
    win = Resource(start=0xFED00000, end=0xFED00FFF, name="HPET window", flags=IORESOURCE_MEM)
    assert k.insert_resource(k.iomem_resource, win) == 0
    assert a.parent is win and b.parent is win and win.children() == [a, b]
    bad = Resource(start=0xFED00800, end=0xFED01FFF, name="bad", flags=IORESOURCE_MEM)
    assert k.insert_resource(k.iomem_resource, bad) == -kmemsim.EBUSY
    assert k.insert_resource_conflict(k.iomem_resource, bad) is win
    assert k.remove_resource(win) == 0  # the children go back up
    assert a.parent is k.iomem_resource and b.parent is k.iomem_resource


def test_request_resource_reports_the_conflict() -> None:
    k = kmemsim.boot("x86_64")
    res = Resource(start=0xFEBFF000, end=0xFEC00FFF, name="x", flags=IORESOURCE_MEM)
    conflict = k.request_resource_conflict(k.iomem_resource, res)
    assert conflict is not None and conflict.name == "PCI Bus 0000:00"
    assert k.request_resource(k.iomem_resource, res) == -kmemsim.EBUSY
    assert pR(conflict) == "[mem 0xc0000000-0xfebfffff]"


def test_walk_iomem_res_desc_walks_the_whole_tree_clipped() -> None:
    k = kmemsim.boot("x86_64")
    seen: list[tuple[int, int, str | None]] = []

    def func(res: Resource, arg: list[tuple[int, int, str | None]]) -> int:
        arg.append((res.start, res.end, res.name))
        return 0

    flags = IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY
    assert k.walk_iomem_res_desc(IORES_DESC_NONE, flags, 0x800, 0x1FFFFFF, seen, func) == 0
    # Clipped to [start, end]; the walk goes on after the end of each match, so the
    # Kernel code inside the second System RAM range is not reported again.
    assert seen == [(0x1000, 0x9FBFF, "System RAM"), (0x100000, 0x1FFFFFF, "System RAM")]
    assert k.page_is_ram(0x100) and not k.page_is_ram(0xA0)
    # Busy memory nested in non-busy windows is found (find_next_iomem_res walks children).
    k618 = kmemsim.boot("linux-6.18-x86_64")
    found: list[tuple[int, int, str | None]] = []
    assert k618.walk_mem_res(0x4000000000, 0x40000FFFFF, found, func) == 0
    assert found == [
        (0x4000000000, 0x400007FFFF, "virtio-pci-modern"),
        (0x4000080000, 0x40000FFFFF, "virtio-pci-modern"),
    ]
    assert k.walk_iomem_res_desc(IORES_DESC_NONE, flags, 0x200000000, 0x2FFFFFFFF, [], func) == (
        -kmemsim.EINVAL
    )


def test_x86_e820_late_reservation_and_apics_nest_as_the_kernel_places_them() -> None:
    lines = kmemsim.boot("x86_64").cat("/proc/iomem").splitlines()
    # IOAPIC (late_initcall) inside the larger e820 reservation; the local APIC of the same
    # size as its reservation becomes its parent (insert_resource of an equal range).
    assert (
        lines[lines.index("fec00000-fec00fff : Reserved") + 1] == "  fec00000-fec003ff : IOAPIC 0"
    )
    assert (
        lines[lines.index("fee00000-fee00fff : Local APIC") + 1] == "  fee00000-fee00fff : Reserved"
    )


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 63), st.integers(1, 8), st.booleans()), max_size=40))
def test_requests_keep_the_tree_sorted_and_nested(ops: list[tuple[int, int, bool]]) -> None:
    k = kmemsim.boot("beaglebone-black")
    base = 0x50000000
    held: dict[int, int] = {}
    for slot, n, release in ops:
        start, size = base + slot * 0x100, n * 0x100
        if release and slot in held:
            k.release_mem_region(start, held.pop(slot))
            continue
        res = k.request_mem_region(start, size, f"s{slot}")
        overlaps = any(s < slot + n and slot < s + m // 0x100 for s, m in held.items())
        assert (res is None) == overlaps
        if res is not None:
            held[slot] = size

    def check(parent: Resource) -> None:
        kids = parent.children()
        for a, b in itertools.pairwise(kids):
            assert a.end < b.start
        for c in kids:
            assert c.parent is parent and parent.start <= c.start <= c.end <= parent.end
            check(c)

    check(k.iomem_resource)


def test_example_iomem_shows_the_conflict_and_the_release(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import runpy

    path = Path(__file__).resolve().parents[2] / "examples" / "iomem.py"
    k = kmemsim.boot("beaglebone-black")
    runpy.run_path(str(path), init_globals={"k": k, "kmemsim": kmemsim}, run_name="__main__")
    out = capsys.readouterr().out
    assert "48022000-48022fff : foo" in out
    assert "= None  (NULL: foo holds it)" in out
    assert "the owner, as /proc/iomem names it: 48022000-48022fff : foo" in out
    after = out.split("after release_mem_region()")[1]
    assert "foo" not in after.split("bar again")[0]
    assert "Trying to free nonexistent resource <0x48022010-0x48022013>" in k.dmesg()
    assert kmemsim.DEFINE_RES_MEM(0x1000, 0x100).end == 0x10FF


def test_e820_ram_buffer_lines_are_the_real_ones(shared_data: Path) -> None:
    """e820__reserve_resources_late(): the gap after each RAM entry up to ram_alignment()."""

    def lines(text: str) -> list[str]:
        return [x.split("] ", 1)[1] for x in text.splitlines() if "RAM buffer" in x]

    real = lines((shared_data / "dmesg-memory.txt").read_text())
    assert real == ["e820: reserve RAM buffer [mem 0x0009fc00-0x0009ffff]"]
    assert lines(kmemsim.boot("linux-6.18-x86_64").dmesg()) == real
