"""The simulated machine: RAM banks, firmware memory map, MMIO windows and CPUs.

This is the hardware and firmware side of a boot, what the kernel finds when
it starts: on a PC the BIOS/UEFI e820 table (int 15h, AX=E820h: a list of
physical ranges with a type, usable RAM among them), on an ARM board the
device tree's /memory node and /reserved-memory children. The kernel's own
view of memory (memblock, zones) is built from this by arch/ and mm/.

A machine comes from a profile (profiles/*.toml, loaded and checked by
hw/profile.py). Its RAM is a sparse PhysicalMemory, so the simulated size
costs nothing until pages are written.

Three ways a profile may describe its memory:

* ``layout = "pc"``: a generic PC whose RAM size is set by ``--mem``. As on a
  PC chipset (and QEMU's), RAM fills the 640 KiB below the EBDA, then from
  1 MiB up to the start of the 32-bit PCI hole; the rest is remapped above
  4 GiB. The fixed firmware and MMIO ranges come from the profile.
* ``layout = "e820"``: a recorded e820 table (the linux-6.18-x86_64 machine).
  The RAM is what the table says; ``--mem`` then acts as the kernel's
  ``mem=`` boot parameter (arch/x86/kernel/e820.c parse_memopt): usable RAM
  at and above that physical address is removed from the map.
* ``layout = "dt"``: a device-tree board (beaglebone-black): one RAM bank at
  the /memory node's base; ``--mem`` sets its size within what the board can
  take.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kmemsim.errors import KmemsimError
from kmemsim.hw.mmio import Bus, MMIODevice
from kmemsim.hw.physmem import PhysicalMemory


class E820Type(enum.IntEnum):
    """enum e820_type of arch/x86/include/asm/e820/types.h."""

    RAM = 1
    RESERVED = 2
    ACPI = 3
    NVS = 4
    UNUSABLE = 5
    PMEM = 7
    PRAM = 12
    SOFT_RESERVED = 0xEFFFFFFF

    @property
    def label(self) -> str:
        """The word e820_print_type() prints for this type."""
        return _E820_LABELS[self]


_E820_LABELS = {
    E820Type.RAM: "usable",
    E820Type.RESERVED: "reserved",
    E820Type.ACPI: "ACPI data",
    E820Type.NVS: "ACPI NVS",
    E820Type.UNUSABLE: "unusable",
    E820Type.PMEM: "persistent (type 7)",
    E820Type.PRAM: "persistent (type 12)",
    E820Type.SOFT_RESERVED: "soft reserved",
}

# Names a profile may use for a type: the printed label, in any case, or a short name.
E820_TYPE_BY_NAME = {label.lower(): t for t, label in _E820_LABELS.items()} | {
    "ram": E820Type.RAM,
    "acpi": E820Type.ACPI,
    "nvs": E820Type.NVS,
    "pmem": E820Type.PMEM,
    "pram": E820Type.PRAM,
    "soft_reserved": E820Type.SOFT_RESERVED,
}


@dataclass(frozen=True, slots=True)
class E820Entry:
    """struct e820_entry: [addr, addr + size) of one type."""

    addr: int
    size: int
    type: E820Type

    @property
    def end(self) -> int:
        """One past the last byte."""
        return self.addr + self.size


@dataclass(frozen=True, slots=True)
class ReservedMemory:
    """A device-tree /reserved-memory child (or /memreserve/): firmware keeps it."""

    name: str
    base: int
    size: int
    no_map: bool = False


@dataclass(frozen=True, slots=True)
class MMIOWindow:
    """A physical address (or I/O port) range that firmware, a bus or a boot-time driver holds.

    Not busy: a bus window or firmware range, placed with insert_resource()
    (it may nest what is already there). Busy: a region a built-in driver
    claimed while booting (__request_region()), as /proc/iomem shows it."""

    name: str
    start: int
    end: int  # inclusive, as /proc/iomem prints it
    busy: bool = False
    # Placed by a late_initcall (after the e820 late reservations), as x86's IOAPIC is.
    late: bool = False


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """A device of the board, as a device-tree node (or an ACPI/ISA device) describes it.

    `name` is its device name ("44e09000.serial"), `compatible` its
    compatible strings, `reg` its MMIO ranges as (start, size) with
    `reg_names`, `interrupts` its interrupt numbers, `ioports` its I/O port
    ranges (x86). `model` names the simulated hardware behind it (hw/devices.py;
    "" when none is simulated) with `params` for it. `claims` and `io_claims`
    are the regions its built-in driver requested at boot, as
    (start, end, name), and `driver` that driver's name ("" when the device
    is left for the user's drivers)."""

    name: str
    compatible: tuple[str, ...] = ()
    reg: tuple[tuple[int, int], ...] = ()
    reg_names: tuple[str, ...] = ()
    interrupts: tuple[int, ...] = ()
    ioports: tuple[tuple[int, int], ...] = ()
    model: str = ""
    params: tuple[tuple[str, Any], ...] = ()
    claims: tuple[tuple[int, int, str], ...] = ()
    io_claims: tuple[tuple[int, int, str], ...] = ()
    driver: str = ""
    status: str = "okay"


