"""Boot time and peak memory of the x86_64 profile at 1 GiB, 1 TiB and 16 TiB of simulated RAM.

Each size boots in a fresh interpreter, so its peak RSS (getrusage ru_maxrss)
is its own: `python benchmarks/boot.py [SIZE ...]` (default: 1G 1T 16T; try
64T too). The target: host memory does not grow with the simulated RAM size.
memblock_free_all() leaves the free lists a few runs of MAX_PAGE_ORDER blocks
whatever the size; what still grows is the pageblock migratetype bytearray
(1 byte per pageblock, 512 KiB per TiB) and the time of memblock handing RAM
over one MAX_PAGE_ORDER block at a time.
"""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
import kmemsim
t1 = time.perf_counter()
k = kmemsim.boot("x86_64", mem=sys.argv[1], cpus=2)
t2 = time.perf_counter()
free = k.page_alloc.nr_free_pages()
print(json.dumps({"import_s": t1 - t0, "boot_s": t2 - t1,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "free_pages": free}))
"""


def main(sizes: list[str]) -> None:
    header = ("mem", "boot (s)", "import (s)", "peak RSS (MiB)", "free pages")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (6, 9, 10, 15, 12), strict=True)))
    for size in sizes:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, size], check=True, capture_output=True, text=True
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(
            f"{size:>6} {r['boot_s']:9.3f} {r['import_s']:10.3f} {r['rss_mib']:15.1f} "
            f"{r['free_pages']:12d}"
        )


if __name__ == "__main__":
    main(sys.argv[1:] or ["1G", "1T", "16T"])
