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
    # Without a trace argument it looks for the shared traces there, short ones first.
    assert bench.main([]) == 2
    assert f"missing trace {tmp_path / 'trace-python-import.txt.xz'}" in capsys.readouterr().err
    assert bench.DEFAULT_TRACES[-1] == "trace-site-packages-extract.txt.xz"
    # Unset: ../shared/data/linux-6.18-x86_64 next to the repository, as in tests/conftest.py.
    monkeypatch.delenv("KMEMSIM_DATA")
    assert bench.data_dir() == BENCHMARK.parents[2] / "shared" / "data" / "linux-6.18-x86_64"


def test_the_usage_line_names_exactly_the_options_it_takes(bench: ModuleType) -> None:
    usage = " ".join(
        line
        for line in (bench.__doc__ or "").split("\n\n")[1].splitlines()
        if line.startswith("    ")
    )
    advertised = set(re.findall(r"--[a-z][a-z-]*", usage))
    parser = bench.build_parser()
    accepted = {
        opt for action in parser._actions for opt in action.option_strings if opt.startswith("--")
    } - {"--help"}
    assert advertised == accepted == {"--profile", "--no-verify", "--repeat", "--baseline"}


def test_it_runs_the_command_on_a_small_trace_against_a_baseline(
    bench: ModuleType,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import lzma

    trace = tmp_path / "small.txt.xz"
    lines = [LINE, LINE.replace("9255.582785", "9255.682785").replace("00000000cfe7026a", "1" * 16)]
    trace.write_bytes(lzma.compress("".join(lines).encode()))
    repo = BENCHMARK.parents[1]
    assert bench.main([str(trace), "--profile", "x86_64", "--baseline", str(repo)]) == 0
    out = capsys.readouterr().out
    assert "real kernel: 2 events in 0.10 s (20 events/s)" in out
    assert "bare read-and-split 2 lines" in out
    for label in ("this", "baseline"):
        line = next(x for x in out.splitlines() if x.strip().startswith(label))
        assert "x real time" in line and "whole command" in line and line.endswith("exit 0")
        assert re.search(rf"{label} +CPU: +[\d.]+ s in the model's process", out)
