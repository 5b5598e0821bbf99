"""Helpers of the driver-model tests: a recording driver and the memory counters."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import kmemsim


def counters(k: kmemsim.Kernel) -> dict[str, int]:
    """Page, slab and vmalloc counters: /proc/meminfo's and the exact slab objects in use.

    MemFree counts the buddy lists (NR_FREE_PAGES), Slab the slab pages,
    VmallocUsed the vmalloc area (when the kernel has one); the slab objects
    in use per cache are what only a model can count exactly."""
    out: dict[str, int] = {}
    for line in k.cat("/proc/meminfo").splitlines():
        m = re.match(r"(\w+):\s+(\d+)", line)
        if m and m.group(1) in ("MemFree", "Slab", "SUnreclaim", "VmallocUsed"):
            out[m.group(1)] = int(m.group(2))
    for s in k.slab.caches:
        out[f"objs:{s.name}"] = k.slab.objects_inuse(s)
    return out


class Recorder:
    """A platform driver whose probe takes managed resources and records their release."""

    def __init__(
        self,
        k: kmemsim.Kernel,
        name: str = "foo",
        fail_with: int = 0,
        steps: int = 4,
        of_match_table: Any = None,
    ) -> None:
        self.k = k
        self.fail_with = fail_with
        self.steps = steps
        self.events: list[str] = []
        self.probes = 0
        self.drv = kmemsim.platform_driver(
            name, self.probe, self.remove, of_match_table=of_match_table
        )

    def action(self, tag: str) -> Callable[[Any], None]:
        def undo(data: Any) -> None:
            self.events.append(f"undo {data}")

        return undo

    def probe(self, pdev: Any) -> int:
        k, dev = self.k, pdev.dev
        self.probes += 1
        for i in range(self.steps):
            p = k.devm_kmalloc(dev, 64 * (i + 1), kmemsim.GFP_KERNEL)
            assert p
            k.devm_add_action(dev, self.events.append, f"undo {i}")
        if self.fail_with:
            return self.fail_with
        k.platform_set_drvdata(pdev, "state")
        return 0

    def remove(self, pdev: Any) -> None:
        self.events.append(f"remove {self.k.platform_get_drvdata(pdev)}")


def objects(k: kmemsim.Kernel) -> dict[str, int]:
    """Slab objects in use per cache (a slab keeps its pages for reuse: pages may not return)."""
    return {n: v for n, v in counters(k).items() if n.startswith("objs:")}
