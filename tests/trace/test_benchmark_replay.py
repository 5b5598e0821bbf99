"""benchmarks/replay.py: the data directory it reads and the options it advertises."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "replay.py"
LINE = (
    "            task-4429    [001] .....  9255.582785: kmalloc: "
    "call_site=alloc_pipe_info+0x5d/0x230 ptr=00000000cfe7026a bytes_req=176 bytes_alloc=192 "
    "gfp_flags=GFP_KERNEL_ACCOUNT|__GFP_ZERO node=-1 accounted=true\n"
)


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchmark_replay", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_data_directory_is_kmemsim_data_as_for_the_tests(
    bench: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("KMEMSIM_DATA", str(tmp_path))
    assert bench.data_dir() == tmp_path
    # Without a trace argument it looks for the site-packages trace there.
    assert bench.main([]) == 2
    assert f"missing trace {tmp_path / 'trace-site-packages-extract.txt.xz'}" in (
        capsys.readouterr().err
    )
    # Unset: ../shared/data/linux-6.18-x86_64 next to the repository, as in tests/conftest.py.
    monkeypatch.delenv("KMEMSIM_DATA")
    assert bench.data_dir() == BENCHMARK.parents[2] / "shared" / "data" / "linux-6.18-x86_64"


def test_the_usage_line_names_exactly_the_options_it_takes(bench: ModuleType) -> None:
    usage = next(
        line for line in (bench.__doc__ or "").splitlines() if "benchmarks/replay.py" in line
    )
    advertised = set(re.findall(r"--[a-z][a-z-]*", usage))
    parser = bench.build_parser()
    accepted = {
        opt for action in parser._actions for opt in action.option_strings if opt.startswith("--")
    } - {"--help"}
    assert advertised == accepted == {"--profile", "--no-verify"}
    assert "--limit-seconds" not in (bench.__doc__ or "")


def test_it_runs_on_a_small_trace_of_the_data_directory(
    bench: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import lzma

    (tmp_path / "trace-site-packages-extract.txt.xz").write_bytes(lzma.compress(LINE.encode() * 3))
    monkeypatch.setenv("KMEMSIM_DATA", str(tmp_path))
    assert bench.main(["--profile", "x86_64"]) == 0
    out = capsys.readouterr().out
    assert f"trace: {tmp_path / 'trace-site-packages-extract.txt.xz'}" in out
    assert "bare read-and-split:  3 lines" in out
    assert "full replay:          3 events" in out
    assert "mismatches: 0, malformed lines: 0" in out
