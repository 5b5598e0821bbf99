"""Replay of the real 6.18 traces through the model: verify, quirks, report."""

from __future__ import annotations

from pathlib import Path

import pytest

import kmemsim
from kmemsim.trace.replay import UNKNOWN_CACHE_GEOMETRY, Replay
from kmemsim.trace.report import build_report, render_text

SMALL_TRACES = ["trace-python-import", "trace-tar-extract", "trace-gcc-build"]


def model_mismatches(r: Replay) -> dict[str, int]:
    """Mismatches against what the model knows: all but the geometry of caches the
    profile does not know (created from bytes_req with the profile's defaults)."""
    return {k: n for k, n in r.mismatches.items() if k != UNKNOWN_CACHE_GEOMETRY}


@pytest.fixture(scope="module")
def python_import(shared_data: Path) -> Replay:
    """The python-import trace replayed with --verify on the machine it came from."""
    k = kmemsim.boot("linux-6.18-x86_64")
    return Replay(k, verify=True).run([str(shared_data / "trace-python-import.txt.xz")])


@pytest.mark.parametrize("name", [*SMALL_TRACES[1:], "perf-python-import"])
def test_every_shared_trace_verifies_with_zero_mismatches(shared_data: Path, name: str) -> None:
    suffix = ".script.txt.xz" if name.startswith("perf") else ".txt.xz"
    k = kmemsim.boot("linux-6.18-x86_64")
    r = Replay(k, verify=True).run([str(shared_data / f"{name}{suffix}")])
    assert r.events > 100_000
    assert r.malformed == 0, r.malformed_examples
    assert model_mismatches(r) == {}, r.mismatch_examples
    assert r.checked + sum(r.unchecked.values()) == r.events


def test_python_import_verifies_with_zero_mismatches(python_import: Replay) -> None:
    assert python_import.events == 213_969  # TRACES.md
    assert python_import.malformed == 0
    assert model_mismatches(python_import) == {}, python_import.mismatch_examples
    # Every cache the trace names is recorded in the profile with its call site's
    # arguments (radix_tree_node and ext4_inode_cache with their constructor,
    # sighand_cache with SLAB_HWCACHE_ALIGN, bio-120 with SLAB_TYPESAFE_BY_RCU),
    # so no event is left to the unknown-cache defaults.
    assert UNKNOWN_CACHE_GEOMETRY not in python_import.mismatches
    assert not python_import.unknown_caches
    assert python_import.checked == 131_521


def test_the_quirks_readme_counts_on_python_import(python_import: Replay) -> None:
    """README.md, 'What a replay must know', counted on trace-python-import."""
    q = python_import.quirks
    assert q["batched_repeat"] == 19_945  # every mm_page_free_batched repeats a free
    assert q["implied_free"] == 7_226  # allocations returning a still-live pointer
    assert q["kfree_null"] == 12_775  # traced kfree(NULL)
    assert q["free_before_trace"] > 0  # objects allocated before the trace began
    assert q["page_free_before_trace"] > 0
    # lsm_file_cache is an alias of :0000024 on the real machine.
    assert python_import.merged_caches["lsm_file_cache"] == ":0000024"
    assert q["merged_cache"] >= 6_000


def test_merged_caches_are_the_ones_sysfs_showed_merged(
    python_import: Replay, shared_data: Path
) -> None:
    """A cache the trace names is merged in the model exactly when the real sysfs had it as a
    link (slab_aliases.json lists every link of the real /sys/kernel/slab)."""
    import json

    aliases = json.loads((shared_data / "slab_aliases.json").read_text())
    assert python_import.merged_caches
    for name, target in python_import.merged_caches.items():
        assert aliases.get(name) == target, name
    for name in ("dentry", "names_cache", "sighand_cache"):  # real directories
        assert name not in python_import.merged_caches


