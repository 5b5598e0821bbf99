"""`kmemsim replay`: exit codes, bad input, JSON, HTML, --compare, standard input."""

from __future__ import annotations

import gzip
import json
import lzma
from pathlib import Path

import pytest
from click.testing import CliRunner

from kmemsim.cli.main import _register_tools, cli

HEAD = "            task-4429    [001] .....  9255.58{:04d}: "
GOOD = [
    "kmalloc: call_site=alloc_pipe_info+0x5d/0x230 ptr=00000000cfe7026a bytes_req=176 "
    "bytes_alloc=192 gfp_flags=GFP_KERNEL_ACCOUNT|__GFP_ZERO node=-1 accounted=true",
    "kmem_cache_alloc: call_site=alloc_inode+0xa3/0xd0 ptr=0000000000cb3ea8 name=inode_cache "
    "bytes_req=616 bytes_alloc=624 gfp_flags=GFP_KERNEL node=-1 accounted=true",
    "mm_page_alloc: page=0000000008e3026d pfn=0x114c6c order=0 migratetype=1 "
    "gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP",
    "kfree: call_site=pipe_release+0x1/0x2 ptr=00000000cfe7026a",
    "kfree: call_site=ida_alloc_range+0x39b/0x400 ptr=0000000000000000",
    "kmem_cache_free: call_site=__fput+0x141/0x2a0 ptr=0000000000cb3ea8 name=inode_cache",
    "mm_page_free: page=0000000008e3026d pfn=0x114c6c order=0",
    "mm_page_free_batched: page=0000000008e3026d pfn=0x114c6c order=0",
    "sched_switch: prev_comm=task prev_pid=1 next_comm=task next_pid=2",
]


def trace_text(bodies: list[str]) -> str:
    return "".join(HEAD.format(i) + body + "\n" for i, body in enumerate(bodies))


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    _register_tools()
    return CliRunner()


