"""Machine profiles: the TOML files of kmemsim/profiles/ and users' own, read strictly.

A profile is data only. This loader checks every table and key against the
schema below and turns a mistake (a typo in a key, a size such as "4X", a RAM
size the board cannot take) into one KmemsimError line naming the file and the
key, never a traceback.

Schema (see profiles/x86_64.toml for a commented example):

    [machine]  name, description, arch ("x86_64" | "i386" | "arm"), cpus,
               max_cpus, page_shift, big_endian
    [memory]   layout ("pc" | "e820" | "dt"), size, min_size, max_size,
               pci_hole_start, base, model, e820 = [[first, last, "type"], ...],
               reserved = [{start, end, type} | {name, base, size, no_map}, ...]
    [kernel]   start, end, code, rwdata, rodata, init, bss, initrd_start, initrd_size,
               percpu_static, smp_locks, ftrace_mcount_loc, ftrace_mcount_null,
               ftrace_mcount_init, trace_events, trace_event_fields
    [arch]     facts of the kernel build it pins (pglist_data_size, vmalloc_end)
    [kernel.symbols]  link-time symbol = physical address ("_etext", "_sdata", ...)
    [config]   KEY = value defaults for KernelConfig (Kconfig and boot parameters)
    [slab]     unknown_cache_flags = ["SLAB_...", ...], unknown_cache_align: how a
               cache a trace names and the profile does not know is created
               (kmem_cache_create(name, bytes_req, align, flags, NULL)); absent:
               no flags, align 0
    [[mmio]]   name, start, end, busy, late: a bus window or firmware range (inserted
               into /proc/iomem in this order), or with busy = true a boot-time driver's
               region; late = true places it after the e820 late reservations
    [[ioport]] name, start, end, busy: the same in the I/O port space (x86)
    [[device]] name, compatible, reg = [[start, size], ...], reg_names, interrupts,
               ioports = [[start, size], ...], model, params = {...},
               claims = [[start, end, name], ...], io_claims, driver, status
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from kmemsim.errors import KmemsimError
from kmemsim.hw.machine import (
    E820_TYPE_BY_NAME,
    ArchData,
    DeviceSpec,
    E820Entry,
    E820Type,
    KernelImage,
    Machine,
    MMIOWindow,
    ReservedMemory,
    SlabDecl,
    check_int,
)
from kmemsim.hw.physmem import PhysicalMemory

SHIPPED = ("x86_64", "linux-6.18-x86_64", "i386", "beaglebone-black")

_SCHEMA: dict[str, set[str]] = {
    "machine": {"name", "description", "arch", "cpus", "max_cpus", "page_shift", "big_endian"},
    "memory": {
        "layout",
        "size",
        "min_size",
        "max_size",
        "pci_hole_start",
        "base",
        "model",
        "e820",
        "reserved",
    },
    "kernel": {
        "start",
        "end",
        "code",
        "rwdata",
        "rodata",
        "init",
        "bss",
        "initrd_start",
        "initrd_size",
        "percpu_static",
        "smp_locks",
        "ftrace_mcount_loc",
        "ftrace_mcount_null",
        "ftrace_mcount_init",
        "trace_events",
        "trace_event_fields",
        "symbols",
    },
    "arch": {"pglist_data_size", "vmalloc_end"},
    "config": set(),  # checked against init/config.py OPTIONS
    "slab": {"unknown_cache_flags", "unknown_cache_align"},
    "mmio": {"name", "start", "end", "busy", "late"},
    "ioport": {"name", "start", "end", "busy", "late"},
    "device": {
        "name",
        "compatible",
        "reg",
        "reg_names",
        "interrupts",
        "ioports",
        "model",
        "params",
        "claims",
        "io_claims",
        "driver",
        "status",
    },
}

_ARRAY_TABLES = ("mmio", "ioport", "device")

_ARCHES = {"x86_64": 64, "i386": 32, "arm": 32}


def load_profile(profile: str | Path) -> tuple[dict[str, Any], str]:
    """The parsed TOML of a shipped profile name or a file path, and where it came from."""
    name = str(profile)
    if name in SHIPPED:
        raw = resources.files("kmemsim.profiles").joinpath(f"{name}.toml").read_bytes()
        source = f"profile {name}"
    else:
        path = Path(name)
        if not (name.endswith(".toml") or path.exists()):
            raise KmemsimError(
                f"unknown profile {name!r}: expected one of {', '.join(SHIPPED)} "
                "or the path of a profile .toml file"
            )
        try:
            raw = path.read_bytes()
        except OSError as e:
            raise KmemsimError(f"cannot read profile {name}: {e.strerror or e}") from None
        source = name
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        # TOML is UTF-8 (toml.io, "Spec"): say where the first bad byte is.
        line = raw.count(b"\n", 0, e.start) + 1
        raise KmemsimError(
            f"{source}:{line}: invalid TOML: byte {raw[e.start]:#04x} is not UTF-8 "
            "(a profile is UTF-8 text)"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise KmemsimError(f"{source}: invalid TOML: {e}") from None
    _check_schema(data, source)
    return data, source


def _check_schema(data: dict[str, Any], source: str) -> None:
    for table, value in data.items():
        if table not in _SCHEMA:
            raise KmemsimError(f"{source}: unknown table [{table}]")
        if table in _ARRAY_TABLES:
            if not isinstance(value, list):
                raise KmemsimError(f"{source}: {table} must be an array of tables ([[{table}]])")
            for i, entry in enumerate(value):
                _check_keys(entry, _SCHEMA[table], f"{table}[{i}]", source)
            continue
        if not isinstance(value, dict):
            raise KmemsimError(f"{source}: {table} must be a table ([{table}])")
        if table == "config":
            from kmemsim.init.config import KernelConfig

            try:
                KernelConfig(value)
            except KmemsimError as e:
                raise KmemsimError(f"{source}: [config]: {e}") from None
            continue
        _check_keys(value, _SCHEMA[table], table, source)
        if table == "slab":
            _check_slab(value, source)
    for required in ("machine", "memory", "kernel"):
        if required not in data:
            raise KmemsimError(f"{source}: missing table [{required}]")


def _check_slab(table: dict[str, Any], source: str) -> None:
    """[slab]: flag names of include/linux/slab.h, an alignment that is 0 or a power of two."""
    from kmemsim.include.linux.slab import SlabFlags

    flags = table.get("unknown_cache_flags", [])
    if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
        raise KmemsimError(f"{source}: slab.unknown_cache_flags must be a list of flag names")
    for f in flags:
        if f.removeprefix("SLAB_") not in SlabFlags.__members__:
            raise KmemsimError(f"{source}: slab.unknown_cache_flags: unknown flag {f!r}")
    align = table.get("unknown_cache_align", 0)
    if isinstance(align, bool) or not isinstance(align, int) or align < 0 or align & (align - 1):
        raise KmemsimError(
            f"{source}: slab.unknown_cache_align must be 0 or a power of two, got {align!r}"
        )


def _check_keys(table: Any, allowed: set[str], where: str, source: str) -> None:
    if not isinstance(table, dict):
        raise KmemsimError(f"{source}: {where} must be a table")
    for key in table:
        if key not in allowed:
            raise KmemsimError(f"{source}: unknown key {where}.{key}")


def _get_int(
    table: dict[str, Any], key: str, where: str, source: str, default: int | None = None
) -> int:
    if key not in table:
        if default is None:
            raise KmemsimError(f"{source}: missing key {where}.{key}")
        return default
    try:
        return check_int(table[key], f"{where}.{key}")
    except KmemsimError as e:
        raise KmemsimError(f"{source}: {e}") from None


def _parse_mem(mem: str | int) -> int:
    from kmemsim.lib.cmdline import memparse

    if isinstance(mem, bool):
        raise KmemsimError(f"bad size {mem!r}")
    size = mem if isinstance(mem, int) else memparse(str(mem))
    if size <= 0:
        raise KmemsimError(f"bad size {mem!r}: must be positive")
    return size


def build_machine(
    data: dict[str, Any], source: str, *, mem: str | int | None, cpus: int | None
) -> Machine:
    """Check a parsed profile and build its Machine with the user's mem/cpus applied."""
    m = data["machine"]
    name = str(m.get("name", source))
    arch = m.get("arch")
    if arch not in _ARCHES:
        raise KmemsimError(
            f"{source}: machine.arch must be one of {', '.join(_ARCHES)}, got {arch!r}"
        )
    page_shift = _get_int(m, "page_shift", "machine", source, 12)
    if page_shift != 12:
        raise KmemsimError(f"{source}: machine.page_shift: only 4 KiB pages (12) are modelled")
    big_endian = m.get("big_endian", False)
    if not isinstance(big_endian, bool):
        raise KmemsimError(f"{source}: machine.big_endian must be true or false")

    config = dict(data.get("config", {}))
    from kmemsim.init.config import KernelConfig

    nr_cpus = int(KernelConfig(config)["NR_CPUS"])
    default_cpus = _get_int(m, "cpus", "machine", source, 1)
    max_cpus = min(_get_int(m, "max_cpus", "machine", source, nr_cpus), nr_cpus)
    ncpus = default_cpus if cpus is None else cpus
    if isinstance(ncpus, bool) or not isinstance(ncpus, int):
        raise KmemsimError(f"bad CPU count {cpus!r}: expected an integer")
    if ncpus < 1:
        raise KmemsimError(f"bad CPU count {ncpus}: a machine needs at least one CPU")
    if ncpus > max_cpus:
        raise KmemsimError(
            f"bad CPU count {ncpus}: {name} takes at most {max_cpus} CPUs"
            + (f" (NR_CPUS={nr_cpus})" if max_cpus == nr_cpus else "")
        )

    memory = data["memory"]
    layout = memory.get("layout")
    machine = Machine(
        name=name,
        arch=arch,
        bits=_ARCHES[arch],
        cpus=ncpus,
        page_shift=page_shift,
        big_endian=big_endian,
        ram=PhysicalMemory(page_shift, big_endian=big_endian),
        ram_banks=[],
        kernel_image=_kernel_image(data["kernel"], source),
        profile_config=config,
        arch_data=ArchData(
            **{k: _get_int(data.get("arch", {}), k, "arch", source) for k in data.get("arch", {})}
        ),
        source=source,
        slab=SlabDecl(
            unknown_cache_align=data.get("slab", {}).get("unknown_cache_align", 0),
            unknown_cache_flags=tuple(data.get("slab", {}).get("unknown_cache_flags", ())),
        ),
    )
    for table, out in (("mmio", machine.mmio), ("ioport", machine.ioports)):
        for i, w in enumerate(data.get(table, [])):
            where = f"{table}[{i}]"
            start = _get_int(w, "start", where, source)
            end = _get_int(w, "end", where, source)
            if end < start:
                raise KmemsimError(f"{source}: {where}: end below start")
            out.append(
                MMIOWindow(
                    str(w.get("name", f"{table}{i}")),
                    start,
                    end,
                    _get_bool(w, "busy", where, source),
                    _get_bool(w, "late", where, source),
                )
            )
    machine.devices = [
        _device(d, f"device[{i}]", source) for i, d in enumerate(data.get("device", []))
    ]
    if arch == "arm":  # the L3 interconnect answers an undecoded address with an error
        machine.bus.undecoded_reads_ones = False
    if layout == "pc":
        _build_pc(machine, memory, source, mem)
    elif layout == "e820":
        _build_e820(machine, memory, source, mem)
    elif layout == "dt":
        _build_dt(machine, memory, source, mem)
    else:
        raise KmemsimError(f"{source}: memory.layout must be pc, e820 or dt, got {layout!r}")
    machine.attach_profile_devices()
    return machine


