"""Slab geometry against /sys/kernel/slab of the real Linux 6.18 machine (slab_caches.json).

Every kmalloc cache exists at boot under its real name with the real
geometry; the caches the kernel's own call sites create are checked in
test_boot_caches.py; the order and alignment rules are pinned to mm/slub.c.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import kmemsim
from kmemsim.mm.slub import calc_slab_order, calculate_alignment, calculate_order

GEOMETRY = ("slab_size", "order", "objs_per_slab", "min_partial", "cpu_partial", "align")


def _entries(shared_data: Path) -> list[dict[str, Any]]:
    return list(json.loads((shared_data / "slab_caches.json").read_text()))


def _flags(names: list[str]) -> int:
    value = 0
    for name in names:
        value |= int(getattr(kmemsim, name))
    return value


def test_every_kmalloc_cache_exists_at_boot_with_the_real_geometry(shared_data: Path) -> None:
    k = kmemsim.boot("linux-6.18-x86_64")
    kmalloc = [e for e in _entries(shared_data) if e["kmalloc"]]
    assert len(kmalloc) == 52  # 13 sizes (8 .. 8k with 96, 192) x normal, rcl, dma, cg
    for e in kmalloc:
        for attr in (
            *GEOMETRY,
            "object_size",
            "reclaim_account",
            "cache_dma",
            "usersize",
            "aliases",
            "hwcache_align",
        ):
            got = int(k.cat(f"/sys/kernel/slab/{e['name']}/{attr}"))
            assert got == e[attr], (e["name"], attr, got, e[attr])
        assert k.fs.readlink(f"/sys/kernel/slab/{e['name']}") is None  # a real directory


def test_slub_boot_line_matches_the_real_one(shared_data: Path) -> None:
    k = kmemsim.boot("linux-6.18-x86_64")
    real = [
        ln for ln in (shared_data / "dmesg-memory.txt").read_text().splitlines() if "SLUB: " in ln
    ]
    ours = [ln for ln in k.dmesg().splitlines() if "SLUB: " in ln]
    assert real and ours
    assert ours[0].split("] ", 1)[1] == real[0].split("] ", 1)[1]


def test_boot_line_follows_the_configuration() -> None:
    k = kmemsim.boot(
        "x86_64", mem="1G", cpus=4, config={"slub_max_order": 1, "slub_min_objects": 8}
    )
    line = next(ln for ln in k.dmesg().splitlines() if "SLUB: " in ln)
    assert line.split("] ", 1)[1] == "SLUB: HWalign=64, Order=0-1, MinObjects=8, CPUs=4, Nodes=1"


@pytest.mark.parametrize(
    ("size", "nr_cpus", "expected"),
    [
        (8, 2, 0),  # 12 objects fit in a page
        (440, 2, 1),  # 12 * 440 needs two pages; 8192 % 440 = 272 <= 8192/16
        (8192, 2, 3),  # min_objects capped by what order 3 holds
        (4288, 2, 3),
        (2240, 64, 3),  # more CPUs want more objects
    ],
)
def test_calculate_order_as_mm_slub_c(size: int, nr_cpus: int, expected: int) -> None:
    assert calculate_order(size, nr_cpus=nr_cpus) == expected


def test_calc_slab_order_takes_the_first_order_within_the_waste_fraction() -> None:
    # 700-byte objects: order 0 wastes 596/4096 (> 1/16), order 1 wastes 492/8192 (<= 1/16).
    assert calc_slab_order(700, 0, 3, 16) == 1
    assert calc_slab_order(700, 0, 3, 4) == 0


def test_hwcache_alignment_halves_for_small_objects() -> None:
    assert calculate_alignment(int(kmemsim.SLAB_HWCACHE_ALIGN), 0, 16) == 16
    assert calculate_alignment(int(kmemsim.SLAB_HWCACHE_ALIGN), 0, 24) == 32
    assert calculate_alignment(int(kmemsim.SLAB_HWCACHE_ALIGN), 0, 100) == 64
    assert calculate_alignment(0, 0, 100) == 8
    assert calculate_alignment(0, 4, 100) == 8
