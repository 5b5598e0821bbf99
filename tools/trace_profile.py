"""Read a running kernel's tracing facts for a profile's [kernel] table (run as root).

    python tools/trace_profile.py [--dmesg FILE] [--tracefs DIR] [--slabinfo FILE]

Prints the five [kernel] keys kernel/trace/ftrace.py and trace_events.py take:

  ftrace_mcount_loc, ftrace_mcount_null
      from the boot log's "ftrace: allocating N entries in P pages" and "ftrace:
      allocated P pages with G groups": N sites are used; the smallest slot count
      whose groups (kmemsim.kernel.trace.ftrace.group_plan()) are P pages in G
      groups is taken, the rest of the slots being NULL. The log does not tell a
      larger count from it when the same groups result.
  ftrace_mcount_init
      N less the first figure of tracefs's dyn_ftrace_total_info after boot
      (ftrace_free_init_mem() dropped the .init.text sites).
  trace_events
      trace_event_file objects in /proc/slabinfo, over the trace arrays (the
      global one and each directory of tracefs's instances/).
  trace_event_fields
      the fields of events/*/*/format that are not common_*: one list per class,
      events of a system with the same fields and print format sharing one (the
      kernel defines a DEFINE_EVENT's fields once, on its class); every syscalls
      event has its own.

The live kernel is only ever read here, never by the tests; what this prints
goes into a profile as an input, marked as where it came from.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from kmemsim.kernel.trace.ftrace import group_plan  # noqa: E402

ENTRIES_PER_PAGE = 256  # 4 KiB pages, 16-byte struct dyn_ftrace (x86_64)


def ftrace_slots(dmesg: str, entries_per_page: int = ENTRIES_PER_PAGE) -> tuple[int, int, int]:
    """(slots, NULL slots, sites) from the two ftrace lines of a boot log."""
    m1 = re.search(r"ftrace: allocating (\d+) entries in (\d+) pages", dmesg)
    m2 = re.search(r"ftrace: allocated (\d+) pages with (\d+) groups", dmesg)
    if not (m1 and m2):
        raise ValueError("the log has no 'ftrace: allocating' and 'ftrace: allocated' lines")
    sites, printed = int(m1.group(1)), int(m1.group(2))
    pages, groups = int(m2.group(1)), int(m2.group(2))
    for count in range(sites, sites + entries_per_page * (pages + 1)):
        orders, shown = group_plan(count, count - sites, entries_per_page)
        if shown == printed and len(orders) == groups and sum(1 << o for o in orders) == pages:
            return count, count - sites, sites
    raise ValueError(f"no slot count gives {pages} pages in {groups} groups for {sites} sites")


def init_sites(sites: int, total_info: str) -> int:
    """Sites dropped after boot: `sites` less dyn_ftrace_total_info's first figure."""
    m = re.match(r"\s*(\d+) pages:", total_info)
    if not m:
        raise ValueError("dyn_ftrace_total_info does not start with 'N pages:'")
    return sites - int(m.group(1))


def class_fields(events: Path) -> int:
    """Fields the event classes define, common_* apart (see the module text)."""
    classes: dict[tuple[str, tuple[str, ...], str], int] = {}
    syscalls = 0
    for fmt in sorted(events.glob("*/*/format")):
        system = fmt.parent.parent.name
        text = fmt.read_text(errors="replace")
        fields = tuple(
            line.strip() for line in text.splitlines() if "field:" in line and "common_" not in line
        )
        if system == "syscalls":
            syscalls += len(fields)
        else:
            classes[(system, fields, text.split("print fmt:")[-1])] = len(fields)
    return syscalls + sum(classes.values())


def trace_event_files(slabinfo: str, arrays: int) -> int:
    """trace_event_file objects per trace array."""
    m = re.search(r"^trace_event_file\s+(\d+)", slabinfo, re.M)
    if not m:
        raise ValueError("/proc/slabinfo has no trace_event_file line")
    return int(m.group(1)) // arrays


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dmesg", type=Path, help="a boot log (default: run dmesg)")
    ap.add_argument("--tracefs", type=Path, default=Path("/sys/kernel/tracing"))
    ap.add_argument("--slabinfo", type=Path, default=Path("/proc/slabinfo"))
    args = ap.parse_args(argv)
    try:
        if args.dmesg:
            log = args.dmesg.read_text(errors="replace")
        else:
            log = subprocess.run(["dmesg"], capture_output=True, text=True, check=True).stdout
        slots, null, sites = ftrace_slots(log)
        init = init_sites(sites, (args.tracefs / "dyn_ftrace_total_info").read_text())
        instances = args.tracefs / "instances"
        arrays = 1 + (
            sum(1 for p in instances.iterdir() if p.is_dir()) if instances.is_dir() else 0
        )
        events = trace_event_files(args.slabinfo.read_text(), arrays)
        fields = class_fields(args.tracefs / "events")
    except (OSError, ValueError, subprocess.CalledProcessError) as e:
        print(f"trace_profile: {e}", file=sys.stderr)
        return 2
    print(f"ftrace_mcount_loc = {slots}")
    print(f"ftrace_mcount_null = {null}")
    print(f"ftrace_mcount_init = {init}")
    print(f"trace_events = {events}")
    print(f"trace_event_fields = {fields}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
