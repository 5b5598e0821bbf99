"""examples/debugging.py: each tool reports the classic bugs it can see, in the kernel's words."""

from __future__ import annotations

import runpy
from pathlib import Path

from click.testing import CliRunner

from kmemsim.cli.main import cli

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "debugging.py"


def test_the_example_under_kasan_names_the_scenarios_functions() -> None:
    result = CliRunner().invoke(cli, ["run", "--config", "KASAN=y", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "BUG: KASAN: slab-out-of-bounds in off_by_one+0x" in out
    assert "Write of size 1 at addr " in out and "by task debugging/1000" in out
    # Only the first report without kasan_multi_shot, as the kernel does.
    assert out.count("BUG: KASAN:") == 1


def test_the_example_as_a_script(capsys: object) -> None:
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    kasan, kfence, kmemleak, misses = (
        out.split("===== KASAN")[1].split("===== KFENCE")[0],
        out.split("===== KFENCE")[1].split("===== kmemleak")[0],
        out.split("===== kmemleak")[1].split("===== what KFENCE misses")[0],
        out.split("===== what KFENCE misses")[1],
    )
    assert "BUG: KASAN: double-free in kmem_cache_free" in kasan
    assert "BUG: KFENCE: memory corruption in off_by_one" in kfence
    assert "BUG: KFENCE: use-after-free read in use_after_free" in kfence
    assert "BUG: KFENCE: invalid free in double_free" in kfence
    assert kmemleak.count("unreferenced object 0x") == 1  # the leak, not the kept buffer
    assert "(size 256):" in kmemleak
    assert "KFENCE  ten off-by-one writes within one sample interval: 0 reports" in misses
    assert "KASAN   ten off-by-one writes within one sample interval: 10 reports" in misses
