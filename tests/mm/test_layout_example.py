"""examples/layout.py runs and shows what it promises."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "layout.py"


def test_layout_example(capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    out = capsys.readouterr().out
    assert "ffff888000000000-ffffc87fffffffff" in out
    assert "contiguous=True" in out and "contiguous=False" in out
    assert "BUG: unable to handle page fault for address: ffffc90000010000" in out
    assert "VMSPLIT_1G: user space  1024 MiB" in out and "highmem        0 kB" in out
    assert "page_address() = 0x0" in out and "b'hello from highmem'" in out
