"""The log buffer and the pseudo-file tree behind k.dmesg() and k.cat()."""

from __future__ import annotations

import pytest

from kmemsim.errors import KmemsimError
from kmemsim.fs.libfs import Link, PseudoFS
from kmemsim.kernel.printk import LogLevel, Printk


def test_dmesg_format_and_levels() -> None:
    log = Printk()
    log.pr_info("Zone ranges:")
    log.pr_debug("noise")
    log.clock_nsec = 2_622_000
    log.pr_err("BUG: x\nsecond line")
    lines = log.dmesg().splitlines()
    assert lines[0] == "[    0.000000] Zone ranges:"
    assert lines[2] == "[    0.002622] BUG: x" and lines[3].endswith("] second line")
    assert "noise" not in log.dmesg(level=LogLevel.INFO)
    assert log.dmesg(since=2).count("\n") == 2


def test_files_links_and_generated_dirs() -> None:
    fs = PseudoFS()
    fs.create_file("/proc/buddyinfo", lambda: "b\n")
    caches = {":0000064": {"object_size": "64\n"}}
    fs.create_dir(
        "/sys/kernel/slab",
        lambda rel: (
            (lambda: caches[rel.split("/")[0]][rel.split("/")[1]])
            if "/" in rel and rel.split("/")[0] in caches
            else (Link(":0000064") if rel == "dentry" else None)
        ),
        lambda: [*caches, "dentry"],
    )
    assert fs.read("/proc/buddyinfo") == "b\n"
    assert fs.read("/sys/kernel/slab/:0000064/object_size") == "64\n"
    assert fs.read("/sys/kernel/slab/dentry/object_size") == "64\n"
    assert fs.readlink("/sys/kernel/slab/dentry") == ":0000064"
    assert fs.listdir("/sys/kernel/slab") == [":0000064", "dentry"]
    assert fs.listdir("/proc") == ["buddyinfo"]
    with pytest.raises(KmemsimError, match="No such file or directory"):
        fs.read("/proc/nope")
