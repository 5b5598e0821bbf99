"""--verify checks the trace against the model, never against itself: slices of
the shared 6.18 traces with one field altered must disagree with the model."""

from __future__ import annotations

import lzma
import re
from pathlib import Path

import pytest

import kmemsim
import kmemsim.trace.replay as replay_module
from kmemsim.trace.replay import UNKNOWN_CACHE_GEOMETRY, Replay

SLICE_LINES = 20_000


@pytest.fixture(scope="module")
def python_import_slice(shared_data: Path) -> list[str]:
    """The first 20,000 lines of trace-python-import."""
    with lzma.open(shared_data / "trace-python-import.txt.xz", "rt") as f:
        return [next(f) for _ in range(SLICE_LINES)]


@pytest.fixture(scope="module")
def unaltered(python_import_slice: list[str], tmp_path_factory: pytest.TempPathFactory) -> Replay:
    return replay(tmp_path_factory.mktemp("unaltered"), python_import_slice)


def replay(tmp_path: Path, lines: list[str], **options: bool) -> Replay:
    path = tmp_path / "slice.txt"
    path.write_text("".join(lines))
    k = kmemsim.boot("linux-6.18-x86_64")
    return Replay(k, verify=True, **options).run([str(path)])


def alter(lines: list[str], pattern: str, old: str, new: str) -> tuple[list[str], int]:
    """The lines with `old` replaced by `new` on those matching `pattern`, and how many."""
    out, n = [], 0
    for line in lines:
        if re.search(pattern, line) and old in line:
            line = line.replace(old, new)
            n += 1
        out.append(line)
    return out, n


def test_the_unaltered_slice_verifies_and_every_event_is_accounted(unaltered: Replay) -> None:
    r = unaltered
    assert r.malformed == 0
    assert set(r.mismatches) <= {UNKNOWN_CACHE_GEOMETRY}, r.mismatch_examples
    assert r.checked > r.events // 3
    assert r.checked + sum(r.unchecked.values()) == r.events
    # Every cache of the slice is recorded in the profile (its call site's arguments).
    assert not r.unknown_caches


def test_altered_bytes_alloc_of_a_cache_the_profile_does_not_know(
    python_import_slice: list[str], tmp_path: Path, unaltered: Replay
) -> None:
    # dentry renamed to a name the profile does not record: created from bytes_req with
    # the profile's defaults for unknown caches, 192 -> 192; then its bytes_alloc altered.
    lines, _ = alter(python_import_slice, r"name=dentry\b", "name=dentry", "name=drv_dentry")
    lines, n = alter(lines, r"name=drv_dentry ", "bytes_alloc=192", "bytes_alloc=256")
    assert n == 15  # the slice's dentry allocations
    r = replay(tmp_path, lines)
    base = unaltered.mismatches.get(UNKNOWN_CACHE_GEOMETRY, 0)
    assert r.mismatches == {UNKNOWN_CACHE_GEOMETRY: base + n}


def test_altered_bytes_alloc_of_a_cache_the_profile_knows(
    python_import_slice: list[str], tmp_path: Path
) -> None:
    lines, n = alter(
        python_import_slice, r"name=vm_area_struct ", "bytes_alloc=192", "bytes_alloc=200"
    )
    assert n > 100
    r = replay(tmp_path, lines)
    assert r.mismatches.get("kmem_cache_alloc bytes_alloc") == n
    assert r.mismatch_examples["kmem_cache_alloc bytes_alloc"][0].startswith(
        f"{tmp_path / 'slice.txt'}:"
    )


def test_altered_kmalloc_bytes_alloc(python_import_slice: list[str], tmp_path: Path) -> None:
    lines, n = alter(
        python_import_slice, r"kmalloc: .*bytes_req=176 ", "bytes_alloc=192", "bytes_alloc=256"
    )
    assert n > 0
    r = replay(tmp_path, lines)
    assert r.mismatches.get("kmalloc bytes_alloc") == n


def test_altered_migratetype_disagrees_with_the_models_gfp_migratetype(
    python_import_slice: list[str], tmp_path: Path
) -> None:
    """__alloc_pages() traces ac.migratetype, gfp_migratetype() of the mask."""
    lines, n = alter(
        python_import_slice,
        r"mm_page_alloc: .*gfp_flags=GFP_NOWAIT$",
        "migratetype=0",
        "migratetype=2",
    )
    assert n > 0
    r = replay(tmp_path, lines)
    assert r.mismatches.get("page alloc migratetype") == n


