"""The kmemsim command as a user runs it: output, one-line errors, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import kmemsim


def kmemsim_cmd(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kmemsim", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def test_version() -> None:
    r = kmemsim_cmd("--version")
    assert r.returncode == 0
    assert kmemsim.__version__ in r.stdout


def test_boot_prints_the_real_zone_lines(shared_data: Path) -> None:
    r = kmemsim_cmd("boot", "--profile", "linux-6.18-x86_64")
    assert r.returncode == 0, r.stderr
    real = (shared_data / "dmesg-memory.txt").read_text().splitlines()
    body = [line.split("] ", 1)[1] for line in real]
    start, end = (
        body.index("Zone ranges:"),
        next(i for i, line in enumerate(body) if line.startswith("Initmem setup")),
    )
    ours = [line.split("] ", 1)[1] for line in r.stdout.splitlines()]
    first = ours.index("Zone ranges:")
    assert ours[first : first + end - start + 1] == body[start : end + 1]


def test_default_boot_works() -> None:
    r = kmemsim_cmd("boot")
    assert r.returncode == 0, r.stderr
    assert "Zone ranges:" in r.stdout and "Memory:" in r.stdout


def test_cat_buddyinfo_has_the_real_shape() -> None:
    r = kmemsim_cmd("cat", "--profile", "linux-6.18-x86_64", "/proc/buddyinfo")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert [line.split()[3] for line in lines] == ["DMA", "DMA32", "Normal"]
    assert all(len(line.split()) == 4 + 11 for line in lines)


def test_cat_meminfo_has_the_real_keys_in_order(shared_data: Path) -> None:
    r = kmemsim_cmd("cat", "--profile", "linux-6.18-x86_64", "/proc/meminfo")
    assert r.returncode == 0, r.stderr
    real = (shared_data / "proc-meminfo.txt").read_text().splitlines()
    assert [line.split(":")[0] for line in r.stdout.splitlines()] == [
        line.split(":")[0] for line in real
    ]


def test_run_binds_k_and_prints_the_log(tmp_path: Path) -> None:
    script = tmp_path / "scenario.py"
    script.write_text("k.printk('hello from the scenario')\n")
    r = kmemsim_cmd("run", str(script), "--mem", "256M")
    assert r.returncode == 0, r.stderr
    assert r.stdout.rstrip().endswith("hello from the scenario")
    assert "Zone ranges" not in r.stdout  # only what happened after boot


def test_cat_of_a_missing_file_is_one_line_and_exit_1_as_cat() -> None:
    r = kmemsim_cmd("cat", "/proc/no-such-file")
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == "kmemsim cat: /proc/no-such-file: No such file or directory\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("boot", "--profile", "no-such-machine"), "no-such-machine"),
        (("boot", "--mem", "4X"), "4X"),
        (("boot", "--config", "NO_SUCH_OPTION=1"), "NO_SUCH_OPTION"),
        (("boot", "--config", "slub_max_order=lots"), "slub_max_order"),
        (("boot", "--cpus", "0"), "--cpus"),
        (("run", "/no/such/script.py"), "/no/such/script.py"),
        (("frobnicate",), "frobnicate"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: tuple[str, ...], message: str) -> None:
    r = kmemsim_cmd(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert message in lines[0]
