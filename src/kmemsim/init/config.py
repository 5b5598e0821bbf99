"""Kernel configuration and boot parameters of a simulated machine.

Two kinds of knobs decide how a kernel manages memory: Kconfig options fixed
when it was built (CONFIG_SLUB_TINY, CONFIG_HIGHMEM, CONFIG_VMSPLIT_2G, ...)
and parameters given on the kernel command line or in /proc/sys/vm
(min_free_kbytes, slub_max_order, slab_nomerge, ...). kmemsim takes both as
KEY=VALUE: a profile sets its defaults, `config={...}` or `--config KEY=VALUE`
overrides them. Kconfig names may be written with or without "CONFIG_".

Each option is declared once in OPTIONS with its type, default and the kernel
source it comes from; an unknown key or a value of the wrong type is the
user's mistake and raises KmemsimError with one line that says why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kmemsim.errors import KmemsimError
from kmemsim.kernel.time.jiffies import HZ_CHOICES

if TYPE_CHECKING:
    from kmemsim.arch.facts import ArchFacts
    from kmemsim.hw.machine import KernelImage


def parse_bool(value: object) -> bool:
    """y/n, yes/no, on/off, 1/0, true/false, and Python bools."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("y", "yes", "on", "1", "true", "m"):
        return True
    if text in ("n", "no", "off", "0", "false", ""):
        return False
    raise ValueError("expected y or n")


