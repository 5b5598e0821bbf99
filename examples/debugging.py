"""The classic kernel memory bugs, and what KASAN, KFENCE and kmemleak say about them.

Run it under one tool with a booted kernel bound to `k`; the reports are in
the kernel log printed after the scenario:

    kmemsim run --config KASAN=y examples/debugging.py
    kmemsim run --config KFENCE=y examples/debugging.py
    kmemsim run --config DEBUG_KMEMLEAK=y examples/debugging.py

or as a plain script (`python examples/debugging.py`), which boots one kernel
per tool and prints each tool's reports, then shows what KFENCE misses that
KASAN catches: KFENCE guards one allocation per sample interval (100 ms of
simulated time), KASAN checks every byte of every access.
"""

from __future__ import annotations

import kmemsim
from kmemsim.mm.slab import KmemCache

GFP_KERNEL = kmemsim.GFP_KERNEL
KMEMLEAK = "/sys/kernel/debug/kmemleak"


def off_by_one(k: kmemsim.Kernel) -> None:
    """A driver sizes its buffer for 100 bytes and writes the terminating byte past it."""
    buf = k.kmalloc(100, GFP_KERNEL)
    k.memset(buf, ord("a"), 100)
    k.write(buf + 100, b"\0")  # buf[100] = '\0'
    k.kfree(buf)


def use_after_free(k: kmemsim.Kernel) -> None:
    """A request is completed (freed) and its status read afterwards."""
    req = k.kmalloc(64, GFP_KERNEL)
    k.kfree(req)
    k.read(req + 8, 4)  # req->status


def my_dev_req_cache(k: kmemsim.Kernel) -> KmemCache:
    """The driver's cache, made at its init (its descriptor is a slab object too)."""
    cache = k.find_cache("my_dev_req") or k.kmem_cache_create("my_dev_req", 200, 0, 0, None)
    assert cache is not None
    return cache


def double_free(k: kmemsim.Kernel) -> None:
    """An error path frees what the caller frees again."""
    cache = my_dev_req_cache(k)
    req = k.kmem_cache_alloc(cache, GFP_KERNEL)
    k.kmem_cache_free(cache, req)
    k.kmem_cache_free(cache, req)


def leak(k: kmemsim.Kernel) -> None:
    """A probe function allocates a buffer and forgets it on an error path."""
    k.printk(f"my_probe: buffer at {k.kmalloc(256, GFP_KERNEL) ^ 0xFFFF:#x} (lost)")


def kept(k: kmemsim.Kernel) -> None:
    """The same buffer kept in a global variable: referenced, not a leak."""
    k.write(k.global_var("my_dev_buffer"), k.kmalloc(256, GFP_KERNEL).to_bytes(8, "little"))


def sampled(k: kmemsim.Kernel, bug: object) -> None:
    """Under KFENCE: let a sample interval pass, so that the next allocation is guarded."""
    if k.kfence is not None:
        k.msleep(k.kfence.sample_interval)
    bug(k)  # type: ignore[operator]


def all_bugs(k: kmemsim.Kernel) -> None:
    my_dev_req_cache(k)  # module init, before the sampled allocations
    for bug in (off_by_one, use_after_free, double_free):
        k.printk(f"--- {bug.__name__}")
        sampled(k, bug)
    if k.kmemleak is not None:
        k.printk("--- leak, and the same buffer kept in a global")
        leak(k)
        kept(k)
        k.msleep(6000)  # kmemleak reports objects at least 5 s old
        k.echo("scan", KMEMLEAK)
        k.echo("scan", KMEMLEAK)  # a fresh object's bytes changed since the last scan
        for line in k.cat(KMEMLEAK).splitlines():
            k.printk(line)


def reports(k: kmemsim.Kernel, since: int) -> str:
    return "".join(
        line.split("] ", 1)[-1] + "\n" for line in k.dmesg(since).splitlines(keepends=False)
    )


def main() -> None:
    tools = {
        "KASAN": {"KASAN": "y", "kasan_multi_shot": "y"},
        "KFENCE": {"KFENCE": "y"},
        "kmemleak": {"DEBUG_KMEMLEAK": "y", "DEBUG_KMEMLEAK_AUTO_SCAN": "n"},
    }
    for name, config in tools.items():
        kk = kmemsim.boot("x86_64", mem="1G", cpus=2, config=config)
        kk.sched.set_task("debugging", 1000)
        since = len(kk.log)
        all_bugs(kk)
        print(f"===== {name} " + "=" * 60)
        print(reports(kk, since))

    print("===== what KFENCE misses: the same off-by-one, not sampled " + "=" * 20)
    for name, config in (("KFENCE", tools["KFENCE"]), ("KASAN", tools["KASAN"])):
        kk = kmemsim.boot("x86_64", mem="1G", cpus=2, config=config)
        since = len(kk.log)
        for _ in range(10):
            off_by_one(kk)  # ten in a row: the gate opens once per 100 ms
        found = sum("BUG: " in line for line in kk.dmesg(since).splitlines())
        print(f"{name:<7} ten off-by-one writes within one sample interval: {found} reports")


if "k" in globals():
    all_bugs(k)  # noqa: F821 - bound by `kmemsim run`
elif __name__ == "__main__":
    main()
