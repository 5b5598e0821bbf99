"""GFP semantics of the page allocator checked against every mm_page_alloc of the real traces.

The 6.18 tracepoint prints the migrate type the request asked for
(gfp_migratetype(), ac.migratetype) and the pfn it got: the model must derive
the same migrate type from the printed GFP flags, and the pfn must lie in a
zone the model's gfp_zone() allows for those flags (zone index <= highest).
"""

from __future__ import annotations

import lzma
import re
from pathlib import Path

import pytest

import kmemsim
from kmemsim.include.linux.gfp_types import parse_gfp
from kmemsim.mm.page_alloc import gfp_migratetype

TRACES = ["trace-python-import.txt.xz", "trace-tar-extract.txt.xz", "trace-gcc-build.txt.xz"]
PAGE_ALLOC = re.compile(
    r" mm_page_alloc: page=\S+ pfn=(0x[0-9a-f]+) order=(\d+) migratetype=(\d+) gfp_flags=(\S+)"
)


@pytest.fixture(scope="module")
def k618() -> kmemsim.Kernel:
    return kmemsim.boot("linux-6.18-x86_64")


@pytest.mark.parametrize("trace", TRACES)
def test_migratetype_and_zone_of_every_traced_page_allocation(
    trace: str, shared_data: Path, k618: kmemsim.Kernel
) -> None:
    pa = k618.page_alloc
    seen = 0
    with lzma.open(shared_data / trace, "rt") as f:
        for line in f:
            if "mm_page_alloc:" not in line:
                continue
            m = PAGE_ALLOC.search(line)
            assert m, line
            pfn, order, mt, flags = int(m[1], 16), int(m[2]), int(m[3]), m[4]
            gfp = parse_gfp(flags)
            assert gfp_migratetype(gfp) == mt, line
            zb = pa.page_zone(pfn)
            assert zb is not None, line
            assert zb.idx <= pa.gfp_zone(gfp), line
            assert 0 <= order <= pa.max_order
            seen += 1
    assert seen > 20000