def test_report_figures_follow_perf_kmem(python_import: Replay) -> None:
    report = build_report(python_import)
    slab, page = report["slab"], report["page"]
    assert slab["allocations"] == 5_195 + 61_888  # kmalloc + kmem_cache_alloc events
    assert slab["total_bytes_allocated"] >= slab["total_bytes_requested"] > 0
    assert slab["total_bytes_wasted_on_internal_fragmentation"] == (
        slab["total_bytes_allocated"] - slab["total_bytes_requested"]
    )
    assert 0 < slab["internal_fragmentation_percent"] < 100
    assert page["total_allocation_requests"] == 40_139
    assert page["total_free_requests"] == 24_472  # mm_page_free; the batched repeats are not
    assert page["total_alloc_freed_requests"] + page["total_free_only_requests"] == 24_472
    assert page["migratetypes"][:4] == ["Unmovable", "Movable", "Reclaimable", "HighAtomic"]
    assert sum(sum(row.values()) for row in page["by_order"].values()) == 40_139
    model = report["model"]
    assert model["final"]["slab_pages"] > 0
    assert model["final"]["zones"]
    for zone in model["final"]["zones"].values():
        assert all(0.0 <= x <= 1.0 for x in zone["unusable_index"])
        assert zone["unusable_index"][0] == 0.0  # every free page serves an order-0 request
    assert len(model["series"]["event"]) == len(model["series"]["slab_pages"]) >= 2
    text = render_text(report)
    assert "SUMMARY (SLAB allocator)" in text and "SUMMARY (page allocator)" in text
    assert (
        "Verify: 131,521 of 213,969 events checked against the model: "
        "the model matches the trace (0 mismatches)" in text
    )
    assert "unknown cache geometry" not in text


def test_follow_pfn_takes_the_traced_blocks(shared_data: Path) -> None:
    k = kmemsim.boot("linux-6.18-x86_64")
    r = Replay(k, verify=True, follow_pfn=True)
    r.run([str(shared_data / "trace-tar-extract.txt.xz")])
    assert model_mismatches(r) == {}, r.mismatch_examples
    placed = [(pfn, rec[0].pfn) for pfn, rec in r.pages.items() if rec[0] is not None]
    same = sum(1 for traced, model in placed if traced == model)
    # Only blocks the model's own slabs already hold go elsewhere (counted).
    assert len(placed) - same == r.quirks.get("follow_pfn_block_busy", 0)
    assert same > 4000


def test_the_large_trace_verifies_with_zero_mismatches(shared_data: Path) -> None:
    """trace-site-packages-extract: 3.13M events, every one checked against the model."""
    k = kmemsim.boot("linux-6.18-x86_64")
    r = Replay(k, verify=True).run([str(shared_data / "trace-site-packages-extract.txt.xz")])
    assert r.events == 3_134_805
    assert r.malformed == 0
    assert model_mismatches(r) == {}, r.mismatch_examples
    assert r.quirks["batched_repeat"] == 152_502  # one per mm_page_free_batched event


def _page_alloc_line(n: int, pfn: int) -> str:
    return (
        f"            task-1    [000] .....  9255.{n:06d}: mm_page_alloc: page=00000000{n:08x} "
        f"pfn={pfn:#x} order=0 migratetype=0 gfp_flags=GFP_KERNEL\n"
    )


def test_follow_pfn_tells_a_pfn_that_is_not_ram_from_a_busy_block(tmp_path: Path) -> None:
    """On a 256 MiB what-if machine a pfn of the traced 24 GiB one is not RAM at
    all, nor is a pfn in the hole below 1 MiB; a RAM block the model already
    holds is busy; a free RAM block is taken exactly."""
    k = kmemsim.boot("x86_64", mem="256M", cpus=1)
    busy = k.alloc_pages(kmemsim.GFP_KERNEL, 0)
    free = k.alloc_pages(kmemsim.GFP_KERNEL, 0)
    assert busy is not None and free is not None
    k.free_pages_struct(free, 0)
    beyond = 0x114C6C  # a pfn the python-import trace allocates (4.3 GiB)
    hole = 0xA0  # 640 KiB: the legacy VGA / ROM hole of the x86 memory map
    path = tmp_path / "pfns.txt"
    path.write_text(
        "".join(
            _page_alloc_line(n, pfn) for n, pfn in enumerate([free.pfn, beyond, hole, busy.pfn])
        )
    )
    r = Replay(k, follow_pfn=True).run([str(path)])
    assert r.quirks == {"follow_pfn_not_ram": 2, "follow_pfn_block_busy": 1}
    assert r.pages[free.pfn][0].pfn == free.pfn
    assert all(r.pages[pfn][0] is not None for pfn in (beyond, hole, busy.pfn))


def test_follow_pfn_on_a_smaller_machine_counts_every_traced_pfn_as_not_ram(
    shared_data: Path,
) -> None:
    """The python-import trace's pfns all lie above 4 GiB (0x100697..0x142759):
    none is RAM of a 256 MiB machine, so no block is reported busy."""
    k = kmemsim.boot("x86_64", mem="256M")
    r = Replay(k, follow_pfn=True).run([str(shared_data / "trace-python-import.txt.xz")])
    assert r.quirks["follow_pfn_not_ram"] == 40_139  # every mm_page_alloc (TRACES.md)
    assert "follow_pfn_block_busy" not in r.quirks
    assert r.oops is None
