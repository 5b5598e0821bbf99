"""Slab fast-path and batch throughput on the linux-6.18-x86_64 profile.

    python benchmarks/slab.py [PAIRS]

Prints alloc+free pairs per second through the public Kernel API:
  - kmalloc(64)+kfree on the per-CPU fast path (the object comes back at once),
  - kmem_cache_alloc+kmem_cache_free of a 200-byte cache on the fast path,
  - kmalloc of mixed sizes in batches of 2000, then freed (slow paths: new
    slabs from the page allocator, partial lists, slabs given back),
and the peak RSS. The target: at least 300k pairs/s on the fast paths.
"""

from __future__ import annotations

import random
import resource
import sys
import time

import kmemsim


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds / 1000:8.1f}k pairs/s"


def main(pairs: int) -> None:
    k = kmemsim.boot("linux-6.18-x86_64")
    gfp = kmemsim.GFP_KERNEL
    kmalloc, kfree = k.kmalloc, k.kfree
    kfree(kmalloc(64, gfp))  # the CPU slab exists

    t = time.perf_counter()
    for _ in range(pairs):
        kfree(kmalloc(64, gfp))
    print(f"kmalloc(64)+kfree          {rate(pairs, time.perf_counter() - t)}")

    s = k.kmem_cache_create("bench_cache", 200, 0, kmemsim.SLAB_HWCACHE_ALIGN, None)
    alloc, free = k.kmem_cache_alloc, k.kmem_cache_free
    free(s, alloc(s, gfp))
    t = time.perf_counter()
    for _ in range(pairs):
        free(s, alloc(s, gfp))
    print(f"kmem_cache_alloc+free      {rate(pairs, time.perf_counter() - t)}")

    rng = random.Random(1)
    sizes = [rng.choice((16, 40, 64, 100, 192, 300, 700, 1500, 3000, 6000)) for _ in range(2000)]
    rounds = max(1, pairs // len(sizes))
    t = time.perf_counter()
    for _ in range(rounds):
        objs = [kmalloc(size, gfp) for size in sizes]
        rng.shuffle(objs)
        for obj in objs:
            kfree(obj)
    print(f"kmalloc batches of 2000    {rate(rounds * len(sizes), time.perf_counter() - t)}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS                   {rss:8.1f} MiB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300_000)
