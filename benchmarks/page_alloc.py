"""Page allocator throughput: alloc+free pairs per second on a 1 GiB and a 1 TiB machine.

`python benchmarks/page_alloc.py [SIZE ...]` (default: 1G 1T) boots the x86_64
profile at each size, each in a fresh interpreter (so boot time and peak RSS
are its own), and times:

- order-0 GFP_KERNEL alloc_pages + __free_pages (the per-CPU list fast path);
- order-3 and order-9 pairs (order 3 still through the per-CPU lists, the
  THP order 9 too, and order 4 and up straight from the buddy lists);
- a mixed workload that keeps 2048 blocks of random orders 0..5 live, so
  splitting, merging and per-CPU refills and drains all happen.

The target: the cost of an allocation does not grow with RAM size (the 1 TiB
figures are within 20% of the 1 GiB ones), and an order-0 pair costs a few
microseconds.
"""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = r"""
import json, random, resource, sys, time
import kmemsim
from kmemsim import GFP_KERNEL

t0 = time.perf_counter()
k = kmemsim.boot("x86_64", mem=sys.argv[1], cpus=2)
boot_s = time.perf_counter() - t0
alloc, free = k.alloc_pages, k.free_pages_struct

def pairs(order, n):
    best = 0.0
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(n):
            free(alloc(GFP_KERNEL, order), order)
        best = max(best, n / (time.perf_counter() - t))
    return best

def mixed(n):
    rng = random.Random(1)
    live = []
    for _ in range(2048):
        o = rng.randrange(6)
        live.append((alloc(GFP_KERNEL, o), o))
    t = time.perf_counter()
    for _ in range(n):
        i = rng.randrange(len(live))
        page, o = live[i]
        free(page, o)
        o = rng.randrange(6)
        live[i] = (alloc(GFP_KERNEL, o), o)
    rate = n / (time.perf_counter() - t)
    for page, o in live:
        free(page, o)
    return rate

out = {
    "boot_s": boot_s,
    "order0": pairs(0, 100_000),
    "order3": pairs(3, 50_000),
    "order9": pairs(9, 20_000),
    "mixed": mixed(100_000),
    "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}
print(json.dumps(out))
"""

COLUMNS = ("order0", "order3", "order9", "mixed")


def main(sizes: list[str]) -> None:
    results = {}
    print(
        f"{'mem':>5} {'boot (s)':>8} {'RSS (MiB)':>9} "
        + " ".join(f"{c + ' pairs/s':>16}" for c in COLUMNS)
    )
    for size in sizes:
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, size], check=True, capture_output=True, text=True
        )
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        results[size] = r
        print(
            f"{size:>5} {r['boot_s']:8.3f} {r['rss_mib']:9.1f} "
            + " ".join(f"{r[c]:16,.0f}" for c in COLUMNS)
        )
    if len(sizes) >= 2:
        first, last = results[sizes[0]], results[sizes[-1]]
        for c in COLUMNS:
            ratio = last[c] / first[c]
            verdict = "ok" if ratio >= 0.8 else "SLOWER by more than 20%"
            print(f"{c}: {sizes[-1]} / {sizes[0]} = {ratio:.2f} ({verdict})")
        print(f"order-0 pair: {1e6 / first['order0']:.2f} us on {sizes[0]}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["1G", "1T"])
