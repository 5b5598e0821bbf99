"""examples/driver_devm.py runs as `kmemsim run` runs it and shows what the slides say."""

from __future__ import annotations

import contextlib
import io
import runpy
from pathlib import Path

import pytest

import kmemsim

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "driver_devm.py"


@pytest.mark.parametrize("profile", ["beaglebone-black", "x86_64"])
def test_the_driver_devm_example(profile: str) -> None:
    k = kmemsim.boot(profile, mem="512M")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        runpy.run_path(str(EXAMPLE), init_globals={"k": k, "kmemsim": kmemsim})
    text = out.getvalue()
    assert text.count("foo foo.0: probe with driver foo failed with error -16") == 2
    assert "kmalloc objects in use: +1 after the probe: one leaked" in text
    assert "kmalloc objects in use: +0 after the probe: nothing leaked" in text
    # the devm probe's resources, newest first: buffer action, buffer, framework action, foo
    released = text.split("newest first (devres names as the kernel's):\n")[1].split("\n")[:4]
    assert [line.split(": ")[1] for line in released] == [
        "buffer_stop",
        "devm_kzalloc_release",
        "framework_unregister",
        "devm_kzalloc_release",
    ]
    unbind = text.split("then the devres:\n")[1].splitlines()
    assert unbind[0].strip().startswith("foo_remove(): drvdata")
    assert unbind[1].strip().startswith("buffer_stop(") and unbind[2].strip().startswith(
        "framework_unregister("
    )
    assert "kmalloc objects in use: +0 since before the devm driver came" in text
    assert "WARNING" not in k.dmesg()
