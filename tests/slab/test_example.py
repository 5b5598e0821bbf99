"""examples/slab.py runs as `kmemsim run` runs it (a booted `k`) and tells what the slides say."""

from __future__ import annotations

import contextlib
import io
import runpy
from pathlib import Path

import pytest

import kmemsim

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "slab.py"


@pytest.mark.parametrize("profile", ["x86_64", "linux-6.18-x86_64"])
def test_the_slab_example(profile: str) -> None:
    k = kmemsim.boot(profile, mem="1G") if profile == "x86_64" else kmemsim.boot(profile)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        runpy.run_path(str(EXAMPLE), init_globals={"k": k, "kmemsim": kmemsim})
    text = out.getvalue()
    assert "kmalloc(100)  = " in text and "ksize = 128" in text
    assert "ksize = 96   (kmalloc-96" in text
    assert "kcalloc(2**62, 8) = 0" in text
    assert "ksize 16384 = PAGE_SIZE << get_order(10000)" in text
    assert "Call Trace" not in k.dmesg()  # the example itself misuses nothing
