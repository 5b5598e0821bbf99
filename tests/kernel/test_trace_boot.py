"""ftrace_init()'s dyn_ftrace records and trace_event_init()'s files and fields, at boot.

No capture holds the ftrace lines of the captured build; the expectations are
what kernel/trace/ftrace.c and trace_events.c compute from their inputs, and
the example of commit 264143c4e544 ("ftrace: Have ftrace pages output reflect
freed pages"), whose message shows both lines for one build.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

import kmemsim
from kmemsim.errors import KmemsimError
from kmemsim.init.main import Kernel
from kmemsim.kernel.trace.ftrace import Ftrace, ftrace_free_init_mem, ftrace_process_locs


def _small() -> Kernel:
    return kmemsim.boot("x86_64", mem="1G", cpus=2)


def _process(count: int, null: int) -> tuple[Kernel, Ftrace]:
    k = _small()
    ft = Ftrace()
    assert ftrace_process_locs(k, ft, count, null) == 0
    return k, ft


def test_groups_fill_without_an_empty_page_and_unused_groups_go_back() -> None:
    """The commit's example: 57482 slots, 743 of them NULL. Blocks of 128, 64, 32 and 1
    pages are taken (225 pages); the records fill the first three, so the last group is
    freed, and both lines say 224."""
    k, ft = _process(57482, 743)
    assert [g.order for g in ft.groups] == [7, 6, 5]
    assert [g.index for g in ft.groups] == [32768, 16384, 56739 - 32768 - 16384]
    assert ft.number_of_pages == 224 and ft.number_of_groups == 3
    assert "ftrace: allocating 56739 entries in 224 pages" in k.dmesg()


def test_without_null_slots_every_group_is_used() -> None:
    """50753 sites in 199 pages: 128 + 64 + 4 + 2 + 1 (order fls(pages) - 1 each time)."""
    k, ft = _process(50753, 0)
    assert [g.order for g in ft.groups] == [7, 6, 2, 1, 0]
    assert ft.records == 50753 and ft.number_of_pages == 199
    assert "ftrace: allocating 50753 entries in 199 pages" in k.dmesg()


def test_the_records_come_from_the_buddy_allocator() -> None:
    """The blocks are taken from the zones; a struct ftrace_page per group is kmalloc'ed."""
    k, ft = _process(1000, 0)  # 4 pages: one order-2 block
    g = ft.groups[0]
    assert g.order == 2
    assert k.ksize(g.pg) == 32  # sizeof(struct ftrace_page) 24: kmalloc-32
    page = k.page_alloc.virt_to_page(g.records)
    assert page.order == 2 and page.refcount == 1


def test_the_profile_build_prints_both_lines_and_frees_init_records() -> None:
    """linux-6.18-x86_64: 50945 slots of which 192 are NULL (the profile's guess, from
    a build of the same configuration): 200 pages in 3 groups; after boot the 2239
    .init.text records are gone, and with them the 8-page group they filled."""
    k = kmemsim.boot("linux-6.18-x86_64")
    log = k.dmesg()
    assert "ftrace: allocating 50753 entries in 200 pages" in log
    assert "ftrace: allocated 200 pages with 3 groups" in log
    assert log.index("ftrace: allocated") < log.index("Memory: ")
    ft = k.ftrace
    assert ft is not None
    assert [g.order for g in ft.groups] == [7, 6] and ft.number_of_pages == 192
    assert ft.records == 50753 - 2239
    assert ftrace_free_init_mem(k) == 0  # nothing left to free


def test_dynamic_ftrace_off_takes_no_records() -> None:
    k = kmemsim.boot("linux-6.18-x86_64", config={"DYNAMIC_FTRACE": False})
    assert k.ftrace is None and "ftrace:" not in k.dmesg()


def _slabinfo_objs(k: Kernel, name: str) -> int:
    m = re.search(rf"^{name}\s+(\d+)", k.cat("/proc/slabinfo"), re.M)
    assert m, name
    return int(m.group(1))


def test_trace_events_take_a_file_each_and_their_classes_fields() -> None:
    """One trace_event_file per event on the global array (the captured machine, with
    one tracing instance more, has two per event) and one ftrace_event_field per class
    field, plus the 7 generic and 4 common fields."""
    k = kmemsim.boot("linux-6.18-x86_64")
    img = k.machine.kernel_image
    assert _slabinfo_objs(k, "trace_event_file") == img.trace_events == 2352
    assert _slabinfo_objs(k, "ftrace_event_field") >= img.trace_event_fields + 11
    off = kmemsim.boot("linux-6.18-x86_64", config={"TRACING": False})
    assert _slabinfo_objs(off, "trace_event_file") == 0


