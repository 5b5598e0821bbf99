"""Replay speed against the real kernel: `kmemsim replay --verify` of the shared traces.

    python benchmarks/replay.py [TRACE...] [--profile PROFILE] [--no-verify]
                                [--repeat N] [--baseline DIR]

TRACE defaults to the four traces of the captured data directory, short ones
first (python-import, tar-extract, gcc-build: there the fixed costs of
starting, booting and reporting count), then site-packages-extract (3.13M
events): $KMEMSIM_DATA when it is set (as for the tests), else
../shared/data/linux-6.18-x86_64 next to the repository. PROFILE is the
machine booted (default linux-6.18-x86_64); --no-verify replays without the
--verify checks.

For each trace, in one run on the same file:
  1. the bare read-and-split floor: every line read by the replay's own
     reader (decompression included) and cut into header, event and fields,
     in this process: what any replay written in Python stands on;
  2. the real kernel's rate: the trace's events over its own time span
     (first to last timestamp), as the replay prints them;
  3. the whole command, `python -m kmemsim replay --verify TRACE`, as a user
     runs it (compiled .pyc, one warm-up run first): its own "replayed in"
     time and the whole command's wall time (start, imports, boot, replay,
     report), each as a ratio to the time the real kernel took (the goal:
     at most 1.0 and 1.3), the replay's rate as a ratio to the floor, and
     the command's peak RSS (it stays flat: compare the long trace's with
     the short ones');
  4. the CPU time the replay takes in the process that runs the model, and
     in the process that decodes the trace (if any), measured around
     Replay.run in a small driver: on a machine shared with other jobs these
     say more than wall-clock times, which count waiting for a core.
--repeat N keeps the best of N runs of the command; --baseline DIR runs the
same command from another checkout's src/ (the code before a change),
interleaved with this one's, and prints its figures beside them.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parent.parent
DEFAULT_TRACES = (
    "trace-python-import.txt.xz",
    "trace-tar-extract.txt.xz",
    "trace-gcc-build.txt.xz",
    "trace-site-packages-extract.txt.xz",
)
_SUMMARY = re.compile(
    r"^([\d,]+) events in [\d,]+ lines, trace time ([\d.]+) \.\. ([\d.]+); "
    r"replayed in ([\d.]+) s",
    re.M,
)


def data_dir() -> Path:
    """The captured data: $KMEMSIM_DATA, else ../shared/data/linux-6.18-x86_64
    next to the repository (as tests/conftest.py finds it)."""
    env = os.environ.get("KMEMSIM_DATA")
    if env:
        return Path(env)
    return REPO.parent / "shared" / "data" / "linux-6.18-x86_64"


def bench_read_split(path: str) -> tuple[int, float]:
    """Lines of `path` read and split as a replay must at least, and the time taken."""
    sys.path.insert(0, str(REPO / "src"))
    from kmemsim.trace.source import TraceSource

    start = time.perf_counter()
    n = 0
    for block in TraceSource(path).blocks():
        for line in block:
            parts = line.split(": ", 2)
            if len(parts) == 3:
                parts[2].split(" ")
                n += 1
    return n, time.perf_counter() - start


# Boot, then time Replay.run: wall, this process's CPU, its children's CPU.
_DRIVER = """
import resource, sys, time
import kmemsim
from kmemsim.trace.replay import Replay
k = kmemsim.boot(sys.argv[1])
t, c = time.perf_counter(), time.process_time()
r = Replay(k, verify=sys.argv[2] == "1").run([sys.argv[3]])
wall, cpu = time.perf_counter() - t, time.process_time() - c
ch = resource.getrusage(resource.RUSAGE_CHILDREN)
print(r.events, wall, cpu, ch.ru_utime + ch.ru_stime)
"""


class Cpu(NamedTuple):
    """Replay.run in a driver process: the model's process and the decoder's CPU."""

    wall_seconds: float
    model_cpu_seconds: float
    decoder_cpu_seconds: float


def run_driver(tree: Path, trace: str, profile: str, verify: bool) -> Cpu:
    out = subprocess.run(
        [sys.executable, "-c", _DRIVER, profile, "1" if verify else "0", trace],
        env=_env(tree),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return Cpu(float(out[1]), float(out[2]), float(out[3]))


class Run(NamedTuple):
    """One `kmemsim replay` command."""

    events: int
    trace_seconds: float  # the real kernel's: last timestamp - first
    replay_seconds: float  # the command's own "replayed in"
    wall_seconds: float  # the whole command
    peak_rss_mib: float
    exit_code: int


def _env(tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(tree / "src")
    return env


def warm_up(tree: Path) -> None:
    """Compile the tree's .pyc files, as an installation does."""
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(tree / "src")],
        env=_env(tree),
        check=False,
        stdout=subprocess.DEVNULL,
    )


