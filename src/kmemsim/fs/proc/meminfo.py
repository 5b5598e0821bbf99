"""Model of fs/proc/meminfo.c: /proc/meminfo, computed from the live model when read.

The keys and their order are the kernel's; which optional keys appear
follows the configuration as in meminfo_proc_show(): HighTotal/HighFree/
LowTotal/LowFree with CONFIG_HIGHMEM, Zswap/Zswapped with CONFIG_ZSWAP, the
five huge-page lines with CONFIG_TRANSPARENT_HUGEPAGE, the HugePages_* block
where hugetlbfs exists (hugetlb_report_meminfo) and the DirectMap lines of
x86 (arch_report_meminfo). Each "Key:  value kB" line is show_val_kb(): the
label padded to 16 columns, the value right-aligned in 8.

Values come from where the model keeps them: MemTotal is totalram_pages
(the zones' managed pages), MemFree the buddy allocator's free pages,
MemAvailable si_mem_available() over them, Slab/SReclaimable/SUnreclaim the
slab layer's pages, CommitLimit vm_commit_limit() from overcommit_ratio,
VmallocTotal the architecture's vmalloc area, DirectMap* the page sizes the
direct map was built with. Quantities of subsystems kmemsim does not model
yet (page cache, LRU lists, swap, vmalloc use, percpu, page tables) are 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.mm.vmstat import slab_pages

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel


def _kb_line(key: str, kb: int) -> str:
    """show_val_kb(): "Key:" padded to 16 columns, the value in 8, then " kB"."""
    return f"{key + ':':<16}{kb:>8} kB\n"


def vmalloc_total(k: Kernel) -> int:
    """VMALLOC_TOTAL in bytes: VMALLOC_END - VMALLOC_START of the layout (x86_64's
    VMALLOC_END is inclusive, so its total is one byte short of the area)."""
    layout = k.vm_layout
    total = layout.vmalloc_end - layout.vmalloc_start
    return total - 1 if layout.bits == 64 else total


def hugepage_size_kb(k: Kernel) -> int:
    """HPAGE_SIZE in kB: 2 MiB PMDs on x86_64, 4 MiB on non-PAE i386; 0 without hugetlbfs."""
    return {"x86_64": 2048, "i386": 4096}.get(k.machine.arch, 0)


def mem_available(
    free: int, totalreserve: int, wmark_low: int, pagecache: int, reclaimable: int
) -> int:
    """The estimate of si_mem_available() (mm/show_mem.c), in pages.

    Free pages above totalreserve_pages, plus the file LRU pages and the
    reclaimable kernel memory, each less half of itself or the sum of the
    zones' low watermarks, whichever is smaller; never negative."""
    available = free - totalreserve
    available += pagecache - min(pagecache // 2, wmark_low)
    available += reclaimable - min(reclaimable // 2, wmark_low)
    return max(available, 0)


def si_mem_available(k: Kernel) -> int:
    """si_mem_available() over the model: no page cache yet; reclaimable slab from k.slab."""
    from kmemsim.mm.vmstat import totalreserve_pages

    pa = k.page_alloc
    wmark_low = sum(zb.wmark(1) for zb in pa.buddies)  # low_wmark_pages(), boost included
    return mem_available(pa.nr_free_pages(), totalreserve_pages(pa), wmark_low, 0, slab_pages(k)[0])


def vm_commit_limit(k: Kernel) -> int:
    """vm_commit_limit(): overcommit_kbytes, else overcommit_ratio % of RAM (no hugetlb), + swap."""
    kbytes = int(k.config["overcommit_kbytes"])
    if kbytes:
        return kbytes >> (k.machine.page_shift - 10)
    return k.page_alloc.totalram_pages() * int(k.config["overcommit_ratio"]) // 100


def meminfo_proc_show(k: Kernel) -> str:
    """The text of /proc/meminfo."""
    pa = k.page_alloc
    shift = k.machine.page_shift

    def kb(pages: int) -> int:
        return pages << (shift - 10)

    totalram = pa.totalram_pages()
    freeram = pa.nr_free_pages()
    sreclaimable, sunreclaim = slab_pages(k)
    cfg = k.config
    highmem = bool(cfg["HIGHMEM"]) and k.machine.bits == 32
    lines = [
        ("MemTotal", kb(totalram)),
        ("MemFree", kb(freeram)),
        ("MemAvailable", kb(si_mem_available(k))),
        ("Buffers", 0),
        ("Cached", 0),
        ("SwapCached", 0),
        ("Active", 0),
        ("Inactive", 0),
        ("Active(anon)", 0),
        ("Inactive(anon)", 0),
        ("Active(file)", 0),
        ("Inactive(file)", 0),
        ("Unevictable", 0),
        ("Mlocked", 0),
    ]
    if highmem:
        totalhigh, freehigh = pa.totalhigh_pages(), pa.nr_free_highpages()
        lines += [
            ("HighTotal", kb(totalhigh)),
            ("HighFree", kb(freehigh)),
            ("LowTotal", kb(totalram - totalhigh)),
            ("LowFree", kb(freeram - freehigh)),
        ]
    lines += [("SwapTotal", 0), ("SwapFree", 0)]
    if cfg["ZSWAP"]:
        lines += [("Zswap", 0), ("Zswapped", 0)]
    lines += [
        ("Dirty", 0),
        ("Writeback", 0),
        ("AnonPages", 0),
        ("Mapped", 0),
        ("Shmem", 0),
        ("KReclaimable", kb(sreclaimable)),
        ("Slab", kb(sreclaimable + sunreclaim)),
        ("SReclaimable", kb(sreclaimable)),
        ("SUnreclaim", kb(sunreclaim)),
        ("KernelStack", 0),
        ("PageTables", 0),
        ("SecPageTables", 0),
        ("NFS_Unstable", 0),
        ("Bounce", 0),
        ("WritebackTmp", 0),
        ("CommitLimit", kb(vm_commit_limit(k))),
        ("Committed_AS", 0),
        ("VmallocTotal", vmalloc_total(k) >> 10),
        ("VmallocUsed", k.vmalloc_area.vmalloc_used_kb()),
        ("VmallocChunk", 0),
        ("Percpu", 0),
    ]
    if cfg["TRANSPARENT_HUGEPAGE"] and k.machine.arch == "x86_64":
        lines += [
            ("AnonHugePages", 0),
            ("ShmemHugePages", 0),
            ("ShmemPmdMapped", 0),
            ("FileHugePages", 0),
            ("FilePmdMapped", 0),
        ]
    lines.append(("Balloon", 0))
    out = "".join(_kb_line(key, v) for key, v in lines)
    hpage = hugepage_size_kb(k)
    if hpage:
        # hugetlb_report_meminfo(): no huge pages are reserved in the model.
        out += (
            f"HugePages_Total:   {0:5d}\n"
            f"HugePages_Free:    {0:5d}\n"
            f"HugePages_Rsvd:    {0:5d}\n"
            f"HugePages_Surp:    {0:5d}\n"
        )
        out += _kb_line("Hugepagesize", hpage) + _kb_line("Hugetlb", 0)
    if k.machine.arch in ("x86_64", "i386"):
        from kmemsim.arch.x86.mm.init import direct_pages_count

        for label, kbytes in direct_pages_count(k):
            out += _kb_line(label, kbytes)
    return out


def proc_meminfo_init(k: Kernel) -> None:
    """proc_meminfo_init(): register /proc/meminfo."""
    k.fs.create_file("/proc/meminfo", lambda: meminfo_proc_show(k))