def parse_int(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer")
    if isinstance(value, int):
        return value
    return int(str(value).strip(), 0)


def parse_size(value: object) -> int:
    """A size in bytes with the kernel's K/M/G/T/P/E suffixes (lib/cmdline.c memparse)."""
    from kmemsim.lib.cmdline import memparse

    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return memparse(str(value))


def parse_str(value: object) -> str:
    return str(value)


def parse_ratio_list(value: object) -> str:
    """The lowmem_reserve_ratio sysctl: integers separated by blanks or commas.

    As lowmem_reserve_ratio_sysctl_handler() does, a value below 1 means 0
    (no protection). Returned normalised, blank-separated.
    """
    parts = str(value).replace(",", " ").split()
    if not parts:
        raise ValueError("expected integers such as '256 256 32 0 0'")
    try:
        numbers = [int(p, 0) for p in parts]
    except ValueError:
        raise ValueError("expected integers such as '256 256 32 0 0'") from None
    return " ".join(str(max(n, 0)) for n in numbers)


@dataclass(frozen=True, slots=True)
class Option:
    """One configuration knob: its parser, its default and where the kernel defines it."""

    name: str
    parse: Callable[[object], Any]
    default: Any
    source: str
    help: str
    choices: tuple[str, ...] = ()


def _opt(
    name: str,
    parse: Callable[[object], Any],
    default: Any,
    source: str,
    help: str,
    choices: tuple[str, ...] = (),
) -> tuple[str, Option]:
    return name, Option(name, parse, default, source, help, choices)


# Every knob kmemsim knows. Subsystems add theirs here, one line each.
OPTIONS: dict[str, Option] = dict(
    [
        # --- machine and page allocator -----------------------------------
        _opt("NR_CPUS", parse_int, 256, "arch/x86/Kconfig", "compile-time CPU limit"),
        _opt(
            "MODULES",
            parse_bool,
            True,
            "kernel/module/Kconfig",
            "loadable modules: 8K of each per-CPU unit reserved for their variables",
        ),
        _opt(
            "PARAVIRT_SPINLOCKS",
            parse_bool,
            False,
            "arch/x86/Kconfig",
            "x86 KVM guest with PV spinlocks: the PV qspinlock hash table at boot",
        ),
        _opt("HIGHMEM", parse_bool, False, "arch/x86/Kconfig", "32-bit highmem support"),
        _opt(
            "VMSPLIT",
            parse_str,
            "3G",
            "arch/x86/Kconfig",
            "user/kernel split on 32-bit",
            ("3G", "3G_OPT", "2G", "2G_OPT", "1G"),
        ),
        _opt(
            "HZ",
            parse_int,
            250,
            "kernel/Kconfig.hz",
            "timer ticks per second (jiffies)",
        ),
        _opt("ZONE_DMA", parse_bool, True, "mm/Kconfig", "have ZONE_DMA"),
        _opt(
            "X86_5LEVEL",
            parse_bool,
            False,
            "arch/x86/Kconfig",
            "5-level paging (LA57): the 56-bit x86_64 layout",
        ),
        _opt(
            "RANDOMIZE_MEMORY",
            parse_bool,
            False,
            "arch/x86/Kconfig",
            "randomize the direct map, vmalloc and vmemmap bases (kaslr_seed)",
        ),
        _opt(
            "nokaslr",
            parse_bool,
            False,
            "arch/x86/include/asm/setup.h",
            "KASLR off at run time (kaslr_enabled() false): RANDOMIZE_MEMORY leaves the bases",
        ),
        _opt(
            "TASKS_RCU",
            parse_bool,
            False,
            "kernel/rcu/Kconfig",
            "Tasks RCU: the rcu_tasks_kthread at boot",
        ),
        _opt(
            "TASKS_RUDE_RCU",
            parse_bool,
            False,
            "kernel/rcu/Kconfig",
            "Tasks Rude RCU: the rcu_tasks_rude_kthread at boot",
        ),
        _opt(
            "TASKS_TRACE_RCU",
            parse_bool,
            False,
            "kernel/rcu/Kconfig",
            "Tasks Trace RCU: the rcu_tasks_trace_kthread at boot",
        ),
        _opt(
            "IDLE_INJECT",
            parse_bool,
            False,
            "drivers/powercap/Kconfig",
            "idle injection: an idle_inject/N thread per CPU",
        ),
        _opt(
            "LOG_BUF_SHIFT",
            parse_int,
            17,
            "init/Kconfig",
            "the static kernel log buffer: 2**N bytes",
        ),
        _opt(
            "LOG_CPU_MAX_BUF_SHIFT",
            parse_int,
            12,
            "init/Kconfig",
            "log buffer bytes each CPU past the first may add at boot (2**N)",
        ),
        _opt(
            "TRACING",
            parse_bool,
            False,
            "kernel/trace/Kconfig",
            "the tracing core: ring buffers and saved cmdlines from early_trace_init()",
        ),
        _opt(
            "DYNAMIC_FTRACE",
            parse_bool,
            False,
            "kernel/trace/Kconfig",
            "dyn_ftrace records for every mcount site, from ftrace_init() (profile [kernel])",
        ),
        _opt(
            "TRACER_MAX_TRACE",
            parse_bool,
            False,
            "kernel/trace/Kconfig",
            "latency tracers' max (snapshot) buffer beside the global one",
        ),
        _opt(
            "X86_ESPFIX64",
            parse_bool,
            True,
            "arch/x86/Kconfig",
            "x86_64 with X86_16BIT: per-CPU espfix stacks (init_espfix_bsp)",
        ),
        _opt(
            "pti",
            parse_bool,
            False,
            "arch/x86/mm/pti.c",
            "page table isolation at run time (a CPU with Meltdown, or pti=on): order-1 PGDs",
        ),
        _opt(
            "nogbpages",
            parse_bool,
            False,
            "arch/x86/mm/init.c",
            "no 1 GiB pages in the x86_64 direct map (CPU without pdpe1gb, or nogbpages)",
        ),
        _opt(
            "MEMORY_ISOLATION",
            parse_bool,
            False,
            "mm/Kconfig",
            "pageblock isolation (selected by MEMORY_HOTPLUG, CMA): 8 pageblock bits, not 4",
        ),
        _opt(
            "RANDOMIZE_BASE",
            parse_bool,
            False,
            "arch/x86/Kconfig",
            "KASLR build: KERNEL_IMAGE_SIZE 1 GiB (modules from 0xffffffffc0000000)",
        ),
        _opt(
            "kaslr_seed",
            parse_int,
            0,
            "arch/x86/mm/kaslr.c",
            'what kaslr_get_random_long("Memory") returns (RANDOMIZE_MEMORY)',
        ),
        _opt(
            "vmalloc",
            parse_size,
            0,
            "arch/x86/mm/pgtable_32.c, arch/arm/mm/mmu.c",
            "vmalloc= boot parameter: size of the 32-bit vmalloc area (0: default)",
        ),
        _opt("ZONE_DMA32", parse_bool, True, "mm/Kconfig", "have ZONE_DMA32"),
        _opt(
            "ARCH_FORCE_MAX_ORDER",
            parse_int,
            10,
            "include/linux/mmzone.h",
            "MAX_PAGE_ORDER: the largest buddy order",
        ),
        _opt(
            "TRANSPARENT_HUGEPAGE",
            parse_bool,
            True,
            "mm/Kconfig",
            "THP (khugepaged raises min_free_kbytes)",
        ),
        _opt(
            "DEFERRED_STRUCT_PAGE_INIT",
            parse_bool,
            False,
            "mm/Kconfig",
            "initialise most struct pages after boot",
        ),
        _opt(
            "init_on_alloc",
            parse_bool,
            False,
            "mm/mm_init.c",
            "zero every page and slab object when allocated (CONFIG_INIT_ON_ALLOC_DEFAULT_ON)",
        ),
        _opt(
            "init_on_free",
            parse_bool,
            False,
            "mm/mm_init.c",
            "zero every page and slab object when freed (CONFIG_INIT_ON_FREE_DEFAULT_ON)",
        ),
        _opt(
            "min_free_kbytes",
            parse_int,
            None,
            "mm/page_alloc.c",
            "reserve below which only atomic/emergency allocations go (default: computed)",
        ),
        _opt(
            "watermark_scale_factor",
            parse_int,
            10,
            "mm/page_alloc.c",
            "distance between watermarks, in 1/10000 of the zone",
        ),
        _opt(
            "watermark_boost_factor",
            parse_int,
            15000,
            "mm/page_alloc.c",
            "watermark boost after fragmentation events",
        ),
        _opt(
            "percpu_pagelist_high_fraction",
            parse_int,
            0,
            "mm/page_alloc.c",
            "per-cpu page list high mark as a fraction of the zone (0: default)",
        ),
        _opt(
            "lowmem_reserve_ratio",
            parse_ratio_list,
            "256 256 32 0 0",
            "mm/page_alloc.c",
            "lower zones' protection against higher-zone allocations",
        ),
        _opt("movablecore", parse_size, 0, "mm/mm_init.c", "size of ZONE_MOVABLE"),
        _opt("kernelcore", parse_size, 0, "mm/mm_init.c", "memory not movable"),
        _opt("page_alloc.shuffle", parse_bool, False, "mm/shuffle.c", "randomise the free lists"),
        _opt("ZSWAP", parse_bool, False, "mm/Kconfig", "zswap (meminfo Zswap lines)"),
        _opt("overcommit_ratio", parse_int, 50, "mm/util.c", "CommitLimit: percent of RAM"),
        _opt("overcommit_kbytes", parse_int, 0, "mm/util.c", "CommitLimit in kB (0: ratio)"),
        _opt(
            "dhash_entries",
            parse_int,
            0,
            "fs/dcache.c",
            "dentry hash buckets (0: sized from memory)",
        ),
        _opt(
            "ihash_entries", parse_int, 0, "fs/inode.c", "inode hash buckets (0: sized from memory)"
        ),
        _opt(
            "mhash_entries", parse_int, 0, "fs/namespace.c", "mount hash buckets (0: from memory)"
        ),
        _opt(
            "mphash_entries",
            parse_int,
            0,
            "fs/namespace.c",
            "mountpoint hash buckets (0: from memory)",
        ),
        # --- slab -----------------------------------------------------------
        _opt("SLUB_TINY", parse_bool, False, "mm/Kconfig", "SLUB for small systems"),
        _opt("SLUB_CPU_PARTIAL", parse_bool, True, "mm/Kconfig", "per-cpu partial slab lists"),
        _opt("SLAB_FREELIST_HARDENED", parse_bool, False, "mm/Kconfig", "obfuscate free pointers"),
        _opt(
            "SLAB_FREELIST_RANDOM",
            parse_bool,
            False,
            "mm/Kconfig",
            "randomise the freelist order of new slabs",
        ),
        _opt("SLUB_DEBUG", parse_bool, True, "mm/Kconfig", "SLUB debugging support built in"),
        _opt("SLUB_DEBUG_ON", parse_bool, False, "mm/Kconfig", "debugging on by default"),
        _opt(
            "RANDOM_KMALLOC_CACHES",
            parse_bool,
            False,
            "mm/Kconfig",
            "several copies of each kmalloc cache",
        ),
        _opt("MEMCG", parse_bool, True, "init/Kconfig", "memory cgroups (kmalloc-cg-*)"),
        _opt("slub_debug", parse_str, "", "mm/slub.c", "slub_debug=FZPU[,caches] boot option"),
        _opt("slub_max_order", parse_int, 3, "mm/slub.c", "largest slab order"),
        _opt("slub_min_order", parse_int, 0, "mm/slub.c", "smallest slab order"),
        _opt("slub_min_objects", parse_int, 0, "mm/slub.c", "objects per slab wanted (0: auto)"),
        _opt(
            "boot_caches",
            parse_bool,
            True,
            "kmemsim",
            "create the caches the profile's kernel creates while booting",
        ),
        _opt("slab_nomerge", parse_bool, False, "mm/slab_common.c", "never merge caches"),
        _opt("DEBUG_VM", parse_bool, False, "mm/Kconfig.debug", "VM debugging checks"),
        _opt(
            "slab_merge",
            parse_bool,
            False,
            "mm/slab_common.c",
            "merge caches (wins over slab_nomerge)",
        ),
        _opt("SLAB_BUCKETS", parse_bool, True, "mm/Kconfig", "kmem_buckets (kmalloc_buckets)"),
        # --- memory debugging ----------------------------------------------
        _opt("KASAN", parse_bool, False, "lib/Kconfig.kasan", "generic KASAN (shadow memory)"),
        _opt(
            "KASAN_VMALLOC",
            parse_bool,
            True,
            "lib/Kconfig.kasan",
            "KASAN shadow for vmalloc space (default y with KASAN on x86_64)",
        ),
        _opt(
            "kasan.fault",
            parse_str,
            "report",
            "mm/kasan/report.c",
            "after a KASAN report: go on, or panic",
            ("report", "panic", "panic_on_write"),
        ),
        _opt(
            "kasan_multi_shot",
            parse_bool,
            False,
            "mm/kasan/report.c",
            "print every KASAN report, not only the first",
        ),
        _opt(
            "SLUB_RCU_DEBUG",
            parse_bool,
            True,
            "mm/Kconfig.debug",
            "KASAN sees SLAB_TYPESAFE_BY_RCU frees after their grace period",
        ),
        _opt("KFENCE", parse_bool, False, "lib/Kconfig.kfence", "KFENCE sampling detector"),
        _opt(
            "kfence.sample_interval",
            parse_int,
            100,
            "mm/kfence/core.c",
            "ms between KFENCE allocations (0: off)",
        ),
        _opt(
            "KFENCE_NUM_OBJECTS",
            parse_int,
            255,
            "lib/Kconfig.kfence",
            "objects in the KFENCE pool",
        ),
        _opt(
            "KFENCE_DEFERRABLE",
            parse_bool,
            False,
            "lib/Kconfig.kfence",
            "deferrable sample timer",
        ),
        _opt("DEBUG_KMEMLEAK", parse_bool, False, "mm/Kconfig.debug", "kmemleak leak detector"),
        _opt("kmemleak", parse_str, "on", "mm/kmemleak.c", "kmemleak=on|off", ("on", "off")),
        _opt(
            "DEBUG_KMEMLEAK_AUTO_SCAN",
            parse_bool,
            True,
            "mm/Kconfig.debug",
            "scan every 10 minutes from the kmemleak thread",
        ),
        # --- I/O memory -----------------------------------------------------
        _opt("DEVMEM", parse_bool, True, "drivers/char/Kconfig", "/dev/mem virtual device"),
        _opt(
            "STRICT_DEVMEM",
            parse_bool,
            True,
            "lib/Kconfig.debug",
            "/dev/mem: RAM beyond the first MiB (x86) and exclusive regions refused",
        ),
        _opt(
            "IO_STRICT_DEVMEM",
            parse_bool,
            False,
            "lib/Kconfig.debug",
            "/dev/mem: also refuse ranges a driver has claimed (busy in /proc/iomem)",
        ),
        # --- driver model -----------------------------------------------------
        _opt("DEBUG_DEVRES", parse_bool, False, "lib/Kconfig.debug", "devres.log support"),
        _opt("devres.log", parse_int, 0, "drivers/base/devres.c", "log devres ADD/REM/REL"),
    ]
)

INT_MAX = (1 << 31) - 1

# Bounds the kernel enforces (sysctl extra1/extra2, Kconfig ranges, unsigned
# boot parameters); a value outside is refused as the sysctl write would be.
_RANGES: dict[str, tuple[int, int | None]] = {
    "NR_CPUS": (1, 8192),
    "kaslr_seed": (0, (1 << 64) - 1),  # an unsigned long
    "LOG_BUF_SHIFT": (12, 25),  # init/Kconfig ranges
    "LOG_CPU_MAX_BUF_SHIFT": (0, 21),
    "vmalloc": (0, None),
    "HZ": (100, 1000),  # kernel/Kconfig.hz: one of HZ_CHOICES  # arch/x86/Kconfig NR_CPUS_RANGE_END
    # MAX_PAGE_ORDER + PAGE_SHIFT may not exceed SECTION_SIZE_BITS (27 on x86_64).
    "ARCH_FORCE_MAX_ORDER": (1, 15),
    # int sysctls: proc_dointvec_minmax() refuses what does not fit an int (-EINVAL).
    "min_free_kbytes": (0, INT_MAX),  # mm/page_alloc.c: extra1 = SYSCTL_ZERO
    "watermark_scale_factor": (1, 3000),  # SYSCTL_ONE .. SYSCTL_THREE_THOUSAND
    "watermark_boost_factor": (0, INT_MAX),
    "percpu_pagelist_high_fraction": (0, INT_MAX),
    "overcommit_ratio": (0, INT_MAX),
    "overcommit_kbytes": (0, None),
    "dhash_entries": (0, None),
    "ihash_entries": (0, None),
    "mhash_entries": (0, None),
    "mphash_entries": (0, None),
    "slub_max_order": (0, None),  # unsigned; clamped to MAX_PAGE_ORDER by mm/slub.c
    "slub_min_order": (0, None),
    "slub_min_objects": (0, None),
    "kfence.sample_interval": (0, None),
    "KFENCE_NUM_OBJECTS": (1, 65535),  # lib/Kconfig.kfence range
}

# mm/page_alloc.c percpu_pagelist_high_fraction_sysctl_handler(): 0 or at least this.
MIN_PERCPU_PAGELIST_HIGH_FRACTION = 8


def _check_range(name: str, value: Any) -> None:
    bounds = _RANGES.get(name)
    if bounds is None or value is None:
        return
    lo, hi = bounds
    if value < lo or (hi is not None and value > hi):
        raise ValueError(
            f"expected an integer from {lo} to {hi}" if hi is not None else f"must be >= {lo}"
        )
    if name == "HZ" and value not in HZ_CHOICES:
        raise ValueError(f"expected one of {', '.join(map(str, HZ_CHOICES))} (kernel/Kconfig.hz)")
    if name == "percpu_pagelist_high_fraction" and 0 < value < MIN_PERCPU_PAGELIST_HIGH_FRACTION:
        raise ValueError(f"expected 0 or at least {MIN_PERCPU_PAGELIST_HIGH_FRACTION}")


_ALIASES = {
    "slab_max_order": "slub_max_order",
    "slab_min_order": "slub_min_order",
    "slab_min_objects": "slub_min_objects",
    "slub_nomerge": "slab_nomerge",
    "slab_debug": "slub_debug",
    "MAX_PAGE_ORDER": "ARCH_FORCE_MAX_ORDER",
}


def canonical_key(key: str) -> str:
    """The OPTIONS name for a key written as CONFIG_X, X, or an alias; KmemsimError if unknown."""
    name = key.strip()
    if name.startswith("CONFIG_"):
        name = name[len("CONFIG_") :]
    name = _ALIASES.get(name, name)
    if name in OPTIONS:
        return name
    lowered = {k.lower(): k for k in OPTIONS}
    if name.lower() in lowered:
        return lowered[name.lower()]
    raise KmemsimError(f"unknown configuration option {key!r}")


class KernelConfig(Mapping[str, Any]):
    """The resolved configuration: defaults, then the profile's, then the user's."""

    def __init__(self, *layers: Mapping[str, object]) -> None:
        self._values: dict[str, Any] = {name: opt.default for name, opt in OPTIONS.items()}
        self._set_by_user: set[str] = set()
        for layer in layers:
            self.update(layer)

    def update(self, values: Mapping[str, object], *, user: bool = True) -> None:
        for key, raw in values.items():
            name = canonical_key(key)
            opt = OPTIONS[name]
            try:
                value = opt.parse(raw)
                _check_range(name, value)
            except (ValueError, TypeError) as e:
                raise KmemsimError(f"bad value {raw!r} for {key}: {e}") from None
            if opt.choices and value not in opt.choices:
                raise KmemsimError(
                    f"bad value {raw!r} for {key}: expected one of {', '.join(opt.choices)}"
                )
            self._values[name] = value
            if user:
                self._set_by_user.add(name)

    def is_set(self, key: str) -> bool:
        """Was `key` given explicitly (by the profile or the user), not left at its default?"""
        return canonical_key(key) in self._set_by_user

    def __getitem__(self, key: str) -> Any:
        return self._values[canonical_key(key)]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


# Kconfig symbols that exist only on some architectures: the ArchFacts field that says
# whether this one has it, and where the kernel says so.
_ARCH_ONLY: dict[str, tuple[str, str]] = {
    "HIGHMEM": ("highmem", "arch/x86/Kconfig: HIGHMEM depends on X86_32"),
    "VMSPLIT": ("vmsplit", "the VMSPLIT_* choice exists on X86_32 and ARM only"),
    "ZONE_DMA32": ("zone_dma32", "arch/x86/Kconfig: ZONE_DMA32 is def_bool y if X86_64"),
    "X86_5LEVEL": ("x86_64_paging", "5-level paging exists on X86_64 only"),
    "RANDOMIZE_MEMORY": ("x86_64_paging", "arch/x86/Kconfig: depends on X86_64"),
    "RANDOMIZE_BASE": ("x86_64_paging", "kmemsim models the x86_64 KERNEL_IMAGE_SIZE only"),
    "DEFERRED_STRUCT_PAGE_INIT": (
        "deferred_struct_page_init",
        "mm/Kconfig: depends on SPARSEMEM && 64BIT",
    ),
}


def check_arch_options(config: KernelConfig, arch: ArchFacts) -> None:
    """Refuse, in one line, an option set on an architecture whose Kconfig lacks it.

    Only options given explicitly (by the profile or the user) and turned on are
    checked: leaving HIGHMEM off on x86_64 is what the kernel has anyway."""
    for name, (fact, why) in _ARCH_ONLY.items():
        value = config[name]
        if config.is_set(name) and value and not getattr(arch, fact):
            shown = "y" if value is True else value
            raise KmemsimError(f"{name}={shown} does not exist on {arch.name}: {why}")


def check_image_options(config: KernelConfig, image: KernelImage) -> None:
    """Refuse, in one line, an option that needs facts of the image the profile does not give.

    DYNAMIC_FTRACE takes a record per mcount site: how many the image has is a
    property of its build ([kernel] ftrace_mcount_loc)."""
    if config["DYNAMIC_FTRACE"] and not image.ftrace_mcount_loc:
        raise KmemsimError(
            "DYNAMIC_FTRACE=y needs the profile's [kernel] ftrace_mcount_loc: the image's "
            "mcount sites (tools/trace_profile.py reads them from a running kernel)"
        )


def parse_assignment(text: str) -> tuple[str, str]:
    """Split a command-line "KEY=VALUE" (a bare KEY means KEY=y)."""
    key, sep, value = text.partition("=")
    if not key.strip():
        raise KmemsimError(f"bad --config {text!r}: expected KEY=VALUE")
    return key.strip(), (value if sep else "y")
