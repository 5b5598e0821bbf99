"""GFP flags: bit values of include/linux/gfp_types.h and the names the kmem tracepoints print."""

from __future__ import annotations

import lzma
from pathlib import Path

import pytest

import kmemsim
from kmemsim.include.linux.gfp_types import (
    GFP,
    GFP_NAMES,
    format_gfp_mask,
    parse_gfp,
    show_gfp_flags,
)


def test_composite_masks_have_the_6_18_values() -> None:
    # Values from include/linux/gfp_types.h with CONFIG_KASAN_HW_TAGS and LOCKDEP off.
    assert kmemsim.GFP_KERNEL == 0xCC0
    assert kmemsim.GFP_ATOMIC == 0x820
    assert kmemsim.GFP_NOWAIT == 0x2800
    assert kmemsim.GFP_NOIO == 0xC00
    assert kmemsim.GFP_NOFS == 0xC40
    assert kmemsim.GFP_USER == 0x100CC0
    assert kmemsim.GFP_HIGHUSER_MOVABLE == 0x100CCA
    assert kmemsim.GFP_KERNEL_ACCOUNT == 0x400CC0
    assert kmemsim.GFP_TRANSHUGE_LIGHT == 0x1C20CA
    assert kmemsim.GFP_TRANSHUGE == 0x1C24CA
    assert getattr(kmemsim, "__GFP_ZERO") == 0x100
    assert getattr(kmemsim, "__GFP_COMP") == 0x40000


def _real_gfp_table(shared_data: Path) -> dict[str, int]:
    """The flag table of mm_page_alloc's print fmt, as the captured 6.18 kernel wrote it.

    Each entry is `{( unsigned long)(EXPR), "NAME"}` where EXPR is the C
    expansion of the flag (casts, `((1UL)) << (N)`, `|`); evaluate it as an
    integer expression.
    """
    import re

    text = (shared_data / "event-formats.txt").read_text()
    fmt = text[text.index("name: mm_page_alloc") :]
    fmt = fmt[fmt.index("print fmt:") : fmt.index("\n", fmt.index("print fmt:"))]
    table: dict[str, int] = {}
    for expr, name in re.findall(r'\{\( unsigned long\)(.*?), "(\w+)"\}', fmt):
        expr = re.sub(r"\(\s*(gfp_t|unsigned long)\)", "", expr).replace("1UL", "1")
        assert re.fullmatch(r"[\s()0-9xa-fA-Fu<|&~]+", expr), expr
        table[name] = int(eval(expr.replace("u", ""), {"__builtins__": {}}))
    return table


def test_every_flag_name_the_real_kernel_prints_has_its_real_value(shared_data: Path) -> None:
    """Every GFP name of the captured kernel's mm_page_alloc format, with its value there."""
    real = _real_gfp_table(shared_data)
    assert len(real) > 30
    for name, value in real.items():
        assert getattr(kmemsim, name) == value, name
        assert GFP_NAMES[name] == value, name
    assert set(GFP_NAMES) >= set(real)


def test_show_gfp_flags_tries_the_masks_in_the_real_kernels_order(shared_data: Path) -> None:
    """__def_gfpflag_names order decides "GFP_KERNEL|__GFP_ZERO" over single bits."""
    from kmemsim.include.linux.gfp_types import _TRACE_ORDER

    real = list(_real_gfp_table(shared_data))
    model = [name for name, _ in _TRACE_ORDER]
    assert model == real


def test_flags_are_intflags() -> None:
    assert isinstance(kmemsim.GFP_KERNEL, GFP)
    assert isinstance(GFP.ZERO, int)


def test_warn_alloc_prints_the_mask_as_pGg() -> None:
    assert format_gfp_mask(kmemsim.GFP_KERNEL) == "0xcc0(GFP_KERNEL)"
    assert format_gfp_mask(0) == "0x0(none)"


def test_unknown_flag_is_named() -> None:
    with pytest.raises(ValueError, match="__GFP_BOGUS"):
        parse_gfp("GFP_KERNEL|__GFP_BOGUS")


def test_every_mask_in_the_shared_traces_prints_back_identically(shared_data: Path) -> None:
    """show_gfp_flags(parse_gfp(s)) == s for every gfp_flags= string the real kernel printed."""
    seen: set[str] = set()
    for trace in sorted(shared_data.glob("trace-*.txt.xz"))[:2]:
        with lzma.open(trace, "rt") as f:
            for line in f:
                pos = line.find("gfp_flags=")
                if pos >= 0:
                    seen.add(line[pos + 10 :].split(" ", 1)[0].rstrip())
    assert len(seen) > 10
    for text in seen:
        assert show_gfp_flags(parse_gfp(text)) == text
