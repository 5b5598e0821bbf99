"""fs/proc/meminfo.c and the "Memory:" line: keys, layout and values computed from the model."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kmemsim
from kmemsim.mm.mm_init import totalram_pages


def _keys(text: str) -> list[str]:
    return [line.split(":")[0] for line in text.splitlines()]


def test_6_18_meminfo_has_the_real_keys_in_the_real_order(
    kernel_6_18: kmemsim.Kernel, shared_data: Path
) -> None:
    real = (shared_data / "proc-meminfo.txt").read_text()
    ours = kernel_6_18.cat("/proc/meminfo")
    assert _keys(ours) == _keys(real)


def test_6_18_meminfo_has_the_real_column_layout(
    kernel_6_18: kmemsim.Kernel, shared_data: Path
) -> None:
    """show_val_kb(): label to column 16, value right-aligned in 8, " kB"."""
    real = (shared_data / "proc-meminfo.txt").read_text().splitlines()
    ours = kernel_6_18.cat("/proc/meminfo").splitlines()
    for r, o in zip(real, ours, strict=True):
        r_value = re.search(r"\d+", r.split(":", 1)[1])
        o_value = re.search(r"\d+", o.split(":", 1)[1])
        assert r_value and o_value
        # Same position of the number's end, same unit.
        assert r_value.end() == o_value.end() or len(r_value.group()) > 8, (r, o)
        assert r.endswith(" kB") == o.endswith(" kB")
    # Values the model computes the way the kernel does, from the 6.18 constants.
    values = dict(line.split(":") for line in ours)
    assert values["VmallocTotal"].strip() == "34359738367 kB"
    assert values["Hugepagesize"].strip() == "2048 kB"


def test_meminfo_values_come_from_the_model(kernel_x86_64: kmemsim.Kernel) -> None:
    k = kernel_x86_64
    v = {
        key: int(val.split()[0])
        for key, val in (line.split(":") for line in k.cat("/proc/meminfo").splitlines())
    }
    assert v["MemTotal"] == totalram_pages(k) * 4
    assert v["MemFree"] == k.page_alloc.nr_free_pages() * 4
    assert v["MemAvailable"] <= v["MemFree"] + v["SReclaimable"]
    assert v["Slab"] == v["SReclaimable"] + v["SUnreclaim"]
    assert v["KReclaimable"] == v["SReclaimable"]
    # vm_commit_limit(): overcommit_ratio 50 % of totalram, no swap
    assert v["CommitLimit"] == totalram_pages(k) * 50 // 100 * 4
    # The direct map covers the ISA MiB and the RAM above it: 1 GiB here.
    direct = v["DirectMap4k"] + v["DirectMap2M"] + v["DirectMap1G"]
    assert direct == 1 << 20
    assert (v["DirectMap4k"], v["DirectMap1G"]) == (2048, 0)
    before = v["MemFree"]
    addr = k.get_free_pages(kmemsim.GFP_KERNEL, 4)
    after = int(k.cat("/proc/meminfo").splitlines()[1].split()[1])
    assert before - after == 64
    k.free_pages(addr, 4)


def test_commit_limit_follows_overcommit_ratio() -> None:
    k = kmemsim.boot("x86_64", mem="1G", config={"overcommit_ratio": 100})
    line = next(x for x in k.cat("/proc/meminfo").splitlines() if x.startswith("CommitLimit"))
    assert int(line.split()[1]) == totalram_pages(k) * 4


def test_6_18_commit_limit_follows_the_real_files_rule(shared_data: Path) -> None:
    """CommitLimit = MemTotal * overcommit_ratio / 100 in pages (mm/util.c vm_commit_limit()).

    The captured file obeys the rule; the model's file, on the captured machine, must too.
    """

    def fields(text: str) -> dict[str, int]:
        return {a: int(b.split()[0]) for a, b in (x.split(":") for x in text.splitlines())}

    real = fields((shared_data / "proc-meminfo.txt").read_text())
    assert (real["MemTotal"] // 4) * 50 // 100 * 4 == real["CommitLimit"]
    model = fields(kmemsim.boot("linux-6.18-x86_64").cat("/proc/meminfo"))
    assert model["CommitLimit"] == (model["MemTotal"] // 4) * 50 // 100 * 4


def test_i386_meminfo_has_high_and_low_lines() -> None:
    k = kmemsim.boot("i386", mem="2G")
    text = k.cat("/proc/meminfo")
    keys = _keys(text)
    assert keys[keys.index("Mlocked") + 1 : keys.index("SwapTotal")] == [
        "HighTotal",
        "HighFree",
        "LowTotal",
        "LowFree",
    ]
    assert "Zswap" not in keys and "AnonHugePages" not in keys
    assert keys[-2:] == ["DirectMap4k", "DirectMap4M"]
    v = {key: int(val.split()[0]) for key, val in (x.split(":") for x in text.splitlines())}
    assert v["HighTotal"] + v["LowTotal"] == v["MemTotal"]
    assert v["HighTotal"] == k.page_alloc.totalhigh_pages() * 4 > 0
    assert "highmem)" in k.dmesg()


def test_beaglebone_meminfo_has_no_hugetlb_or_directmap() -> None:
    k = kmemsim.boot("beaglebone-black")
    keys = _keys(k.cat("/proc/meminfo"))
    assert "HugePages_Total" not in keys and not any(x.startswith("DirectMap") for x in keys)
    assert keys[-1] == "Balloon"


def test_memory_line_is_computed_from_the_model(shared_data: Path) -> None:
    """mem_init_print_info(): free/physpages, image sections, reserved = physpages - totalram."""
    k = kmemsim.boot("linux-6.18-x86_64")
    line = next(x for x in k.dmesg().splitlines() if "Memory: " in x)
    real = next(
        x for x in (shared_data / "dmesg-memory.txt").read_text().splitlines() if "Memory: " in x
    )
    pattern = (
        r"Memory: (\d+)K/(\d+)K available \((\d+)K kernel code, (\d+)K rwdata, (\d+)K rodata, "
        r"(\d+)K init, (\d+)K bss, (\d+)K reserved, 0K cma-reserved\)$"
    )
    ours, theirs = re.search(pattern, line), re.search(pattern, real)
    assert ours and theirs
    # Total (present pages) and the image's sections are the real ones.
    assert ours.groups()[1:7] == theirs.groups()[1:7]
    physpages = k.pgdat.node_present_pages
    # Reserved is counted when the line is printed; init memory freed later
    # ("Freeing ... memory: NK") is managed now.
    log = k.dmesg()
    freed_later = sum(
        int(m) for m in re.findall(r"Freeing .* memory: (\d+)K", log[log.index("Memory: ") :])
    )
    assert freed_later == 7360 + 3728 + 2008 + 2008  # initrd, initmem, the two rodata gaps
    assert int(ours.group(8)) == (physpages - totalram_pages(k)) * 4 + freed_later
    assert "mem auto-init: stack:off, heap alloc:off, heap free:off" in k.dmesg()


def _zoneinfo_numbers(text: str) -> dict[str, dict[str, Any]]:
    zones: dict[str, dict[str, Any]] = {}
    cur: dict[str, Any] = {}
    for line in text.splitlines():
        m = re.match(r"Node 0, zone\s+(\w+)", line)
        if m:
            cur = zones.setdefault(m.group(1), {})
        elif m := re.match(r"\s+(low|high|managed)\s+(\d+)$", line):
            cur[m.group(1)] = int(m.group(2))
        elif m := re.match(r"\s+protection: \((.*)\)", line):
            cur["protection"] = [int(x) for x in m.group(1).split(",")]
    return zones


def test_mem_available_formula_gives_the_real_memavailable(shared_data: Path) -> None:
    """si_mem_available() on the captured machine's own counters gives its MemAvailable."""
    from kmemsim.fs.proc.meminfo import mem_available

    meminfo = {
        key: int(val.split()[0])
        for key, val in (
            x.split(":") for x in (shared_data / "proc-meminfo.txt").read_text().splitlines()
        )
    }
    zones = _zoneinfo_numbers((shared_data / "proc-zoneinfo.txt").read_text())
    wmark_low = sum(int(z["low"]) for z in zones.values())
    totalreserve = sum(min(max(z["protection"]) + z["high"], z["managed"]) for z in zones.values())
    pagecache = (meminfo["Active(file)"] + meminfo["Inactive(file)"]) // 4
    available = mem_available(
        meminfo["MemFree"] // 4, totalreserve, wmark_low, pagecache, meminfo["KReclaimable"] // 4
    )
    assert available * 4 == meminfo["MemAvailable"]
