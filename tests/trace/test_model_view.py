"""trace/model_view.py: the unusable free space index as the 6.18 kernel computes it."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from kmemsim.trace.model_view import unusable_free_index, unusable_free_indexes


def _sections(text: str) -> list[tuple[dict[str, list[int]], dict[str, list[str]]]]:
    """(buddyinfo counts, unusable_index texts) per zone, for each captured moment."""
    out = []
    for section in text.split("== ")[1:]:
        buddy: dict[str, list[int]] = {}
        index: dict[str, list[str]] = {}
        part = ""
        for line in section.splitlines():
            if line.startswith("-- "):
                part = line
            elif line.startswith("Node 0, zone"):
                words = line.split()
                if part.endswith("/proc/buddyinfo"):
                    buddy[words[3]] = [int(w) for w in words[4:]]
                elif part.endswith("unusable_index"):
                    index[words[3]] = words[4:]
        out.append((buddy, index))
    return out


def test_the_captured_unusable_index_from_the_captured_free_lists(shared_data: Path) -> None:
    """/sys/kernel/debug/extfrag/unusable_index, computed from /proc/buddyinfo read a
    moment before it on the real machine. The quiet zones match exactly; the busy
    Normal zone's free lists moved a little between the two reads."""
    exact = near = 0
    for buddy, index in _sections((shared_data / "debugfs-extfrag.txt").read_text()):
        for zone, want in index.items():
            got = unusable_free_indexes(buddy[zone])
            assert len(got) == len(want) == 11
            if [f"{x:.3f}" for x in got] == want:
                exact += 1
            else:
                assert zone == "Normal"
                assert all(abs(g - float(w)) <= 0.003 for g, w in zip(got, want, strict=True))
                near += 1
    assert exact >= 7 and exact + near >= 9


def test_no_free_memory_is_all_unusable() -> None:
    """mm/vmstat.c: free_pages == 0 is read as all free memory unusable (1000)."""
    assert unusable_free_indexes([0, 0, 0]) == [1.0, 1.0, 1.0]
    assert unusable_free_index([0, 0, 0], 1) == 1.0


@given(st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=13))
def test_all_orders_at_once_equal_each_order_alone(counts: list[int]) -> None:
    assert unusable_free_indexes(counts) == [
        unusable_free_index(counts, o) for o in range(len(counts))
    ]