def _get_bool(table: dict[str, Any], key: str, where: str, source: str) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        raise KmemsimError(f"{source}: {where}.{key} must be true or false")
    return value


def _int_rows(value: Any, width: int, where: str, source: str, what: str) -> list[Any]:
    """A list of rows of `width` items, integers (sizes allowed) except a last name."""
    if not isinstance(value, list):
        raise KmemsimError(f"{source}: {where}: expected a list of {what}")
    rows: list[Any] = []
    for j, row in enumerate(value):
        if not (isinstance(row, list) and len(row) == width):
            raise KmemsimError(f"{source}: {where}[{j}]: expected {what}")
        try:
            if width == 3:
                if not isinstance(row[2], str):
                    raise KmemsimError(f"{where}[{j}]: expected {what}")
                rows.append((check_int(row[0], where), check_int(row[1], where), row[2]))
            else:
                rows.append(tuple(check_int(x, where) for x in row))
        except KmemsimError as e:
            raise KmemsimError(f"{source}: {e}") from None
    return rows


def _str_list(value: Any, where: str, source: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise KmemsimError(f"{source}: {where}: expected a string or a list of strings")
    return tuple(value)


def _device(d: dict[str, Any], where: str, source: str) -> DeviceSpec:
    """One [[device]] table: a device-tree-like node of the board."""
    if not isinstance(d.get("name"), str) or not d["name"]:
        raise KmemsimError(f"{source}: {where}.name: expected the device's name")
    ints = d.get("interrupts", [])
    if not isinstance(ints, list) or not all(
        isinstance(x, int) and not isinstance(x, bool) for x in ints
    ):
        raise KmemsimError(f"{source}: {where}.interrupts: expected a list of integers")
    params = d.get("params", {})
    if not isinstance(params, dict):
        raise KmemsimError(f"{source}: {where}.params must be a table")
    for key in ("model", "driver", "status"):
        if key in d and not isinstance(d[key], str):
            raise KmemsimError(f"{source}: {where}.{key}: expected a string")
    return DeviceSpec(
        name=d["name"],
        compatible=_str_list(d.get("compatible", []), f"{where}.compatible", source),
        reg=tuple(_int_rows(d.get("reg", []), 2, f"{where}.reg", source, "[start, size]")),
        reg_names=_str_list(d.get("reg_names", []), f"{where}.reg_names", source),
        interrupts=tuple(ints),
        ioports=tuple(
            _int_rows(d.get("ioports", []), 2, f"{where}.ioports", source, "[start, size]")
        ),
        model=str(d.get("model", "")),
        params=tuple(sorted(params.items())),
        claims=tuple(
            _int_rows(d.get("claims", []), 3, f"{where}.claims", source, "[start, end, name]")
        ),
        io_claims=tuple(
            _int_rows(d.get("io_claims", []), 3, f"{where}.io_claims", source, "[start, end, name]")
        ),
        driver=str(d.get("driver", "")),
        status=str(d.get("status", "okay")),
    )


def _kernel_image(k: dict[str, Any], source: str) -> KernelImage:
    image = _kernel_image_fields(k, source)
    slots = image.ftrace_mcount_loc
    if not 0 <= image.ftrace_mcount_null <= slots:
        raise KmemsimError(
            f"{source}: kernel.ftrace_mcount_null: {image.ftrace_mcount_null} NULL slots "
            f"of {slots} (ftrace_mcount_loc)"
        )
    if not 0 <= image.ftrace_mcount_init <= slots - image.ftrace_mcount_null:
        raise KmemsimError(
            f"{source}: kernel.ftrace_mcount_init: {image.ftrace_mcount_init} .init.text "
            f"sites of {slots - image.ftrace_mcount_null} (ftrace_mcount_loc less the NULL slots)"
        )
    return image


def _kernel_image_fields(k: dict[str, Any], source: str) -> KernelImage:
    return KernelImage(
        start=_get_int(k, "start", "kernel", source),
        end=_get_int(k, "end", "kernel", source),
        code=_get_int(k, "code", "kernel", source),
        rwdata=_get_int(k, "rwdata", "kernel", source),
        rodata=_get_int(k, "rodata", "kernel", source),
        init=_get_int(k, "init", "kernel", source),
        bss=_get_int(k, "bss", "kernel", source),
        initrd_start=_get_int(k, "initrd_start", "kernel", source, 0),
        initrd_size=_get_int(k, "initrd_size", "kernel", source, 0),
        percpu_static=_get_int(k, "percpu_static", "kernel", source, 0),
        smp_locks=_get_int(k, "smp_locks", "kernel", source, 0),
        ftrace_mcount_loc=_get_int(k, "ftrace_mcount_loc", "kernel", source, 0),
        ftrace_mcount_null=_get_int(k, "ftrace_mcount_null", "kernel", source, 0),
        ftrace_mcount_init=_get_int(k, "ftrace_mcount_init", "kernel", source, 0),
        trace_events=_get_int(k, "trace_events", "kernel", source, 0),
        trace_event_fields=_get_int(k, "trace_event_fields", "kernel", source, 0),
        symbols=_symbols(k.get("symbols", {}), source),
    )


def _symbols(table: Any, source: str) -> tuple[tuple[str, int], ...]:
    if not isinstance(table, dict):
        raise KmemsimError(f"{source}: kernel.symbols must be a table")
    return tuple((name, _get_int(table, name, "kernel.symbols", source)) for name in table)


def _size_limits(memory: dict[str, Any], source: str, name: str, size: int) -> None:
    lo = _get_int(memory, "min_size", "memory", source, 0)
    hi = _get_int(memory, "max_size", "memory", source, 1 << 62)
    if size < lo:
        raise KmemsimError(f"bad memory size {_human(size)}: {name} needs at least {_human(lo)}")
    if size > hi:
        raise KmemsimError(f"bad memory size {_human(size)}: {name} takes at most {_human(hi)}")


def _human(size: int) -> str:
    for shift, unit in ((40, "T"), (30, "G"), (20, "M"), (10, "K")):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift}{unit}"
    return f"{size} bytes"