def run_command(tree: Path, trace: str, profile: str, verify: bool) -> Run:
    """`python -m kmemsim replay [--verify] TRACE` from `tree`, timed."""
    argv = [sys.executable, "-m", "kmemsim", "replay", trace, "--profile", profile]
    if verify:
        argv.append("--verify")
    start = time.perf_counter()
    with subprocess.Popen(
        argv, env=_env(tree), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as proc:
        assert proc.stdout is not None
        out = proc.stdout.read()
        # wait4: this command's own peak RSS (its decoding process is apart).
        _, status, rusage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    peak = rusage.ru_maxrss / 1024
    m = _SUMMARY.search(out)
    if m is None:
        raise SystemExit(f"{tree}: no summary line in the output of {' '.join(argv)}")
    return Run(
        events=int(m[1].replace(",", "")),
        trace_seconds=float(m[3]) - float(m[2]),
        replay_seconds=float(m[4]),
        wall_seconds=wall,
        peak_rss_mib=peak,
        exit_code=proc.returncode,
    )


def best(runs: list[Run]) -> Run:
    return min(runs, key=lambda r: r.replay_seconds)


def best_cpu(runs: list[Cpu]) -> Cpu:
    return min(runs, key=lambda r: r.model_cpu_seconds)


def describe(label: str, run: Run, floor_rate: float) -> str:
    rate = run.events / run.replay_seconds if run.replay_seconds else 0.0
    return (
        f"  {label:<10} replayed in {run.replay_seconds:6.2f} s ({rate:>9,.0f} events/s) = "
        f"{run.replay_seconds / run.trace_seconds:.2f}x real time, "
        f"{floor_rate / rate if rate else 0:.1f}x the floor's time per line; "
        f"whole command {run.wall_seconds:6.2f} s = {run.wall_seconds / run.trace_seconds:.2f}x "
        f"real time; peak RSS {run.peak_rss_mib:.0f} MiB; exit {run.exit_code}"
    )


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument(
        "traces",
        nargs="*",
        metavar="TRACE",
        help="traces to replay (default: the four shared traces of $KMEMSIM_DATA "
        "or ../shared/data/linux-6.18-x86_64)",
    )
    ap.add_argument("--profile", default="linux-6.18-x86_64", help="the machine booted")
    ap.add_argument("--no-verify", action="store_true", help="replay without --verify checks")
    ap.add_argument("--repeat", type=int, default=1, metavar="N", help="best of N runs")
    ap.add_argument(
        "--baseline",
        type=Path,
        default=None,
        metavar="DIR",
        help="another checkout whose src/ runs the same command, interleaved",
    )
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    traces = args.traces or [str(data_dir() / name) for name in DEFAULT_TRACES]
    for trace in traces:
        if not Path(trace).is_file():
            print(f"missing trace {trace} (KMEMSIM_DATA sets the data directory)", file=sys.stderr)
            return 2
    trees = [("this", REPO)]
    if args.baseline is not None:
        trees.append(("baseline", args.baseline.resolve()))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load:.2f}")
    for _, tree in trees:
        warm_up(tree)
    for trace in traces:
        n_split, t_split = bench_read_split(trace)
        floor_rate = n_split / t_split
        runs: dict[str, list[Run]] = {label: [] for label, _ in trees}
        cpus: dict[str, list[Cpu]] = {label: [] for label, _ in trees}
        for _ in range(max(1, args.repeat)):
            for label, tree in trees:
                runs[label].append(run_command(tree, trace, args.profile, not args.no_verify))
                cpus[label].append(run_driver(tree, trace, args.profile, not args.no_verify))
        first = best(runs["this"])
        print(f"\n{trace}")
        print(
            f"  real kernel: {first.events:,} events in {first.trace_seconds:.2f} s "
            f"({first.events / first.trace_seconds:,.0f} events/s)"
        )
        print(
            f"  floor:      bare read-and-split {n_split:,} lines in {t_split:.2f} s "
            f"({floor_rate:,.0f} lines/s)"
        )
        for label, _ in trees:
            print(describe(label, best(runs[label]), floor_rate))
        for label, _ in trees:
            c = best_cpu(cpus[label])
            print(
                f"  {label:<10} CPU: {c.model_cpu_seconds:6.2f} s in the model's process "
                f"({c.model_cpu_seconds / first.trace_seconds:.2f}x real time), "
                f"{c.decoder_cpu_seconds:.2f} s decoding beside it; Replay.run wall "
                f"{c.wall_seconds:.2f} s"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
