"""Model of include/linux/err.h: error codes carried inside pointer values.

A kernel function that returns a pointer reports failure by returning
ERR_PTR(-EBUSY): the negative errno as an address in the last page of the
address space, [-MAX_ERRNO, -1] read as an unsigned long, where no valid
object can be. IS_ERR() tests for that range, PTR_ERR() gives the errno
back. kmemsim's addresses are unsigned ints, so ERR_PTR(-EBUSY) is
0xfffffffffffffff0 on a 64-bit kernel and 0xfffffff0 on a 32-bit one
(`bits`, BITS_PER_LONG, defaults to 64; a kernel passes its own). IS_ERR and
PTR_ERR recognise both widths: the top 4095 values below 2**32 are no kernel
pointer on a 64-bit machine either, since they are user addresses there.

    >>> IS_ERR(ERR_PTR(-16)), PTR_ERR(ERR_PTR(-16)), hex(ERR_PTR(-16, bits=32))
    (True, -16, '0xfffffff0')
"""

from __future__ import annotations

MAX_ERRNO = 4095

_MASK32 = (1 << 32) - 1
_MASK64 = (1 << 64) - 1


def IS_ERR_VALUE(x: int) -> bool:
    """IS_ERR_VALUE(): `x` is an errno folded into an unsigned long (or a negative errno)."""
    if -MAX_ERRNO <= x < 0:
        return True
    return (_MASK64 - MAX_ERRNO < x <= _MASK64) or (_MASK32 - MAX_ERRNO < x <= _MASK32)


def ERR_PTR(error: int, bits: int = 64) -> int:
    """ERR_PTR(): the pointer value that carries the negative errno `error`."""
    return error & ((1 << bits) - 1)


def PTR_ERR(ptr: int) -> int:
    """PTR_ERR(): the (negative) errno an ERR_PTR() value carries; any pointer as a long."""
    if ptr > _MASK32:
        return ptr - (1 << 64) if ptr > _MASK64 >> 1 else ptr
    if ptr > _MASK32 - MAX_ERRNO:
        return ptr - (1 << 32)
    return ptr


def IS_ERR(ptr: int | None) -> bool:
    """IS_ERR(): `ptr` is an ERR_PTR() value."""
    return ptr is not None and IS_ERR_VALUE(ptr)


def IS_ERR_OR_NULL(ptr: int | None) -> bool:
    """IS_ERR_OR_NULL(): NULL (0 or None) or an ERR_PTR() value."""
    return not ptr or IS_ERR_VALUE(ptr)


def PTR_ERR_OR_ZERO(ptr: int | None) -> int:
    """PTR_ERR_OR_ZERO(): the errno of an ERR_PTR() value, else 0."""
    return PTR_ERR(ptr) if ptr is not None and IS_ERR_VALUE(ptr) else 0


def ERR_CAST(ptr: int) -> int:
    """ERR_CAST(): an error pointer passed on as another pointer type (the same value)."""
    return ptr