def test_a_model_with_a_wrong_gfp_migratetype_fails_verify(
    python_import_slice: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check reads the model: break the model's mapping and it disagrees."""
    monkeypatch.setattr(replay_module, "gfp_migratetype", lambda gfp: 0)
    r = replay(tmp_path, python_import_slice)
    assert r.mismatches.get("page alloc migratetype", 0) > 1000  # every movable page


def test_altered_page_free_order_disagrees_with_the_models_block(
    python_import_slice: list[str], tmp_path: Path
) -> None:
    # The first order-0 block that the slice allocates and frees, freed as order 1.
    live: set[str] = set()
    lines = list(python_import_slice)
    for i, line in enumerate(lines):
        m = re.search(r"mm_page_alloc: .* pfn=(0x[0-9a-f]+) order=0 ", line)
        if m:
            live.add(m[1])
        m = re.search(r"mm_page_free: .* pfn=(0x[0-9a-f]+) order=0$", line.rstrip("\n"))
        if m and m[1] in live and int(m[1], 16) % 2 == 0:
            lines[i] = line.replace("order=0", "order=1")
            break
    else:
        pytest.fail("no allocated and freed order-0 page in the slice")
    r = replay(tmp_path, lines)
    assert r.mismatches.get("page free order") == 1
    assert "the model's block at pfn" in r.mismatch_examples["page free order"][0]
    assert "allocated at order 0" in r.mismatch_examples["page free order"][0]


def test_follow_pfn_checks_the_pfn_is_free_in_the_model(tmp_path: Path) -> None:
    """With --follow-pfn the model holds the traced block itself: a second
    allocation inside it, with no free between, is a block the model holds."""
    head = "            task-1    [000] .....  9255.{:06d}: "
    bodies = [
        "mm_page_alloc: page=0000000000000001 pfn=0x200000 order=1 migratetype=0 "
        "gfp_flags=GFP_KERNEL",
        "mm_page_alloc: page=0000000000000002 pfn=0x200001 order=0 migratetype=0 "
        "gfp_flags=GFP_KERNEL",
        "mm_page_free: page=0000000000000001 pfn=0x200000 order=1",
    ]
    path = tmp_path / "follow.txt"
    path.write_text("".join(head.format(i) + b + "\n" for i, b in enumerate(bodies)))
    k = kmemsim.boot("linux-6.18-x86_64")
    r = Replay(k, verify=True, follow_pfn=True).run([str(path)])
    assert r.mismatches == {"follow-pfn block not free": 1}, r.mismatch_examples
    assert r.pages == {0x200001: r.pages[0x200001]}  # the order-1 block was freed


def _page_allocs(tmp_path: Path, allocs: list[tuple[int, int, str]]) -> Replay:
    head = "            task-1    [000] .....  9255.{:06d}: "
    path = tmp_path / "pages.txt"
    path.write_text(
        "".join(
            head.format(i) + f"mm_page_alloc: page=00000000{i:08x} pfn={pfn:#x} order={order} "
            f"migratetype=0 gfp_flags={gfp}\n"
            for i, (pfn, order, gfp) in enumerate(allocs)
        )
    )
    return Replay(kmemsim.boot("linux-6.18-x86_64"), verify=True).run([str(path)])


def test_an_order_the_zone_cannot_serve_now_is_a_mismatch(tmp_path: Path) -> None:
    """ZONE_DMA of the 6.18 machine boots with one free block of order 8, one of 9
    and three of 10 (its /proc/buddyinfo): after three order-10 and one order-9
    GFP_DMA allocations, a second order-9 block is one the model's DMA zone does
    not have (the traced kernel had other memory free there)."""
    gfp = "GFP_KERNEL|GFP_DMA|__GFP_NOWARN"
    r = _page_allocs(
        tmp_path,
        [(0x400, 10, gfp), (0x800, 10, gfp), (0xC00, 10, gfp), (0x200, 9, gfp), (0x600, 9, gfp)],
    )
    assert r.mismatches == {"page alloc order unsatisfiable": 1, "model returned NULL": 1}
    assert (
        "pfn=0x600 order=9 migratetype=0: zone DMA"
        in (r.mismatch_examples["page alloc order unsatisfiable"][0])
    )
    assert r.checked == 5


def test_a_traced_pfn_in_another_zone_than_the_model_chooses_is_a_mismatch(
    tmp_path: Path,
) -> None:
    """GFP_KERNEL takes ZONE_NORMAL first (the zonelist from gfp_zone() down); with
    Normal far above its watermarks the model has no reason to use DMA32."""
    r = _page_allocs(tmp_path, [(0x50000, 0, "GFP_KERNEL"), (0x150000, 0, "GFP_KERNEL")])
    assert r.mismatches == {"page alloc zone": 1}
    assert (
        "pfn 0x50000 is in zone DMA32, the model allocated from Normal"
        in (r.mismatch_examples["page alloc zone"][0])
    )


def test_a_pfn_beyond_a_smaller_machine_cannot_have_its_zone_checked(tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_text(
        "            task-1    [000] .....  9255.000001: mm_page_alloc: page=0000000000000001 "
        "pfn=0x114c6c order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE\n"
    )
    r = Replay(kmemsim.boot("x86_64", mem="256M"), verify=True).run([str(path)])
    assert r.mismatches == {} and r.checked == 1 and r.unchecked_zone == 1