@dataclass(frozen=True, slots=True)
class KernelImage:
    """Where the kernel image sits in RAM and how big its sections are.

    The sizes are what mem_init_print_info() prints on the "Memory:" line
    (_etext - _stext, _edata - _sdata, rodata, init text + data, bss), in
    bytes; `start` and `end` are the physical span memblock reserves for the
    image (_text to _end)."""

    start: int
    end: int
    code: int
    rwdata: int
    rodata: int
    init: int
    bss: int
    initrd_start: int = 0
    initrd_size: int = 0
    # __per_cpu_end - __per_cpu_start, the static per-CPU variables of the image
    # (the "s" of "percpu: Embedded ... s185496"); 0 when the profile does not say.
    percpu_static: int = 0
    # __smp_locks_end - __smp_locks (.smp_locks, page aligned), after __init_end.
    smp_locks: int = 0
    # __mcount_loc of a CONFIG_DYNAMIC_FTRACE build: its slots, how many are NULL (linker
    # padding, weak functions) and how many sites lie in .init.text (kernel/trace/ftrace.py).
    ftrace_mcount_loc: int = 0
    ftrace_mcount_null: int = 0
    ftrace_mcount_init: int = 0
    # The trace events built in (__start_ftrace_events) and the fields their classes
    # define, common and generic fields apart (kernel/trace/trace_events.py).
    trace_events: int = 0
    trace_event_fields: int = 0
    # Link-time symbols the profile pins (physical addresses: "_etext", "_sdata",
    # "__bss_start", ...); the others are laid out by arch/sections.py.
    symbols: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class ArchData:
    """The profile's [arch] table: facts of its kernel build the architecture code needs."""

    # sizeof(pg_data_t) (x86_64 NODE_DATA from memblock): 0x2ab00 in the 6.18 builds of the
    # shipped x86_64 profiles ("NODE_DATA(0) allocated [mem 0x63ffd5500-0x63fffffff]").
    pglist_data_size: int = 0x2AB00
    # i386 VMALLOC_END when the build pins it (PKMAP_BASE - 2 pages); None: the default.
    vmalloc_end: int | None = None


@dataclass(frozen=True, slots=True)
class SlabDecl:
    """The profile's [slab] table: what it declares of its kernel's slab caches.

    A cache the profile does not know (a trace's cache, say) is created with
    kmem_cache_create(name, size, unknown_cache_align, unknown_cache_flags, NULL)."""

    unknown_cache_align: int = 0
    unknown_cache_flags: tuple[str, ...] = ()


