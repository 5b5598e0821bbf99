"""What the memory-debugging tools cost in kmemsim: KASAN, KFENCE, kmemleak on and off.

    python benchmarks/debug.py [PAIRS] [--trace TRACE] [--events N]

Prints, for each configuration (no tool, KASAN, KFENCE, kmemleak, all three),
kmalloc(64)+kfree pairs per second, kmalloc of mixed sizes in batches (slow
paths, new slabs, the KASAN quarantine), and replay events per second on the
first N events (default 200,000) of the python-import trace of the captured
data ($KMEMSIM_DATA, else ../shared/data/linux-6.18-x86_64), each with the
slowdown against "none" measured in the same run. KFENCE samples one
allocation per kfence.sample_interval (100 ms) of simulated time, and the
simulated clock only moves when the model says so, so in a tight loop its
cost is the hook on every allocation, not the guarded objects. The kernel
documents KASAN at about 2x-3x and KFENCE at near zero.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

import kmemsim

REPO = Path(__file__).resolve().parent.parent
CONFIGS: dict[str, dict[str, str]] = {
    "none": {},
    "KASAN": {"KASAN": "y"},
    "KFENCE": {"KFENCE": "y"},
    "kmemleak": {"DEBUG_KMEMLEAK": "y", "DEBUG_KMEMLEAK_AUTO_SCAN": "n"},
    "all three": {
        "KASAN": "y",
        "KFENCE": "y",
        "DEBUG_KMEMLEAK": "y",
        "DEBUG_KMEMLEAK_AUTO_SCAN": "n",
    },
}


def data_dir() -> Path:
    env = os.environ.get("KMEMSIM_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data" / "linux-6.18-x86_64"


def bench_pairs(config: dict[str, str], pairs: int) -> tuple[float, float]:
    k = kmemsim.boot("linux-6.18-x86_64", config=config)
    gfp = kmemsim.GFP_KERNEL
    kmalloc, kfree = k.kmalloc, k.kfree
    kfree(kmalloc(64, gfp))
    t = time.perf_counter()
    for _ in range(pairs):
        kfree(kmalloc(64, gfp))
    fast = pairs / (time.perf_counter() - t)
    rng = random.Random(1)
    sizes = [rng.choice((16, 40, 64, 100, 192, 300, 700, 1500, 3000, 6000)) for _ in range(2000)]
    rounds = max(1, pairs // len(sizes))
    t = time.perf_counter()
    for _ in range(rounds):
        objs = [kmalloc(size, gfp) for size in sizes]
        rng.shuffle(objs)
        for obj in objs:
            kfree(obj)
    batch = rounds * len(sizes) / (time.perf_counter() - t)
    return fast, batch


def bench_replay(config: dict[str, str], trace: Path, events: int) -> float:
    from kmemsim.trace.replay import Replay
    from kmemsim.trace.source import TraceSource

    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as out:
        n = 0
        for block in TraceSource(str(trace)).blocks():
            for line in block:
                out.write(line if line.endswith("\n") else line + "\n")
                n += 1
                if n >= events:
                    break
            if n >= events:
                break
        part = out.name
    try:
        k = kmemsim.boot("linux-6.18-x86_64", config=config)
        replay = Replay(k, verify=False)
        t = time.perf_counter()
        replay.run([part])
        return replay.events / (time.perf_counter() - t)
    finally:
        os.unlink(part)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("pairs", nargs="?", type=int, default=100_000)
    ap.add_argument("--trace", default=str(data_dir() / "trace-python-import.txt.xz"))
    ap.add_argument("--events", type=int, default=200_000)
    args = ap.parse_args()
    print(f"{'tool':<10} {'kmalloc+kfree':>22} {'batches of 2000':>22} {'replay':>24}")
    base: tuple[float, float, float] | None = None
    for name, config in CONFIGS.items():
        fast, batch = bench_pairs(config, args.pairs)
        rep = bench_replay(config, Path(args.trace), args.events) if args.events else 0.0
        if base is None:
            base = (fast, batch, rep)
        cells = []
        for value, ref in zip((fast, batch, rep), base, strict=True):
            slow = f"x{ref / value:4.1f}" if value else "  -  "
            cells.append(f"{value / 1000:9.1f}k/s {slow}")
        print(f"{name:<10} " + " ".join(f"{c:>22}" for c in cells))


if __name__ == "__main__":
    main()
