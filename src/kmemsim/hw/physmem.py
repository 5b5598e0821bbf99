"""Simulated physical RAM: byte-addressable, zero-filled, and sparse.

The machine's RAM is never allocated as a whole. A page frame gets host memory
(one bytearray) the first time a byte of it is written with a non-zero value;
until then it reads as zeros, like freshly powered-up RAM that firmware
cleared. Zeroing a frame drops its bytearray again, so host memory follows
what the simulated system has in use, never the size of the simulated RAM.

This module knows nothing of zones or allocators: it is the memory chips.
Addresses are physical; the kernel's virtual-to-physical translation lives in
the arch code.
"""

from __future__ import annotations


class PhysicalMemory:
    """Sparse byte store for the RAM of one machine, addressed by physical address."""

    def __init__(self, page_shift: int = 12, *, big_endian: bool = False) -> None:
        self.page_shift = page_shift
        self.page_size = 1 << page_shift
        self.byteorder: str = "big" if big_endian else "little"
        self._frames: dict[int, bytearray] = {}

    @property
    def resident_frames(self) -> int:
        """How many page frames hold host memory (were written with non-zero data)."""
        return len(self._frames)

    def read(self, paddr: int, size: int) -> bytes:
        """The `size` bytes at physical address `paddr` (zeros where never written)."""
        shift, psize = self.page_shift, self.page_size
        pfn, off = paddr >> shift, paddr & (psize - 1)
        if off + size <= psize:
            frame = self._frames.get(pfn)
            return bytes(frame[off : off + size]) if frame is not None else bytes(size)
        out = bytearray()
        while size > 0:
            chunk = min(size, psize - off)
            frame = self._frames.get(pfn)
            out += frame[off : off + chunk] if frame is not None else bytes(chunk)
            size -= chunk
            pfn, off = pfn + 1, 0
        return bytes(out)

    def write(self, paddr: int, data: bytes | bytearray | memoryview) -> None:
        """Store `data` at physical address `paddr`."""
        shift, psize = self.page_shift, self.page_size
        pfn, off = paddr >> shift, paddr & (psize - 1)
        view = memoryview(data)
        pos = 0
        while pos < len(view):
            chunk = min(len(view) - pos, psize - off)
            piece = view[pos : pos + chunk]
            frame = self._frames.get(pfn)
            if frame is None:
                if not any(piece):
                    pfn, off, pos = pfn + 1, 0, pos + chunk
                    continue
                frame = self._frames[pfn] = bytearray(psize)
            frame[off : off + chunk] = piece
            pfn, off, pos = pfn + 1, 0, pos + chunk

    def fill(self, paddr: int, byte: int, size: int) -> None:
        """memset() on physical memory; whole frames set to zero give their host memory back."""
        shift, psize = self.page_shift, self.page_size
        while size > 0:
            pfn, off = paddr >> shift, paddr & (psize - 1)
            chunk = min(size, psize - off)
            if byte == 0 and chunk == psize:
                self._frames.pop(pfn, None)
            else:
                frame = self._frames.get(pfn)
                if frame is None and byte == 0:
                    pass
                else:
                    if frame is None:
                        frame = self._frames[pfn] = bytearray(psize)
                    frame[off : off + chunk] = bytes([byte]) * chunk
            paddr += chunk
            size -= chunk

    def zero_frames(self, pfn: int, count: int) -> None:
        """Clear `count` whole frames from `pfn` on (clear_page), releasing their host memory."""
        frames = self._frames
        if count > len(frames):
            for p in [p for p in frames if pfn <= p < pfn + count]:
                del frames[p]
        else:
            for p in range(pfn, pfn + count):
                frames.pop(p, None)

    def read_uint(self, paddr: int, size: int) -> int:
        """An unsigned integer of `size` bytes at `paddr`, in the machine's byte order."""
        return int.from_bytes(self.read(paddr, size), self.byteorder)  # type: ignore[arg-type]

    def write_uint(self, paddr: int, size: int, value: int) -> None:
        """Store an unsigned integer of `size` bytes at `paddr`, in the machine's byte order."""
        self.write(paddr, (value & ((1 << (8 * size)) - 1)).to_bytes(size, self.byteorder))  # type: ignore[arg-type]
