"""examples/page_allocator.py runs, with `kmemsim run` semantics (a booted `k`) and alone."""

from __future__ import annotations

import contextlib
import io
import runpy
from pathlib import Path

import kmemsim

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "page_allocator.py"


def test_the_example_walks_through_the_slides_and_ends_with_a_fragmentation_failure() -> None:
    k = kmemsim.boot("x86_64", mem="128M", cpus=2)
    at_boot = k.page_alloc.nr_allocated_pages()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        runpy.run_path(str(EXAMPLE), init_globals={"k": k, "kmemsim": kmemsim}, run_name="__main__")
    text = out.getvalue()
    assert "20000 bytes -> order 3" in text
    assert "BUG: sleeping function called from invalid context" in text
    assert "example: page allocation failure: order:4, mode:0xcc0(GFP_KERNEL)" in text
    assert "alloc_pages(GFP_KERNEL, 4) = None" in text
    # Everything was given back: only the boot-time state and the slab pages remain.
    assert k.page_alloc.nr_allocated_pages() - at_boot < 64
