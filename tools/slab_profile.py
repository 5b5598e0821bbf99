"""Generate src/kmemsim/profiles/linux-6.18-x86_64.caches.json from captured sysfs data.

    python tools/slab_profile.py [DATA_DIR]

DATA_DIR (default ../shared/data/linux-6.18-x86_64) holds slab_caches.json (one
entry per /sys/kernel/slab directory) and slab_aliases.json (merged name ->
unique id). Each cache name gets the kmem_cache_create() arguments that
reproduce its real geometry: a named directory its own attributes; an alias
the attributes of the directory it was merged into, or, where that directory
was not captured, what its unique id says (flags and slab size). kmalloc
caches are left out: every kernel creates them at boot.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from kmemsim.mm.slab_common import cache_args_from_sysfs, cache_args_from_unique_id

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "kmemsim" / "profiles" / "linux-6.18-x86_64.caches.json"


def build(data_dir: Path) -> dict[str, object]:
    entries = json.loads((data_dir / "slab_caches.json").read_text())
    aliases: dict[str, str] = json.loads((data_dir / "slab_aliases.json").read_text())
    by_dir = {e["name"]: e for e in entries}
    caches: dict[str, dict[str, object]] = {}
    for e in entries:
        if e.get("kmalloc") or str(e["name"]).startswith(":"):
            continue
        caches[e["name"]] = cache_args_from_sysfs(e)
    for name, target in sorted(aliases.items()):
        if name in caches:
            continue
        if target in by_dir:
            if by_dir[target].get("kmalloc"):
                continue
            caches[name] = cache_args_from_sysfs(by_dir[target])
        else:
            args = cache_args_from_unique_id(target)
            if args is not None:
                caches[name] = args
    # Creation order, oldest first: /proc/slabinfo lists the slab_caches list
    # newest first, so the caches it shows were created in its reverse order;
    # the names it does not show follow in name order. The first cache created
    # with a geometry is the one the later ones merge into.
    listed = [
        line.split()[0]
        for line in (data_dir / "proc-slabinfo.txt").read_text().splitlines()[2:]
        if line.strip()
    ]
    order = [n for n in reversed(listed) if n in caches]
    order += sorted(n for n in caches if n not in set(order))
    return {
        "kernel": "Linux 6.18 x86_64",
        "source": "slab_caches.json, slab_aliases.json and proc-slabinfo.txt of the captured "
        "machine; caches in creation order",
        "caches": {n: caches[n] for n in order},
    }


def main() -> int:
    data_dir = (
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else ROOT.parent / "shared" / "data" / "linux-6.18-x86_64"
    )
    OUT.write_text(json.dumps(build(data_dir), indent=1) + "\n")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
