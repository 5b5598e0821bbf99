"""kmemleak (mm/kmemleak.py): samples/kmemleak/kmemleak-test.c and the scan rules."""

from __future__ import annotations

import re

import kmemsim
from kmemsim import GFP_KERNEL

DEBUGFS = "/sys/kernel/debug/kmemleak"
# An address ^ HIDE is no kernel address: a test keeps it without referencing the object.
HIDE = 0xFFFF_0000_0000_0000
_LEAK = re.compile(r"unreferenced object 0x([0-9a-f]+) \(size (\d+)\):")


def boot(**config: str) -> kmemsim.Kernel:
    return kmemsim.boot("x86_64", mem="1G", cpus=2, config={"DEBUG_KMEMLEAK": "y", **config})


def scan_twice(k: kmemsim.Kernel) -> None:
    """An object not yet checksummed (new, or referenced until now) is reported a scan later."""
    k.echo("scan", DEBUGFS)
    k.echo("scan", DEBUGFS)


def leaks(k: kmemsim.Kernel) -> dict[int, int]:
    """address -> size of every object /sys/kernel/debug/kmemleak lists."""
    return {int(a, 16): int(s) for a, s in _LEAK.findall(k.cat(DEBUGFS))}


def kmemleak_test_init(k: kmemsim.Kernel) -> tuple[list[int], list[int]]:
    """samples/kmemleak/kmemleak-test.c kmemleak_test_init(): (orphans, referenced)."""
    orphans: list[int] = []

    def orphan(p: int, what: str) -> None:
        k.printk(f"{what} = {p:#x}")
        orphans.append(p)

    for size in (32, 32, 1024, 1024, 2048, 2048, 4096, 4096):
        orphan(k.kmalloc(size, GFP_KERNEL), f"kmalloc({size})")
    files_cachep = k.find_cache("files_cache") or k.kmem_cache_create(
        "files_cache", 704, 0, 0, None
    )
    for _ in range(2):
        orphan(k.kmem_cache_alloc(files_cachep, GFP_KERNEL), "kmem_cache_alloc(files_cachep)")
    # static LIST_HEAD(test_list);
    # struct test_node { long header[25]; struct list_head list; long footer[25]; }
    test_list = k.global_var("test_list", 16)
    k.write(test_list, test_list.to_bytes(8, "little") * 2)
    referenced: list[int] = []
    prev = test_list
    for _ in range(10):
        elem = k.kzalloc(25 * 8 + 16 + 25 * 8, GFP_KERNEL)
        node = elem + 25 * 8  # &elem->list
        # list_add_tail(): node.next = head, node.prev = head->prev, prev->next = node
        k.write(node, test_list.to_bytes(8, "little") + prev.to_bytes(8, "little"))
        k.write(prev, node.to_bytes(8, "little"))
        k.write(test_list + 8, node.to_bytes(8, "little"))
        prev = node
        referenced.append(elem)
    # DEFINE_PER_CPU(void *, kmemleak_test_pointer)
    pcpu_ptr = k.per_cpu_var("kmemleak_test_pointer", 8)
    for cpu in range(2):
        p = k.kmalloc(129, GFP_KERNEL)
        k.write(k.per_cpu_ptr(pcpu_ptr, cpu), p.to_bytes(8, "little"))
        referenced.append(p)
    for _ in range(5):
        orphan(k.vmalloc(64), "vmalloc(64)")
    orphan(k.__alloc_percpu(64, 4), "__alloc_percpu(64, 4)")
    return orphans, referenced


def run_module_and_scan(k: kmemsim.Kernel) -> tuple[set[int], set[int]]:
    """Load the module, let 5 s pass, scan; the addresses only (no pointer left in locals)."""
    orphans, referenced = kmemleak_test_init(k)
    o, r = {x ^ HIDE for x in orphans}, {x ^ HIDE for x in referenced}  # not pointers any more
    del orphans, referenced
    k.msleep(6000)
    scan_twice(k)
    return {x ^ HIDE for x in o}, {x ^ HIDE for x in r}


def test_kmemleak_test_orphans_are_reported_the_list_and_per_cpu_are_not() -> None:
    k = boot(DEBUG_KMEMLEAK_AUTO_SCAN="n")
    start = len(k.log)
    orphans, referenced = run_module_and_scan(k)
    found = leaks(k)
    assert orphans <= set(found), sorted(orphans - set(found))
    assert not referenced & set(found)
    assert found[min(orphans)] in (32, 1024, 2048, 4096, 704, 64)
    counts = re.findall(r"kmemleak: (\d+) new suspected memory leaks", k.dmesg(start))
    assert sum(int(n) for n in counts) == len(found)
    assert len(found) == len(orphans)


