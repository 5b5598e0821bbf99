"""ftrace_init()'s dyn_ftrace records and trace_event_init()'s files and fields, at boot.

No capture holds the ftrace lines of the captured build; the expectations are
what kernel/trace/ftrace.c and trace_events.c compute from their inputs, and
the example of commit 264143c4e544 ("ftrace: Have ftrace pages output reflect
freed pages"), whose message shows both lines for one build.
"""

from __future__ import annotations

import re

import kmemsim
from kmemsim.init.main import Kernel
from kmemsim.kernel.trace.ftrace import Ftrace, ftrace_free_init_mem, ftrace_process_locs


def _small() -> Kernel:
    return kmemsim.boot("x86_64", mem="1G", cpus=2)


def _process(count: int, null: int) -> tuple[Kernel, Ftrace, int]:
    k = _small()
    ft = Ftrace()
    free = k.page_alloc.nr_free_pages()
    assert ftrace_process_locs(k, ft, count, null) == 0
    return k, ft, free - k.page_alloc.nr_free_pages()


def test_groups_fill_without_an_empty_page_and_unused_groups_go_back() -> None:
    """The commit's example: 57482 slots, 743 of them NULL. Blocks of 128, 64, 32 and 1
    pages are taken (225 pages); the records fill the first three, so the last group is
    freed, and both lines say 224."""
    k, ft, _ = _process(57482, 743)
    assert [g.order for g in ft.groups] == [7, 6, 5]
    assert [g.index for g in ft.groups] == [32768, 16384, 56739 - 32768 - 16384]
    assert ft.number_of_pages == 224 and ft.number_of_groups == 3
    assert "ftrace: allocating 56739 entries in 224 pages" in k.dmesg()


def test_without_null_slots_every_group_is_used() -> None:
    """50753 sites in 199 pages: 128 + 64 + 4 + 2 + 1 (order fls(pages) - 1 each time)."""
    k, ft, _ = _process(50753, 0)
    assert [g.order for g in ft.groups] == [7, 6, 2, 1, 0]
    assert ft.records == 50753 and ft.number_of_pages == 199
    assert "ftrace: allocating 50753 entries in 199 pages" in k.dmesg()


def test_the_records_come_from_the_buddy_allocator() -> None:
    """The blocks are taken from the zones; a struct ftrace_page per group is kmalloc'ed."""
    k, ft, _ = _process(1000, 0)  # 4 pages: one order-2 block
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
