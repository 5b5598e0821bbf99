"""Model of lib/random32.c: the prandom Tausworthe generator (prandom_u32_state and friends).

A combined Tausworthe generator with four 32-bit words of state (L'Ecuyer's
LFSR113). arch/x86/mm/kaslr.c seeds one with prandom_seed_state() from
kaslr_get_random_long("Memory") and draws the memory-region offsets from it
with prandom_bytes_state(); kmemsim takes the seed from the `kaslr_seed` boot
option, so a layout is the one the kernel would pick for that seed.
"""

from __future__ import annotations

_M32 = 0xFFFFFFFF


def _tausworthe(s: int, a: int, b: int, c: int, d: int) -> int:
    return (((s & c) << d) ^ (((s << a) ^ s) >> b)) & _M32


class RndState:
    """struct rnd_state: s1..s4."""

    def __init__(self, seed: int) -> None:
        """prandom_seed_state(): the four words from a 64-bit seed, then warm up."""
        i = ((seed >> 32) ^ (seed << 10) ^ seed) & _M32

        def _seed(x: int, m: int) -> int:
            return x + m if x < m else x

        self.s1 = _seed(i, 2)
        self.s2 = _seed(i, 8)
        self.s3 = _seed(i, 16)
        self.s4 = _seed(i, 128)
        for _ in range(10):  # prandom_warmup()
            self.u32()

    def u32(self) -> int:
        """prandom_u32_state()."""
        self.s1 = _tausworthe(self.s1, 6, 13, 4294967294, 18)
        self.s2 = _tausworthe(self.s2, 2, 27, 4294967288, 2)
        self.s3 = _tausworthe(self.s3, 13, 21, 4294967280, 7)
        self.s4 = _tausworthe(self.s4, 3, 12, 4294967168, 13)
        return self.s1 ^ self.s2 ^ self.s3 ^ self.s4

    def ulong(self) -> int:
        """prandom_bytes_state() of an unsigned long: two words, little-endian."""
        lo = self.u32()
        return lo | (self.u32() << 32)
