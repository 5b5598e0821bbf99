"""Model of lib/cmdline.c: memparse(), the size syntax of mem=, crashkernel= and friends."""

from __future__ import annotations

from kmemsim.errors import KmemsimError

_SUFFIX = {"K": 10, "M": 20, "G": 30, "T": 40, "P": 50, "E": 60}


def memparse(text: str) -> int:
    """A size such as "4G", "512M", "1T", "0x1000" or "4096", in bytes.

    Unlike the kernel, which stops at the first character it cannot read,
    trailing junk is an error here: "4X" is a typo, not 4 bytes.

    >>> memparse("4G"), memparse("512M"), memparse("1T"), memparse("0x1000")
    (4294967296, 536870912, 1099511627776, 4096)
    """
    s = text.strip()
    shift = 0
    if s and s[-1].upper() in _SUFFIX:
        shift = _SUFFIX[s[-1].upper()]
        s = s[:-1]
    elif s[-2:].upper() in ("KB", "MB", "GB", "TB") or s[-3:].upper() in (
        "KIB",
        "MIB",
        "GIB",
        "TIB",
    ):
        unit = s.rstrip("bBiI")
        shift = _SUFFIX[unit[-1].upper()]
        s = unit[:-1]
    try:
        value = int(s, 0)
    except ValueError:
        raise KmemsimError(
            f"bad size {text!r}: expected a number with an optional K, M, G or T suffix"
        ) from None
    if value < 0:
        raise KmemsimError(f"bad size {text!r}: must not be negative")
    return value << shift
