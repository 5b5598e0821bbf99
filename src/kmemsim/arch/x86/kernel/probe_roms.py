"""Model of arch/x86/kernel/probe_roms.c: the BIOS ROM resources of the legacy first MiB.

probe_roms() looks for option ROMs (the 0x55 0xAA signature) in the ISA hole
and always claims the system BIOS at 0xf0000-0xfffff as "System ROM"
(IORESOURCE_BUSY | IORESOURCE_READONLY | IORESOURCE_MEM), with
request_resource() before the e820 entries are inserted, so that it ends up
below the "Reserved" 640K-1M entry. A simulated machine's ISA hole holds no
option ROM, so only the system ROM is there (as on the captured VM).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmemsim.include.linux.ioport import (
    IORESOURCE_BUSY,
    IORESOURCE_MEM,
    IORESOURCE_READONLY,
    Resource,
)

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel


def probe_roms(k: Kernel) -> None:
    """probe_roms(): the "System ROM" resource (no option ROMs on the simulated PC)."""
    rom = Resource(
        start=0xF0000,
        end=0xFFFFF,
        name="System ROM",
        flags=IORESOURCE_BUSY | IORESOURCE_READONLY | IORESOURCE_MEM,
    )
    k.resource.request_resource(k.resource.iomem_resource, rom)