def test_the_report_in_the_kernels_words() -> None:
    k = boot(DEBUG_KMEMLEAK_AUTO_SCAN="n")
    k.sched.set_task("insmod", 4242)

    def leaky_init() -> None:
        p = k.kmalloc(32, GFP_KERNEL)
        k.write(p, b"kmemsim leak!\0")
        k.printk(f"{p ^ HIDE:#x}")

    leaky_init()
    k.msleep(6000)
    k.echo("scan", DEBUGFS)  # checksum changed since creation: not yet
    k.echo("scan", DEBUGFS)
    text = k.cat(DEBUGFS).splitlines()
    assert _LEAK.match(text[0]) and text[0].endswith("(size 32):")
    assert text[1].startswith('  comm "insmod", pid 4242, jiffies ')
    assert text[2] == "  hex dump (first 32 bytes):"
    assert text[3].startswith("    6b 6d 65 6d 73 69 6d 20 6c 65 61 6b 21 00")
    assert text[3].endswith("  kmemsim leak!...")
    assert text[5].startswith("  backtrace (crc ")
    assert text[6].startswith("    kmalloc+0x")
    assert text[7].startswith("    leaky_init+0x")


def test_a_pointer_in_a_global_keeps_the_object_referenced() -> None:
    k = boot(DEBUG_KMEMLEAK_AUTO_SCAN="n")
    g = k.global_var("my_buffer")
    p = k.kmalloc(100, GFP_KERNEL)
    k.write(g, p.to_bytes(8, "little"))
    key = p ^ HIDE
    del p
    k.msleep(6000)
    k.echo("scan", DEBUGFS)
    k.echo("scan", DEBUGFS)
    assert key ^ HIDE not in leaks(k)
    k.write(g, bytes(8))  # the global forgets it
    scan_twice(k)
    assert key ^ HIDE in leaks(k)


def test_a_pointer_inside_the_object_counts_and_so_does_the_stack() -> None:
    k = boot(DEBUG_KMEMLEAK_AUTO_SCAN="n")
    g = k.global_var("inner")
    p = k.kmalloc(256, GFP_KERNEL)
    k.write(g, (p + 100).to_bytes(8, "little"))
    q = k.kmalloc(64, GFP_KERNEL)  # only this frame's local variable points at it
    k.msleep(6000)
    k.echo("scan", DEBUGFS)
    assert not leaks(k)
    k.echo("stack=off", DEBUGFS)
    scan_twice(k)
    assert set(leaks(k)) == {q}


def test_minimum_age_of_5_seconds() -> None:
    k = boot(DEBUG_KMEMLEAK_AUTO_SCAN="n")
    key = k.kzalloc(64, GFP_KERNEL) ^ HIDE  # all zero: its checksum never changes
    k.msleep(4000)
    k.echo("scan", DEBUGFS)
    assert not leaks(k)
    k.msleep(1000)
    k.echo("scan", DEBUGFS)
    assert key ^ HIDE in leaks(k)


def test_not_leak_ignore_and_free() -> None:
    k = boot(DEBUG_KMEMLEAK_AUTO_SCAN="n")
    a, b, c = (k.kmalloc(64, GFP_KERNEL) for _ in range(3))
    k.kmemleak_not_leak(a)
    k.kmemleak_ignore(b)
    k.kfree(c)
    keys = {a ^ HIDE, b ^ HIDE, c ^ HIDE}
    del a, b, c
    k.msleep(6000)
    scan_twice(k)
    assert not {x ^ HIDE for x in keys} & set(leaks(k))


def test_clear_dump_and_bad_commands() -> None:
    k = boot(DEBUG_KMEMLEAK_AUTO_SCAN="n")
    key = k.kmalloc(64, GFP_KERNEL) ^ HIDE
    k.msleep(6000)
    scan_twice(k)
    assert leaks(k)
    assert k.echo(f"dump={key ^ HIDE:x}", DEBUGFS) > 0
    assert f"kmemleak: Object 0x{key ^ HIDE:08x} (size 64):" in k.dmesg()
    assert k.echo("clear", DEBUGFS) == len("clear")
    assert not leaks(k)
    k.echo("scan", DEBUGFS)
    assert not leaks(k)  # cleared objects are gray now
    assert k.echo("bogus", DEBUGFS) == -22
    k.echo("off", DEBUGFS)
    assert "kmemleak: Kernel memory leak detector disabled" in k.dmesg()


def test_the_scan_thread_scans_after_a_minute() -> None:
    k = boot()
    k.kmalloc(64, GFP_KERNEL)
    start = len(k.log)
    k.msleep(61_000)  # the first scan: the fresh object's bytes changed since it was made
    k.msleep(600_000)  # the next one reports it
    assert "kmemleak: 1 new suspected memory leaks" in k.dmesg(start)


def test_boot_objects_are_not_leaks() -> None:
    k = boot(DEBUG_KMEMLEAK_AUTO_SCAN="n")
    k.msleep(6000)
    k.echo("scan", DEBUGFS)
    assert k.cat(DEBUGFS) == ""


def test_crc32_is_the_kernels() -> None:
    from kmemsim.mm.kmemleak import crc32_le

    assert crc32_le(bytes(64)) == 0  # crc32(0, zeros): zero-filled objects never "change"
    assert crc32_le(b"123456789") != 0


def test_an_object_that_changed_since_the_last_scan_is_not_reported_yet() -> None:
    k = boot(DEBUG_KMEMLEAK_AUTO_SCAN="n")
    p = k.kzalloc(64, GFP_KERNEL)
    key = p ^ HIDE
    del p
    k.msleep(6000)
    k.write(key ^ HIDE, b"busy")  # being filled in
    k.echo("scan", DEBUGFS)
    assert not leaks(k)
    k.echo("scan", DEBUGFS)  # unchanged since: reported
    assert key ^ HIDE in leaks(k)
