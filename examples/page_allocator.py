"""The page allocator, as the slides walk through it.

Run it with a booted kernel bound to `k`:

    kmemsim run examples/page_allocator.py [--mem 256M]

or on its own (it boots a 256 MiB x86_64 PC):

    python examples/page_allocator.py

1. get_zeroed_page() and free_page(): one page, zero-filled, by address.
2. __get_free_pages() with get_order(): the smallest power-of-two block
   that holds a size, and free_pages() with the same order.
3. alloc_pages() / __free_pages(): the struct page view, page_address().
4. GFP_ATOMIC from an interrupt handler: may not sleep, may dig below the
   min watermark; GFP_KERNEL there is a bug the kernel reports.
5. GFP_DMA: a buffer an ISA device can reach, from ZONE_DMA (below 16 MiB).
6. Fragmentation: take all memory, keep one page in every 32 KiB, free the
   rest. Seven eighths of the memory is free, but no block larger than 16 KiB
   exists: an order-4 (64 KiB) request fails with "page allocation failure"
   and the Mem-Info report, and /proc/buddyinfo shows why.
"""

from __future__ import annotations

import kmemsim
from kmemsim import __GFP_NOWARN, GFP_ATOMIC, GFP_DMA, GFP_KERNEL

try:
    k  # noqa: B018 - bound by `kmemsim run`
except NameError:
    k = kmemsim.boot("x86_64", mem="256M", cpus=2)


def section(title: str) -> None:
    print(f"\n=== {title}")


def buddyinfo() -> None:
    print(k.cat("/proc/buddyinfo"), end="")


since = len(k.log)
k.sched.set_task("example", 1000)

section("1. get_zeroed_page() / free_page()")
addr = k.get_zeroed_page(GFP_KERNEL)
print(f"get_zeroed_page(GFP_KERNEL) = {addr:#x}  (direct map: pfn {k.virt_to_phys(addr) >> 12:#x})")
print(f"first bytes: {k.read(addr, 8).hex()}")
k.free_page(addr)

section("2. __get_free_pages() with get_order()")
for size in (100, 4096, 5000, 20000, 1 << 20):
    order = k.get_order(size)
    buf = k.__get_free_pages(GFP_KERNEL, order)
    print(f"{size:>8} bytes -> order {order} ({4096 << order:>8} bytes) at {buf:#x}")
    k.free_pages(buf, order)

section("3. alloc_pages() and the struct page")
page = k.alloc_pages(GFP_KERNEL, 2)
assert page is not None
print(f"alloc_pages(GFP_KERNEL, 2) = {page}, page_address = {k.page_address(page):#x}")
k.__free_pages(page, 2)

section("4. GFP_ATOMIC from an interrupt handler")
with k.irq_context():
    buf = k.get_free_page(GFP_ATOMIC)
    print(f"in the handler: get_free_page(GFP_ATOMIC) = {buf:#x}")
    k.free_page(buf)
    mark = len(k.log)
    buf = k.get_free_page(GFP_KERNEL)  # wrong: GFP_KERNEL may sleep
    k.free_page(buf)
print("GFP_KERNEL in the handler made the kernel say:")
print(k.dmesg(mark), end="")

section("5. GFP_DMA: a buffer below 16 MiB")
dma = k.get_free_page(GFP_KERNEL | GFP_DMA)
print(f"get_free_page(GFP_KERNEL | GFP_DMA) = {dma:#x}, physical {k.virt_to_phys(dma):#x}")
assert k.virt_to_phys(dma) < 16 << 20
k.free_page(dma)

section("6. What fragmentation does to a high-order request")
print("buddyinfo after boot:")
buddyinfo()
# Take every free page (__GFP_MEMALLOC ignores the watermarks, as reclaim itself
# may), then give back all but one page in every 8 (32 KiB).
take_all = GFP_KERNEL | __GFP_NOWARN | kmemsim.__GFP_NORETRY | kmemsim.__GFP_MEMALLOC
pages = []
while (p := k.alloc_pages(take_all, 0)) is not None:
    pages.append(p)
pinned = [p for p in pages if p.pfn % 8 == 0]
for p in pages:
    if p.pfn % 8:
        k.__free_pages(p, 0)
k.page_alloc.drain_all_pages()
free_kib = k.page_alloc.nr_free_pages() * 4
print(f"\n{len(pinned)} pages pinned, {free_kib} KiB free; buddyinfo now:")
buddyinfo()
mark = len(k.log)
big = k.alloc_pages(GFP_KERNEL, 4)
print(f"\nalloc_pages(GFP_KERNEL, 4) = {big}: the kernel log says")
print(k.dmesg(mark), end="")
for p in pinned:
    k.__free_pages(p, 0)
k.page_alloc.drain_all_pages()
print("\nall pages freed again, buddy blocks merged back:")
buddyinfo()