def _tool() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "tools" / "trace_profile.py"
    spec = importlib.util.spec_from_file_location("trace_profile", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_group_plan_matches_what_the_allocator_does() -> None:
    """The pure plan the profile tool searches with gives the model's groups."""
    from kmemsim.kernel.trace.ftrace import group_plan

    for count, null in ((57482, 743), (50753, 0), (50945, 192), (1000, 0)):
        k, ft = _process(count, null)
        orders, pages = group_plan(count, null, 256)
        assert orders == [g.order for g in ft.groups]
        assert f"ftrace: allocating {count - null} entries in {pages} pages" in k.dmesg()


def test_the_profile_tool_reads_its_inputs_back(tmp_path: Path) -> None:
    """tools/trace_profile.py on a boot log and a tracefs tree: the smallest slot count
    that gives the logged groups, the init sites, and one field list per class."""
    tool = _tool()
    log = (
        "[0.1] ftrace: allocating 56739 entries in 224 pages\n"
        "[0.1] ftrace: allocated 224 pages with 3 groups\n"
    )
    slots, null, sites = tool.ftrace_slots(log)
    assert (sites, slots) == (56739, 56739 + null) and null > 0
    assert [g.order for g in _process(slots, null)[1].groups] == [7, 6, 5]
    assert tool.init_sites(56739, "55000 pages:224 groups: 3\n") == 1739

    common = "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"

    def event(system: str, name: str, fields: list[str], fmt: str) -> None:
        d = tmp_path / "events" / system / name
        d.mkdir(parents=True)
        body = "".join(f"\tfield:{f};\toffset:8;\tsize:8;\tsigned:0;\n" for f in fields)
        (d / "format").write_text(f"name: {name}\nformat:\n{common}\n{body}\nprint fmt: {fmt}\n")

    event("kmem", "kmalloc", ["void * ptr", "size_t bytes_req"], '"ptr=%p"')
    event("kmem", "kmalloc_node", ["void * ptr", "size_t bytes_req"], '"ptr=%p"')  # same class
    event("kmem", "kfree", ["void * ptr"], '"ptr=%p"')
    event("syscalls", "sys_enter_read", ["int __syscall_nr", "unsigned int fd"], '"fd"')
    event("syscalls", "sys_exit_read", ["int __syscall_nr", "long ret"], '"ret"')
    assert tool.class_fields(tmp_path / "events") == 2 + 1 + 2 + 2
    assert tool.trace_event_files("trace_event_file    4704   4704     96   42    1\n", 2) == 2352


def test_dynamic_ftrace_without_the_image_sites_is_refused() -> None:
    """A profile that does not say how many mcount sites its image has cannot take
    DYNAMIC_FTRACE: one line, no boot (the CLI exits 2)."""
    with pytest.raises(KmemsimError, match=r"^DYNAMIC_FTRACE=y needs the profile's \[kernel\]"):
        kmemsim.boot("x86_64", mem="1G", config={"DYNAMIC_FTRACE": True})


def test_all_null_slots_keep_the_first_group() -> None:
    """With every slot NULL no record is stored, but the first group stays the current
    one (ftrace_pages); only the groups after it are unused and freed."""
    from kmemsim.kernel.trace.ftrace import group_plan

    k, ft = _process(1000, 1000)
    assert [g.order for g in ft.groups] == [2] and ft.records == 0
    assert group_plan(1000, 1000, 256) == ([2], 4)
    assert group_plan(1300, 1300, 256) == ([2], 4)  # 4 + 2 pages taken, the 2-page group freed
    assert "ftrace: allocating 0 entries in 4 pages" in k.dmesg()


def test_inconsistent_ftrace_counts_in_a_profile_are_refused(tmp_path: Path) -> None:
    src = (Path(kmemsim.__file__).parent / "profiles" / "linux-6.18-x86_64.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(src.replace("ftrace_mcount_null = 192", "ftrace_mcount_null = 99999"))
    with pytest.raises(KmemsimError, match=r"kernel\.ftrace_mcount_null: 99999 NULL slots"):
        kmemsim.boot(str(bad))
    bad.write_text(src.replace("ftrace_mcount_init = 2239", "ftrace_mcount_init = 60000"))
    with pytest.raises(KmemsimError, match=r"kernel\.ftrace_mcount_init: 60000"):
        kmemsim.boot(str(bad))
