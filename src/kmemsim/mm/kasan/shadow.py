"""Model of mm/kasan/shadow.c and the generic checks of mm/kasan/generic.c: the shadow memory.

Generic KASAN keeps one shadow byte per 8-byte granule of kernel memory: 0
when the whole granule may be touched, k (1..7) when only its first k bytes
may, and a negative value (0xF8..0xFF) when none may, the value saying why
(KASAN_SLAB_REDZONE, KASAN_SLAB_FREE, KASAN_PAGE_FREE, ...). Every load and
store is checked against it (kasan_check_range(): memory_is_poisoned_n()).

Here the shadow is kept per 4 KiB page of kernel virtual addresses, 512
bytes each, only for pages whose shadow has been written. A page without a
shadow entry has the shadow its state gives it (`default(vpage)`): a direct
map page the page allocator holds free reads as KASAN_PAGE_FREE, an
allocated one as accessible. kasan_poison_pages() and kasan_unpoison_pages()
therefore only drop entries, and a machine's shadow costs host memory in
proportion to the slab and kmalloc memory in use, never to its RAM.
"""

from __future__ import annotations

from collections.abc import Callable

KASAN_GRANULE_SIZE = 8
KASAN_GRANULE_MASK = KASAN_GRANULE_SIZE - 1
# mm/kasan/kasan.h (CONFIG_KASAN_GENERIC), Linux 6.18.
KASAN_PAGE_FREE = 0xFF  # freed page
KASAN_PAGE_REDZONE = 0xFE  # redzone of a kmalloc_large allocation
KASAN_SLAB_REDZONE = 0xFC  # redzone of a slab object
KASAN_SLAB_FREE = 0xFB  # freed slab object
KASAN_SLAB_FREE_META = 0xFA  # freed slab object whose free meta is set
KASAN_GLOBAL_REDZONE = 0xF9  # redzone of a global variable
KASAN_VMALLOC_INVALID = 0xF8  # inaccessible space in a vmap area

_PAGE = 4096
_SHADOW_PER_PAGE = _PAGE // KASAN_GRANULE_SIZE
# A page's worth of shadow bytes of each value, sliced by poison().
_ROWS: dict[int, bytes] = {}


def s8(v: int) -> int:
    """A shadow byte as the s8 the kernel compares."""
    return v - 256 if v >= 128 else v


class Shadow:
    """The shadow bytes of kernel virtual memory, one per 8-byte granule."""

    def __init__(self, default: Callable[[int], int]) -> None:
        self.pages: dict[int, bytearray] = {}
        # vpage -> the uniform shadow value of a page without an entry.
        self.default = default

    def _page(self, vpage: int) -> bytearray:
        sp = self.pages.get(vpage)
        if sp is None:
            sp = self.pages[vpage] = bytearray([self.default(vpage)]) * _SHADOW_PER_PAGE
        return sp

    def byte(self, addr: int) -> int:
        """*kasan_mem_to_shadow(addr)."""
        sp = self.pages.get(addr >> 12)
        if sp is None:
            return self.default(addr >> 12)
        return sp[(addr & 4095) >> 3]

    def set_byte(self, addr: int, value: int) -> None:
        self._page(addr >> 12)[(addr & 4095) >> 3] = value

    def row(self, addr: int, n: int = 16) -> bytes:
        """n shadow bytes from the granule of `addr` (kasan_metadata_fetch_row())."""
        return bytes(self.byte(addr + i * KASAN_GRANULE_SIZE) for i in range(n))

    def poison(self, addr: int, size: int, value: int) -> None:
        """kasan_poison(): granules [addr, addr + round_up(size, 8)) get `value`."""
        end = addr + ((size + KASAN_GRANULE_MASK) & ~KASAN_GRANULE_MASK)
        while addr < end:
            vpage = addr >> 12
            stop = min(end, (vpage + 1) << 12)
            sp = self._page(vpage)
            lo, hi = (addr & 4095) >> 3, ((stop - 1) & 4095) >> 3
            row = _ROWS.get(value)
            if row is None:
                row = _ROWS[value] = bytes([value]) * _SHADOW_PER_PAGE
            sp[lo : hi + 1] = row[: hi + 1 - lo]
            addr = stop

    def unpoison(self, addr: int, size: int) -> None:
        """kasan_unpoison() (generic): the granules accessible, the last one partly."""
        self.poison(addr, size & ~KASAN_GRANULE_MASK, 0)
        if size & KASAN_GRANULE_MASK:
            self.set_byte(addr + (size & ~KASAN_GRANULE_MASK), size & KASAN_GRANULE_MASK)

    def poison_last_granule(self, addr: int, size: int) -> None:
        """kasan_poison_last_granule(): only the first size % 8 bytes of the last granule."""
        if size & KASAN_GRANULE_MASK:
            self.set_byte(addr + size, size & KASAN_GRANULE_MASK)

    def drop(self, addr: int, npages: int) -> None:
        """Forget the shadow of whole pages: they read as their state says again."""
        vpage = addr >> 12
        pages = self.pages
        if not pages:
            return
        for v in range(vpage, vpage + npages):
            pages.pop(v, None)

    def is_poisoned(self, addr: int, size: int) -> bool:
        """memory_is_poisoned_n(): is any byte of [addr, addr + size) inaccessible?"""
        last = addr + size - 1
        vpage = addr >> 12
        if vpage == last >> 12:
            sp = self.pages.get(vpage)
            if sp is None:
                return self.default(vpage) != 0
            lo, hi = (addr & 4095) >> 3, (last & 4095) >> 3
            seg = sp[lo : hi + 1]
            if seg.count(0) == len(seg):
                return False
            first = next(i for i, v in enumerate(seg) if v)
            if first != len(seg) - 1:
                return True
            return (last & KASAN_GRANULE_MASK) >= s8(seg[-1])
        # Spans pages: granule by granule up to the last.
        g = addr & ~KASAN_GRANULE_MASK
        last_g = last & ~KASAN_GRANULE_MASK
        while g < last_g:
            if self.byte(g):
                return True
            g += KASAN_GRANULE_SIZE
        v = self.byte(last_g)
        return v != 0 and (last & KASAN_GRANULE_MASK) >= s8(v)

    def first_bad_addr(self, addr: int, size: int) -> int:
        """kasan_find_first_bad_addr(): step 8 bytes from `addr` while the shadow is 0."""
        p = addr
        while p < addr + size and not self.byte(p):
            p += KASAN_GRANULE_SIZE
        return p

    def byte_accessible(self, addr: int) -> bool:
        """kasan_byte_accessible() (generic): shadow in [0, 8)."""
        v = s8(self.byte(addr))
        return 0 <= v < KASAN_GRANULE_SIZE
