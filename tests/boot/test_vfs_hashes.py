"""The VFS hash tables sized at boot (fs/dcache.c, fs/inode.c) against the real 6.18 log."""

from __future__ import annotations

from pathlib import Path

import kmemsim


def _bodies(text: str) -> list[str]:
    return [line.split("] ", 1)[1] for line in text.splitlines() if "] " in line]


def test_dentry_and_inode_hash_lines_are_the_real_ones(shared_data: Path) -> None:
    real = _bodies((shared_data / "dmesg-memory.txt").read_text())
    ours = _bodies(kmemsim.boot("linux-6.18-x86_64").dmesg())
    for prefix in ("Dentry cache hash table entries:", "Inode-cache hash table entries:"):
        want = next(line for line in real if line.startswith(prefix))
        assert want in ours
        # Early tables come from memblock before the zonelists are built.
        assert ours.index(want) < ours.index(
            next(line for line in ours if line.startswith("Built 1 zonelists"))
        )


def test_the_tables_are_reserved_memory(shared_data: Path) -> None:
    """They are most of the gap between RAM and managed pages the Memory: line reports."""
    real = next(
        line
        for line in _bodies((shared_data / "dmesg-memory.txt").read_text())
        if line.startswith("Memory:")
    )
    ours = next(
        line
        for line in _bodies(kmemsim.boot("linux-6.18-x86_64").dmesg())
        if line.startswith("Memory:")
    )

    def reserved(line: str) -> int:
        return int(line.split("K reserved")[0].rsplit(" ", 1)[1])

    # 496444K on the real machine; with the early page tables, the percpu first chunk
    # and the PV lock hash modelled, what remains (8K) is small memblock allocations.
    assert 0 <= reserved(real) - reserved(ours) <= 8


def test_boot_parameters_size_the_tables() -> None:
    k = kmemsim.boot("x86_64", mem="1G", config={"dhash_entries": 1000, "ihash_entries": 64})
    log = k.dmesg()
    assert "Dentry cache hash table entries: 1024 (order: 1, 8192 bytes, linear)" in log
    assert "Inode-cache hash table entries: 64 (order: 0, 512 bytes, linear)" in log
