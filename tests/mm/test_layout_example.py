"""examples/layout.py runs and shows what it promises."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "layout.py"


def test_layout_example(capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    out = capsys.readouterr().out
    assert "ffff888000000000-ffffc87fffffffff" in out
    assert "contiguous=True" in out and "contiguous=False" in out
    # One byte past the vmalloc(64K) area: its guard page (the area follows the boot
    # threads' stacks in the vmalloc space).
    m = re.search(r"vmalloc\(65536\) = 0x([0-9a-f]+)", out)
    assert m and int(m.group(1), 16) >= 0xFFFFC90000000000
    guard = int(m.group(1), 16) + 65536
    assert f"BUG: unable to handle page fault for address: {guard:016x}" in out
    assert "VMSPLIT_1G: user space  1024 MiB" in out and "highmem        0 kB" in out
    assert "page_address() = 0x0" in out and "b'hello from highmem'" in out
