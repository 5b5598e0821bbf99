"""kmalloc and kmem_cache_alloc events of every shared trace, replayed on the model.

For each kmalloc event, `k.ksize(k.kmalloc(bytes_req, gfp_flags))` must be the
real bytes_alloc (the size class of the kmalloc cache kmalloc_type() picks,
or the page-rounded size of a large kmalloc). For each kmem_cache_alloc event
of a cache whose creation parameters the profile knows, the cache the model
creates has the real slab size (bytes_alloc).
"""

from __future__ import annotations

import lzma
import re
from collections import Counter
from pathlib import Path

import pytest

import kmemsim
from kmemsim.include.linux.gfp_types import parse_gfp
from kmemsim.mm.slab_boot import kmem_cache_create_known

_EVENT = re.compile(
    r"[ :](kmalloc|kmalloc_node|kmem_cache_alloc|kmem_cache_alloc_node): .*?"
    r"(?:name=(\S+) )?bytes_req=(\d+) bytes_alloc=(\d+) gfp_flags=(\S+)"
)


Key = tuple[str, str | None, int, int, str]


@pytest.fixture(scope="module")
def alloc_events(shared_data: Path) -> Counter[Key]:
    """(event, cache name, bytes_req, bytes_alloc, gfp) of every allocation event, counted."""
    traces = sorted(shared_data.glob("*.txt.xz"))
    assert len(traces) >= 5
    events: Counter[Key] = Counter()
    for path in traces:
        with lzma.open(path, "rt") as f:
            for line in f:
                if "alloc" not in line:
                    continue
                m = _EVENT.search(line)
                if m is not None:
                    event = m.group(1).removesuffix("_node")
                    events[(event, m.group(2), int(m.group(3)), int(m.group(4)), m.group(5))] += 1
    return events


def test_every_kmalloc_event_gets_the_real_bytes_alloc(alloc_events: Counter[Key]) -> None:
    k = kmemsim.boot("linux-6.18-x86_64")
    count = 0
    for (event, _cache, req, alloc, gfp), n in alloc_events.items():
        if event != "kmalloc":
            continue
        count += n
        addr = k.kmalloc(req, parse_gfp(gfp))
        assert addr, (req, gfp)
        assert k.ksize(addr) == alloc, (req, gfp, alloc, k.ksize(addr))
        k.kfree(addr)
    assert count > 300_000  # every kmalloc event of every trace was looked at


def test_every_known_kmem_cache_alloc_event_gets_the_cache_size(
    alloc_events: Counter[Key],
) -> None:
    k = kmemsim.boot("linux-6.18-x86_64")
    sizes: dict[str, int | None] = {}
    checked = 0
    for (event, cache, _req, alloc, _gfp), n in alloc_events.items():
        if event != "kmem_cache_alloc" or cache is None:
            continue
        if cache not in sizes:
            s = kmem_cache_create_known(k, cache)
            sizes[cache] = None if s is None else s.size
            if s is not None:
                obj = k.kmem_cache_alloc(s, kmemsim.GFP_KERNEL)
                assert obj
                k.kmem_cache_free(s, obj)
        size = sizes[cache]
        if size is not None:
            assert size == alloc, (cache, alloc, size)
            checked += n
    assert checked > 100_000
    assert sum(1 for v in sizes.values() if v is not None) >= 20
