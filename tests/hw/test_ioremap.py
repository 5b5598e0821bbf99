"""ioremap() and family (arch/x86/mm/ioremap.c, arch/arm/mm/ioremap.c) over the vmalloc area."""

from __future__ import annotations

import re

import kmemsim


def test_ioremap_keeps_the_offset_and_shows_in_vmallocinfo() -> None:
    k = kmemsim.boot("x86_64")
    regs = k.ioremap(0xFEBF0004, 0x10)
    assert regs and k.is_vmalloc_addr(regs) and regs & 0xFFF == 0x004
    assert k.ioread32be(regs) == 0  # SCRATCH
    assert k.ioread32be(regs - 4) == 0x12345678  # ID, one register lower
    line = next(x for x in k.cat("/proc/vmallocinfo").splitlines() if "ioremap" in x)
    assert re.search(
        r" 8192 test_ioremap_keeps_the_offset\S* phys=0x00000000febf0000 ioremap$", line
    )
    k.iounmap(regs)
    assert not any(" ioremap" in x for x in k.cat("/proc/vmallocinfo").splitlines())


def test_x86_refuses_to_ioremap_ram_in_use() -> None:
    k = kmemsim.boot("x86_64")
    mark = len(k.log)
    assert k.ioremap(0x20000000, 0x1000) == 0
    log = k.dmesg(mark)
    assert "ioremap on RAM at 0x0000000020000000 - 0x0000000020000fff" in log
    assert "WARNING: CPU: 0 PID: 0 at arch/x86/mm/ioremap.c __ioremap_caller" in log
    mark = len(k.log)
    assert k.ioremap_wc(0x20001000, 0x1000) == 0
    assert k.dmesg(mark) == ""  # WARN_ONCE: printed once
    assert k.ioremap(0xFEBF0000, 0) == 0


def test_arm_refuses_linear_map_ram_and_maps_a_uart() -> None:
    k = kmemsim.boot("beaglebone-black")
    assert k.ioremap(0x80100000, 0x1000) == 0
    assert "WARNING: CPU: 0 PID: 0 at arch/arm/mm/ioremap.c __arm_ioremap_pfn_caller" in k.dmesg()
    uart1 = k.ioremap(0x48022000, 0x1000)
    for c in b"hello\n":
        while not k.readl(uart1 + (5 << 2)) & 0x20:  # LSR.THRE, 4-byte register spacing
            pass
        k.writel(c, uart1)
    assert k.machine.device_models["48022000.serial"].transmitted == b"hello\n"
    assert k.console() == ""  # uart1 is not the console; uart0 (44e09000) is
    k.iounmap(uart1)


def test_cache_mode_variants() -> None:
    k = kmemsim.boot("x86_64")
    pte = k.address_space.lookup_pte
    uc_minus, wc, uc, wb = (
        f(0xFEBF0000, 0x100) for f in (k.ioremap, k.ioremap_wc, k.ioremap_uc, k.ioremap_cache)
    )
    assert all((uc_minus, wc, uc, wb))
    assert [pte(a) & 0x18 for a in (uc_minus, wc, uc, wb)] == [0x10, 0x08, 0x18, 0x00]
    assert k.ioremap_np(0xFEBF0000, 0x100) == 0  # not on x86 (asm-generic: NULL)
    kb = kmemsim.boot("beaglebone-black")
    assert kb.ioremap_uc(0x48022000, 0x100) == 0 and kb.ioremap_np(0x48022000, 0x100) == 0


def test_iounmap_of_something_else_warns() -> None:
    k = kmemsim.boot("x86_64")
    p = k.kmalloc(64, kmemsim.GFP_KERNEL)
    k.iounmap(p)
    assert "WARNING: CPU: 0 PID: 0 at arch/x86/mm/ioremap.c iounmap" in k.dmesg()
    v = k.vmalloc(4096)
    k.iounmap(v)
    assert "iounmap: bad address" in k.dmesg()


def test_ioremap_then_iounmap_a_thousand_times_leaks_nothing() -> None:
    k = kmemsim.boot("beaglebone-black")
    before = k.cat("/proc/meminfo")
    areas = k.cat("/proc/vmallocinfo")  # the boot threads' stacks
    for _ in range(1000):
        regs = k.ioremap(0x48022000, 0x1000)
        assert regs
        k.iounmap(regs)
    k.vmalloc_area.purge_vmap_area_lazy()
    assert k.cat("/proc/vmallocinfo") == areas

    def used(text: str) -> int:
        return int(re.search(r"VmallocUsed:\s+(\d+)", text).group(1))  # type: ignore[union-attr]

    assert used(k.cat("/proc/meminfo")) == used(before)
