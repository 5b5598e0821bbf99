"""examples/uart_driver.py: a driver bound by compatible writes "hello" to UART1 with writel()."""

from __future__ import annotations

import contextlib
import io
import runpy
from pathlib import Path

import kmemsim

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "uart_driver.py"


def test_the_uart_example_says_hello_and_gives_its_region_back() -> None:
    k = kmemsim.boot("beaglebone-black")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        runpy.run_path(str(EXAMPLE), init_globals={"k": k, "kmemsim": kmemsim})
    text = out.getvalue()
    assert "platform_driver_register() = 0" in text
    assert "hello_uart 48022000.serial: said hello" in text
    assert "UART1 (48022000.serial) transmitted: b'hello\\n'" in text
    assert "in /proc/iomem while bound: ['48022000-48022fff : 48022000.serial']" in text
    assert "in /proc/iomem after unbind: []" in text
    # The console UART stays with its built-in driver: nothing of "hello" on the console.
    assert "hello" not in k.console()
