"""The kernel image's sections (include/asm-generic/sections.h) and freeing them after boot.

The profile gives the image's physical start and the sizes the "Memory:"
line prints. The linker script (arch/x86/kernel/vmlinux.lds.S) lays them
out: text from _text, rodata from the next 2 MiB boundary on x86_64 (so the
text and rodata can be mapped with large pages and different permissions),
data from the 2 MiB boundary after rodata, the __init sections after the
data. Once init has run, the kernel frees what it no longer needs:

- free_initmem() (arch/x86/mm/init.c, free_kernel_image_pages): the __init
  text and data, "Freeing unused kernel image (initmem) memory: 3728K";
- mark_rodata_ro() (arch/x86/mm/init_64.c): on x86_64 the two alignment gaps,
  "Freeing unused kernel image (text/rodata gap) memory: 2008K" and
  "(rodata/data gap)".

Where the __init sections sit exactly does not change what is printed; they
are placed right after the data here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.include.linux.export import EXPORT_SYMBOL
from kmemsim.mm.memblock import free_reserved_area

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

PMD_SIZE_X86_64 = 2 << 20


def _align(x: int, a: int) -> int:
    return (x + a - 1) & ~(a - 1)


def kernel_sections(k: Kernel) -> dict[str, int]:
    """The image's link-time symbols as physical addresses.

    _text, _etext, __start_rodata, __end_rodata, _sdata, _edata, __init_begin,
    __init_end, __bss_start, __bss_stop, _end. A profile may pin any of them
    ([kernel.symbols]); the rest follow the linker script: on x86 text,
    rodata, data, then __init (arch/x86/kernel/vmlinux.lds.S); on ARM text,
    rodata, __init, then data (arch/arm/kernel/vmlinux.lds.S); bss last,
    ending at _end (the end of the image memblock reserves).
    """
    img = k.machine.kernel_image
    page = k.machine.page_size
    big = PMD_SIZE_X86_64 if k.machine.arch == "x86_64" else page
    pinned = dict(img.symbols)
    etext = pinned.get("_etext", img.start + img.code)
    start_rodata = pinned.get("__start_rodata", _align(etext, big))
    end_rodata = pinned.get("__end_rodata", start_rodata + img.rodata)
    if k.machine.arch == "arm":
        init_begin = pinned.get("__init_begin", _align(end_rodata, page))
        init_end = pinned.get("__init_end", init_begin + img.init)
        sdata = pinned.get("_sdata", _align(init_end, page))
        edata = pinned.get("_edata", sdata + img.rwdata)
    else:
        sdata = pinned.get("_sdata", _align(end_rodata, big))
        edata = pinned.get("_edata", sdata + img.rwdata)
        init_begin = pinned.get("__init_begin", _align(edata, page))
        init_end = pinned.get("__init_end", init_begin + img.init)
    end = pinned.get("_end", img.end)
    bss_stop = pinned.get("__bss_stop", end)
    return {
        "_text": pinned.get("_text", img.start),
        "_etext": etext,
        "__start_rodata": start_rodata,
        "__end_rodata": end_rodata,
        "_sdata": sdata,
        "_edata": edata,
        "__init_begin": init_begin,
        "__init_end": init_end,
        "__bss_start": pinned.get("__bss_start", bss_stop - img.bss),
        "__bss_stop": bss_stop,
        "_end": end,
    }


def free_initmem(k: Kernel) -> int:
    """free_initmem(): the __init sections, once kernel_init() has run the initcalls."""
    sec = kernel_sections(k)
    return free_reserved_area(
        k, sec["__init_begin"], sec["__init_end"], "unused kernel image (initmem)"
    )


def mark_rodata_ro(k: Kernel) -> int:
    """mark_rodata_ro(): on x86_64, free the 2 MiB alignment gaps around rodata."""
    if k.machine.arch != "x86_64":
        return 0
    sec = kernel_sections(k)
    page = k.machine.page_size
    text_end = _align(sec["_etext"], page)  # PFN_ALIGN(_etext)
    rodata_end = _align(sec["__end_rodata"], page)
    return free_reserved_area(
        k, text_end, sec["__start_rodata"], "unused kernel image (text/rodata gap)"
    ) + free_reserved_area(k, rodata_end, sec["_sdata"], "unused kernel image (rodata/data gap)")


def bss_section(k: Kernel) -> tuple[int, int]:
    """(__bss_start, __bss_stop), physical: after the __init sections, page aligned."""
    sec = kernel_sections(k)
    start = _align(sec["__init_end"], k.machine.page_size)
    return start, start + int(k.machine.kernel_image.bss)


def bss_used(k: Kernel) -> int:
    """Bytes of .bss the global_var() variables take, from __bss_start to the end of the last."""
    if not k.global_vars:
        return 0
    start, _ = bss_section(k)
    return max(k.direct_map.virt_to_phys(a) + size for a, size in k.global_vars.values()) - start


@EXPORT_SYMBOL
def global_var(k: Kernel, name: str, size: int = 8) -> int:
    """The address of a zero-initialised global variable `name` of the kernel (its .bss).

    A scenario's stand-in for `static void *name;` in a built-in driver: the
    same name gives the same variable. Variables are laid out one after the
    other from __bss_start, aligned to 8 bytes (to their size up to 64); the
    address returned is the variable's direct-map alias (lm_alias()), through
    which every kernel accessor reaches it. kmemleak scans .data and .bss as
    roots. A variable that does not fit in the image's bss is a KmemsimError.
    """
    from kmemsim.errors import KmemsimError

    table = k.global_vars
    if name in table:
        return table[name][0]
    start, stop = bss_section(k)
    used = bss_used(k)
    align = min(max(8, 1 << max(int(size) - 1, 0).bit_length()), 64)
    phys = _align(start + used, align)
    if size <= 0 or phys + size > stop:
        raise KmemsimError(f"global_var({name!r}, {size}): no room in the kernel's .bss")
    addr = int(k.direct_map.phys_to_virt(phys))
    k.address_space.fill(addr, 0, size)
    table[name] = (addr, size)
    return addr
