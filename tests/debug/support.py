"""Helpers of the memory-debugging tests: KUnit's KUNIT_EXPECT_KASAN_FAIL in kmemsim terms."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import kmemsim

_BUG = re.compile(r"BUG: KASAN: (\S+) in (\S+)")


def kasan_kernel(**config: str) -> kmemsim.Kernel:
    """A kernel as the KASAN KUnit suite runs: KASAN on, every report printed."""
    cfg = {"KASAN": "y", "kasan_multi_shot": "y", **config}
    k = kmemsim.boot("x86_64", mem="1G", cpus=2, config=cfg)
    k.sched.set_task("kunit_try_catch", 1234)
    return k


def kasan_reports(text: str) -> list[tuple[str, str]]:
    """(bug type, function) of every KASAN report in a log."""
    return [(m.group(1), m.group(2).split("+", 1)[0]) for m in _BUG.finditer(text)]


@contextmanager
def expect_kasan_fail(k: kmemsim.Kernel, bug_type: str, func: str | None = None) -> Iterator[None]:
    """KUNIT_EXPECT_KASAN_FAIL(): exactly one KASAN report, of `bug_type` (in `func`)."""
    start = len(k.log)
    yield
    reports = kasan_reports(k.dmesg(start))
    assert len(reports) == 1, reports
    assert reports[0][0] == bug_type, reports
    if func is not None:
        assert reports[0][1] == func, reports


@contextmanager
def expect_no_kasan_report(k: kmemsim.Kernel) -> Iterator[None]:
    start = len(k.log)
    yield
    assert kasan_reports(k.dmesg(start)) == []
