"""Replay speed: the site-packages trace (3.13M events) through the full model.

    python benchmarks/replay.py [TRACE] [--profile PROFILE] [--no-verify]

TRACE defaults to trace-site-packages-extract.txt.xz of the captured data
directory: $KMEMSIM_DATA when it is set (as for the tests), else
../shared/data/linux-6.18-x86_64 next to the repository. PROFILE is the
machine booted (default linux-6.18-x86_64); --no-verify replays without the
--verify checks.

Prints, for the same file:
  1. decompression alone (the stream read to the end by the replay's own
     reader, whatever the compression),
  2. a bare read-and-split (every line cut into header, event and fields, and
     the fields split): the floor any Python replay stands on,
  3. the full replay (model and statistics, with --verify checks unless
     --no-verify), in events per second and as a ratio to (2), with the RSS
     printed as the trace goes on (it should stay flat: pointer maps hold
     only live objects, samples are thinned to a fixed count).
The real kernel produced the trace at 192k events/s (3,134,805 events in
16.3 s); the target here is at least 150k events/s.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import kmemsim
from kmemsim.trace.replay import Replay
from kmemsim.trace.source import TraceSource, decompressed_blocks

REPO = Path(__file__).resolve().parent.parent
DEFAULT_TRACE_NAME = "trace-site-packages-extract.txt.xz"
REAL_KERNEL_RATE = 3_134_805 / 16.330


def data_dir() -> Path:
    """The captured data: $KMEMSIM_DATA, else ../shared/data/linux-6.18-x86_64
    next to the repository (as tests/conftest.py finds it)."""
    env = os.environ.get("KMEMSIM_DATA")
    if env:
        return Path(env)
    return REPO.parent / "shared" / "data" / "linux-6.18-x86_64"


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def bench_decompress(path: str) -> tuple[int, float]:
    start = time.perf_counter()
    n = 0
    for block in decompressed_blocks(path):
        n += len(block)
    return n, time.perf_counter() - start


def bench_read_split(path: str) -> tuple[int, float]:
    start = time.perf_counter()
    n = 0
    for block in TraceSource(path).blocks():
        for line in block:
            parts = line.split(": ", 2)
            if len(parts) == 3:
                parts[2].split(" ")
                n += 1
    return n, time.perf_counter() - start


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument(
        "trace",
        nargs="?",
        default=None,
        metavar="TRACE",
        help=f"the trace to replay (default: {DEFAULT_TRACE_NAME} in $KMEMSIM_DATA "
        "or ../shared/data/linux-6.18-x86_64)",
    )
    ap.add_argument("--profile", default="linux-6.18-x86_64", help="the machine booted")
    ap.add_argument("--no-verify", action="store_true", help="replay without --verify checks")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.trace is None:
        args.trace = str(data_dir() / DEFAULT_TRACE_NAME)
    if not Path(args.trace).is_file():
        print(f"missing trace {args.trace} (KMEMSIM_DATA sets the data directory)", file=sys.stderr)
        return 2
    print(f"trace: {args.trace}")
    nbytes, t_dec = bench_decompress(args.trace)
    print(
        f"decompression alone:  {nbytes / 2**20:8.1f} MiB in {t_dec:6.2f} s "
        f"({nbytes / 2**20 / t_dec:.0f} MiB/s)"
    )
    n_split, t_split = bench_read_split(args.trace)
    split_rate = n_split / t_split
    print(
        f"bare read-and-split:  {n_split:,} lines in {t_split:6.2f} s ({split_rate:,.0f} lines/s)"
    )

    t0 = time.perf_counter()
    k = kmemsim.boot(args.profile)
    t_boot = time.perf_counter() - t0
    print(f"boot {args.profile}: {t_boot:.2f} s, RSS {rss_mib():.0f} MiB")
    next_report = [500_000]
    start = time.perf_counter()

    def progress(events: int, lines: int) -> None:
        if events >= next_report[0]:
            dt = time.perf_counter() - start
            print(
                f"  {events:>10,} events  {dt:7.2f} s  {events / dt:>9,.0f} events/s  "
                f"RSS {rss_mib():6.0f} MiB",
                flush=True,
            )
            next_report[0] += 500_000

    replay = Replay(k, verify=not args.no_verify, progress=progress)
    replay.run([args.trace])
    elapsed = time.perf_counter() - start
    rate = replay.events / elapsed
    print(
        f"full replay:          {replay.events:,} events in {elapsed:6.2f} s "
        f"({rate:,.0f} events/s), RSS {rss_mib():.0f} MiB at the end"
    )
    print(
        f"ratio to bare read-and-split: {rate / split_rate:.2f}  "
        f"(replay cost {elapsed / t_split:.1f}x the read-and-split time)"
    )
    print(
        f"ratio to the real kernel ({REAL_KERNEL_RATE:,.0f} events/s): "
        f"{rate / REAL_KERNEL_RATE:.2f}"
    )
    print(
        f"mismatches: {replay.nr_mismatches}, malformed lines: {replay.malformed}, "
        f"quirks: {replay.quirks}"
    )
    print(f"pid {os.getpid()} done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