@dataclass(eq=False)
class Machine:
    """One simulated computer, built from a profile."""

    name: str
    arch: str  # "x86_64" | "i386" | "arm"
    bits: int
    cpus: int
    page_shift: int
    big_endian: bool
    ram: PhysicalMemory
    # RAM banks as (base, size): what is really there, holes excluded.
    ram_banks: list[tuple[int, int]]
    kernel_image: KernelImage
    # x86: the BIOS-provided e820 table, in firmware order.
    e820: list[E820Entry] = field(default_factory=list)
    # ARM: the device tree's /memory banks and /reserved-memory.
    dt_memory: list[tuple[int, int]] = field(default_factory=list)
    dt_reserved: list[ReservedMemory] = field(default_factory=list)
    dt_model: str = ""
    mmio: list[MMIOWindow] = field(default_factory=list)
    # I/O port ranges of buses and boot-time drivers (x86), in the order they appear.
    ioports: list[MMIOWindow] = field(default_factory=list)
    devices: list[DeviceSpec] = field(default_factory=list)
    # KEY -> value defaults fed into KernelConfig before the user's --config.
    profile_config: dict[str, Any] = field(default_factory=dict)
    # The kernel's `mem=` limit when the profile's map is fixed (0: none).
    mem_limit: int = 0
    # Architecture facts the profile pins (sizeof(pg_data_t), ...).
    arch_data: ArchData = field(default_factory=ArchData)
    source: str = ""
    # The profile's [slab] table: what it declares of its kernel's slab caches.
    slab: SlabDecl = field(default_factory=SlabDecl)
    # The buses devices sit on: the physical address space (MMIO), and the x86 port space.
    bus: Bus = field(default_factory=lambda: Bus("mmio", undecoded_reads_ones=True))
    ports: Bus = field(default_factory=lambda: Bus("ioport", undecoded_reads_ones=True))
    # What the console UARTs transmitted.
    console_output: bytearray = field(default_factory=bytearray)
    # The simulated devices of the profile's [[device]] tables, by device name.
    device_models: dict[str, MMIODevice] = field(default_factory=dict)

    @property
    def page_size(self) -> int:
        return 1 << self.page_shift

    @property
    def ram_size(self) -> int:
        """Bytes of RAM installed (the banks, holes excluded)."""
        return sum(size for _, size in self.ram_banks)

    def is_ram(self, paddr: int, size: int) -> bool:
        """Is [paddr, paddr + size) inside one RAM bank?"""
        return any(b <= paddr and paddr + size <= b + n for b, n in self.ram_banks)

    def add_device(self, dev: MMIODevice, base: int, *, port: bool = False) -> MMIODevice:
        """Put a simulated device on the machine: at physical address `base`, or at I/O
        port `base` with port=True (x86). A console UART's output goes to the console."""
        from kmemsim.hw.devices import UART16550, DMAEngine

        if isinstance(dev, UART16550) and dev.console:
            dev.output = self.console_output.extend
        if isinstance(dev, DMAEngine):
            dev.ram = self.ram
            dev.is_ram = self.is_ram
        (self.ports if port else self.bus).attach(dev, base)
        return dev

    def attach_profile_devices(self) -> None:
        """Build the simulated hardware of every [[device]] that names a model."""
        from kmemsim.hw.devices import MODELS

        for spec in self.devices:
            if not spec.model:
                continue
            cls = MODELS.get(spec.model)
            if cls is None:
                raise KmemsimError(
                    f"{self.source}: device {spec.name}: unknown model {spec.model!r} "
                    f"(expected one of {', '.join(sorted(MODELS))})"
                )
            try:
                dev = cls(spec.name, **dict(spec.params))
            except (TypeError, ValueError) as e:
                raise KmemsimError(f"{self.source}: device {spec.name}: bad params: {e}") from None
            if spec.reg:
                dev.size = spec.reg[0][1]  # the device decodes its whole reg window
                self.add_device(dev, spec.reg[0][0])
            elif spec.ioports:
                self.add_device(dev, spec.ioports[0][0], port=True)
            else:
                raise KmemsimError(f"{self.source}: device {spec.name}: no reg or ioports")
            self.device_models[spec.name] = dev

    @classmethod
    def from_profile(
        cls, profile: str | Path, mem: str | int | None = None, cpus: int | None = None
    ) -> Machine:
        """The machine of a shipped profile name or a profile TOML path.

        `mem` and `cpus` override the profile's RAM size and CPU count where the
        profile allows (see the module docstring); KmemsimError otherwise.
        """
        from kmemsim.hw.profile import build_machine, load_profile

        data, source = load_profile(profile)
        return build_machine(data, source, mem=mem, cpus=cpus)


def check_int(value: Any, where: str) -> int:
    """A profile integer (TOML ints, or size strings such as "512M")."""
    from kmemsim.lib.cmdline import memparse

    if isinstance(value, bool):
        raise KmemsimError(f"{where}: expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return memparse(value)
        except KmemsimError:
            pass
    raise KmemsimError(f"{where}: expected an integer or a size, got {value!r}")