def _e820_type(value: Any, where: str, source: str) -> E820Type:
    t = E820_TYPE_BY_NAME.get(str(value).lower()) if isinstance(value, str) else None
    if t is None and isinstance(value, int) and not isinstance(value, bool):
        try:
            t = E820Type(value)
        except ValueError:
            t = None
    if t is None:
        raise KmemsimError(f"{source}: {where}: unknown e820 type {value!r}")
    return t


def _fixed_ranges(memory: dict[str, Any], source: str) -> list[E820Entry]:
    out = []
    for i, r in enumerate(memory.get("reserved", [])):
        where = f"memory.reserved[{i}]"
        _check_keys(r, {"start", "end", "type"}, where, source)
        start = _get_int(r, "start", where, source)
        end = _get_int(r, "end", where, source)
        out.append(
            E820Entry(start, end - start + 1, _e820_type(r.get("type", "reserved"), where, source))
        )
    return out


def _build_pc(machine: Machine, memory: dict[str, Any], source: str, mem: str | int | None) -> None:
    """A PC chipset's map: 640K low RAM, 1M..PCI hole, the remainder above 4 GiB."""
    size = _get_int(memory, "size", "memory", source) if mem is None else _parse_mem(mem)
    _size_limits(memory, source, machine.name, size)
    hole = _get_int(memory, "pci_hole_start", "memory", source, 0xC0000000)
    low_top = min(size, hole)
    entries = [
        E820Entry(0, 0x9FC00, E820Type.RAM),
        E820Entry(0x9FC00, 0x100000 - 0x9FC00, E820Type.RESERVED),
    ]
    entries.append(E820Entry(0x100000, low_top - 0x100000, E820Type.RAM))
    banks = [(0, 0x9FC00), (0x100000, low_top - 0x100000)]
    entries += _fixed_ranges(memory, source)
    if size > hole:
        entries.append(E820Entry(1 << 32, size - hole, E820Type.RAM))
        banks.append((1 << 32, size - hole))
    machine.e820 = sorted(entries, key=lambda e: e.addr)
    machine.ram_banks = banks


