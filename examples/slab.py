"""The slab allocator, as the slides walk through it.

Run it with a booted kernel bound to `k`:

    kmemsim run examples/slab.py --profile linux-6.18-x86_64

or as a plain script (`python examples/slab.py`), which boots its own.
"""

from __future__ import annotations

import kmemsim

if "k" not in globals():
    k = kmemsim.boot("linux-6.18-x86_64")

GFP_KERNEL = kmemsim.GFP_KERNEL


def say(text: str) -> None:
    print(text)


# 1. A cache for a driver's objects: struct my_dev_req is 200 bytes, cache-line aligned.
reqs = k.kmem_cache_create("my_dev_req", 200, 0, kmemsim.SLAB_HWCACHE_ALIGN, None)
say('1. kmem_cache_create("my_dev_req", 200, 0, SLAB_HWCACHE_ALIGN, NULL)')
for attr in ("object_size", "slab_size", "align", "objs_per_slab", "order"):
    value = k.cat(f"/sys/kernel/slab/my_dev_req/{attr}").strip()
    say(f"   /sys/kernel/slab/my_dev_req/{attr:<14} {value}")
link = k.fs.readlink("/sys/kernel/slab/my_dev_req")
say(f"   mergeable, so sysfs names it by its unique id: my_dev_req -> {link}")
if reqs.name != "my_dev_req":
    # find_mergeable(): an existing cache with slots big enough (less than a pointer
    # more) and the same merge-relevant flags takes the new name as an alias.
    say(
        f"   the kernel already had such a cache ({reqs.name}, {reqs.object_size}-byte objects):"
        f" my_dev_req became its alias, so the attributes above are {reqs.name}'s"
    )
req = k.kmem_cache_zalloc(reqs, GFP_KERNEL)
say(f"   kmem_cache_zalloc() = {req:#x}, zeroed: {k.read(req, 200) == bytes(200)}")
k.kmem_cache_free(reqs, req)
say(
    f"   after kmem_cache_free(), the object holds the free pointer at offset {reqs.offset}: "
    f"{int.from_bytes(k.read(req + reqs.offset, 8), 'little'):#x}"
)

# 2. kmalloc and friends.
say("\n2. kmalloc / kzalloc / kcalloc / krealloc")
buf = k.kmalloc(100, GFP_KERNEL)
say(f"   kmalloc(100)  = {buf:#x}, ksize = {k.ksize(buf)}  (kmalloc-128)")
odd = k.kmalloc(65, GFP_KERNEL)
say(f"   kmalloc(65)   = {odd:#x}, ksize = {k.ksize(odd)}   (kmalloc-96: sizes 65..96)")
z = k.kzalloc(40, GFP_KERNEL)
say(f"   kzalloc(40)   ksize = {k.ksize(z)}, all zero: {k.read(z, 40) == bytes(40)}")
arr = k.kcalloc(16, 12, GFP_KERNEL)
say(f"   kcalloc(16, 12) = 192 bytes -> ksize {k.ksize(arr)} (kmalloc-192)")
say(f"   kcalloc(2**62, 8) = {k.kcalloc(1 << 62, 8, GFP_KERNEL)} (the product overflows)")
k.write(buf, b"hello, slab")
same = k.krealloc(buf, 120, GFP_KERNEL)
say(f"   krealloc(buf, 120) = {same:#x} (in place: it fits the 128-byte object)")
moved = k.krealloc(same, 300, GFP_KERNEL)
say(
    f"   krealloc(buf, 300) = {moved:#x} (moved to kmalloc-512), "
    f"contents kept: {k.read(moved, 11)!r}"
)
acct = k.kmalloc(100, kmemsim.GFP_KERNEL_ACCOUNT)
say(
    f"   kmalloc(100, GFP_KERNEL_ACCOUNT) comes from "
    f"{k.slab.slab_of_pfn[k.direct_map.virt_to_pfn(acct)].cache.name}"
)

# 3. Why 100 bytes take 128 and 65 take 96: the size classes.
say("\n3. The kmalloc size classes (size_index[] up to 192, then powers of two)")
for size in (8, 9, 16, 17, 32, 33, 64, 65, 96, 97, 128, 129, 192, 193, 256):
    p = k.kmalloc(size, GFP_KERNEL)
    say(f"   kmalloc({size:3d}) -> {k.ksize(p):3d} bytes, waste {k.ksize(p) - size:3d}")
    k.kfree(p)

# 4. A large kmalloc is whole pages from the buddy allocator.
say("\n4. Large kmalloc (above KMALLOC_MAX_CACHE_SIZE = 8 KiB)")
free0 = k.page_alloc.nr_free_pages() + k.page_alloc.nr_free_pcp()
big = k.kmalloc(10_000, GFP_KERNEL)
free1 = k.page_alloc.nr_free_pages() + k.page_alloc.nr_free_pcp()
say(
    f"   kmalloc(10000) = {big:#x}: page aligned, ksize {k.ksize(big)} = PAGE_SIZE << "
    f"get_order(10000) = 4096 << {k.get_order(10000)}; {free0 - free1} pages left the buddy lists"
)
say(
    f"   kmalloc(8 MiB) = {k.kmalloc(8 << 20, GFP_KERNEL | kmemsim.__GFP_NOWARN)} "
    "(above KMALLOC_MAX_SIZE = 4 MiB: NULL)"
)
for p in (odd, z, arr, moved, acct, big):
    k.kfree(p)
k.kmem_cache_destroy(reqs)

say("\n/proc/slabinfo (first lines):")
for line in k.cat("/proc/slabinfo").splitlines()[:6]:
    say("   " + line)
