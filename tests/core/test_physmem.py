"""Sparse simulated RAM: zero-filled, byte-addressable, host memory only for written frames."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kmemsim.hw.physmem import PhysicalMemory


def test_unwritten_memory_reads_zero_and_costs_nothing() -> None:
    ram = PhysicalMemory()
    assert ram.read(1 << 40, 16) == bytes(16)
    ram.write(0x5000, bytes(4096))  # zeros never allocate a frame
    assert ram.resident_frames == 0


def test_writes_across_frames() -> None:
    ram = PhysicalMemory()
    ram.write(0x1FFE, b"abcd")
    assert ram.read(0x1FFE, 4) == b"abcd"
    assert ram.resident_frames == 2


def test_zeroing_a_frame_gives_its_host_memory_back() -> None:
    ram = PhysicalMemory()
    ram.write(0x3000, b"\xff" * 10)
    ram.fill(0x3000, 0, 4096)
    assert ram.resident_frames == 0
    ram.write(0x3000, b"\xff")
    ram.zero_frames(3, 1)
    assert ram.resident_frames == 0 and ram.read(0x3000, 1) == b"\0"


def test_byte_order() -> None:
    le, be = PhysicalMemory(), PhysicalMemory(big_endian=True)
    for ram in (le, be):
        ram.write_uint(0x10, 4, 0x11223344)
        assert ram.read_uint(0x10, 4) == 0x11223344
    assert le.read(0x10, 1) == b"\x44" and be.read(0x10, 1) == b"\x11"


@given(
    st.lists(st.tuples(st.integers(0, 3 * 4096), st.binary(min_size=1, max_size=5000)), max_size=20)
)
def test_behaves_like_a_flat_bytearray(writes: list[tuple[int, bytes]]) -> None:
    ram, flat = PhysicalMemory(), bytearray(5 * 4096)
    for addr, data in writes:
        ram.write(addr, data)
        flat[addr : addr + len(data)] = data
    assert ram.read(0, len(flat)) == bytes(flat)
