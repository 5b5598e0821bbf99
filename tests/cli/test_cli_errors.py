"""What a user sees when kmemsim is misused, or the simulated kernel dies, in-process."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import kmemsim
from kmemsim.cli.main import cli
from kmemsim.errors import KmemsimError, Oops


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("MAX_PAGE_ORDER=0", "from 1 to 15"),
        ("MAX_PAGE_ORDER=-1", "from 1 to 15"),
        ("min_free_kbytes=-5", "expected an integer from 0 to 2147483647"),
        ("watermark_scale_factor=0", "from 1 to 3000"),
        ("watermark_scale_factor=5000", "from 1 to 3000"),
        ("percpu_pagelist_high_fraction=3", "0 or at least 8"),
        ("slub_min_objects=-1", "must be >= 0"),
        ("lowmem_reserve_ratio=abc", "expected integers"),
    ],
)
def test_values_the_kernel_refuses_are_refused(option: str, message: str) -> None:
    code, _, err = invoke("boot", "--mem", "256M", "--config", option)
    assert code == 2
    assert err.count("\n") == 1 and message in err


def test_a_kernel_that_dies_while_booting_shows_its_log(monkeypatch: pytest.MonkeyPatch) -> None:
    import kmemsim.mm.slub as slub

    def dying_kmem_cache_init(k: kmemsim.Kernel) -> None:
        k.log.pr_emerg("Kernel panic - not syncing: out of memory while creating kmalloc-8k")
        raise Oops("Kernel panic - not syncing: out of memory while creating kmalloc-8k")

    monkeypatch.setattr(slub, "kmem_cache_init", dying_kmem_cache_init)
    code, out, err = invoke("boot", "--mem", "256M")
    assert code == 1
    assert "Zone ranges:" in out and "Kernel panic - not syncing" in out
    assert err.startswith("kmemsim: the kernel died while booting: Kernel panic")
    assert "Traceback" not in out + err


def test_a_directory_is_not_a_file() -> None:
    code, _, err = invoke("cat", "--mem", "256M", "/sys/kernel/slab")
    assert code == 1 and "Is a directory" in err  # cat(1)'s exit code


def test_cat_of_several_files_prints_the_others_and_the_error_as_cat_does() -> None:
    code, out, err = invoke(
        "cat", "--mem", "256M", "/proc/buddyinfo", "/proc/no_such_file", "/proc/meminfo/"
    )
    assert code == 1
    assert out.startswith("Node 0, zone      DMA")
    assert "MemTotal:" not in out
    assert err.splitlines() == [
        "kmemsim cat: /proc/no_such_file: No such file or directory",
        "kmemsim cat: /proc/meminfo/: Not a directory",
    ]
    code, out, err = invoke("cat", "--mem", "256M", "/proc/buddyinfo", "/proc/meminfo")
    assert code == 0 and "MemTotal:" in out and err == ""


@pytest.mark.parametrize(
    "path",
    [
        "/proc/meminfo/",
        "/proc/meminfo/.",
        "/proc/meminfo/x",
        "/sys/kernel/slab/kmalloc-64/object_size/",
    ],
)
def test_a_file_followed_by_a_slash_is_not_a_directory(path: str) -> None:
    """fs/namei.c: a path component that is not a directory fails with ENOTDIR."""
    k = kmemsim.boot("x86_64", mem="256M")
    with pytest.raises(KmemsimError, match=f"^cat: {path}: Not a directory$"):
        k.cat(path)
    assert k.cat(path.rstrip("/.x").rstrip("/"))


def test_a_profile_that_is_not_utf8_is_one_line_exit_2(tmp_path: Path) -> None:
    profile = tmp_path / "latin1.toml"
    profile.write_bytes(b'[machine]\nname = "caf\xe9"\narch = "x86_64"\n')
    code, out, err = invoke("boot", "--profile", str(profile))
    assert code == 2 and out == ""
    assert (
        err == f"kmemsim: error: {profile}:2: invalid TOML: byte 0xe9 is not UTF-8 "
        "(a profile is UTF-8 text)\n"
    )
    with pytest.raises(KmemsimError, match="is not UTF-8"):
        kmemsim.boot(str(profile))


def test_run_names_the_task_after_the_scenario(tmp_path: Path) -> None:
    script = tmp_path / "my_driver_probe.py"
    script.write_text(
        "from kmemsim import GFP_KERNEL\nwith k.irq_context():\n    k.kmalloc(64, GFP_KERNEL)\n"
    )
    code, out, _ = invoke("run", str(script), "--mem", "256M")
    assert code == 0
    assert "name: my_driver_probe" in out  # might_sleep()'s report names the current task


def test_kernel_names_with_two_underscores_work_inside_classes() -> None:
    k = kmemsim.boot("x86_64", mem="256M")

    class Driver:
        def probe(self) -> int:
            return int(k.__get_free_pages(kmemsim.GFP_KERNEL, 1))  # mangled to _Driver__...

    addr = Driver().probe()
    assert addr and k.virt_to_phys(addr) % 8192 == 0
    with pytest.raises(AttributeError):
        _ = k._Driver__no_such_kernel_function  # type: ignore[attr-defined]


def test_errors_are_kmemsim_errors() -> None:
    with pytest.raises(KmemsimError, match="unknown configuration option"):
        kmemsim.boot("x86_64", config={"NO_SUCH": 1})


def test_run_reports_a_kmemsim_error_of_the_scenario_in_one_line(tmp_path: Path) -> None:
    """examples/uart_driver.py on a PC: the scenario's KmemsimError is one line, exit 2."""
    example = Path(__file__).resolve().parents[2] / "examples" / "uart_driver.py"
    result = CliRunner().invoke(cli, ["run", str(example)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.output.strip().endswith("run it with --profile beaglebone-black")
