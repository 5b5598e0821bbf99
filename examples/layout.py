"""The kernel's virtual address space, as the slides draw it: python examples/layout.py

1. The three layouts: x86_64 (4-level paging), i386 (VMSPLIT_3G) and the
   BeagleBone Black's ARM32, region by region (what `kmemsim layout` prints).
2. kmalloc memory is physically contiguous; vmalloc memory is contiguous only
   in the virtual address space: its pages come one by one from the page
   allocator. A read past a vmalloc area hits its guard page and Oopses.
3. On a 2 GiB i386 machine, the user/kernel split decides how much RAM the
   kernel can map directly (lowmem) and how much must be kmap()ed (highmem):
   3G/1G, 2G/2G and 1G/3G compared, and a highmem page reached with kmap().
"""

from __future__ import annotations

import itertools

import kmemsim
from kmemsim import GFP_HIGHUSER, GFP_KERNEL


def show_layout(k: kmemsim.Kernel, title: str) -> None:
    width = 16 if k.vm_layout.bits == 64 else 8
    print(f"--- {title}")
    for r in k.layout():
        if not r.what.startswith("..."):
            print(f"  {r.start:0{width}x}-{r.end - 1:0{width}x} {r.size >> 20:>14} MiB  {r.what}")


def contiguity(k: kmemsim.Kernel) -> None:
    print("--- kmalloc vs vmalloc (x86_64)")
    size = 64 << 10
    p = k.kmalloc(size, GFP_KERNEL)
    kpfns = [k.virt_to_phys(p + off) >> 12 for off in range(0, size, 4096)]
    # A machine that has run a while has its free pages scattered: keep every other
    # one of 64 pages, so that vmalloc() shows where its pages come from.
    held = [k.alloc_pages(GFP_KERNEL, 0) for _ in range(64)]
    for page in held[::2]:
        k.free_pages_struct(page, 0)
    v = k.vmalloc(size)
    vpfns = [k.vmalloc_to_pfn(v + off) for off in range(0, size, 4096)]

    def contiguous(pfns: list[int]) -> bool:
        return all(b == a + 1 for a, b in itertools.pairwise(pfns))

    print(f"  kmalloc({size}) = {p:#x}: pfns {kpfns[:4]}... contiguous={contiguous(kpfns)}")
    print(f"  vmalloc({size}) = {v:#x}: pfns {vpfns[:4]}... contiguous={contiguous(vpfns)}")
    print("  " + next(ln for ln in k.cat("/proc/vmallocinfo").splitlines() if f"{v:#x}-" in ln))
    since = len(k.log)
    try:
        k.read(v + size, 1)  # one byte past the end: the guard page
    except kmemsim.Oops:
        print("  a read past the vmalloc area Oopsed:")
        print("    " + "\n    ".join(k.dmesg(since).splitlines()[:5]))
    k.vfree(v)
    k.kfree(p)


def splits() -> None:
    print("--- a 2 GiB i386 machine under three splits")
    for split in ("3G", "2G", "1G"):
        k = kmemsim.boot("i386", mem="2G", config={"VMSPLIT": split})
        lay = k.vm_layout
        info = dict(
            line.split(":", 1) for line in k.cat("/proc/meminfo").splitlines() if ":" in line
        )
        print(
            f"  VMSPLIT_{split}: user space {lay.task_size >> 20:>5} MiB, "
            f"lowmem {info['LowTotal'].strip():>11}, highmem {info['HighTotal'].strip():>11}"
        )
    k = kmemsim.boot("i386", mem="2G")
    page = k.alloc_pages(GFP_HIGHUSER, 0)
    print(f"  a GFP_HIGHUSER page: pfn {page.pfn:#x}, page_address() = {k.page_address(page):#x}")
    v = k.kmap(page)
    k.write(v, b"hello from highmem")
    print(f"  kmap() -> {v:#x} (PKMAP_BASE {k.vm_layout.pkmap_base:#x}): {k.read(v, 18)!r}")
    k.kunmap(page)


def main() -> None:
    show_layout(kmemsim.boot("x86_64", mem="1G"), "x86_64, 4-level paging")
    show_layout(kmemsim.boot("i386", mem="2G"), "i386, VMSPLIT_3G, 2 GiB")
    show_layout(kmemsim.boot("beaglebone-black"), "BeagleBone Black (ARM32), 512 MiB")
    contiguity(kmemsim.boot("x86_64", mem="1G"))
    splits()


if __name__ == "__main__":
    main()