def run(runner: CliRunner, *args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(cli, ["replay", *args], input=input, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_a_good_trace_replays_with_exit_0(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "t.txt.gz"
    path.write_bytes(gzip.compress(trace_text(GOOD).encode()))
    code, out, err = run(runner, str(path), "--verify")
    assert code == 0, out + err
    assert "SUMMARY (SLAB allocator)" in out
    assert "batched_repeat 1" in out and "kfree_null 1" in out
    assert "sched_switch 1" in out  # unknown events are counted, not fatal


def test_json_report(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text(trace_text(GOOD))
    code, out, _ = run(runner, str(path), "--json", "--verify")
    assert code == 0
    report = json.loads(out)
    assert report["kmemsim_replay"] == 1
    assert report["events"] == 8
    assert report["unknown_events"] == {"sched_switch": 1}
    assert report["quirks"]["batched_repeat"] == 1
    assert report["verify"] == {
        "enabled": True,
        "mismatches": {},
        "total_mismatches": 0,
        "examples": {},
        # kmalloc, kmem_cache_alloc, mm_page_alloc, mm_page_free
        "checked_events": 4,
        "unchecked_events": {
            "slab free (names its object; nothing the model computes)": 3,
            "mm_page_free_batched repeating an mm_page_free": 1,
        },
        "page_allocs_zone_unchecked": 0,
        "unknown_caches": [],
    }
    for key in (
        "total_bytes_requested",
        "total_bytes_allocated",
        "total_bytes_freed",
        "internal_fragmentation_percent",
        "cross_cpu_allocations",
        "callsites",
        "caches",
    ):
        assert key in report["slab"]
    for key in (
        "total_allocation_requests",
        "total_free_requests",
        "total_alloc_only_requests",
        "total_free_only_requests",
        "by_order",
        "migratetypes",
    ):
        assert key in report["page"]
    assert report["page"]["by_order"] == {"0": {"Movable": 1}}
    for key in ("final", "peak", "series"):
        assert key in report["model"]


def test_a_mismatch_exits_1_with_examples(runner: CliRunner, tmp_path: Path) -> None:
    # The real kernel never gives 96 bytes for a 100-byte kmalloc: the model gives 128.
    path = tmp_path / "wrong.txt"
    path.write_text(
        trace_text(
            [
                "kmalloc: call_site=f+0x1/0x2 ptr=00000000cfe70260 bytes_req=100 bytes_alloc=96 "
                "gfp_flags=GFP_KERNEL node=-1 accounted=false"
            ]
        )
    )
    code, out, _ = run(runner, str(path), "--verify")
    assert code == 1
    assert "kmalloc bytes_alloc: 1" in out
    assert "wrong.txt:1:" in out and "model ksize=128" in out


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty trace"),
        (bytes(range(256)) * 40, "malformed"),
        (trace_text(GOOD).encode()[:-30], "ends in the middle of a line (truncated)"),
        (trace_text(GOOD[:1]).replace("bytes_alloc=192", "bytes_alloc=x").encode(), "not a number"),
    ],
)
def test_bad_input_exits_2_without_traceback(
    runner: CliRunner, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    code, out, err = run(runner, str(path))
    assert code == 2
    assert "Traceback" not in out + err
    assert message in out + err


def test_truncated_xz_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    data = lzma.compress(trace_text(GOOD * 200).encode())
    path = tmp_path / "cut.txt.xz"
    path.write_bytes(data[: len(data) // 2])
    code, _, err = run(runner, str(path))
    assert code == 2
    assert "truncated xz file" in err and "Traceback" not in err


def test_missing_file_and_bad_option_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    code, _, err = run(runner, str(tmp_path / "nope.txt"))
    assert code == 2 and "No such file" in err
    path = tmp_path / "t.txt"
    path.write_text(trace_text(GOOD))
    code, _, err = run(runner, str(path), "--config", "no_such_option=1")
    assert code == 2 and "Traceback" not in err
    code, _, err = run(runner, str(path), "--compare", "default", "slub_max_order")
    assert code == 2 and "KEY=VALUE" in err


def test_a_trace_on_more_cpus_than_the_machine_is_a_usage_error(
    runner: CliRunner, tmp_path: Path
) -> None:
    path = tmp_path / "t.txt"
    path.write_text(trace_text(GOOD).replace("[001]", "[007]"))
    code, _, err = run(runner, str(path))
    assert code == 2 and "--cpus 8" in err
    code, _, _ = run(runner, str(path), "--cpus", "8")
    assert code == 0


def test_standard_input(runner: CliRunner) -> None:
    code, out, _ = run(runner, "-", "--json", input=trace_text(GOOD))
    assert code == 0
    assert json.loads(out)["traces"] == ["<stdin>"]


def test_html_is_written_atomically(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t.txt"
    path.write_text(trace_text(GOOD))
    html = tmp_path / "report.html"
    code, _, _ = run(runner, str(path), "--html", str(html))
    assert code == 0
    text = html.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<svg" in text
    # A failure while writing leaves the user's previous file whole and no debris.
    html.write_text("previous report")
    from kmemsim.trace import report

    def broken(_fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report.os, "fsync", broken)
    with pytest.raises(OSError, match="No space"):
        report.write_atomically(str(html), text)
    assert html.read_text() == "previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "t.txt"]


def test_compare_two_configurations(runner: CliRunner, shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / "trace-tar-extract.txt.xz"
    html = tmp_path / "compare.html"
    code, out, err = run(
        runner,
        str(path),
        "--compare",
        "default",
        "slub_max_order=0,SLUB_TINY=y",
        "--html",
        str(html),
    )
    assert code == 0, err
    assert "A: default" in out and "B: slub_max_order=0,SLUB_TINY=y" in out
    assert "slab pages at the end" in out
    assert "unusable free space index per order" in out
    assert html.read_text().count("<svg") >= 6


def test_progress_bar_forced_on_a_non_terminal(runner: CliRunner, tmp_path: Path) -> None:
    """CliRunner's stderr is no terminal: --progress draws the bar there as on a
    terminal (rewriting one line, erasing it at the end); by default, or with
    --no-progress, stderr stays empty: no stray newline."""
    path = tmp_path / "t.txt"
    path.write_text(trace_text(GOOD * 50))
    code, out, err = run(runner, str(path), "--progress", "--json")
    assert code == 0
    assert json.loads(out)["events"] == 400
    assert "replay" in err and " events" in err
    assert err.startswith("\x1b[") and "\r\x1b[2K" in err  # redrawn in place
    assert err.endswith("\x1b[2K")  # and erased at the end
    assert err.count("\n") <= 1  # the one that erasing moves back over
    for quiet in ([], ["--no-progress"]):
        code, out, err = run(runner, str(path), "--json", *quiet)
        assert code == 0 and err == ""


def test_large_kmalloc_pages_are_the_model_kmallocs(runner: CliRunner, tmp_path: Path) -> None:
    """kmalloc(9000) goes to the page allocator: its mm_page_alloc (order 2) comes
    just before the kmalloc event, its mm_page_free just after the kfree."""
    path = tmp_path / "large.txt"
    path.write_text(
        trace_text(
            [
                "mm_page_alloc: page=000000001234abcd pfn=0x120000 order=2 migratetype=0 "
                "gfp_flags=GFP_KERNEL|__GFP_COMP",
                "kmalloc: call_site=f+0x1/0x2 ptr=00000000aaaabbbb bytes_req=9000 "
                "bytes_alloc=16384 gfp_flags=GFP_KERNEL node=-1 accounted=false",
                "kfree: call_site=g+0x1/0x2 ptr=00000000aaaabbbb",
                "mm_page_free: page=000000001234abcd pfn=0x120000 order=2",
            ]
        )
    )
    code, out, _ = run(runner, str(path), "--verify", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["quirks"] == {"kmalloc_large_pages": 1, "kmalloc_large_pages_freed": 1}
    assert report["page"]["total_alloc_freed_requests"] == 1
    assert report["model"]["final"]["live_traced_pages"] == 0


def test_caches_the_profile_does_not_know_are_never_fitted_to_the_trace(
    runner: CliRunner, tmp_path: Path
) -> None:
    """A cache the profile does not know is kmem_cache_create(name, bytes_req, 0,
    SLAB_NO_MERGE, NULL), the default linux-6.18-x86_64.toml declares; a traced
    bytes_alloc that shows other arguments (SLAB_HWCACHE_ALIGN: 100 -> 128, an RCU
    free pointer: 64 -> 72) is an "unknown cache geometry" mismatch, exit 1."""
    bodies = []
    for i, (name, req, alloc) in enumerate(
        [("drv_a", 100, 128), ("drv_rcu", 64, 72), ("drv_odd", 50, 200), ("drv_b", 24, 24)]
    ):
        bodies.append(
            f"kmem_cache_alloc: call_site=f+0x1/0x2 ptr=00000000abcd00{i:02x} "
            f"name={name} bytes_req={req} bytes_alloc={alloc} gfp_flags=GFP_KERNEL "
            "node=-1 accounted=false"
        )
    path = tmp_path / "new-caches.txt"
    path.write_text(trace_text(bodies))
    code, out, _ = run(runner, str(path), "--verify", "--json")
    assert code == 1, out
    verify = json.loads(out)["verify"]
    assert verify["mismatches"] == {"unknown cache geometry": 3}
    assert verify["unknown_caches"] == ["drv_a", "drv_b", "drv_odd", "drv_rcu"]
    assert verify["checked_events"] == 0
    example = verify["examples"]["unknown cache geometry"][0]
    assert "drv_a: trace bytes_alloc=128, model cache size=104" in example
    assert "kmem_cache_create(drv_a, 100, 0, SLAB_NO_MERGE, NULL)" in example
    code, out, _ = run(runner, str(path), "--verify")
    assert "Verify: 0 of 4 events checked against the model: 0 mismatches" in out
    assert "unknown cache geometry: 3 events of those caches" in out


def test_the_profile_declares_the_flags_of_unknown_caches(
    runner: CliRunner, tmp_path: Path
) -> None:
    """A profile that declares SLAB_HWCACHE_ALIGN for unknown caches gets 128 for 100."""
    from importlib import resources

    text = resources.files("kmemsim.profiles").joinpath("linux-6.18-x86_64.toml").read_text()
    assert 'unknown_cache_flags = ["SLAB_NO_MERGE"]' in text
    profile = tmp_path / "hwalign.toml"
    profile.write_text(
        text.replace(
            'unknown_cache_flags = ["SLAB_NO_MERGE"]',
            'unknown_cache_flags = ["SLAB_NO_MERGE", "SLAB_HWCACHE_ALIGN"]',
        )
    )
    path = tmp_path / "t.txt"
    path.write_text(
        trace_text(
            [
                "kmem_cache_alloc: call_site=f+0x1/0x2 ptr=00000000abcd0001 name=drv_a "
                "bytes_req=100 bytes_alloc=128 gfp_flags=GFP_KERNEL node=-1 accounted=false"
            ]
        )
    )
    code, out, err = run(runner, str(path), "--verify", "--profile", str(profile))
    assert code == 0, out + err
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('["SLAB_NO_MERGE"]', '["SLAB_NO_SUCH_FLAG"]'))
    code, _, err = run(runner, str(path), "--profile", str(bad))
    assert code == 2 and "unknown flag 'SLAB_NO_SUCH_FLAG'" in err and err.count("\n") == 1


def test_trace_cmd_and_perf_variants(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "variants.txt"
    path.write_text(
        "cpus=2\nversion = 6\nCPU 1 is empty\n# tracer: nop\n#\n"
        "CPU:0 [LOST 12 EVENTS]\n"
        "         python3  4429  9255.582785:          kmem:kmalloc: call_site=f+0x1 "
        "ptr=0xffff888102415300 bytes_req=32 bytes_alloc=32 gfp_flags=GFP_KERNEL node=-1 "
        "accounted=false\n"
        "         python3  4429  9255.582786:            kmem:kfree: call_site=g+0x2 "
        "ptr=0xffff888102415300\n"
    )
    code, out, _ = run(runner, str(path), "--verify", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["events"] == 2
    assert report["lost_events"] == 12
    assert report["quirks"] == {"no_cpu_column": 2}


def test_a_gfp_flag_kmemsim_does_not_know_is_counted_not_fatal(
    runner: CliRunner, tmp_path: Path
) -> None:
    path = tmp_path / "gfp.txt"
    path.write_text(
        trace_text(
            [
                "kmalloc: call_site=f+0x1/0x2 ptr=00000000cfe70260 bytes_req=64 bytes_alloc=64 "
                "gfp_flags=GFP_KERNEL|__GFP_FUTURE_FLAG node=-1 accounted=false"
            ]
        )
    )
    code, out, _ = run(runner, str(path), "--verify", "--json")
    assert code == 0
    assert json.loads(out)["unknown_gfp_flags"] == {"__GFP_FUTURE_FLAG": 1}
    path.write_text(
        trace_text(
            [
                "kmalloc: call_site=f+0x1/0x2 ptr=00000000cfe70260 bytes_req=64 bytes_alloc=64 "
                "gfp_flags=GFP_KERNEL|@@@ node=-1 accounted=false"
            ]
        )
    )
    code, out, err = run(runner, str(path))
    assert code == 2 and "is not a GFP flag name" in out + err


def test_a_trace_without_kmem_events_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "sched.txt"
    path.write_text(trace_text(GOOD[-1:] * 3))
    code, _, err = run(runner, str(path))
    assert code == 2 and "no kmem events" in err


def test_a_task_name_with_colon_space_is_read_the_slow_way(
    runner: CliRunner, tmp_path: Path
) -> None:
    path = tmp_path / "odd-comm.txt"
    path.write_text(
        "     weird: name-77      [001] .....  9255.582785: kmalloc: call_site=f+0x1/0x2 "
        "ptr=00000000cfe70260 bytes_req=64 bytes_alloc=64 gfp_flags=GFP_KERNEL node=-1 "
        "accounted=false\n"
        "            task-4429    [000] .....  9255.582786: kfree: call_site=g+0x1/0x2 "
        "ptr=00000000cfe70260\n"
    )
    code, out, _ = run(runner, str(path), "--verify", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["events"] == 2
    assert report["slab"]["cross_cpu_allocations"] == 1  # allocated on CPU 1, freed on 0


def test_a_machine_too_small_for_the_trace_dies_and_says_where(
    runner: CliRunner, tmp_path: Path
) -> None:
    """Pages the trace never frees fill a 32 MiB what-if machine: the model's OOM
    path finds nothing to reclaim and panics; the replay stops there, exit 1."""
    path = tmp_path / "fill.txt"
    path.write_text(
        trace_text(
            [
                f"mm_page_alloc: page=00000000{i:08x} pfn={0x100000 + i:#x} order=0 migratetype=0 "
                "gfp_flags=GFP_KERNEL"
                for i in range(9000)
            ]
        )
    )
    code, out, err = run(runner, str(path), "--profile", "x86_64", "--mem", "32M", "--json")
    assert code == 1
    report = json.loads(out)
    assert report["oops"].startswith(f"{path}:")
    assert "died" in err and "Traceback" not in err


def test_a_block_freed_piece_by_piece(runner: CliRunner, tmp_path: Path) -> None:
    """split_page() (alloc_pages_exact, vmalloc) or a split folio: an order-2 block
    comes back as order-0 and order-1 frees; the model's block goes back with the last."""
    path = tmp_path / "split.txt"
    path.write_text(
        trace_text(
            [
                "mm_page_alloc: page=000000001234abcd pfn=0x120000 order=2 migratetype=0 "
                "gfp_flags=GFP_KERNEL",
                "mm_page_free: page=000000001234abce pfn=0x120003 order=0",
                "mm_page_free: page=000000001234abcf pfn=0x120002 order=0",
                "mm_page_free: page=000000001234abcd pfn=0x120000 order=1",
            ]
        )
    )
    code, out, _ = run(runner, str(path), "--verify", "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["quirks"] == {"split_block_free": 3}
    assert report["page"]["total_free_only_requests"] == 0
    assert report["model"]["final"]["live_traced_pages"] == 0


@pytest.mark.parametrize(
    ("html", "message"),
    [
        ("{tmp}/no/such/dir/x.html", "No such directory"),
        ("", "the file name is empty"),
        ("{tmp}", "is a directory"),
        ("{tmp}/sub/", "is a directory"),
        ("{tmp}/t.txt/x.html", "not a directory"),
        ("/dev/null", "not a regular file"),
    ],
)
def test_a_bad_html_destination_is_refused_before_the_replay(
    runner: CliRunner, tmp_path: Path, html: str, message: str
) -> None:
    """A bad --html path is a usage error found before booting and replaying:
    one line on stderr, exit 2, no report printed, no file left behind."""
    (tmp_path / "sub").mkdir()
    path = tmp_path / "t.txt"
    path.write_text(trace_text(GOOD))
    for extra in ([], ["--compare", "default", "slub_max_order=0"]):
        code, out, err = run(runner, str(path), "--html", html.format(tmp=tmp_path), *extra)
        assert code == 2, err
        assert out == ""  # nothing replayed
        assert err.count("\n") == 1 and err.startswith("kmemsim: error: "), err
        assert message in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub", "t.txt"]


def test_the_html_report_never_replaces_the_trace(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text(trace_text(GOOD))
    (tmp_path / "alias.txt").symlink_to(path)
    code, out, err = run(runner, str(path), "--html", str(tmp_path / "alias.txt"))
    assert code == 2 and out == "" and "the report would replace it" in err
    assert path.read_text() == trace_text(GOOD)


def test_an_unwritable_html_directory_is_refused_before_the_replay(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check creates the temporary file the write would (root ignores the
    mode bits, a read-only file system does not): its failure is the message."""
    path = tmp_path / "t.txt"
    path.write_text(trace_text(GOOD))
    from kmemsim.trace import report

    def read_only(*args: object, **kwargs: object) -> tuple[int, str]:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(report.tempfile, "mkstemp", read_only)
    code, out, err = run(runner, str(path), "--html", str(tmp_path / "r.html"))
    assert code == 2 and out == ""
    assert f"cannot create a file in {tmp_path}: Read-only file system" in err


def test_html_through_a_symlink_replaces_the_linked_file(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text(trace_text(GOOD))
    (tmp_path / "real.html").write_text("old")
    (tmp_path / "link.html").symlink_to(tmp_path / "real.html")
    code, _, err = run(runner, str(path), "--html", str(tmp_path / "link.html"))
    assert code == 0, err
    assert (tmp_path / "link.html").is_symlink()
    assert (tmp_path / "real.html").read_text().startswith("<!DOCTYPE html>")


def test_a_trace_cut_mid_line_counts_the_cut_line_once(
    runner: CliRunner, shared_data: Path, tmp_path: Path
) -> None:
    """The real trace cut after 80,000 bytes (as `head -c` does): the partial
    last line is the one input problem, reported once as the file's truncation
    with file:line; it is not replayed, every complete line before it is."""
    with lzma.open(shared_data / "trace-python-import.txt.xz") as f:
        data = f.read(80_000)
    assert not data.endswith(b"\n")
    path = tmp_path / "cut.txt"
    path.write_bytes(data)
    last = data.count(b"\n") + 1
    code, out, err = run(runner, str(path), "--json")
    assert code == 2
    report = json.loads(out)
    assert report["malformed"]["count"] == 1
    (example,) = report["malformed"]["examples"]
    assert example.startswith(f"{path}:{last}: the file ends in the middle of a line (truncated)")
    assert err == f"kmemsim: error: {example}\n"
    # Every complete line was an event and was replayed; the partial one was not.
    assert report["lines"] == last and report["events"] == last - 1
    # The complete file replays cleanly up to the same point.
    whole = tmp_path / "whole.txt"
    whole.write_bytes(data[: data.rfind(b"\n") + 1])
    code, out, _ = run(runner, str(whole), "--json")
    assert code == 0 and json.loads(out)["events"] == last - 1


def test_a_cut_line_that_still_parses_is_not_replayed(runner: CliRunner, tmp_path: Path) -> None:
    """Cut inside gfp_flags, a kmalloc line still reads as a kmalloc with other
    flags: a partial line is never trusted."""
    text = trace_text(GOOD[:1])
    path = tmp_path / "cut.txt"
    path.write_text(text + text.rstrip("\n").split("|__GFP_ZERO")[0])
    code, out, err = run(runner, str(path), "--json")
    assert code == 2
    report = json.loads(out)
    assert report["events"] == 1 and report["malformed"]["count"] == 1
    assert f"{path}:2: the file ends in the middle of a line (truncated)" in err