def _build_e820(
    machine: Machine, memory: dict[str, Any], source: str, mem: str | int | None
) -> None:
    """A recorded firmware table; --mem is the kernel's mem= limit."""
    table = memory.get("e820")
    if not isinstance(table, list) or not table:
        raise KmemsimError(f"{source}: memory.e820 must be a list of [first, last, type]")
    for i, row in enumerate(table):
        where = f"memory.e820[{i}]"
        if not (isinstance(row, list) and len(row) == 3):
            raise KmemsimError(f"{source}: {where}: expected [first, last, type]")
        first = check_int(row[0], where)
        last = check_int(row[1], where)
        if last < first:
            raise KmemsimError(f"{source}: {where}: last address below first")
        machine.e820.append(E820Entry(first, last - first + 1, _e820_type(row[2], where, source)))
    machine.ram_banks = [(e.addr, e.size) for e in machine.e820 if e.type == E820Type.RAM]
    if mem is not None:
        limit = _parse_mem(mem)
        if limit < 0x1000000:
            raise KmemsimError(
                f"bad memory size {_human(limit)}: mem= below 16M leaves {machine.name} "
                "no room for its kernel"
            )
        machine.mem_limit = limit


def _build_dt(machine: Machine, memory: dict[str, Any], source: str, mem: str | int | None) -> None:
    """A device-tree board: one /memory bank at `base`, plus /reserved-memory."""
    base = _get_int(memory, "base", "memory", source)
    size = _get_int(memory, "size", "memory", source) if mem is None else _parse_mem(mem)
    _size_limits(memory, source, machine.name, size)
    if size % (1 << 20):
        raise KmemsimError(f"bad memory size {size}: {machine.name} RAM comes in whole MiB")
    machine.dt_memory = [(base, size)]
    machine.ram_banks = [(base, size)]
    machine.dt_model = str(memory.get("model", machine.name))
    for i, r in enumerate(memory.get("reserved", [])):
        where = f"memory.reserved[{i}]"
        _check_keys(r, {"name", "base", "size", "no_map"}, where, source)
        machine.dt_reserved.append(
            ReservedMemory(
                str(r.get("name", f"reserved{i}")),
                _get_int(r, "base", where, source),
                _get_int(r, "size", where, source),
                bool(r.get("no_map", False)),
            )
        )
